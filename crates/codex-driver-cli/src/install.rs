//! `codex-driver install`, and the pinned Codex installed on first use: managed installs with
//! a progress bar on stderr.

use anyhow::Result;
use codex_driver::binary::{AUTO_INSTALL_ENV, ManagedInstalls, PINNED_CODEX, Resolution, Resolver};
use codex_driver::install::{Installer, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} {bytes}/{total_bytes} {bar:30} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn show(b: &ProgressBar, p: Progress) {
    match p {
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
    }
}

pub async fn run(installs: ManagedInstalls, version: &str, registry: Option<String>) -> Result<()> {
    let bar = bar();
    let mut installer = Installer::new(installs);
    if let Some(r) = registry {
        installer = installer.registry(r);
    }
    let b = bar.clone();
    let installed = installer.install(version, &mut move |p| show(&b, p)).await;
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

/// Resolves with `resolver`; when it installs the pinned release (nothing else gave a binary),
/// says so on stderr with a progress bar.
pub async fn resolve(resolver: &Resolver) -> Result<Resolution> {
    let bar = bar();
    let started = Arc::new(AtomicBool::new(false));
    let (b, s) = (bar.clone(), started.clone());
    let res = resolver
        .resolve_or_install(&mut move |p| {
            if !s.swap(true, Ordering::Relaxed) {
                b.suspend(|| {
                    eprintln!(
                        "codex-driver: no Codex binary found; installing the release this build is pinned to, {PINNED_CODEX} (once; {AUTO_INSTALL_ENV}=0 or --no-install turns this off)"
                    )
                });
            }
            show(&b, p);
        })
        .await;
    bar.finish_and_clear();
    let res = res?;
    if started.load(Ordering::Relaxed) {
        eprintln!(
            "codex-driver: installed codex {PINNED_CODEX} at {}",
            res.binary.path().display()
        );
    }
    Ok(res)
}
