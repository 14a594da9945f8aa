//! Codex's state database (`state_5.sqlite`), read-only.
//!
//! Codex writes it in WAL mode, where readers never block the writer: we open it read-only
//! (`query_only`, a short busy timeout), run one short query, and close it. Columns are looked
//! up by name (`PRAGMA table_info`), so a release that adds columns changes nothing and one
//! that lacks an optional column gives `None` for it; a table without the columns every
//! release since 0.130 has is an unknown schema, and the index scans the rollouts instead.

use super::rollout::GitInfo;
use super::{Archived, Query, SessionInfo, SessionSource, SortBy};
use crate::error::{Error, Result};
use rusqlite::{Connection, OpenFlags, Row, params_from_iter, types::Value as Sql};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Columns without which the table is not the one we know.
const REQUIRED: &[&str] = &[
    "id",
    "rollout_path",
    "created_at",
    "updated_at",
    "source",
    "cwd",
    "archived",
];

/// Every column we read, in this order; absent optional ones are read as NULL.
const COLUMNS: &[&str] = &[
    "id",
    "rollout_path",
    "archived",
    "name",
    "title",
    "first_user_message",
    "cwd",
    "created_at",
    "created_at_ms",
    "updated_at",
    "updated_at_ms",
    "model",
    "model_provider",
    "originator",
    "cli_version",
    "source",
    "tokens_used",
    "git_sha",
    "git_branch",
    "git_origin_url",
];

pub(super) struct StateDb {
    conn: Connection,
    path: PathBuf,
    columns: BTreeSet<String>,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").field("path", &self.path).finish()
    }
}

impl StateDb {
    /// Opens `path` read-only. `Ok(None)` when it does not exist; an error when it exists but
    /// can't be read or its `threads` table is not one we know.
    pub(super) fn open(path: &Path) -> Result<Option<Self>> {
        if !path.is_file() {
            return Ok(None);
        }
        let err = |detail: String| Error::StateDb {
            path: path.to_path_buf(),
            detail,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| err(format!("opening read-only: {e}")))?;
        // A writer holds the lock only for a moment in WAL mode; never wait long on it.
        conn.busy_timeout(Duration::from_millis(500))
            .map_err(|e| err(e.to_string()))?;
        conn.pragma_update(None, "query_only", true)
            .map_err(|e| err(e.to_string()))?;
        let columns = table_columns(&conn, "threads").map_err(|e| err(e.to_string()))?;
        if let Some(missing) = REQUIRED.iter().find(|c| !columns.contains(**c)) {
            return Err(err(if columns.is_empty() {
                "no `threads` table (an unknown schema)".into()
            } else {
                format!("`threads` has no `{missing}` column (an unknown schema)")
            }));
        }
        Ok(Some(Self {
            conn,
            path: path.to_path_buf(),
            columns,
        }))
    }

    /// Whether the table has this column (older releases lack some, e.g. 0.130 `name` and
    /// `originator`).
    pub(super) fn has_column(&self, c: &str) -> bool {
        self.columns.contains(c)
    }

    /// Whether Codex has finished filling the table from the rollouts that predate it
    /// (`backfill_state.status = 'complete'`); until then the files are the full truth.
    pub(super) fn is_complete(&self) -> bool {
        self.conn
            .query_row("SELECT status FROM backfill_state WHERE id = 1", [], |r| {
                r.get::<_, String>(0)
            })
            .is_ok_and(|s| s == "complete")
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        Error::StateDb {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// `SELECT <our columns>` with NULL for the ones this release lacks.
    fn select(&self) -> String {
        let cols: Vec<String> = COLUMNS
            .iter()
            .map(|c| {
                if self.columns.contains(*c) {
                    format!("\"{c}\"")
                } else {
                    "NULL".to_owned()
                }
            })
            .collect();
        format!("SELECT {} FROM threads", cols.join(", "))
    }

    fn order(&self, sort: SortBy) -> String {
        let (ms, s) = match sort {
            SortBy::Updated => ("updated_at_ms", "updated_at"),
            SortBy::Created => ("created_at_ms", "created_at"),
        };
        // The bare column, so Codex's own index on (<time>_ms DESC, id DESC) serves the order
        // and a LIMIT reads only that many rows; Codex's triggers fill the column on insert.
        if self.columns.contains(ms) {
            format!("ORDER BY {ms} DESC, id DESC")
        } else {
            format!("ORDER BY {s} DESC, id DESC")
        }
    }

    fn list_sql(&self, q: &Query) -> (String, Vec<Sql>) {
        let mut wheres = Vec::new();
        let mut args: Vec<Sql> = Vec::new();
        // Written so SQLite walks Codex's own indexes in order and stops at the limit: with a
        // cwd, (archived, cwd, <time>_ms DESC, id DESC); for archived ones, the partial index
        // on `archived = 1`; otherwise the time index, `+archived` keeping SQLite from the
        // archived index (which would sort every row).
        match (q.archived, q.cwd.is_some()) {
            (Archived::Exclude, true) => wheres.push("archived = 0".to_owned()),
            (Archived::Exclude, false) => wheres.push("+archived = 0".to_owned()),
            (Archived::Only, _) => wheres.push("archived = 1".to_owned()),
            (Archived::Include, _) => {}
        }
        if let Some(cwd) = &q.cwd {
            wheres.push("cwd = ?".into());
            args.push(Sql::Text(cwd.to_string_lossy().into_owned()));
        }
        if let Some(src) = &q.source {
            match src {
                SessionSource::SubAgent(_) => wheres.push("source LIKE '{%'".into()),
                other => {
                    wheres.push("source = ?".into());
                    args.push(Sql::Text(other.as_str().to_owned()));
                }
            }
        }
        let mut sql = self.select();
        if !wheres.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&wheres.join(" AND "));
        }
        sql.push(' ');
        sql.push_str(&self.order(q.sort));
        sql.push_str(" LIMIT ? OFFSET ?");
        (sql, args)
    }

