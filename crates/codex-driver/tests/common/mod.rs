//! Shared set-up: a provider, a CODEX_HOME and a workspace per test.

use codex_driver::{Binary, Exec};
use codex_driver_testkit::{MockProvider, MockResponse, TempHome};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Temp dirs live under the target dir, not $TMPDIR, so Codex doesn't warn on every run.
pub fn tmp_base() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

pub fn codex() -> PathBuf {
    codex_driver_testkit::codex_binary()
        .unwrap_or_else(|| panic!("no Codex binary: run scripts/install-codex or set CODEX_BINARY"))
}

pub struct Env {
    pub provider: MockProvider,
    pub home: TempHome,
    pub ws: tempfile::TempDir,
}

impl Env {
    pub async fn new(script: Vec<MockResponse>) -> Self {
        let provider = MockProvider::start(script)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let home = provider
            .temp_home_in(&tmp_base())
            .unwrap_or_else(|e| panic!("{e}"));
        let ws = tempfile::Builder::new()
            .prefix("ws-")
            .tempdir_in(tmp_base())
            .unwrap_or_else(|e| panic!("{e}"));
        Self { provider, home, ws }
    }

    pub fn ws(&self) -> &Path {
        self.ws.path()
    }

    /// An Exec wired to this env: real binary, isolated home, workspace as cwd.
    pub fn exec(&self, prompt: &str) -> Exec {
        self.configure(Exec::new(prompt))
    }

    pub fn configure(&self, e: Exec) -> Exec {
        e.binary(Binary::at(codex()))
            .codex_home(self.home.path())
            .current_dir(self.ws())
            .skip_git_repo_check(true)
            .env_remove("RUST_BACKTRACE")
            .timeout(Duration::from_secs(120))
    }
}

/// Waits (bounded) until `f` is true; returns whether it became true.
pub async fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// Pids of live processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let zombie = std::fs::read_to_string(e.path().join("stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(false);
            if cmd.contains(marker) && !zombie {
                out.push(pid);
            }
        }
    }
    out
}
