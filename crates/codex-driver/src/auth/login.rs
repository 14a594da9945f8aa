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

fn parse_status(success: bool, stderr: &[String]) -> Result<CliLoginStatus> {
    let lines: Vec<&str> = meaningful(stderr).collect();
    if lines.contains(&"Not logged in") {
        return Ok(CliLoginStatus::LoggedOut);
    }
    if !success {
        return Err(login_error("login status", stderr, &[], None));
    }
    let Some(first) = lines.first() else {
        return Ok(CliLoginStatus::Other(String::new()));
    };
    if let Some(masked) = first.strip_prefix("API key configured - ") {
        return Ok(CliLoginStatus::ApiKey {
            masked: masked.trim().to_owned(),
        });
    }
    Ok(match *first {
        "Logged in using ChatGPT" => CliLoginStatus::ChatGpt,
        "Logged in using access token" => CliLoginStatus::AccessToken,
        "Logged in using personal access token" => CliLoginStatus::PersonalAccessToken,
        "Logged in using workload identity" => CliLoginStatus::WorkloadIdentity,
        other => CliLoginStatus::Other(other.to_owned()),
    })
}

fn parse_logout(success: bool, stderr: &[String]) -> Result<bool> {
    let lines: Vec<&str> = meaningful(stderr).collect();
    match (success, lines.as_slice()) {
        (true, [.., "Successfully logged out"]) => Ok(true),
        (true, [.., "Not logged in"]) => Ok(false),
        _ => Err(login_error("logout", stderr, &[], None)),
    }
}

fn parse_mcp_logout(
    command: &str,
    success: bool,
    stdout: &[String],
    stderr: &[String],
) -> Result<bool> {
    if success {
        for line in meaningful(stdout) {
            if line.starts_with("Removed OAuth credentials") {
                return Ok(true);
            }
            if line.starts_with("No OAuth credentials stored") {
                return Ok(false);
            }
        }
    }
    Err(login_error(command, stderr, stdout, None))
}

/// Non-blank lines, trimmed, without Codex's start-up warnings.
fn meaningful(lines: &[String]) -> impl Iterator<Item = &str> {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with("WARNING:"))
}

/// What Codex said went wrong: from its last `Error…` line on (an anyhow `Caused by:` chain
/// joined with `: `), else its last meaningful line.
fn error_message(lines: &[String]) -> Option<String> {
    let kept: Vec<&str> = meaningful(lines).collect();
    let Some(start) = kept.iter().rposition(|l| l.starts_with("Error")) else {
        return kept.last().map(|l| (*l).to_owned());
    };
    let mut parts: Vec<&str> = Vec::new();
    for line in &kept[start..] {
        if line.starts_with("Stack backtrace") || line.starts_with("Backtrace") {
            break;
        }
        // anyhow's `Caused by:` header, alone or with a single cause on the same line.
        let line = line.strip_prefix("Caused by:").map_or(*line, str::trim);
        if line.is_empty() {
            continue;
        }
        // `0: cause` in a numbered chain.
        let cause = match line.split_once(": ") {
            Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => line,
        };
        parts.push(cause);
    }
    Some(parts.join(": "))
}

/// Whether a message is about the OS keyring (then [`classify`] says what is wrong with it).
fn about_keyring(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "keyring",
        "secret service",
        "secure storage",
        "org.freedesktop.secrets",
        "dbus",
    ]
    .iter()
    .any(|w| m.contains(w))
}

fn login_error(
    command: &str,
    stderr: &[String],
    stdout: &[String],
    status: Option<ExitStatus>,
) -> Error {
    let message = error_message(stderr)
        .or_else(|| error_message(stdout))
        .unwrap_or_else(|| match status.and_then(|s| s.code()) {
            Some(code) => format!("exited with status {code} and said nothing"),
            None => "killed by a signal before saying anything".to_owned(),
        });
    let store: Option<KeyringProblem> = about_keyring(&message).then(|| classify(&message));
    Error::Login {
        command: command.to_owned(),
        message,
        store,
    }
}

