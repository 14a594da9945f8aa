//! `codex-driver install`: a managed install with a progress bar.

use anyhow::Result;
use codex_driver::binary::ManagedInstalls;
use codex_driver::install::{Installer, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub async fn run(installs: ManagedInstalls, version: &str, registry: Option<String>) -> Result<()> {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} {bytes}/{total_bytes} {bar:30} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut installer = Installer::new(installs);
    if let Some(r) = registry {
        installer = installer.registry(r);
    }
    let b = bar.clone();
    let installed = installer
        .install(version, &mut move |p| match p {
            Progress::Resolving => b.set_message("resolving"),
            Progress::Downloading { done, total } => {
                b.set_message("downloading");
                if let Some(t) = total {
                    b.set_length(t);
                }
                b.set_position(done);
            }
            Progress::Unpacking => b.set_message("unpacking"),
            _ => {}
        })
        .await;
    bar.finish_and_clear();
    let installed = installed?;
    if installed.already_installed {
        eprintln!("codex {} is already installed", installed.version);
    } else {
        eprintln!("installed codex {}", installed.version);
    }
    outln!("{}", installed.binary.display())?;
    Ok(())
}
