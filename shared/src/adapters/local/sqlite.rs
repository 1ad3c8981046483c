//! One SQLite connection shared by async callers through a blocking thread.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::ports::{StoreError, StoreResult};

#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    pub fn open(path: &Path, schema: &str) -> anyhow::Result<Self> {
        let conn = Connection::open(path)?;
        // WAL lets the table and the queue connections work side by side; NORMAL sync
        // is durable across process crashes (the local tier's promise), not power loss.
        // Checkpoints (the only fsyncs) every ~40 MB of WAL rather than every 4 MB.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA wal_autocheckpoint=10000;",
        )?;
        conn.execute_batch(schema)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
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
