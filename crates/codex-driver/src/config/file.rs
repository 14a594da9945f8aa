//! Editing a `config.toml` in place (see [`ConfigFile`]).

use super::snapshots::{DEFAULT_KEEP, Snapshot, Snapshots};
use crate::error::{Error, Result};
use crate::home::CodexHome;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Key, Table, Value};

/// A model provider table (`[model_providers.<id>]`) as Codex 0.169 reads it. Fields left
/// `None` are not written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelProvider {
    /// `name` (required by Codex, non-empty).
    pub name: String,
    /// `base_url`, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: Option<String>,
    /// `wire_api`: only `responses` is accepted by Codex 0.169.
    pub wire_api: Option<String>,
    /// `env_key`: the environment variable holding the API key (its name, never the key).
    pub env_key: Option<String>,
    /// `requires_openai_auth`.
    pub requires_openai_auth: Option<bool>,
    /// `request_max_retries`.
    pub request_max_retries: Option<i64>,
    /// `stream_max_retries`.
    pub stream_max_retries: Option<i64>,
    /// `stream_idle_timeout_ms`.
    pub stream_idle_timeout_ms: Option<i64>,
}

impl ModelProvider {
    /// A Responses API provider at `base_url`.
    pub fn responses(name: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            base_url: Some(base_url.into()),
            wire_api: Some("responses".into()),
            ..Default::default()
        }
    }

    /// Sets `env_key`.
    pub fn env_key(mut self, var: impl Into<String>) -> Self {
        self.env_key = Some(var.into());
        self
    }
}

/// A `config.toml` opened for editing in place: comments, formatting and keys this library
/// doesn't know survive; the file is replaced atomically with mode 0600; a file changed on disk
/// since it was read is not overwritten. Each save that changes an existing file first keeps
/// its previous content as a [`Snapshot`] ([`snapshots`](Self::snapshots),
/// [`diff`](Self::diff), [`restore`](Self::restore); see [`Snapshots`]).
///
/// ```
/// use codex_driver::config::{ConfigFile, ModelProvider};
///
/// # fn demo(dir: &std::path::Path) -> codex_driver::Result<()> {
/// let path = dir.join("config.toml");
/// std::fs::write(&path, "# my settings\nmodel = \"gpt-5\" # keep\n").unwrap();
/// let mut cfg = ConfigFile::open(&path)?;
/// cfg.set("model_reasoning_effort", "high")?;
/// cfg.set_feature("web_search", true)?;
/// cfg.set_path(["projects", "/srv/my repo", "trust_level"], "trusted")?;
/// cfg.set_model_provider("local", &ModelProvider::responses("Local", "http://127.0.0.1:8080/v1"))?;
/// cfg.save()?;
/// let text = std::fs::read_to_string(&path).unwrap();
/// assert!(text.starts_with("# my settings\nmodel = \"gpt-5\" # keep\n"));
/// assert_eq!(cfg.get("projects.\"/srv/my repo\".trust_level"), Some(serde_json::json!("trusted")));
/// # Ok(()) }
/// # let d = tempfile::tempdir().unwrap(); demo(d.path()).unwrap();
/// ```
#[derive(Clone)]
pub struct ConfigFile {
    path: PathBuf,
    doc: DocumentMut,
    /// The bytes read (None: the file did not exist), to refuse overwriting a concurrent change.
    read: Option<Vec<u8>>,
    /// How many snapshots to keep (0: none are taken).
    keep: usize,
}

