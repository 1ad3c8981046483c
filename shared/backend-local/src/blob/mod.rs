//! Blob bytes on disk, with presigned URLs this process signs and `sluice-local` serves.
//!
//! A URL pins its method, key, expiry and (for PUT) content type, length and sha256;
//! the store refuses anything else the way S3 does: 403 for a bad signature or an
//! expired URL, 400 for a body that does not match, and nothing is stored.
//!
//! Every key is a row of `blobs.db`: its size, sha256 and content type, and its bytes
//! when they are at most [`PACKED_MAX`], so a tiny inline object costs a row rather than
//! directories and files. Larger bytes are a file under `files/`, named afresh for every
//! write: the row's commit is the moment new bytes replace old ones, so a reader gets the
//! old file or the new one, never a mix, and a write that fails leaves the old in place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

mod multipart;
mod presign;
mod rows;
mod spool;
mod upkeep;

use rows::*;
use spool::*;

use super::sqlite::{sql_err, Db};
use sluice_core::ports::{
    BlobMeta, BlobStore, PutConstraints, StoreError, StoreResult, StoredPart,
};

type HmacSha256 = hmac::Hmac<Sha256>;

/// The most one presigned PUT may carry when no length is pinned (S3's limit).
const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// Blobs up to this size keep their bytes in their row of `blobs.db`.
pub const PACKED_MAX: usize = 64 * 1024;

/// Sorts after every key that starts with a prefix.
const PREFIX_END: char = '\u{10FFFF}';

/// Route prefix under which `sluice-local` serves presigned blob URLs.
pub const BLOB_ROUTE: &str = "/_blobs/";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlobAccessError {
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("no such key")]
    NotFound,
}

impl BlobAccessError {
    pub fn status(&self) -> u16 {
        match self {
            BlobAccessError::Forbidden(_) => 403,
            BlobAccessError::BadRequest(_) => 400,
            BlobAccessError::NotFound => 404,
        }
    }
}

/// A stored blob's bytes, ready to serve.
pub enum BlobBody {
    Packed(Bytes),
    File(tokio::fs::File),
}

pub struct LocalBlobStore {
    root: PathBuf,
    db: Db,
    secret: Vec<u8>,
    public_url: std::sync::RwLock<String>,
}

impl LocalBlobStore {
    pub fn open(root: &Path, public_url: &str) -> anyhow::Result<Self> {
        crate::private::create_dir(root)?;
        let secret_path = root.join("signing.key");
        let secret = match std::fs::read(&secret_path) {
            Ok(s) if s.len() >= 32 => s,
            Ok(s) => anyhow::bail!(
                "{}: a signing key is at least 32 bytes, this is {}",
                secret_path.display(),
                s.len()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let s: [u8; 32] = rand::random();
                crate::private::write_new(&secret_path, &s)?;
                s.to_vec()
            }
            Err(e) => return Err(e.into()),
        };
        let db_path = root.join("blobs.db");
        crate::private::touch(&db_path)?;
        upkeep::import_meta_files(root, &db_path)?;
        let removed = upkeep::remove_orphan_files(root, &db_path, upkeep::ORPHAN_AGE)?;
        if removed > 0 {
            tracing::info!(removed, "removed blob files no row names (left by a crash)");
        }
        Ok(LocalBlobStore {
            root: root.to_path_buf(),
            db: Db::open(&db_path, &[SCHEMA], 4)?,
            secret,
            public_url: std::sync::RwLock::new(public_url.to_string()),
        })
    }

    /// The base URL presigned links point at (known once the server has bound its port).
    pub fn set_public_url(&self, url: &str) {
        *self.public_url.write().unwrap_or_else(|p| p.into_inner()) =
            url.trim_end_matches('/').to_string();
    }

    /// A name no file has had: its path relative to the root, and the whole path.
    fn fresh_file(&self) -> (String, PathBuf) {
        let id = ulid::Ulid::generate().to_string();
        // Fanned out by the id's random tail, so no directory grows without bound.
        let rel = format!("files/{}/{id}", id[24..].to_ascii_lowercase());
        let abs = self.root.join(&rel);
        (rel, abs)
    }

