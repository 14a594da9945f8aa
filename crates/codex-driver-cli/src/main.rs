//! `codex-driver`: the command-line front end of the codex-driver library.

/// `println!` that returns the write's result (see [`out`]).
macro_rules! outln {
    () => {
        $crate::out::line(format_args!(""))
    };
    ($($t:tt)*) => {
        $crate::out::line(format_args!($($t)*))
    };
}

mod app_run;
mod auth;
mod codex_cmds;
mod config;
mod doctor;
mod exec_flags;
mod install;
#[cfg(feature = "offline")]
mod offline;
#[cfg(not(feature = "offline"))]
#[path = "offline_missing.rs"]
mod offline;
mod out;
mod pricing;
mod progress;
mod sessions;
mod task;
mod tui;
mod update;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use codex_driver::exec::SandboxMode;
use codex_driver::{Binary, Error, Exec, ThreadEvent};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "codex-driver",
    version,
    about = "Drive the OpenAI Codex CLI as a dependable component"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one turn through Codex with live progress; prints the final message.
    Run(RunArgs),
    /// Report which Codex binary would be used and why, its version, the home and auth.
    Doctor {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        binary: BinaryArgs,
        /// The CODEX_HOME to inspect (default: $CODEX_HOME, then ~/.codex).
        #[arg(long, value_name = "DIR")]
        codex_home: Option<PathBuf>,
    },
    /// Logins: status, login, logout, copy between homes, credential store settings.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// MCP servers: list, get, add, remove (as Codex edits them) and OAuth logins.
    #[command(subcommand)]
    Mcp(codex_cmds::McpCommand),
    /// Manage isolated Codex homes.
    #[command(subcommand)]
    Home(HomeCommand),
    /// A home's config.toml: the snapshots kept before each edit codex-driver makes (list,
    /// diff, restore).
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Install a Codex release from the npm registry into the managed install directory.
    Install {
        /// A version (`0.169.0`) or dist-tag (`latest`).
        #[arg(default_value = "latest")]
        version: String,
        /// App name scoping the install dir (`~/.<app>/codex-versions`).
        #[arg(long, default_value = APP)]
        app: String,
        /// Install under this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// npm registry URL (default: from the npm configuration).
        #[arg(long)]
        registry: Option<String>,
    },
    /// Saved threads: list (the default), show, replay, archive, unarchive, delete, rename,
    /// fork, queue, watch, history.
    #[command(args_conflicts_with_subcommands = true)]
    Sessions {
        #[command(subcommand)]
        command: Option<sessions::SessionsCommand>,
        #[command(flatten)]
        list: sessions::ListArgs,
    },
    /// Apply a Codex Cloud task's diff to a git work tree (`codex apply`); prints the files
    /// it touched.
    Apply(codex_cmds::ApplyArgs),
    /// A code review turn (`codex exec review`), streamed like `run`.
    Review(codex_cmds::ReviewArgs),
    /// Run a command inside Codex's sandbox (`codex sandbox`); its output and status are
    /// passed through.
    Sandbox(codex_cmds::SandboxArgs),
    /// The model catalog (`codex debug models`).
    Models(codex_cmds::ModelsArgs),
    /// Codex's own checks (`codex doctor --json`), typed; exit 1 when one failed.
    CodexDoctor(codex_cmds::CodexDoctorArgs),
    /// Installed and available plugins and the marketplaces (`codex plugin list`).
    Plugins(codex_cmds::PluginsArgs),
    /// Codex's app-server daemon of a home: status, start, stop.
    Daemon(codex_cmds::DaemonArgs),
    /// Which of the binary's commands and flags the library covers, and why the rest is left
    /// out; exit 1 on a gap.
    Coverage(codex_cmds::CoverageArgs),
    /// Is a newer Codex out? The npm registry, GitHub releases and Homebrew, against the
    /// detected binary and the tested range (`codex-driver install latest` downloads it).
    #[command(subcommand)]
    Update(update::UpdateCommand),
    /// Print a shell completion script for codex-driver.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write codex-driver's man pages (one per command) into a directory.
    Man {
        /// Where to write them (created if missing).
        #[arg(default_value = ".", value_name = "DIR")]
        dir: PathBuf,
    },
    /// Start the interactive Codex in this terminal; prints the thread it worked on.
    Tui(tui::TuiArgs),
    /// Print every finished turn of a home as a JSON line (Codex's `notify` payload) until
    /// interrupted; the hook is installed for the duration and removed on Ctrl-C / SIGTERM.
    Watch {
        /// The CODEX_HOME to watch (default: $CODEX_HOME, then ~/.codex).
        #[arg(long, value_name = "DIR")]
        codex_home: Option<PathBuf>,
        /// Spool directory (default: `<home>/.codex-driver/notify-spool`). Turns that end while
        /// nobody watches are printed by the next watch on the same spool.
        #[arg(long, value_name = "DIR")]
        spool: Option<PathBuf>,
        /// Leave the hook installed on exit (keep spooling for a later watch).
        #[arg(long)]
        keep: bool,
    },
    /// List the binary's feature flags (probed, cached per binary); `enable`/`disable` one
    /// in a home.
    #[command(args_conflicts_with_subcommands = true)]
    Features {
        #[command(subcommand)]
        action: Option<codex_cmds::FeaturesAction>,
        #[command(flatten)]
        list: codex_cmds::FeaturesList,
    },
}

