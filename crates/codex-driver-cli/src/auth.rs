//! `codex-driver auth ...` and `codex-driver mcp login|logout`: thin over
//! `codex_driver::auth`. Data goes to stdout, talk to stderr; no secret is ever printed (keys
//! are shown as Codex masks them) or taken from an argument (only from our stdin).

use crate::{BinaryArgs, home_or_default};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use codex_driver::auth::{
    self, AuthSource, AuthStatus, CliAuthStore, Login, LoginPrompt, LoginStore, McpOAuthStore,
    Secret, StoreKind, StoreSettings,
};
use codex_driver::home::CodexHome;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// The `schema_version` of every JSON object the `auth` commands print.
pub const SCHEMA_VERSION: u32 = 1;

/// `auth status` exit status: the login cannot be read or used (or the command failed).
const EXIT_STATUS_ERROR: u8 = 2;

#[derive(Subcommand)]
pub enum AuthCommand {
    /// Which login the home has, read from its credential store without running Codex.
    ///
    /// Exit status: 0 logged in, 1 logged out, 2 the login cannot be read or used (e.g. a
    /// locked keyring) or the command failed.
    ///
    /// `--json` prints one object:
    /// `{"schema_version":1,"codex_home":PATH,"stores":{"cli":"file|keyring|auto|ephemeral",
    /// "mcp":"auto|file|keyring","secrets_backend":BOOL} (null when config.toml is unreadable),
    /// "status":STATUS}` where STATUS is `{"status":"logged_out"}`,
    /// `{"status":"api_key","masked":"sk-proj-***abcde","source":SOURCE}`,
    /// `{"status":"chatgpt","email","plan","account_id","access_expires_at","source"}`,
    /// `{"status":"access_token","source"}` or
    /// `{"status":"error","reason":TEXT,"problem":null|"no_secret_service"|"locked"|
    /// "not_initialised"|"ambiguous"|"denied"|"unsupported"|"timed_out"|"other"}`, and SOURCE
    /// is `{"kind":"file"}`, `{"kind":"keyring"}` or `{"kind":"env","var":"CODEX_API_KEY"}`.
    #[command(verbatim_doc_comment)]
    Status {
        /// Print the JSON object described above.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        home: HomeArg,
    },
    /// Log in with `codex login`; the key or token is read from stdin, never from an argument.
    ///
    /// The device code / browser URL is printed on stderr as soon as Codex shows it; with
    /// `--json` also on stdout as a line `{"prompt":"device_code","url":URL,"code":CODE}` or
    /// `{"prompt":"browser","url":URL}`. On success `--json` prints
    /// `{"schema_version":1,"logged_in":true,"message":TEXT,"status":STATUS}` (STATUS as in
    /// `auth status --json`). Ctrl-C cancels the login.
    #[command(verbatim_doc_comment)]
    Login(LoginArgs),
    /// Log out: remove the home's auth.json and its keyring item.
    ///
    /// `--json` prints `{"schema_version":1,"removed":{"file":BOOL,"keyring":BOOL}}`.
    #[command(verbatim_doc_comment)]
    Logout {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        home: HomeArg,
    },
    /// Copy a login from one home to another, each in the store its config names.
    ///
    /// `--json` prints `{"schema_version":1,"login":"file"|"keyring"|null,"copied":[PATH...]}`
    /// (`login`: where the login went, null when the source has none; `copied`: files written).
    #[command(verbatim_doc_comment)]
    Copy {
        /// The home to copy from.
        #[arg(long, value_name = "HOME")]
        from: PathBuf,
        /// The home to copy to (must exist).
        #[arg(long, value_name = "HOME")]
        to: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set where the home keeps its login (`cli_auth_credentials_store` in config.toml), and
    /// optionally MCP OAuth tokens (`mcp_oauth_credentials_store`).
    ///
    /// With `--move` the existing login is moved from the old store to the new one (saved in
    /// the new, then removed from the old), so nothing is lost. MCP tokens are never moved.
    /// `--json` prints `{"schema_version":1,"cli":{"from":MODE,"to":MODE},
    /// "mcp":null|{"from":MODE,"to":MODE},"moved":null|{"from":"file|keyring","to":"file|keyring"}}`.
    #[command(verbatim_doc_comment)]
    Store {
        /// Where Codex keeps the login.
        #[arg(value_parser = ["file", "keyring", "auto", "ephemeral"])]
        mode: String,
        /// Also set where MCP OAuth tokens go.
        #[arg(long, value_parser = ["auto", "file", "keyring"])]
        mcp: Option<String>,
        /// Move the existing login into the new store.
        #[arg(long = "move")]
        move_login: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        home: HomeArg,
    },
}

#[derive(Subcommand)]
pub enum McpCommand {
    /// OAuth login for a configured streamable-HTTP MCP server (`codex mcp login`).
    ///
    /// The authorize URL is printed on stderr; with `--json` also on stdout as a line
    /// `{"prompt":"browser","url":URL}`, and on success `{"schema_version":1,"logged_in":true,
    /// "message":TEXT}`. Ctrl-C cancels.
    #[command(verbatim_doc_comment)]
    Login {
        /// The server's name in `[mcp_servers.NAME]`.
        name: String,
        /// OAuth scopes to request (comma-separated).
        #[arg(long, value_delimiter = ',', value_name = "A,B")]
        scopes: Vec<String>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        binary: BinaryArgs,
    },
    /// Remove a server's OAuth tokens (`codex mcp logout`).
    ///
    /// `--json` prints `{"schema_version":1,"removed":BOOL}`.
    #[command(verbatim_doc_comment)]
    Logout {
        /// The server's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        binary: BinaryArgs,
    },
}

#[derive(Args)]
pub struct HomeArg {
    /// The CODEX_HOME (default: $CODEX_HOME, then ~/.codex).
    #[arg(long, value_name = "DIR")]
    codex_home: Option<PathBuf>,
}

#[derive(Args)]
#[group(id = "method", required = true, multiple = false)]
pub struct Method {
    /// Store an API key read from stdin.
    #[arg(long)]
    api_key_stdin: bool,
    /// Store an access token read from stdin.
    #[arg(long)]
    access_token_stdin: bool,
    /// Device-code login: open the printed URL and enter the code.
    #[arg(long)]
    device: bool,
    /// Browser login: open the printed URL (Codex listens on localhost:1455).
    #[arg(long)]
    browser: bool,
}

#[derive(Args)]
pub struct LoginArgs {
    #[command(flatten)]
    method: Method,
    /// The OAuth issuer (default https://auth.openai.com).
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// The OAuth client id.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Give up after this many seconds (default: 60 for stdin logins, 20 minutes otherwise).
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    home: HomeArg,
    #[command(flatten)]
    binary: BinaryArgs,
}

/// Writes one line on stdout (a closed pipe is an error main reports as status 141).
fn out(line: &str) -> Result<()> {
    Ok(crate::out::line(format_args!("{line}"))?)
}

fn out_json(v: &serde_json::Value) -> Result<()> {
    out(&serde_json::to_string(v)?)
}

/// Runs blocking keyring/file work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("a credential-store task failed")
}

