//! A health report on a Codex binary and a `CODEX_HOME`: which binary and why, its version and
//! support, the home's files and permissions, the login (never a secret), what `config.toml`
//! sets up, and the saved sessions.
//!
//! [`Report`] is what `codex-driver doctor --json` prints. Its JSON is stable: fields are only
//! added, and [`SCHEMA_VERSION`] is bumped on an incompatible change. Every part is read on its
//! own, so one unreadable file shows up as that part's `error` and the rest is still reported.
//!
//! ```no_run
//! use codex_driver::doctor::Report;
//! use codex_driver::{CodexHome, Resolver};
//!
//! # async fn demo() -> codex_driver::Result<()> {
//! let report = Report::collect(&Resolver::new().search_path(true), &CodexHome::user_default()?).await;
//! println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
//! if !report.ok { eprintln!("problems found"); }
//! # Ok(()) }
//! ```

use crate::auth::{self, AuthSummary};
use crate::binary::{BinarySource, Candidate, Resolution, Resolver, Support, TESTED_CODEX};
use crate::error::Result;
use crate::home::CodexHome;
use semver::Version;
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The report's `schema_version`.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole report (`codex-driver doctor --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// [`SCHEMA_VERSION`] of the report's writer.
    pub schema_version: u32,
    /// [`SUPPORTED_CODEX`](crate::SUPPORTED_CODEX) of this build.
    pub supported_range: String,
    /// [`TESTED_CODEX`] of this build.
    pub tested_versions: Vec<String>,
    /// The binary that would be used, or where it was looked for.
    pub binary: BinaryReport,
    /// The home inspected.
    pub home: HomeReport,
    /// The stored login: `null` when there is none.
    pub auth: Section<Option<AuthSummary>>,
    /// Where the home keeps credentials (`cli_auth_credentials_store`, ...).
    #[serde(default = "missing_section")]
    pub credential_stores: Section<auth::StoreSettings>,
    /// Which login a run would use (the environment's `CODEX_API_KEY` included).
    #[serde(default = "unknown_status")]
    pub auth_status: auth::AuthStatus,
    /// `config.toml`.
    pub config: ConfigReport,
    /// Threads saved in the home.
    pub sessions: Section<SessionCounts>,
    /// A binary was found, its version read, and it is not too old.
    pub ok: bool,
}

fn missing_section<T>() -> Section<T> {
    Section::Failed {
        error: "not in this report (an older writer)".into(),
    }
}

fn unknown_status() -> auth::AuthStatus {
    auth::AuthStatus::Error {
        reason: "not in this report (an older writer)".into(),
        problem: None,
    }
}

/// A part of the report that can fail on its own: the value, or `{"error": message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Section<T> {
    /// Reading it failed.
    Failed {
        /// The error's message.
        error: String,
    },
    /// What was read.
    Read(T),
}

impl<T> Section<T> {
    fn of(result: Result<T>) -> Self {
        match result {
            Ok(v) => Self::Read(v),
            Err(e) => Self::Failed {
                error: e.to_string(),
            },
        }
    }
}

/// `binary`: `{"found": true, ...}` ([`FoundBinary`]) or `{"found": false, "error": ...}`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BinaryReport {
    /// A binary was resolved.
    Found(FoundBinary),
    /// None: the error lists every place looked at.
    NotFound {
        /// The resolver's error message.
        error: String,
    },
}

/// The resolved binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FoundBinary {
    /// The executable (the native one behind an npm launcher).
    pub path: PathBuf,
    /// The resolver step that chose it.
    pub source: BinarySource,
    /// A one-line explanation ([`Resolution::reason`]).
    pub reason: String,
    /// Every place checked, ending with the chosen one.
    pub looked: Vec<Candidate>,
    /// `codex --version`, `null` when it could not be read.
    pub version: Option<Version>,
    /// Where that version stands.
    pub support: SupportStatus,
}

