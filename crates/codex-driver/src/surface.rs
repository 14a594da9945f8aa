//! Codex's command-line surface, read from the binary itself, and how this library covers it.
//!
//! [`Surface`] is every command path (visible, hidden and aliased) with its flags, taken from
//! `codex completion bash`: clap writes that script from the same command tree as `--help`, but
//! unlike `--help` it also lists hidden commands. [`Manifest`] maps each command and long flag to
//! the API that covers it, or says why it is left out; [`Manifest::check`] finds what a binary has
//! that the manifest doesn't mention. The crate ships its own manifest ([`Manifest::builtin`]), and
//! a test fails when a tested release has a command or flag with neither an API nor a reason.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::Binary;
//! use codex_driver::surface::{Manifest, Surface};
//!
//! let surface = Surface::probe(&Binary::resolve(None, true)?).await?;
//! for gap in Manifest::builtin()?.check(&surface).gaps() {
//!     println!("this Codex has `{gap}`, which codex-driver does not know");
//! }
//! # Ok(()) }
//! ```

use crate::binary::Binary;
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};

/// One command path (`codex`, `codex exec`, `codex exec resume`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CommandSurface {
    /// Other names of the command (`e` for `exec`).
    pub aliases: BTreeSet<String>,
    /// Its flags, long (`--json`) and short (`-o`).
    pub flags: BTreeSet<String>,
    /// Its direct sub-commands, by canonical name.
    pub subcommands: BTreeSet<String>,
}

impl CommandSurface {
    /// The long flags (`--x`), the ones coverage is tracked for: every short flag Codex has is a
    /// short form of a long one.
    pub fn long_flags(&self) -> impl Iterator<Item = &str> {
        self.flags
            .iter()
            .map(String::as_str)
            .filter(|f| f.starts_with("--"))
    }
}

/// Every command path of one binary with its flags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Surface {
    /// Keyed by the whole path, `codex` first (`codex`, `codex app-server daemon start`).
    pub commands: BTreeMap<String, CommandSurface>,
}

/// Flags clap adds to every command; not Codex's surface.
const CLAP_FLAGS: [&str; 4] = ["--help", "-h", "--version", "-V"];

impl Surface {
    /// Runs `codex completion bash` and reads the command tree from it.
    pub async fn probe(binary: &Binary) -> Result<Self> {
        let script = crate::probe::run_capture(binary.path(), &["completion", "bash"]).await?;
        Self::from_bash_completion(&script).map_err(|detail| Error::Probe {
            path: binary.path().to_path_buf(),
            detail,
        })
    }

