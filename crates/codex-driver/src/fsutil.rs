//! Atomic file writes and locks for files we write in a user's CODEX_HOME, and the check that a
//! directory we trust (a home, a notify spool) is private to us.

use crate::error::HomeProblem;
use crate::error::{Error, Result};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Checks that `path` is a directory private to the current (effective) user, who must own it
/// and be the only one able to write to it: see [`check_private_dir_as`]. Fails with
/// [`Error::UnsafeDir`] naming the directory and the problem.
pub fn check_private_dir(path: &Path) -> Result<()> {
    let uid = current_uid().map_err(|e| Error::io("finding the current user id", e))?;
    check_private_dir_as(path, uid).map_err(|problem| Error::UnsafeDir {
        path: path.to_path_buf(),
        problem,
    })
}

/// Checks that `path` is a directory owned by `uid` with no group or other write bit (sticky or
/// not: anyone who can add files to it could plant a config, a hook or a symlink). A symlink is
/// judged by its target, and every link on the way must be owned by `uid` too (a link someone
/// else owns can be pointed elsewhere later). Ancestors of `path` are not checked.
pub fn check_private_dir_as(path: &Path, uid: u32) -> std::result::Result<(), HomeProblem> {
    let inaccessible = |e: std::io::Error| HomeProblem::NotAccessible(e.to_string());
    let mut at = path.to_path_buf();
    // Follow the final component's symlinks ourselves, checking each link's owner.
    for _ in 0..40 {
        let meta = std::fs::symlink_metadata(&at).map_err(inaccessible)?;
        if !meta.file_type().is_symlink() {
            if !meta.is_dir() {
                return Err(HomeProblem::NotADirectory);
            }
            if meta.uid() != uid {
                return Err(HomeProblem::NotOwned {
                    owner: meta.uid(),
                    expected: uid,
                });
            }
            let mode = meta.mode() & 0o7777;
            if mode & 0o022 != 0 {
                return Err(HomeProblem::WritableByOthers { mode });
            }
            return Ok(());
        }
        if meta.uid() != uid {
            return Err(HomeProblem::SymlinkNotOwned {
                link: at,
                owner: meta.uid(),
                expected: uid,
            });
        }
        let target = std::fs::read_link(&at).map_err(inaccessible)?;
        at = match at.parent() {
            Some(parent) => parent.join(target),
            None => target,
        };
    }
    Err(HomeProblem::NotAccessible(
        "too many levels of symbolic links".into(),
    ))
}

/// Before creating `path` (and any missing parents): every existing ancestor must be owned by
/// `uid` or root, and one that others can write to must be sticky (like `/tmp`). Otherwise
/// whoever owns or can write to it could rename our fresh private directory away and put their
/// own in its place. Fails with [`Error::UnsafeDir`] naming the ancestor.
pub fn check_ancestors(path: &Path) -> Result<()> {
    let uid = current_uid().map_err(|e| Error::io("finding the current user id", e))?;
    check_ancestors_as(path, uid).map_err(|(path, problem)| Error::UnsafeDir { path, problem })
}

/// [`check_ancestors`] for an explicit `uid`.
pub fn check_ancestors_as(
    path: &Path,
    uid: u32,
) -> std::result::Result<(), (PathBuf, HomeProblem)> {
    for dir in path
        .ancestors()
        .skip(1)
        .filter(|d| !d.as_os_str().is_empty())
    {
        // Missing ancestors are created by us, 0700.
        let Ok(meta) = std::fs::metadata(dir) else {
            continue;
        };
        if meta.uid() != uid && meta.uid() != 0 {
            let problem = HomeProblem::NotOwned {
                owner: meta.uid(),
                expected: uid,
            };
            return Err((dir.to_path_buf(), problem));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err((dir.to_path_buf(), HomeProblem::WritableByOthers { mode }));
        }
    }
    Ok(())
}

/// The effective user id: the owner of the files and directories this process creates.
///
/// std has no `geteuid` and the crate has no unsafe code: Linux states it in `/proc/self/status`;
/// elsewhere it is read off an anonymous temp file we create.
pub fn current_uid() -> std::io::Result<u32> {
    if let Some(uid) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(effective_uid_in_status)
    {
        return Ok(uid);
    }
    Ok(tempfile::tempfile()?.metadata()?.uid())
}