    /// Removes a file a row no longer names.
    async fn drop_file(&self, rel: Option<String>) {
        if let Some(rel) = rel {
            remove_quietly(&self.root.join(rel)).await;
        }
    }

    /// Writes `key`'s row (refused for a retired key when `refuse_retired`), then removes
    /// the file it replaced; on any failure, removes the new file instead.
    async fn commit_row(
        &self,
        key: &str,
        described: Described,
        content: Content,
        refuse_retired: bool,
    ) -> StoreResult<Option<BlobMeta>> {
        let new_file = match &content {
            Content::File(rel) => Some(rel.clone()),
            Content::Packed(_) => None,
        };
        let owned = key.to_string();
        let outcome = self
            .db
            .write(move |conn| {
                if refuse_retired && is_retired(conn, &owned)? {
                    return Ok((Committed::Retired, described));
                }
                let replaced = upsert(conn, &owned, &described, &content)?;
                Ok((Committed::Replaced(replaced), described))
            })
            .await;
        match outcome {
            Ok((Committed::Replaced(old), described)) => {
                self.drop_file(old).await;
                Ok(Some(described.blob_meta()))
            }
            Ok((Committed::Retired, _)) => {
                self.drop_file(new_file).await;
                Ok(None)
            }
            Err(e) => {
                self.drop_file(new_file).await;
                Err(e)
            }
        }
    }

    async fn retired(&self, key: &str) -> Result<bool, BlobAccessError> {
        let key = key.to_string();
        self.db
            .read(move |conn| is_retired(conn, &key))
            .await
            .map_err(|e| BlobAccessError::BadRequest(e.to_string()))
    }

    /// A blob's description and bytes (`None` if there is none). A file is opened, not
    /// read, so a large blob streams.
    pub async fn open_blob(&self, key: &str) -> StoreResult<Option<(BlobMeta, BlobBody)>> {
        checked(key)?;
        // A write that replaces the file between reading the row and opening it removes
        // the old one: read the row again, which names the new one.
        for _ in 0..3 {
            let owned = key.to_string();
            let Some((described, content)) = self.db.read(move |c| read_row(c, &owned)).await?
            else {
                return Ok(None);
            };
            match content {
                Content::Packed(bytes) => {
                    return Ok(Some((described.blob_meta(), BlobBody::Packed(bytes))))
                }
                Content::File(rel) => match tokio::fs::File::open(self.root.join(rel)).await {
                    Ok(f) => return Ok(Some((described.blob_meta(), BlobBody::File(f)))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StoreError::backend(e)),
                },
            }
        }
        Err(StoreError::Backend(format!(
            "the file of blob {key} is missing"
        )))
    }