pub async fn run(cmd: AuthCommand) -> Result<ExitCode> {
    match cmd {
        // Exit 1 means "logged out" here: a failure must not look like that.
        AuthCommand::Status { json, home } => Ok(status(json, home).await.unwrap_or_else(|e| {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_STATUS_ERROR)
        })),
        AuthCommand::Login(args) => login(args).await,
        AuthCommand::Logout { json, home } => logout(json, home).await,
        AuthCommand::Copy { from, to, json } => copy(from, to, json).await,
        AuthCommand::Store {
            mode,
            mcp,
            move_login,
            json,
            home,
        } => store(&mode, mcp.as_deref(), move_login, json, home).await,
    }
}

pub async fn run_mcp(cmd: McpCommand) -> Result<ExitCode> {
    match cmd {
        McpCommand::Login {
            name,
            scopes,
            json,
            home,
            binary,
        } => mcp_login(name, scopes, json, home, &binary).await,
        McpCommand::Logout {
            name,
            json,
            home,
            binary,
        } => mcp_logout(&name, json, home, &binary).await,
    }
}

/// One short line for a status, e.g. `api key sk-proj-***abcde (file)`. Never a secret.
pub fn describe(s: &AuthStatus) -> String {
    fn source(s: &AuthSource) -> String {
        match s {
            AuthSource::File => "auth.json".into(),
            AuthSource::Keyring => "keyring".into(),
            AuthSource::Env { var } => format!("${var}"),
            _ => "reported by Codex".into(),
        }
    }
    match s {
        AuthStatus::LoggedOut => "logged out".into(),
        AuthStatus::ApiKey { masked, source: s } => format!(
            "logged in with an API key {} ({})",
            masked.as_deref().unwrap_or("***"),
            source(s)
        ),
        AuthStatus::ChatGpt {
            email,
            plan,
            source: s,
            ..
        } => {
            let mut who = vec![];
            if let Some(e) = email {
                who.push(e.clone());
            }
            if let Some(p) = plan {
                who.push(format!("plan {p}"));
            }
            who.push(source(s));
            format!("logged in with ChatGPT ({})", who.join(", "))
        }
        AuthStatus::AccessToken { source: s } => {
            format!("logged in with an access token ({})", source(s))
        }
        AuthStatus::Error { reason, .. } => format!("error: {reason}"),
        other => other.kind().to_owned(),
    }
}

