//! The rows of `blobs.db`: a key's size, sha256, content type and small bytes.

use super::BlobAccessError;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension};

use crate::sqlite::sql_err;
use sluice_core::ports::{BlobMeta, StoreError, StoreResult};

/// `file` is relative to the store's root; exactly one of `body` and `file` is set.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS blobs (
  key TEXT PRIMARY KEY, size INTEGER NOT NULL, sha256 TEXT NOT NULL, content_type TEXT,
  body BLOB, file TEXT, CHECK ((body IS NULL) <> (file IS NULL)));
CREATE TABLE IF NOT EXISTS retired_keys (key TEXT PRIMARY KEY) WITHOUT ROWID;
";

/// The bytes a row is to hold.
pub(super) enum Content {
    Packed(Bytes),
    /// A file, relative to the root.
    File(String),
}

/// The part of a row that describes the bytes.
pub(super) struct Described {
    pub(super) size: u64,
    pub(super) sha256: String,
    pub(super) content_type: Option<String>,
}

impl Described {
    pub(super) fn blob_meta(self) -> BlobMeta {
        BlobMeta {
            size: self.size,
            content_type: self.content_type,
            etag: Some(etag_of(&self.sha256)),
            sha256: Some(self.sha256),
        }
    }
}

/// What committing a row did.
pub(super) enum Committed {
    /// Stored; the file the key held before, if it was one (to remove now).
    Replaced(Option<String>),
    /// Refused: the key is retired.
    Retired,
}

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Keys are relative paths of plain segments, so a key shown as a path cannot escape.
pub(super) fn check_key(key: &str) -> Result<(), BlobAccessError> {
    let bad = key.is_empty()
        || key.len() > 1024
        || key.starts_with('/')
        || key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        || key
            .chars()
            .any(|c| c == '\\' || c == '\0' || c.is_control());
    if bad {
        Err(BlobAccessError::BadRequest(format!("invalid key {key:?}")))
    } else {
        Ok(())
    }
}

pub(super) fn checked(key: &str) -> StoreResult<()> {
    check_key(key).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(super) fn etag_of(sha256: &str) -> String {
    format!("\"{}\"", &sha256[..32])
}

pub(super) fn is_retired(conn: &Connection, key: &str) -> StoreResult<bool> {
    conn.prepare_cached("SELECT 1 FROM retired_keys WHERE key = ?1")
        .and_then(|mut s| s.exists(params![key]))
        .map_err(sql_err)
}

/// Writes `key`'s row; returns the file its old row named, if any.
pub(super) fn upsert(
    conn: &Connection,
    key: &str,
    described: &Described,
    content: &Content,
) -> StoreResult<Option<String>> {
    let old: Option<Option<String>> = conn
        .prepare_cached("SELECT file FROM blobs WHERE key = ?1")
        .and_then(|mut s| s.query_row(params![key], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    let (body, file) = match content {
        Content::Packed(b) => (Some(b.as_ref()), None),
        Content::File(f) => (None, Some(f.as_str())),
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO blobs (key, size, sha256, content_type, body, file) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            key,
            described.size as i64,
            sha256_column(&described.sha256),
            described.content_type,
            body,
            file
        ])
    })
    .map_err(sql_err)?;
    Ok(old.flatten().filter(|f| Some(f.as_str()) != file))
}

/// A sha256 as the `sha256` column keeps it: its 32 bytes, not 64 hex characters (half
/// the room in every row). A value that is not hex is kept as it is.
pub(super) fn sha256_column(hex_digest: &str) -> rusqlite::types::Value {
    match hex::decode(hex_digest) {
        Ok(raw) => rusqlite::types::Value::Blob(raw),
        Err(_) => rusqlite::types::Value::Text(hex_digest.to_string()),
    }
}

/// The column's sha256 as hex; rows written before it held bytes hold hex text.
pub(super) fn sha256_hex(row: &rusqlite::Row, i: usize) -> rusqlite::Result<String> {
    match row.get_ref(i)? {
        rusqlite::types::ValueRef::Blob(raw) => Ok(hex::encode(raw)),
        rusqlite::types::ValueRef::Text(text) => Ok(String::from_utf8_lossy(text).into_owned()),
        other => Err(rusqlite::Error::InvalidColumnType(
            i,
            "sha256".into(),
            other.data_type(),
        )),
    }
}

/// What a row holds: the description, and the bytes or the file's name.
/// Deletes `key`'s row; says which file it named, if it was a file and not packed.
pub(super) fn remove_row(conn: &Connection, key: &str) -> StoreResult<Option<Option<String>>> {
    conn.prepare_cached("DELETE FROM blobs WHERE key = ?1 RETURNING file")
        .and_then(|mut s| s.query_row(params![key], |r| r.get(0)).optional())
        .map_err(sql_err)
}

pub(super) fn read_row(conn: &Connection, key: &str) -> StoreResult<Option<(Described, Content)>> {
    conn.prepare_cached("SELECT size, sha256, content_type, body, file FROM blobs WHERE key = ?1")
        .and_then(|mut s| {
            s.query_row(params![key], |r| {
                let described = Described {
                    size: r.get::<_, i64>(0)? as u64,
                    sha256: sha256_hex(r, 1)?,
                    content_type: r.get(2)?,
                };
                let content = match r.get::<_, Option<Vec<u8>>>(3)? {
                    Some(body) => Content::Packed(Bytes::from(body)),
                    None => Content::File(r.get(4)?),
                };
                Ok((described, content))
            })
            .optional()
        })
        .map_err(sql_err)
}