#[derive(Subcommand)]
enum HomeCommand {
    /// Create an isolated, app-scoped CODEX_HOME (0700) and optionally seed its login.
    Init {
        /// App name: the home is `~/.<app>/codex` (or `$XDG_DATA_HOME/<app>/codex`).
        #[arg(long)]
        app: Option<String>,
        /// Create the home here instead.
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
        /// Copy auth.json and .credentials.json from this home (e.g. ~/.codex).
        #[arg(long, value_name = "DIR")]
        seed_auth_from: Option<PathBuf>,
    },
}

/// The CLI's own app name (scopes its managed installs).
const APP: &str = "codex-driver";

/// Why a build without the `offline` feature can't run the demo.
const NO_OFFLINE: &str = "this codex-driver was built without the `offline` feature, so it has no offline demo; install it with default features (`cargo install codex-driver-cli`) or give Codex credentials";

#[derive(Args, Clone)]
struct BinaryArgs {
    /// The Codex binary (default: $CODEX_BINARY, managed installs, the pinned release installed
    /// on first use, then `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    codex_binary: Option<PathBuf>,
    /// Don't search PATH.
    #[arg(long)]
    no_path: bool,
    /// Don't install the pinned Codex release when no binary is found (also
    /// CODEX_DRIVER_AUTO_INSTALL=0).
    #[arg(long)]
    no_install: bool,
}

impl BinaryArgs {
    fn resolver(&self) -> codex_driver::Resolver {
        let mut r = codex_driver::Resolver::new().search_path(!self.no_path);
        if let Some(p) = &self.codex_binary {
            r = r.explicit(p);
        }
        if let Ok(m) = codex_driver::binary::ManagedInstalls::for_app(APP) {
            r = if self.no_install {
                r.managed(m, None)
            } else {
                r.install_pinned(m)
            };
        }
        r
    }

    /// The binary; when none is found, the pinned release is installed (once, with a progress
    /// bar) unless `--no-install` or `CODEX_DRIVER_AUTO_INSTALL=0`.
    async fn binary(&self) -> Result<Binary> {
        Ok(install::resolve(&self.resolver()).await?.binary)
    }
}