    /// Reads the command tree from a clap-generated bash completion script: its `parent,word)
    /// cmd="key"` transitions give the tree and the aliases, its `key) opts="..."` lines the
    /// flags. (clap writes a command key with every non-alphanumeric character as `__`, so
    /// `app-server` and `app server` share one; the transitions tell them apart.)
    pub fn from_bash_completion(script: &str) -> std::result::Result<Self, String> {
        let mut edges: Vec<(String, String, String)> = Vec::new();
        let mut opts: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut root = None;
        let mut case_label: Option<String> = None;
        for line in script.lines() {
            let t = line.trim();
            if let Some(label) = t.strip_suffix(')') {
                case_label = Some(label.trim_matches('"').to_owned());
                continue;
            }
            if let (Some(label), Some(rest)) = (&case_label, t.strip_prefix("cmd=\"")) {
                let key = rest.trim_end_matches('"').to_owned();
                if label == ",$1" {
                    root = Some(key);
                } else if let Some((parent, word)) = label.split_once(',') {
                    edges.push((parent.to_owned(), word.to_owned(), key));
                }
                case_label = None;
                continue;
            }
            if let (Some(label), Some(rest)) = (&case_label, t.strip_prefix("opts=\"")) {
                let words = rest.trim_end_matches('"').split_whitespace();
                opts.entry(label.clone())
                    .or_insert_with(|| words.map(str::to_owned).collect());
                case_label = None;
            }
        }
        let root = root.ok_or("no root command (`\",$1\")`) in the completion script")?;
        // Key → path, breadth first from the root; a word whose key isn't `parent__word` is an alias.
        let mut paths: BTreeMap<String, String> = BTreeMap::new();
        paths.insert(root.clone(), "codex".into());
        let mut surface = Surface::default();
        surface
            .commands
            .insert("codex".into(), CommandSurface::default());
        let mut frontier = vec![root];
        while let Some(parent) = frontier.pop() {
            let parent_path = paths.get(&parent).cloned().unwrap_or_default();
            let mut children: Vec<&(String, String, String)> =
                edges.iter().filter(|(p, _, _)| *p == parent).collect();
            // Canonical names first, so an alias finds its command already there.
            children.sort_by_key(|(_, w, k)| *k != format!("{parent}__{}", mangle(w)));
            for (_, word, key) in children {
                if word == "help" {
                    continue;
                }
                if *key == format!("{parent}__{}", mangle(word)) {
                    let path = format!("{parent_path} {word}");
                    if paths.insert(key.clone(), path.clone()).is_none() {
                        frontier.push(key.clone());
                    }
                    surface.commands.entry(path).or_default();
                    if let Some(c) = surface.commands.get_mut(&parent_path) {
                        c.subcommands.insert(word.clone());
                    }
                } else if let Some(path) = paths.get(key).cloned()
                    && let Some(c) = surface.commands.get_mut(&path)
                {
                    c.aliases.insert(word.clone());
                }
            }
        }
        for (key, path) in &paths {
            let Some(words) = opts.get(key) else {
                return Err(format!("no `opts` for `{path}` in the completion script"));
            };
            if let Some(c) = surface.commands.get_mut(path) {
                c.flags = words
                    .iter()
                    .filter(|w| w.starts_with('-') && !CLAP_FLAGS.contains(&w.as_str()))
                    .cloned()
                    .collect();
            }
        }
        Ok(surface)
    }

    /// One line per command: `codex exec (e): --add-dir --cd ...`; what the checked-in
    /// `surface/<release>.txt` files hold.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (path, c) in &self.commands {
            s.push_str(path);
            if !c.aliases.is_empty() {
                let a: Vec<&str> = c.aliases.iter().map(String::as_str).collect();
                s.push_str(&format!(" ({})", a.join(" ")));
            }
            s.push(':');
            for f in &c.flags {
                s.push(' ');
                s.push_str(f);
            }
            s.push('\n');
        }
        s
    }

    /// Reads [`to_text`](Self::to_text)'s format back.
    pub fn from_text(text: &str) -> std::result::Result<Self, String> {
        let mut surface = Surface::default();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (head, flags) = line
                .split_once(':')
                .ok_or_else(|| format!("line {}: no `:`", n + 1))?;
            let (path, aliases) = match head.split_once(" (") {
                Some((p, a)) => (p, a.trim_end_matches(')')),
                None => (head, ""),
            };
            let c = CommandSurface {
                aliases: aliases.split_whitespace().map(str::to_owned).collect(),
                flags: flags.split_whitespace().map(str::to_owned).collect(),
                subcommands: BTreeSet::new(),
            };
            surface.commands.insert(path.to_owned(), c);
        }
        let paths: Vec<String> = surface.commands.keys().cloned().collect();
        for p in paths {
            if let Some((parent, name)) = p.rsplit_once(' ')
                && let Some(c) = surface.commands.get_mut(parent)
            {
                c.subcommands.insert(name.to_owned());
            }
        }
        Ok(surface)
    }
}

/// The surface of each tested release ([`TESTED_CODEX`](crate::binary::TESTED_CODEX)), as
/// recorded from its binary (`surface/<release>.txt`; the compat suite checks each against
/// its binary).
pub const TESTED_SURFACES: &[(&str, &str)] = &[
    ("0.171.0", include_str!("../surface/0.171.0.txt")),
    ("0.169.0", include_str!("../surface/0.169.0.txt")),
    ("0.163.0", include_str!("../surface/0.163.0.txt")),
    ("0.153.4", include_str!("../surface/0.153.4.txt")),
    ("0.130.0", include_str!("../surface/0.130.0.txt")),
];

