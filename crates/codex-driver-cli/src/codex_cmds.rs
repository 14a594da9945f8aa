//! Codex's own sub-commands, each over its typed wrapper in `codex_driver::commands`:
//! `features enable|disable`, `mcp list|get|add|remove`, `apply`, `review`, `sandbox`,
//! `models`, `codex-doctor`, `plugins`, `daemon`, and `coverage` (the manifest checked against
//! the binary's own command tree).

use crate::BinaryArgs;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use codex_driver::SpawnOptions;
use codex_driver::commands::{self, Runner};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// The version of every `--json` shape this module prints.
const SCHEMA_VERSION: u32 = 1;

/// Which Codex and which home a sub-command works on.
#[derive(Args, Clone)]
pub struct Target {
    /// The CODEX_HOME (default: $CODEX_HOME, then ~/.codex).
    #[arg(long, value_name = "DIR")]
    codex_home: Option<PathBuf>,
    #[command(flatten)]
    binary: BinaryArgs,
}

impl Target {
    async fn spawn(&self) -> Result<SpawnOptions> {
        Ok(SpawnOptions::new()
            .binary(self.binary().await?)
            .codex_home(self.home()?.path())
            .env_remove("RUST_BACKTRACE"))
    }

    async fn binary(&self) -> Result<codex_driver::Binary> {
        self.binary.binary().await
    }

    fn home(&self) -> Result<codex_driver::CodexHome> {
        crate::home_or_default(self.codex_home.clone())
    }

    async fn runner(&self) -> Result<Runner> {
        Ok(Runner::new(self.spawn().await?))
    }
}

fn print_json(v: &serde_json::Value) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

/// `features enable|disable NAME`.
#[derive(Subcommand)]
pub enum FeaturesAction {
    /// The binary's feature flags (what `codex-driver features` alone prints).
    List(FeaturesList),
    /// Turn a feature on in the home's config.toml (`codex features enable`); unknown names
    /// are refused with the list of known ones.
    Enable(FeatureName),
    /// Turn a feature off (`codex features disable`).
    Disable(FeatureName),
}

/// The options of `features` alone and `features list`.
#[derive(Args)]
pub struct FeaturesList {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Probe again instead of using the cache.
    #[arg(long)]
    pub refresh: bool,
    #[command(flatten)]
    pub binary: BinaryArgs,
}

