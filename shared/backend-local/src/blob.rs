//! Blob bytes as files, with presigned URLs this process signs and `sluice-local` serves.
//!
//! A URL pins its method, key, expiry and (for PUT) content type, length and sha256;
//! the store refuses anything else the way S3 does: 403 for a bad signature or an
//! expired URL, 400 for a body that does not match, and nothing is stored.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use sluice_core::ports::{
    delete_listed, BlobMeta, BlobStore, PartRef, PutConstraints, StoreError, StoreResult,
    StoredPart,
};

type HmacSha256 = hmac::Hmac<Sha256>;

/// The most one presigned PUT may carry when no length is pinned (S3's limit).
const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

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

pub struct LocalBlobStore {
    data: PathBuf,
    meta: PathBuf,
    secret: Vec<u8>,
    public_url: std::sync::RwLock<String>,
    /// Held while bytes land under a key, while a key is promoted and while one is
    /// retired, so a confirm's check and a late PUT cannot interleave.
    commit: tokio::sync::Mutex<()>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct MetaFile {
    content_type: Option<String>,
    sha256: String,
    size: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Keys are relative paths of plain segments: nothing can escape the root.
fn check_key(key: &str) -> Result<(), BlobAccessError> {
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

impl LocalBlobStore {
    pub fn open(root: &Path, public_url: &str) -> anyhow::Result<Self> {
        let data = root.join("data");
        let meta = root.join("meta");
        crate::private::create_dir(&data)?;
        crate::private::create_dir(&meta)?;
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
        Ok(LocalBlobStore {
            data,
            meta,
            secret,
            public_url: std::sync::RwLock::new(public_url.to_string()),
            commit: tokio::sync::Mutex::new(()),
        })
    }

    /// The base URL presigned links point at (known once the server has bound its port).
    pub fn set_public_url(&self, url: &str) {
        *self.public_url.write().unwrap_or_else(|p| p.into_inner()) =
            url.trim_end_matches('/').to_string();
    }

    fn paths(&self, key: &str) -> StoreResult<(PathBuf, PathBuf)> {
        check_key(key).map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok((self.data.join(key), self.meta.join(format!("{key}.json"))))
    }

    /// The marker that says a key takes no more writes (see [`BlobStore::retire`]).
    fn retired_marker(&self, key: &str) -> PathBuf {
        self.meta.join(format!("{key}.retired"))
    }

    async fn is_retired(&self, key: &str) -> Result<bool, BlobAccessError> {
        tokio::fs::try_exists(self.retired_marker(key))
            .await
            .map_err(|e| BlobAccessError::BadRequest(e.to_string()))
    }

    fn sign(&self, canonical: &str) -> String {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.secret)
            .expect("hmac takes any key length");
        mac.update(canonical.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn canonical(method: &str, key: &str, expires: u64, c: &PutConstraints) -> String {
        format!(
            "{method}\n{key}\n{expires}\n{}\n{}\n{}\n{}",
            c.content_type.as_deref().unwrap_or(""),
            c.content_length.map(|l| l.to_string()).unwrap_or_default(),
            c.sha256.as_deref().unwrap_or(""),
            c.part
                .as_ref()
                .map(|p| format!("{}:{}", p.multipart_id, p.number))
                .unwrap_or_default()
        )
    }

    /// Where the parts of a multipart upload wait (outside the key space).
    fn parts_dir(&self, multipart_id: &str) -> StoreResult<PathBuf> {
        if multipart_id.is_empty() || !multipart_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(StoreError::Backend("invalid multipart upload id".into()));
        }
        Ok(self
            .data
            .parent()
            .unwrap_or(&self.data)
            .join("multipart")
            .join(multipart_id))
    }

    fn presign(
        &self,
        method: &str,
        key: &str,
        c: &PutConstraints,
        expires_in: Duration,
    ) -> StoreResult<String> {
        check_key(key).map_err(|e| StoreError::Backend(e.to_string()))?;
        let expires = unix_now() + expires_in.as_secs();
        let signature = self.sign(&Self::canonical(method, key, expires, c));
        let base = self
            .public_url
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut url =
            url::Url::parse(&format!("{base}{BLOB_ROUTE}{key}")).map_err(StoreError::backend)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("X-Sluice-Method", method);
            q.append_pair("X-Sluice-Expires", &expires.to_string());
            if let Some(ct) = &c.content_type {
                q.append_pair("X-Sluice-Content-Type", ct);
            }
            if let Some(len) = c.content_length {
                q.append_pair("X-Sluice-Content-Length", &len.to_string());
            }
            if let Some(sha) = &c.sha256 {
                q.append_pair("X-Sluice-Checksum-Sha256", sha);
            }
            if let Some(part) = &c.part {
                q.append_pair("uploadId", &part.multipart_id);
                q.append_pair("partNumber", &part.number.to_string());
            }
            q.append_pair("X-Sluice-Signature", &signature);
        }
        Ok(url.to_string())
    }

    /// Checks a presigned request's signature and expiry; returns what the URL pins.
    pub fn authorize(
        &self,
        method: &str,
        key: &str,
        query: &[(String, String)],
    ) -> Result<PutConstraints, BlobAccessError> {
        check_key(key)?;
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let forbidden = |m: &str| BlobAccessError::Forbidden(m.to_string());
        let signed_method =
            param("X-Sluice-Method").ok_or_else(|| forbidden("missing signature"))?;
        let signature =
            param("X-Sluice-Signature").ok_or_else(|| forbidden("missing signature"))?;
        let expires: u64 = param("X-Sluice-Expires")
            .and_then(|e| e.parse().ok())
            .ok_or_else(|| forbidden("missing expiry"))?;
        let constraints = PutConstraints {
            content_type: param("X-Sluice-Content-Type"),
            content_length: param("X-Sluice-Content-Length").and_then(|l| l.parse().ok()),
            sha256: param("X-Sluice-Checksum-Sha256"),
            part: match (
                param("uploadId"),
                param("partNumber").and_then(|n| n.parse().ok()),
            ) {
                (Some(multipart_id), Some(number)) => Some(PartRef {
                    multipart_id,
                    number,
                }),
                _ => None,
            },
        };
        let sig_ok = hex::decode(&signature).ok().is_some_and(|given| {
            let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.secret).expect("hmac key");
            mac.update(Self::canonical(&signed_method, key, expires, &constraints).as_bytes());
            mac.verify_slice(&given).is_ok()
        });
        if !sig_ok {
            return Err(forbidden(
                "SignatureDoesNotMatch: the request signature does not match",
            ));
        }
        if signed_method != method {
            return Err(forbidden(
                "SignatureDoesNotMatch: URL was signed for another method",
            ));
        }
        if unix_now() > expires {
            return Err(forbidden("AccessDenied: request has expired"));
        }
        Ok(constraints)
    }

    /// Stores a presigned PUT's body after checking it against what the URL pins. The
    /// body streams to a temporary file while it is counted and hashed, so a large
    /// upload never sits in memory; anything refused leaves nothing behind.
    pub async fn put_checked<S, E>(
        &self,
        key: &str,
        mut body: S,
        pinned: &PutConstraints,
        content_type: Option<&str>,
        checksum_b64: Option<&str>,
    ) -> Result<BlobMeta, BlobAccessError>
    where
        S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures::StreamExt;
        use tokio::io::AsyncWriteExt;
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
        let (path, meta_path) = match &pinned.part {
            Some(part) => {
                let dir = self
                    .parts_dir(&part.multipart_id)
                    .map_err(|e| internal(&e))?;
                if !tokio::fs::try_exists(&dir)
                    .await
                    .map_err(|e| internal(&e))?
                {
                    return Err(bad(
                        "NoSuchUpload: the multipart upload does not exist".into()
                    ));
                }
                (dir.join(format!("{:05}", part.number)), None)
            }
            None => {
                if self.is_retired(key).await? {
                    return Err(finished());
                }
                let (path, meta_path) = self.paths(key).map_err(|e| internal(&e))?;
                (path, Some(meta_path))
            }
        };
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| internal(&e))?;
        }
        let tmp = path.with_extension(format!("tmp-{}", ulid::Ulid::generate()));
        let limit = pinned.content_length.unwrap_or(MAX_SINGLE_PUT);
        let received = async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| internal(&e))?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| bad(format!("reading the body failed: {e}")))?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(bad(format!(
                        "body is longer than the {limit} bytes the URL allows"
                    )));
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await.map_err(|e| internal(&e))?;
            }
            file.flush().await.map_err(|e| internal(&e))?;
            if let Some(len) = pinned.content_length {
                if size != len {
                    return Err(bad(format!(
                        "body is {size} bytes, the URL was signed for exactly {len}"
                    )));
                }
            }
            let sha256 = hex::encode(hasher.finalize());
            if pinned.sha256.as_ref().is_some_and(|want| want != &sha256) {
                return Err(bad(
                    "BadDigest: body does not match x-amz-checksum-sha256".into()
                ));
            }
            Ok((size, sha256))
        }
        .await;
        let (size, sha256) = match received {
            Ok(r) => r,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        let stored_type = if pinned.part.is_some() {
            None
        } else {
            content_type.map(str::to_string)
        };
        let _commit = self.commit.lock().await;
        if meta_path.is_some() && self.is_retired(key).await? {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(finished());
        }
        match &meta_path {
            Some(m) => {
                if let Some(dir) = m.parent() {
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(|e| internal(&e))?;
                }
                let meta = MetaFile {
                    content_type: stored_type.clone(),
                    sha256: sha256.clone(),
                    size,
                };
                let json = serde_json::to_vec(&meta).map_err(|e| internal(&e))?;
                tokio::fs::write(m, json).await.map_err(|e| internal(&e))?;
            }
            // A part's ETag beside it, so listing parts reads no part twice.
            None => tokio::fs::write(path.with_extension("etag"), etag_of(&sha256))
                .await
                .map_err(|e| internal(&e))?,
        }
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| internal(&e))?;
        Ok(BlobMeta {
            size,
            content_type: stored_type,
            etag: Some(etag_of(&sha256)),
            sha256: Some(sha256),
        })
    }

    /// The stored file, opened for streaming (`None` if there is none).
    pub async fn open_file(&self, key: &str) -> StoreResult<Option<tokio::fs::File>> {
        let (path, _) = self.paths(key)?;
        match tokio::fs::File::open(&path).await {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    /// Writes bytes whose sha256 is already known (a PUT hashes them once, to check).
    async fn store(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: Option<&str>,
        sha256: String,
    ) -> StoreResult<BlobMeta> {
        let (path, meta_path) = self.paths(key)?;
        let meta = MetaFile {
            content_type: content_type.map(str::to_string),
            sha256,
            size: bytes.len() as u64,
        };
        place(path, meta_path, &meta, move |tmp| {
            std::fs::write(tmp, &bytes)
        })
        .await?;
        Ok(meta.blob_meta())
    }
}

impl MetaFile {
    fn blob_meta(self) -> BlobMeta {
        BlobMeta {
            size: self.size,
            content_type: self.content_type,
            etag: Some(etag_of(&self.sha256)),
            sha256: Some(self.sha256),
        }
    }
}

/// Puts a file at `path` with its meta beside it: `fill` makes the file under a temporary
/// name, which is then renamed, so a reader never sees half a file.
async fn place(
    path: PathBuf,
    meta_path: PathBuf,
    meta: &MetaFile,
    fill: impl FnOnce(&Path) -> std::io::Result<()> + Send + 'static,
) -> StoreResult<()> {
    let meta_json = serde_json::to_vec(meta).map_err(StoreError::backend)?;
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        for p in [&path, &meta_path] {
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let tmp = path.with_extension(format!("tmp-{}", ulid::Ulid::generate()));
        fill(&tmp)?;
        std::fs::write(&meta_path, &meta_json)?;
        std::fs::rename(&tmp, &path)
    })
    .await
    .map_err(StoreError::backend)?
    .map_err(StoreError::backend)
}

