//! Codex's own login commands as child processes: `codex login` (API key, access token,
//! device code, browser), `login status`, `logout`, `mcp login` and `mcp logout`.
//!
//! Codex owns the credential store (file or keyring, per `cli_auth_credentials_store`), so
//! logging in through its CLI writes exactly what a later run reads. What the user must do (a
//! device code, a URL) is parsed from Codex's output; success and failure come from its exit
//! status and its last error line, typed as [`Error::Login`] (with the keyring problem when the
//! store failed).
//!
//! Secrets go to the child's stdin, never into its argv or environment, and are masked in
//! anything Codex echoes. Every child leads its own process group, which is killed when the
//! handle is dropped, cancelled or times out.
//!
//! ```no_run
//! use codex_driver::auth::Secret;
//! use codex_driver::auth::login::{Login, LoginPrompt, login_status};
//! use codex_driver::SpawnOptions;
//!
//! # async fn demo() -> codex_driver::Result<()> {
//! let home = SpawnOptions::new().codex_home("/var/lib/mybot/codex-home");
//! Login::api_key(Secret::new("sk-..."))
//!     .spawn_options(home.clone())
//!     .start()
//!     .await?
//!     .wait()
//!     .await?;
//! println!("{:?}", login_status(&home).await?);
//!
//! let mut device = Login::device_code().spawn_options(home).start().await?;
//! if let Some(LoginPrompt::DeviceCode { url, code }) = device.prompt().await {
//!     println!("open {url} and enter {code}");
//! }
//! device.wait().await?;
//! # Ok(()) }
//! ```

use crate::auth::Secret;
use crate::auth::keyring::classify;
use crate::error::{Error, KeyringProblem, Result, TimeoutKind};
use crate::process::{Leader, LineReader, ReadLine};
use crate::spawn::{SpawnOptions, spawn_setters};
use nix::sys::signal::Signal;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

mod output;
mod run;
#[cfg(test)]
mod tests;

use output::*;
use run::*;

/// Default deadline of a login that reads its secret from stdin: it only waits for Codex's
/// store (and its locks).
pub const STDIN_LOGIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Default deadline of a login that waits for a person (device code, browser); Codex's own
/// device code expires after 15 minutes.
pub const INTERACTIVE_LOGIN_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// Deadline of `login status`, `logout` and `mcp logout` (a keyring may be slow to answer).
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest output line kept; longer lines are skipped.
const LINE_LIMIT: usize = 16 * 1024;
/// Output lines kept per stream (the last ones).
const LINES_KEPT: usize = 200;
/// How long a cancelled login may take to exit after SIGINT before its group is killed.
const CANCEL_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for the output readers once the group is gone.
const READER_GRACE: Duration = Duration::from_secs(2);

/// How `codex login` authenticates.
#[derive(Debug, Clone)]
enum Method {
    ApiKey(Secret),
    AccessToken(Secret),
    DeviceCode,
    Browser,
}

/// `codex login`: one of four methods, plus the shared spawn options (home, binary, `-c`, ...).
///
/// The hidden `--experimental_issuer` / `--experimental_client-id` flags exist in every
/// supported release (0.130.0 and 0.169.0 checked). Codex 0.169.0 honours them for device-code
/// login only: the browser login keeps `https://auth.openai.com` and its own client id.
#[derive(Debug, Clone)]
#[must_use]
pub struct Login {
    spawn: SpawnOptions,
    method: Method,
    issuer: Option<String>,
    client_id: Option<String>,
    timeout: Option<Duration>,
}

impl Login {
    fn new(method: Method) -> Self {
        Self {
            spawn: SpawnOptions::new(),
            method,
            issuer: None,
            client_id: None,
            timeout: None,
        }
    }

    /// `--with-api-key`: stores `key` as the home's API key. The key is written to Codex's
    /// stdin, which is then closed.
    pub fn api_key(key: Secret) -> Self {
        Self::new(Method::ApiKey(key))
    }

    /// `--with-access-token`: Codex 0.169 expects an agent-identity JWT here. Written to stdin.
    pub fn access_token(token: Secret) -> Self {
        Self::new(Method::AccessToken(token))
    }

    /// `--device-auth`: [`LoginHandle::prompt`] gives the URL and one-time code to show.
    pub fn device_code() -> Self {
        Self::new(Method::DeviceCode)
    }

    /// The browser login: Codex listens on `localhost:1455` for the callback and prints the
    /// authorize URL ([`LoginHandle::prompt`]). One at a time per machine: a second one takes
    /// over the port.
    pub fn browser() -> Self {
        Self::new(Method::Browser)
    }