#[derive(Args)]
pub struct FeatureName {
    /// The feature (as `codex-driver features` lists them).
    name: String,
    /// Print `{"schema_version":1,"feature":{"name","stage","enabled"}}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

pub async fn features(action: FeaturesAction) -> Result<ExitCode> {
    let (a, on) = match action {
        FeaturesAction::List(l) => return crate::features(&l).await,
        FeaturesAction::Enable(a) => (a, true),
        FeaturesAction::Disable(a) => (a, false),
    };
    let f = commands::features::set(&a.target.runner().await?, &a.name, on).await?;
    if a.json {
        print_json(&json!({"schema_version": SCHEMA_VERSION, "feature": f}))?;
    } else {
        outln!("{} {} ({})", f.name, on_off(f.enabled), f.stage.as_str())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn on_off(b: bool) -> &'static str {
    if b { "enabled" } else { "disabled" }
}

/// `mcp`: servers as Codex reads and edits them, and their OAuth logins.
#[derive(Subcommand)]
pub enum McpCommand {
    /// The configured servers (`codex mcp list --json`).
    List {
        /// Print `{"schema_version":1,"servers":[...]}` (Codex's own objects).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// One server as Codex resolves it (`codex mcp get --json`).
    Get {
        /// The server's name.
        name: String,
        /// Print `{"schema_version":1,"server":{...}}`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Add a server (`codex mcp add`): `--url URL` for streamable HTTP, else `-- COMMAND
    /// ARGS...`. Secrets never go on a command line: give HTTP servers
    /// `--bearer-token-env-var VAR`.
    Add {
        /// The server's name.
        name: String,
        /// A streamable-HTTP server at this URL.
        #[arg(long, conflicts_with = "command")]
        url: Option<String>,
        /// With --url: the environment variable holding its bearer token.
        #[arg(long, requires = "url", value_name = "VAR")]
        bearer_token_env_var: Option<String>,
        /// The program (and its arguments) of a stdio server, after `--`.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Remove a server (`codex mcp remove`).
    Remove {
        /// The server's name.
        name: String,
        #[command(flatten)]
        target: Target,
    },
    #[command(flatten)]
    Auth(crate::auth::McpCommand),
}

pub async fn mcp(cmd: McpCommand) -> Result<ExitCode> {
    use codex_driver::commands::mcp::{McpAdd, McpGet, McpRemove};
    match cmd {
        McpCommand::List { json, target } => {
            let servers =
                codex_driver::mcp::list_via_codex(&target.binary().await?, &target.home()?).await?;
            if json {
                print_json(&json!({"schema_version": SCHEMA_VERSION, "servers": servers}))?;
            } else {
                for s in &servers {
                    outln!("{}", s.name)?;
                }
            }
        }
        McpCommand::Get { name, json, target } => {
            let s = target.runner().await?.run(&McpGet { name }).await?;
            if json {
                print_json(&json!({"schema_version": SCHEMA_VERSION, "server": s}))?;
            } else {
                print_json(&serde_json::to_value(&s)?)?;
            }
        }
        McpCommand::Add {
            name,
            url,
            bearer_token_env_var,
            command,
            target,
        } => {
            let add = match (url, command.split_first()) {
                (Some(url), _) => {
                    let add = McpAdd::http(&name, url);
                    match bearer_token_env_var {
                        Some(v) => add.bearer_token_env_var(v),
                        None => add,
                    }
                }
                (None, Some((program, args))) => McpAdd::stdio(&name, program, args),
                (None, None) => anyhow::bail!("give --url URL or `-- COMMAND [ARGS...]`"),
            };
            target.runner().await?.run(&add).await?;
            eprintln!("added MCP server `{name}`");
        }
        McpCommand::Remove { name, target } => {
            target
                .runner()
                .await?
                .run(&McpRemove { name: name.clone() })
                .await?;
            eprintln!("removed MCP server `{name}`");
        }
        McpCommand::Auth(cmd) => return crate::auth::run_mcp(cmd).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// `apply TASK_ID`.
#[derive(Args)]
pub struct ApplyArgs {
    /// The Codex Cloud task whose diff to apply (needs a ChatGPT login).
    task_id: String,
    /// The git work tree to apply it to (default: the current directory).
    #[arg(long, value_name = "DIR")]
    cd: Option<PathBuf>,
    /// Print `{"schema_version":1,"touched":[PATH...],"stdout","stderr"}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

pub async fn apply(a: ApplyArgs) -> Result<ExitCode> {
    let dir = match a.cd {
        Some(d) => d,
        None => std::env::current_dir().context("the current directory")?,
    };
    let runner = Runner::new(a.target.spawn().await?.current_dir(dir));
    let applied =
        commands::apply::run(&runner, &commands::apply::Apply { task_id: a.task_id }).await?;
    if a.json {
        print_json(&json!({
            "schema_version": SCHEMA_VERSION,
            "touched": applied.touched,
            "stdout": applied.output.stdout,
            "stderr": applied.output.stderr,
        }))?;
    } else {
        for f in &applied.touched {
            outln!("{}", f.display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `review`: a code review turn (`codex exec review`), streamed like `run`.
#[derive(Args)]
pub struct ReviewArgs {
    /// Custom review instructions (instead of a target).
    instructions: Option<String>,
    /// Review staged, unstaged and untracked changes.
    #[arg(long, conflicts_with_all = ["base", "commit", "instructions"])]
    uncommitted: bool,
    /// Review the changes against this base branch.
    #[arg(long, value_name = "BRANCH", conflicts_with_all = ["commit", "instructions"])]
    base: Option<String>,
    /// Review the changes of this commit.
    #[arg(long, value_name = "SHA", conflicts_with = "instructions")]
    commit: Option<String>,
    /// With --commit: its title in the review summary.
    #[arg(long, requires = "commit")]
    title: Option<String>,
    /// The repository to review (default: the current directory).
    #[arg(long, value_name = "DIR")]
    cd: Option<PathBuf>,
    /// Model to use.
    #[arg(long, short = 'm')]
    model: Option<String>,
    /// A config override, `key=value` (repeatable).
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE", value_parser = crate::parse_override)]
    config: Vec<(String, String)>,
    /// Print the events as JSONL (`codex exec --json`'s format).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

impl ReviewArgs {
    /// The review target, or the prompt that is the custom instructions.
    fn target(&self) -> Result<codex_driver::exec::ReviewTarget> {
        use codex_driver::exec::ReviewTarget;
        Ok(if self.uncommitted {
            ReviewTarget::Uncommitted
        } else if let Some(b) = &self.base {
            ReviewTarget::Base(b.clone())
        } else if let Some(sha) = &self.commit {
            ReviewTarget::Commit {
                sha: sha.clone(),
                title: self.title.clone(),
            }
        } else if self.instructions.is_some() {
            ReviewTarget::Custom
        } else {
            anyhow::bail!(
                "say what to review: --uncommitted, --base BRANCH, --commit SHA or INSTRUCTIONS"
            )
        })
    }
}

pub async fn review(a: ReviewArgs) -> Result<ExitCode> {
    let target = a.target()?;
    let binary = a.target.binary().await?;
    let home = a.target.home()?;
    let mut exec = codex_driver::Exec::review(target)
        .with_prompt(a.instructions.clone().unwrap_or_default())
        .binary(binary)
        .codex_home(home.path());
    if let Some(cd) = &a.cd {
        exec = exec.cd(cd).current_dir(cd);
    }
    if let Some(m) = &a.model {
        exec = exec.model(m);
    }
    for (k, v) in &a.config {
        if let Some((k, v)) = codex_driver::config::ConfigOverrides::parse_arg(&format!("{k}={v}"))
        {
            exec = exec.config(k, v);
        }
    }
    let pricing = crate::pricing::Pricing::load(None, a.model.clone(), Some(home.path()))?;
    crate::stream_turn(exec, a.json, &pricing).await?;
    Ok(ExitCode::SUCCESS)
}

/// `sandbox -- COMMAND...`.
#[derive(Args)]
pub struct SandboxArgs {
    /// A permissions profile: `:read-only`, `:workspace`, or one from the configuration.
    #[arg(long, short = 'P', value_name = "NAME")]
    permission_profile: Option<String>,
    /// A configuration profile (Codex 0.153+).
    #[arg(long, short = 'p', value_name = "NAME")]
    profile: Option<String>,
    /// The working directory (the workspace a `:workspace` profile may write).
    #[arg(long, value_name = "DIR")]
    cd: Option<PathBuf>,
    /// The program and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
    #[command(flatten)]
    target: Target,
}

/// Runs the command inside Codex's sandbox; its output and exit status become ours.
pub async fn sandbox(a: SandboxArgs) -> Result<ExitCode> {
    let mut sb = commands::sandbox::Sandbox::new(&a.command);
    if let Some(p) = a.permission_profile {
        sb = sb.permission_profile(p);
    }
    if let Some(p) = a.profile {
        sb = sb.profile(p);
    }
    let mut spawn = a.target.spawn().await?;
    if let Some(cd) = a.cd {
        sb = sb.cd(&cd);
        spawn = spawn.current_dir(cd);
    }
    let out = commands::sandbox::run(&Runner::new(spawn), &sb).await?;
    crate::out::text(&out.stdout)?;
    eprint!("{}", out.stderr);
    Ok(match out.code {
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// `models`: the model catalog (`codex debug models`).
#[derive(Args)]
pub struct ModelsArgs {
    /// The catalog built into the binary, not the cached remote one.
    #[arg(long)]
    bundled: bool,
    /// Print `{"schema_version":1,"models":[...]}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

pub async fn models(a: ModelsArgs) -> Result<ExitCode> {
    let cmd = commands::debug::DebugModels { bundled: a.bundled };
    let models = a.target.runner().await?.run(&cmd).await?;
    if a.json {
        print_json(&json!({"schema_version": SCHEMA_VERSION, "models": models}))?;
    } else {
        for m in &models {
            outln!("{:<28} {}", m.slug, m.display_name)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `codex-doctor`: Codex's own checks (`codex doctor --json`), typed.
#[derive(Args)]
pub struct CodexDoctorArgs {
    /// Include the checks Codex normally skips.
    #[arg(long)]
    all: bool,
    /// Only the network checks.
    #[arg(long)]
    network_only: bool,
    /// Print Codex's report (`schemaVersion` 1) as it wrote it.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

/// Exit 1 when a check failed, as Codex does.
pub async fn codex_doctor(a: CodexDoctorArgs) -> Result<ExitCode> {
    let cmd = commands::doctor::CodexDoctor {
        network_only: a.network_only,
        all: a.all,
    };
    let report = a.target.runner().await?.run(&cmd).await?;
    if a.json {
        print_json(&serde_json::to_value(&report)?)?;
    } else {
        for c in report.checks.values() {
            outln!("{:<8} {:<32} {}", status_word(&c.status), c.id, c.summary)?;
        }
    }
    Ok(if report.failures().next().is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn status_word(s: &commands::doctor::CheckStatus) -> String {
    use commands::doctor::CheckStatus;
    match s {
        CheckStatus::Ok => "ok".into(),
        CheckStatus::Warning => "warning".into(),
        CheckStatus::Fail => "fail".into(),
        CheckStatus::Other(w) => w.clone(),
        _ => "?".into(),
    }
}

/// `plugins`: installed (and with --available, installable) plugins and the marketplaces.
#[derive(Args)]
pub struct PluginsArgs {
    /// Also what can be installed.
    #[arg(long)]
    available: bool,
    /// Print `{"schema_version":1,"plugins":{installed,available},"marketplaces":[...]}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

pub async fn plugins(a: PluginsArgs) -> Result<ExitCode> {
    let runner = a.target.runner().await?;
    let list = commands::plugin::PluginList {
        available: a.available,
        ..Default::default()
    };
    let plugins = runner.run(&list).await?;
    let markets = runner.run(&commands::plugin::MarketplaceList).await?;
    if a.json {
        print_json(&json!({
            "schema_version": SCHEMA_VERSION,
            "plugins": plugins,
            "marketplaces": markets.marketplaces,
        }))?;
    } else {
        let name = |v: &serde_json::Value| {
            v.get("name")
                .or_else(|| v.get("id"))
                .and_then(|n| n.as_str())
                .map_or_else(|| v.to_string(), str::to_owned)
        };
        for p in &plugins.installed {
            outln!("installed   {}", name(p))?;
        }
        for p in &plugins.available {
            outln!("available   {}", name(p))?;
        }
        for m in &markets.marketplaces {
            outln!("marketplace {}", name(m))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `daemon status|start|stop`: Codex's app-server daemon of a home.
#[derive(Args)]
pub struct DaemonArgs {
    /// What to do.
    #[arg(value_enum)]
    action: DaemonAction,
    /// Print `{"schema_version":1,"daemon":STATUS|null}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(clap::ValueEnum, Clone, Copy)]
pub enum DaemonAction {
    /// What runs (exit 1 when nothing does).
    Status,
    /// Start it (`codex app-server daemon start`).
    Start,
    /// Stop it and its update loop.
    Stop,
}

pub async fn daemon(a: DaemonArgs) -> Result<ExitCode> {
    use commands::daemon::{self, Daemon, DaemonCommand};
    let runner = a.target.runner().await?;
    let status = match a.action {
        DaemonAction::Status => daemon::status(&runner).await?,
        DaemonAction::Start => {
            runner.run(&Daemon(DaemonCommand::Start)).await?;
            daemon::status(&runner).await?
        }
        DaemonAction::Stop => daemon::stop(&runner).await?,
    };
    if a.json {
        print_json(&json!({"schema_version": SCHEMA_VERSION, "daemon": status}))?;
    } else {
        match &status {
            Some(s) => outln!(
                "{} {}",
                s.status,
                s.app_server_version.as_deref().unwrap_or("")
            )?,
            None => outln!("stopped")?,
        }
    }
    Ok(
        if matches!(a.action, DaemonAction::Status) && !status.is_some_and(|s| s.running()) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// `coverage`: every command and long flag of the binary, mapped to the library API that
/// covers it or the reason it is left out; exit 1 when something has neither.
#[derive(Args)]
pub struct CoverageArgs {
    /// Print `{"schema_version":1,"version","commands":[{path,status,api|reason,flags}],"gaps"}`.
    #[arg(long)]
    json: bool,
    /// Only the summary and the gaps.
    #[arg(long)]
    summary: bool,
    #[command(flatten)]
    binary: BinaryArgs,
}

pub async fn coverage(a: CoverageArgs) -> Result<ExitCode> {
    use codex_driver::surface::{Manifest, Status, Surface};
    let binary = a.binary.binary().await?;
    let version = codex_driver::probe::Prober::new()
        .probe(&binary)
        .await?
        .version
        .to_string();
    let surface = Surface::probe(&binary).await?;
    let cov = Manifest::builtin()?.check(&surface);
    let gaps = cov.gaps();
    let status = |s: &Status| match s {
        Status::Covered(api) => json!({"status": "covered", "api": api}),
        Status::LeftOut(why) => json!({"status": "left_out", "reason": why}),
        _ => json!({"status": "gap"}),
    };
    if a.json {
        let commands: Vec<_> = cov
            .commands
            .iter()
            .map(|c| {
                let mut v = status(&c.status);
                v["path"] = json!(c.path);
                v["flags"] = c
                    .flags
                    .iter()
                    .map(|(f, s)| (f.clone(), status(s)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
                v
            })
            .collect();
        print_json(&json!({
            "schema_version": SCHEMA_VERSION,
            "version": version,
            "commands": commands,
            "gaps": gaps,
        }))?;
    } else {
        let ([cc, cl, ct], [fc, fl, ft]) = cov.counts();
        if !a.summary {
            for c in &cov.commands {
                let what = match &c.status {
                    Status::Covered(api) => format!("covered by {api}"),
                    Status::LeftOut(why) => format!("left out: {why}"),
                    _ => "GAP".into(),
                };
                outln!("{:<40} {what}", c.path)?;
            }
        }
        eprintln!(
            "codex {version}: {ct} commands ({cc} covered, {cl} left out), {ft} long flags ({fc} covered, {fl} left out), {} gap(s)",
            gaps.len()
        );
        for g in &gaps {
            eprintln!("gap: {g}");
        }
    }
    Ok(if gaps.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
