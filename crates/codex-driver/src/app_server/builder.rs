//! [`AppServer`]: the options of a spawned `codex app-server` (stdio), and spawning it.

use super::approvals::{ApprovalHandler, Approvals, DenyAll};
use super::client::AppServerClient;
use super::protocol as p;
use super::rpc::{Closed, Rpc};
use crate::error::{Error, Result};
use crate::process::{Leader, ReapGate, StderrTail};
use crate::spawn::{SpawnOptions, spawn_setters};
use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::BufReader;
use tokio_util::sync::CancellationToken;

/// Options for spawning `codex app-server` (stdio).
#[derive(Clone)]
#[must_use]
pub struct AppServer {
    spawn: SpawnOptions,
    client_name: String,
    client_version: String,
    experimental_api: bool,
    handler: Arc<dyn ApprovalHandler>,
    approval_timeout: Duration,
    request_timeout: Duration,
    buffer: usize,
    grace: Duration,
}

impl std::fmt::Debug for AppServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppServer")
            .field("binary", &self.spawn.binary)
            .field("client_name", &self.client_name)
            .finish_non_exhaustive()
    }
}

impl Default for AppServer {
    fn default() -> Self {
        Self::new()
    }
}

impl AppServer {
    /// Defaults: binary from [`Binary::resolve`](crate::Binary::resolve), approvals denied, approval timeout 5 minutes,
    /// request timeout 60 s, 1024 buffered notifications per subscriber.
    pub fn new() -> Self {
        Self {
            spawn: SpawnOptions::new(),
            client_name: "codex_driver".into(),
            client_version: env!("CARGO_PKG_VERSION").into(),
            experimental_api: false,
            handler: Arc::new(DenyAll),
            approval_timeout: Duration::from_secs(300),
            request_timeout: Duration::from_secs(60),
            buffer: 1024,
            grace: Duration::from_secs(3),
        }
    }

    spawn_setters!();

    /// `clientInfo` sent in `initialize` (also the `client` of notify payloads).
    pub fn client_info(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.client_name = name.into();
        self.client_version = version.into();
        self
    }

    /// Opt in to experimental API methods (`capabilities.experimentalApi`).
    pub fn experimental_api(mut self, yes: bool) -> Self {
        self.experimental_api = yes;
        self
    }

    /// Who answers approval requests (default: [`DenyAll`]).
    pub fn approval_handler(mut self, h: Arc<dyn ApprovalHandler>) -> Self {
        self.handler = h;
        self
    }

    /// How long a handler may take before the request is declined (default 5 minutes).
    pub fn approval_timeout(mut self, d: Duration) -> Self {
        self.approval_timeout = d;
        self
    }

    /// Default timeout of each request (default 60 s).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Notifications buffered per subscriber before the reader waits (default 1024).
    pub fn notification_buffer(mut self, n: usize) -> Self {
        self.buffer = n;
        self
    }

    /// Time between closing stdin / SIGTERM and SIGKILL on shutdown (default 3 s).
    pub fn kill_grace(mut self, d: Duration) -> Self {
        self.grace = d;
        self
    }

