//! Optional automatic restart: a handle that respawns the app-server when it has died.

use super::builder::AppServer;
use super::client::AppServerClient;
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

/// Keeps an app-server alive: [`client`](Self::client) returns the running server, respawning
/// it (up to `max_restarts` times, with a growing delay) when the previous one exited or
/// crashed. Threads survive in `CODEX_HOME`: resume them by id on the new client; a turn that
/// was running when the server died is lost (its stream ended with an error).
pub struct Restarting {
    options: AppServer,
    current: Mutex<Option<AppServerClient>>,
    restarts: AtomicU32,
    max_restarts: u32,
    backoff: Duration,
}

impl std::fmt::Debug for Restarting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restarting")
            .field("restarts", &self.restarts.load(Ordering::Relaxed))
            .field("max_restarts", &self.max_restarts)
            .finish_non_exhaustive()
    }
}

impl Restarting {
    /// Starts the first server now.
    pub async fn start(options: AppServer, max_restarts: u32) -> Result<Self> {
        let first = options.clone().spawn().await?;
        Ok(Self {
            options,
            current: Mutex::new(Some(first)),
            restarts: AtomicU32::new(0),
            max_restarts,
            backoff: Duration::from_millis(200),
        })
    }

    /// The live client, respawning the server if it has closed.
    pub async fn client(&self) -> Result<AppServerClient> {
        let mut cur = self.current.lock().await;
        if let Some(c) = cur.as_ref()
            && c.closed().is_none()
        {
            return Ok(c.clone());
        }
        let n = self.restarts.load(Ordering::Relaxed);
        if n >= self.max_restarts {
            let reason = cur
                .as_ref()
                .and_then(AppServerClient::closed)
                .map(|c| c.reason)
                .unwrap_or_default();
            return Err(Error::AppServerClosed {
                method: "restart".into(),
                reason: format!("gave up after {n} restarts; last exit: {reason}"),
                stderr_tail: cur
                    .as_ref()
                    .map(AppServerClient::stderr_tail)
                    .unwrap_or_default(),
            });
        }
        tokio::time::sleep(self.backoff * (n + 1)).await;
        tracing::warn!(restart = n + 1, "app-server closed; restarting it");
        let fresh = self.options.clone().spawn().await?;
        self.restarts.store(n + 1, Ordering::Relaxed);
        *cur = Some(fresh.clone());
        Ok(fresh)
    }

    /// How many times the server was restarted.
    pub fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Stops the current server and disables restarts.
    pub async fn shutdown(self) -> Result<()> {
        if let Some(c) = self.current.lock().await.take() {
            c.shutdown().await?;
        }
        Ok(())
    }
}
