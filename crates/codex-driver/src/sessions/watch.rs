//! New and changed sessions as a `Stream`.
//!
//! A background task compares, every interval, each thread's change marker (its updated time
//! and archived flag, from the database or the files' modification times) with the previous
//! round's, and sends what changed through a bounded channel. Dropping the stream stops it.

use super::{SessionIndex, SessionInfo};
use crate::error::Result;
use futures_core::Stream;
use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often a [`SessionWatch`] looks by default.
pub(super) const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);

/// What happened to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionChange {
    /// A thread that was not there before.
    Added(SessionInfo),
    /// A thread that changed (a turn ran, it was renamed, ...).
    Updated(SessionInfo),
    /// A thread was archived.
    Archived(SessionInfo),
    /// A thread was unarchived.
    Unarchived(SessionInfo),
    /// A thread was deleted (its id).
    Removed(String),
}

impl SessionChange {
    /// The thread's id.
    pub fn thread_id(&self) -> &str {
        match self {
            Self::Added(s) | Self::Updated(s) | Self::Archived(s) | Self::Unarchived(s) => {
                &s.thread_id
            }
            Self::Removed(id) => id,
        }
    }
}

/// The stream of [`SessionChange`]s of a home; see [`SessionIndex::watch`]. The threads
/// already there when it starts are not reported. An error (an unreadable database or
/// directory) is reported once per failing round; the watch goes on.
#[derive(Debug)]
pub struct SessionWatch {
    rx: mpsc::Receiver<Result<SessionChange>>,
    _stop: tokio_util::sync::DropGuard,
}

type Markers = HashMap<String, (Option<i64>, bool)>;

fn snapshot(index: &SessionIndex) -> Result<Markers> {
    Ok(index
        .markers()?
        .into_iter()
        .map(|(id, at, archived)| (id, (at, archived)))
        .collect())
}

/// What changed between two snapshots, with each changed thread's current info. A thread
/// whose rollout is not readable yet is taken out of `now`, so the next round reports it.
fn diff(index: &SessionIndex, before: &Markers, now: &mut Markers) -> Vec<Result<SessionChange>> {
    let mut out = Vec::new();
    let mut changed: Vec<(&String, &(Option<i64>, bool))> = now
        .iter()
        .filter(|(id, m)| before.get(*id) != Some(m))
        .collect();
    // Oldest change first, so a consumer sees them in the order they happened.
    changed.sort_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| a.0.cmp(b.0)));
    let mut not_yet = Vec::new();
    for (id, (_, archived)) in changed {
        let info = match index.get(id) {
            Ok(Some(i)) => i,
            Ok(None) => {
                // Its rollout is not there yet: report it when it is.
                not_yet.push(id.clone());
                continue;
            }
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        out.push(Ok(match before.get(id) {
            None => SessionChange::Added(info),
            Some((_, was)) if *was != *archived && *archived => SessionChange::Archived(info),
            Some((_, was)) if *was != *archived => SessionChange::Unarchived(info),
            Some(_) => SessionChange::Updated(info),
        }));
    }
    for id in not_yet {
        match before.get(&id) {
            Some(m) => now.insert(id, *m),
            None => now.remove(&id),
        };
    }
    let mut removed: Vec<&String> = before.keys().filter(|id| !now.contains_key(*id)).collect();
    removed.sort();
    out.extend(
        removed
            .into_iter()
            .map(|id| Ok(SessionChange::Removed(id.clone()))),
    );
    out
}

impl SessionWatch {
    pub(super) fn start(index: SessionIndex, every: Duration) -> Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            crate::Error::InvalidOptions("watching sessions needs a Tokio runtime".into())
        })?;
        let (tx, rx) = mpsc::channel(256);
        let token = tokio_util::sync::CancellationToken::new();
        let stop = token.clone();
        runtime.spawn(async move {
            let idx = index.clone();
            let mut before = match tokio::task::spawn_blocking(move || snapshot(&idx)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    let _ = tx.send(Err(e)).await;
                    Markers::new()
                }
                Err(_) => return,
            };
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
                let idx = index.clone();
                let prev = before.clone();
                let round = tokio::task::spawn_blocking(move || {
                    snapshot(&idx).map(|mut now| (diff(&idx, &prev, &mut now), now))
                })
                .await;
                let changes = match round {
                    Ok(Ok((changes, now))) => {
                        before = now;
                        changes
                    }
                    Ok(Err(e)) => vec![Err(e)],
                    Err(_) => return,
                };
                for c in changes {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        sent = tx.send(c) => if sent.is_err() { return },
                    }
                }
            }
        });
        Ok(Self {
            rx,
            _stop: token.drop_guard(),
        })
    }

    /// The next change (waits for one).
    pub async fn next_change(&mut self) -> Option<Result<SessionChange>> {
        self.rx.recv().await
    }
}

impl Stream for SessionWatch {
    type Item = Result<SessionChange>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::CodexHome;
    use crate::sessions::Backend;

    /// A thread the markers show before its rollout can be read is reported once it can.
    #[test]
    fn a_thread_not_readable_yet_is_reported_later() {
        let d = tempfile::tempdir().unwrap();
        let home = CodexHome::new(d.path());
        let index = SessionIndex::new(&home).backend(Backend::Files);
        let id = "01a23a85-5bc2-7fa1-abe5-bb6ba8767202".to_owned();
        let before = Markers::new();
        let mut now: Markers = [(id.clone(), (Some(1), false))].into();
        assert!(diff(&index, &before, &mut now).is_empty());
        assert!(now.is_empty(), "kept back for the next round");
        let dir = home.sessions_dir().join("2026/12/03");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("rollout-2026-12-03T06-09-08-{id}.jsonl")),
            format!("{{\"type\":\"session_meta\",\"payload\":{{\"id\":\"{id}\"}}}}\n"),
        )
        .unwrap();
        let mut later: Markers = [(id.clone(), (Some(2), false))].into();
        let changes = diff(&index, &now, &mut later);
        assert!(
            matches!(changes.as_slice(), [Ok(SessionChange::Added(s))] if s.thread_id == id),
            "{changes:?}"
        );
        assert!(later.contains_key(&id));
    }
}