/// The oldest tested release whose surface has `path` (and `flag` on it, when given): what an
/// [`Error::Unsupported`] names as required.
pub fn first_tested_with(path: &str, flag: Option<&str>) -> Option<semver::Version> {
    TESTED_SURFACES
        .iter()
        .filter(|(_, text)| {
            Surface::from_text(text).is_ok_and(|s| {
                s.commands
                    .get(path)
                    .is_some_and(|c| flag.is_none_or(|f| c.flags.contains(f)))
            })
        })
        .filter_map(|(v, _)| semver::Version::parse(v).ok())
        .min()
}

fn mangle(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                "__".into()
            }
        })
        .collect()
}

/// How one command or flag is covered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// By this API.
    Covered(String),
    /// Intentionally not wrapped, for this reason.
    LeftOut(String),
    /// Neither: the manifest doesn't know it.
    Gap,
}

/// One command of a [`Coverage`] report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandCoverage {
    /// `codex exec resume`.
    pub path: String,
    /// The command itself.
    pub status: Status,
    /// Each long flag.
    pub flags: BTreeMap<String, Status>,
}

/// A [`Surface`] checked against a [`Manifest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Coverage {
    /// Every command, in path order.
    pub commands: Vec<CommandCoverage>,
}

impl Coverage {
    /// Commands and flags with neither an API nor a reason: `codex cloud`, `codex exec --json`.
    pub fn gaps(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.commands {
            if c.status == Status::Gap {
                out.push(c.path.clone());
            }
            for (f, s) in &c.flags {
                if *s == Status::Gap {
                    out.push(format!("{} {f}", c.path));
                }
            }
        }
        out
    }

    /// (commands covered, left out, total), then the same for flags.
    pub fn counts(&self) -> ([usize; 3], [usize; 3]) {
        let tally = |it: &mut dyn Iterator<Item = &Status>| {
            let mut n = [0; 3];
            for s in it {
                match s {
                    Status::Covered(_) => n[0] += 1,
                    Status::LeftOut(_) => n[1] += 1,
                    Status::Gap => {}
                }
                n[2] += 1;
            }
            n
        };
        (
            tally(&mut self.commands.iter().map(|c| &c.status)),
            tally(&mut self.commands.iter().flat_map(|c| c.flags.values())),
        )
    }
}

/// Which commands' flags an option table covers.
struct Table {
    name: &'static str,
    commands: &'static [&'static str],
    flags: fn() -> Vec<crate::flags::FlagInfo>,
}

const TABLES: [Table; 2] = [
    Table {
        name: "Exec::option",
        // Exec puts its table's options before the sub-command, where exec takes all of them.
        commands: &[
            "codex exec",
            "codex exec resume",
            "codex exec fork",
            "codex exec review",
        ],
        flags: crate::exec::Exec::options,
    },
    Table {
        name: "Tui::option",
        commands: &["codex", "codex resume", "codex fork"],
        flags: crate::tui::Tui::options,
    },
];

/// The coverage manifest: the API or the reason for each command and flag. See the
/// [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    global: BTreeMap<String, Status>,
    commands: BTreeMap<String, ManifestCommand>,
}

#[derive(Debug, Clone)]
struct ManifestCommand {
    status: Status,
    flags: BTreeMap<String, Status>,
    /// For the flags named neither in `flags`, `[global]` nor an option table.
    other_flags: Option<Status>,
}

const LEFT_OUT: &str = "left out:";

fn status_of(text: &str) -> Status {
    match text.strip_prefix(LEFT_OUT) {
        Some(reason) => Status::LeftOut(reason.trim().to_owned()),
        None => Status::Covered(text.trim().to_owned()),
    }
}

impl Manifest {
    /// The manifest this crate was built with (`coverage.toml` in the crate).
    pub fn builtin() -> Result<Self> {
        Self::parse(include_str!("../coverage.toml"))
    }