    pub(crate) fn options(&self) -> ClientOptions {
        ClientOptions {
            handler: self.handler.clone(),
            approval_timeout: self.approval_timeout,
            request_timeout: self.request_timeout,
            buffer: self.buffer,
            initialize: p::InitializeParams {
                client_info: p::ClientInfo {
                    name: self.client_name.clone(),
                    version: self.client_version.clone(),
                    ..Default::default()
                },
                capabilities: self.experimental_api.then(|| p::InitializeCapabilities {
                    experimental_api: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }

    /// The argv after the binary: `app-server`, the shared options (`-c`, `--enable`,
    /// `--disable`), then the [`other_options`](Self::other_options).
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["app-server".into()];
        a.extend(self.spawn.common_args());
        a.extend(self.spawn.other_options.iter().cloned());
        a
    }

    /// Spawns the server and performs the `initialize`/`initialized` handshake.
    pub async fn spawn(self) -> Result<AppServerClient> {
        let binary = self.spawn.binary_or_install().await?;
        self.spawn.admit(&binary).await?;
        self.spawn.check()?;
        let mut cmd = self.spawn.turn_command(&binary, &self.args());
        let (mut child, tag) =
            crate::process::spawn_tagged(&mut cmd).map_err(|source| Error::Spawn {
                path: binary.path().to_path_buf(),
                source,
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Error::InvalidOptions(
                "failed to capture the app-server's stdio".into(),
            ));
        };
        let tail = StderrTail::new(64 * 1024);
        if let Some(e) = child.stderr.take() {
            tokio::spawn(tail.clone().drain(e));
        }
        // The same options every transport reads (see `remote`).
        let options = self.options();
        let rpc = Rpc::start(
            BufReader::with_capacity(64 * 1024, stdout),
            stdin,
            Approvals::new(options.handler.clone(), options.approval_timeout),
            options.request_timeout,
            options.buffer,
            Some(tail.clone()),
        );
        let on_exit = {
            let (rpc, tail) = (rpc.clone(), tail.clone());
            move |reason: String| {
                rpc.mark_exited(Closed {
                    reason,
                    stderr_tail: tail.text(),
                })
            }
        };
        let guard = supervise(child, Some(tag), self.grace, on_exit);
        // Should the handshake fail, dropping the guard stops the server.
        match AppServerClient::connect(rpc, &options, Some(guard), Some(binary)).await {
            // Codex refused its configuration (a feature, a key, a flag) and exited: say that,
            // as `exec` does, rather than "closed".
            Err(Error::AppServerClosed { stderr_tail, .. })
                if crate::exec::config_error(&stderr_tail).is_some() =>
            {
                Err(Error::Config {
                    message: crate::exec::config_error(&stderr_tail).unwrap_or_default(),
                    stderr_tail,
                })
            }
            other => other,
        }
    }
}

/// Client-side options shared by every transport.
pub(crate) struct ClientOptions {
    pub(crate) handler: Arc<dyn ApprovalHandler>,
    pub(crate) approval_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) buffer: usize,
    /// What the handshake sends.
    pub(crate) initialize: p::InitializeParams,
}

fn describe_exit(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("the app-server exited with status {c}"),
        (None, Some(sig)) => format!("the app-server was killed by signal {sig}"),
        _ => format!("the app-server exited: {s}"),
    }
}

/// Owns a spawned server in its own process group: a task that reaps it (killing the group
/// first, never after the id could be recycled) and tells `on_exit` why it ended; the returned
/// guard stops it, gracefully within `grace`, when dropped. Shared by the app-server and the
/// legacy `mcp-server` client.
pub(crate) fn supervise(
    child: tokio::process::Child,
    tag: Option<crate::process::RunTag>,
    grace: Duration,
    on_exit: impl FnOnce(String) + Send + 'static,
) -> Arc<ProcessGuard> {
    let pgid = child.id().unwrap_or(0);
    let kill = CancellationToken::new();
    let done = Arc::new(ReapGate::default());
    {
        let (kill, done) = (kill.clone(), done.clone());
        tokio::spawn(async move {
            // The group is killed before the leader is reaped (never a recycled id), and
            // `done` is closed just before reaping so that `ProcessGuard` stops signalling.
            let mut leader = Leader::new(child).reap_gate(done.clone()).tagged(tag);
            // If the runtime drops this task before it reaps (runtime shutdown), the group
            // must not outlive it (dropped before `leader`, so while the id is ours).
            let mut reap_guard = crate::process::GroupKillGuard(Some(pgid));
            let status = tokio::select! {
                () = leader.exited() => leader.reap().await,
                _ = kill.cancelled() => leader.terminate(grace).await,
            };
            reap_guard.disarm();
            // Let the stderr drain catch the last lines.
            tokio::time::sleep(Duration::from_millis(50)).await;
            on_exit(match status {
                Some(s) => describe_exit(s),
                None => "exited (status unknown)".into(),
            });
        });
    }
    Arc::new(ProcessGuard {
        pgid,
        done,
        kill,
        grace,
    })
}

/// Stops the server when the last [`AppServerClient`] clone goes away.
pub(crate) struct ProcessGuard {
    pub(crate) pgid: u32,
    done: Arc<ReapGate>,
    pub(crate) kill: CancellationToken,
    pub(crate) grace: Duration,
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        if !self.done.is_closed() {
            // Start the graceful stop now (the watcher may never run again if the runtime is
            // shutting down; its guard then SIGKILLs the group), and let the watcher escalate.
            // Signals go through the gate: never after the server was reaped.
            self.done
                .signal(self.pgid, nix::sys::signal::Signal::SIGTERM);
            self.kill.cancel();
            if tokio::runtime::Handle::try_current().is_err() {
                self.done
                    .signal(self.pgid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn argv() {
        let s = AppServer::new().config("model", "o3").enable("web_search");
        assert_eq!(
            s.args(),
            ["app-server", "-c", "model=\"o3\"", "--enable", "web_search"]
        );
        assert_eq!(AppServer::new().args(), ["app-server"]);
        let s = AppServer::new()
            .enable("x")
            .other_option("--new-flag")
            .other_options(["--level", "3"]);
        assert_eq!(
            s.args(),
            ["app-server", "--enable", "x", "--new-flag", "--level", "3"]
        );
    }

    #[test]
    fn the_handshake_sends_client_info_and_opt_ins() -> serde_json::Result<()> {
        let plain = serde_json::to_value(
            AppServer::new()
                .client_info("bot", "1.2")
                .options()
                .initialize,
        )?;
        assert_eq!(
            plain,
            json!({"clientInfo": {"name": "bot", "version": "1.2"}})
        );
        let experimental =
            serde_json::to_value(AppServer::new().experimental_api(true).options().initialize)?;
        assert_eq!(
            experimental,
            json!({
                "clientInfo": {"name": "codex_driver", "version": env!("CARGO_PKG_VERSION")},
                "capabilities": {"experimentalApi": true},
            })
        );
        Ok(())
    }
}