#[derive(Args)]
struct RunArgs {
    /// The prompt (sent to Codex on stdin).
    prompt: String,
    /// Print the events as JSONL, in `codex exec --json`'s own format, instead of progress.
    #[arg(long)]
    json: bool,
    /// A rate card (TOML: `effective = "DATE"` and `[models."NAME"]` with `input`,
    /// `cached_input`, `output`, `reasoning` in dollars per million tokens) merged over the
    /// built-in one: the turn's cost is printed on stderr when the card prices the model.
    #[arg(long, value_name = "FILE", env = "CODEX_DRIVER_RATES")]
    rates: Option<PathBuf>,
    /// Use the built-in offline provider and demo script (also chosen when no credentials are
    /// found and neither --codex-home, $CODEX_HOME nor --cd names a place: then it runs in
    /// fresh private directories). The demo runs a shell command and creates files in its
    /// workspace (--cd, else a scratch directory removed at the end). Nothing is written to a
    /// home's config.toml. Needs the `offline` feature (on by default).
    #[arg(long)]
    offline: bool,
    /// With --offline: keep the scratch workspace (its path is printed on stderr).
    #[arg(long)]
    keep_workspace: bool,
    /// Pass the whole environment to Codex and the commands it runs. By default only an
    /// allow-list passes (PATH, HOME, locale, TLS and proxy settings, Codex's own variables,
    /// the configured provider's env_key and --pass-env).
    #[arg(long)]
    inherit_env: bool,
    /// Also pass this environment variable to Codex (repeatable).
    #[arg(long, value_name = "VAR")]
    pass_env: Vec<String>,
    /// The Codex binary (default: $CODEX_BINARY, managed installs, the pinned release
    /// installed on first use, then `codex` on PATH).
    #[arg(long, env = "CODEX_BINARY", value_name = "PATH")]
    codex_binary: Option<PathBuf>,
    /// Don't install the pinned Codex release when no binary is found (also
    /// CODEX_DRIVER_AUTO_INSTALL=0).
    #[arg(long)]
    no_install: bool,
    /// The agent's working root (`codex exec --cd`).
    #[arg(long, short = 'C', value_name = "DIR")]
    cd: Option<PathBuf>,
    /// Sandbox policy for model-generated commands.
    #[arg(long, short = 's', value_parser = ["read-only", "workspace-write", "danger-full-access"])]
    sandbox: Option<String>,
    /// Model to use.
    #[arg(long, short = 'm')]
    model: Option<String>,
    /// JSON Schema file the final message must follow.
    #[arg(long, value_name = "FILE")]
    output_schema: Option<PathBuf>,
    /// CODEX_HOME for this run (default: $CODEX_HOME, then ~/.codex; offline: a fresh one).
    #[arg(long, value_name = "DIR")]
    codex_home: Option<PathBuf>,
    /// Kill the run after this many seconds without output from Codex.
    #[arg(long, value_name = "SECS")]
    idle_timeout: Option<u64>,
    /// Kill the run after this many seconds in all.
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Continue this thread (from any earlier run) instead of starting a new one.
    #[arg(long, value_name = "THREAD_ID")]
    resume: Option<String>,
    /// Run the turn through `codex app-server` (streams text deltas; approvals possible).
    #[arg(long)]
    app_server: bool,
    /// With --app-server: approve every approval request.
    #[arg(long, conflicts_with = "deny", requires = "app_server")]
    approve: bool,
    /// With --app-server: decline every approval request (the default without a terminal).
    #[arg(long, requires = "app_server")]
    deny: bool,
    /// Start or continue the thread of this task of yours: the first run starts a thread and
    /// records it under KEY; later runs (any process) continue it. Two runs of one task at
    /// once are refused unless --shared.
    #[arg(long, value_name = "KEY", conflicts_with = "resume")]
    task: Option<String>,
    /// With --task: the task registry directory (default: ~/.codex-driver/tasks).
    #[arg(long, value_name = "DIR", requires = "task")]
    registry: Option<PathBuf>,
    /// With --task: drive it even if another process does.
    #[arg(long, requires = "task")]
    shared: bool,
    /// With --app-server: when Codex must ask (untrusted, on-request, never).
    #[arg(long, requires = "app_server", value_parser = ["untrusted", "on-request", "never"])]
    approval_policy: Option<String>,
    /// A config override, `key=value` (value as TOML, else a string), like `codex -c`
    /// (repeatable).
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE", value_parser = parse_override)]
    config: Vec<(String, String)>,
    /// Enable a feature (`codex --enable`, repeatable).
    #[arg(long, value_name = "FEATURE")]
    enable: Vec<String>,
    /// Disable a feature (`codex --disable`, repeatable).
    #[arg(long, value_name = "FEATURE")]
    disable: Vec<String>,
    /// Every other `codex exec` option of the library (`--skip-git-repo-check`, `--add-dir`,
    /// `--image`, `--profile`, `--ephemeral`, ...), from the builder's own table.
    #[command(flatten)]
    exec_flags: exec_flags::ExecFlags,
}

