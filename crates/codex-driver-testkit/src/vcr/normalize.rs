//! The stable parts of a request, compared on replay.

use super::*;

/// The request fields Codex fills differently on every run (observed by recording the same
/// scripted `codex exec` turn twice, Codex 0.171), ignored when comparing:
///
/// - `/prompt_cache_key`: the thread id;
/// - `/client_metadata`: installation, session, thread, turn and window ids, and turn metadata
///   with a start timestamp;
/// - `/input/*/id`: every input item's id (time-based UUIDs).
pub const DEFAULT_IGNORED_POINTERS: &[&str] =
    &["/prompt_cache_key", "/client_metadata", "/input/*/id"];

/// XML-ish tags in Codex's environment context whose content is masked: the date changes daily,
/// the time zone with the machine.
pub const DEFAULT_MASKED_TAGS: &[&str] = &["current_date", "timezone"];

/// Line prefixes whose rest is masked: `exec_command` output starts with a random chunk id and
/// the command's wall time.
pub const DEFAULT_MASKED_LINE_PREFIXES: &[&str] = &["Chunk ID: ", "Wall time: "];

/// How requests are made comparable across runs: local paths become placeholders (the working
/// directory Codex reports in `<cwd>…</cwd>` always; others as registered, e.g. the
/// `CODEX_HOME`), volatile strings are masked, volatile fields removed.
#[derive(Debug, Clone)]
pub struct Normalizer {
    ignored: Vec<String>,
    masked_tags: Vec<String>,
    masked_prefixes: Vec<String>,
    paths: Vec<(String, String)>,
    detect_cwd: bool,
}

impl Default for Normalizer {
    fn default() -> Self {
        let own = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        Self {
            ignored: own(DEFAULT_IGNORED_POINTERS),
            masked_tags: own(DEFAULT_MASKED_TAGS),
            masked_prefixes: own(DEFAULT_MASKED_LINE_PREFIXES),
            paths: Vec::new(),
            detect_cwd: true,
        }
    }
}

impl Normalizer {
    /// The defaults: [`DEFAULT_IGNORED_POINTERS`], [`DEFAULT_MASKED_TAGS`],
    /// [`DEFAULT_MASKED_LINE_PREFIXES`], the working directory detected.
    pub fn new() -> Self {
        Self::default()
    }

    /// No rule at all (bodies compared as they are).
    pub fn none() -> Self {
        Self {
            ignored: Vec::new(),
            masked_tags: Vec::new(),
            masked_prefixes: Vec::new(),
            paths: Vec::new(),
            detect_cwd: false,
        }
    }

    /// Also ignores the field at this JSON pointer; a `*` segment matches every array element
    /// or object member (e.g. `/input/*/id`, `/tools`).
    pub fn ignore(mut self, pointer: impl Into<String>) -> Self {
        self.ignored.push(pointer.into());
        self
    }

    /// Also masks the content of `<tag>…</tag>` in every string.
    pub fn mask_tag(mut self, tag: impl Into<String>) -> Self {
        self.masked_tags.push(tag.into());
        self
    }