/// `binary.support`: [`Support`] in its snake_case name, or `"unknown: <why>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupportStatus {
    /// The version was read.
    Known(Support),
    /// It was not.
    Unknown {
        /// Why (the version probe's error).
        reason: String,
    },
}

/// `home`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HomeReport {
    /// The directory.
    pub path: PathBuf,
    /// It exists and is a directory.
    pub exists: bool,
    /// Its permission bits, `null` when it can't be read.
    pub mode: Option<Mode>,
    /// It is the user's own home (`$CODEX_HOME` or `~/.codex`).
    pub is_users_home: bool,
    /// It is under the temp dir (Codex then warns on every command).
    pub under_temp_dir: bool,
    /// The files Codex keeps there, in a fixed order.
    pub files: Vec<FileReport>,
}

/// One entry of `home.files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileReport {
    /// `config.toml`, `auth.json`, `.credentials.json`, `sessions/` or `state_5.sqlite`.
    pub name: String,
    /// It exists.
    pub present: bool,
    /// Its permission bits when present.
    pub mode: Option<Mode>,
}

/// Permission bits, written as an octal string (`"700"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode(pub u32);

/// `config`: `{"ok": true, ...}` ([`ConfigSummary`]) or `{"ok": false, "error": ...}`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigReport {
    /// `config.toml` parsed (or is absent).
    Read(ConfigSummary),
    /// It did not parse; the error names line and column.
    Unreadable {
        /// The parse error.
        error: String,
    },
}

/// What a readable `config.toml` sets up (never a secret: names and the notify argv only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConfigSummary {
    /// The `[mcp_servers.<name>]` names, sorted.
    pub mcp_servers: Section<Vec<String>>,
    /// `notify` as written (normally an argv), `null` when unset.
    pub notify: Option<Value>,
}

/// `sessions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionCounts {
    /// Every saved thread, archived ones included.
    pub saved: usize,
    /// Of those, the archived ones.
    pub archived: usize,
}

impl Report {
    /// Resolves with `resolver` and inspects `home`.
    pub async fn collect(resolver: &Resolver, home: &CodexHome) -> Self {
        Self::build(resolver.resolve(), home).await
    }

    /// The report on an already resolved binary (its version is probed, see
    /// [`Binary::version`](crate::Binary::version)) and `home`. Never fails: each part that
    /// can't be read carries its error.
    pub async fn build(resolution: Result<Resolution>, home: &CodexHome) -> Self {
        let probed = match resolution {
            Ok(r) => {
                let version = r.binary.version().await;
                Ok((r, version))
            }
            Err(e) => Err(e),
        };
        Self::assemble(probed, home)
    }

    /// [`build`](Self::build) with the version probe's outcome given.
    fn assemble(probed: Result<(Resolution, Result<Version>)>, home: &CodexHome) -> Self {
        let binary = match probed {
            Ok((r, version)) => {
                let reason = r.reason();
                let (version, support) = match version {
                    Ok(v) => {
                        let support = SupportStatus::Known(crate::binary::support(&v));
                        (Some(v), support)
                    }
                    Err(e) => (
                        None,
                        SupportStatus::Unknown {
                            reason: e.to_string(),
                        },
                    ),
                };
                BinaryReport::Found(FoundBinary {
                    path: r.binary.path().to_path_buf(),
                    source: r.binary.source().clone(),
                    reason,
                    looked: r.looked,
                    version,
                    support,
                })
            }
            Err(e) => BinaryReport::NotFound {
                error: e.to_string(),
            },
        };
        let ok = matches!(&binary, BinaryReport::Found(b)
            if matches!(b.support, SupportStatus::Known(s) if s != Support::TooOld));
        Self {
            schema_version: SCHEMA_VERSION,
            supported_range: crate::SUPPORTED_CODEX.to_owned(),
            tested_versions: TESTED_CODEX.iter().map(|v| (*v).to_owned()).collect(),
            binary,
            home: HomeReport::of(home),
            auth: Section::of(auth::summary(home)),
            credential_stores: Section::of(auth::StoreSettings::of(home)),
            auth_status: auth::status(home),
            config: ConfigReport::of(home),
            sessions: Section::of(
                crate::sessions::SessionIndex::new(home)
                    .count()
                    .map(|(saved, archived)| SessionCounts { saved, archived }),
            ),
            ok,
        }
    }
}

