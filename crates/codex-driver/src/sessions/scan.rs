//! The index without a database: the rollout files themselves. File names carry the start
//! time and the thread id, so listing and id lookups open only the files they return; the
//! details of a returned thread come from streaming its rollout once.

use super::rollout::{EventMsg, RolloutItem, RolloutReader};
use super::time::file_name_ms;
use super::{Query, SessionInfo, SessionSource, SortBy};
use crate::error::{Error, Result};
use crate::home::CodexHome;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// A rollout file found on disk, before it is opened.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) path: PathBuf,
    pub(super) archived: bool,
    pub(super) id: String,
    pub(super) created_ms: Option<i64>,
}

impl Entry {
    fn mtime_ms(&self) -> Option<i64> {
        let m = std::fs::metadata(&self.path).ok()?.modified().ok()?;
        let d = m.duration_since(UNIX_EPOCH).ok()?;
        i64::try_from(d.as_millis()).ok()
    }
}

/// Every rollout file of `home` (live and archived).
pub(super) fn entries(home: &CodexHome) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    collect(&home.sessions_dir(), false, &mut out)?;
    collect(&home.archived_sessions_dir(), true, &mut out)?;
    Ok(out)
}

fn collect(dir: &Path, archived: bool, out: &mut Vec<Entry>) -> Result<()> {
    let rd = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect(&p, archived, out)?;
            continue;
        }
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with("rollout-") && name.ends_with(".jsonl")) {
            continue;
        }
        if let Some(id) = id_from_name(name) {
            out.push(Entry {
                created_ms: file_name_ms(name),
                path: p,
                archived,
                id,
            });
        }
    }
    Ok(())
}

/// `rollout-2026-11-24T13-22-57-<uuid>.jsonl` → the uuid (the last 36 characters).
pub(super) fn id_from_name(name: &str) -> Option<String> {
    let stem = name.strip_suffix(".jsonl")?;
    let id = stem.get(stem.len().checked_sub(36)?..)?;
    let shape = id
        .split('-')
        .map(|g| (g.len(), g.chars().all(|c| c.is_ascii_hexdigit())))
        .collect::<Vec<_>>();
    (shape == [(8, true), (4, true), (4, true), (4, true), (12, true)])
        .then(|| id.to_ascii_lowercase())
}

/// Thread names, from `session_index.jsonl` (Codex appends `{id, thread_name, updated_at}`
/// on every rename; the last line of an id wins).
pub(super) fn names(home: &CodexHome) -> HashMap<String, String> {
    use std::io::BufRead;
    let mut out = HashMap::new();
    let Ok(f) = std::fs::File::open(home.path().join("session_index.jsonl")) else {
        return out;
    };
    for line in std::io::BufReader::new(f)
        .split(b'\n')
        .map_while(std::result::Result::ok)
    {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else {
            continue;
        };
        if let (Some(id), Some(name)) = (
            v.get("id").and_then(|x| x.as_str()),
            v.get("thread_name").and_then(|x| x.as_str()),
        ) {
            if name.is_empty() {
                out.remove(&id.to_ascii_lowercase());
            } else {
                out.insert(id.to_ascii_lowercase(), name.to_owned());
            }
        }
    }
    out
}

pub(super) fn list(home: &CodexHome, q: &Query) -> Result<Vec<SessionInfo>> {
    let mut all: Vec<(Entry, Option<i64>)> = entries(home)?
        .into_iter()
        .filter(|e| q.archived.admits(e.archived))
        .map(|e| {
            let key = match q.sort {
                SortBy::Created => e.created_ms,
                SortBy::Updated => e.mtime_ms(),
            };
            (e, key)
        })
        .collect();
    all.sort_by(|(a, ka), (b, kb)| kb.cmp(ka).then_with(|| b.id.cmp(&a.id)));
    let limit = q.limit.unwrap_or(usize::MAX);
    let names = names(home);
    let mut out = Vec::new();
    for (e, _) in all {
        if out.len() >= limit {
            break;
        }
        let Some(info) = read_info(&e, &names) else {
            continue;
        };
        if q.admits_meta(info.archived, info.cwd.as_deref(), info.source.as_ref()) {
            out.push(info);
        }
    }
    Ok(out)
}

pub(super) fn count(home: &CodexHome) -> Result<(usize, usize)> {
    let all = entries(home)?;
    let archived = all.iter().filter(|e| e.archived).count();
    Ok((all.len(), archived))
}