/// Removes terminal escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL|ESC \`, and
/// two-character `ESC x`): Codex colours its device-code instructions even when piped.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// What the next non-blank line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    DeviceUrl,
    DeviceCode,
    Url,
}

/// Finds the prompt in one stream, line by line (ANSI already stripped).
#[derive(Debug, Default)]
struct PromptParser {
    expect: Option<Expect>,
    device_url: Option<String>,
    device_code: Option<String>,
}

impl PromptParser {
    fn feed(&mut self, line: &str) -> Option<LoginPrompt> {
        let t = line.trim();
        if let Some(expect) = self.expect {
            if t.is_empty() {
                return None;
            }
            self.expect = None;
            match expect {
                Expect::DeviceUrl => self.device_url = Some(t.to_owned()),
                Expect::DeviceCode => self.device_code = Some(t.to_owned()),
                Expect::Url if t.starts_with("http://") || t.starts_with("https://") => {
                    return Some(LoginPrompt::Browser { url: t.to_owned() });
                }
                Expect::Url => {}
            }
            if let (Some(url), Some(code)) = (&self.device_url, &self.device_code) {
                return Some(LoginPrompt::DeviceCode {
                    url: url.clone(),
                    code: code.clone(),
                });
            }
            return None;
        }
        self.expect = if t.contains("Open this link in your browser") {
            Some(Expect::DeviceUrl)
        } else if t.contains("Enter this one-time code") {
            Some(Expect::DeviceCode)
        } else if t.ends_with("navigate to this URL to authenticate:")
            || (t.starts_with("Authorize ") && t.ends_with("by opening this URL in your browser:"))
        {
            Some(Expect::Url)
        } else {
            None
        };
        None
    }
}

#[derive(Debug, Clone, Copy)]
enum Stream {
    Out,
    Err,
}

/// What the readers saw so far.
#[derive(Debug, Default)]
struct Seen {
    prompt: Option<LoginPrompt>,
    /// Output streams not at EOF yet.
    open: u8,
    stdout: VecDeque<String>,
    stderr: VecDeque<String>,
}

impl Seen {
    fn push(&mut self, stream: Stream, line: String) {
        let buf = match stream {
            Stream::Out => &mut self.stdout,
            Stream::Err => &mut self.stderr,
        };
        if buf.len() == LINES_KEPT {
            buf.pop_front();
        }
        buf.push_back(line);
    }
}

/// A finished child: its status and the (masked, ANSI-free) lines it printed.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