async fn status(json: bool, home: HomeArg) -> Result<ExitCode> {
    let home = home_or_default(home.codex_home)?;
    let h = home.clone();
    let (stores, status) = blocking(move || (StoreSettings::of(&h), auth::status(&h))).await?;
    let code = if status.is_logged_in() {
        ExitCode::SUCCESS
    } else if status == AuthStatus::LoggedOut {
        ExitCode::from(1)
    } else {
        ExitCode::from(EXIT_STATUS_ERROR)
    };
    if json {
        out_json(&json!({
            "schema_version": SCHEMA_VERSION,
            "codex_home": home.path(),
            "stores": stores.as_ref().ok(),
            "status": status,
        }))?;
    } else {
        out(&describe(&status))?;
        if let Err(e) = &stores {
            eprintln!("warning: the store settings: {e}");
        }
    }
    if let AuthStatus::Error { reason, .. } = &status {
        eprintln!("error: {reason}");
    }
    Ok(code)
}

/// Reads the whole of our stdin as a secret (surrounding whitespace trimmed).
fn secret_from_stdin(what: &str) -> Result<Secret> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("paste the {what}, then press Enter and Ctrl-D:");
    }
    let buf = std::io::read_to_string(stdin).context("reading stdin")?;
    let secret = Secret::new(buf.trim());
    drop(buf);
    if secret.is_blank() {
        bail!("no {what} on stdin");
    }
    Ok(secret)
}

fn resolve(binary: &BinaryArgs) -> Result<codex_driver::Binary> {
    Ok(binary.resolver().resolve()?.binary)
}

