//! The user's directories (`$HOME`, XDG data and cache dirs) and path-component names: a leaf
//! every module that places files may use.

use crate::error::{Error, HomeProblem, Result};
use std::path::PathBuf;

/// `$HOME`, when set and not empty.
pub(crate) fn user_home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The app-scoped cache directory: `$XDG_CACHE_HOME/<app>` or `~/.cache/<app>` (outside the
/// temp dir, where Codex warns that it can't create its helper aliases). Nothing is created.
pub fn cache_dir(app: &str) -> Result<PathBuf> {
    app_scoped(app, "XDG_CACHE_HOME", &format!(".cache/{app}"))
}

/// The app-scoped directory: `$XDG_DATA_HOME/<app>` or `~/.<app>`.
pub fn app_dir(app: &str) -> Result<PathBuf> {
    app_scoped(app, "XDG_DATA_HOME", &format!(".{app}"))
}

/// `$<xdg_var>/<app>` when that variable is set, else `~/<under_home>`.
fn app_scoped(app: &str, xdg_var: &str, under_home: &str) -> Result<PathBuf> {
    check_name("app", app)?;
    if let Some(x) = std::env::var_os(xdg_var).filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join(app));
    }
    let home = user_home().ok_or_else(|| Error::Home {
        path: PathBuf::from(format!("~/{under_home}")),
        problem: HomeProblem::NoUserHome,
    })?;
    Ok(home.join(under_home))
}

/// A name that becomes one path component: not empty, no `/` (nor NUL), not starting with `.`
/// (so neither `.`, `..` nor a hidden file).
pub(crate) fn check_name(kind: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.contains(['/', '\0']) || name.starts_with('.') {
        return Err(Error::InvalidOptions(format!(
            "invalid {kind} name `{}`: it must be non-empty, without `/`, and not start with `.`",
            name.escape_debug()
        )));
    }
    Ok(())
}
