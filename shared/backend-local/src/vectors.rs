//! Vector indexes on SQLite, searched exactly: every index is kept in memory as one
//! contiguous array of unit vectors (loaded on first use, updated with each write), and a
//! query is a dot product with each row that passes the filter.
//!
//! Each write raises its index's generation in the same SQLite transaction; a copy in
//! memory older than the stored generation (another process wrote: `sluice-admin`) is
//! loaded again before use. The stored generation is read at most once a second per
//! index, so a query does not pay a SQLite read: another process's writes show within
//! a second.

use std::collections::{BinaryHeap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::params;
use serde_json::{Map, Value};

use super::sqlite::{sql_err, Db};
use sluice_core::domain::vector_filter::{dot, normalized, CompiledFilter};
use sluice_core::ports::{StoreError, StoreResult, VectorIndex, VectorMatch, VectorRecord};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS vector_indexes (name TEXT PRIMARY KEY, dimensions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (
  index_name TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL, metadata TEXT NOT NULL,
  PRIMARY KEY (index_name, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vector_generations (
  name TEXT PRIMARY KEY, generation INTEGER NOT NULL) WITHOUT ROWID;
";

/// Raises an index's generation; returns the new one.
fn bump(conn: &rusqlite::Connection, name: &str) -> StoreResult<i64> {
    conn.query_row(
        "INSERT INTO vector_generations (name, generation) VALUES (?1, 1)
         ON CONFLICT (name) DO UPDATE SET generation = generation + 1 RETURNING generation",
        params![name],
        |r| r.get(0),
    )
    .map_err(sql_err)
}

fn generation(conn: &rusqlite::Connection, name: &str) -> StoreResult<i64> {
    conn.query_row(
        "SELECT generation FROM vector_generations WHERE name = ?1",
        params![name],
        |r| r.get(0),
    )
    .or_else(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(0),
        e => Err(e),
    })
    .map_err(sql_err)
}

#[derive(Default)]
struct Loaded {
    /// The stored generation this copy holds (at least), and when that was last checked.
    generation: i64,
    checked: Option<Instant>,
    dimensions: usize,
    keys: Vec<String>,
    /// Row `i` is `vectors[i * dimensions..(i + 1) * dimensions]`, unit length.
    vectors: Vec<f32>,
    metadata: Vec<Map<String, Value>>,
    slot: HashMap<String, usize>,
}

impl Loaded {
    fn upsert(&mut self, key: String, vector: &[f32], metadata: Map<String, Value>) {
        if let Some(&i) = self.slot.get(&key) {
            let d = self.dimensions;
            self.vectors[i * d..(i + 1) * d].copy_from_slice(vector);
            self.metadata[i] = metadata;
        } else {
            self.slot.insert(key.clone(), self.keys.len());
            self.keys.push(key);
            self.vectors.extend_from_slice(vector);
            self.metadata.push(metadata);
        }
    }

    fn remove(&mut self, key: &str) {
        let Some(i) = self.slot.remove(key) else {
            return;
        };
        let last = self.keys.len() - 1;
        let d = self.dimensions;
        if i != last {
            self.vectors.copy_within(last * d..(last + 1) * d, i * d);
            self.keys.swap(i, last);
            self.metadata.swap(i, last);
            self.slot.insert(self.keys[i].clone(), i);
        }
        self.keys.pop();
        self.metadata.pop();
        self.vectors.truncate(last * d);
    }
}

pub struct LocalVectorIndex {
    db: Db,
    loaded: RwLock<HashMap<String, Arc<RwLock<Loaded>>>>,
    /// How long a copy is trusted before the stored generation is read again.
    recheck: Duration,
}

/// How often a copy in memory looks for another process's writes.
const RECHECK: Duration = Duration::from_secs(1);

/// A candidate ordered by score, lowest first in the heap (so the worst is popped).
struct Scored(f32, usize);
impl PartialEq for Scored {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scored {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.0.total_cmp(&self.0)
    }
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl LocalVectorIndex {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Self::open_rechecking(path, RECHECK)
    }

    /// With another interval for noticing other processes' writes (tests use zero).
    pub fn open_rechecking(path: &Path, recheck: Duration) -> anyhow::Result<Self> {
        Ok(LocalVectorIndex {
            db: Db::open(path, &[SCHEMA], 2)?,
            loaded: RwLock::new(HashMap::new()),
            recheck,
        })
    }

    /// The in-memory copy of an index, read from SQLite on first use and again when
    /// another process wrote to it; `None` if the index does not exist.
    async fn index(&self, name: &str) -> StoreResult<Option<Arc<RwLock<Loaded>>>> {
        let cached = self
            .loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned();
        if let Some(l) = cached {
            let checked = l.read().unwrap_or_else(|p| p.into_inner()).checked;
            if checked.is_some_and(|at| at.elapsed() < self.recheck) {
                return Ok(Some(l));
            }
            let owned = name.to_string();
            let stored = self.db.read(move |conn| generation(conn, &owned)).await?;
            let mut copy = l.write().unwrap_or_else(|p| p.into_inner());
            if copy.generation >= stored {
                copy.checked = Some(Instant::now());
                drop(copy);
                return Ok(Some(l));
            }
            drop(copy);
            self.forget(name);
        }
        let owned = name.to_string();
        let loaded = self
            .db
            .read(move |conn| {
                let dims: Option<i64> = conn
                    .query_row(
                        "SELECT dimensions FROM vector_indexes WHERE name = ?1",
                        params![owned],
                        |r| r.get(0),
                    )
                    .map(Some)
                    .or_else(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        e => Err(e),
                    })
                    .map_err(sql_err)?;
                let Some(dims) = dims else { return Ok(None) };
                let mut l = Loaded {
                    generation: generation(conn, &owned)?,
                    checked: Some(Instant::now()),
                    dimensions: dims as usize,
                    ..Default::default()
                };
                let mut stmt = conn
                    .prepare("SELECT key, vector, metadata FROM vectors WHERE index_name = ?1")
                    .map_err(sql_err)?;
                let mut rows = stmt.query(params![owned]).map_err(sql_err)?;
                while let Some(row) = rows.next().map_err(sql_err)? {
                    let key: String = row.get(0).map_err(sql_err)?;
                    let blob: Vec<u8> = row.get(1).map_err(sql_err)?;
                    let meta: String = row.get(2).map_err(sql_err)?;
                    let meta = serde_json::from_str(&meta).map_err(StoreError::backend)?;
                    l.upsert(key, &from_blob(&blob), meta);
                }
                Ok(Some(l))
            })
            .await?;
        let Some(loaded) = loaded else {
            return Ok(None);
        };
        let mut all = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        // Another caller may have loaded it meanwhile: keep the first copy.
        Ok(Some(
            all.entry(name.to_string())
                .or_insert_with(|| Arc::new(RwLock::new(loaded)))
                .clone(),
        ))
    }

    fn forget(&self, name: &str) {
        self.loaded
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    async fn existing(&self, name: &str) -> StoreResult<Arc<RwLock<Loaded>>> {
        self.index(name).await?.ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl VectorIndex for LocalVectorIndex {
    async fn ensure_index(&self, index: &str, dimensions: usize) -> StoreResult<()> {
        let name = index.to_string();
        let stored: i64 = self
            .db
            .write(move |conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO vector_indexes (name, dimensions) VALUES (?1, ?2)",
                    params![name, dimensions as i64],
                )
                .map_err(sql_err)?;
                conn.query_row(
                    "SELECT dimensions FROM vector_indexes WHERE name = ?1",
                    params![name],
                    |r| r.get(0),
                )
                .map_err(sql_err)
            })
            .await?;
        if stored as usize != dimensions {
            return Err(StoreError::Backend(format!(
                "index {index} holds {stored}-dimensional vectors, not {dimensions}"
            )));
        }
        Ok(())
    }

    async fn put(&self, index: &str, records: Vec<VectorRecord>) -> StoreResult<()> {
        let loaded = self.existing(index).await?;
        let dims = loaded.read().unwrap_or_else(|p| p.into_inner()).dimensions;
        if let Some(bad) = records.iter().find(|r| r.vector.len() != dims) {
            return Err(StoreError::Backend(format!(
                "vector {} has {} dimensions, index {index} takes {dims}",
                bad.key,
                bad.vector.len()
            )));
        }
        let records: Vec<VectorRecord> = records
            .into_iter()
            .map(|r| VectorRecord {
                vector: normalized(r.vector),
                ..r
            })
            .collect();
        let name = index.to_string();
        let rows: Vec<(String, Vec<u8>, String)> = records
            .iter()
            .map(|r| {
                (
                    r.key.clone(),
                    to_blob(&r.vector),
                    Value::Object(r.metadata.clone()).to_string(),
                )
            })
            .collect();
        let written = self
            .db
            .write(move |conn| {
                {
                    let mut stmt = conn
                        .prepare_cached(
                            "INSERT OR REPLACE INTO vectors (index_name, key, vector, metadata) VALUES (?1, ?2, ?3, ?4)",
                        )
                        .map_err(sql_err)?;
                    for (key, blob, meta) in &rows {
                        stmt.execute(params![name, key, blob, meta]).map_err(sql_err)?;
                    }
                }
                bump(conn, &name)
            })
            .await?;
        let mut l = loaded.write().unwrap_or_else(|p| p.into_inner());
        l.generation = l.generation.max(written);
        for r in records {
            l.upsert(r.key, &r.vector, r.metadata);
        }
        Ok(())
    }

    async fn get(&self, index: &str, keys: &[String]) -> StoreResult<Vec<VectorRecord>> {
        let Some(loaded) = self.index(index).await? else {
            return Ok(Vec::new());
        };
        let l = loaded.read().unwrap_or_else(|p| p.into_inner());
        let d = l.dimensions;
        Ok(keys
            .iter()
            .filter_map(|k| l.slot.get(k))
            .map(|&i| VectorRecord {
                key: l.keys[i].clone(),
                vector: l.vectors[i * d..(i + 1) * d].to_vec(),
                metadata: l.metadata[i].clone(),
            })
            .collect())
    }

    async fn delete(&self, index: &str, keys: &[String]) -> StoreResult<()> {
        let Some(loaded) = self.index(index).await? else {
            return Ok(());
        };
        let name = index.to_string();
        let owned = keys.to_vec();
        let written = self
            .db
            .write(move |conn| {
                for key in &owned {
                    conn.execute(
                        "DELETE FROM vectors WHERE index_name = ?1 AND key = ?2",
                        params![name, key],
                    )
                    .map_err(sql_err)?;
                }
                bump(conn, &name)
            })
            .await?;
        let mut l = loaded.write().unwrap_or_else(|p| p.into_inner());
        l.generation = l.generation.max(written);
        keys.iter().for_each(|k| l.remove(k));
        Ok(())
    }

    async fn query(
        &self,
        index: &str,
        vector: &[f32],
        top_k: usize,
        filter: Option<&Value>,
    ) -> StoreResult<Vec<VectorMatch>> {
        let Some(loaded) = self.index(index).await? else {
            return Ok(Vec::new());
        };
        let query = normalized(vector.to_vec());
        let filter = filter.map(CompiledFilter::new);
        // The scan is CPU work: off the async threads.
        tokio::task::spawn_blocking(move || {
            let l = loaded.read().unwrap_or_else(|p| p.into_inner());
            if query.len() != l.dimensions {
                return Err(StoreError::Backend(format!(
                    "the query has {} dimensions, the index {}",
                    query.len(),
                    l.dimensions
                )));
            }
            let d = l.dimensions;
            let mut best: BinaryHeap<Scored> = BinaryHeap::with_capacity(top_k + 1);
            for (i, row) in l.vectors.chunks_exact(d.max(1)).enumerate() {
                if filter.as_ref().is_some_and(|f| !f.matches(&l.metadata[i])) {
                    continue;
                }
                let score = dot(&query, row);
                if best.len() < top_k {
                    best.push(Scored(score, i));
                } else if best.peek().is_some_and(|w| score > w.0) {
                    best.pop();
                    best.push(Scored(score, i));
                }
            }
            Ok(best
                .into_sorted_vec()
                .into_iter()
                .map(|Scored(score, i)| VectorMatch {
                    key: l.keys[i].clone(),
                    score,
                    metadata: l.metadata[i].clone(),
                })
                .collect())
        })
        .await
        .map_err(StoreError::backend)?
    }

    async fn drop_index(&self, index: &str) -> StoreResult<()> {
        let name = index.to_string();
        self.db
            .write(move |conn| {
                conn.execute("DELETE FROM vectors WHERE index_name = ?1", params![name])
                    .map_err(sql_err)?;
                conn.execute("DELETE FROM vector_indexes WHERE name = ?1", params![name])
                    .map_err(sql_err)?;
                bump(conn, &name).map(drop)
            })
            .await?;
        self.forget(index);
        Ok(())
    }
}
