//! [`Fleet`]: several app-servers on one machine, with threads spread over them.
//!
//! One `codex app-server` runs every thread's turn in one process; with many turns at once it
//! becomes the bottleneck well before the machine does (see BENCHMARKS.md: 32 concurrent turns
//! on one server finish no faster than 32 in a row). A fleet runs `size` servers from one
//! [`AppServer`] configuration and opens each new thread on the server with the fewest live
//! threads, so concurrent turns spread over processes and cores. The price is memory: each
//! server is a Codex process of its own (~30–40 MiB resident when idle, ~100 MiB once it has
//! run threads). Where Codex's own CPU per thread is the limit (a machine with few cores),
//! [`Fleet::for_throughput`] also turns off the per-thread work that changes nothing the model
//! sees (see [`AppServer::for_throughput`]).

use super::builder::AppServer;
use super::client::AppServerClient;
use super::protocol::{ThreadResumeParams, ThreadStartParams};
use super::thread::Thread;
use crate::error::Result;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Several app-servers of one configuration; threads open on the least busy one.
///
/// ```no_run
/// # async fn demo() -> codex_driver::Result<()> {
/// use codex_driver::app_server::{AppServer, Fleet};
/// use codex_driver::app_server::protocol::ThreadStartParams;
///
/// let fleet = Fleet::for_throughput(AppServer::new()).await?;
/// let runs = (0..32).map(|i| {
///     let fleet = &fleet;
///     async move {
///         let mut thread = fleet.start_thread(ThreadStartParams::default()).await?;
///         thread.run(format!("task {i}").as_str()).await
///     }
/// });
/// for outcome in futures_util::future::join_all(runs).await {
///     println!("{:?}", outcome?.final_message);
/// }
/// fleet.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Fleet {
    members: Vec<Member>,
}

#[derive(Debug)]
struct Member {
    client: AppServerClient,
    /// Threads opened on this server and not yet dropped.
    live: Arc<AtomicUsize>,
}

/// A thread's place on its server; gives it back when the thread is dropped.
#[derive(Debug)]
pub(crate) struct Lease(Arc<AtomicUsize>);

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Fleet {
    /// Starts `size` servers (at least one) from `server`: the first alone, then the rest at
    /// once. The first creates `CODEX_HOME`'s state databases; two servers doing that together
    /// in a fresh home make one of them fail on 0.153 and 0.163 ("failed to initialize sqlite
    /// state runtime"). When one fails to start, the others are shut down and its error returned.
    pub async fn spawn(server: AppServer, size: usize) -> Result<Self> {
        let first = server.clone().spawn().await?;
        let starts: Vec<_> = (1..size.max(1))
            .map(|_| tokio::spawn(server.clone().spawn()))
            .collect();
        let mut members = vec![Member {
            client: first,
            live: Arc::default(),
        }];
        let mut failure = None;
        for start in starts {
            match start.await.unwrap_or_else(|e| Err(joined(e))) {
                Ok(client) => members.push(Member {
                    client,
                    live: Arc::default(),
                }),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            for m in members {
                let _ = m.client.shutdown().await;
            }
            return Err(e);
        }
        Ok(Self { members })
    }

    /// The library's answer for many concurrent turns on one machine: [`recommended_size`]
    /// servers from `server` tuned with [`AppServer::for_throughput`] (no shell snapshot or
    /// shadow skill ranking per thread). On the 2-core machine of BENCHMARKS.md this ran 32
    /// concurrent new-thread turns at 1.7–1.8x the Python SDK's one-server throughput, in
    /// 0.6–0.7x its memory; the tuning alone gave the Python SDK 1.35–1.4x.
    ///
    /// [`recommended_size`]: Self::recommended_size
    pub async fn for_throughput(server: AppServer) -> Result<Self> {
        Self::spawn(server.for_throughput(), Self::recommended_size()).await
    }

    /// The size that gave the most turns per second in our measurements: one server per CPU
    /// core (a server's turns share one process; more servers than cores only add memory).
    pub fn recommended_size() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }

    /// The number of servers.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always false: a fleet has at least one server.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The servers' clients (for requests that are not about a thread: models, config, ...).
    pub fn clients(&self) -> impl Iterator<Item = &AppServerClient> {
        self.members.iter().map(|m| &m.client)
    }

    /// Live threads opened through the fleet, per server.
    pub fn load(&self) -> Vec<usize> {
        self.members
            .iter()
            .map(|m| m.live.load(Ordering::Relaxed))
            .collect()
    }

    /// The member with the fewest live threads (the first of equals), with its place taken.
    fn pick(&self) -> Option<(&Member, Lease)> {
        let m = self
            .members
            .iter()
            .min_by_key(|m| m.live.load(Ordering::Relaxed))?;
        m.live.fetch_add(1, Ordering::Relaxed);
        Some((m, Lease(m.live.clone())))
    }

    /// `thread/start` on the least busy server.
    pub async fn start_thread(&self, params: ThreadStartParams) -> Result<Thread> {
        let (m, lease) = self.pick().ok_or_else(empty)?;
        Ok(m.client.start_thread(params).await?.leased(lease))
    }

    /// `thread/resume` of a saved thread on the least busy server (all servers share the
    /// configuration, so any of them can continue any thread of its `CODEX_HOME`).
    pub async fn resume_thread(&self, id: &str) -> Result<Thread> {
        let (m, lease) = self.pick().ok_or_else(empty)?;
        Ok(m.client.resume_thread(id).await?.leased(lease))
    }

    /// `thread/resume` with parameters, on the least busy server.
    pub async fn resume_thread_with(&self, params: ThreadResumeParams) -> Result<Thread> {
        let (m, lease) = self.pick().ok_or_else(empty)?;
        Ok(m.client.resume_thread_with(params).await?.leased(lease))
    }

    /// Shuts every server down (all at once); the first error, if any.
    pub async fn shutdown(self) -> Result<()> {
        let stops: Vec<_> = self
            .members
            .into_iter()
            .map(|m| tokio::spawn(m.client.shutdown()))
            .collect();
        let mut first = Ok(());
        for stop in stops {
            if let Err(e) = stop.await.unwrap_or_else(|e| Err(joined(e)))
                && first.is_ok()
            {
                first = Err(e);
            }
        }
        first
    }
}

fn empty() -> crate::Error {
    crate::Error::InvalidOptions("a fleet with no server".into())
}

/// A start or shutdown task that panicked or was cancelled (the runtime shutting down).
fn joined(e: tokio::task::JoinError) -> crate::Error {
    crate::Error::InvalidOptions(format!("a fleet server task ended abnormally: {e}"))
}
