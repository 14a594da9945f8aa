//! Snapshots of a `config.toml` kept before each change the library makes (see [`Snapshots`]).
//!
//! They live in a hidden directory beside the file, `<dir>/.<name>.snapshots/` (for
//! `~/.codex/config.toml`: `~/.codex/.config.toml.snapshots/`): beside the path as given, so a
//! symlinked file (a dotfiles repository) gets no clutter where the link points. Codex reads
//! only the files and directories it names in its home, so it never looks inside. Each snapshot is
//! `<name>.<UTC time>` (`config.toml.20260103T060908.052Z`, `-1`, `-2`, ... appended when two
//! land in the same millisecond), mode 0600 since a configuration may hold secrets (an MCP
//! server's `env`), in a 0700 directory.

use super::file::{file_err, read_existing, resolve_target, write_config};
use crate::error::{Error, Result};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many snapshots of a file are kept unless told otherwise; older ones are removed.
pub const DEFAULT_KEEP: usize = 20;

/// One kept copy of a configuration file's earlier content.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot {
    /// Its id: the UTC time in its name (`20260103T060908.052Z`, or with `-N`).
    pub id: String,
    /// Its file.
    pub path: PathBuf,
    /// When it was taken (from its name, to the millisecond).
    pub taken_at: SystemTime,
    /// Its size in bytes.
    pub size: u64,
}

impl Snapshot {
    /// [`taken_at`](Self::taken_at) as RFC 3339 in UTC with milliseconds
    /// (`2026-01-03T06:09:08.052Z`).
    pub fn taken_at_rfc3339(&self) -> String {
        let ms = self
            .taken_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let (date, h, mi, s, milli) = split_ms(ms);
        let (y, mo, d) = date;
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
    }
}

/// The snapshots of one configuration file: listing, diffing and restoring them.
/// [`ConfigFile`](super::ConfigFile) takes one on every save that changes an existing file.
///
/// ```
/// use codex_driver::config::{ConfigFile, Snapshots};
///
/// # fn demo(dir: &std::path::Path) -> codex_driver::Result<()> {
/// let path = dir.join("config.toml");
/// std::fs::write(&path, "model = \"gpt-5\"\n").unwrap();
/// let mut cfg = ConfigFile::open(&path)?;
/// cfg.set("model", "o3")?;
/// cfg.save()?;
/// let snaps = Snapshots::for_file(&path);
/// let list = snaps.list()?;
/// assert_eq!(list.len(), 1);
/// assert!(snaps.diff(&list[0])?.contains("-model = \"gpt-5\"\n+model = \"o3\"\n"));
/// snaps.restore(&list[0], 20)?;
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "model = \"gpt-5\"\n");
/// # Ok(()) }
/// # let d = tempfile::tempdir().unwrap(); demo(d.path()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Snapshots {
    file: PathBuf,
    dir: PathBuf,
    /// The file's name: the prefix of every snapshot's name.
    name: String,
}