    pub(super) fn list(&self, q: &Query) -> Result<Vec<SessionInfo>> {
        let (sql, args) = self.list_sql(q);
        // A row whose rollout is gone is skipped: page until the limit is met.
        let limit = q.limit.unwrap_or(usize::MAX);
        let page = limit.clamp(1, 1000);
        let mut out = Vec::new();
        let mut offset = 0usize;
        loop {
            let mut page_args = args.clone();
            page_args.push(Sql::Integer(page as i64));
            page_args.push(Sql::Integer(offset as i64));
            let rows = self.query(&sql, page_args)?;
            let n = rows.len();
            out.extend(rows.into_iter().filter(|s| s.path.is_file()));
            if out.len() >= limit || n < page {
                break;
            }
            offset += n;
        }
        out.truncate(limit);
        Ok(out)
    }

    fn query(&self, sql: &str, args: Vec<Sql>) -> Result<Vec<SessionInfo>> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params_from_iter(args), row_info)
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))
    }

    /// The query plan of [`list`](Self::list) for `q` (for tests: that it walks an index).
    #[cfg(test)]
    fn plan(&self, q: &Query) -> Vec<String> {
        let (sql, args) = self.list_sql(q);
        let mut stmt = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let mut args = args;
        args.push(Sql::Integer(10));
        args.push(Sql::Integer(0));
        stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap()
    }

    pub(super) fn get(&self, id: &str) -> Result<Option<SessionInfo>> {
        let sql = format!("{} WHERE id = ?", self.select());
        Ok(self
            .query(&sql, vec![Sql::Text(id.to_ascii_lowercase())])?
            .into_iter()
            .next())
    }

    pub(super) fn ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        // `>= prefix AND < prefix + U+FFFF` uses the primary key index, unlike LIKE.
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM threads WHERE id >= ?1 AND id < ?1 || char(65535) ORDER BY id LIMIT 11")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([prefix], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))
    }

    pub(super) fn count(&self) -> Result<(usize, usize)> {
        self.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(archived != 0), 0) FROM threads",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .map(|(a, b)| (a.max(0) as usize, b.max(0) as usize))
            .map_err(|e| self.err(e))
    }

    pub(super) fn markers(&self) -> Result<Vec<(String, Option<i64>, bool)>> {
        let ms = if self.columns.contains("updated_at_ms") {
            "COALESCE(updated_at_ms, updated_at * 1000)"
        } else {
            "updated_at * 1000"
        };
        let sql = format!("SELECT id, {ms}, archived FROM threads");
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, i64>(2)? != 0,
                ))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))
    }
}

fn table_columns(conn: &Connection, table: &str) -> rusqlite::Result<BTreeSet<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info(\"{table}\")"))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(1))?;
    rows.collect()
}

