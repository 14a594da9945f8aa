//! `codex-driver run --app-server`: the same turn through the app-server, streaming text deltas,
//! with approvals answered by a policy or, on a terminal, by the user.

use anyhow::Result;
use codex_driver::app_server::approvals::{
    AcceptAll, ApprovalHandler, ApprovalRequest, Decision, DenyAll, approval_fn,
};
use codex_driver::app_server::protocol::{
    ServerNotification, ThreadItem, ThreadStartParams, TurnStatus,
};
use codex_driver::app_server::{AppServer, TurnInput};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::sync::Arc;

/// How approval requests are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Approve,
    Deny,
    Ask,
}

pub struct Options {
    pub prompt: String,
    pub json: bool,
    pub sandbox: Option<String>,
    pub model: Option<String>,
    pub approval_policy: Option<String>,
    pub cwd: Option<String>,
    pub policy: Policy,
    pub resume: Option<String>,
}

pub fn handler(policy: Policy) -> Arc<dyn ApprovalHandler> {
    match policy {
        Policy::Approve => Arc::new(AcceptAll),
        Policy::Deny => Arc::new(DenyAll),
        Policy::Ask if std::io::stdin().is_terminal() => approval_fn(|a| async move {
            let what = describe(&a.request);
            tokio::task::spawn_blocking(move || ask(&what))
                .await
                .unwrap_or(Decision::Decline)
        }),
        Policy::Ask => Arc::new(DenyAll),
    }
}

fn describe(r: &ApprovalRequest) -> String {
    match r {
        ApprovalRequest::CommandExecution(p) => format!(
            "run `{}`{}",
            p.command.as_deref().unwrap_or("?"),
            p.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        ApprovalRequest::FileChange(p) => format!(
            "apply a patch{}",
            p.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        other => format!("answer `{}`", other.method()),
    }
}

fn ask(what: &str) -> Decision {
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "\nCodex asks to {what}. Allow? [y]es / [a]lways / [N]o: "
    );
    let _ = err.flush();
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return Decision::Decline;
    }
    match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Decision::Accept,
        "a" | "always" => Decision::AcceptForSession,
        _ => Decision::Decline,
    }
}

/// The thread options of a new app-server thread.
pub fn thread_params(
    cwd: Option<String>,
    model: Option<String>,
    sandbox: Option<String>,
    approval_policy: Option<String>,
) -> Result<ThreadStartParams> {
    Ok(ThreadStartParams {
        cwd,
        model,
        sandbox: sandbox
            .as_deref()
            .map(|s| serde_json::from_value(json!(s)))
            .transpose()?,
        approval_policy: approval_policy
            .as_deref()
            .map(|s| serde_json::from_value(json!(s)))
            .transpose()?,
        ..Default::default()
    })
}

pub async fn run(server: AppServer, o: Options) -> Result<()> {
    let codex = server.approval_handler(handler(o.policy)).spawn().await?;
    let params = thread_params(
        o.cwd.clone(),
        o.model.clone(),
        o.sandbox.clone(),
        o.approval_policy.clone(),
    )?;
    let mut thread = match &o.resume {
        Some(id) => codex.resume_thread(id).await?,
        None => codex.start_thread(params).await?,
    };
    eprintln!("• thread {}", thread.id());
    let mut turn = thread.turn(TurnInput::from(o.prompt.as_str())).await?;
    let control = turn.control();
    let cancel = tokio::spawn(async move {
        if crate::out::stop_requested().await {
            let _ = control.interrupt().await;
        }
    });
    let stdout = std::io::stdout();
    let mut mid_line = false;
    let mut failure = None;
    while let Some(ev) = turn.next_event().await {
        let ev = ev?;
        if o.json {
            let mut out = stdout.lock();
            writeln!(
                out,
                "{}",
                json!({"method": ev.method(), "params": ev.params()})
            )?;
            out.flush()?;
        }
        match &ev {
            ServerNotification::ItemAgentMessageDelta(d) if !o.json => {
                let mut out = stdout.lock();
                write!(out, "{}", d.delta)?;
                out.flush()?;
                mid_line = true;
            }
            ServerNotification::ItemCompleted(c) if !o.json => match &c.item {
                ThreadItem::AgentMessage(_) if mid_line => {
                    outln!()?;
                    mid_line = false;
                }
                ThreadItem::CommandExecution(c) => eprintln!(
                    "$ {} ({:?}, exit {})",
                    c.command,
                    c.status,
                    c.exit_code
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "-".into())
                ),
                ThreadItem::FileChange(f) => {
                    eprintln!("✎ {} file(s) ({:?})", f.changes.len(), f.status)
                }
                _ => {}
            },
            ServerNotification::TurnCompleted(c) => {
                if c.turn.status == TurnStatus::Failed {
                    let message = c.turn.error.as_ref().map(|e| e.message.as_str());
                    failure = Some(format!("turn failed: {}", message.unwrap_or_default()));
                } else if c.turn.status == TurnStatus::Interrupted {
                    // Ctrl-C, SIGTERM or SIGHUP (or another client): not a success.
                    failure = Some("turn interrupted".into());
                } else if !o.json {
                    eprintln!("• turn {:?}", c.turn.status);
                }
            }
            _ => {}
        }
    }
    cancel.abort();
    codex.shutdown().await?;
    if let Some(message) = failure {
        anyhow::bail!("{message}");
    }
    Ok(())
}