    /// `--experimental_issuer URL`: the OAuth issuer (default `https://auth.openai.com`).
    pub fn issuer(mut self, url: impl Into<String>) -> Self {
        self.issuer = Some(url.into());
        self
    }

    /// `--experimental_client-id ID`: the OAuth client id Codex presents.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// Overall deadline from start; on expiry [`LoginHandle::wait`] kills the group and returns
    /// [`Error::Timeout`]. Default: [`STDIN_LOGIN_TIMEOUT`] or [`INTERACTIVE_LOGIN_TIMEOUT`].
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    spawn_setters!();

    /// The argv after the binary. Never holds a secret: those go through stdin.
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["login".into()];
        a.extend(self.spawn.common_args());
        match &self.method {
            Method::ApiKey(_) => a.push("--with-api-key".into()),
            Method::AccessToken(_) => a.push("--with-access-token".into()),
            Method::DeviceCode => a.push("--device-auth".into()),
            Method::Browser => {}
        }
        if let Some(url) = &self.issuer {
            a.push("--experimental_issuer".into());
            a.push(url.into());
        }
        if let Some(id) = &self.client_id {
            a.push("--experimental_client-id".into());
            a.push(id.into());
        }
        a.extend(self.spawn.other_options.iter().cloned());
        a
    }

    /// The sub-command for messages, e.g. `login --device-auth`.
    fn command(&self) -> String {
        match self.method {
            Method::ApiKey(_) => "login --with-api-key",
            Method::AccessToken(_) => "login --with-access-token",
            Method::DeviceCode => "login --device-auth",
            Method::Browser => "login",
        }
        .to_owned()
    }

    /// Starts Codex. Returns once it runs (the secret, if any, already on its stdin).
    pub async fn start(self) -> Result<LoginHandle> {
        let (secret, default_timeout) = match &self.method {
            Method::ApiKey(s) | Method::AccessToken(s) => (Some(s.clone()), STDIN_LOGIN_TIMEOUT),
            Method::DeviceCode | Method::Browser => (None, INTERACTIVE_LOGIN_TIMEOUT),
        };
        let run = Running::start(
            &self.spawn,
            &self.args(),
            self.command(),
            secret,
            self.timeout.unwrap_or(default_timeout),
        )
        .await?;
        Ok(LoginHandle { run })
    }
}

/// What Codex asks the user to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginPrompt {
    /// Open `url` and enter `code` (device-code login).
    DeviceCode {
        /// The verification page, `<issuer>/codex/device`.
        url: String,
        /// The one-time code, e.g. `ABCD-EFGH`.
        code: String,
    },
    /// Open `url` in a browser (browser login, `mcp login`).
    Browser {
        /// The authorize URL.
        url: String,
    },
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginOutcome {
    /// Codex's last words, e.g. `Successfully logged in`.
    pub message: String,
}

/// A running `codex login`. Dropping it kills the process group.
#[derive(Debug)]
pub struct LoginHandle {
    run: Running,
}

impl LoginHandle {
    /// Resolves once Codex shows what the user must do; `None` when it ended (or the deadline
    /// passed) without asking anything, as API-key logins do.
    pub async fn prompt(&mut self) -> Option<LoginPrompt> {
        self.run.prompt().await
    }

    /// Waits for Codex to finish: its last message, or [`Error::Login`] with its error line.
    pub async fn wait(self) -> Result<LoginOutcome> {
        self.run.outcome().await
    }

    /// Interrupts Codex (SIGINT), kills its group after a short grace and reaps it. Nothing is
    /// stored unless the login had already completed.
    pub async fn cancel(self) {
        self.run.cancel().await;
    }

    /// The process group id (Codex's pid), e.g. to check [`crate::group_alive`].
    pub fn pgid(&self) -> Option<u32> {
        self.run.leader.pgid()
    }
}

/// `codex mcp login NAME`: OAuth for a configured streamable-HTTP MCP server.
#[derive(Debug, Clone)]
#[must_use]
pub struct McpLogin {
    spawn: SpawnOptions,
    name: String,
    scopes: Vec<String>,
    timeout: Option<Duration>,
}

