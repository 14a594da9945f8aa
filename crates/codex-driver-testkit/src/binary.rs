//! Finding the Codex binary that tests drive, in this repository or in yours.
//!
//! See [`Discovery`] for the order. Nothing here depends on where the test kit itself was
//! built, so it works the same from the cargo registry as from this checkout.

use codex_driver::binary::{ManagedInstalls, Resolver};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The managed installs looked at by default: those of `codex-driver install`.
pub const DEFAULT_APP: &str = "codex-driver";

/// Which step of [`Discovery`] found the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// `$CODEX_BINARY`.
    Env,
    /// A managed install.
    Managed,
    /// A pinned root's `.codex-versions/`.
    Root,
    /// `codex` on `PATH`.
    Path,
}

/// A binary [`Discovery`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Found {
    /// The executable.
    pub path: PathBuf,
    /// The step that found it.
    pub step: Step,
    /// Its version, when the step knows it (managed installs and pinned roots).
    pub version: Option<String>,
}

/// No binary anywhere [`Discovery`] looked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no Codex binary for the tests; looked in: {}. Install one with `codex-driver install` \
     (or this repository's scripts/install-codex), or set CODEX_BINARY",
    looked.join(", ")
)]
#[non_exhaustive]
pub struct NotFound {
    /// Each place looked at, with what was there.
    pub looked: Vec<String>,
}

/// Finds the Codex binary for tests. It tries, in order, and stops at the first hit:
///
/// 1. **`$CODEX_BINARY`**, used as is ([`Step::Env`]);
/// 2. **managed installs** through the library's resolver ([`Step::Managed`]): by default those
///    `codex-driver install` makes (`~/.codex-driver/codex-versions`, see
///    [`ManagedInstalls::for_app`]), the requested or else the newest version;
/// 3. **a pinned root** ([`Step::Root`]): a directory holding a `CODEX_VERSIONS` file (one version
///    a line, `#` comments) and the `.codex-versions/<version>/` npm installs
///    `scripts/install-codex` makes; the one given with [`Discovery::root`], then the nearest one
///    at or above the current directory. The first listed version installed there wins;
/// 4. **`codex` on `PATH`** ([`Step::Path`]), unless turned off.
///
/// A failure ([`NotFound`]) lists every place looked at and how to install a binary.
///
/// ```no_run
/// use codex_driver_testkit::Discovery;
///
/// // Your repository keeps CODEX_VERSIONS and .codex-versions/ in `third_party/`:
/// let found = Discovery::new().root("third_party").search_path(false).find()?;
/// println!("{} ({:?})", found.path.display(), found.step);
/// # Ok::<(), codex_driver_testkit::NotFound>(())
/// ```
#[derive(Debug, Clone)]
pub struct Discovery {
    use_env: bool,
    managed: Option<ManagedInstalls>,
    managed_version: Option<String>,
    root: Option<PathBuf>,
    search_upward: bool,
    start: Option<PathBuf>,
    search_path: bool,
}

impl Default for Discovery {
    fn default() -> Self {
        Self::new()
    }
}

impl Discovery {
    /// Every step on: `$CODEX_BINARY`, the managed installs of [`DEFAULT_APP`], pinned roots
    /// above the current directory, `PATH`.
    pub fn new() -> Self {
        Self {
            use_env: true,
            managed: ManagedInstalls::for_app(DEFAULT_APP).ok(),
            managed_version: None,
            root: None,
            search_upward: true,
            start: None,
            search_path: true,
        }
    }

    /// Step 1 on or off.
    pub fn use_env(mut self, yes: bool) -> Self {
        self.use_env = yes;
        self
    }

    /// Step 2: these managed installs (`None`: skip the step).
    pub fn managed(mut self, installs: Option<ManagedInstalls>) -> Self {
        self.managed = installs;
        self
    }

    /// Step 2: the managed installs of `app` (`~/.<app>/codex-versions`).
    pub fn managed_app(self, app: &str) -> Self {
        self.managed(ManagedInstalls::for_app(app).ok())
    }

    /// Step 2: this version rather than the newest installed.
    pub fn managed_version(mut self, version: impl Into<String>) -> Self {
        self.managed_version = Some(version.into());
        self
    }

