//! Credential stores: log in with an API key through Codex itself, read the login back without
//! a process, and share it with an isolated home in another store (the OS keyring when one
//! answers; otherwise the typed error says why).
//!
//! ```sh
//! cargo run -p codex-driver --example credential_stores
//! ```

use codex_driver::auth::{self, CliAuthStore, LoginStore, Secret, login};
use codex_driver::{Binary, CodexHome, ErrorKind};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = Binary::resolve(None, true)?;
    let dir = tempfile::tempdir()?;
    let source = CodexHome::isolated(dir.path().join("source")).materialize()?;
    auth::store::set_cli_store(&source, &CliAuthStore::File)?;

    // The key goes to Codex's stdin, never its argv; the outcome is Codex's own words.
    let done = login::Login::api_key(Secret::new("sk-example-0000000000000000"))
        .binary(binary.clone())
        .codex_home(source.path())
        .start()
        .await?
        .wait()
        .await?;
    println!("codex login: {}", done.message);
    println!("source: {}", serde_json::to_string(&auth::status(&source))?);

    // An isolated home that keeps its login in the OS keyring.
    let isolated = CodexHome::isolated(dir.path().join("isolated")).materialize()?;
    auth::store::set_cli_store(&isolated, &CliAuthStore::Keyring)?;
    match tokio::task::spawn_blocking({
        let (s, i) = (source.clone(), isolated.clone());
        move || auth::seed(&s, &i)
    })
    .await?
    {
        Ok(seeded) => {
            println!("seeded into the {:?} store", seeded.login);
            println!(
                "isolated: {}",
                serde_json::to_string(&auth::status(&isolated))?
            );
            LoginStore::of(&isolated)?.delete()?;
        }
        // No Secret Service here (e.g. a bare container): the error says which and what to do.
        Err(e) if e.kind() == ErrorKind::CredentialStore => println!("{e}"),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