impl HomeReport {
    fn of(home: &CodexHome) -> Self {
        let files = [
            ("config.toml", home.config_toml()),
            ("auth.json", home.auth_json()),
            (".credentials.json", home.credentials_json()),
            ("sessions/", home.sessions_dir()),
            ("state_5.sqlite", home.state_sqlite()),
        ]
        .into_iter()
        .map(|(name, p)| FileReport::of(name, &p))
        .collect();
        Self {
            path: home.path().to_path_buf(),
            exists: home.path().is_dir(),
            mode: home.mode().map(Mode),
            is_users_home: home.is_users_home(),
            under_temp_dir: home.is_under_temp_dir(),
            files,
        }
    }
}

impl FileReport {
    fn of(name: &str, p: &Path) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(p)
            .ok()
            .map(|m| Mode(m.permissions().mode() & 0o777));
        Self {
            name: name.to_owned(),
            present: mode.is_some(),
            mode,
        }
    }
}

impl ConfigReport {
    fn of(home: &CodexHome) -> Self {
        match crate::config::ConfigFile::for_home(home) {
            Ok(cfg) => Self::Read(ConfigSummary {
                mcp_servers: Section::of(
                    crate::mcp::servers(&cfg).map(|m| m.into_keys().collect()),
                ),
                notify: cfg.get("notify"),
            }),
            Err(e) => Self::Unreadable {
                error: e.to_string(),
            },
        }
    }
}

// The bool-tagged objects (`found`, `ok`) have no serde attribute: write the flag first, then
// the variant's fields, in a map (key order is kept: serde_json's `preserve_order`).

#[derive(Serialize, Deserialize)]
struct ErrorBody {
    error: String,
}

fn with_flag<S: Serializer>(
    s: S,
    flag: &str,
    value: bool,
    body: &impl Serialize,
) -> std::result::Result<S::Ok, S::Error> {
    let mut map = serde_json::Map::new();
    map.insert(flag.to_owned(), Value::Bool(value));
    match serde_json::to_value(body).map_err(S::Error::custom)? {
        Value::Object(fields) => map.extend(fields),
        _ => return Err(S::Error::custom("a report section is not an object")),
    }
    map.serialize(s)
}

fn split_flag<'de, D: Deserializer<'de>>(
    d: D,
    flag: &str,
) -> std::result::Result<(bool, Value), D::Error> {
    let mut v = Value::deserialize(d)?;
    let f = v
        .as_object_mut()
        .and_then(|o| o.remove(flag))
        .and_then(|f| f.as_bool())
        .ok_or_else(|| D::Error::custom(format!("missing boolean `{flag}`")))?;
    Ok((f, v))
}

impl Serialize for BinaryReport {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Found(b) => with_flag(s, "found", true, b),
            Self::NotFound { error } => with_flag(
                s,
                "found",
                false,
                &ErrorBody {
                    error: error.clone(),
                },
            ),
        }
    }
}

impl<'de> Deserialize<'de> for BinaryReport {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (found, rest) = split_flag(d, "found")?;
        if found {
            serde_json::from_value(rest)
                .map(Self::Found)
                .map_err(D::Error::custom)
        } else {
            serde_json::from_value::<ErrorBody>(rest)
                .map(|b| Self::NotFound { error: b.error })
                .map_err(D::Error::custom)
        }
    }
}

