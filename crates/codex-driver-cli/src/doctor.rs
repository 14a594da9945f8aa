//! `codex-driver doctor`: prints the library's [`Report`] as JSON or as a table.

use anyhow::Result;
use codex_driver::doctor::{BinaryReport, ConfigReport, Report, Section};
use codex_driver::home::CodexHome;

/// Prints the report on `resolver`'s binary and `home`; returns whether it is `ok`.
pub async fn run(
    resolver: &codex_driver::Resolver,
    home: &CodexHome,
    as_json: bool,
) -> Result<bool> {
    let report = Report::collect(resolver, home).await;
    if as_json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_table(&report)?;
    }
    Ok(report.ok)
}

/// `-` for nothing, else the text.
fn or_dash(v: Option<impl std::fmt::Display>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn print_table(r: &Report) -> Result<()> {
    let row = |k: &str, v: String| outln!("{k:<16} {v}");
    match &r.binary {
        BinaryReport::Found(b) => {
            row("binary", b.path.display().to_string())?;
            row("chosen by", b.reason.clone())?;
            row("version", or_dash(b.version.as_ref()))?;
            row(
                "support",
                format!(
                    "{} (supported {}, tested {})",
                    b.support,
                    r.supported_range,
                    serde_json::to_string(&r.tested_versions)?
                ),
            )?;
        }
        BinaryReport::NotFound { error } => row("binary", format!("NOT FOUND: {error}"))?,
        other => row("binary", format!("{other:?}"))?,
    }
    let h = &r.home;
    row(
        "CODEX_HOME",
        format!(
            "{} (exists: {}, mode: {})",
            h.path.display(),
            h.exists,
            or_dash(h.mode)
        ),
    )?;
    if h.is_users_home {
        row("", "this is the user's own Codex home".into())?;
    }
    if h.under_temp_dir {
        row(
            "",
            "warning: under the temp dir; Codex will warn on every command".into(),
        )?;
    }
    for f in &h.files {
        let state = if f.present {
            format!("present, mode {}", or_dash(f.mode))
        } else {
            "absent".into()
        };
        row(&format!("  {}", f.name), state)?;
    }
    row(
        "auth",
        match &r.auth {
            Section::Read(None) => "no auth.json (not logged in)".into(),
            Section::Read(Some(a)) => format!(
                "mode {}, api key: {}, tokens: {}, last refresh: {}",
                or_dash(a.mode.as_deref()),
                a.has_api_key,
                a.has_tokens,
                or_dash(a.last_refresh.as_deref())
            ),
            Section::Failed { error } => error.clone(),
        },
    )?;
    row(
        "stores",
        match &r.credential_stores {
            Section::Read(s) => format!(
                "login: {}, mcp oauth: {}{}",
                s.cli,
                s.mcp,
                if s.secrets_backend {
                    ", secret_auth_storage on (not read by codex-driver)"
                } else {
                    ""
                }
            ),
            Section::Failed { error } => error.clone(),
        },
    )?;
    row("auth status", crate::auth::describe(&r.auth_status))?;
    match &r.config {
        ConfigReport::Read(c) => {
            row("mcp servers", serde_json::to_string(&c.mcp_servers)?)?;
            row(
                "notify",
                match &c.notify {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => "-".into(),
                },
            )?;
        }
        ConfigReport::Unreadable { error } => {
            row("config.toml", format!("UNREADABLE: {error}"))?;
        }
        other => row("config.toml", format!("{other:?}"))?,
    }
    row(
        "sessions",
        match &r.sessions {
            Section::Read(s) => format!("{} saved ({} archived)", s.saved, s.archived),
            Section::Failed { error } => error.clone(),
        },
    )?;
    row(
        "overall",
        if r.ok {
            "ok".into()
        } else {
            "PROBLEMS FOUND".into()
        },
    )?;
    Ok(())
}