pub(super) fn get(home: &CodexHome, id: &str) -> Result<Option<SessionInfo>> {
    let id = id.to_ascii_lowercase();
    Ok(entries(home)?
        .into_iter()
        .filter(|e| e.id == id)
        // A file in both places (a copy left behind): the live one wins.
        .min_by_key(|e| e.archived)
        .and_then(|e| read_info(&e, &names(home))))
}

pub(super) fn ids_with_prefix(home: &CodexHome, prefix: &str) -> Result<Vec<String>> {
    let mut ids: Vec<String> = entries(home)?
        .into_iter()
        .filter(|e| e.id.starts_with(prefix))
        .map(|e| e.id)
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

pub(super) fn markers(home: &CodexHome) -> Result<Vec<(String, Option<i64>, bool)>> {
    Ok(entries(home)?
        .into_iter()
        .map(|e| {
            let m = e.mtime_ms();
            (e.id, m, e.archived)
        })
        .collect())
}

/// The `session_meta` of a rollout: its first line, read alone (bounded).
#[cfg(feature = "state-db")]
pub(super) fn first_meta(path: &Path) -> Option<super::rollout::SessionMeta> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let reader = std::io::BufReader::new(f.take(FIRST_LINE_LIMIT));
    match RolloutReader::new(reader).next()?.ok()?.item {
        RolloutItem::SessionMeta(m) => Some(*m),
        _ => None,
    }
}

/// The first line holds the instructions (tens of KB); a file without newlines is not read
/// whole.
#[cfg(feature = "state-db")]
const FIRST_LINE_LIMIT: u64 = 4 * 1024 * 1024;

/// Everything the index reports about one rollout, from one streaming pass.
pub(super) fn read_info(e: &Entry, names: &HashMap<String, String>) -> Option<SessionInfo> {
    let mut info = SessionInfo {
        thread_id: e.id.clone(),
        path: e.path.clone(),
        archived: e.archived,
        name: names.get(&e.id).cloned(),
        title: None,
        cwd: None,
        created_at_ms: e.created_ms,
        updated_at_ms: e.mtime_ms(),
        model: None,
        model_provider: None,
        originator: None,
        cli_version: None,
        source: None,
        tokens_used: None,
        git: None,
    };
    let reader = RolloutReader::open(&e.path).ok()?;
    let mut first = true;
    for line in reader {
        let Ok(line) = line else { break };
        match line.item {
            // The first session_meta is the thread's own; a fork repeats its parent's later.
            RolloutItem::SessionMeta(m) if first => {
                if let Some(id) = &m.id {
                    info.thread_id = id.to_ascii_lowercase();
                }
                if let Some(t) = m.timestamp.as_deref().and_then(super::time::rfc3339_ms) {
                    info.created_at_ms = Some(t);
                }
                info.cwd = m.cwd;
                info.originator = m.originator;
                info.cli_version = m.cli_version;
                info.model_provider = m.model_provider;
                info.source = m.source.as_ref().and_then(SessionSource::from_value);
                info.git = m.git.filter(|g| {
                    g.commit_hash.is_some() || g.branch.is_some() || g.repository_url.is_some()
                });
            }
            RolloutItem::TurnContext(c) if c.model.is_some() => info.model = c.model,
            RolloutItem::EventMsg(ev) => match ev {
                EventMsg::ItemCompleted(item)
                    if info.title.is_none() && item.item_type() == "UserMessage" =>
                {
                    info.title = Some(item.text());
                }
                EventMsg::UserMessage(m) if info.title.is_none() => info.title = m.message,
                EventMsg::TokenCount(t) => {
                    if let Some(total) = t
                        .info
                        .and_then(|i| i.total_token_usage)
                        .and_then(|u| u.total_tokens)
                    {
                        info.tokens_used = Some(total);
                    }
                }
                _ => {}
            },
            _ => {}
        }
        first = false;
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_file_names() {
        assert_eq!(
            id_from_name("rollout-2026-11-24T13-22-57-01A20dbe-5679-7c23-b495-86ea8e462391.jsonl")
                .as_deref(),
            Some("01a20dbe-5679-7c23-b495-86ea8e462391")
        );
        assert_eq!(id_from_name("rollout-2026-11-24T13-22-57-nope.jsonl"), None);
    }

    #[test]
    fn a_home_without_sessions_lists_nothing() -> Result<()> {
        let d = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let home = CodexHome::new(d.path());
        assert_eq!(list(&home, &Query::new())?, []);
        assert_eq!(count(&home)?, (0, 0));
        assert_eq!(get(&home, "x")?, None);
        Ok(())
    }
}
