//! The TUI's prompt history (`history.jsonl`) and its `[history]` settings.
//!
//! Codex appends one line per prompt submitted in the interactive TUI (`codex exec` writes
//! none): `{"session_id", "ts" (Unix seconds), "text"}`. With `[history] persistence = "none"`
//! it writes nothing; `max_bytes` bounds the file (Codex drops the oldest lines).

use crate::error::{Error, Result};
use crate::home::CodexHome;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader};

/// One prompt the user typed in the TUI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// The thread it was typed in.
    pub session_id: String,
    /// Unix seconds.
    pub ts: i64,
    /// The prompt.
    pub text: String,
}

/// `[history] persistence`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HistoryPersistence {
    /// `save-all` (Codex's default): every prompt is appended.
    #[default]
    SaveAll,
    /// `none`: nothing is written.
    None,
    /// Another value, as written.
    Other(String),
}

/// The `[history]` table of a home's `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct HistorySettings {
    /// Whether prompts are saved.
    pub persistence: HistoryPersistence,
    /// The file's size bound, when set.
    pub max_bytes: Option<u64>,
}

/// The `[history]` settings of `home` (Codex's defaults when unset). A `config.toml` that is
/// not TOML is an error naming it.
pub fn history_settings(home: &CodexHome) -> Result<HistorySettings> {
    let path = home.config_toml();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HistorySettings::default()),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| Error::ConfigFile {
                path: path.clone(),
                line: None,
                column: None,
                detail: e.message().to_owned(),
            })?;
    let Some(h) = doc.get("history") else {
        return Ok(HistorySettings::default());
    };
    let persistence = match h.get("persistence").and_then(|v| v.as_str()) {
        None | Some("save-all") => HistoryPersistence::SaveAll,
        Some("none") => HistoryPersistence::None,
        Some(other) => HistoryPersistence::Other(other.to_owned()),
    };
    let max_bytes = h
        .get("max_bytes")
        .and_then(|v| v.as_integer())
        .and_then(|n| u64::try_from(n).ok());
    Ok(HistorySettings {
        persistence,
        max_bytes,
    })
}

/// The TUI's prompt history of `home`, oldest first (empty when there is none). Lines that
/// don't parse are skipped. Streams the file.
pub fn history(home: &CodexHome) -> Result<Vec<HistoryEntry>> {
    let path = home.history_jsonl();
    let f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("opening {}", path.display()), e)),
    };
    Ok(BufReader::new(f)
        .split(b'\n')
        .map_while(std::result::Result::ok)
        .filter_map(|l| serde_json::from_slice(&l).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_lines() -> Result<()> {
        let d = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let home = CodexHome::new(d.path());
        assert!(history(&home)?.is_empty());
        std::fs::copy(
            super::super::tests::fixture("sessions/history.jsonl"),
            home.history_jsonl(),
        )
        .map_err(|e| Error::io("copy", e))?;
        let h = history(&home)?;
        assert_eq!(h[0].text, "hello from tui");
        assert_eq!(h[0].ts, 1795526692);
        Ok(())
    }

    #[test]
    fn settings() -> Result<()> {
        let d = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let home = CodexHome::new(d.path());
        assert_eq!(history_settings(&home)?, HistorySettings::default());
        std::fs::write(
            home.config_toml(),
            "# mine\n[history]\npersistence = \"none\"\nmax_bytes = 4096\n",
        )
        .map_err(|e| Error::io("write", e))?;
        assert_eq!(
            history_settings(&home)?,
            HistorySettings {
                persistence: HistoryPersistence::None,
                max_bytes: Some(4096)
            }
        );
        std::fs::write(home.config_toml(), "[history\n").map_err(|e| Error::io("write", e))?;
        assert!(matches!(
            history_settings(&home),
            Err(Error::ConfigFile { .. })
        ));
        Ok(())
    }
}