impl Snapshots {
    /// The snapshots of the file at `path` (nothing is read or created yet).
    pub fn for_file(path: impl Into<PathBuf>) -> Self {
        let file = path.into();
        let name = file.file_name().map_or_else(
            || "config.toml".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        let parent = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = parent.join(format!(".{name}.snapshots"));
        Self { file, dir, name }
    }

    /// The configuration file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The directory holding the snapshots.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The snapshots, newest first (none when the directory does not exist). Files in the
    /// directory that are not snapshots of this file are ignored.
    pub fn list(&self) -> Result<Vec<Snapshot>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(file_err(&self.dir, None, format!("listing snapshots: {e}"))),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| file_err(&self.dir, None, format!("listing snapshots: {e}")))?;
            let file_name = entry.file_name();
            let Some(id) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix(&self.name))
                .and_then(|n| n.strip_prefix('.'))
            else {
                continue;
            };
            let Some(order) = parse_id(id) else { continue };
            // A snapshot pruned by another writer meanwhile is simply not listed.
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let ms = u64::try_from(order.0).unwrap_or(0);
            found.push((
                order,
                Snapshot {
                    id: id.to_owned(),
                    path: entry.path(),
                    taken_at: UNIX_EPOCH + Duration::from_millis(ms),
                    size: meta.len(),
                },
            ));
        }
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        Ok(found.into_iter().map(|(_, s)| s).collect())
    }

    /// The snapshot with this id (its file name is accepted too);
    /// [`Error::ConfigSnapshotUnknown`] when there is none.
    pub fn find(&self, id: &str) -> Result<Snapshot> {
        let id = id
            .strip_prefix(&self.name)
            .and_then(|i| i.strip_prefix('.'))
            .unwrap_or(id);
        self.list()?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| Error::ConfigSnapshotUnknown {
                id: id.to_owned(),
                file: self.file.clone(),
                dir: self.dir.clone(),
            })
    }

    /// A snapshot's content.
    pub fn read(&self, snapshot: &Snapshot) -> Result<String> {
        let bytes = std::fs::read(&snapshot.path)
            .map_err(|e| file_err(&snapshot.path, None, format!("reading the snapshot: {e}")))?;
        String::from_utf8(bytes)
            .map_err(|e| file_err(&snapshot.path, None, format!("not UTF-8: {e}")))
    }

    /// A unified line diff from the snapshot (`---`) to the file as it is now (`+++`, empty
    /// when it does not exist), with three lines of context; empty when they are the same.
    pub fn diff(&self, snapshot: &Snapshot) -> Result<String> {
        let old = self.read(snapshot)?;
        let now = read_existing(&self.file)?.unwrap_or_default();
        let new = String::from_utf8(now)
            .map_err(|e| file_err(&self.file, None, format!("not UTF-8: {e}")))?;
        Ok(crate::diff::unified(
            &old,
            &new,
            &format!("{} (snapshot {})", self.file.display(), snapshot.id),
            &self.file.display().to_string(),
        ))
    }

    /// Puts a snapshot's content back (atomically, mode 0600). The content it replaces is
    /// snapshotted first, so a restore can itself be undone; that snapshot is returned (`None`
    /// when there was no file or it already had this content). A snapshot that is not valid
    /// TOML is refused and nothing changes. `keep` bounds the snapshots as in
    /// [`ConfigFile::keep_snapshots`](super::ConfigFile::keep_snapshots).
    pub fn restore(&self, snapshot: &Snapshot, keep: usize) -> Result<Option<Snapshot>> {
        let text = self.read(snapshot)?;
        text.parse::<toml_edit::DocumentMut>().map_err(|e| {
            let first = e.message().lines().next().unwrap_or_default().to_owned();
            file_err(&snapshot.path, None, format!("not valid TOML: {first}"))
        })?;
        let before = read_existing(&resolve_target(&self.file)?)?;
        let taken = match before {
            Some(b) if b != text.as_bytes() => self.record(&b, keep)?,
            _ => None,
        };
        write_config(&self.file, text.as_bytes())?;
        Ok(taken)
    }

    /// Keeps `previous` (the content about to be replaced) as a new snapshot, then prunes to
    /// `keep`; nothing when `keep` is 0 (existing snapshots are left alone then).
    pub(crate) fn record(&self, previous: &[u8], keep: usize) -> Result<Option<Snapshot>> {
        if keep == 0 {
            return Ok(None);
        }
        // Absolute, so that a relative path's real ancestors are checked too.
        let abs = std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone());
        crate::fsutil::create_private_dir(&abs, "the config snapshot directory")?;
        // An existing directory of ours may be 0750 or so: snapshots hide even their names.
        let tighten = std::fs::Permissions::from_mode(0o700);
        std::fs::set_permissions(&self.dir, tighten)
            .map_err(|e| file_err(&self.dir, None, format!("making it private: {e}")))?;
        let fail =
            |e: std::io::Error| file_err(&self.dir, None, format!("writing a snapshot: {e}"));
        let mut tmp = tempfile::Builder::new()
            .prefix(".codex-driver-")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(fail)?;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
        tmp.write_all(previous).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        let stamp = stamp(now_ms());
        let mut n = 0u32;
        let (id, path) = loop {
            let id = if n == 0 {
                stamp.clone()
            } else {
                format!("{stamp}-{n}")
            };
            let path = self.dir.join(format!("{}.{id}", self.name));
            // No-clobber: two writers in one millisecond get distinct names, never one file.
            match tmp.persist_noclobber(&path) {
                Ok(_) => break (id, path),
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => {
                    tmp = e.file;
                    n += 1;
                }
                Err(e) => return Err(fail(e.error)),
            }
        };
        self.prune(keep)?;
        let taken_at = parse_id(&id).map_or(SystemTime::now(), |(ms, _)| {
            UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        });
        Ok(Some(Snapshot {
            id,
            path,
            taken_at,
            size: previous.len() as u64,
        }))
    }

    /// Removes all but the `keep` newest snapshots; how many were removed.
    pub fn prune(&self, keep: usize) -> Result<usize> {
        let mut removed = 0;
        for old in self.list()?.into_iter().skip(keep) {
            match std::fs::remove_file(&old.path) {
                Ok(()) => removed += 1,
                // Another writer pruned it first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(file_err(&old.path, None, format!("removing: {e}")));
                }
            }
        }
        Ok(removed)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Unix ms → `20260103T060908.052Z`: sortable, and no `:` (awkward in file names).