/// The effective uid in a `/proc/<pid>/status` text (`Uid: real effective saved fs`).
fn effective_uid_in_status(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Creates `dir` (and missing parents) as a directory private to us (0700), or reopens it.
/// Before anything is created, its existing ancestors must be safe ([`check_ancestors`]);
/// afterwards, created or found, it must not be a symlink and must pass
/// [`check_private_dir`]. `what` names it in errors ("the notify spool").
pub fn create_private_dir(dir: &Path, what: &str) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if std::fs::symlink_metadata(dir).is_err() {
        // Nobody else may be able to swap what we create for their own.
        check_ancestors(dir)?;
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("creating {what} {}", dir.display()), e))?;
    // Checked after creating: it may have been there (or appeared) already.
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::UnsafeDir {
            path: dir.to_path_buf(),
            problem: HomeProblem::Symlink,
        });
    }
    check_private_dir(dir)
}

/// `bytes` random bytes from the OS (`/dev/urandom`) as lowercase hex: the tokens of the
/// loopback servers this crate runs. `purpose` names the token in the error.
pub fn random_hex(bytes: usize, purpose: &str) -> Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| Error::io(format!("reading /dev/urandom for {purpose}"), e))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `bytes` to `path` atomically (a temp file in the same directory, fsynced, renamed
/// over the target) with permission bits `mode`. Readers see the old or the new file, never a
/// partial one.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".codex-driver-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// An exclusive advisory lock on `<path>`, created if needed, released on drop.
#[derive(Debug)]
pub struct FileLock {
    file: std::fs::File,
    path: PathBuf,
}

impl FileLock {
    fn open(path: &Path) -> std::io::Result<std::fs::File> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }

    /// Blocks until the lock is held.
    pub fn acquire(path: &Path) -> std::io::Result<Self> {
        let file = Self::open(path)?;
        file.lock()?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Takes the lock if nobody holds it: `Ok(None)` when it is held (by another process, or
    /// another handle in this one).
    pub fn try_acquire(path: &Path) -> std::io::Result<Option<Self>> {
        let file = Self::open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self {
                file,
                path: path.to_path_buf(),
            })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// The open lock file (e.g. to record who holds it).
    pub fn file(&self) -> &std::fs::File {
        &self.file
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod ancestor_tests {
    use super::*;

    #[test]
    fn ancestors_must_be_ours_or_roots_and_shared_ones_sticky() -> std::io::Result<()> {
        let d = tempfile::tempdir()?;
        let uid = current_uid()?;
        let set = |p: &Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        };
        let shared = d.path().join("shared");
        std::fs::create_dir(&shared)?;
        let target = shared.join("a/b/home");
        set(&shared, 0o777)?;
        assert_eq!(
            check_ancestors_as(&target, uid),
            Err((
                shared.clone(),
                HomeProblem::WritableByOthers { mode: 0o777 }
            ))
        );
        set(&shared, 0o1777)?;
        assert_eq!(check_ancestors_as(&target, uid), Ok(()));
        set(&shared, 0o755)?;
        assert_eq!(check_ancestors_as(&target, uid), Ok(()));
        // Someone else's directory on the way (root's are fine: the system's own).
        let owner = std::fs::metadata(&shared)?.uid();
        if owner != 0 {
            assert_eq!(
                check_ancestors_as(&target, owner + 1),
                Err((
                    shared.clone(),
                    HomeProblem::NotOwned {
                        owner,
                        expected: owner + 1
                    }
                ))
            );
        } else {
            assert_eq!(check_ancestors_as(&target, 12345), Ok(()), "root owns it");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private_dir() -> std::io::Result<(tempfile::TempDir, u32)> {
        let d = tempfile::tempdir()?;
        let uid = std::fs::metadata(d.path())?.uid();
        Ok((d, uid))
    }

    #[test]
    fn the_current_uid_owns_what_we_create() -> std::io::Result<()> {
        let (d, uid) = private_dir()?;
        assert_eq!(current_uid()?, uid, "{}", d.path().display());
        assert_eq!(tempfile::tempfile()?.metadata()?.uid(), uid);
        assert_eq!(
            effective_uid_in_status("Name:\tx\nUid:\t1000\t1001\t1002\t1003\n"),
            Some(1001)
        );
        assert_eq!(effective_uid_in_status("Name:\tx\n"), None);
        Ok(())
    }

    #[test]
    fn a_private_dir_passes_and_another_users_does_not() -> std::io::Result<()> {
        let (d, uid) = private_dir()?;
        assert_eq!(check_private_dir_as(d.path(), uid), Ok(()));
        assert!(check_private_dir(d.path()).is_ok());
        // The expected uid is injectable: the same directory, judged for someone else.
        let other = uid.wrapping_add(1);
        assert_eq!(
            check_private_dir_as(d.path(), other),
            Err(HomeProblem::NotOwned {
                owner: uid,
                expected: other
            })
        );
        Ok(())
    }

    #[test]
    fn group_or_other_write_bits_are_refused() -> std::io::Result<()> {
        let (d, uid) = private_dir()?;
        for mode in [0o777, 0o775, 0o757, 0o1777, 0o720] {
            std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(mode))?;
            assert_eq!(
                check_private_dir_as(d.path(), uid),
                Err(HomeProblem::WritableByOthers { mode }),
                "{mode:o}"
            );
        }
        for mode in [0o700, 0o755, 0o750, 0o500] {
            std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(mode))?;
            assert_eq!(check_private_dir_as(d.path(), uid), Ok(()), "{mode:o}");
        }
        let err = check_private_dir(d.path()).err();
        assert!(err.is_none(), "{err:?}");
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777))?;
        let err = check_private_dir(d.path()).err();
        assert!(
            matches!(
                &err,
                Some(Error::UnsafeDir { path, problem: HomeProblem::WritableByOthers { mode: 0o777 } })
                    if path == d.path()
            ),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn symlinks_are_judged_by_target_and_link() -> std::io::Result<()> {
        let (d, uid) = private_dir()?;
        let target = d.path().join("real");
        std::fs::create_dir(&target)?;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700))?;
        let link = d.path().join("link");
        let link2 = d.path().join("link2");
        std::os::unix::fs::symlink("real", &link)?;
        std::os::unix::fs::symlink(&link, &link2)?;
        assert_eq!(check_private_dir_as(&link2, uid), Ok(()));
        // The first link is checked before its target.
        let other = uid.wrapping_add(1);
        assert_eq!(
            check_private_dir_as(&link2, other),
            Err(HomeProblem::SymlinkNotOwned {
                link: link2.clone(),
                owner: uid,
                expected: other
            })
        );
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o777))?;
        assert_eq!(
            check_private_dir_as(&link2, uid),
            Err(HomeProblem::WritableByOthers { mode: 0o777 })
        );
        std::fs::write(d.path().join("file"), "x")?;
        std::os::unix::fs::symlink("file", d.path().join("to-file"))?;
        assert_eq!(
            check_private_dir_as(&d.path().join("to-file"), uid),
            Err(HomeProblem::NotADirectory)
        );
        std::os::unix::fs::symlink("loop", d.path().join("loop"))?;
        assert!(matches!(
            check_private_dir_as(&d.path().join("loop"), uid),
            Err(HomeProblem::NotAccessible(_))
        ));
        assert!(matches!(
            check_private_dir_as(&d.path().join("missing"), uid),
            Err(HomeProblem::NotAccessible(_))
        ));
        Ok(())
    }

    /// Ownership for real: as root, a directory (or a link) chowned to `nobody`.
    #[test]
    fn another_users_dir_or_link_is_refused_as_root() -> std::io::Result<()> {
        let (d, uid) = private_dir()?;
        if uid != 0 {
            eprintln!(
                "SKIPPED another_users_dir_or_link_is_refused_as_root: needs root to chown \
                 (the injectable-uid tests cover the logic)"
            );
            return Ok(());
        }
        let theirs = d.path().join("theirs");
        std::fs::create_dir(&theirs)?;
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534))?;
        let err = check_private_dir(&theirs).err();
        assert!(
            matches!(
                &err,
                Some(Error::UnsafeDir { path, problem: HomeProblem::NotOwned { owner: 65534, expected: 0 } })
                    if path == &theirs
            ),
            "{err:?}"
        );
        let mine = d.path().join("mine");
        std::fs::create_dir(&mine)?;
        let link = d.path().join("their-link");
        std::os::unix::fs::symlink(&mine, &link)?;
        std::os::unix::fs::lchown(&link, Some(65534), Some(65534))?;
        assert_eq!(
            check_private_dir_as(&link, 0),
            Err(HomeProblem::SymlinkNotOwned {
                link: link.clone(),
                owner: 65534,
                expected: 0
            })
        );
        Ok(())
    }

    #[test]
    fn atomic_write_sets_mode_and_replaces() -> std::io::Result<()> {
        let d = tempfile::tempdir()?;
        let p = d.path().join("secret.json");
        std::fs::write(&p, "old")?;
        write_atomic(&p, b"new", 0o600)?;
        assert_eq!(std::fs::read_to_string(&p)?, "new");
        assert_eq!(std::fs::metadata(&p)?.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(d.path())?.count(), 1, "no temp file left");
        Ok(())
    }
}
