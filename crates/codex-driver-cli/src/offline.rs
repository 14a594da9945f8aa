//! `--offline`: a built-in scripted provider so a real Codex turn runs without credentials.

use anyhow::{Context, Result};
use codex_driver_testkit::{MockProvider, MockResponse, add_file_patch};
use std::path::{Path, PathBuf};

/// The demo: a provider, a CODEX_HOME pointing at it and a workspace.
pub struct Demo {
    _provider: MockProvider,
    home: Home,
    workspace: PathBuf,
}

enum Home {
    Temp(tempfile::TempDir),
    Given(PathBuf),
}

/// Points a home the user gave at the provider, editing its config.toml in place: only the
/// model and the `mock` provider change; their comments, MCP servers, notify hook... stay.
fn point_at(provider: &MockProvider, home: &Path) -> Result<()> {
    use codex_driver::config::{ConfigFile, ModelProvider};
    let home = codex_driver::CodexHome::new(home).materialize()?;
    let mut cfg = ConfigFile::for_home(&home)?;
    let mut mock = ModelProvider::responses("mock", provider.base_url());
    mock.request_max_retries = Some(0);
    mock.stream_max_retries = Some(0);
    cfg.use_model_provider("mock", &mock)?;
    cfg.set("model", "mock-model")?;
    cfg.save()?;
    Ok(())
}

/// A place for our files outside the temp dir (Codex warns about a CODEX_HOME under it).
fn state_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("codex-driver")
}

impl Demo {
    pub async fn start(home: Option<&Path>, workspace: Option<&Path>) -> Result<Self> {
        let provider = MockProvider::start(script())
            .await
            .context("starting the offline provider")?;
        provider.set_fallback(Some(MockResponse::text(
            "(offline demo) The scripted conversation is over; nothing more to do.",
        )));
        let base = state_dir();
        std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
        let home = match home {
            Some(h) => {
                point_at(&provider, h)?;
                Home::Given(h.to_path_buf())
            }
            None => Home::Temp(
                tempfile::Builder::new()
                    .prefix("offline-home-")
                    .tempdir_in(&base)
                    .and_then(|d| provider.write_codex_home(d.path()).map(|_| d))
                    .context("creating the offline CODEX_HOME")?,
            ),
        };
        let workspace = match workspace {
            Some(w) => w.to_path_buf(),
            None => {
                let d = tempfile::Builder::new()
                    .prefix("workspace-")
                    .tempdir_in(&base)
                    .context("creating the offline workspace")?;
                // Kept so the files the turn created can be inspected.
                d.keep()
            }
        };
        Ok(Self {
            _provider: provider,
            home,
            workspace,
        })
    }

    pub fn home(&self) -> &Path {
        match &self.home {
            Home::Temp(d) => d.path(),
            Home::Given(p) => p,
        }
    }

    pub fn workspace(&self) -> &Path {
        &self.workspace
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