/// One login-family child: its own group, both outputs read concurrently into bounded buffers.
struct Running {
    leader: Leader,
    command: String,
    seen: watch::Receiver<Seen>,
    readers: Vec<JoinHandle<()>>,
    deadline: Instant,
    limit: Duration,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("command", &self.command)
            .field("pgid", &self.leader.pgid())
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Running {
    async fn start(
        opts: &SpawnOptions,
        args: &[OsString],
        command: String,
        secret: Option<Secret>,
        limit: Duration,
    ) -> Result<Self> {
        opts.check()?;
        let binary = opts.resolve_binary()?;
        let mut cmd = opts.command(&binary, args);
        if secret.is_none() {
            cmd.stdin(Stdio::null());
        }
        // Unset (not kept, not set by the caller): say so explicitly, so no backtrace frames
        // crowd Codex's error line.
        if !opts
            .env
            .resolve(std::env::vars_os())
            .contains_key(std::ffi::OsStr::new("RUST_BACKTRACE"))
        {
            cmd.env("RUST_BACKTRACE", "0");
        }
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            path: binary.path().to_path_buf(),
            source,
        })?;
        let mut leader = Leader::new(child);
        let deadline = Instant::now() + limit;
        let (tx, seen) = watch::channel(Seen {
            open: 2,
            ..Seen::default()
        });
        let tx = Arc::new(tx);
        let mut readers = Vec::new();
        let stdout = leader.child_mut().stdout.take();
        let stderr = leader.child_mut().stderr.take();
        match stdout {
            Some(r) => readers.push(tokio::spawn(read_stream(
                r,
                Stream::Out,
                tx.clone(),
                secret.clone(),
            ))),
            None => tx.send_modify(|s| s.open -= 1),
        }
        match stderr {
            Some(r) => readers.push(tokio::spawn(read_stream(
                r,
                Stream::Err,
                tx.clone(),
                secret.clone(),
            ))),
            None => tx.send_modify(|s| s.open -= 1),
        }
        if let Some(mut stdin) = leader.child_mut().stdin.take() {
            if let Some(secret) = &secret {
                // A child that exits early closes the pipe: its exit status tells why. One that
                // never reads is bounded by the deadline (and then killed by `wait`).
                let write = async {
                    stdin.write_all(secret.expose().as_bytes()).await?;
                    stdin.shutdown().await
                };
                let _ = tokio::time::timeout_at(deadline, write).await;
            }
            drop(stdin);
        }
        Ok(Self {
            leader,
            command,
            seen,
            readers,
            deadline,
            limit,
        })
    }

    async fn prompt(&mut self) -> Option<LoginPrompt> {
        // Ends at the deadline or when the readers are gone; either way the prompt, if seen.
        let _ = tokio::time::timeout_at(
            self.deadline,
            self.seen.wait_for(|s| s.prompt.is_some() || s.open == 0),
        )
        .await;
        self.seen.borrow().prompt.clone()
    }

    /// Waits for the exit (up to the deadline), kills the group, reaps, collects the output.
    async fn finish(mut self) -> Result<Finished> {
        let exited = tokio::time::timeout_at(self.deadline, self.leader.exited())
            .await
            .is_ok();
        if !exited {
            self.leader.signal(Signal::SIGKILL);
        }
        let status = self.leader.reap().await;
        for r in std::mem::take(&mut self.readers) {
            let abort = r.abort_handle();
            if tokio::time::timeout(READER_GRACE, r).await.is_err() {
                abort.abort();
            }
        }
        let (stdout, stderr) = {
            let s = self.seen.borrow();
            (
                s.stdout.iter().cloned().collect::<Vec<_>>(),
                s.stderr.iter().cloned().collect::<Vec<_>>(),
            )
        };
        if !exited {
            return Err(Error::Timeout {
                kind: TimeoutKind::Overall,
                after: self.limit,
                stderr_tail: stderr.join("\n"),
            });
        }
        let status = status.ok_or_else(|| {
            Error::io(
                format!("reaping `codex {}`", self.command),
                std::io::Error::other("the exit status could not be read"),
            )
        })?;
        Ok(Finished {
            status,
            stdout,
            stderr,
        })
    }

    async fn outcome(self) -> Result<LoginOutcome> {
        let command = self.command.clone();
        let done = self.finish().await?;
        if done.status.success() {
            let message = meaningful(&done.stderr)
                .last()
                .or_else(|| meaningful(&done.stdout).last())
                .unwrap_or_default()
                .to_owned();
            return Ok(LoginOutcome { message });
        }
        Err(login_error(
            &command,
            &done.stderr,
            &done.stdout,
            Some(done.status),
        ))
    }

    async fn cancel(mut self) {
        if !self.leader.has_exited() {
            self.leader.signal(Signal::SIGINT);
            if tokio::time::timeout(CANCEL_GRACE, self.leader.exited())
                .await
                .is_err()
            {
                self.leader.signal(Signal::SIGKILL);
            }
        }
        // Kills whatever is left of the group, then reaps the leader.
        self.leader.reap().await;
    }
}