impl Serialize for ConfigReport {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Read(c) => with_flag(s, "ok", true, c),
            Self::Unreadable { error } => with_flag(
                s,
                "ok",
                false,
                &ErrorBody {
                    error: error.clone(),
                },
            ),
        }
    }
}

impl<'de> Deserialize<'de> for ConfigReport {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (ok, rest) = split_flag(d, "ok")?;
        if ok {
            serde_json::from_value(rest)
                .map(Self::Read)
                .map_err(D::Error::custom)
        } else {
            serde_json::from_value::<ErrorBody>(rest)
                .map(|b| Self::Unreadable { error: b.error })
                .map_err(D::Error::custom)
        }
    }
}

const UNKNOWN: &str = "unknown: ";

impl Serialize for SupportStatus {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Known(support) => support.serialize(s),
            Self::Unknown { reason } => s.collect_str(&format_args!("{UNKNOWN}{reason}")),
        }
    }
}

impl<'de> Deserialize<'de> for SupportStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if let Some(reason) = text.strip_prefix(UNKNOWN) {
            return Ok(Self::Unknown {
                reason: reason.to_owned(),
            });
        }
        serde_json::from_value(Value::String(text))
            .map(Self::Known)
            .map_err(D::Error::custom)
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:o}", self.0))
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        u32::from_str_radix(&text, 8)
            .map(Mode)
            .map_err(|_| D::Error::custom(format!("not an octal mode: {text:?}")))
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:o}", self.0)
    }
}