/// `-c key=value`, checked when parsing (the value is typed later, by the library).
fn parse_override(arg: &str) -> std::result::Result<(String, String), String> {
    match codex_driver::config::ConfigOverrides::parse_arg(arg) {
        Some((k, _)) => Ok((
            k,
            arg.split_once('=')
                .map(|(_, v)| v)
                .unwrap_or_default()
                .to_owned(),
        )),
        None => Err(format!("`{arg}` is not KEY=VALUE")),
    }
}

/// The `-c` overrides of `run`, typed as Codex reads them.
fn overrides(args: &RunArgs) -> Vec<(String, toml_edit::Value)> {
    args.config
        .iter()
        .filter_map(|(k, v)| codex_driver::config::ConfigOverrides::parse_arg(&format!("{k}={v}")))
        .collect()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args).await,
        Command::Auth(cmd) => auth::run(cmd).await,
        Command::Mcp(cmd) => codex_cmds::mcp(cmd).await,
        Command::Doctor {
            json,
            binary,
            codex_home,
        } => doctor(json, &binary, codex_home).await,
        Command::Home(HomeCommand::Init {
            app,
            path,
            seed_auth_from,
        }) => home_init(app, path, seed_auth_from),
        Command::Config(cmd) => config::run(cmd),
        Command::Install {
            version,
            app,
            dir,
            registry,
        } => install_cmd(&version, &app, dir, registry).await,
        Command::Features { action, list } => {
            codex_cmds::features(action.unwrap_or(codex_cmds::FeaturesAction::List(list))).await
        }
        Command::Sessions { command, list } => {
            sessions::run(command.unwrap_or(sessions::SessionsCommand::List(list))).await
        }
        Command::Apply(a) => codex_cmds::apply(a).await,
        Command::Review(a) => codex_cmds::review(a).await,
        Command::Sandbox(a) => codex_cmds::sandbox(a).await,
        Command::Models(a) => codex_cmds::models(a).await,
        Command::CodexDoctor(a) => codex_cmds::codex_doctor(a).await,
        Command::Plugins(a) => codex_cmds::plugins(a).await,
        Command::Daemon(a) => codex_cmds::daemon(a).await,
        Command::Coverage(a) => codex_cmds::coverage(a).await,
        Command::Update(cmd) => update::run(cmd).await,
        Command::Completions { shell } => completions(shell),
        Command::Man { dir } => man_pages(&dir),
        Command::Tui(args) => tui::run(args).await,
        Command::Watch {
            codex_home,
            spool,
            keep,
        } => watch(codex_home, spool, keep).await,
    };
    match result {
        Ok(code) => code,
        Err(err) if out::is_broken_pipe(&err) => ExitCode::from(out::BROKEN_PIPE_STATUS),
        Err(err) => {
            eprintln!("error: {err:#}");
            if let Some(tail) = err.downcast_ref::<Error>().and_then(Error::stderr_tail)
                && !tail.trim().is_empty()
            {
                eprintln!("--- Codex stderr (tail) ---\n{}", tail.trim_end());
            }
            ExitCode::FAILURE
        }
    }
}

fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    use clap::CommandFactory;
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "codex-driver", &mut buf);
    out::text(&String::from_utf8_lossy(&buf))?;
    Ok(ExitCode::SUCCESS)
}

/// `codex-driver.1` and `codex-driver-<sub>[-<subsub>].1` for every command.
fn man_pages(dir: &Path) -> Result<ExitCode> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut written = 0;
    write_man(&cmd, dir, &mut written)?;
    eprintln!("wrote {written} man pages to {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// After `build()`, a sub-command's display name is `codex-driver-<sub>`.
fn write_man(cmd: &clap::Command, dir: &Path, written: &mut usize) -> Result<()> {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    let file = dir.join(format!("{name}.1"));
    std::fs::write(&file, buf).with_context(|| format!("writing {}", file.display()))?;
    *written += 1;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_man(sub, dir, written)?;
    }
    Ok(())
}

/// `--codex-home DIR`, else `$CODEX_HOME`, else `~/.codex`.
fn home_or_default(dir: Option<PathBuf>) -> Result<codex_driver::CodexHome> {
    Ok(match dir {
        Some(h) => codex_driver::CodexHome::new(h),
        None => codex_driver::CodexHome::user_default()?,
    })
}

async fn watch(
    codex_home: Option<PathBuf>,
    spool: Option<PathBuf>,
    keep: bool,
) -> Result<ExitCode> {
    use codex_driver::notify::{NotifySpool, Spooled};
    let home = home_or_default(codex_home)?;
    // Its config.toml is about to be edited: it must be ours and private.
    home.check()?;
    let dir = spool.unwrap_or_else(|| home.path().join(".codex-driver/notify-spool"));
    let mut spool = NotifySpool::create(&dir)?;
    spool.install(&home)?;
    eprintln!(
        "watching {} (spool {}); Ctrl-C to stop",
        home.path().display(),
        dir.display()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let outcome: Result<()> = async {
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(()),
                _ = term.recv() => return Ok(()),
                // A bad file was set aside: warn and go on; only spool failures stop.
                n = spool.next_spooled() => {
                    let n = match n? {
                        Spooled::Notification(n) => n,
                        Spooled::Bad(bad) => {
                            eprintln!("warning: {bad}");
                            continue;
                        }
                        other => {
                            eprintln!("warning: skipped {other:?}");
                            continue;
                        }
                    };
                    // A closed pipe ends the watch (status 141) after the hook is removed.
                    outln!("{}", serde_json::to_string(&n)?)?;
                }
            }
        }
    }
    .await;
    if !keep {
        spool.uninstall(&home)?;
    }
    outcome.map(|()| ExitCode::SUCCESS)
}