impl McpLogin {
    /// Logs in to the server configured as `[mcp_servers.NAME]`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            spawn: SpawnOptions::new(),
            name: name.into(),
            scopes: Vec::new(),
            timeout: None,
        }
    }

    /// `--scopes a,b`: the OAuth scopes to request (default: what the server advertises).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Overall deadline (default [`INTERACTIVE_LOGIN_TIMEOUT`]).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    spawn_setters!();

    /// The argv after the binary. `--` keeps a name starting with `-` from reading as a flag.
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["mcp".into(), "login".into()];
        a.extend(self.spawn.common_args());
        if !self.scopes.is_empty() {
            a.push("--scopes".into());
            a.push(self.scopes.join(",").into());
        }
        a.extend(self.spawn.other_options.iter().cloned());
        a.push("--".into());
        a.push(self.name.clone().into());
        a
    }

    /// Starts Codex.
    pub async fn start(self) -> Result<McpLoginHandle> {
        let run = Running::start(
            &self.spawn,
            &self.args(),
            format!("mcp login {}", self.name),
            None,
            self.timeout.unwrap_or(INTERACTIVE_LOGIN_TIMEOUT),
        )
        .await?;
        Ok(McpLoginHandle { run })
    }
}

/// A running `codex mcp login`. Dropping it kills the process group.
#[derive(Debug)]
pub struct McpLoginHandle {
    run: Running,
}

impl McpLoginHandle {
    /// The authorize URL to open, once Codex printed it; `None` if it ended first.
    pub async fn prompt(&mut self) -> Option<String> {
        match self.run.prompt().await {
            Some(LoginPrompt::Browser { url }) => Some(url),
            _ => None,
        }
    }

    /// Waits for the callback and the token exchange: Codex's last message, or
    /// [`Error::Login`].
    pub async fn wait(self) -> Result<LoginOutcome> {
        self.run.outcome().await
    }

    /// Interrupts Codex, then kills its group; reaped.
    pub async fn cancel(self) {
        self.run.cancel().await;
    }

    /// The process group id (Codex's pid).
    pub fn pgid(&self) -> Option<u32> {
        self.run.leader.pgid()
    }
}

/// Which login `codex login status` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CliLoginStatus {
    /// `Not logged in`.
    LoggedOut,
    /// An API key, as Codex masks it (`sk-test-***12345`).
    ApiKey {
        /// Codex's mask: first 8 characters, `***`, last 5 (compare with [`Secret::masked`]).
        masked: String,
    },
    /// `Logged in using ChatGPT`.
    ChatGpt,
    /// `Logged in using access token`.
    AccessToken,
    /// `Logged in using personal access token`.
    PersonalAccessToken,
    /// `Logged in using workload identity`.
    WorkloadIdentity,
    /// A status this library does not know (a newer Codex): its first line.
    Other(String),
}

/// Runs `codex login status` in `opts`'s home. "Not logged in" is [`CliLoginStatus::LoggedOut`];
/// a store that cannot be read is [`Error::Login`] (with the keyring problem, if any).
pub async fn login_status(opts: &SpawnOptions) -> Result<CliLoginStatus> {
    let args = short_args(opts, &["login", "status"], &[]);
    let done = run_short(opts, &args, "login status").await?;
    parse_status(done.status.success(), &done.stderr)
}

/// Runs `codex logout`: `true` when a login was removed, `false` when there was none.
pub async fn logout(opts: &SpawnOptions) -> Result<bool> {
    let args = short_args(opts, &["logout"], &[]);
    let done = run_short(opts, &args, "logout").await?;
    parse_logout(done.status.success(), &done.stderr)
}

/// Runs `codex mcp logout NAME`: `true` when OAuth credentials were removed, `false` when none
/// were stored.
pub async fn mcp_logout(opts: &SpawnOptions, name: &str) -> Result<bool> {
    let args = short_args(opts, &["mcp", "logout"], &["--", name]);
    let command = format!("mcp logout {name}");
    let done = run_short(opts, &args, &command).await?;
    parse_mcp_logout(&command, done.status.success(), &done.stdout, &done.stderr)
}

/// `head…`, the shared options, the other options, `tail…`.
fn short_args(opts: &SpawnOptions, head: &[&str], tail: &[&str]) -> Vec<OsString> {
    let mut a: Vec<OsString> = head.iter().map(OsString::from).collect();
    a.extend(opts.common_args());
    a.extend(opts.other_options.iter().cloned());
    a.extend(tail.iter().map(OsString::from));
    a
}

async fn run_short(opts: &SpawnOptions, args: &[OsString], command: &str) -> Result<Finished> {
    Running::start(opts, args, command.to_owned(), None, STATUS_TIMEOUT)
        .await?
        .finish()
        .await
}
