//! Finding the Codex binary that tests should drive.

use std::path::{Path, PathBuf};

/// The Codex versions listed in the nearest `CODEX_VERSIONS` file (the repository's pinned
/// versions), searched upwards from the current directory.
pub fn pinned_versions() -> Vec<String> {
    find_up("CODEX_VERSIONS")
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|text| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The Codex binary for tests: `$CODEX_BINARY`, else the native binary of the first pinned
/// version installed by `scripts/install-codex` under `.codex-versions/`, else `codex` on PATH.
pub fn codex_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CODEX_BINARY").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(root) = find_up(".codex-versions") {
        for v in pinned_versions() {
            if let Some(bin) = native_binary_in(&root.join(v)) {
                return Some(bin);
            }
        }
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("codex"))
            .find(|p| p.is_file())
    })
}

/// The native binary of pinned `version` installed by `scripts/install-codex`, if present.
pub fn pinned_binary(version: &str) -> Option<PathBuf> {
    native_binary_in(&find_up(".codex-versions")?.join(version))
}

/// The native binary inside an npm install of `@openai/codex` (any layout).
fn native_binary_in(install: &Path) -> Option<PathBuf> {
    let scope = install.join("node_modules").join("@openai");
    let entries = std::fs::read_dir(&scope).ok()?;
    for pkg in entries.flatten() {
        let vendor = pkg.path().join("vendor");
        let Ok(triples) = std::fs::read_dir(&vendor) else {
            continue;
        };
        for t in triples.flatten() {
            for cand in [t.path().join("bin/codex"), t.path().join("codex/codex")] {
                if cand.is_file() {
                    return Some(cand);
                }
            }
        }
    }
    None
}

fn find_up(name: &str) -> Option<PathBuf> {
    let starts = [
        std::env::current_dir().ok(),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
    ];
    for start in starts.into_iter().flatten() {
        let mut dir = Some(start.as_path());
        while let Some(d) = dir {
            let cand = d.join(name);
            if cand.exists() {
                return Some(cand);
            }
            dir = d.parent();
        }
    }
    None
}