/// Text columns: empty means unset.
fn text(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<String>> {
    Ok(r.get::<_, Option<String>>(i)?.filter(|s| !s.is_empty()))
}

fn row_info(r: &Row<'_>) -> rusqlite::Result<SessionInfo> {
    // Seconds columns are the fallback when the ms ones are absent or NULL.
    let ms = |ms_col: usize, s_col: usize| -> rusqlite::Result<Option<i64>> {
        Ok(r.get::<_, Option<i64>>(ms_col)?
            .or(r.get::<_, Option<i64>>(s_col)?.map(|s| s * 1000)))
    };
    let git = GitInfo {
        commit_hash: text(r, 17)?,
        branch: text(r, 18)?,
        repository_url: text(r, 19)?,
    };
    let has_git = git.commit_hash.is_some() || git.branch.is_some() || git.repository_url.is_some();
    Ok(SessionInfo {
        thread_id: r.get(0)?,
        path: PathBuf::from(r.get::<_, String>(1)?),
        archived: r.get::<_, Option<i64>>(2)?.unwrap_or(0) != 0,
        name: text(r, 3)?,
        // The first prompt; `title` is the fallback (0.130 overwrote it with the thread name).
        title: text(r, 5)?.or(text(r, 4)?),
        cwd: text(r, 6)?.map(PathBuf::from),
        created_at_ms: ms(8, 7)?,
        updated_at_ms: ms(10, 9)?,
        model: text(r, 11)?,
        model_provider: text(r, 12)?,
        originator: text(r, 13)?,
        cli_version: text(r, 14)?,
        source: text(r, 15)?.map(|s| SessionSource::from_column(&s)),
        tokens_used: r
            .get::<_, Option<i64>>(16)?
            .and_then(|t| u64::try_from(t).ok()),
        git: has_git.then_some(git),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with 0.169.0's `threads` table and one rollout file per row.
    struct Fixture {
        dir: tempfile::TempDir,
        db: PathBuf,
    }

    fn fixture(schema: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state_5.sqlite");
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(schema).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL;").unwrap();
        Fixture { dir, db }
    }

    fn schema_0_169() -> String {
        std::fs::read_to_string(super::super::tests::fixture("state-db/threads-0.169.0.sql"))
            .unwrap()
    }

    impl Fixture {
        /// A row (and its rollout file) created at second `t`, updated at `t + 1`.
        fn add(&self, id: &str, t: i64, archived: bool, cwd: &str, source: &str) -> PathBuf {
            let path = self.dir.path().join(format!("rollout-{id}.jsonl"));
            std::fs::write(&path, b"{}\n").unwrap();
            let conn = Connection::open(&self.db).unwrap();
            // The table references others this fixture leaves out.
            conn.pragma_update(None, "foreign_keys", false).unwrap();
            conn.execute(
                "INSERT INTO threads (id, rollout_path, created_at, updated_at, source, model_provider, cwd, title, sandbox_policy, approval_mode, tokens_used, archived, git_branch, cli_version, first_user_message, model, created_at_ms, updated_at_ms, name, originator) VALUES (?1, ?2, ?3, ?4, ?5, 'mock', ?6, ?7, '{}', 'never', 240, ?8, ?9, '0.169.0', ?7, 'mock-model', ?10, ?11, ?12, 'codex_exec')",
                rusqlite::params![
                    id,
                    path.to_string_lossy(),
                    t,
                    t + 1,
                    source,
                    cwd,
                    format!("prompt {id}"),
                    archived as i64,
                    (id == "b").then_some("main"),
                    t * 1000 + 5,
                    (t + 1) * 1000 + 7,
                    (id == "c").then_some("nightly"),
                ],
            )
            .unwrap();
            path
        }

        fn complete(&self) {
            Connection::open(&self.db)
                .unwrap()
                .execute(
                    "INSERT INTO backfill_state (id, status, updated_at) VALUES (1, 'complete', 0)",
                    [],
                )
                .unwrap();
        }
    }

    #[test]
    fn rows_become_session_infos() {
        let f = fixture(&schema_0_169());
        let pb = f.add("b", 100, false, "/w", "exec");
        let db = StateDb::open(&f.db).unwrap().unwrap();
        assert!(!db.is_complete());
        f.complete();
        assert!(db.is_complete());
        assert_eq!(
            db.get("b").unwrap(),
            Some(SessionInfo {
                thread_id: "b".into(),
                path: pb,
                archived: false,
                name: None,
                title: Some("prompt b".into()),
                cwd: Some("/w".into()),
                created_at_ms: Some(100_005),
                updated_at_ms: Some(101_007),
                model: Some("mock-model".into()),
                model_provider: Some("mock".into()),
                originator: Some("codex_exec".into()),
                cli_version: Some("0.169.0".into()),
                source: Some(SessionSource::Exec),
                tokens_used: Some(240),
                git: Some(GitInfo {
                    branch: Some("main".into()),
                    ..GitInfo::default()
                }),
            })
        );
    }

    #[test]
    fn queries_filter_order_and_page() {
        let f = fixture(&schema_0_169());
        f.add("a", 100, false, "/w", "exec");
        f.add("b", 300, false, "/x", "cli");
        f.add("c", 200, true, "/w", "exec");
        let gone = f.add("d", 400, false, "/w", "exec");
        std::fs::remove_file(gone).unwrap();
        let db = StateDb::open(&f.db).unwrap().unwrap();
        let ids = |q: &Query| -> Vec<String> {
            db.list(q)
                .unwrap()
                .into_iter()
                .map(|s| s.thread_id)
                .collect()
        };
        // "d" has no rollout any more: skipped, and the limit still met.
        assert_eq!(ids(&Query::new()), ["b", "a"]);
        assert_eq!(ids(&Query::new().limit(1)), ["b"]);
        assert_eq!(
            ids(&Query::new().archived(Archived::Include)),
            ["b", "c", "a"]
        );
        assert_eq!(ids(&Query::new().archived(Archived::Only)), ["c"]);
        assert_eq!(ids(&Query::new().cwd("/w")), ["a"]);
        assert_eq!(ids(&Query::new().source(SessionSource::Cli)), ["b"]);
        assert_eq!(
            ids(&Query::new()
                .archived(Archived::Include)
                .sort(SortBy::Created)
                .limit(2)),
            ["b", "c"]
        );
        assert_eq!(db.count().unwrap(), (4, 1));
        assert_eq!(db.ids_with_prefix("c").unwrap(), ["c"]);
        assert_eq!(
            db.get("c").unwrap().and_then(|s| s.name).as_deref(),
            Some("nightly")
        );
        let m = db.markers().unwrap();
        assert!(m.contains(&("c".into(), Some(201_007), true)), "{m:?}");
    }

    /// Newest-first listings walk an index and stop at the limit: no sort of every row.
    #[test]
    fn listings_walk_codexs_indexes() {
        let f = fixture(&(schema_0_169() + &indexes_0_169()));
        let db = StateDb::open(&f.db).unwrap().unwrap();
        for q in [
            Query::new(),
            Query::new().cwd("/w"),
            Query::new().archived(Archived::Only),
            Query::new().archived(Archived::Include),
            Query::new().sort(SortBy::Created),
        ] {
            let plan = db.plan(&q);
            assert!(
                plan.iter().all(|p| !p.contains("TEMP B-TREE")),
                "{q:?}: {plan:?}"
            );
        }
    }

    fn indexes_0_169() -> String {
        std::fs::read_to_string(super::super::tests::fixture("state-db/indexes-0.169.0.sql"))
            .unwrap()
    }

    #[test]
    fn an_older_table_reads_with_none_for_what_it_lacks() {
        // The columns every release has, nothing else.
        let f = fixture(
            "CREATE TABLE threads (id TEXT PRIMARY KEY, rollout_path TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, source TEXT NOT NULL, cwd TEXT NOT NULL, archived INTEGER NOT NULL DEFAULT 0);",
        );
        let p = f.dir.path().join("r.jsonl");
        std::fs::write(&p, b"").unwrap();
        Connection::open(&f.db)
            .unwrap()
            .execute(
                "INSERT INTO threads VALUES ('x', ?1, 5, 6, 'exec', '/w', 0)",
                [p.to_string_lossy()],
            )
            .unwrap();
        let db = StateDb::open(&f.db).unwrap().unwrap();
        let s = db.list(&Query::new()).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(
            (
                s[0].created_at_ms,
                s[0].updated_at_ms,
                &s[0].model,
                s[0].tokens_used
            ),
            (Some(5000), Some(6000), &None, None)
        );
    }

    #[test]
    fn an_unknown_schema_is_an_error_naming_the_file() {
        let f = fixture("CREATE TABLE threads (id TEXT PRIMARY KEY, path TEXT);");
        let e = StateDb::open(&f.db).unwrap_err();
        assert!(
            matches!(&e, Error::StateDb { path, detail } if *path == f.db && detail.contains("rollout_path")),
            "{e}"
        );
        let f = fixture("CREATE TABLE other (x);");
        assert!(StateDb::open(&f.db).is_err());
        assert!(
            StateDb::open(&f.dir.path().join("absent.sqlite"))
                .unwrap()
                .is_none()
        );
        // Not a database at all.
        let junk = f.dir.path().join("junk.sqlite");
        std::fs::write(&junk, b"hello").unwrap();
        assert!(matches!(StateDb::open(&junk), Err(Error::StateDb { .. })));
    }

    /// A writer holding a transaction open (as Codex does mid-write) doesn't block a reader.
    #[test]
    fn reading_never_waits_for_a_writer() {
        let f = fixture(&schema_0_169());
        f.add("a", 100, false, "/w", "exec");
        let writer = Connection::open(&f.db).unwrap();
        writer
            .execute_batch("BEGIN IMMEDIATE; UPDATE threads SET title = 'x';")
            .unwrap();
        let start = std::time::Instant::now();
        let db = StateDb::open(&f.db).unwrap().unwrap();
        assert_eq!(db.list(&Query::new()).unwrap().len(), 1);
        assert!(start.elapsed() < Duration::from_millis(400));
        writer.execute_batch("COMMIT;").unwrap();
    }
}
