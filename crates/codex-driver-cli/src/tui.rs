//! `codex-driver tui`: the interactive Codex in this terminal, over the library's `tui`.

use anyhow::Result;
use clap::Args;
use codex_driver::exec::ResumeTarget;
use codex_driver::exec::SandboxMode;
use codex_driver::tui::{AskForApproval, Tui, TuiSession};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct TuiArgs {
    /// The first prompt.
    prompt: Option<String>,
    /// Continue this thread (id, unique id prefix or name).
    #[arg(long, value_name = "SESSION", conflicts_with_all = ["last", "fork"])]
    resume: Option<String>,
    /// Continue the most recent interactive thread of the working directory.
    #[arg(long, conflicts_with = "fork")]
    last: bool,
    /// Fork this thread and continue in the fork.
    #[arg(long, value_name = "SESSION")]
    fork: Option<String>,
    /// The CODEX_HOME (default: $CODEX_HOME, then ~/.codex).
    #[arg(long, value_name = "DIR")]
    codex_home: Option<PathBuf>,
    /// The agent's working root (`--cd`).
    #[arg(long, value_name = "DIR")]
    cd: Option<PathBuf>,
    /// Model.
    #[arg(long, short = 'm')]
    model: Option<String>,
    /// Sandbox policy for model-generated commands.
    #[arg(long, short = 's', value_parser = ["read-only", "workspace-write", "danger-full-access"])]
    sandbox: Option<String>,
    /// When to ask before running a command.
    #[arg(long, short = 'a', value_parser = ["on-request", "never"])]
    ask_for_approval: Option<String>,
    /// Enable the live web search tool.
    #[arg(long)]
    search: bool,
    /// Draw inline instead of on the alternate screen.
    #[arg(long)]
    no_alt_screen: bool,
    /// Drive a running app-server (ws://, wss://, unix://[PATH]).
    #[arg(long, value_name = "ADDR")]
    remote: Option<String>,
    /// The variable holding the remote's bearer token.
    #[arg(long, value_name = "VAR", requires = "remote")]
    remote_auth_token_env: Option<String>,
    /// Allow Codex's background app-server daemon, which outlives the TUI (by default
    /// `--no-daemon` is passed where the binary has it).
    #[arg(long)]
    daemon: bool,
    /// After the TUI exits, print its outcome as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// The Codex binary (default: $CODEX_BINARY, managed installs, then `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    codex_binary: Option<PathBuf>,
}

pub async fn run(a: TuiArgs) -> Result<ExitCode> {
    let binary = crate::BinaryArgs {
        codex_binary: a.codex_binary.clone(),
        no_path: false,
        no_install: false,
    }
    .binary()
    .await?;
    let mut tui = if let Some(id) = &a.resume {
        Tui::resume(id)
    } else if let Some(id) = &a.fork {
        Tui::fork(id)
    } else if a.last {
        Tui::new().session(TuiSession::Resume {
            target: ResumeTarget::Last,
            all: false,
            include_non_interactive: false,
        })
    } else {
        Tui::new()
    }
    .binary(binary)
    .daemon(a.daemon);
    if let Some(p) = a.prompt {
        tui = tui.with_prompt(p);
    }
    if let Some(h) = &a.codex_home {
        tui = tui.codex_home(h);
    }
    if let Some(d) = &a.cd {
        tui = tui.cd(d).current_dir(d);
    }
    if let Some(m) = a.model {
        tui = tui.model(m);
    }
    if let Some(s) = &a.sandbox {
        tui = tui.sandbox(s.parse::<SandboxMode>()?);
    }
    if let Some(p) = a.ask_for_approval.as_deref() {
        tui = tui.ask_for_approval(match p {
            "never" => AskForApproval::Never,
            _ => AskForApproval::OnRequest,
        });
    }
    tui = tui.search(a.search).no_alt_screen(a.no_alt_screen);
    if let Some(r) = a.remote {
        tui = tui.remote(r);
    }
    if let Some(v) = a.remote_auth_token_env {
        tui = tui.remote_auth_token_env(v);
    }
    let outcome = tui.run().await?;
    if let Some(d) = &outcome.daemon {
        eprintln!(
            "codex-driver: Codex's app-server daemon is still running (pid {}{}); stop it with `codex app-server daemon stop`",
            d.pid,
            if d.started_by_this_run {
                ", started by this run"
            } else {
                ""
            }
        );
    }
    match &outcome.thread_id {
        Some(id) => {
            eprintln!("codex-driver: thread {id} (continue: codex-driver tui --resume {id})")
        }
        None => eprintln!("codex-driver: no thread was saved"),
    }
    if a.json {
        outln!(
            "{}",
            json!({
                "schema_version": 1,
                "exit_code": outcome.status.code(),
                "thread_id": outcome.thread_id,
                "session": outcome.session,
                "daemon": outcome.daemon,
            })
        )?;
    }
    Ok(match outcome.status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}
