//! SQLite for async callers: one writer thread that commits writes in groups, and a few
//! reader connections that WAL lets read while the writer writes.
//!
//! Group commit: the writer takes every write waiting for it (up to [`MAX_GROUP`]) into one
//! transaction, each write inside its own savepoint, so a write that fails (a condition
//! that does not hold) rolls back alone while the others commit together. A caller hears
//! back only after the commit, so a write it was told succeeded is in the database. One
//! commit per group rather than per write is what lets many concurrent requests write
//! without each paying for its own WAL frames.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

use sluice_core::ports::{StoreError, StoreResult};

/// The most writes one commit takes: bounds how long the last of a group waits.
const MAX_GROUP: usize = 256;

/// Prepared statements each connection keeps. rusqlite's default of 16 is fewer than
/// the table, the queues and the writer's own savepoint statements use together, and a
/// statement pushed out is parsed again on its next use.
const STATEMENT_CACHE: usize = 128;

/// What the writer tells a write's caller once its group has committed (or not).
type Reply = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
/// A write: run on the writer's connection inside a savepoint (`None`: its group failed
/// before it could run). Says whether it succeeded, and how to answer its caller.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Reply) + Send>;

#[derive(Clone)]
pub struct Db {
    writer: mpsc::Sender<Job>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: Arc<AtomicUsize>,
}

impl Db {
    /// Opens the database at `path`, applies each of `schemas`, starts the writer thread
    /// and opens `readers` reader connections (at least one).
    pub fn open(path: &Path, schemas: &[&str], readers: usize) -> anyhow::Result<Self> {
        let conn = Connection::open(path)?;
        // WAL lets readers work beside the writer; NORMAL sync is durable across process
        // crashes (the local tier's promise), not power loss. The checkpointer thread
        // copies frames into the database (and fsyncs it) off the writer's path. The
        // writer's own checkpoint every 1000 pages then finds little left to copy, and
        // being the one writer it can finish, which lets the WAL start over from its
        // beginning: left to the checkpointer alone, which never catches a writer that
        // keeps committing, the WAL grew to 40 MB and the writer's checkpoint of all of
        // it stalled writes for tens of milliseconds. A WAL that restarts is cut to 4 MB.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;
             PRAGMA wal_autocheckpoint=1000; PRAGMA journal_size_limit=4194304;",
        )?;
        for schema in schemas {
            conn.execute_batch(schema)?;
        }
        keep_plans(&conn)?;
        let readers = (0..readers.max(1))
            .map(|_| {
                let r =
                    Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                r.execute_batch("PRAGMA busy_timeout=5000;")?;
                keep_plans(&r)?;
                Ok(Mutex::new(r))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (writer, jobs) = mpsc::channel();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let commits = Arc::new(AtomicU64::new(0));
        let checkpointer = Connection::open(path)?;
        checkpointer.execute_batch("PRAGMA busy_timeout=1000;")?;
        let (counted, wal) = (commits.clone(), wal_path(path));
        std::thread::Builder::new()
            .name(format!("sqlite-checkpoint-{name}"))
            .spawn(move || checkpoint(checkpointer, counted, wal))?;
        std::thread::Builder::new()
            .name(format!("sqlite-writer-{name}"))
            .spawn(move || write_groups(conn, jobs, commits))?;
        Ok(Db {
            writer,
            readers: Arc::new(readers),
            next_reader: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Runs a read-only `f` on a reader connection, so reads need not wait for writes.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % readers.len();
        tokio::task::spawn_blocking(move || {
            let guard = readers[i]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&guard)
        })
        .await
        .map_err(StoreError::backend)?
    }

    /// Runs a short read-only `f` (a lookup by key) on the calling task. It takes a few
    /// microseconds, less than the two thread hops `read` spends reaching the blocking
    /// pool; anything that scans goes through `read`. A reader that is busy is skipped
    /// for a free one, and only if every reader is busy does the call wait for one.
    pub fn read_point<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T>,
    {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Ok(guard) = self.readers[(start + i) % n].try_lock() {
                return f(&guard);
            }
        }
        let guard = self.readers[start % n]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&guard)
    }

    /// Runs `f` on the writer, atomically: inside a transaction, whose writes are undone
    /// if `f` fails. Returns once they are committed.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let outcome = match conn {
                Some(conn) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
                    .unwrap_or_else(|_| Err(StoreError::backend("a store write panicked"))),
                None => Err(StoreError::backend("the write's group failed")),
            };
            let succeeded = outcome.is_ok();
            let reply: Reply = Box::new(move |committed| {
                let _ = answer.send(match (outcome, committed) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(e.clone()),
                    (Ok(v), Ok(())) => Ok(v),
                });
            });
            (succeeded, reply)
        });
        self.writer
            .send(job)
            .map_err(|_| StoreError::backend("the SQLite writer has stopped"))?;
        answered
            .await
            .map_err(|_| StoreError::backend("the SQLite writer dropped a write"))?
    }
}

/// Prepared statements are kept ([`STATEMENT_CACHE`] of them) and keep their plans.
/// Without the query planner stability guarantee, a statement whose plan looked at a
/// bound value (a range on the sort key with `ORDER BY` is enough) expires when rusqlite
/// clears its bindings on return to the cache, and is parsed and planned again on every
/// use: that was a tenth of the CPU of a single-object create, in its webhook check. The
/// plans here are index seeks that no bound value could improve.
fn keep_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Runs one statement, cached: a savepoint per write must not cost a parse.
pub fn statement(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
        .map_err(sql_err)
}

fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// How often the checkpointer looks for commits to copy into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The checkpointer thread: while writes come, copies committed WAL frames into the
/// database without blocking the writer or readers (`PASSIVE`); once writes stop for a
/// tick, empties the WAL file (`TRUNCATE`), so a database at rest takes no WAL space.
/// Ends with the writer, whose end drops the last other handle on `commits`.
fn checkpoint(conn: Connection, commits: Arc<AtomicU64>, wal: PathBuf) {
    let (mut seen, mut quiet) = (0, false);
    while Arc::strong_count(&commits) > 1 {
        std::thread::sleep(CHECKPOINT_EVERY);
        let now = commits.load(Ordering::Relaxed);
        let mode = if now != seen {
            quiet = false;
            "PASSIVE"
        } else if !quiet && std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            quiet = true;
            "TRUNCATE"
        } else {
            continue;
        };
        seen = now;
        // A busy checkpoint is tried again next tick; nothing is lost by skipping one.
        if let Err(e) = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())) {
            tracing::debug!(error = %e, mode, "checkpoint skipped");
            quiet = false;
        }
    }
}

/// The writer thread: one transaction per group of waiting writes, until every [`Db`]
/// handle is gone. Counts its commits for the checkpointer.
fn write_groups(conn: Connection, jobs: mpsc::Receiver<Job>, commits: Arc<AtomicU64>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // IMMEDIATE: take the write lock up front (waiting under busy_timeout), so a
        // read inside the transaction never meets a stale snapshot and fails as busy.
        let mut broken = statement(&conn, "BEGIN IMMEDIATE").err();
        let mut replies = Vec::with_capacity(group.len());
        for job in group {
            if broken.is_some() {
                replies.push(job(None).1);
                continue;
            }
            if let Err(e) = statement(&conn, "SAVEPOINT job") {
                broken = Some(e);
                replies.push(job(None).1);
                continue;
            }
            let (succeeded, reply) = job(Some(&conn));
            let closed = if succeeded {
                statement(&conn, "RELEASE job")
            } else {
                statement(&conn, "ROLLBACK TO job").and_then(|_| statement(&conn, "RELEASE job"))
            };
            broken = closed.err();
            replies.push(reply);
        }
        let outcome = match broken {
            Some(e) => Err(e),
            None => statement(&conn, "COMMIT"),
        };
        if outcome.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, writes = replies.len(), "a group of SQLite writes failed");
        }
        if outcome.is_ok() {
            commits.fetch_add(1, Ordering::Relaxed);
        }
        for reply in replies {
            reply(outcome.as_ref().map(|_| ()));
        }
    }
}

pub fn sql_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
            StoreError::Busy
        }
        other => StoreError::backend(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failed_write_rolls_back_alone_in_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            &dir.path().join("t.db"),
            &["CREATE TABLE t (n INTEGER PRIMARY KEY)"],
            2,
        )
        .unwrap();
        // Concurrent writes land in shared groups; every odd one writes a row and then
        // fails, which must undo its row and nothing of the others'.
        let writes = (0..200i64).map(|n| {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(move |c| {
                    c.execute("INSERT INTO t (n) VALUES (?1)", [n])
                        .map_err(sql_err)?;
                    if n % 2 == 1 {
                        return Err(StoreError::ConditionFailed { index: None });
                    }
                    Ok(n)
                })
                .await
            })
        });
        for (n, w) in (0..200i64).zip(writes.collect::<Vec<_>>()) {
            let outcome = w.await.unwrap();
            assert_eq!(outcome.is_ok(), n % 2 == 0, "write {n}: {outcome:?}");
        }
        let (count, odd): (i64, i64) = db
            .read(|c| {
                c.query_row(
                    "SELECT COUNT(*), COUNT(*) FILTER (WHERE n % 2 = 1) FROM t",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(sql_err)
            })
            .await
            .unwrap();
        assert_eq!((count, odd), (100, 0));
        // A write that panics fails alone, and the writer goes on.
        let panicked = db.write(|_| -> StoreResult<()> { panic!("boom") }).await;
        assert!(panicked.is_err());
        assert_eq!(
            db.write(|c| c
                .execute("INSERT INTO t (n) VALUES (1000)", [])
                .map_err(sql_err))
                .await
                .unwrap(),
            1
        );
    }

    #[tokio::test]
    async fn a_database_at_rest_gives_its_wal_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let db = Db::open(&path, &["CREATE TABLE t (n INTEGER PRIMARY KEY)"], 1).unwrap();
        for n in 0..100i64 {
            db.write(move |c| {
                c.execute("INSERT INTO t (n) VALUES (?1)", [n])
                    .map_err(sql_err)
            })
            .await
            .unwrap();
        }
        let wal = wal_path(&path);
        assert!(std::fs::metadata(&wal).unwrap().len() > 0);
        let mut waited = Duration::ZERO;
        while std::fs::metadata(&wal).unwrap().len() > 0 {
            assert!(
                waited < Duration::from_secs(5),
                "the WAL was never truncated"
            );
            tokio::time::sleep(CHECKPOINT_EVERY).await;
            waited += CHECKPOINT_EVERY;
        }
        // Its rows are in the database itself now, and still read.
        let n: i64 = db
            .read(|c| {
                c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                    .map_err(sql_err)
            })
            .await
            .unwrap();
        assert_eq!(n, 100);
    }
}