impl std::fmt::Display for SupportStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Known(s) => f.write_str(s.as_str()),
            Self::Unknown { reason } => write!(f, "{UNKNOWN}{reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    const SESSION: &str = r#"{"timestamp":"2025-01-01T00:00:00Z","type":"session_meta","payload":{"id":"0199a213-81c0-7800-8aa1-bbab2a035a53","timestamp":"2025-01-01T00:00:00Z","cwd":"/x","originator":"codex_exec","cli_version":"0.169.0"}}"#;
    const ARCHIVED: &str = r#"{"timestamp":"2025-01-02T00:00:00Z","type":"session_meta","payload":{"id":"0199a213-81c0-7800-8aa1-bbab2a035a54","timestamp":"2025-01-02T00:00:00Z","cwd":"/y","originator":"codex_exec","cli_version":"0.169.0"}}"#;

    /// The JSON `codex-driver doctor --json` printed before the report moved into the library,
    /// for the layouts below (`tests/fixtures/doctor/capture.sh` made both).
    const FIXTURES: [(&str, &str); 4] = [
        (
            "healthy",
            include_str!("../tests/fixtures/doctor/healthy.json"),
        ),
        (
            "problems",
            include_str!("../tests/fixtures/doctor/problems.json"),
        ),
        (
            "missing",
            include_str!("../tests/fixtures/doctor/missing.json"),
        ),
        (
            "partial",
            include_str!("../tests/fixtures/doctor/partial.json"),
        ),
    ];

    fn write(p: &Path, text: &str, mode: u32) -> std::io::Result<()> {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(p, format!("{text}\n"))?;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
    }

    fn chmod(p: &Path, mode: u32) -> std::io::Result<()> {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
    }

    /// Builds the layout `name` under `root` (as `capture.sh` does) and reports on it, with the
    /// version probe's answer the fake binary there would give.
    fn report_on(
        name: &str,
        root: &Path,
    ) -> std::result::Result<Report, Box<dyn std::error::Error>> {
        let home = root.join("home");
        let bin = root.join("codex");
        let version: Result<Version> = match name {
            "healthy" => {
                write(
                    &home.join("config.toml"),
                    "notify = [\"sh\", \"-c\", \"true\"]\n\n[mcp_servers.docs]\nurl = \"http://127.0.0.1:1/mcp\"\n\n[mcp_servers.abc]\ncommand = \"abc-server\"",
                    0o600,
                )?;
                write(
                    &home.join("auth.json"),
                    r#"{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{"id_token":"x"},"last_refresh":"2025-01-01T00:00:00Z"}"#,
                    0o600,
                )?;
                write(&home.join(".credentials.json"), "{}", 0o600)?;
                write(
                    &home.join("sessions/2025/01/01/rollout-2025-01-01T00-00-00-0199a213-81c0-7800-8aa1-bbab2a035a53.jsonl"),
                    SESSION,
                    0o644,
                )?;
                write(
                    &home.join("archived_sessions/rollout-2025-01-02T00-00-00-0199a213-81c0-7800-8aa1-bbab2a035a54.jsonl"),
                    ARCHIVED,
                    0o644,
                )?;
                for d in ["", "sessions", "archived_sessions"] {
                    chmod(&home.join(d), 0o700)?;
                }
                Ok(Version::new(0, 169, 0))
            }
            "problems" => {
                write(&home.join("config.toml"), "[mcp_servers.x", 0o644)?;
                write(&home.join("auth.json"), "not json", 0o644)?;
                chmod(&home, 0o755)?;
                Err(Error::Version {
                    path: bin.clone(),
                    detail: "unexpected output \"garbage\" (status exit status: 0)".into(),
                })
            }
            "missing" => Ok(Version::new(0, 169, 0)),
            "partial" => {
                write(
                    &home.join("config.toml"),
                    "notify = \"not-an-argv\"\n\n[mcp_servers]\nx = 1",
                    0o600,
                )?;
                write(&home.join("sessions"), "hi", 0o600)?;
                chmod(&home, 0o700)?;
                Ok(Version::new(0, 1, 0))
            }
            other => return Err(format!("no layout {other}").into()),
        };
        if name != "missing" {
            write(&bin, "#!/bin/sh", 0o755)?;
        }
        let probed = Resolver::new()
            .explicit(&bin)
            .resolve()
            .map(|r| (r, version));
        Ok(Report::assemble(probed, &CodexHome::new(home)))
    }

    use crate::error::Error;

    #[test]
    fn the_json_is_what_the_cli_printed_before() -> TestResult {
        for (name, expected) in FIXTURES {
            let dir = tempfile::tempdir()?;
            let report = report_on(name, dir.path())?;
            let json = serde_json::to_string_pretty(&report)? + "\n";
            let root = dir.path().display().to_string();
            let json = json.replace(&root, "$ROOT");
            // `BLESS=1` rewrites the fixtures after a deliberate change of the report.
            if std::env::var_os("BLESS").is_some() {
                let path = format!(
                    "{}/tests/fixtures/doctor/{name}.json",
                    env!("CARGO_MANIFEST_DIR")
                );
                std::fs::write(path, &json)?;
                continue;
            }
            assert_eq!(json, expected, "{name}");
            assert_eq!(report.ok, name == "healthy", "{name}");
        }
        Ok(())
    }

    #[test]
    fn the_json_reads_back_into_the_same_report() -> TestResult {
        for (name, expected) in FIXTURES {
            let report: Report = serde_json::from_str(expected)?;
            assert_eq!(
                serde_json::to_string_pretty(&report)? + "\n",
                expected,
                "{name}"
            );
        }
        let report: Report = serde_json::from_str(FIXTURES[1].1)?;
        let BinaryReport::Found(b) = &report.binary else {
            return Err("binary not found".into());
        };
        assert!(
            matches!(&b.support, SupportStatus::Unknown { reason } if reason.starts_with("could not read the version"))
        );
        assert!(matches!(report.config, ConfigReport::Unreadable { .. }));
        assert!(matches!(report.auth, Section::Failed { .. }));
        let report: Report = serde_json::from_str(FIXTURES[0].1)?;
        assert_eq!(report.home.mode, Some(Mode(0o700)));
        assert_eq!(
            report.sessions,
            Section::Read(SessionCounts {
                saved: 2,
                archived: 1
            })
        );
        Ok(())
    }
}
