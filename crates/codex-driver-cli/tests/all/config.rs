//! `config snapshots|diff|restore`: the snapshots the library keeps of a home's config.toml.

use super::{cli, json_of, succeeded, tmp};
use codex_driver::config::ConfigFile;
use std::path::Path;
use std::process::Command;

fn config(home: &Path, args: &[&str]) -> Command {
    let mut c = cli();
    c.arg("config").args(args).arg("--codex-home").arg(home);
    c
}

#[test]
fn config_snapshots_json_diff_and_restore() -> anyhow::Result<()> {
    let home = tmp();
    let h = home.path();
    let file = h.join("config.toml");
    // Nothing kept yet.
    let empty = json_of(&config(h, &["snapshots", "--json"]).output()?);
    assert_eq!(empty["schema_version"], 1);
    assert_eq!(empty["snapshots"], serde_json::json!([]));

    std::fs::write(&file, "# mine\nmodel = \"a\"\n")?;
    for model in ["b", "c"] {
        let mut cfg = ConfigFile::open(&file)?;
        cfg.set("model", model)?;
        cfg.save()?;
    }
    let list = json_of(&config(h, &["snapshots", "--json"]).output()?);
    assert_eq!(list["file"], file.display().to_string());
    assert_eq!(
        list["dir"],
        h.join(".config.toml.snapshots").display().to_string()
    );
    let snaps = list["snapshots"].as_array().cloned().unwrap_or_default();
    assert_eq!(snaps.len(), 2, "{list}");
    let oldest = snaps[1]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(snaps[1]["size"], 19);
    assert!(
        snaps[1]["taken_at"]
            .as_str()
            .is_some_and(|t| t.len() == 24 && t.ends_with('Z')),
        "{list}"
    );
    // The text form: one line per snapshot, newest first.
    let text = config(h, &["snapshots"]).output()?;
    succeeded(&text);
    let lines: Vec<String> = String::from_utf8_lossy(&text.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].starts_with(&format!("{oldest}  ")), "{lines:?}");

    let diff = config(h, &["diff", &oldest]).output()?;
    succeeded(&diff);
    assert_eq!(
        String::from_utf8_lossy(&diff.stdout),
        format!(
            "--- {f} (snapshot {oldest})\n+++ {f}\n@@ -1,2 +1,2 @@\n # mine\n-model = \"a\"\n+model = \"c\"\n",
            f = file.display()
        )
    );

    let restored = json_of(&config(h, &["restore", &oldest, "--json"]).output()?);
    assert_eq!(restored["restored"]["id"], oldest.as_str());
    assert_eq!(std::fs::read_to_string(&file)?, "# mine\nmodel = \"a\"\n");
    // What it replaced was kept: restoring that undoes the restore.
    let saved = restored["saved"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    succeeded(&config(h, &["restore", &saved]).output()?);
    assert_eq!(std::fs::read_to_string(&file)?, "# mine\nmodel = \"c\"\n");

    // An unknown id fails naming it; the file is left alone.
    let bad = config(h, &["restore", "20000101T000000.000Z"]).output()?;
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("no snapshot `20000101T000000.000Z` of"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file)?, "# mine\nmodel = \"c\"\n");
    Ok(())
}
