//! Capability probing: parsers on captured help output, the real binaries, and the disk cache.

use crate::common::tmp_base;
use codex_driver::probe::{FeatureStage, Prober, parse_features, parse_help};
use codex_driver::{Binary, Error, Exec};
use std::os::unix::fs::PermissionsExt;

fn fixture(rel: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/help")
            .join(rel),
    )
    .unwrap()
}

#[test]
fn help_parsers_on_captured_output() {
    let top = parse_help(&fixture("0.169.0/codex.txt"));
    for c in [
        "exec",
        "e",
        "app-server",
        "mcp",
        "features",
        "doctor",
        "fork",
    ] {
        assert!(top.commands.contains(c), "{c}");
    }
    assert!(!top.commands.contains("mcp-server"));
    assert!(
        parse_help(&fixture("0.130.0/codex.txt"))
            .commands
            .contains("mcp-server")
    );

    let exec169 = parse_help(&fixture("0.169.0/exec.txt"));
    let exec130 = parse_help(&fixture("0.130.0/exec.txt"));
    assert_eq!(
        exec169.commands.iter().collect::<Vec<_>>(),
        ["fork", "help", "resume", "review"]
    );
    assert_eq!(
        exec130.commands.iter().collect::<Vec<_>>(),
        ["help", "resume", "review"]
    );
    let new_flags: Vec<&String> = exec169.flags.difference(&exec130.flags).collect();
    assert_eq!(
        new_flags,
        [
            "--approve-for-me",
            "--cyber-access-program",
            "--dangerously-bypass-hook-trust",
            "--strict-config",
            "--thread-source",
            "--trust",
            "--worktree"
        ]
    );
}

#[test]
fn features_parser_on_captured_output() {
    let f = parse_features(&fixture("0.169.0/features-list.txt"));
    assert_eq!(f.len(), 215);
    assert_eq!(f[0].name, "agent_message_board");
    assert_eq!(f[0].stage, FeatureStage::UnderDevelopment);
    assert!(!f[0].enabled);
    assert!(
        f.iter()
            .any(|x| x.stage == FeatureStage::Stable && x.enabled)
    );
    assert_eq!(
        parse_features(&fixture("0.130.0/features-list.txt")).len(),
        74
    );
}

#[tokio::test]
async fn probes_the_real_binaries() -> anyhow::Result<()> {
    let cache = tempfile::Builder::new()
        .prefix("probe-")
        .tempdir_in(tmp_base())?;
    let prober = Prober::new().cache_dir(Some(cache.path().to_path_buf()));
    let caps = prober.probe(&Binary::at(crate::common::codex())).await?;
    let release = crate::common::version();
    assert_eq!(caps.version.to_string(), release);
    // The captured help of every tested release is that release's own.
    assert_eq!(
        caps.exec_flags,
        parse_help(&fixture(&format!("{release}/exec.txt"))).flags
    );
    assert_eq!(
        caps.commands,
        parse_help(&fixture(&format!("{release}/codex.txt"))).commands
    );
    assert!(caps.exec_flags.contains("--json"));
    assert!(caps.features.len() > 50);
    if !caps.exec_flags.contains("--worktree") {
        eprintln!("SKIP the --worktree guard half: Codex {release}'s exec --help lacks it");
        return Ok(());
    }
    let old = prober
        .probe(&Binary::at(
            codex_driver_testkit::pinned_binary("0.130.0").unwrap(),
        ))
        .await?;
    assert_eq!(old.version, semver::Version::new(0, 130, 0));
    assert!(!old.exec_flags.contains("--worktree"));
    // The probe drives the guard: a flag the binary's help lacks is refused before spawning.
    let err = Exec::new("x").worktree(true).check_capabilities(&old).err();
    assert!(
        matches!(err, Some(Error::Unsupported { ref option, .. }) if option == "--worktree"),
        "{err:?}"
    );
    assert!(
        Exec::new("x")
            .worktree(true)
            .check_capabilities(&caps)
            .is_ok()
    );
    Ok(())
}

#[tokio::test]
async fn cache_hit_stale_and_changed_binary() -> anyhow::Result<()> {
    let d = tempfile::Builder::new()
        .prefix("probe-cache-")
        .tempdir_in(tmp_base())?;
    let counter = d.path().join("runs");
    let bin = d.path().join("codex");
    let script = |v: &str| {
        format!(
            "#!/bin/sh\necho x >> '{}'\ncase \"$1\" in\n  --version) echo 'codex-cli {v}' ;;\n  features) echo 'web_search                               stable             true' ;;\n  *) printf 'Usage: codex\\n\\nCommands:\\n  exec  Run\\n\\nOptions:\\n      --json\\n' ;;\nesac\n",
            counter.display()
        )
    };
    std::fs::write(&bin, script("1.0.0"))?;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
    let runs = || {
        std::fs::read_to_string(&counter)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let prober = Prober::new().cache_dir(Some(d.path().join("cache")));
    let first = prober.probe(&Binary::at(&bin)).await?;
    assert_eq!(first.version, semver::Version::new(1, 0, 0));
    assert_eq!(first.features.len(), 1);
    assert_eq!(runs(), 4);
    // Hit: no process runs.
    assert_eq!(prober.probe(&Binary::at(&bin)).await?, first);
    assert_eq!(runs(), 4);
    // Explicit refresh.
    prober
        .clone()
        .refresh(true)
        .probe(&Binary::at(&bin))
        .await?;
    assert_eq!(runs(), 8);
    // Stale (TTL 0).
    prober
        .clone()
        .ttl(std::time::Duration::ZERO)
        .probe(&Binary::at(&bin))
        .await?;
    assert_eq!(runs(), 12);
    // Changed binary (size differs): re-probed, new version seen.
    std::fs::write(&bin, script("1.0.10"))?;
    let changed = prober.probe(&Binary::at(&bin)).await?;
    assert_eq!(changed.version, semver::Version::new(1, 0, 10));
    assert_eq!(runs(), 16);
    Ok(())
}
