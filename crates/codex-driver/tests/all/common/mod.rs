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

/// A valid 2x2 red PNG.
pub const PNG_2X2: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xFD, 0xD4, 0x9A,
    0x73, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
    0x44, 0x0C, 0x10, 0x0A, 0x00, 0x1F, 0xEE, 0x03, 0xFD, 0x8B, 0x5F, 0x14, 0xD4, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// The `image_url` of every `input_image` content span of a Responses request's user messages.
pub fn input_images(req: &codex_driver_testkit::RecordedRequest) -> Vec<String> {
    req.input()
        .iter()
        .filter_map(|i| i.get("content").and_then(serde_json::Value::as_array))
        .flatten()
        .filter(|c| c.get("type").and_then(serde_json::Value::as_str) == Some("input_image"))
        .filter_map(|c| {
            c.get("image_url")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

/// Waits (up to 5 s) until no process has `marker` in its command line.
pub async fn all_gone(marker: &str) -> bool {
    eventually(Duration::from_secs(5), || processes_with(marker).is_empty()).await
}

/// The version of the Codex under test (`codex --version`), e.g. `0.169.0`.
pub fn version() -> String {
    let out = std::process::Command::new(codex())
        .arg("--version")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// A model turn running `touch FILE` in a way the Codex under test asks approval for under the
/// `untrusted` policy: releases before 0.131 ask before any write (and reject
/// `sandbox_permissions`); later ones ask when the model requests escalation. No probe tells
/// the two apart, hence the version.
pub fn touch_needing_approval(file: &str) -> MockResponse {
    let asks_for_any_write =
        semver::Version::parse(&version()).is_ok_and(|v| v < semver::Version::new(0, 131, 0));
    if asks_for_any_write {
        return MockResponse::new().exec_command(format!("touch {file}"));
    }
    MockResponse::new().exec_command_with(serde_json::json!({
        "cmd": format!("touch {file}"),
        "sandbox_permissions": "require_escalated",
        "justification": "need to write",
    }))
}

/// Writes `body` as an executable script `name` in a directory of this test process (once per
/// name), for fakes of the `codex` binary.
pub fn write_script(dir_name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp_base().join(format!("{dir_name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join("codex");
    std::fs::write(&path, body).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    path
}

/// Runs `test`, an ignored *host* test of this binary, alone in a process of its own (so other
/// tests don't disturb what it measures) with `envs`; returns the JSON of its `REPORT ` line.
pub fn run_host(test: &str, envs: &[(&str, &std::ffi::OsStr)]) -> String {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--ignored", "--exact", test, "--nocapture"])
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split_once("REPORT ").map(|(_, r)| r.to_owned()))
        .unwrap_or_else(|| {
            panic!(
                "{test} {envs:?}: the host reported nothing ({:?}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })
}
