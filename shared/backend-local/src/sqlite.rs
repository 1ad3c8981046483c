//! SQLite for async callers: one writer thread that commits writes in groups, and a few
//! reader connections that WAL lets read while the writer writes.
//!
//! Group commit: the writer takes every write waiting for it (up to [`MAX_GROUP`]) into one
//! transaction, each write inside its own savepoint, so a write that fails (a condition
//! that does not hold) rolls back alone while the others commit together. A caller hears
//! back only after the commit, so a write it was told succeeded is in the database. One
//! commit per group rather than per write is what lets many concurrent requests write
//! without each paying for its own WAL frames.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use rusqlite::Connection;

use sluice_core::ports::{StoreError, StoreResult};

/// The most writes one commit takes: bounds how long the last of a group waits.
const MAX_GROUP: usize = 256;

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
        // crashes (the local tier's promise), not power loss. Checkpoints (the only
        // fsyncs) every ~40 MB of WAL rather than every 4 MB.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA wal_autocheckpoint=10000;",
        )?;
        for schema in schemas {
            conn.execute_batch(schema)?;
        }
        let readers = (0..readers.max(1))
            .map(|_| {
                let r =
                    Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                r.execute_batch("PRAGMA busy_timeout=5000;")?;
                Ok(Mutex::new(r))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (writer, jobs) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!(
                "sqlite-writer-{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ))
            .spawn(move || write_groups(conn, jobs))?;
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

/// Runs one statement, cached: a savepoint per write must not cost a parse.
pub fn statement(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
        .map_err(sql_err)
}

/// The writer thread: one transaction per group of waiting writes, until every [`Db`]
/// handle is gone.
fn write_groups(conn: Connection, jobs: mpsc::Receiver<Job>) {
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
}