async fn login(args: LoginArgs) -> Result<ExitCode> {
    let home = home_or_default(args.home.codex_home)?;
    let m = &args.method;
    let mut login = if m.api_key_stdin {
        Login::api_key(secret_from_stdin("API key")?)
    } else if m.access_token_stdin {
        Login::access_token(secret_from_stdin("access token")?)
    } else if m.device {
        Login::device_code()
    } else {
        Login::browser()
    };
    if let Some(i) = &args.issuer {
        login = login.issuer(i);
    }
    if let Some(c) = &args.client_id {
        login = login.client_id(c);
    }
    if let Some(s) = args.timeout {
        login = login.timeout(std::time::Duration::from_secs(s));
    }
    let login = login.binary(resolve(&args.binary)?).codex_home(home.path());
    let mut handle = login.start().await?;
    let prompt = tokio::select! {
        p = handle.prompt() => p,
        _ = tokio::signal::ctrl_c() => {
            handle.cancel().await;
            eprintln!("login cancelled");
            return Ok(ExitCode::from(130));
        }
    };
    match &prompt {
        Some(LoginPrompt::DeviceCode { url, code }) => {
            eprintln!("open {url} and enter the code {code}");
            if args.json {
                out_json(&json!({"prompt": "device_code", "url": url, "code": code}))?;
            }
        }
        Some(LoginPrompt::Browser { url }) => {
            eprintln!("open {url} in a browser");
            if args.json {
                out_json(&json!({"prompt": "browser", "url": url}))?;
            }
        }
        _ => {}
    }
    if prompt.is_some() {
        eprintln!("waiting for the login to complete (Ctrl-C cancels)...");
    }
    // Dropping the handle (on Ctrl-C) kills Codex's process group: nothing is stored.
    let outcome = tokio::select! {
        o = handle.wait() => o?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("login cancelled");
            return Ok(ExitCode::from(130));
        }
    };
    eprintln!("{}", outcome.message);
    let h = home.clone();
    let status = blocking(move || auth::status(&h)).await?;
    if args.json {
        out_json(&json!({
            "schema_version": SCHEMA_VERSION,
            "logged_in": true,
            "message": outcome.message,
            "status": status,
        }))?;
    } else {
        out(&describe(&status))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn logout(json: bool, home: HomeArg) -> Result<ExitCode> {
    let home = home_or_default(home.codex_home)?;
    let h = home.clone();
    let removed = blocking(move || LoginStore::of(&h)?.delete()).await??;
    if json {
        out_json(&json!({"schema_version": SCHEMA_VERSION, "removed": removed}))?;
    } else {
        let mut what = vec![];
        if removed.file {
            what.push(home.auth_json().display().to_string());
        }
        if removed.keyring {
            what.push(format!(
                "the keyring item `{}` / `{}`",
                auth::store::CLI_AUTH_SERVICE,
                auth::cli_auth_account(home.path())
            ));
        }
        if what.is_empty() {
            out("not logged in; nothing removed")?;
        } else {
            out(&format!("logged out: removed {}", what.join(" and ")))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn copy(from: PathBuf, to: PathBuf, json: bool) -> Result<ExitCode> {
    if !to.is_dir() {
        bail!(
            "{} is not a directory (create it with `codex-driver home init --path {}`)",
            to.display(),
            to.display()
        );
    }
    let (src, dst) = (CodexHome::new(&from), CodexHome::new(&to));
    let seeded = blocking(move || auth::seed(&src, &dst)).await??;
    if json {
        out_json(&json!({
            "schema_version": SCHEMA_VERSION,
            "login": seeded.login,
            "copied": seeded.copied,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    match seeded.login {
        None => out(&format!("no login in {}; nothing copied", from.display()))?,
        Some(StoreKind::Keyring) => out(&format!(
            "login copied to the keyring (`{}` / `{}`)",
            auth::store::CLI_AUTH_SERVICE,
            auth::cli_auth_account(&to)
        ))?,
        Some(_) => out(&format!(
            "login copied to {}",
            CodexHome::new(&to).auth_json().display()
        ))?,
    }
    for f in &seeded.copied {
        eprintln!("wrote {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}

async fn store(
    mode: &str,
    mcp: Option<&str>,
    move_login: bool,
    json: bool,
    home: HomeArg,
) -> Result<ExitCode> {
    let home = home_or_default(home.codex_home)?;
    let new: CliAuthStore = mode.parse().map_err(anyhow::Error::msg)?;
    let mcp_new: Option<McpOAuthStore> = mcp
        .map(|m| m.parse().map_err(anyhow::Error::msg))
        .transpose()?;
    let h = home.clone();
    let report = blocking(move || -> Result<serde_json::Value> {
        let before = StoreSettings::of(&h)?;
        let old = before.cli.clone();
        let mut moved = None;
        if move_login && old != new {
            if new == CliAuthStore::Ephemeral {
                bail!("--move: an `ephemeral` store keeps nothing; log out instead");
            }
            let found = LoginStore::of(&h)?.load()?;
            auth::store::set_cli_store(&h, &new)?;
            if let Some((login, from)) = found {
                let saved = LoginStore::of(&h).and_then(|s| s.save(&login));
                let to = match saved {
                    Ok(to) => to,
                    Err(e) => {
                        // Put the old setting back: the login is still where it was.
                        auth::store::set_cli_store(&h, &old)?;
                        return Err(e).context("moving the login (the store setting is unchanged)");
                    }
                };
                if from != to {
                    remove_from(&h, from)?;
                }
                moved = Some(json!({"from": from, "to": to}));
            }
        } else {
            if !move_login && old != new {
                warn_if_stranded(&h, &new);
            }
            auth::store::set_cli_store(&h, &new)?;
        }
        let mcp = match mcp_new {
            Some(m) => {
                auth::store::set_mcp_store(&h, &m)?;
                Some(json!({"from": before.mcp, "to": m}))
            }
            None => None,
        };
        Ok(json!({
            "schema_version": SCHEMA_VERSION,
            "cli": {"from": old, "to": new},
            "mcp": mcp,
            "moved": moved,
        }))
    })
    .await??;
    if json {
        out_json(&report)?;
    } else {
        out(&format!(
            "cli_auth_credentials_store: {} -> {}",
            report["cli"]["from"].as_str().unwrap_or("?"),
            report["cli"]["to"].as_str().unwrap_or("?")
        ))?;
        if let Some(m) = report["mcp"].as_object() {
            out(&format!(
                "mcp_oauth_credentials_store: {} -> {}",
                m["from"].as_str().unwrap_or("?"),
                m["to"].as_str().unwrap_or("?")
            ))?;
        }
        match report["moved"].as_object() {
            Some(m) => out(&format!(
                "login moved: {} -> {}",
                m["from"].as_str().unwrap_or("?"),
                m["to"].as_str().unwrap_or("?")
            ))?,
            None if move_login => out("no login to move")?,
            None => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes the login from the one store it was moved out of (`LoginStore::delete` would clear
/// both).
fn remove_from(home: &CodexHome, kind: StoreKind) -> Result<()> {
    match kind {
        StoreKind::Keyring => {
            auth::keyring::delete(
                auth::store::CLI_AUTH_SERVICE,
                &auth::cli_auth_account(home.path()),
            )?;
        }
        _ => match std::fs::remove_file(home.auth_json()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", home.auth_json().display()));
            }
            _ => {}
        },
    }
    Ok(())
}

/// Warns when the current login would not be seen in `new` mode (without `--move`).
fn warn_if_stranded(home: &CodexHome, new: &CliAuthStore) {
    let Ok(Ok(Some((_, kind)))) = LoginStore::of(home).map(|s| s.load()) else {
        return;
    };
    let seen = match new {
        CliAuthStore::File => kind == StoreKind::File,
        CliAuthStore::Keyring => kind == StoreKind::Keyring,
        CliAuthStore::Auto => true,
        _ => false,
    };
    if !seen {
        eprintln!(
            "warning: the home's login is in the {kind} store, which `{new}` mode does not read; \
             it stays there (use --move to move it)"
        );
    }
}

async fn mcp_login(
    name: String,
    scopes: Vec<String>,
    json: bool,
    home: HomeArg,
    binary: &BinaryArgs,
) -> Result<ExitCode> {
    let home = home_or_default(home.codex_home)?;
    let mut handle = auth::McpLogin::new(name)
        .scopes(scopes)
        .binary(resolve(binary)?)
        .codex_home(home.path())
        .start()
        .await?;
    let url = tokio::select! {
        u = handle.prompt() => u,
        _ = tokio::signal::ctrl_c() => {
            handle.cancel().await;
            eprintln!("login cancelled");
            return Ok(ExitCode::from(130));
        }
    };
    if let Some(url) = &url {
        eprintln!("open {url} in a browser");
        if json {
            out_json(&json!({"prompt": "browser", "url": url}))?;
        }
        eprintln!("waiting for the login to complete (Ctrl-C cancels)...");
    }
    let outcome = tokio::select! {
        o = handle.wait() => o?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("login cancelled");
            return Ok(ExitCode::from(130));
        }
    };
    eprintln!("{}", outcome.message);
    if json {
        out_json(&json!({
            "schema_version": SCHEMA_VERSION,
            "logged_in": true,
            "message": outcome.message,
        }))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn mcp_logout(
    name: &str,
    json: bool,
    home: HomeArg,
    binary: &BinaryArgs,
) -> Result<ExitCode> {
    let home = home_or_default(home.codex_home)?;
    let opts = codex_driver::SpawnOptions::new()
        .binary(resolve(binary)?)
        .codex_home(home.path());
    let removed = auth::login::mcp_logout(&opts, name).await?;
    if json {
        out_json(&json!({"schema_version": SCHEMA_VERSION, "removed": removed}))?;
    } else if removed {
        out(&format!("removed the OAuth credentials of `{name}`"))?;
    } else {
        out(&format!("no OAuth credentials stored for `{name}`"))?;
    }
    Ok(ExitCode::SUCCESS)
}