    /// Step 3: this pinned root first (a directory with `CODEX_VERSIONS` and `.codex-versions/`).
    pub fn root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.root = Some(dir.into());
        self
    }

    /// Step 3: also look for a pinned root at and above the start directory (default on).
    pub fn search_upward(mut self, yes: bool) -> Self {
        self.search_upward = yes;
        self
    }

    /// Where the upward search starts (default: the current directory).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.start = Some(dir.into());
        self
    }

    /// Step 4 on or off (default on).
    pub fn search_path(mut self, yes: bool) -> Self {
        self.search_path = yes;
        self
    }

    /// Runs the steps.
    pub fn find(&self) -> Result<Found, NotFound> {
        self.find_in(&Env::current())
    }

    fn find_in(&self, env: &Env) -> Result<Found, NotFound> {
        let mut looked = Vec::new();
        if self.use_env {
            match env.codex_binary.as_ref().filter(|p| !p.is_empty()) {
                Some(p) => return Ok(found(PathBuf::from(p), Step::Env, None)),
                None => looked.push("$CODEX_BINARY (unset)".to_owned()),
            }
        }
        if let Some(installs) = &self.managed {
            let version = self.managed_version.clone().or_else(|| {
                installs
                    .installed()
                    .into_iter()
                    .max()
                    .map(|v| v.to_string())
            });
            let resolved = Resolver::new()
                .use_env(false)
                .search_path(false)
                .managed(installs.clone(), version.clone())
                .resolve();
            match (resolved, &version) {
                (Ok(r), _) => {
                    return Ok(found(r.binary.path().to_path_buf(), Step::Managed, version));
                }
                (Err(_), Some(v)) => looked.push(format!(
                    "{} (managed: version {v} not installed)",
                    installs.root().display()
                )),
                (Err(_), None) => looked.push(format!(
                    "{} (managed: no version installed)",
                    installs.root().display()
                )),
            }
        }
        let explicit = self.root.as_ref().map(|dir| match PinnedRoot::at(dir) {
            Some(r) => Ok(r),
            None => Err(format!("{} (no CODEX_VERSIONS)", dir.display())),
        });
        let start = self
            .search_upward
            .then(|| self.start.clone().or_else(|| env.cwd.clone()))
            .flatten();
        let upward = start.map(|start| match PinnedRoot::find_upward(&start) {
            Some(r) => Ok(r),
            None => Err(format!("{} and above (no CODEX_VERSIONS)", start.display())),
        });
        let mut seen: Option<PinnedRoot> = None;
        for root in [explicit, upward].into_iter().flatten() {
            let root = match root {
                Ok(r) if seen.as_ref() == Some(&r) => continue,
                Ok(r) => r,
                Err(why) => {
                    looked.push(why);
                    continue;
                }
            };
            let versions = root.versions();
            if let Some((v, bin)) = versions
                .iter()
                .find_map(|v| root.binary(v).map(|b| (v.clone(), b)))
            {
                return Ok(found(bin, Step::Root, Some(v)));
            }
            looked.push(format!(
                "{} (pinned {}: none installed)",
                root.installs_dir().display(),
                if versions.is_empty() {
                    "nothing".to_owned()
                } else {
                    versions.join(", ")
                }
            ));
            seen = Some(root);
        }
        if self.search_path {
            let dirs: Vec<PathBuf> = env
                .path
                .as_ref()
                .map(|p| std::env::split_paths(p).collect())
                .unwrap_or_default();
            if let Some(bin) = dirs
                .iter()
                .map(|d| d.join("codex"))
                .find(|p| is_executable(p))
            {
                return Ok(found(bin, Step::Path, None));
            }
            looked.push("codex on $PATH (none)".to_owned());
        }
        Err(NotFound { looked })
    }
}

fn found(path: PathBuf, step: Step, version: Option<String>) -> Found {
    Found {
        path,
        step,
        version,
    }
}

/// The process environment the steps read, apart so tests can give their own.
struct Env {
    codex_binary: Option<OsString>,
    path: Option<OsString>,
    cwd: Option<PathBuf>,
}

impl Env {
    fn current() -> Self {
        Self {
            codex_binary: std::env::var_os(codex_driver::binary::CODEX_BINARY_ENV),
            path: std::env::var_os("PATH"),
            cwd: std::env::current_dir().ok(),
        }
    }
}

/// A directory pinning Codex versions: `CODEX_VERSIONS` (one version a line, `#` comments) and
/// the npm installs of those versions in `.codex-versions/<version>/`, as this repository's
/// `scripts/install-codex` makes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedRoot {
    dir: PathBuf,
}

impl PinnedRoot {
    /// `dir`, when it has a `CODEX_VERSIONS` file.
    pub fn at(dir: impl Into<PathBuf>) -> Option<Self> {
        let dir = dir.into();
        dir.join("CODEX_VERSIONS").is_file().then_some(Self { dir })
    }