/// Reads one output stream into `tx`, ANSI stripped and `secret` masked, looking for the
/// prompt.
async fn read_stream<R: AsyncRead + Unpin>(
    reader: R,
    stream: Stream,
    tx: Arc<watch::Sender<Seen>>,
    secret: Option<Secret>,
) {
    let mut lines = LineReader::new(BufReader::new(reader), LINE_LIMIT);
    let mut parser = PromptParser::default();
    loop {
        match lines.next_line().await {
            Ok(ReadLine::Line) => {
                let raw = String::from_utf8_lossy(lines.line());
                let mut text = strip_ansi(raw.trim_end_matches('\r'));
                if let Some(s) = secret.as_ref().filter(|s| !s.is_blank())
                    && text.contains(s.expose())
                {
                    text = text.replace(s.expose(), &s.masked());
                }
                let found = parser.feed(&text);
                tx.send_modify(|s| {
                    s.push(stream, text);
                    if s.prompt.is_none() {
                        s.prompt = found;
                    }
                });
            }
            Ok(ReadLine::TooLong(_)) => {}
            Ok(ReadLine::Eof) | Err(_) => break,
        }
    }
    tx.send_modify(|s| s.open = s.open.saturating_sub(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_owned).collect()
    }

    fn strs(a: Vec<OsString>) -> Vec<String> {
        a.into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn login_args_never_hold_the_secret() {
        let key = Secret::new("sk-canary-0123456789abcdef");
        let l = Login::api_key(key)
            .config("cli_auth_credentials_store", "file")
            .enable("x");
        let a = strs(l.args());
        assert_eq!(
            a,
            [
                "login",
                "-c",
                "cli_auth_credentials_store=\"file\"",
                "--enable",
                "x",
                "--with-api-key"
            ]
        );
        assert!(!format!("{a:?} {l:?}").contains("canary"));
        assert_eq!(
            strs(Login::access_token(Secret::new("t")).args()),
            ["login", "--with-access-token"]
        );
        assert_eq!(strs(Login::browser().args()), ["login"]);
        assert_eq!(
            strs(
                Login::device_code()
                    .issuer("http://127.0.0.1:9")
                    .client_id("app_x")
                    .other_option("--new-flag")
                    .args()
            ),
            [
                "login",
                "--device-auth",
                "--experimental_issuer",
                "http://127.0.0.1:9",
                "--experimental_client-id",
                "app_x",
                "--new-flag"
            ]
        );
    }

    #[test]
    fn mcp_login_args() {
        assert_eq!(
            strs(McpLogin::new("docs").args()),
            ["mcp", "login", "--", "docs"]
        );
        assert_eq!(
            strs(
                McpLogin::new("docs")
                    .scopes(["read", "write"])
                    .config("mcp_oauth_credentials_store", "file")
                    .args()
            ),
            [
                "mcp",
                "login",
                "-c",
                "mcp_oauth_credentials_store=\"file\"",
                "--scopes",
                "read,write",
                "--",
                "docs"
            ]
        );
        let o = SpawnOptions::new().config("a", 1);
        assert_eq!(
            strs(short_args(&o, &["mcp", "logout"], &["--", "docs"])),
            ["mcp", "logout", "-c", "a=1", "--", "docs"]
        );
        assert_eq!(
            strs(short_args(&o, &["login", "status"], &[])),
            ["login", "status", "-c", "a=1"]
        );
    }

    /// Device-auth stdout of 0.169.0, piped with `NO_COLOR=1` (coloured anyway), byte for byte
    /// but for the issuer.
    const DEVICE_STDOUT: &str = "\nWelcome to Codex [v\x1b[90m0.169.0\x1b[0m]\n\x1b[90mOpenAI's command-line coding agent\x1b[0m\n\nFollow these steps to sign in with ChatGPT using device code authorization:\n\n1. Open this link in your browser and sign in to your account\n   \x1b[94mhttps://auth.openai.com/codex/device\x1b[0m\n\n2. Enter this one-time code \x1b[90m(expires in 15 minutes)\x1b[0m\n   \x1b[94mABCD-EFGH\x1b[0m\n\n\x1b[90mContinue only if you started this login in Codex. If a website or another person gave you this code, cancel.\x1b[0m\n\n";

    fn parse(text: &str) -> Option<LoginPrompt> {
        let mut p = PromptParser::default();
        text.lines().map(strip_ansi).find_map(|l| p.feed(&l))
    }

    #[test]
    fn the_device_prompt_is_parsed_from_coloured_stdout() {
        assert_eq!(
            strip_ansi("   \x1b[94mABCD-EFGH\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x1b\\"),
            "   ABCD-EFGH link"
        );
        assert_eq!(
            parse(DEVICE_STDOUT),
            Some(LoginPrompt::DeviceCode {
                url: "https://auth.openai.com/codex/device".into(),
                code: "ABCD-EFGH".into()
            })
        );
    }

    #[test]
    fn the_browser_and_mcp_prompts_are_parsed() {
        let url = "https://auth.openai.com/oauth/authorize?response_type=code&client_id=app_EMoamEEZ73f0CkXaXp7hrann&redirect_uri=http%3A%2F%2F127.0.0.1%3A1455%2Fauth%2Fcallback&code_challenge=x&code_challenge_method=S256&state=y&originator=codex_cli_rs";
        let stderr = format!(
            "WARNING: proceeding, even though we could not create PATH aliases\nStarting local login server on http://localhost:1455.\nIf your browser did not open, navigate to this URL to authenticate:\n\n{url}\n\nOn a remote or headless machine? Use `codex login --device-auth` instead.\n"
        );
        assert_eq!(
            parse(&stderr),
            Some(LoginPrompt::Browser { url: url.into() })
        );
        let mcp = "Authorize `docs` by opening this URL in your browser:\nhttp://127.0.0.1:4444/authorize?response_type=code&client_id=c\n\n";
        assert_eq!(
            parse(mcp),
            Some(LoginPrompt::Browser {
                url: "http://127.0.0.1:4444/authorize?response_type=code&client_id=c".into()
            })
        );
        let no_browser = "Authorize the MCP server by opening this URL in your browser:\nhttps://mcp.example/authorize?x=1\n\nAfter signing in, copy the full URL from your browser's address bar.\n";
        assert_eq!(
            parse(no_browser),
            Some(LoginPrompt::Browser {
                url: "https://mcp.example/authorize?x=1".into()
            })
        );
        assert_eq!(
            parse("Reading API key from stdin...\nAPI key saved.\n"),
            None
        );
    }

    #[test]
    fn status_texts() {
        let st = |ok, s: &str| parse_status(ok, &lines(s));
        assert_eq!(
            st(
                true,
                "API key configured - sk-test-***12345\nAuthentication is checked when you send a request.\n"
            )
            .unwrap(),
            CliLoginStatus::ApiKey {
                masked: "sk-test-***12345".into()
            }
        );
        assert_eq!(
            st(true, "Logged in using ChatGPT\n").unwrap(),
            CliLoginStatus::ChatGpt
        );
        assert_eq!(
            st(true, "Logged in using access token\n").unwrap(),
            CliLoginStatus::AccessToken
        );
        assert_eq!(
            st(true, "Logged in using personal access token\n").unwrap(),
            CliLoginStatus::PersonalAccessToken
        );
        assert_eq!(
            st(true, "Logged in using workload identity\n").unwrap(),
            CliLoginStatus::WorkloadIdentity
        );
        assert_eq!(
            st(true, "WARNING: x\nLogged in somehow new\n").unwrap(),
            CliLoginStatus::Other("Logged in somehow new".into())
        );
        assert_eq!(
            st(false, "WARNING: proceeding\nNot logged in\n").unwrap(),
            CliLoginStatus::LoggedOut
        );
        match st(
            false,
            "Error checking login status: Platform secure storage failure: no secret service provider or dbus session found\n",
        ) {
            Err(Error::Login {
                command,
                message,
                store,
            }) => {
                assert_eq!(command, "login status");
                assert!(message.starts_with("Error checking login status: Platform"));
                assert_eq!(store, Some(KeyringProblem::NoSecretService));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn logout_texts() {
        assert!(parse_logout(true, &lines("Successfully logged out\n")).unwrap());
        assert!(!parse_logout(true, &lines("Not logged in\n")).unwrap());
        match parse_logout(
            false,
            &lines(
                "Error logging out: Couldn't access platform secure storage: SS error: prompt dismissed\n",
            ),
        ) {
            Err(Error::Login { store, .. }) => assert_eq!(store, Some(KeyringProblem::Locked)),
            other => panic!("{other:?}"),
        }
        let c = "mcp logout docs";
        assert!(
            parse_mcp_logout(
                c,
                true,
                &lines("Removed OAuth credentials for 'docs'.\n"),
                &[]
            )
            .unwrap()
        );
        assert!(
            !parse_mcp_logout(
                c,
                true,
                &lines("No OAuth credentials stored for 'docs'.\n"),
                &[]
            )
            .unwrap()
        );
        match parse_mcp_logout(
            c,
            false,
            &[],
            &lines(
                "Error: failed to delete OAuth credentials: failed to delete OAuth tokens from keyring\n",
            ),
        ) {
            Err(Error::Login {
                command,
                message,
                store,
            }) => {
                assert_eq!(command, c);
                assert_eq!(
                    message,
                    "Error: failed to delete OAuth credentials: failed to delete OAuth tokens from keyring"
                );
                assert_eq!(store, Some(KeyringProblem::Other));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_lines_follow_codex_and_its_cause_chain() {
        let e = login_error(
            "login --with-api-key",
            &lines("Reading API key from stdin...\nNo API key provided via stdin.\n"),
            &[],
            None,
        );
        match e {
            Error::Login { message, store, .. } => {
                assert_eq!(message, "No API key provided via stdin.");
                assert_eq!(store, None);
            }
            other => panic!("{other:?}"),
        }
        let chain = "Error: failed to write OAuth tokens to keyring\n\nCaused by:\n    0: Platform secure storage failure: zbus error: org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files\n    1: zbus error\n";
        match login_error("mcp login docs", &lines(chain), &[], None) {
            Error::Login { message, store, .. } => {
                assert!(
                    message.starts_with(
                        "Error: failed to write OAuth tokens to keyring: Platform secure storage failure: zbus"
                    ),
                    "{message}"
                );
                assert!(message.ends_with(": zbus error"), "{message}");
                assert_eq!(store, Some(KeyringProblem::NoSecretService));
            }
            other => panic!("{other:?}"),
        }
        let single = "Error: Metadata error: OAuth metadata discovery failed for http://127.0.0.1:9/mcp\n  Caused by: HTTP request failed: error sending request\n";
        match login_error("mcp login docs", &lines(single), &[], None) {
            Error::Login { message, store, .. } => {
                assert_eq!(
                    message,
                    "Error: Metadata error: OAuth metadata discovery failed for http://127.0.0.1:9/mcp: HTTP request failed: error sending request"
                );
                assert_eq!(store, None);
            }
            other => panic!("{other:?}"),
        }
        match login_error("login", &[], &[], None) {
            Error::Login { message, .. } => assert!(message.contains("signal"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_device_auth_network_failure_is_not_a_store_problem() {
        let err = "WARNING: proceeding, even though we could not create PATH aliases\nError logging in: error sending request for url (http://127.0.0.1:9/api/accounts/deviceauth/usercode)\n";
        match login_error("login --device-auth", &lines(err), &[], None) {
            Error::Login { message, store, .. } => {
                assert!(message.starts_with("Error logging in: error sending request"));
                assert_eq!(store, None);
            }
            other => panic!("{other:?}"),
        }
    }
}
