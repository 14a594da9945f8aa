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

/// A registry serving the pinned release's real tarball (from npm's cache), and its URL.
fn registry_with_the_pinned_release()
-> (tokio::runtime::Runtime, codex_driver_testkit::MockRegistry) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reg = rt
        .block_on(codex_driver_testkit::MockRegistry::start())
        .unwrap();
    let platform = codex_driver::binary::npm_platform().unwrap();
    let tarball =
        codex_driver_testkit::real_codex_tarball(codex_driver::binary::PINNED_CODEX, platform)
            .unwrap_or_else(|e| panic!("{e} (scripts/install-codex fills npm's cache)"));
    reg.publish(
        &format!("{}-{platform}", codex_driver::binary::PINNED_CODEX),
        tarball,
        None,
    );
    (rt, reg)
}

#[test]
fn the_pinned_release_is_installed_once_when_nothing_else_gives_a_binary() {
    use codex_driver::binary::PINNED_CODEX;
    use codex_driver::install::{Installer, Progress};
    let (rt, reg) = registry_with_the_pinned_release();
    let d = dir();
    let installs = ManagedInstalls::new(d.path().join("versions"));
    let resolver = Resolver::new()
        .use_env(false)
        .search_path(false)
        .install_pinned_with(Installer::new(installs.clone()).registry(reg.url()));
    // Without installing, nothing is found.
    assert!(matches!(
        resolver.resolve(),
        Err(Error::BinaryNotFound { .. })
    ));
    let mut seen = Vec::new();
    let res = rt
        .block_on(resolver.resolve_or_install(&mut |p| {
            if !matches!(p, Progress::Downloading { .. })
                || !seen
                    .iter()
                    .any(|s: &Progress| matches!(s, Progress::Downloading { .. }))
            {
                seen.push(p);
            }
        }))
        .unwrap();
    assert_eq!(res.binary.source(), &BinarySource::Managed);
    assert_eq!(
        res.binary.path(),
        installs.binary(PINNED_CODEX).unwrap().as_path()
    );
    let last = res.looked.last().unwrap();
    assert_eq!(
        last.outcome,
        format!("installed the pinned release {PINNED_CODEX} on first use")
    );
    assert!(
        matches!(seen.first(), Some(Progress::Resolving)),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|p| matches!(p, Progress::Unpacking)),
        "{seen:?}"
    );
    let version = std::process::Command::new(res.binary.path())
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!("codex-cli {PINNED_CODEX}\n")
    );
    // The second time the managed step finds it: nothing is downloaded again.
    let again = rt
        .block_on(resolver.resolve_or_install(&mut |_| {}))
        .unwrap();
    assert_eq!(again.binary.path(), res.binary.path());
    assert_eq!(again.looked.last().unwrap().outcome, "executable");
    let downloads = reg
        .requests()
        .iter()
        .filter(|r| r.ends_with(".tgz"))
        .count();
    assert_eq!(downloads, 1, "{:?}", reg.requests());
}

#[test]
fn a_failed_install_is_the_error_naming_its_stage() {
    use codex_driver::install::Installer;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reg = rt
        .block_on(codex_driver_testkit::MockRegistry::start())
        .unwrap();
    let d = dir();
    let installs = ManagedInstalls::new(d.path().join("versions"));
    let err = rt
        .block_on(
            Resolver::new()
                .use_env(false)
                .search_path(false)
                .install_pinned_with(Installer::new(installs).registry(reg.url()))
                .resolve_or_install(&mut |_| {}),
        )
        .unwrap_err();
    assert_eq!(err.kind(), codex_driver::ErrorKind::Binary, "{err}");
    assert!(matches!(err, Error::Install { .. }), "{err:?}");
    assert!(
        err.to_string().contains(codex_driver::binary::PINNED_CODEX),
        "{err}"
    );
    assert!(
        std::fs::read_dir(d.path().join("versions")).map_or(true, |mut e| e
            .all(|e| { e.is_ok_and(|e| e.path().is_dir()) }))
    );
}