    /// The nearest pinned root at or above `start`.
    pub fn find_upward(start: &Path) -> Option<Self> {
        start.ancestors().find_map(Self::at)
    }

    /// The nearest pinned root at or above the current directory.
    pub fn current() -> Option<Self> {
        Self::find_upward(&std::env::current_dir().ok()?)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `.codex-versions/`.
    pub fn installs_dir(&self) -> PathBuf {
        self.dir.join(".codex-versions")
    }

    /// The pinned versions, in file order.
    pub fn versions(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("CODEX_VERSIONS"))
            .map(|text| {
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The native binary of `version` installed here, if it is.
    pub fn binary(&self, version: &str) -> Option<PathBuf> {
        native_binary_in(&self.installs_dir().join(version))
    }
}

/// The versions pinned by the nearest `CODEX_VERSIONS` at or above the current directory.
pub fn pinned_versions() -> Vec<String> {
    PinnedRoot::current()
        .map(|r| r.versions())
        .unwrap_or_default()
}

/// The Codex binary for tests: [`Discovery::new`]'s find, `None` when there is none.
pub fn codex_binary() -> Option<PathBuf> {
    Discovery::new().find().ok().map(|f| f.path)
}

/// The native binary of pinned `version` in the nearest pinned root above the current
/// directory, if installed.
pub fn pinned_binary(version: &str) -> Option<PathBuf> {
    PinnedRoot::current()?.binary(version)
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

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A file that looks like an executable (never run).
    fn exe(p: &Path) -> std::io::Result<PathBuf> {
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(p, "#!/bin/sh\n")?;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))?;
        Ok(p.to_path_buf())
    }

    /// A pinned root at `dir` listing `versions`, with `installed` of them in the 0.169 layout.
    fn pinned(dir: &Path, versions: &[&str], installed: &[&str]) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            dir.join("CODEX_VERSIONS"),
            format!("# pinned\n{}\n", versions.join("\n")),
        )?;
        for v in installed {
            exe(&dir.join(format!(
                ".codex-versions/{v}/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
            )))?;
        }
        Ok(())
    }

    fn managed_with(dir: &Path, versions: &[&str]) -> std::io::Result<ManagedInstalls> {
        let m = ManagedInstalls::new(dir);
        for v in versions {
            if let Some(d) = m.version_dir(v) {
                exe(&d.join("bin/codex"))?;
            }
        }
        Ok(m)
    }

    fn env(codex_binary: Option<&str>, path: Option<&Path>, cwd: Option<&Path>) -> Env {
        Env {
            codex_binary: codex_binary.map(OsString::from),
            path: path.map(|p| p.as_os_str().to_owned()),
            cwd: cwd.map(Path::to_path_buf),
        }
    }

    /// Only the steps a test turns on: no managed installs of the real user.
    fn bare() -> Discovery {
        Discovery::new().managed(None)
    }

    #[test]
    fn the_env_comes_first() -> TestResult {
        let t = tempfile::tempdir()?;
        let m = managed_with(&t.path().join("m"), &["0.169.0"])?;
        let f = bare()
            .managed(Some(m))
            .find_in(&env(Some("/opt/codex"), None, None))?;
        assert_eq!(f, found("/opt/codex".into(), Step::Env, None));
        // An empty variable counts as unset.
        let err =
            bare()
                .search_path(false)
                .search_upward(false)
                .find_in(&env(Some(""), None, None));
        assert_eq!(
            err.map_err(|e| e.looked),
            Err(vec!["$CODEX_BINARY (unset)".to_owned()])
        );
        Ok(())
    }

    #[test]
    fn managed_installs_come_before_pinned_roots() -> TestResult {
        let t = tempfile::tempdir()?;
        if codex_driver::binary::target_triple().is_none() {
            return Ok(());
        }
        let m = managed_with(&t.path().join("m"), &["0.130.0", "0.169.0"])?;
        pinned(&t.path().join("repo"), &["0.169.0"], &["0.169.0"])?;
        let d = bare().managed(Some(m.clone()));
        let f = d.find_in(&env(None, None, Some(&t.path().join("repo"))))?;
        assert_eq!(f.step, Step::Managed);
        assert_eq!(f.version.as_deref(), Some("0.169.0"));
        assert_eq!(f.path, m.binary("0.169.0").ok_or("not installed")?);
        // A requested version that is missing falls through to the pinned root.
        let f =
            d.managed_version("0.150.0")
                .find_in(&env(None, None, Some(&t.path().join("repo"))))?;
        assert_eq!(f.step, Step::Root);
        Ok(())
    }

    #[test]
    fn pinned_roots_explicit_then_upward() -> TestResult {
        let t = tempfile::tempdir()?;
        // An upward root whose first pin is missing: the next installed pin is used.
        pinned(t.path(), &["0.169.0", "0.130.0"], &["0.130.0"])?;
        let below = t.path().join("crates/app");
        std::fs::create_dir_all(&below)?;
        let f = bare().find_in(&env(None, None, Some(&below)))?;
        assert_eq!(f.step, Step::Root);
        assert_eq!(f.version.as_deref(), Some("0.130.0"));
        assert!(f.path.starts_with(t.path().join(".codex-versions/0.130.0")));
        // An explicit root outranks the one above the current directory.
        let vendored = t.path().join("elsewhere");
        pinned(&vendored, &["0.169.0"], &["0.169.0"])?;
        let f = bare()
            .root(&vendored)
            .find_in(&env(None, None, Some(&below)))?;
        assert!(f.path.starts_with(vendored.join(".codex-versions/0.169.0")));
        // `current_dir` moves the upward search.
        let f = bare()
            .current_dir(&vendored)
            .find_in(&env(None, None, Some(&below)))?;
        assert!(f.path.starts_with(&vendored));
        Ok(())
    }

    #[test]
    fn path_comes_last_and_failures_list_every_step() -> TestResult {
        let t = tempfile::tempdir()?;
        let bin = t.path().join("bin");
        std::fs::create_dir_all(&bin)?;
        // Not executable: skipped.
        std::fs::write(bin.join("codex"), "")?;
        let nowhere = t.path().join("empty");
        std::fs::create_dir_all(&nowhere)?;
        pinned(&t.path().join("repo"), &["0.169.0"], &[])?;
        let m = ManagedInstalls::new(t.path().join("m"));
        let d = bare().managed(Some(m)).root(t.path().join("repo"));
        let err = d
            .clone()
            .find_in(&env(None, Some(&bin), Some(&nowhere)))
            .err()
            .ok_or("found a non-executable")?;
        assert_eq!(
            err.looked,
            [
                "$CODEX_BINARY (unset)".to_owned(),
                format!("{}/m (managed: no version installed)", t.path().display()),
                format!(
                    "{}/repo/.codex-versions (pinned 0.169.0: none installed)",
                    t.path().display()
                ),
                format!("{} and above (no CODEX_VERSIONS)", nowhere.display()),
                "codex on $PATH (none)".to_owned(),
            ]
        );
        assert!(err.to_string().contains("codex-driver install"), "{err}");
        exe(&bin.join("codex"))?;
        let f = d.find_in(&env(None, Some(&bin), Some(&nowhere)))?;
        assert_eq!(f, found(bin.join("codex"), Step::Path, None));
        let err = bare()
            .root(&nowhere)
            .search_upward(false)
            .search_path(false)
            .find_in(&env(None, Some(&bin), None))
            .err()
            .ok_or("found one")?;
        assert_eq!(
            err.looked[1],
            format!("{} (no CODEX_VERSIONS)", nowhere.display())
        );
        Ok(())
    }

    #[test]
    fn pinned_root_reads_versions_and_layouts() -> TestResult {
        let t = tempfile::tempdir()?;
        assert_eq!(PinnedRoot::at(t.path()), None);
        pinned(t.path(), &["0.169.0", "  ", "0.130.0"], &["0.169.0"])?;
        // The 0.130 layout: vendor/<triple>/codex/codex.
        exe(&t.path().join(
            ".codex-versions/0.130.0/node_modules/@openai/codex/vendor/x86_64-unknown-linux-musl/codex/codex",
        ))?;
        let r = PinnedRoot::at(t.path()).ok_or("no root")?;
        assert_eq!(r.versions(), ["0.169.0", "0.130.0"]);
        assert!(
            r.binary("0.169.0")
                .is_some_and(|p| p.ends_with("bin/codex"))
        );
        assert!(
            r.binary("0.130.0")
                .is_some_and(|p| p.ends_with("codex/codex"))
        );
        assert_eq!(r.binary("0.50.0"), None);
        assert_eq!(
            PinnedRoot::find_upward(&t.path().join("a/b")).map(|r| r.dir().to_path_buf()),
            Some(t.path().to_path_buf())
        );
        Ok(())
    }
}
