//! `--offline`: a built-in scripted provider so a real Codex turn runs without credentials.
//!
//! Nothing of the demo is persisted: the provider is named by `-c` overrides for this run only
//! (a home the user gave keeps its `config.toml` byte for byte, and no later run can be pointed
//! at a port someone else may bind), and the home and workspace it creates itself are fresh
//! private directories removed when the run ends.

use anyhow::{Context, Result};
use codex_driver_testkit::{MockProvider, MockResponse, add_file_patch};
use std::path::{Path, PathBuf};

/// The model the demo names: one Codex has metadata for (every tested release), so Codex
/// prints no "model metadata not found" warning of the demo's making. The answers still come
/// from the local provider.
const DEMO_MODEL: &str = "gpt-5.5";

/// The demo: a provider, the overrides pointing Codex at it, a home and a workspace.
pub struct Demo {
    _provider: MockProvider,
    overrides: Vec<(String, toml_edit::Value)>,
    home: Scratch,
    workspace: Scratch,
}

/// A directory the demo made (removed on drop) or one the user named (left alone).
enum Scratch {
    Temp(tempfile::TempDir),
    Given(PathBuf),
}

impl Scratch {
    fn path(&self) -> &Path {
        match self {
            Self::Temp(d) => d.path(),
            Self::Given(p) => p,
        }
    }
}

/// Where the demo's own directories go: a fresh private directory under
/// `$XDG_CACHE_HOME/codex-driver` (or `~/.cache/codex-driver`), outside the temp dir where Codex
/// warns that it can't create its helper aliases. That parent must be ours and not writable by
/// others; when it isn't (or there is no home) a fresh private temp dir is used instead.
fn scratch(prefix: &str) -> Result<tempfile::TempDir> {
    if let Ok(base) = codex_driver::home::cache_dir(crate::APP)
        && private_base(&base)
        && let Ok(d) = tempfile::Builder::new().prefix(prefix).tempdir_in(&base)
    {
        return Ok(d);
    }
    tempfile::Builder::new()
        .prefix(&format!("codex-driver-{prefix}"))
        .tempdir()
        .context("creating a private temporary directory")
}

/// Creates `dir` (0700) if needed and says whether it is a directory of ours that nobody else
/// can write to, under parents nobody else can swap (the library's own checks).
fn private_base(dir: &Path) -> bool {
    use std::os::unix::fs::DirBuilderExt;
    if codex_driver::fsutil::check_ancestors(dir).is_err() {
        return false;
    }
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir);
    codex_driver::fsutil::check_private_dir(dir).is_ok()
}

impl Demo {
    /// Starts the provider. `home`: the user's (used as is: nothing of ours is written to it)
    /// or a fresh private one. `workspace`: the user's, or a fresh private one that is removed
    /// at the end unless `keep_workspace`.
    pub async fn start(
        home: Option<&Path>,
        workspace: Option<&Path>,
        keep_workspace: bool,
    ) -> Result<Self> {
        let provider = MockProvider::start(script())
            .await
            .context("starting the offline provider")?;
        provider.set_fallback(Some(MockResponse::text(
            "(offline demo) The scripted conversation is over; nothing more to do.",
        )));
        // An active legacy profile of a given home outranks `-c model_provider`: override it too,
        // or the scripted demo would go to the user's real provider.
        let mut profile = None;
        let home = match home {
            Some(h) => {
                // Created (0700) when missing; an existing home is only checked.
                let h = codex_driver::CodexHome::new(h).materialize()?;
                profile = codex_driver::config::ConfigFile::for_home(&h)?
                    .get("profile")
                    .and_then(|v| v.as_str().map(str::to_owned));
                Scratch::Given(h.path().to_path_buf())
            }
            None => Scratch::Temp(scratch("offline-home-")?),
        };
        let workspace = match workspace {
            Some(w) => Scratch::Given(w.to_path_buf()),
            None if keep_workspace => Scratch::Given(scratch("workspace-")?.keep()),
            None => Scratch::Temp(scratch("workspace-")?),
        };
        let overrides = vec![
            ("model".into(), DEMO_MODEL.into()),
            ("model_provider".into(), "mock".into()),
            ("model_providers.mock.name".into(), "mock".into()),
            (
                "model_providers.mock.base_url".into(),
                provider.base_url().into(),
            ),
            ("model_providers.mock.wire_api".into(), "responses".into()),
            ("model_providers.mock.request_max_retries".into(), 0.into()),
            ("model_providers.mock.stream_max_retries".into(), 0.into()),
        ];
        let mut overrides = overrides;
        if let Some(p) = profile {
            anyhow::ensure!(
                p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "the home's active profile `{p}` can't be overridden for the offline demo; use a fresh --codex-home"
            );
            overrides.push((format!("profiles.{p}.model_provider"), "mock".into()));
            overrides.push((format!("profiles.{p}.model"), DEMO_MODEL.into()));
        }
        Ok(Self {
            _provider: provider,
            overrides,
            home,
            workspace,
        })
    }

    /// The `-c` overrides that point Codex at the provider, for this run only.
    pub fn overrides(&self) -> impl Iterator<Item = (String, toml_edit::Value)> + '_ {
        self.overrides.iter().cloned()
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn workspace(&self) -> &Path {
        self.workspace.path()
    }

    /// Whether the workspace is removed at the end.
    pub fn workspace_is_temporary(&self) -> bool {
        matches!(self.workspace, Scratch::Temp(_))
    }
}

/// One real shell command in the sandbox, one file change, and a final message.
fn script() -> Vec<MockResponse> {
    vec![
        MockResponse::new()
            .reasoning("Offline demo: first, a real shell command in the sandbox.")
            .exec_command("echo 'hello from a sandboxed shell' > shell-output.txt && uname -s && cat shell-output.txt"),
        MockResponse::new()
            .reasoning("Next, a file change through apply_patch.")
            .apply_patch(add_file_patch(
                "CODEX_DRIVER_DEMO.md",
                "# codex-driver offline demo\n\nThis file was written by the real Codex CLI,\ndriven by codex-driver against its offline provider.",
            )),
        MockResponse::text(
            "Offline demo complete: I ran a shell command (shell-output.txt) and created CODEX_DRIVER_DEMO.md.",
        ),
    ]
}
