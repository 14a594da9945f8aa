//! Managed installs against a mock npm registry on 127.0.0.1.

use crate::common::tmp_base;
use codex_driver::binary::{
    ManagedInstalls, Resolver, TESTED_CODEX, npm_platform, pinned_integrity, target_triple,
};
use codex_driver::error::InstallStage;
use codex_driver::install::{DEFAULT_REGISTRY, Installer, NpmConfig, Progress};
use codex_driver::{Binary, Error};
use codex_driver_testkit::{MockRegistry, TarballFault};
use std::path::Path;

fn installs() -> (tempfile::TempDir, ManagedInstalls) {
    let dir = tempfile::Builder::new()
        .prefix("installs-")
        .tempdir_in(tmp_base())
        .unwrap();
    let installs = ManagedInstalls::new(dir.path());
    (dir, installs)
}

async fn registry(version: &str, fault: Option<TarballFault>) -> MockRegistry {
    let r = MockRegistry::start().await.unwrap();
    r.publish_fake_codex(
        version,
        npm_platform().unwrap(),
        target_triple().unwrap(),
        fault,
    )
    .unwrap();
    r
}

/// Everything under `dir` except lock files, relative.
fn contents(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if rel.ends_with(".install.lock") {
                continue;
            }
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(rel);
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn installs_latest_verifies_and_resolves() -> anyhow::Result<()> {
    let reg = registry("9.8.7", None).await;
    let (_d, installs) = installs();
    let mut events = Vec::new();
    let inst = Installer::new(installs.clone())
        .registry(reg.url())
        .install("latest", &mut |p| events.push(p))
        .await?;
    assert_eq!(inst.version, semver::Version::new(9, 8, 7));
    assert!(!inst.already_installed);
    let triple = target_triple().unwrap();
    assert_eq!(
        inst.binary,
        installs.root().join(triple).join("9.8.7/bin/codex")
    );
    assert_eq!(
        Binary::at(&inst.binary).version().await?,
        semver::Version::new(9, 8, 7)
    );
    assert_eq!(events.first(), Some(&Progress::Resolving));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Progress::Downloading { total: Some(_), .. }))
    );
    assert_eq!(
        contents(installs.root()),
        [
            triple.to_string(),
            format!("{triple}/9.8.7"),
            format!("{triple}/9.8.7/bin"),
            format!("{triple}/9.8.7/bin/codex"),
            format!("{triple}/9.8.7/codex-package.json"),
        ]
    );
    // The resolver's managed step finds it.
    let res = Resolver::new()
        .use_env(false)
        .managed(installs.clone(), None)
        .resolve()?;
    assert_eq!(res.binary.path(), inst.binary);
    // A second install is a no-op without network.
    let before = reg.requests().len();
    let again = Installer::new(installs)
        .registry(reg.url())
        .install("9.8.7", &mut |_| {})
        .await?;
    assert!(again.already_installed);
    assert_eq!(reg.requests().len(), before);
    Ok(())
}

