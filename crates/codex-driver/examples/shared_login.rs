//! Many isolated Codex homes sharing one ChatGPT login, offline against the test kit's mock
//! issuer: Codex refreshes the tokens in one home, `auth::sync` copies them back, and the next
//! home refreshes with the current token instead of a spent one (`refresh_token_reused`).
//!
//! `scripts/install-codex && cargo run -p codex-driver --example shared_login`

use codex_driver::app_server::AppServer;
use codex_driver::auth;
use codex_driver::env::SpawnEnv;
use codex_driver::{Binary, CodexHome};
use codex_driver_testkit::{MockIssuer, codex_binary};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex = codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    let issuer = MockIssuer::start().await?;
    // Homes outside the temp dir (Codex warns about CODEX_HOME under it).
    let root = tempfile::tempdir_in(".")?;
    let make = |name: &str| -> anyhow::Result<CodexHome> {
        let h = CodexHome::isolated(root.path().join(name)).materialize()?;
        std::fs::write(h.config_toml(), issuer.config_toml())?;
        Ok(h)
    };
    let (source, workers) = (make("source")?, [make("worker-a")?, make("worker-b")?]);
    issuer.write_auth_json(source.path(), false)?; // the user's one ChatGPT login

    for home in &workers {
        // Before a run: take the newest login. After it: give back what Codex refreshed.
        println!(
            "{}: before {:?}",
            home.path().display(),
            auth::sync(home, &source)?
        );
        let mut env = SpawnEnv::new();
        for (k, v) in issuer.env() {
            env.set(k, v);
        }
        let server = AppServer::new()
            .binary(Binary::at(&codex))
            .codex_home(home.path())
            .spawn_env(env)
            .spawn()
            .await?;
        let account = server.account_refreshed().await?; // Codex rotates the refresh token
        server.shutdown().await?;
        println!("  signed in: {}", account.account.is_some());
        println!("  after: {:?}", auth::sync(home, &source)?);
    }
    println!(
        "refresh tokens presented to the issuer: {:?}",
        issuer.refreshes()
    );
    Ok(())
}
