//! SQLite for async callers: one writer connection, and a few reader connections that
//! WAL lets read while the writer writes, each used from a blocking thread.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use sluice_core::ports::{StoreError, StoreResult};

#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: Arc<std::sync::atomic::AtomicUsize>,
}

impl Db {
    /// Opens the writer and `readers` reader connections (at least one).
    pub fn open(path: &Path, schema: &str, readers: usize) -> anyhow::Result<Self> {
        let conn = Connection::open(path)?;
        // WAL lets the table and the queue connections work side by side; NORMAL sync
        // is durable across process crashes (the local tier's promise), not power loss.
        // Checkpoints (the only fsyncs) every ~40 MB of WAL rather than every 4 MB.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA wal_autocheckpoint=10000;",
        )?;
        conn.execute_batch(schema)?;
        let readers = (0..readers.max(1))
            .map(|_| {
                let r =
                    Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                r.execute_batch("PRAGMA busy_timeout=5000;")?;
                Ok(Mutex::new(r))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::new(readers),
            next_reader: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        })
    }

    /// Runs a read-only `f` on a reader connection, so reads need not wait for writes.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let i = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % readers.len();
        tokio::task::spawn_blocking(move || {
            let guard = readers[i]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&guard)
        })
        .await
        .map_err(StoreError::backend)?
    }

    /// Runs `f` on the connection off the async threads.
    pub async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(StoreError::backend)?
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
