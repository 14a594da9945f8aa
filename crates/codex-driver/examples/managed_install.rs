//! A managed install from an npm registry, then resolving the binary, against the test kit's
//! mock registry (a private one: it wants a token, as `.npmrc` would give it).
//!
//! `cargo run -p codex-driver --example managed_install`

use codex_driver::binary::{ManagedInstalls, Resolver, npm_platform, target_triple};
use codex_driver::install::{Installer, NpmConfig, Progress};
use codex_driver_testkit::MockRegistry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let registry = MockRegistry::start().await?;
    let (platform, triple) = (
        npm_platform().ok_or_else(|| anyhow::anyhow!("no Codex package for this platform"))?,
        target_triple().ok_or_else(|| anyhow::anyhow!("no Codex package for this platform"))?,
    );
    registry.publish_fake_codex("9.9.9", platform, triple, None)?;
    registry.require_token("example-token");

    let dir = tempfile::tempdir()?;
    let installs = ManagedInstalls::new(dir.path());
    let mut npm = NpmConfig::new(registry.url());
    // What a `//host/:_authToken=${NPM_TOKEN}` line in .npmrc gives.
    npm.add_npmrc(
        &format!(
            "{}:_authToken=${{NPM_TOKEN}}\n",
            registry.url().trim_start_matches("http:")
        ),
        &|var| (var == "NPM_TOKEN").then(|| "example-token".to_owned()),
    );
    let installed = Installer::new(installs.clone())
        .npm_config(npm)
        .install("latest", &mut |p| {
            if let Progress::Downloading {
                done,
                total: Some(t),
            } = p
            {
                println!("downloading {done}/{t}");
            }
        })
        .await?;
    println!(
        "installed {} at {}",
        installed.version,
        installed.binary.display()
    );

    // $CODEX_BINARY would win over managed installs; this app only uses its own.
    let found = Resolver::new()
        .use_env(false)
        .managed(installs, None)
        .resolve()?;
    println!(
        "resolved {} ({})",
        found.binary.path().display(),
        found.reason()
    );
    Ok(())
}
