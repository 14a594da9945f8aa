//! `CODEX_HOME` as a type: where it is, what is in it, and creating it safely.
//!
//! A home holds credentials (`auth.json`) and commands Codex runs (`notify`, MCP servers in
//! `config.toml`), so [`CodexHome::materialize`] and [`CodexHome::check`] only accept one that is
//! private to the current (effective) user: the directory, and `sessions/`, `archived_sessions/`
//! and `log/`, must be owned by that user with no group or other write bit
//! ([`fsutil::check_private_dir_as`](crate::fsutil::check_private_dir_as)). A symlinked home is
//! judged by its target, and the link must be the user's too. Anything else fails with
//! [`Error::Home`] and a [`HomeProblem`] saying what is wrong ([`HomeProblem::NotOwned`],
//! [`HomeProblem::WritableByOthers`], [`HomeProblem::SymlinkNotOwned`]); nothing is chmod'ed.
//!
//! ```no_run
//! use codex_driver::home::CodexHome;
//!
//! # fn demo() -> codex_driver::Result<()> {
//! // ~/.myhub/codex (or $XDG_DATA_HOME/myhub/codex), created 0700, never the user's ~/.codex.
//! let home = CodexHome::for_app("myhub")?.materialize()?;
//! println!("sessions go to {}", home.sessions_dir().display());
//! # Ok(()) }
//! ```

