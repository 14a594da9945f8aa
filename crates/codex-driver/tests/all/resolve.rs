//! Binary resolution, step by step, with real files in temp dirs and real npm layouts.

use crate::common::tmp_base;
use codex_driver::Error;
use codex_driver::binary::{BinarySource, ManagedInstalls, Resolver, target_triple};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("resolve-")
        .tempdir_in(tmp_base())
        .unwrap()
}

fn exe(path: &Path) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, "#!/bin/sh\necho codex-cli 0.0.1\n").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

// `CODEX_BINARY` may be set by the test runner (scripts/test), so these tests turn step 2 off
// unless they test it, and never change the process environment.

#[test]
fn explicit_wins_and_a_bad_explicit_path_is_an_error() {
    let d = dir();
    let bin = exe(&d.path().join("my/codex"));
    let res = Resolver::new()
        .explicit(&bin)
        .search_path(true)
        .resolve()
        .unwrap();
    assert_eq!(res.binary.path(), bin);
    assert_eq!(res.binary.source(), &BinarySource::Explicit);
    let missing = d.path().join("nope/codex");
    let err = Resolver::new()
        .explicit(&missing)
        .search_path(true)
        .resolve()
        .err();
    match err {
        Some(Error::BinaryNotFound { looked_in }) => {
            assert_eq!(
                looked_in,
                [format!("{} (not an executable file)", missing.display())]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn env_step_uses_codex_binary() {
    // Only meaningful when the runner set CODEX_BINARY (scripts/test does).
    let Some(env) = std::env::var_os("CODEX_BINARY") else {
        return;
    };
    let res = Resolver::new().resolve().unwrap();
    assert_eq!(res.binary.source(), &BinarySource::Env);
    assert_eq!(res.binary.path(), Path::new(&env));
}

#[test]
fn bundle_layouts() {
    let d = dir();
    let triple = target_triple().unwrap();
    let flat = exe(&d.path().join(triple).join("1.0.0/codex"));
    let res = Resolver::new()
        .use_env(false)
        .bundle(d.path(), "1.0.0")
        .resolve()
        .unwrap();
    assert_eq!(
        (res.binary.path(), res.binary.source()),
        (flat.as_path(), &BinarySource::Bundle)
    );
    let vendor = exe(&d.path().join(triple).join("2.0.0/bin/codex"));
    let res = Resolver::new()
        .use_env(false)
        .bundle(d.path(), "2.0.0")
        .resolve()
        .unwrap();
    assert_eq!(res.binary.path(), vendor);
}

#[test]
fn managed_picks_the_newest_or_the_requested_version() {
    let d = dir();
    let triple = target_triple().unwrap();
    exe(&d.path().join(triple).join("0.9.0/bin/codex"));
    let newest = exe(&d.path().join(triple).join("0.10.0/bin/codex"));
    std::fs::create_dir_all(d.path().join(triple).join("0.11.0")).unwrap(); // incomplete: ignored
    let installs = ManagedInstalls::new(d.path());
    let res = Resolver::new()
        .use_env(false)
        .managed(installs.clone(), None)
        .resolve()
        .unwrap();
    assert_eq!(
        (res.binary.path(), res.binary.source()),
        (newest.as_path(), &BinarySource::Managed)
    );
    let res = Resolver::new()
        .use_env(false)
        .managed(installs, Some("0.9.0".into()))
        .resolve()
        .unwrap();
    assert!(res.binary.path().ends_with("0.9.0/bin/codex"));
}

#[test]
fn nothing_found_lists_every_place_looked() {
    let d = dir();
    let triple = target_triple().unwrap();
    let err = Resolver::new()
        .use_env(false)
        .bundle(d.path().join("bundle"), "3.0.0")
        .managed(ManagedInstalls::new(d.path().join("managed")), None)
        .resolve()
        .err();
    match err {
        Some(Error::BinaryNotFound { looked_in }) => assert_eq!(
            looked_in,
            [
                format!(
                    "{}/bundle/{triple}/3.0.0/codex (missing)",
                    d.path().display()
                ),
                format!("{}/managed (no version installed)", d.path().display()),
                "$PATH (search disabled)".to_string(),
            ]
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_real_npm_launchers_lead_to_the_native_binaries() {
    // Real installs of every pinned version: node_modules/.bin/codex -> @openai/codex/bin/codex.js.
    for version in ["0.169.0", "0.130.0"] {
        let Some(native) = codex_driver_testkit::pinned_binary(version) else {
            panic!("run scripts/install-codex {version}");
        };
        let launcher = native
            .ancestors()
            .find(|p| p.ends_with("node_modules"))
            .unwrap()
            .join(".bin/codex");
        assert!(launcher.exists(), "{}", launcher.display());
        let res = Resolver::new().explicit(&launcher).resolve().unwrap();
        assert_eq!(res.binary.path(), native, "{version}");
        assert!(
            res.reason().starts_with("explicit step: "),
            "{}",
            res.reason()
        );
        assert!(res.reason().contains("npm launcher"), "{}", res.reason());
    }
}

/// Synthetic older npm layouts: 0.130 (`vendor/<triple>/codex/codex` in the platform package)
/// and 0.50 (every triple inside `@openai/codex/vendor/`).
#[test]
fn older_npm_layouts() {
    let triple = target_triple().unwrap();
    let platform = codex_driver::binary::npm_platform().unwrap();
    for (label, native_rel) in [
        (
            "0.130",
            format!("@openai/codex-{platform}/vendor/{triple}/codex/codex"),
        ),
        ("0.50", format!("@openai/codex/vendor/{triple}/codex/codex")),
    ] {
        let d = dir();
        let nm = d.path().join("node_modules");
        let js = nm.join("@openai/codex/bin/codex.js");
        exe(&js);
        let native = exe(&nm.join(&native_rel));
        std::fs::create_dir_all(nm.join(".bin")).unwrap();
        std::os::unix::fs::symlink("../@openai/codex/bin/codex.js", nm.join(".bin/codex")).unwrap();
        let res = Resolver::new()
            .explicit(nm.join(".bin/codex"))
            .resolve()
            .unwrap();
        assert_eq!(res.binary.path(), native, "{label}");
    }
}