    /// Parses a manifest: `[global]` maps flags every command takes; each
    /// `[commands."codex exec"]` has `api = "..."` or `left_out = "reason"`, a `flags` table
    /// whose values are an API or `"left out: reason"`, and optionally `other_flags` (same
    /// values) for its flags mapped nowhere else.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |message: String| Error::Config {
            message: format!("coverage manifest: {message}"),
            stderr_tail: String::new(),
        };
        let doc: toml_edit::DocumentMut = text.parse().map_err(|e| bad(format!("{e}")))?;
        let mut m = Manifest::default();
        let str_map = |item: Option<&toml_edit::Item>,
                       what: &str|
         -> std::result::Result<BTreeMap<String, Status>, String> {
            let mut out = BTreeMap::new();
            let Some(item) = item else { return Ok(out) };
            let t = item
                .as_table_like()
                .ok_or_else(|| format!("{what} is not a table"))?;
            for (k, v) in t.iter() {
                let s = v
                    .as_str()
                    .ok_or_else(|| format!("{what}.{k} is not a string"))?;
                out.insert(k.to_owned(), status_of(s));
            }
            Ok(out)
        };
        m.global = str_map(doc.get("global"), "global").map_err(bad)?;
        if let Some(cmds) = doc.get("commands") {
            let cmds = cmds
                .as_table_like()
                .ok_or_else(|| bad("`commands` is not a table".into()))?;
            for (path, body) in cmds.iter() {
                let t = body
                    .as_table_like()
                    .ok_or_else(|| bad(format!("commands.\"{path}\" is not a table")))?;
                let status = match (
                    t.get("api").and_then(|v| v.as_str()),
                    t.get("left_out").and_then(|v| v.as_str()),
                ) {
                    (Some(api), None) => Status::Covered(api.to_owned()),
                    (None, Some(reason)) => Status::LeftOut(reason.to_owned()),
                    _ => {
                        return Err(bad(format!(
                            "commands.\"{path}\" needs exactly one of `api` and `left_out`"
                        )));
                    }
                };
                let flags =
                    str_map(t.get("flags"), &format!("commands.\"{path}\".flags")).map_err(bad)?;
                let other_flags = t.get("other_flags").and_then(|v| v.as_str()).map(status_of);
                m.commands.insert(
                    path.to_owned(),
                    ManifestCommand {
                        status,
                        flags,
                        other_flags,
                    },
                );
            }
        }
        Ok(m)
    }

    /// The status of `path`: its own entry, else the nearest left-out ancestor's reason.
    fn command_status(&self, path: &str) -> Status {
        if let Some(c) = self.commands.get(path) {
            return c.status.clone();
        }
        let mut p = path;
        while let Some((parent, _)) = p.rsplit_once(' ') {
            if let Some(ManifestCommand {
                status: Status::LeftOut(r),
                ..
            }) = self.commands.get(parent)
            {
                return Status::LeftOut(format!("with `{parent}`: {r}"));
            }
            p = parent;
        }
        Status::Gap
    }

    /// Checks every command and long flag of `surface`.
    pub fn check(&self, surface: &Surface) -> Coverage {
        let tables: Vec<(&Table, BTreeSet<&'static str>)> = TABLES
            .iter()
            .map(|t| (t, (t.flags)().into_iter().map(|i| i.flag).collect()))
            .collect();
        let mut out = Coverage::default();
        for (path, c) in &surface.commands {
            let status = self.command_status(path);
            let own = self.commands.get(path);
            let mut flags = BTreeMap::new();
            for f in c.long_flags() {
                let s = if let Some(s) = own.and_then(|o| o.flags.get(f)) {
                    s.clone()
                } else if let Some(s) = self.global.get(f) {
                    s.clone()
                } else if let Some((t, _)) = tables
                    .iter()
                    .find(|(t, set)| t.commands.contains(&path.as_str()) && set.contains(f))
                {
                    Status::Covered(format!("{}(\"{f}\")", t.name))
                } else if let Some(s) = own.and_then(|o| o.other_flags.clone()) {
                    s
                } else if let Status::LeftOut(_) = status {
                    Status::LeftOut(format!("with `{path}`"))
                } else {
                    Status::Gap
                };
                flags.insert(f.to_owned(), s);
            }
            out.commands.push(CommandCoverage {
                path: path.clone(),
                status,
                flags,
            });
        }
        out
    }

    /// Entries naming a command or flag that none of `surfaces` has: a manifest that only
    /// grows would hide what a release removed.
    pub fn stale(&self, surfaces: &[&Surface]) -> Vec<String> {
        let mut out = Vec::new();
        let has_flag = |path: Option<&str>, flag: &str| {
            surfaces.iter().any(|s| {
                s.commands
                    .iter()
                    .any(|(p, c)| path.is_none_or(|want| want == p) && c.flags.contains(flag))
            })
        };
        for f in self.global.keys() {
            if !has_flag(None, f) {
                out.push(format!("[global] {f}"));
            }
        }
        for (path, c) in &self.commands {
            if !surfaces.iter().any(|s| s.commands.contains_key(path)) {
                out.push(path.clone());
            }
            for f in c.flags.keys() {
                if !has_flag(Some(path), f) {
                    out.push(format!("{path} {f}"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = r#"
_codex() {
    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="codex"
                ;;
            codex,e)
                cmd="codex__exec"
                ;;
            codex,exec)
                cmd="codex__exec"
                ;;
            codex,app-server)
                cmd="codex__app__server"
                ;;
            codex,help)
                cmd="codex__help"
                ;;
            codex__exec,resume)
                cmd="codex__exec__resume"
                ;;
            *)
                ;;
        esac
    done
    case "${cmd}" in
        codex)
            opts="-c -h --config --help --version [PROMPT] exec e app-server help"
            ;;
        codex__app__server)
            opts="--listen -h --help"
            ;;
        codex__exec)
            opts="-o --json --output-last-message --help [PROMPT] resume help"
            ;;
        codex__exec__resume)
            opts="--last --help [SESSION_ID]"
            ;;
        codex__help)
            opts="exec"
            ;;
    esac
}
"#;

    #[test]
    fn the_tree_aliases_and_flags_come_from_the_completion_script() {
        let s = Surface::from_bash_completion(SCRIPT).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.to_text(),
            "codex: --config -c\n\
             codex app-server: --listen\n\
             codex exec (e): --json --output-last-message -o\n\
             codex exec resume: --last\n"
        );
        assert_eq!(Surface::from_text(&s.to_text()), Ok(s));
    }

    #[test]
    fn the_manifest_maps_flags_tables_and_ancestors() -> Result<()> {
        let s = Surface::from_bash_completion(SCRIPT).map_err(Error::InvalidOptions)?;
        let m = Manifest::parse(
            r#"
[global]
"--config" = "SpawnOptions::config"
[commands."codex"]
api = "Tui"
[commands."codex exec"]
api = "Exec"
flags = { "--json" = "always passed" }
[commands."codex app-server"]
left_out = "not today"
[commands."codex gone"]
api = "x"
"#,
        )?;
        let c = m.check(&s);
        assert_eq!(c.gaps(), ["codex exec resume", "codex exec resume --last"]);
        let exec = &c.commands[2];
        assert_eq!(
            exec.flags,
            BTreeMap::from([
                ("--json".into(), Status::Covered("always passed".into())),
                (
                    "--output-last-message".into(),
                    Status::Covered("Exec::option(\"--output-last-message\")".into())
                ),
            ])
        );
        assert_eq!(
            c.commands[1].flags["--listen"],
            Status::LeftOut("with `codex app-server`".into())
        );
        assert_eq!(m.stale(&[&s]), vec!["codex gone".to_owned()]);
        Ok(())
    }

    /// The README's summary table and docs/coverage.md are what the manifest and the tested
    /// surfaces say (`UPDATE_COVERAGE=1` rewrites both).
    #[test]
    fn the_readme_and_docs_show_the_coverage() -> Result<()> {
        let m = Manifest::builtin()?;
        let mut summary = String::from(
            "| Release | commands | covered | left out | long flags | covered | left out | gaps |\n|---|---|---|---|---|---|---|---|\n",
        );
        let mut rows: BTreeMap<String, (Status, Vec<&str>)> = BTreeMap::new();
        for (v, t) in TESTED_SURFACES {
            let s = Surface::from_text(t).map_err(Error::InvalidOptions)?;
            let c = m.check(&s);
            let ([cc, cl, ct], [fc, fl, ft]) = c.counts();
            summary.push_str(&format!(
                "| {v} | {ct} | {cc} | {cl} | {ft} | {fc} | {fl} | {} |\n",
                c.gaps().len()
            ));
            for cmd in c.commands {
                rows.entry(cmd.path)
                    .or_insert((cmd.status, Vec::new()))
                    .1
                    .push(v);
            }
        }
        let mut doc = String::from(
            "# Coverage of the Codex CLI\n\nGenerated from `crates/codex-driver/coverage.toml` and the surfaces of the tested releases\n(`crates/codex-driver/surface/`) by `UPDATE_COVERAGE=1 cargo test -p codex-driver --lib surface`.\nFlags are mapped in the manifest; `Exec::option` and `Tui::option` cover their tables' flags.\n\n| Command | Covered by / left out because | Releases |\n|---|---|---|\n",
        );
        for (path, (status, releases)) in &rows {
            let what = match status {
                Status::Covered(api) => format!("`{api}`"),
                Status::LeftOut(r) => format!("left out: {r}"),
                Status::Gap => "**gap**".into(),
            };
            let rel = if releases.len() == TESTED_SURFACES.len() {
                "all".to_owned()
            } else {
                releases.join(", ")
            };
            doc.push_str(&format!(
                "| `{path}` | {} | {rel} |\n",
                what.replace('|', "\\|")
            ));
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let readme_path = root.join("README.md");
        let readme =
            std::fs::read_to_string(&readme_path).map_err(|e| Error::io("README.md", e))?;
        let (start, end) = (
            "<!-- coverage-table:start -->\n",
            "<!-- coverage-table:end -->",
        );
        let missing = || Error::InvalidOptions("README has no coverage-table markers".into());
        let i = readme.find(start).ok_or_else(missing)? + start.len();
        let j = readme.find(end).ok_or_else(missing)?;
        let want_readme = format!("{}{summary}{}", &readme[..i], &readme[j..]);
        let doc_path = root.join("docs/coverage.md");
        if std::env::var_os("UPDATE_COVERAGE").is_some() {
            std::fs::write(&readme_path, &want_readme).map_err(|e| Error::io("README.md", e))?;
            std::fs::write(&doc_path, &doc).map_err(|e| Error::io("docs/coverage.md", e))?;
            return Ok(());
        }
        assert_eq!(
            readme, want_readme,
            "README's coverage table is stale: UPDATE_COVERAGE=1 cargo test -p codex-driver --lib surface"
        );
        let have_doc = std::fs::read_to_string(&doc_path).unwrap_or_default();
        assert_eq!(
            have_doc, doc,
            "docs/coverage.md is stale: UPDATE_COVERAGE=1 cargo test -p codex-driver --lib surface"
        );
        Ok(())
    }

    /// The coverage gate: every command and long flag of every tested release is mapped to an
    /// API or left out with a reason, and the manifest names nothing no release has.
    #[test]
    fn every_tested_release_is_covered_without_gaps_or_stale_entries() -> Result<()> {
        let m = Manifest::builtin()?;
        let surfaces: Vec<Surface> = TESTED_SURFACES
            .iter()
            .map(|(v, t)| {
                Surface::from_text(t).map_err(|e| Error::InvalidOptions(format!("{v}: {e}")))
            })
            .collect::<Result<_>>()?;
        let mut gaps = Vec::new();
        for ((v, _), s) in TESTED_SURFACES.iter().zip(&surfaces) {
            gaps.extend(m.check(s).gaps().into_iter().map(|g| format!("{v}: {g}")));
        }
        assert!(
            gaps.is_empty(),
            "not in coverage.toml:\n{}",
            gaps.join("\n")
        );
        let refs: Vec<&Surface> = surfaces.iter().collect();
        assert_eq!(
            m.stale(&refs),
            Vec::<String>::new(),
            "in coverage.toml, in no tested release"
        );
        let tested: Vec<&str> = TESTED_SURFACES.iter().map(|(v, _)| *v).collect();
        assert_eq!(tested, crate::binary::TESTED_CODEX);
        Ok(())
    }
}