fn etag_of(sha256: &str) -> String {
    format!("\"{}\"", &sha256[..32])
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: Option<&str>,
    ) -> StoreResult<BlobMeta> {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        self.store(key, bytes, content_type, sha256).await
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Bytes>> {
        let (path, _) = self.paths(key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>> {
        let (path, meta_path) = self.paths(key)?;
        if !tokio::fs::try_exists(&path)
            .await
            .map_err(StoreError::backend)?
        {
            return Ok(None);
        }
        let meta: MetaFile = match tokio::fs::read(&meta_path).await {
            Ok(b) => serde_json::from_slice(&b).map_err(StoreError::backend)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::backend(e)),
        };
        Ok(Some(meta.blob_meta()))
    }

    async fn sha256(&self, key: &str) -> StoreResult<Option<String>> {
        use tokio::io::AsyncReadExt;
        let (path, _) = self.paths(key)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::backend(e)),
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
        let (path, meta_path) = self.paths(key)?;
        for p in [path, meta_path] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::backend(e)),
            }
        }
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<String>,
        limit: usize,
    ) -> StoreResult<(Vec<String>, Option<String>)> {
        let root = self.data.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            // Walk only the directory that holds the prefix.
            let dir_part = prefix.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            let start = root.join(dir_part);
            let mut keys = Vec::new();
            let mut stack = vec![start];
            while let Some(dir) = stack.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StoreError::backend(e)),
                };
                for entry in entries {
                    let entry = entry.map_err(StoreError::backend)?;
                    let path = entry.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if let Ok(rel) = path.strip_prefix(&root) {
                        let key = rel.to_string_lossy().replace('\\', "/");
                        if key.starts_with(&prefix)
                            && !key.contains(".tmp-")
                            && after.as_ref().is_none_or(|a| &key > a)
                        {
                            keys.push(key);
                        }
                    }
                }
            }
            keys.sort();
            let next = if keys.len() > limit {
                keys.truncate(limit);
                keys.last().cloned()
            } else {
                None
            };
            Ok((keys, next))
        })
        .await
        .map_err(StoreError::backend)?
    }

    async fn create_multipart(&self, key: &str, content_type: &str) -> StoreResult<String> {
        check_key(key).map_err(|e| StoreError::Backend(e.to_string()))?;
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
        let mut whole = Vec::new();
        for p in parts {
            let bytes = tokio::fs::read(dir.join(format!("{:05}", p.number)))
                .await
                .map_err(StoreError::backend)?;
            if etag_of(&hex::encode(Sha256::digest(&bytes))) != p.etag {
                return Err(StoreError::Backend(format!(
                    "InvalidPart: part {} changed",
                    p.number
                )));
            }
            whole.extend_from_slice(&bytes);
        }
        self.put(key, Bytes::from(whole), meta["content_type"].as_str())
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
        let (from_path, from_meta) = self.paths(from)?;
        let (to_path, to_meta) = self.paths(to)?;
        let _commit = self.commit.lock().await;
        let meta: MetaFile = match tokio::fs::read(&from_meta).await {
            Ok(b) => serde_json::from_slice(&b).map_err(StoreError::backend)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::ConditionFailed { index: None })
            }
            Err(e) => return Err(StoreError::backend(e)),
        };
        if etag_of(&meta.sha256) != etag {
            return Err(StoreError::ConditionFailed { index: None });
        }
        // A second name for the same file: no bytes are copied, and a later PUT to `from`
        // replaces that name's file, not this one.
        place(to_path, to_meta, &meta, move |tmp| {
            std::fs::hard_link(&from_path, tmp)
        })
        .await?;
        Ok(meta.blob_meta())
    }

    async fn retire(&self, key: &str) -> StoreResult<()> {
        let marker = self.retired_marker(key);
        check_key(key).map_err(|e| StoreError::Backend(e.to_string()))?;
        let _commit = self.commit.lock().await;
        if let Some(dir) = marker.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(StoreError::backend)?;
        }
        tokio::fs::write(&marker, b"")
            .await
            .map_err(StoreError::backend)?;
        self.delete(key).await
    }

    async fn delete_prefix(&self, prefix: &str) -> StoreResult<u64> {
        let deleted = delete_listed(self, prefix).await?;
        // A whole tree (a purged bucket or namespace) also drops its directories and
        // the markers of its retired upload keys, which hold no bytes to list.
        if let Some(dir) = prefix.strip_suffix('/') {
            check_key(dir).map_err(|e| StoreError::Backend(e.to_string()))?;
            for tree in [self.data.join(dir), self.meta.join(dir)] {
                match tokio::fs::remove_dir_all(&tree).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::backend(e)),
                }
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

    #[test]
    fn keys_cannot_escape_the_root() {
        for bad in ["", "/etc/passwd", "a/../../x", "a//b", "./a", "a\\b"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }
}