    /// Stores a presigned PUT's body after checking it against what the URL pins. The
    /// body is counted and hashed as it streams in (to a file once it outgrows a row), so
    /// a large upload never sits in memory; anything refused leaves nothing behind.
    pub async fn put_checked<S, E>(
        &self,
        key: &str,
        body: S,
        pinned: &PutConstraints,
        content_type: Option<&str>,
        checksum_b64: Option<&str>,
    ) -> Result<BlobMeta, BlobAccessError>
    where
        S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let bad = BlobAccessError::BadRequest;
        let internal = |e: &dyn std::fmt::Display| BlobAccessError::BadRequest(e.to_string());
        let finished = || {
            BlobAccessError::Forbidden(
                "AccessDenied: the upload this URL belongs to is completed, canceled or failed"
                    .into(),
            )
        };
        if let Some(want) = &pinned.content_type {
            if content_type != Some(want.as_str()) {
                return Err(bad(format!(
                    "Content-Type {:?} does not match the signed {want:?}",
                    content_type.unwrap_or("")
                )));
            }
        }
        if let Some(want) = &pinned.sha256 {
            let header = checksum_b64.and_then(|b| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .ok()
                    .map(hex::encode)
            });
            if header.as_deref() != Some(want.as_str()) {
                return Err(bad(
                    "x-amz-checksum-sha256 header is missing or differs from the signed checksum"
                        .into(),
                ));
            }
        }
        if let Some(part) = &pinned.part {
            return self.put_part(part, pinned, body).await;
        }
        check_key(key)?;
        if self.retired(key).await? {
            return Err(finished());
        }
        let (rel, abs) = self.fresh_file();
        let received = match receive(body, pinned, PACKED_MAX, &abs).await {
            Ok(r) => r,
            Err(e) => {
                remove_quietly(&abs).await;
                return Err(e);
            }
        };
        let described = Described {
            size: received.size,
            sha256: received.sha256,
            content_type: content_type.map(str::to_string),
        };
        let content = match received.packed {
            Some(bytes) => Content::Packed(Bytes::from(bytes)),
            None => Content::File(rel),
        };
        match self.commit_row(key, described, content, true).await {
            Ok(Some(meta)) => Ok(meta),
            Ok(None) => Err(finished()),
            Err(e) => Err(internal(&e)),
        }
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: Option<&str>,
    ) -> StoreResult<BlobMeta> {
        checked(key)?;
        let described = Described {
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
            content_type: content_type.map(str::to_string),
        };
        let content = if bytes.len() <= PACKED_MAX {
            Content::Packed(bytes)
        } else {
            let (rel, abs) = self.fresh_file();
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                if let Some(dir) = abs.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(abs, &bytes)
            })
            .await
            .map_err(StoreError::backend)?
            .map_err(StoreError::backend)?;
            Content::File(rel)
        };
        self.commit_row(key, described, content, false)
            .await?
            .ok_or_else(|| StoreError::backend("unreachable: put does not refuse retired keys"))
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Bytes>> {
        match self.open_blob(key).await? {
            None => Ok(None),
            Some((_, BlobBody::Packed(bytes))) => Ok(Some(bytes)),
            Some((meta, BlobBody::File(mut f))) => {
                use tokio::io::AsyncReadExt;
                let mut buf = Vec::with_capacity(meta.size as usize);
                f.read_to_end(&mut buf).await.map_err(StoreError::backend)?;
                Ok(Some(Bytes::from(buf)))
            }
        }
    }

    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>> {
        checked(key)?;
        let key = key.to_string();
        self.db
            .read(move |conn| {
                conn.prepare_cached("SELECT size, sha256, content_type FROM blobs WHERE key = ?1")
                    .and_then(|mut s| {
                        s.query_row(params![key], |r| {
                            Ok(Described {
                                size: r.get::<_, i64>(0)? as u64,
                                sha256: sha256_hex(r, 1)?,
                                content_type: r.get(2)?,
                            })
                        })
                        .optional()
                    })
                    .map_err(sql_err)
            })
            .await
            .map(|d| d.map(Described::blob_meta))
    }

    async fn sha256(&self, key: &str) -> StoreResult<Option<String>> {
        use tokio::io::AsyncReadExt;
        let mut file = match self.open_blob(key).await? {
            None => return Ok(None),
            Some((_, BlobBody::Packed(bytes))) => {
                return Ok(Some(hex::encode(Sha256::digest(&bytes))))
            }
            Some((_, BlobBody::File(f))) => f,
        };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).await.map_err(StoreError::backend)?;
            if n == 0 {
                return Ok(Some(hex::encode(hasher.finalize())));
            }
            hasher.update(&buf[..n]);
        }
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        checked(key)?;
        let key = key.to_string();
        let file: Option<Option<String>> =
            self.db.write(move |conn| remove_row(conn, &key)).await?;
        self.drop_file(file.flatten()).await;
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<String>,
        limit: usize,
    ) -> StoreResult<(Vec<String>, Option<String>)> {
        let prefix = prefix.to_string();
        self.db
            .read(move |conn| {
                let end = format!("{prefix}{PREFIX_END}");
                let after = after.unwrap_or_default();
                let mut keys = conn
                    .prepare_cached(
                        "SELECT key FROM blobs WHERE key >= ?1 AND key < ?2 AND key > ?3 ORDER BY key LIMIT ?4",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![prefix, end, after, limit as i64 + 1], |r| r.get(0))?
                            .collect::<Result<Vec<String>, _>>()
                    })
                    .map_err(sql_err)?;
                let next = if keys.len() > limit {
                    keys.truncate(limit);
                    keys.last().cloned()
                } else {
                    None
                };
                Ok((keys, next))
            })
            .await
    }

    async fn create_multipart(&self, key: &str, content_type: &str) -> StoreResult<String> {
        checked(key)?;
        let id = ulid::Ulid::generate().to_string();
        let dir = self.parts_dir(&id)?;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(StoreError::backend)?;
        let meta = serde_json::json!({"key": key, "content_type": content_type});
        tokio::fs::write(dir.join("upload.json"), meta.to_string())
            .await
            .map_err(StoreError::backend)?;
        Ok(id)
    }

    async fn list_parts(&self, _key: &str, multipart_id: &str) -> StoreResult<Vec<StoredPart>> {
        let dir = self.parts_dir(multipart_id)?;
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::backend(e)),
        };
        let mut parts = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(StoreError::backend)? {
            let name = entry.file_name().to_string_lossy().to_string();
            let Ok(number) = name.parse::<u32>() else {
                continue;
            };
            let size = entry.metadata().await.map_err(StoreError::backend)?.len();
            let etag = tokio::fs::read_to_string(entry.path().with_extension("etag"))
                .await
                .map_err(StoreError::backend)?;
            parts.push(StoredPart { number, etag, size });
        }
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }

    async fn complete_multipart(
        &self,
        key: &str,
        multipart_id: &str,
        parts: &[StoredPart],
    ) -> StoreResult<()> {
        let dir = self.parts_dir(multipart_id)?;
        let meta: serde_json::Value = match tokio::fs::read(dir.join("upload.json")).await {
            Ok(b) => serde_json::from_slice(&b).map_err(StoreError::backend)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Backend(
                    "NoSuchUpload: the multipart upload does not exist".into(),
                ))
            }
            Err(e) => return Err(StoreError::backend(e)),
        };
        if meta["key"].as_str() != Some(key) {
            return Err(StoreError::Backend(
                "the multipart upload belongs to another key".into(),
            ));
        }
        // The parts are joined into the blob's file a part at a time, each checked
        // against the ETag it was listed with.
        let (rel, abs) = self.fresh_file();
        let (joined_dir, numbers) = (
            dir.clone(),
            parts
                .iter()
                .map(|p| (p.number, p.etag.clone()))
                .collect::<Vec<_>>(),
        );
        let dest = abs.clone();
        let joined = tokio::task::spawn_blocking(move || -> StoreResult<(u64, String)> {
            use std::io::Write;
            let io = StoreError::backend;
            if let Some(d) = dest.parent() {
                std::fs::create_dir_all(d).map_err(io)?;
            }
            let mut out = std::io::BufWriter::new(std::fs::File::create(&dest).map_err(io)?);
            let mut whole = Sha256::new();
            let mut size = 0u64;
            for (number, etag) in numbers {
                let bytes = std::fs::read(joined_dir.join(format!("{number:05}"))).map_err(io)?;
                if etag_of(&hex::encode(Sha256::digest(&bytes))) != etag {
                    return Err(StoreError::Backend(format!(
                        "InvalidPart: part {number} changed"
                    )));
                }
                whole.update(&bytes);
                size += bytes.len() as u64;
                out.write_all(&bytes).map_err(io)?;
            }
            out.flush().map_err(io)?;
            Ok((size, hex::encode(whole.finalize())))
        })
        .await
        .map_err(StoreError::backend)?;
        let (size, sha256) = match joined {
            Ok(j) => j,
            Err(e) => {
                remove_quietly(&abs).await;
                return Err(e);
            }
        };
        let described = Described {
            size,
            sha256,
            content_type: meta["content_type"].as_str().map(str::to_string),
        };
        self.commit_row(key, described, Content::File(rel), false)
            .await?;
        tokio::fs::remove_dir_all(&dir)
            .await
            .map_err(StoreError::backend)
    }

    async fn abort_multipart(&self, _key: &str, multipart_id: &str) -> StoreResult<()> {
        match tokio::fs::remove_dir_all(self.parts_dir(multipart_id)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    async fn promote(&self, from: &str, to: &str, etag: &str) -> StoreResult<BlobMeta> {
        checked(from)?;
        checked(to)?;
        let (from, to, etag) = (from.to_string(), to.to_string(), etag.to_string());
        let (rel, abs) = self.fresh_file();
        let (root, link) = (self.root.clone(), abs.clone());
        // Checked and copied in one write, so a PUT to `from` cannot slip in between. A
        // large blob's file gets a second name: no bytes are copied, and a later write
        // to `from` makes a new file rather than changing this one.
        let outcome = self
            .db
            .write(move |conn| {
                let Some((described, content)) = read_row(conn, &from)? else {
                    return Err(StoreError::ConditionFailed { index: None });
                };
                if etag_of(&described.sha256) != etag {
                    return Err(StoreError::ConditionFailed { index: None });
                }
                let content = match content {
                    Content::Packed(bytes) => Content::Packed(bytes),
                    Content::File(file) => {
                        if let Some(dir) = link.parent() {
                            std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
                        }
                        std::fs::hard_link(root.join(file), &link).map_err(StoreError::backend)?;
                        Content::File(rel)
                    }
                };
                let replaced = upsert(conn, &to, &described, &content)?;
                Ok((described, replaced))
            })
            .await;
        match outcome {
            Ok((described, replaced)) => {
                self.drop_file(replaced).await;
                Ok(described.blob_meta())
            }
            Err(e) => {
                remove_quietly(&abs).await;
                Err(e)
            }
        }
    }

    async fn retire(&self, key: &str) -> StoreResult<()> {
        checked(key)?;
        let key = key.to_string();
        let file: Option<Option<String>> = self
            .db
            .write(move |conn| {
                conn.prepare_cached("INSERT OR IGNORE INTO retired_keys (key) VALUES (?1)")
                    .and_then(|mut s| s.execute(params![key]))
                    .map_err(sql_err)?;
                remove_row(conn, &key)
            })
            .await?;
        self.drop_file(file.flatten()).await;
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> StoreResult<u64> {
        let owned = prefix.to_string();
        let files: Vec<Option<String>> = self
            .db
            .write(move |conn| {
                let end = format!("{owned}{PREFIX_END}");
                let files = conn
                    .prepare_cached("DELETE FROM blobs WHERE key >= ?1 AND key < ?2 RETURNING file")
                    .and_then(|mut s| {
                        s.query_map(params![owned, end], |r| r.get(0))?
                            .collect::<Result<Vec<Option<String>>, _>>()
                    })
                    .map_err(sql_err)?;
                conn.prepare_cached("DELETE FROM retired_keys WHERE key >= ?1 AND key < ?2")
                    .and_then(|mut s| s.execute(params![owned, end]))
                    .map_err(sql_err)?;
                Ok(files)
            })
            .await?;
        let deleted = files.len() as u64;
        for file in files {
            self.drop_file(file).await;
        }
        // Files from before `blobs.db` sit under `data/` by key: a purged tree's
        // directories go too.
        if let Some(dir) = prefix.strip_suffix('/') {
            checked(dir)?;
            match tokio::fs::remove_dir_all(self.root.join("data").join(dir)).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::backend(e)),
            }
        }
        Ok(deleted)
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> StoreResult<String> {
        self.presign("GET", key, &PutConstraints::default(), expires_in)
    }

    async fn presign_put(
        &self,
        key: &str,
        constraints: &PutConstraints,
        expires_in: Duration,
    ) -> StoreResult<String> {
        self.presign("PUT", key, constraints, expires_in)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use rusqlite::Connection;
    use std::time::SystemTime;

    use super::*;

    fn store() -> (LocalBlobStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (
            LocalBlobStore::open(dir.path(), "http://127.0.0.1:1").unwrap(),
            dir,
        )
    }

    fn one(
        b: Bytes,
    ) -> futures::stream::Iter<std::vec::IntoIter<Result<Bytes, std::convert::Infallible>>> {
        futures::stream::iter(vec![Ok(b)])
    }

    fn query_of(url: &str) -> Vec<(String, String)> {
        url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    #[tokio::test]
    async fn presigned_urls_pin_what_they_sign() {
        let (s, _d) = store();
        let body = Bytes::from_static(b"hello world");
        let sha = hex::encode(Sha256::digest(&body));
        let pinned = PutConstraints {
            content_type: Some("text/plain".into()),
            content_length: Some(11),
            sha256: Some(sha.clone()),
            part: None,
        };
        let url = s
            .presign_put("a/b/uploads/upl_1/f.txt", &pinned, Duration::from_secs(60))
            .await
            .unwrap();
        let q = query_of(&url);
        let got = s.authorize("PUT", "a/b/uploads/upl_1/f.txt", &q).unwrap();
        assert_eq!(got, pinned);
        // Another key, another method, or any changed parameter breaks the signature.
        assert!(matches!(
            s.authorize("PUT", "a/b/uploads/upl_1/g.txt", &q),
            Err(BlobAccessError::Forbidden(_))
        ));
        assert!(matches!(
            s.authorize("GET", "a/b/uploads/upl_1/f.txt", &q),
            Err(BlobAccessError::Forbidden(_))
        ));
        let tampered: Vec<(String, String)> = q
            .iter()
            .map(|(k, v)| {
                if k == "X-Sluice-Content-Length" {
                    (k.clone(), "12".into())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect();
        assert!(matches!(
            s.authorize("PUT", "a/b/uploads/upl_1/f.txt", &tampered),
            Err(BlobAccessError::Forbidden(_))
        ));
        // The body must be exactly what was signed; nothing is stored otherwise.
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b));
        let key = "a/b/uploads/upl_1/f.txt";
        let wrong_len = s
            .put_checked(
                key,
                one(Bytes::from_static(b"hello")),
                &got,
                Some("text/plain"),
                Some(&b64(b"hello")),
            )
            .await;
        assert!(matches!(wrong_len, Err(BlobAccessError::BadRequest(_))));
        let wrong_type = s
            .put_checked(
                key,
                one(body.clone()),
                &got,
                Some("image/png"),
                Some(&b64(&body)),
            )
            .await;
        assert!(matches!(wrong_type, Err(BlobAccessError::BadRequest(_))));
        let no_sum = s
            .put_checked(key, one(body.clone()), &got, Some("text/plain"), None)
            .await;
        assert!(matches!(no_sum, Err(BlobAccessError::BadRequest(_))));
        let other = Bytes::from_static(b"HELLO WORLD");
        let lying_sum = s
            .put_checked(
                key,
                one(other.clone()),
                &got,
                Some("text/plain"),
                Some(&b64(&body)),
            )
            .await;
        assert!(matches!(lying_sum, Err(BlobAccessError::BadRequest(_))));
        assert!(s.head(key).await.unwrap().is_none());
        let meta = s
            .put_checked(
                key,
                one(body.clone()),
                &got,
                Some("text/plain"),
                Some(&b64(&body)),
            )
            .await
            .unwrap();
        assert_eq!(meta.sha256.as_deref(), Some(sha.as_str()));
    }

    #[tokio::test]
    async fn presigned_urls_expire() {
        let (s, _d) = store();
        let url = s
            .presign_get("a/b/c", Duration::from_secs(1))
            .await
            .unwrap();
        assert!(s.authorize("GET", "a/b/c", &query_of(&url)).is_ok());
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let err = s.authorize("GET", "a/b/c", &query_of(&url)).unwrap_err();
        assert!(
            matches!(err, BlobAccessError::Forbidden(ref m) if m.contains("expired")),
            "{err:?}"
        );
    }

    /// A presigned PUT whose URL pins nothing.
    async fn put_unpinned(
        s: &LocalBlobStore,
        key: &str,
        body: &'static [u8],
    ) -> Result<BlobMeta, BlobAccessError> {
        s.put_checked(
            key,
            one(Bytes::from_static(body)),
            &PutConstraints::default(),
            None,
            None,
        )
        .await
    }

    /// The files under the store's `files/` (large blobs' bytes).
    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![dir.join("files")];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if entry.path().is_dir() {
                    stack.push(entry.path());
                } else {
                    found.push(entry.path());
                }
            }
        }
        found
    }

    /// A crash between placing a large blob's file and committing its row leaves a file
    /// no row names; the next open removes it once it is a day old, and nothing else.
    #[tokio::test]
    async fn files_no_row_names_are_removed_at_open_once_old() {
        let (s, d) = store();
        let large = Bytes::from(vec![7u8; PACKED_MAX + 1]);
        s.put("n/b/kept", large.clone(), None).await.unwrap();
        let [placed] = &files(d.path())[..] else {
            panic!("one file")
        };
        drop(s);
        // The named file is as old as the orphan: its row, not its age, keeps it.
        let day_ago = SystemTime::now() - Duration::from_secs(25 * 60 * 60);
        let named = ulid::Ulid::from_datetime(day_ago).to_string();
        let kept = d.path().join("files/zz").join(&named);
        std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
        std::fs::rename(placed, &kept).unwrap();
        Connection::open(d.path().join("blobs.db"))
            .unwrap()
            .execute(
                "UPDATE blobs SET file = ?1 WHERE key = 'n/b/kept'",
                params![format!("files/zz/{named}")],
            )
            .unwrap();
        let old = ulid::Ulid::from_datetime(day_ago - Duration::from_millis(1)).to_string();
        let young = ulid::Ulid::generate().to_string();
        for id in [&old, &young] {
            let path = d.path().join("files").join("zz").join(id);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"orphan").unwrap();
        }
        let s = LocalBlobStore::open(d.path(), "http://127.0.0.1:1").unwrap();
        let mut left = files(d.path());
        left.sort();
        let mut want = vec![kept, d.path().join("files/zz").join(&young)];
        want.sort();
        assert_eq!(left, want);
        assert_eq!(s.get("n/b/kept").await.unwrap(), Some(large));
    }

    #[tokio::test]
    async fn small_blobs_live_in_their_row_and_large_ones_in_one_file() {
        let (s, d) = store();
        let small = Bytes::from_static(b"tiny");
        let large = Bytes::from(vec![7u8; PACKED_MAX + 1]);
        let larger = Bytes::from(vec![9u8; 3 * PACKED_MAX]);
        s.put("n/b/k", small.clone(), Some("text/plain"))
            .await
            .unwrap();
        assert!(files(d.path()).is_empty());
        assert_eq!(s.get("n/b/k").await.unwrap(), Some(small.clone()));
        s.put("n/b/k", large.clone(), None).await.unwrap();
        assert_eq!(files(d.path()).len(), 1);
        // Replacing a file's bytes leaves one file, the new one.
        s.put("n/b/k", larger.clone(), None).await.unwrap();
        assert_eq!(files(d.path()).len(), 1);
        assert_eq!(s.get("n/b/k").await.unwrap(), Some(larger.clone()));
        assert_eq!(
            s.sha256("n/b/k").await.unwrap(),
            Some(hex::encode(Sha256::digest(&larger)))
        );
        assert_eq!(
            s.head("n/b/k").await.unwrap().unwrap().size,
            larger.len() as u64
        );
        s.put("n/b/k", small.clone(), None).await.unwrap();
        assert!(files(d.path()).is_empty());
        s.put("n/b/big", large, None).await.unwrap();
        s.delete("n/b/big").await.unwrap();
        assert!(files(d.path()).is_empty());
        assert_eq!(s.get("n/b/big").await.unwrap(), None);
        assert_eq!(s.delete_prefix("n/").await.unwrap(), 1);
        assert_eq!(s.head("n/b/k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_presigned_put_spills_to_a_file_past_the_packed_limit() {
        let (s, d) = store();
        let chunk = Bytes::from(vec![1u8; PACKED_MAX / 2 + 1]);
        let body = futures::stream::iter(vec![
            Ok::<_, std::convert::Infallible>(chunk.clone()),
            Ok(chunk.clone()),
        ]);
        let meta = s
            .put_checked(
                "n/b/up",
                body,
                &PutConstraints::default(),
                Some("application/octet-stream"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(meta.size, 2 * chunk.len() as u64);
        assert_eq!(files(d.path()).len(), 1);
        let got = s.get("n/b/up").await.unwrap().unwrap();
        assert_eq!(got.len(), 2 * chunk.len());
        // One that fits stays in the row; a refused one leaves no file behind.
        put_unpinned(&s, "n/b/small", b"abc").await.unwrap();
        let pinned = PutConstraints {
            content_length: Some(10),
            ..Default::default()
        };
        let long = futures::stream::iter(vec![
            Ok::<_, std::convert::Infallible>(chunk.clone()),
            Ok(chunk),
        ]);
        assert!(s
            .put_checked("n/b/long", long, &pinned, None, None)
            .await
            .is_err());
        assert_eq!(files(d.path()).len(), 1);
        assert_eq!(s.head("n/b/long").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_promoted_file_keeps_its_bytes_when_its_source_is_written_again() {
        let (s, _d) = store();
        let first = Bytes::from(vec![3u8; PACKED_MAX * 2]);
        let meta = s.put("n/b/uploads/u/f", first.clone(), None).await.unwrap();
        s.promote(
            "n/b/uploads/u/f",
            "n/b/files/u/f",
            meta.etag.as_deref().unwrap(),
        )
        .await
        .unwrap();
        s.put(
            "n/b/uploads/u/f",
            Bytes::from(vec![4u8; PACKED_MAX * 2]),
            None,
        )
        .await
        .unwrap();
        assert_eq!(s.get("n/b/files/u/f").await.unwrap(), Some(first));
        // A stale ETag promotes nothing.
        let stale = s
            .promote(
                "n/b/uploads/u/f",
                "n/b/files/u/g",
                meta.etag.as_deref().unwrap(),
            )
            .await;
        assert!(matches!(stale, Err(StoreError::ConditionFailed { .. })));
        assert_eq!(s.head("n/b/files/u/g").await.unwrap(), None);
        // A retired key refuses presigned writes.
        s.retire("n/b/uploads/u/f").await.unwrap();
        let late = put_unpinned(&s, "n/b/uploads/u/f", b"x").await;
        assert!(matches!(late, Err(BlobAccessError::Forbidden(_))));
        assert_eq!(s.head("n/b/uploads/u/f").await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_older_data_dirs_meta_files_are_imported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let body = b"old bytes";
        let sha = hex::encode(Sha256::digest(body));
        std::fs::create_dir_all(root.join("data/n/b")).unwrap();
        std::fs::create_dir_all(root.join("meta/n/b/uploads")).unwrap();
        std::fs::write(root.join("data/n/b/o.txt"), body).unwrap();
        std::fs::write(
            root.join("meta/n/b/o.txt.json"),
            serde_json::json!({"content_type": "text/plain", "sha256": sha, "size": body.len()})
                .to_string(),
        )
        .unwrap();
        std::fs::write(root.join("meta/n/b/uploads/gone.retired"), b"").unwrap();
        let s = LocalBlobStore::open(root, "http://127.0.0.1:1").unwrap();
        assert!(!root.join("meta").exists());
        let meta = s.head("n/b/o.txt").await.unwrap().unwrap();
        assert_eq!(
            (meta.size, meta.sha256.as_deref()),
            (body.len() as u64, Some(sha.as_str()))
        );
        assert_eq!(
            s.get("n/b/o.txt").await.unwrap().as_deref(),
            Some(&body[..])
        );
        assert_eq!(
            s.list("n/", None, 10).await.unwrap().0,
            vec!["n/b/o.txt".to_string()]
        );
        let late = put_unpinned(&s, "n/b/uploads/gone", b"x").await;
        assert!(matches!(late, Err(BlobAccessError::Forbidden(_))));
        assert_eq!(s.delete_prefix("n/").await.unwrap(), 1);
        assert!(!root.join("data/n").exists());
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        for bad in ["", "/etc/passwd", "a/../../x", "a//b", "./a", "a\\b"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }
}