use crate::error::{Error, Result};
use crate::fsutil::check_private_dir_as;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A Codex home directory (the value of `CODEX_HOME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodexHome {
    root: PathBuf,
    isolated: bool,
}

pub use crate::dirs::{app_dir, cache_dir};
pub(crate) use crate::dirs::{check_name, user_home};
pub use crate::error::HomeProblem;

impl CodexHome {
    /// A home at `root` (nothing is checked or created until [`materialize`](Self::materialize)).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            isolated: false,
        }
    }

    /// A home at `root` that must not be the user's own Codex home (checked by
    /// [`materialize`](Self::materialize) and [`check`](Self::check)).
    pub fn isolated(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            isolated: true,
        }
    }

    /// The home named by a non-empty `$CODEX_HOME`, if any.
    pub fn from_env() -> Option<Self> {
        std::env::var_os("CODEX_HOME")
            .filter(|h| !h.is_empty())
            .map(Self::new)
    }

    /// The user's own home: `$CODEX_HOME`, else `~/.codex`.
    pub fn user_default() -> Result<Self> {
        if let Some(h) = Self::from_env() {
            return Ok(h);
        }
        let home = user_home().ok_or_else(|| Error::Home {
            path: PathBuf::from("~/.codex"),
            problem: HomeProblem::NoUserHome,
        })?;
        Ok(Self::new(home.join(".codex")))
    }

    /// An isolated, app-scoped home: `$XDG_DATA_HOME/<app>/codex` when `XDG_DATA_HOME` is set,
    /// else `~/.<app>/codex`. Outside the temp dir, so Codex can install its helper aliases.
    pub fn for_app(app: &str) -> Result<Self> {
        Ok(Self::isolated(app_dir(app)?.join("codex")))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Whether this home was asked to be isolated from the user's own.
    pub fn is_isolated(&self) -> bool {
        self.isolated
    }

    /// Checks the directory without changing anything: it exists, is a directory we can use,
    /// is private to the current user (see the [module docs](self)), and (when isolated) is not
    /// the user's own home.
    pub fn check(&self) -> Result<()> {
        if self.isolated && self.is_users_home() {
            return Err(self.err(HomeProblem::IsUsersHome));
        }
        let meta = std::fs::metadata(&self.root)
            .map_err(|e| self.err(HomeProblem::NotAccessible(e.to_string())))?;
        if !meta.is_dir() {
            return Err(self.err(HomeProblem::NotADirectory));
        }
        std::fs::read_dir(&self.root)
            .map_err(|e| self.err(HomeProblem::NotAccessible(e.to_string())))?;
        let uid = current_uid(&self.root)?;
        check_private_dir_as(&self.root, uid).map_err(|p| self.err(p))
    }

    /// Creates the home (mode 0700) and the directories Codex expects, or checks an existing
    /// one. Existing contents are never modified. The home and those directories, created or
    /// found, must be private to the current user (see the [module docs](self)): a directory
    /// someone else created first, even at the moment we create it, is refused.
    pub fn materialize(self) -> Result<Self> {
        if self.isolated && self.is_users_home() {
            return Err(self.err(HomeProblem::IsUsersHome));
        }
        match std::fs::symlink_metadata(&self.root) {
            Ok(m) if !m.is_dir() && !std::fs::metadata(&self.root).is_ok_and(|m| m.is_dir()) => {
                return Err(self.err(HomeProblem::NotADirectory));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Nobody else may be able to swap what we create for their own.
                crate::fsutil::check_ancestors(&std::path::absolute(&self.root).map_err(|e| {
                    self.err(HomeProblem::Io(format!("making the path absolute: {e}")))
                })?)?;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&self.root)
                    .map_err(|e| self.err(HomeProblem::Io(format!("creating it: {e}"))))?;
            }
            Err(e) => return Err(self.err(HomeProblem::NotAccessible(e.to_string()))),
        }
        // Checked after creating: it may have been there (or appeared) already.
        self.check()?;
        let uid = current_uid(&self.root)?;
        for dir in [
            self.sessions_dir(),
            self.archived_sessions_dir(),
            self.log_dir(),
        ] {
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(
                        self.err(HomeProblem::Io(format!("creating {}: {e}", dir.display())))
                    );
                }
            }
            check_private_dir_as(&dir, uid).map_err(|problem| Error::Home {
                path: dir.clone(),
                problem,
            })?;
        }
        Ok(self)
    }

    /// True when this is the user's own Codex home (`$CODEX_HOME` or `~/.codex`).
    pub fn is_users_home(&self) -> bool {
        let Ok(user) = Self::user_default() else {
            return false;
        };
        same_path(&self.root, &user.root)
    }

    /// True when the home is under the system temp dir (Codex then warns on every command that
    /// it cannot create its helper aliases).
    pub fn is_under_temp_dir(&self) -> bool {
        let tmp = std::env::temp_dir();
        let tmp = std::fs::canonicalize(&tmp).unwrap_or(tmp);
        let root = std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        root.starts_with(&tmp) || root.starts_with("/tmp")
    }

    /// Permissions of the home directory (`None` if it can't be read).
    pub fn mode(&self) -> Option<u32> {
        std::fs::metadata(&self.root)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    }

    fn err(&self, problem: HomeProblem) -> Error {
        Error::Home {
            path: self.root.clone(),
            problem,
        }
    }

    /// `config.toml`.
    pub fn config_toml(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// `<name>.config.toml`: a profile layered by `--profile <name>` (0.169+). The name is
    /// validated like an app name (not empty, no `/`, not starting with `.`), so the file is
    /// always inside the home; anything else is [`Error::InvalidOptions`] naming it.
    pub fn profile_toml(&self, name: &str) -> Result<PathBuf> {
        check_name("profile", name)?;
        Ok(self.root.join(format!("{name}.config.toml")))
    }
    /// `auth.json` (login credentials, 0600).
    pub fn auth_json(&self) -> PathBuf {
        self.root.join("auth.json")
    }
    /// `.credentials.json` (MCP OAuth credentials, file store).
    pub fn credentials_json(&self) -> PathBuf {
        self.root.join(".credentials.json")
    }
    /// `history.jsonl` (prompts submitted in the TUI).
    pub fn history_jsonl(&self) -> PathBuf {
        self.root.join("history.jsonl")
    }
    /// `sessions/` (rollouts, `YYYY/MM/DD/rollout-…-<thread id>.jsonl`).
    pub fn sessions_dir(&self) -> PathBuf {
        self.root.join("sessions")
    }
    /// `archived_sessions/`.
    pub fn archived_sessions_dir(&self) -> PathBuf {
        self.root.join("archived_sessions")
    }
    /// `log/`.
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("log")
    }
    /// `installation_id`.
    pub fn installation_id(&self) -> PathBuf {
        self.root.join("installation_id")
    }
    /// The SQLite state database (`state_5.sqlite`: the threads table).
    pub fn state_sqlite(&self) -> PathBuf {
        self.root.join("state_5.sqlite")
    }
    /// Every SQLite file Codex 0.169 keeps here (state, thread history, logs, goals, memories,
    /// queue), unless `CODEX_SQLITE_HOME`/`sqlite_home` moves them.
    pub fn sqlite_files(&self) -> Vec<PathBuf> {
        [
            "state_5.sqlite",
            "thread_history_1.sqlite",
            "logs_2.sqlite",
            "goals_1.sqlite",
            "memories_1.sqlite",
            "queue_1.sqlite",
        ]
        .iter()
        .map(|f| self.root.join(f))
        .collect()
    }
}

impl AsRef<std::path::Path> for CodexHome {
    /// The directory, so `.codex_home(&home)` works wherever a path is taken.
    fn as_ref(&self) -> &std::path::Path {
        &self.root
    }
}

/// The current effective uid, as a home error.
fn current_uid(root: &Path) -> Result<u32> {
    crate::fsutil::current_uid().map_err(|e| Error::Home {
        path: root.to_path_buf(),
        problem: HomeProblem::Io(format!("finding the current user id: {e}")),
    })
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let h = CodexHome::new("/h");
        assert_eq!(h.config_toml(), PathBuf::from("/h/config.toml"));
        assert_eq!(h.auth_json(), PathBuf::from("/h/auth.json"));
        assert_eq!(h.credentials_json(), PathBuf::from("/h/.credentials.json"));
        assert_eq!(
            h.profile_toml("ci").ok(),
            Some(PathBuf::from("/h/ci.config.toml"))
        );
        assert_eq!(h.sqlite_files().len(), 6);
    }

    #[test]
    fn materialize_creates_0700_and_refuses_files() -> std::io::Result<()> {
        let t = tempfile::tempdir()?;
        let h = CodexHome::isolated(t.path().join("a/b"))
            .materialize()
            .map_err(std::io::Error::other)?;
        assert_eq!(h.mode(), Some(0o700));
        assert!(h.sessions_dir().is_dir());
        std::fs::write(t.path().join("file"), "x")?;
        let err = CodexHome::new(t.path().join("file")).materialize().err();
        assert!(
            matches!(
                err,
                Some(Error::Home {
                    problem: HomeProblem::NotADirectory,
                    ..
                })
            ),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn app_names_are_validated() {
        assert!(app_dir("../x").is_err());
        assert!(app_dir("").is_err());
    }

    #[test]
    fn cache_dirs_are_app_scoped() {
        assert!(cache_dir("../x").is_err());
        assert!(cache_dir(".hidden").is_err());
        // Wherever the environment puts it, it ends in the app's name.
        if let Ok(d) = cache_dir("myhub") {
            assert!(d.ends_with("myhub"), "{}", d.display());
        }
    }

    #[test]
    fn profile_names_stay_inside_the_home() {
        let h = CodexHome::new("/h");
        for bad in [
            "../x",
            "/etc/passwd",
            "a/b",
            "",
            ".",
            "..",
            ".hidden",
            "a\0b",
        ] {
            let err = h.profile_toml(bad).err();
            assert!(
                matches!(&err, Some(Error::InvalidOptions(m)) if m.contains("profile name")
                    && m.contains(&bad.escape_debug().to_string())),
                "{bad:?}: {err:?}"
            );
        }
        assert_eq!(
            h.profile_toml("ci.fast").ok(),
            Some(PathBuf::from("/h/ci.fast.config.toml"))
        );
    }

    #[test]
    fn materialize_refuses_dirs_others_can_write() -> std::io::Result<()> {
        let t = tempfile::tempdir()?;
        let root = t.path().join("home");
        std::fs::create_dir(&root)?;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777))?;
        let err = CodexHome::isolated(&root).materialize().err();
        assert!(
            matches!(
                &err,
                Some(Error::Home { path, problem: HomeProblem::WritableByOthers { mode: 0o777 } })
                    if path == &root
            ),
            "{err:?}"
        );
        assert!(!root.join("sessions").exists(), "nothing created in it");
        // A subdirectory Codex uses is checked too, and named.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))?;
        std::fs::create_dir(root.join("log"))?;
        std::fs::set_permissions(root.join("log"), std::fs::Permissions::from_mode(0o775))?;
        let err = CodexHome::isolated(&root).materialize().err();
        assert!(
            matches!(
                &err,
                Some(Error::Home { path, problem: HomeProblem::WritableByOthers { mode: 0o775 } })
                    if path == &root.join("log")
            ),
            "{err:?}"
        );
        Ok(())
    }
}