fn stamp(ms: i64) -> String {
    let ((y, mo, d), h, mi, s, milli) = split_ms(ms);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}.{milli:03}Z")
}

/// `20260103T060908.052Z[-N]` → (Unix ms, N), the order of snapshots.
fn parse_id(id: &str) -> Option<(i64, u32)> {
    let (stamp, n) = match id.split_once('-') {
        Some((s, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
            (s, n.parse().ok()?)
        }
        Some(_) => return None,
        None => (id, 0),
    };
    let b = stamp.as_bytes();
    if b.len() != 20 || b[8] != b'T' || b[15] != b'.' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = stamp.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s, milli) = (num(9..11)?, num(11..13)?, num(13..15)?, num(16..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some((((days * 86_400) + h * 3600 + mi * 60 + s) * 1000 + milli, n))
}

/// Unix ms → ((year, month, day), hour, minute, second, millisecond) in UTC.
fn split_ms(ms: i64) -> ((i64, i64, i64), i64, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let rem = secs.rem_euclid(86_400);
    (
        civil_from_days(secs.div_euclid(86_400)),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000),
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigFile;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_default()
    }

    use crate::config::temp_config as home;

    #[test]
    fn ids_round_trip_and_order() {
        let ms = 1_767_420_548_052; // 2026-01-03T06:09:08.052Z
        assert_eq!(stamp(ms), "20260103T060908.052Z");
        assert_eq!(parse_id("20260103T060908.052Z"), Some((ms, 0)));
        assert_eq!(parse_id("20260103T060908.052Z-12"), Some((ms, 12)));
        for bad in [
            "",
            "20260103T060908.052",
            "20261303T060908.052Z",
            "x-1",
            "20260103T060908.052Z-",
        ] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
        let s = Snapshot {
            id: String::new(),
            path: PathBuf::new(),
            taken_at: UNIX_EPOCH + Duration::from_millis(ms as u64),
            size: 0,
        };
        assert_eq!(s.taken_at_rfc3339(), "2026-01-03T06:09:08.052Z");
    }

    #[test]
    fn a_snapshot_is_taken_only_when_an_existing_file_changes() -> Result<()> {
        let (d, p) = home(None);
        let snaps = Snapshots::for_file(&p);
        assert_eq!(snaps.dir(), d.path().join(".config.toml.snapshots"));
        // A new file: nothing to keep.
        let mut c = ConfigFile::open(&p)?;
        c.set("model", "a")?;
        c.save()?;
        assert!(snaps.list()?.is_empty());
        assert!(!snaps.dir().exists());
        // Saved unchanged: nothing either.
        ConfigFile::open(&p)?.save()?;
        assert!(snaps.list()?.is_empty());
        // A change: the previous content, 0600 in a 0700 directory.
        let mut c = ConfigFile::open(&p)?;
        c.set("model", "b")?;
        c.save()?;
        let list = snaps.list()?;
        assert_eq!(list.len(), 1);
        assert_eq!(snaps.read(&list[0])?, "model = \"a\"\n");
        assert_eq!(list[0].size, 12);
        assert_eq!(mode(&list[0].path), 0o600);
        assert_eq!(mode(snaps.dir()), 0o700);
        assert_eq!(
            list[0].path.file_name().and_then(|n| n.to_str()),
            Some(format!("config.toml.{}", list[0].id).as_str())
        );
        // Taken in one millisecond or not, every snapshot gets its own name.
        for v in ["c", "d", "e"] {
            c.set("model", v)?;
            c.save()?;
        }
        let texts: Vec<String> = snaps
            .list()?
            .iter()
            .map(|s| snaps.read(s))
            .collect::<Result<_>>()?;
        assert_eq!(
            texts,
            [
                "model = \"d\"\n",
                "model = \"c\"\n",
                "model = \"b\"\n",
                "model = \"a\"\n"
            ]
        );
        Ok(())
    }

    #[test]
    fn snapshots_are_bounded_and_zero_disables_them() -> Result<()> {
        let (_d, p) = home(Some("n = 0\n"));
        let snaps = Snapshots::for_file(&p);
        let mut c = ConfigFile::open(&p)?;
        c.keep_snapshots(3);
        for n in 1..=6i64 {
            c.set("n", n)?;
            c.save()?;
        }
        let texts: Vec<String> = snaps
            .list()?
            .iter()
            .map(|s| snaps.read(s))
            .collect::<Result<_>>()?;
        assert_eq!(texts, ["n = 5\n", "n = 4\n", "n = 3\n"]);
        c.keep_snapshots(0);
        c.set("n", 7i64)?;
        c.save()?;
        assert_eq!(snaps.list()?.len(), 3);
        // Other files in the directory are neither listed nor pruned.
        let other = snaps.dir().join("notes.txt");
        std::fs::write(&other, "x").unwrap_or_default();
        assert_eq!(snaps.prune(1)?, 2);
        assert!(other.exists());
        Ok(())
    }

    #[test]
    fn restore_snapshots_the_current_content_first() -> Result<()> {
        let (_d, p) = home(Some("model = \"a\"\n"));
        let mut c = ConfigFile::open(&p)?;
        c.set("model", "b")?;
        c.save()?;
        let first = c.snapshots()?.remove(0);
        let undo = c.restore(&first)?;
        assert_eq!(
            std::fs::read_to_string(&p).unwrap_or_default(),
            "model = \"a\"\n"
        );
        assert_eq!(mode(&p), 0o600);
        assert_eq!(c.get("model"), Some(serde_json::json!("a")));
        // The content it replaced is a snapshot of its own: the restore can be undone.
        let undo = undo.unwrap_or_else(|| panic!("no snapshot of the replaced content"));
        let snaps = Snapshots::for_file(&p);
        assert_eq!(snaps.read(&undo)?, "model = \"b\"\n");
        assert_eq!(c.snapshots()?[0], undo);
        // Restoring what is already there takes no snapshot.
        assert_eq!(c.restore(&first)?, None);
        assert_eq!(c.snapshots()?.len(), 2);
        // Unknown ids are typed errors naming the id and the file.
        match snaps.find("20000101T000000.000Z") {
            Err(Error::ConfigSnapshotUnknown { id, file, .. }) => {
                assert_eq!(id, "20000101T000000.000Z");
                assert_eq!(file, p);
            }
            other => panic!("{other:?}"),
        }
        // By file name too.
        assert_eq!(snaps.find(&format!("config.toml.{}", undo.id))?, undo);
        Ok(())
    }

    #[test]
    fn an_unreadable_snapshot_names_itself() -> Result<()> {
        let (_d, p) = home(Some("a = 1\n"));
        let mut c = ConfigFile::open(&p)?;
        c.set("a", 2i64)?;
        c.save()?;
        let s = c.snapshots()?.remove(0);
        std::fs::write(&s.path, [0xff, 0xfe]).unwrap_or_default();
        assert!(matches!(c.diff(&s), Err(Error::ConfigFile { ref path, .. }) if *path == s.path));
        std::fs::write(&s.path, "[broken\n").unwrap_or_default();
        assert!(
            matches!(c.restore(&s), Err(Error::ConfigFile { ref path, .. }) if *path == s.path)
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap_or_default(), "a = 2\n");
        Ok(())
    }

    #[test]
    fn diff_shows_the_changes_with_context() -> Result<()> {
        let before = "# mine\nmodel = \"a\"\n\n[features]\nx = true\ny = true\nz = true\nw = true\n\n[tui]\nq = 1\n";
        let (_d, p) = home(Some(before));
        let mut c = ConfigFile::open(&p)?;
        c.set("model", "b")?;
        c.remove("tui.q");
        c.set("tui.r", 2i64)?;
        c.save()?;
        let s = c.snapshots()?.remove(0);
        let label = p.display();
        assert_eq!(
            c.diff(&s)?,
            format!(
                "--- {label} (snapshot {})\n+++ {label}\n\
                 @@ -1,5 +1,5 @@\n # mine\n-model = \"a\"\n+model = \"b\"\n \n [features]\n x = true\n\
                 @@ -8,4 +8,4 @@\n w = true\n \n [tui]\n-q = 1\n+r = 2\n",
                s.id
            )
        );
        // The same content: no diff.
        c.restore(&s)?;
        assert_eq!(c.diff(&s)?, "");
        Ok(())
    }
}