impl ConfigFile {
    /// Reads `path` (a missing file is an empty configuration). A file that is not valid TOML
    /// is an [`Error::ConfigFile`] naming the line and column; nothing is changed.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let read = read_existing(&path)?;
        let text = match &read {
            Some(b) => std::str::from_utf8(b)
                .map_err(|e| file_err(&path, None, format!("not UTF-8: {e}")))?
                .to_owned(),
            None => String::new(),
        };
        let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
            let at = e.span().map(|s| line_col(&text, s.start));
            let first = e.message().lines().next().unwrap_or_default().to_owned();
            file_err(&path, at, first)
        })?;
        Ok(Self {
            path,
            doc,
            read,
            keep: DEFAULT_KEEP,
        })
    }

    /// The `config.toml` of `home`.
    pub fn for_home(home: &CodexHome) -> Result<Self> {
        Self::open(home.config_toml())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many snapshots of the file to keep (default [`DEFAULT_KEEP`]); older ones are
    /// removed on the next save. 0 takes none (and leaves existing ones alone).
    pub fn keep_snapshots(&mut self, keep: usize) -> &mut Self {
        self.keep = keep;
        self
    }

    /// The file's snapshots, newest first.
    pub fn snapshots(&self) -> Result<Vec<Snapshot>> {
        Snapshots::for_file(&self.path).list()
    }

    /// A unified line diff from `snapshot` to the file as it is on disk (see
    /// [`Snapshots::diff`]).
    pub fn diff(&self, snapshot: &Snapshot) -> Result<String> {
        Snapshots::for_file(&self.path).diff(snapshot)
    }

    /// Puts `snapshot`'s content back and reloads it here, discarding unsaved edits. The
    /// content it replaces is snapshotted first (returned; see [`Snapshots::restore`]).
    pub fn restore(&mut self, snapshot: &Snapshot) -> Result<Option<Snapshot>> {
        let taken = Snapshots::for_file(&self.path).restore(snapshot, self.keep)?;
        let keep = self.keep;
        *self = Self::open(self.path.clone())?;
        self.keep = keep;
        Ok(taken)
    }

    /// A value by dotted key as Codex spells it (`a.b`, `projects."/x y".trust_level`), as
    /// JSON (datetimes become strings).
    pub fn get(&self, dotted_key: &str) -> Option<Json> {
        let keys = parse_key(dotted_key).ok()?;
        self.get_path(keys.iter().map(|k| k.get()))
    }

    /// Sets a dotted key; missing tables on the way are created.
    pub fn set(&mut self, dotted_key: &str, value: impl Into<Value>) -> Result<&mut Self> {
        let keys = parse_key(dotted_key).map_err(|d| file_err(&self.path, None, d))?;
        let segs: Vec<String> = keys.iter().map(|k| k.get().to_owned()).collect();
        self.set_path(segs, value)
    }

    /// Sets a key given as segments (for segments with dots or spaces, e.g. a project path).
    pub fn set_path<I, S>(&mut self, segments: I, value: impl Into<Value>) -> Result<&mut Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let segs = owned(segments);
        let Some((last, parents)) = segs.split_last() else {
            return Err(file_err(&self.path, None, "an empty key".into()));
        };
        let mut table = self.doc.as_table_mut();
        for (i, seg) in parents.iter().enumerate() {
            let entry = table.entry(seg).or_insert_with(|| {
                let mut t = Table::new();
                t.set_implicit(true);
                Item::Table(t)
            });
            // An inline table on the way (`a = { b = 1 }`) is edited where it is.
            if let Some(inline) = entry.as_inline_table_mut() {
                let mut target = inline;
                for seg in &parents[i + 1..] {
                    let next = target
                        .entry(seg)
                        .or_insert(Value::InlineTable(Default::default()));
                    target = next.as_inline_table_mut().ok_or_else(|| {
                        file_err(&self.path, None, format!("`{seg}` is not a table"))
                    })?;
                }
                target.insert(last, value.into());
                return Ok(self);
            }
            table = entry.as_table_mut().ok_or_else(|| {
                file_err(
                    &self.path,
                    None,
                    format!("`{}` is not a table", segs[..=i].join(".")),
                )
            })?;
        }
        match table.get_mut(last) {
            // Keep the decoration (comments, spacing) of a value that is replaced.
            Some(Item::Value(old)) => {
                let decor = old.decor().clone();
                let mut v = value.into();
                *v.decor_mut() = decor;
                *old = v;
            }
            _ => {
                table.insert(last, Item::Value(value.into()));
            }
        }
        Ok(self)
    }

    /// A value by key segments (for segments with dots or spaces), as JSON.
    pub fn get_path<I, S>(&self, segments: I) -> Option<Json>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut item = self.doc.as_item();
        for seg in segments {
            item = item.get(seg.as_ref())?;
        }
        item_to_json(item)
    }

    /// Removes a dotted key; whether it was there.
    pub fn remove(&mut self, dotted_key: &str) -> bool {
        match parse_key(dotted_key) {
            Ok(keys) => self.remove_path(keys.iter().map(|k| k.get().to_owned())),
            Err(_) => false,
        }
    }

    /// Removes a key given as segments; whether it was there.
    pub fn remove_path<I, S>(&mut self, segments: I) -> bool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let segs = owned(segments);
        let Some((last, parents)) = segs.split_last() else {
            return false;
        };
        let mut item = self.doc.as_item_mut();
        for k in parents {
            match item.get_mut(k) {
                Some(i) => item = i,
                None => return false,
            }
        }
        match item {
            Item::Table(t) => t.remove(last).is_some(),
            Item::Value(Value::InlineTable(t)) => t.remove(last).is_some(),
            _ => false,
        }
    }

    /// `[features] name = on` (what `codex features enable|disable` writes).
    pub fn set_feature(&mut self, name: &str, on: bool) -> Result<&mut Self> {
        self.set_path(["features", name], on)
    }

    /// `notify = [program, args...]`: Codex runs it after each successful turn, with a JSON
    /// description of the turn as one more argument.
    pub fn set_notify<I, S>(&mut self, argv: I) -> Result<&mut Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let arr: toml_edit::Array = argv.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self.set_path(["notify"], arr)
    }

    /// `[projects."<path>"] trust_level = "trusted" | "untrusted"`.
    /// The path is made absolute (Codex matches projects by absolute path).
    pub fn set_project_trust(&mut self, project: &Path, trusted: bool) -> Result<&mut Self> {
        let level = if trusted { "trusted" } else { "untrusted" };
        let abs = std::path::absolute(project).map_err(|e| {
            file_err(
                &self.path,
                None,
                format!("making {} absolute: {e}", project.display()),
            )
        })?;
        self.set_path(
            ["projects", &abs.display().to_string(), "trust_level"],
            level,
        )
    }

    /// Writes `[model_providers.<id>]`: sets the fields given; keys of an existing table that
    /// `p` leaves `None` are kept as they are.
    pub fn set_model_provider(&mut self, id: &str, p: &ModelProvider) -> Result<&mut Self> {
        if p.name.trim().is_empty() {
            return Err(file_err(
                &self.path,
                None,
                format!("model provider `{id}` needs a non-empty name"),
            ));
        }
        let base = ["model_providers", id];
        let mut put = |key: &str, v: Option<Value>| -> Result<()> {
            if let Some(v) = v {
                let path: Vec<&str> = base.iter().copied().chain([key]).collect();
                self.set_path(path, v)?;
            }
            Ok(())
        };
        put("name", Some(p.name.as_str().into()))?;
        put("base_url", p.base_url.as_deref().map(Value::from))?;
        put("wire_api", p.wire_api.as_deref().map(Value::from))?;
        put("env_key", p.env_key.as_deref().map(Value::from))?;
        put(
            "requires_openai_auth",
            p.requires_openai_auth.map(Value::from),
        )?;
        put(
            "request_max_retries",
            p.request_max_retries.map(Value::from),
        )?;
        put("stream_max_retries", p.stream_max_retries.map(Value::from))?;
        put(
            "stream_idle_timeout_ms",
            p.stream_idle_timeout_ms.map(Value::from),
        )?;
        Ok(self)
    }

    /// Writes the provider and makes it the default (`model_provider = "<id>"`).
    pub fn use_model_provider(&mut self, id: &str, p: &ModelProvider) -> Result<&mut Self> {
        self.set_model_provider(id, p)?;
        self.set_path(["model_provider"], id)
    }

    /// Saves atomically (temp file + rename, mode 0600). Refused with [`Error::ConfigFile`]
    /// when the file changed on disk since it was read (someone else, e.g. Codex itself,
    /// wrote it): open it again and reapply.
    pub fn save(&mut self) -> Result<()> {
        let now = read_existing(&self.path)?;
        if now != self.read {
            return Err(file_err(
                &self.path,
                None,
                "changed on disk since it was read; open it again".into(),
            ));
        }
        self.save_unchecked()
    }

    /// Saves without checking for a concurrent change. The content replaced, if it differs,
    /// is kept as a snapshot first; when that fails nothing is written.
    pub fn save_unchecked(&mut self) -> Result<()> {
        let text = self.doc.to_string();
        let before = read_existing(&resolve_target(&self.path)?)?;
        if let Some(before) = before.filter(|b| b != text.as_bytes()) {
            Snapshots::for_file(&self.path).record(&before, self.keep)?;
        }
        write_config(&self.path, text.as_bytes())?;
        self.read = Some(text.into_bytes());
        Ok(())
    }
}