#[tokio::test]
async fn tampered_tarball_is_rejected_and_nothing_is_left() -> anyhow::Result<()> {
    let reg = registry("1.2.3", Some(TarballFault::Tampered)).await;
    let (_d, installs) = installs();
    let err = Installer::new(installs.clone())
        .registry(reg.url())
        .install("1.2.3", &mut |_| {})
        .await
        .err();
    match err {
        Some(Error::Integrity {
            expected,
            actual,
            url,
        }) => {
            assert!(expected.starts_with("sha512-"));
            assert!(actual.starts_with("sha512-"));
            assert_ne!(expected, actual);
            assert!(url.ends_with(".tgz"), "{url}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        contents(installs.root()),
        [target_triple().unwrap().to_string()]
    );
    Ok(())
}

#[tokio::test]
async fn truncated_download_fails_and_nothing_is_left() -> anyhow::Result<()> {
    let reg = registry("1.2.4", Some(TarballFault::Truncated)).await;
    let (_d, installs) = installs();
    let err = Installer::new(installs.clone())
        .registry(reg.url())
        .install("1.2.4", &mut |_| {})
        .await
        .err();
    assert!(
        matches!(
            err,
            Some(Error::Install {
                stage: InstallStage::Download,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        contents(installs.root()),
        [target_triple().unwrap().to_string()]
    );
    Ok(())
}

#[tokio::test]
async fn unknown_version_is_a_registry_error() -> anyhow::Result<()> {
    let reg = registry("1.0.0", None).await;
    let (_d, installs) = installs();
    let err = Installer::new(installs)
        .registry(reg.url())
        .install("5.5.5", &mut |_| {})
        .await
        .err();
    match err {
        Some(Error::Install {
            stage: InstallStage::Registry,
            detail,
            ..
        }) => assert!(detail.contains("HTTP 404"), "{detail}"),
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn concurrent_installers_do_not_corrupt_each_other() -> anyhow::Result<()> {
    let reg = registry("2.0.0", None).await;
    let (_d, installs) = installs();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (i, url) = (installs.clone(), reg.url());
        tasks.push(tokio::spawn(async move {
            Installer::new(i)
                .registry(url)
                .install("2.0.0", &mut |_| {})
                .await
        }));
    }
    let mut fresh = 0;
    for t in tasks {
        let inst = t.await??;
        fresh += usize::from(!inst.already_installed);
        assert_eq!(
            Binary::at(&inst.binary).version().await?,
            semver::Version::new(2, 0, 0)
        );
    }
    assert_eq!(fresh, 1, "exactly one installer unpacked");
    assert_eq!(installs.installed(), vec![semver::Version::new(2, 0, 0)]);
    Ok(())
}

#[tokio::test]
async fn a_private_registry_gets_the_npmrc_token_and_only_it_does() -> anyhow::Result<()> {
    let reg = registry("4.4.4", None).await;
    reg.require_token("s3cret-npm-token");
    let install = |cfg: NpmConfig| async move {
        let (d, installs) = installs();
        let r = Installer::new(installs)
            .npm_config(cfg)
            .install("latest", &mut |_| {})
            .await;
        (d, r)
    };
    let registry_failure = |r: codex_driver::Result<_>| match r {
        Err(Error::Install {
            stage: InstallStage::Registry,
            detail,
            ..
        }) => detail,
        other => panic!("{other:?}"),
    };

    // No credentials configured: refused, and the error says so.
    let (_d, r) = install(NpmConfig::new(reg.url())).await;
    let detail = registry_failure(r);
    assert!(detail.contains("HTTP 401"), "{detail}");
    assert!(detail.contains("no credentials"), "{detail}");

    // A wrong token: refused, named as refused, never shown.
    let (_d, r) = install(NpmConfig::new(reg.url()).with_token("wrong-token")).await;
    let detail = registry_failure(r);
    assert!(detail.contains("credentials were refused"), "{detail}");
    assert!(!detail.contains("wrong-token"), "{detail}");

    // The token from an .npmrc line, `${VAR}` expanded: packument and tarball both carry it.
    let scope = reg.url().replace("http:", "");
    let mut cfg = NpmConfig::new(reg.url());
    cfg.add_npmrc(
        &format!("//elsewhere.example/:_authToken=other\n{scope}:_authToken=${{NPM_TOKEN}}\n"),
        &|k| (k == "NPM_TOKEN").then(|| "s3cret-npm-token".to_owned()),
    );
    assert!(!format!("{cfg:?}").contains("s3cret"));
    let before = reg.requests().len();
    let (_d, r) = install(cfg).await;
    let installed = r?;
    assert_eq!(installed.version.to_string(), "4.4.4");
    let auths = &reg.authorizations()[before..];
    assert!(auths.len() >= 2, "{auths:?}");
    assert!(
        auths
            .iter()
            .all(|a| a.as_deref() == Some("Bearer s3cret-npm-token"))
    );
    Ok(())
}

/// A tested release whose registry (a mirror, or one a configuration pointed at) serves a
/// self-consistent package of its own, tarball and `dist.integrity` agreeing: refused before
/// anything is downloaded, because the library pins the real hash.
#[tokio::test]
async fn a_pinned_release_with_another_hash_is_refused() -> anyhow::Result<()> {
    let version = TESTED_CODEX[0];
    let pin = pinned_integrity(version, npm_platform().unwrap()).unwrap();
    let reg = registry(version, None).await;
    for requested in [version, "latest"] {
        let (_d, installs) = installs();
        let err = Installer::new(installs.clone())
            .registry(reg.url())
            .install(requested, &mut |_| {})
            .await
            .err();
        match err {
            Some(Error::Install {
                stage: InstallStage::Integrity,
                detail,
                ..
            }) => {
                assert!(detail.contains(&format!("@{version}-")), "{detail}");
                assert!(detail.contains(pin), "{detail}");
                assert_eq!(detail.matches("sha512-").count(), 2, "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert!(installs.installed().is_empty());
        assert_eq!(contents(installs.root()), Vec::<String>::new());
    }
    assert!(!reg.requests().iter().any(|r| r.ends_with(".tgz")));
    Ok(())
}

/// A registry can't dodge the pin of a tested release with build metadata or a pre-release tag
/// on its version (`latest` -> `0.169.0+x`).
#[tokio::test]
async fn a_tested_version_with_a_suffix_is_still_held_to_its_pin() -> anyhow::Result<()> {
    for suffix in ["+evil", "-rc.1"] {
        let version = format!("{}{suffix}", TESTED_CODEX[0]);
        let reg = registry(&version, None).await;
        let (_d, installs) = installs();
        let err = Installer::new(installs.clone())
            .registry(reg.url())
            .install("latest", &mut |_| {})
            .await
            .err();
        assert!(
            matches!(
                err,
                Some(Error::Install {
                    stage: InstallStage::Integrity,
                    ..
                })
            ),
            "{suffix}: {err:?}"
        );
        assert!(installs.installed().is_empty());
    }
    Ok(())
}

/// Metadata announcing the pinned hash does not make other bytes acceptable.
#[tokio::test]
async fn a_pinned_release_must_hash_to_its_pin() -> anyhow::Result<()> {
    let (version, platform) = (TESTED_CODEX[0], npm_platform().unwrap());
    let pin = pinned_integrity(version, platform).unwrap();
    let reg = registry(version, None).await;
    assert!(reg.set_integrity(&format!("{version}-{platform}"), pin));
    let (_d, installs) = installs();
    let err = Installer::new(installs.clone())
        .registry(reg.url())
        .install(version, &mut |_| {})
        .await
        .err();
    match err {
        Some(Error::Integrity {
            expected, actual, ..
        }) => {
            assert_eq!(expected, pin);
            assert!(actual.starts_with("sha512-") && actual != pin, "{actual}");
        }
        other => panic!("{other:?}"),
    }
    assert!(installs.installed().is_empty());
    assert_eq!(
        contents(installs.root()),
        [target_triple().unwrap().to_string()]
    );
    Ok(())
}

/// Set in the child process of the test below.
const NPMRC_CHILD: &str = "CDRV_TEST_NPMRC_CHILD";

/// `.npmrc` files in the working directory and each parent (a cloned repository's, another
/// user's `/tmp/.npmrc`) name a hostile registry and ask for `${SECRET}`: `NpmConfig::load`
/// reads none of them, nor does the `npm config get` it falls back to. Runs `load` in a child
/// process of this test binary, so the working directory is its own.
#[tokio::test]
async fn npmrc_files_of_the_working_directory_and_its_parents_are_not_read() -> anyhow::Result<()> {
    if std::env::var_os(NPMRC_CHILD).is_some() {
        let cfg = NpmConfig::load().await;
        println!(
            "\nNPMCFG {} {}",
            cfg.registry(),
            cfg.has_credentials_for("https://evil.example/x.tgz")
        );
        return Ok(());
    }
    let root = tempfile::Builder::new()
        .prefix("npmrc-")
        .tempdir_in(tmp_base())?;
    let (repo, home) = (root.path().join("repo"), root.path().join("home"));
    std::fs::create_dir_all(repo.join("src"))?;
    std::fs::create_dir_all(&home)?;
    let hostile = "registry=https://evil.example/\n//evil.example/:_authToken=${SECRET}\n_authToken=${SECRET}\n";
    for dir in [root.path(), &repo, &repo.join("src")] {
        std::fs::write(dir.join(".npmrc"), hostile)?;
    }
    // npm itself would take `repo/.npmrc` as the project's config from `repo/src`.
    std::fs::write(repo.join("package.json"), "{}")?;
    let load = |user_npmrc: &str| -> anyhow::Result<String> {
        std::fs::write(home.join(".npmrc"), user_npmrc)?;
        let out = std::process::Command::new(std::env::current_exe()?)
            .args([
                "--exact",
                "install::npmrc_files_of_the_working_directory_and_its_parents_are_not_read",
                "--nocapture",
                "--test-threads=1",
            ])
            .current_dir(repo.join("src"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env(
                "NPM_CONFIG_GLOBALCONFIG",
                root.path().join("no-global-npmrc"),
            )
            .env("SECRET", "hunter2")
            .env(NPMRC_CHILD, "1")
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .find_map(|l| l.split_once("NPMCFG ").map(|(_, v)| v))
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no answer from the child: {stdout}"))
    };
    // The user's file names the registry.
    assert_eq!(
        load("registry=https://user.example/\n")?,
        "https://user.example/ false"
    );
    // No file does: npm answers (global mode, no project file), or the public default.
    assert_eq!(load("")?, format!("{DEFAULT_REGISTRY} false"));
    Ok(())
}