async fn doctor(json: bool, binary: &BinaryArgs, codex_home: Option<PathBuf>) -> Result<ExitCode> {
    let home = home_or_default(codex_home)?;
    let ok = doctor::run(&binary.resolver(), &home, json).await?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn home_init(
    app: Option<String>,
    path: Option<PathBuf>,
    seed: Option<PathBuf>,
) -> Result<ExitCode> {
    let home = match (path, app) {
        (Some(p), _) => codex_driver::CodexHome::isolated(p),
        (None, Some(app)) => codex_driver::CodexHome::for_app(&app)?,
        (None, None) => anyhow::bail!("give --app NAME or --path DIR"),
    };
    let home = home.materialize()?;
    if let Some(src) = seed {
        let src = codex_driver::CodexHome::new(src);
        let seeded = codex_driver::auth::seed(&src, &home)?;
        if seeded.copied.is_empty() {
            eprintln!(
                "no auth.json or .credentials.json in {}; nothing seeded",
                src.path().display()
            );
        }
        for f in seeded.copied {
            eprintln!("seeded {}", f.display());
        }
    }
    outln!("{}", home.path().display())?;
    Ok(ExitCode::SUCCESS)
}

async fn install_cmd(
    version: &str,
    app: &str,
    dir: Option<PathBuf>,
    registry: Option<String>,
) -> Result<ExitCode> {
    let installs = match dir {
        Some(d) => codex_driver::binary::ManagedInstalls::new(d),
        None => codex_driver::binary::ManagedInstalls::for_app(app)?,
    };
    install::run(installs, version, registry).await?;
    Ok(ExitCode::SUCCESS)
}

async fn features(l: &codex_cmds::FeaturesList) -> Result<ExitCode> {
    let res = install::resolve(&l.binary.resolver()).await?;
    let caps = codex_driver::probe::Prober::new()
        .refresh(l.refresh)
        .probe(&res.binary)
        .await?;
    if l.json {
        outln!("{}", serde_json::to_string_pretty(&caps.features)?)?;
    } else {
        for f in &caps.features {
            outln!("{:<44} {:<18} {}", f.name, f.stage.as_str(), f.enabled)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_app_server(
    args: RunArgs,
    binary: Binary,
    offline: bool,
    home: Option<&Path>,
) -> Result<ExitCode> {
    let mut server = codex_driver::app_server::AppServer::new().binary(binary);
    let mut sandbox = args.sandbox.clone();
    let mut cwd = args.cd.as_ref().map(|c| c.display().to_string());
    server = server.spawn_env(spawn_env(&args, home)?);
    let demo = if offline {
        let demo = start_demo(&args).await?;
        server = server.codex_home(demo.home()).current_dir(demo.workspace());
        for (k, v) in demo.overrides() {
            server = server.config(k, v);
        }
        sandbox.get_or_insert_with(|| "workspace-write".into());
        cwd = Some(demo.workspace().display().to_string());
        Some(demo)
    } else {
        // A home named by $CODEX_HOME too: the allow-listed environment must not lose it.
        if let Some(h) = named_codex_home(&args) {
            server = server.codex_home(h);
        }
        None
    };
    for (k, v) in overrides(&args) {
        server = server.config(k, v);
    }
    for f in &args.enable {
        server = server.enable(f);
    }
    for f in &args.disable {
        server = server.disable(f);
    }
    let policy = if args.approve {
        app_run::Policy::Approve
    } else if args.deny {
        app_run::Policy::Deny
    } else {
        app_run::Policy::Ask
    };
    if let Some(key) = args.task.clone() {
        let params = app_run::thread_params(
            cwd,
            args.model.clone(),
            sandbox,
            args.approval_policy.clone(),
        )?;
        let server = server.approval_handler(app_run::handler(policy));
        let code = task::run(
            task_args(&args, key),
            task::Transport::AppServer(Box::new(server), Box::new(params)),
        )
        .await;
        drop(demo);
        return code;
    }
    app_run::run(
        server,
        app_run::Options {
            prompt: args.prompt.clone(),
            json: args.json,
            sandbox,
            model: args.model.clone(),
            approval_policy: args.approval_policy.clone(),
            cwd,
            policy,
            resume: args.resume.clone(),
        },
    )
    .await?;
    drop(demo);
    Ok(ExitCode::SUCCESS)
}

fn task_args(args: &RunArgs, key: String) -> task::TaskArgs {
    task::TaskArgs {
        key,
        registry: args.registry.clone(),
        shared: args.shared,
        json: args.json,
        prompt: args.prompt.clone(),
    }
}

/// `--codex-home`, else a non-empty `$CODEX_HOME`: a home the user named.
fn named_codex_home(args: &RunArgs) -> Option<PathBuf> {
    args.codex_home
        .clone()
        .or_else(|| codex_driver::CodexHome::from_env().map(|h| h.path().to_path_buf()))
}

/// The environment Codex gets: the allow-list (plus the configured provider's `env_key` and
/// `--pass-env`) unless `--inherit-env`.
fn spawn_env(args: &RunArgs, home: Option<&Path>) -> Result<codex_driver::env::SpawnEnv> {
    if args.inherit_env {
        return Ok(codex_driver::env::SpawnEnv::new());
    }
    let mut env = codex_driver::env::SpawnEnv::allow_listed();
    for var in &args.pass_env {
        env.allow(var);
    }
    if let Some(h) = home
        && let Some(key) = codex_driver::auth::provider_env_key(&codex_driver::CodexHome::new(h))?
    {
        env.allow(key);
    }
    Ok(env)
}

async fn start_demo(args: &RunArgs) -> Result<offline::Demo> {
    let demo = offline::Demo::start(
        args.codex_home.as_deref(),
        args.cd.as_deref(),
        args.keep_workspace,
    )
    .await?;
    eprintln!(
        "codex-driver: offline workspace {}{}",
        demo.workspace().display(),
        if demo.workspace_is_temporary() {
            " (removed at the end; --keep-workspace keeps it)"
        } else {
            ""
        }
    );
    Ok(demo)
}

/// Whether this run goes offline: asked for, or no credentials anywhere and no place named.
/// A run that names a home or a working directory never silently turns into the demo.
async fn choose_offline(args: &RunArgs, home: Option<&Path>) -> Result<bool> {
    if args.offline {
        return Ok(true);
    }
    use codex_driver::auth::CredentialCheck;
    // No $HOME and no named home: only the environment can hold a key.
    let home = codex_driver::CodexHome::new(home.unwrap_or(Path::new("/nonexistent")));
    let looked = match codex_driver::auth::find_credentials(&home).await? {
        CredentialCheck::Missing(looked) => looked,
        _ => return Ok(false),
    };
    if named_codex_home(args).is_some() || args.cd.is_some() {
        anyhow::bail!(
            "no credentials for a real run in {home}: looked for {}. Log in with `CODEX_HOME={home} codex login`, set CODEX_API_KEY, or pass --offline for the scripted demo",
            looked.join(", "),
            home = home.path().display(),
        );
    }
    if !cfg!(feature = "offline") {
        anyhow::bail!(
            "no credentials for a real run: looked for {}; {NO_OFFLINE}",
            looked.join(", ")
        );
    }
    eprintln!(
        "codex-driver: no credentials found (looked for {}); using the built-in offline provider in fresh private directories (--offline)",
        looked.join(", ")
    );
    Ok(true)
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    if args.offline && !cfg!(feature = "offline") {
        anyhow::bail!("--offline: {NO_OFFLINE}");
    }
    let binary = BinaryArgs {
        codex_binary: args.codex_binary.clone(),
        no_path: false,
        no_install: args.no_install,
    }
    .binary()
    .await?;
    let home = named_codex_home(&args).or_else(|| {
        codex_driver::CodexHome::user_default()
            .ok()
            .map(|h| h.path().to_path_buf())
    });
    let offline = choose_offline(&args, home.as_deref()).await?;
    if args.task.is_some() && offline && (named_codex_home(&args).is_none() || args.cd.is_none()) {
        anyhow::bail!(
            "--task with the offline demo needs a lasting place: give --codex-home and --cd (the demo's fresh directories are removed at the end)"
        );
    }
    if args.app_server {
        if !args.exec_flags.is_empty() {
            anyhow::bail!("options of codex exec don't apply with --app-server");
        }
        return run_app_server(args, binary, offline, home.as_deref()).await;
    }
    let mut exec = match &args.resume {
        Some(id) => Exec::resume(id, &args.prompt),
        None => Exec::new(&args.prompt),
    }
    .binary(binary)
    .spawn_env(spawn_env(&args, home.as_deref())?);
    let demo = if offline {
        let demo = start_demo(&args).await?;
        exec = exec
            .codex_home(demo.home())
            .cd(demo.workspace())
            .current_dir(demo.workspace())
            .skip_git_repo_check(true)
            .sandbox(SandboxMode::WorkspaceWrite);
        for (k, v) in demo.overrides() {
            exec = exec.config(k, v);
        }
        Some(demo)
    } else {
        // A home named by $CODEX_HOME too: the allow-listed environment must not lose it.
        if let Some(h) = named_codex_home(&args) {
            exec = exec.codex_home(h);
        }
        if let Some(cd) = &args.cd {
            exec = exec.cd(cd);
        }
        None
    };
    if let Some(s) = &args.sandbox {
        exec = exec.sandbox(s.parse()?);
    }
    if let Some(m) = &args.model {
        exec = exec.model(m);
    }
    if let Some(f) = &args.output_schema {
        let f =
            std::fs::canonicalize(f).with_context(|| format!("output schema {}", f.display()))?;
        exec = exec.output_schema(f);
    }
    exec = args.exec_flags.apply(exec)?;
    for (k, v) in overrides(&args) {
        exec = exec.config(k, v);
    }
    for f in &args.enable {
        exec = exec.enable(f);
    }
    for f in &args.disable {
        exec = exec.disable(f);
    }
    if let Some(s) = args.idle_timeout {
        exec = exec.idle_timeout(std::time::Duration::from_secs(s));
    }
    if let Some(s) = args.timeout {
        exec = exec.timeout(std::time::Duration::from_secs(s));
    }

    if let Some(key) = args.task.clone() {
        let code = task::run(task_args(&args, key), task::Transport::Exec(Box::new(exec))).await;
        drop(demo);
        return code;
    }
    // The demo names its model in its overrides; a real run in `--model` or the home's config.
    let demo_model = demo.as_ref().and_then(|d| {
        d.overrides()
            .find(|(k, _)| k == "model")
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    });
    let pricing = pricing::Pricing::load(
        args.rates.as_deref(),
        args.model.clone().or(demo_model),
        home.as_deref().filter(|_| demo.is_none()),
    )?;
    let streamed = stream_turn(exec, args.json, &pricing).await;
    drop(demo);
    streamed.map(|()| ExitCode::SUCCESS)
}

/// Streams one exec turn: its events as JSONL with `json`, else live progress on stderr and
/// the final message on stdout. Ctrl-C, SIGTERM and SIGHUP stop Codex (its whole process group,
/// gracefully); a closed stdout ends the turn too.
async fn stream_turn(exec: Exec, json: bool, pricing: &pricing::Pricing) -> Result<()> {
    let cancel = CancellationToken::new();
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if out::stop_requested().await {
                cancel.cancel();
            }
        });
    }
    let mut stream = exec.cancel_token(cancel).stream().await?;
    let mut progress = (!json).then(progress::Progress::new);
    let mut final_message = None;
    let mut cost = None;
    while let Some(ev) = stream.next_event().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                if let Some(p) = progress.as_mut() {
                    p.finish();
                }
                return Err(e.into());
            }
        };
        if let ThreadEvent::TurnCompleted(t) = &ev {
            cost = pricing.line(&t.usage);
        }
        if json {
            // A closed pipe (`| head`) returns here, and dropping the stream stops Codex.
            outln!("{}", ev.to_json_line())?;
            continue;
        }
        if let Some(p) = progress.as_mut() {
            p.event(&ev);
        }
        if let ThreadEvent::ItemCompleted(done) = &ev
            && let codex_driver::ItemDetails::AgentMessage(m) = &done.item.details
        {
            final_message = Some(m.text.clone());
        }
    }
    if let Some(p) = progress.as_mut() {
        p.finish();
    }
    if let Some(line) = cost {
        eprintln!("• {line}");
    }
    if !json && let Some(msg) = final_message {
        outln!("{msg}")?;
    }
    Ok(())
}