    /// Also masks the rest of every line starting with `prefix` (after indentation).
    pub fn mask_line_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.masked_prefixes.push(prefix.into());
        self
    }

    /// Replaces the local path `path` by `placeholder` (in cassettes, and before comparing).
    pub fn path(mut self, path: impl AsRef<Path>, placeholder: impl Into<String>) -> Self {
        self.add_path(path.as_ref(), placeholder.into());
        self
    }

    pub(super) fn add_path(&mut self, path: &Path, placeholder: String) {
        let p = path.to_string_lossy().into_owned();
        if p.is_empty() {
            return;
        }
        self.paths.retain(|(_, ph)| *ph != placeholder);
        self.paths.push((p, placeholder));
    }

    /// Whether the working directory reported in `<cwd>…</cwd>` becomes [`CWD_PLACEHOLDER`]
    /// (default: yes).
    pub fn detect_cwd(mut self, yes: bool) -> Self {
        self.detect_cwd = yes;
        self
    }

    /// The path substitutions for this body: registered ones plus its working directory,
    /// longest path first (so a path inside another is replaced whole).
    pub(super) fn paths_for(&self, body: &Value) -> Vec<(String, String)> {
        let mut paths = self.paths.clone();
        if self.detect_cwd
            && let Some(cwd) = find_tag(body, "cwd")
            && !paths.iter().any(|(p, _)| *p == cwd)
        {
            paths.push((cwd, CWD_PLACEHOLDER.to_owned()));
        }
        paths.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        paths
    }

    /// `body` with local paths replaced by their placeholders (what a cassette stores).
    pub fn placeholders(&self, body: &Value) -> Value {
        let paths = self.paths_for(body);
        replace_paths(body, &paths)
    }

    /// The comparable form of a request body: placeholders, masks, ignored fields removed.
    pub fn normalize(&self, body: &Value) -> Value {
        let mut v = self.placeholders(body);
        v = map_strings(&v, &|s| self.mask(s));
        for pointer in &self.ignored {
            let segments: Vec<String> = pointer
                .split('/')
                .skip(1)
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect();
            remove_at(&mut v, &segments);
        }
        v
    }

    fn mask(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for tag in &self.masked_tags {
            out = mask_tag(&out, tag);
        }
        let masked = |line: &str| {
            let body = line.trim_start();
            self.masked_prefixes
                .iter()
                .find(|p| body.starts_with(p.as_str()))
                .map(|p| format!("{}{p}{IGNORED}", &line[..line.len() - body.len()]))
        };
        if out.split('\n').any(|l| masked(l).is_some()) {
            out = out
                .split('\n')
                .map(|l| masked(l).unwrap_or_else(|| l.to_owned()))
                .collect::<Vec<_>>()
                .join("\n");
        }
        out
    }
}

/// The content of the first `<tag>…</tag>` in any string of `value`.
fn find_tag(value: &Value, tag: &str) -> Option<String> {
    match value {
        Value::String(s) => {
            let open = format!("<{tag}>");
            let close = format!("</{tag}>");
            let start = s.find(&open)? + open.len();
            let len = s.get(start..)?.find(&close)?;
            let found = s.get(start..start + len)?.trim();
            // A placeholder is not a path to replace.
            (!found.is_empty() && !found.starts_with('[')).then(|| found.to_owned())
        }
        Value::Array(a) => a.iter().find_map(|v| find_tag(v, tag)),
        Value::Object(o) => o.values().find_map(|v| find_tag(v, tag)),
        _ => None,
    }
}

fn mask_tag(s: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(&open) {
        let after = i + open.len();
        let Some(len) = rest.get(after..).and_then(|r| r.find(&close)) else {
            break;
        };
        out.push_str(&rest[..after]);
        out.push_str(IGNORED);
        rest = &rest[after + len..];
    }
    out.push_str(rest);
    out
}

pub(super) fn replace_paths(value: &Value, paths: &[(String, String)]) -> Value {
    if paths.is_empty() {
        return value.clone();
    }
    map_strings(value, &|s| {
        paths
            .iter()
            .fold(s.to_owned(), |t, (p, ph)| t.replace(p.as_str(), ph))
    })
}

/// Removes what `segments` (a JSON pointer, `*` for any member) points at.
fn remove_at(v: &mut Value, segments: &[String]) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    match v {
        Value::Object(o) => {
            if rest.is_empty() {
                if first == "*" {
                    o.clear();
                } else {
                    o.shift_remove(first.as_str());
                }
            } else if first == "*" {
                o.values_mut().for_each(|c| remove_at(c, rest));
            } else if let Some(c) = o.get_mut(first.as_str()) {
                remove_at(c, rest);
            }
        }
        Value::Array(a) => {
            if first == "*" {
                if rest.is_empty() {
                    a.clear();
                } else {
                    a.iter_mut().for_each(|c| remove_at(c, rest));
                }
            } else if let Ok(i) = first.parse::<usize>() {
                if rest.is_empty() {
                    if i < a.len() {
                        a.remove(i);
                    }
                } else if let Some(c) = a.get_mut(i) {
                    remove_at(c, rest);
                }
            }
        }
        _ => {}
    }
}
