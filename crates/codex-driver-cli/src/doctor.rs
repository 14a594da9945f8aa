//! `codex-driver doctor`: which binary and why, its version and support, the home and auth.

use anyhow::Result;
use codex_driver::binary::{Resolution, Support, support};
use codex_driver::home::CodexHome;
use codex_driver::{SUPPORTED_CODEX, auth};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub async fn run(
    resolution: Result<Resolution, codex_driver::Error>,
    home: CodexHome,
    as_json: bool,
) -> Result<bool> {
    let mut ok = true;
    let binary = match &resolution {
        Ok(r) => {
            let version = r.binary.version().await;
            let (v, s) = match &version {
                Ok(v) => (json!(v.to_string()), json!(support(v))),
                Err(e) => {
                    ok = false;
                    (Value::Null, json!(format!("unknown: {e}")))
                }
            };
            if matches!(version.as_ref().map(support), Ok(Support::TooOld)) {
                ok = false;
            }
            json!({
                "found": true,
                "path": r.binary.path(),
                "source": r.binary.source(),
                "reason": r.reason(),
                "looked": r.looked,
                "version": v,
                "support": s,
            })
        }
        Err(e) => {
            ok = false;
            json!({"found": false, "error": e.to_string()})
        }
    };
    let files: Vec<Value> = [
        ("config.toml", home.config_toml()),
        ("auth.json", home.auth_json()),
        (".credentials.json", home.credentials_json()),
        ("sessions/", home.sessions_dir()),
        ("state_5.sqlite", home.state_sqlite()),
    ]
    .into_iter()
    .map(|(name, p)| file_entry(name, &p))
    .collect();
    let auth = match auth::summary(&home) {
        Ok(s) => json!(s),
        Err(e) => json!({"error": e.to_string()}),
    };
    // What the home's config.toml sets up: MCP servers and the notify hook (never their secrets).
    let config = match codex_driver::config::ConfigFile::for_home(&home) {
        Ok(cfg) => {
            let mcp = codex_driver::mcp::servers(&cfg)
                .map(|m| json!(m.keys().collect::<Vec<_>>()))
                .unwrap_or_else(|e| json!({"error": e.to_string()}));
            json!({"ok": true, "mcp_servers": mcp, "notify": cfg.get("notify")})
        }
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    };
    let sessions = codex_driver::sessions::list(&home)
        .map(|l| json!({"saved": l.len(), "archived": l.iter().filter(|s| s.archived).count()}))
        .unwrap_or_else(|e| json!({"error": e.to_string()}));
    let report = json!({
        "schema_version": 1,
        "supported_range": SUPPORTED_CODEX,
        "tested_versions": codex_driver::binary::TESTED_CODEX,
        "binary": binary,
        "home": {
            "path": home.path(),
            "exists": home.path().is_dir(),
            "mode": home.mode().map(|m| format!("{m:o}")),
            "is_users_home": home.is_users_home(),
            "under_temp_dir": home.is_under_temp_dir(),
            "files": files,
        },
        "auth": auth,
        "config": config,
        "sessions": sessions,
        "ok": ok,
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(ok)
}

fn file_entry(name: &str, p: &Path) -> Value {
    match std::fs::metadata(p) {
        Ok(m) => {
            json!({"name": name, "present": true, "mode": format!("{:o}", m.permissions().mode() & 0o777)})
        }
        Err(_) => json!({"name": name, "present": false, "mode": null}),
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn print_table(r: &Value) {
    let row = |k: &str, v: String| println!("{k:<16} {v}");
    let b = &r["binary"];
    if b["found"] == true {
        row("binary", s(&b["path"]));
        row("chosen by", s(&b["reason"]));
        row("version", s(&b["version"]));
        row(
            "support",
            format!(
                "{} (supported {}, tested {})",
                s(&b["support"]),
                s(&r["supported_range"]),
                s(&r["tested_versions"])
            ),
        );
    } else {
        row("binary", format!("NOT FOUND: {}", s(&b["error"])));
    }
    let h = &r["home"];
    row(
        "CODEX_HOME",
        format!(
            "{} (exists: {}, mode: {})",
            s(&h["path"]),
            h["exists"],
            s(&h["mode"])
        ),
    );
    if h["is_users_home"] == true {
        row("", "this is the user's own Codex home".into());
    }
    if h["under_temp_dir"] == true {
        row(
            "",
            "warning: under the temp dir; Codex will warn on every command".into(),
        );
    }
    for f in h["files"].as_array().into_iter().flatten() {
        let state = if f["present"] == true {
            format!("present, mode {}", s(&f["mode"]))
        } else {
            "absent".into()
        };
        row(&format!("  {}", s(&f["name"])), state);
    }
    let a = &r["auth"];
    row(
        "auth",
        if a.is_null() {
            "no auth.json (not logged in)".into()
        } else if a.get("error").is_some() {
            s(&a["error"])
        } else {
            format!(
                "mode {}, api key: {}, tokens: {}, last refresh: {}",
                s(&a["mode"]),
                a["has_api_key"],
                a["has_tokens"],
                s(&a["last_refresh"])
            )
        },
    );
    let c = &r["config"];
    if c["ok"] == true {
        row("mcp servers", s(&c["mcp_servers"]));
        row("notify", s(&c["notify"]));
    } else {
        row("config.toml", format!("UNREADABLE: {}", s(&c["error"])));
    }
    let ss = &r["sessions"];
    row(
        "sessions",
        if ss.get("error").is_some() {
            s(&ss["error"])
        } else {
            format!("{} saved ({} archived)", ss["saved"], ss["archived"])
        },
    );
    row(
        "overall",
        if r["ok"] == true {
            "ok".into()
        } else {
            "PROBLEMS FOUND".into()
        },
    );
}