/// What writing `path` replaces: a symlinked config.toml (dotfile managers) stays a link and
/// the file it points to is replaced.
pub(super) fn resolve_target(path: &Path) -> Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path)
            .map_err(|e| file_err(path, None, format!("resolving the link: {e}"))),
        _ => Ok(path.to_path_buf()),
    }
}

/// Replaces the configuration at `path` with `bytes`: atomically, mode 0600, its directory
/// created 0700 when missing. Every write of a config file goes through here.
pub(super) fn write_config(path: &Path, bytes: &[u8]) -> Result<()> {
    let target = resolve_target(path)?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| file_err(path, None, format!("creating its directory: {e}")))?;
    }
    crate::fsutil::write_atomic(&target, bytes, 0o600)
        .map_err(|e| file_err(path, None, format!("writing: {e}")))
}

/// Only the path: the document may hold secrets (MCP server environments, headers).
impl std::fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.doc.fmt(f)
    }
}

/// The file's bytes; `None` when it does not exist.
pub(super) fn read_existing(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_err(path, None, format!("reading: {e}"))),
    }
}

fn owned<I, S>(segments: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    segments
        .into_iter()
        .map(|s| s.as_ref().to_owned())
        .collect()
}

pub(super) fn file_err(path: &Path, at: Option<(usize, usize)>, detail: String) -> Error {
    Error::ConfigFile {
        path: path.to_path_buf(),
        line: at.map(|a| a.0),
        column: at.map(|a| a.1),
        detail,
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count()
        + 1;
    (line, col)
}

fn parse_key(dotted: &str) -> std::result::Result<Vec<Key>, String> {
    Key::parse(dotted).map_err(|e| format!("bad key `{dotted}`: {e}"))
}

fn item_to_json(item: &Item) -> Option<Json> {
    match item {
        Item::None => None,
        Item::Value(v) => Some(value_to_json(v)),
        Item::Table(t) => Some(Json::Object(
            t.iter()
                .filter_map(|(k, i)| item_to_json(i).map(|v| (k.to_owned(), v)))
                .collect(),
        )),
        Item::ArrayOfTables(a) => Some(Json::Array(
            a.iter()
                .filter_map(|t| item_to_json(&Item::Table(t.clone())))
                .collect(),
        )),
    }
}

fn value_to_json(v: &Value) -> Json {
    match v {
        Value::String(s) => Json::String(s.value().clone()),
        Value::Integer(i) => Json::from(*i.value()),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f.value()).map_or(Json::Null, Json::Number)
        }
        Value::Boolean(b) => Json::Bool(*b.value()),
        Value::Datetime(d) => Json::String(d.value().to_string()),
        Value::Array(a) => Json::Array(a.iter().map(value_to_json).collect()),
        Value::InlineTable(t) => Json::Object(
            t.iter()
                .map(|(k, v)| (k.to_owned(), value_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    const MINE: &str = r#"# Managed by hand. Keep this comment.
model = "gpt-5"            # my model
unknown_future_key = { nested = [1, 2] }

[features]
# the web
web_search = false

[mcp_servers.docs]
command = "docs-server"
"#;

    use crate::config::temp_config as file;

    #[test]
    fn edits_keep_comments_formatting_and_unknown_keys() -> Result<()> {
        let (_d, p) = file(Some(MINE));
        let mut c = ConfigFile::open(&p)?;
        c.set("model", "o3")?;
        c.set_feature("web_search", true)?;
        c.set_feature("memories", false)?;
        c.set("mcp_servers.docs.enabled", false)?;
        c.set("unknown_future_key.added", true)?;
        c.save()?;
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        assert_eq!(
            text,
            r#"# Managed by hand. Keep this comment.
model = "o3"            # my model
unknown_future_key = { nested = [1, 2] , added = true }

[features]
# the web
web_search = true
memories = false

[mcp_servers.docs]
command = "docs-server"
enabled = false
"#
        );
        assert_eq!(
            std::fs::metadata(&p)
                .map(|m| m.permissions().mode() & 0o777)
                .ok(),
            Some(0o600)
        );
        Ok(())
    }

    #[test]
    fn quoted_segments_helpers_and_reads() -> Result<()> {
        let (_d, p) = file(None);
        let mut c = ConfigFile::open(&p)?;
        c.set_project_trust(Path::new("/srv/my repo.v2"), true)?;
        c.set_notify(["/usr/bin/notify-me", "--json"])?;
        c.use_model_provider(
            "mock",
            &ModelProvider::responses("mock", "http://127.0.0.1:9/v1").env_key("MOCK_KEY"),
        )?;
        c.save()?;
        let again = ConfigFile::open(&p)?;
        assert_eq!(
            again.get(r#"projects."/srv/my repo.v2".trust_level"#),
            Some(json!("trusted"))
        );
        assert_eq!(
            again.get("notify"),
            Some(json!(["/usr/bin/notify-me", "--json"]))
        );
        assert_eq!(again.get("model_provider"), Some(json!("mock")));
        assert_eq!(
            again.get("model_providers.mock"),
            Some(
                json!({"name": "mock", "base_url": "http://127.0.0.1:9/v1", "wire_api": "responses", "env_key": "MOCK_KEY"})
            )
        );
        assert_eq!(again.get("nope.nothing"), None);
        Ok(())
    }

    #[test]
    fn remove_and_non_tables() -> Result<()> {
        let (_d, p) = file(Some(MINE));
        let mut c = ConfigFile::open(&p)?;
        assert!(c.remove("features.web_search"));
        assert!(c.remove("unknown_future_key.nested"));
        assert!(!c.remove("features.absent"));
        assert!(!c.remove("absent.key"));
        // `model` is a string: nothing can be put under it.
        assert!(matches!(
            c.set("model.sub", 1i64),
            Err(Error::ConfigFile { ref detail, .. }) if detail.contains("`model` is not a table")
        ));
        Ok(())
    }

    #[test]
    fn malformed_files_name_the_place_and_are_left_alone() {
        let bad = "model = \"x\"\n[features\nweb_search = true\n";
        let (_d, p) = file(Some(bad));
        match ConfigFile::open(&p) {
            Err(Error::ConfigFile {
                path, line, column, ..
            }) => {
                assert_eq!(path, p);
                assert_eq!((line, column), (Some(2), Some(10)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&p).unwrap_or_default(), bad);
    }

    #[test]
    fn a_symlinked_file_stays_a_link_and_debug_hides_the_content() -> Result<()> {
        let (d, real) = file(Some("# real\n"));
        let link = d.path().join("link.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap_or_default();
        let mut c = ConfigFile::open(&link)?;
        c.set_path(["mcp_servers", "x", "env", "TOKEN"], "s3cret")?;
        c.save()?;
        assert!(std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()));
        assert!(
            std::fs::read_to_string(&real)
                .unwrap_or_default()
                .contains("s3cret")
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        Ok(())
    }

    #[test]
    fn a_concurrent_change_is_not_overwritten() -> Result<()> {
        let (_d, p) = file(Some(MINE));
        let mut c = ConfigFile::open(&p)?;
        c.set("model", "o3")?;
        std::fs::write(&p, "model = \"theirs\"\n").unwrap_or_default();
        assert!(
            matches!(c.save(), Err(Error::ConfigFile { ref detail, .. }) if detail.contains("changed on disk"))
        );
        assert_eq!(
            std::fs::read_to_string(&p).unwrap_or_default(),
            "model = \"theirs\"\n"
        );
        // A file that appeared since counts as a change too.
        let (_d2, p2) = file(None);
        let mut c2 = ConfigFile::open(&p2)?;
        std::fs::write(&p2, "x = 1\n").unwrap_or_default();
        assert!(c2.save().is_err());
        Ok(())
    }
}
