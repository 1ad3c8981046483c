//! Keeping a data dir's blobs in order at open: rows for the files an older layout
//! described in `meta/`, and the removal of files a crash left without a row.

use std::path::Path;
use std::time::{Duration, SystemTime};

use rusqlite::{params, Connection};

use super::{sha256_column, SCHEMA};

/// A file under `files/` this old that no row names is an orphan: its write crashed
/// between placing the file and committing the row. Younger ones may be a PUT still
/// streaming in (this process's, or another's on the same data dir, as `sluice-admin`).
pub(super) const ORPHAN_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Removes the files under `files/` that no row names and whose name (a ULID, so its
/// creation time) is older than `age`; returns how many went.
pub(super) fn remove_orphan_files(
    root: &Path,
    db_path: &Path,
    age: Duration,
) -> anyhow::Result<usize> {
    let dir = root.join("files");
    if !dir.exists() {
        return Ok(0);
    }
    let named: std::collections::HashSet<String> = {
        let conn = Connection::open(db_path)?;
        if !conn.table_exists(None, "blobs")? {
            return Ok(0);
        }
        let mut stmt = conn.prepare("SELECT file FROM blobs WHERE file IS NOT NULL")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let cutoff = SystemTime::now() - age;
    let mut removed = 0;
    for fan in std::fs::read_dir(&dir)?.flatten() {
        for entry in std::fs::read_dir(fan.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("files/{}/{name}", fan.file_name().to_string_lossy());
            let Ok(id) = ulid::Ulid::from_string(&name) else {
                continue;
            };
            if named.contains(&rel) || id.datetime() > cutoff {
                continue;
            }
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Data dirs written before `blobs.db` kept each blob's description as `meta/{key}.json`
/// beside its bytes at `data/{key}`, and a retired key as `meta/{key}.retired`. Their
/// rows are made here, naming the files where they are, and `meta/` goes.
pub(super) fn import_meta_files(root: &Path, db_path: &Path) -> anyhow::Result<()> {
    #[derive(serde::Deserialize)]
    struct MetaFile {
        content_type: Option<String>,
        sha256: String,
        size: u64,
    }
    let meta = root.join("meta");
    if !meta.is_dir() {
        return Ok(());
    }
    let mut conn = Connection::open(db_path)?;
    conn.execute_batch(SCHEMA)?;
    let tx = conn.transaction()?;
    let mut stack = vec![meta.clone()];
    let mut imported = 0u64;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&meta)?
                .to_string_lossy()
                .replace('\\', "/");
            if let Some(key) = rel.strip_suffix(".json") {
                let data = root.join("data").join(key);
                if !data.is_file() {
                    continue;
                }
                let m: MetaFile = serde_json::from_slice(&std::fs::read(&path)?)?;
                tx.execute(
                    "INSERT OR IGNORE INTO blobs (key, size, sha256, content_type, file) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![key, m.size as i64, sha256_column(&m.sha256), m.content_type, format!("data/{key}")],
                )?;
                imported += 1;
            } else if let Some(key) = rel.strip_suffix(".retired") {
                tx.execute(
                    "INSERT OR IGNORE INTO retired_keys (key) VALUES (?1)",
                    params![key],
                )?;
            }
        }
    }
    tx.commit()?;
    std::fs::remove_dir_all(&meta)?;
    tracing::info!(imported, "blob descriptions moved from meta/ into blobs.db");
    Ok(())
}
