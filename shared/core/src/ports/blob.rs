//! Object storage for blob bytes: S3, or files on disk with self-signed URLs.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub size: u64,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    /// Hex sha256 when the store knows it (checksum recorded at PUT).
    pub sha256: Option<String>,
}

/// What a presigned PUT pins: the store refuses a different file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutConstraints {
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    /// Hex sha256 of the exact bytes.
    pub sha256: Option<String>,
    /// For one part of a multipart upload: which upload, which part.
    pub part: Option<PartRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRef {
    pub multipart_id: String,
    /// 1-based, as S3 numbers parts.
    pub number: u32,
}

/// A part the store holds for an unfinished multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    pub number: u32,
    pub etag: String,
    pub size: u64,
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: Option<&str>,
    ) -> StoreResult<BlobMeta>;
    async fn get(&self, key: &str) -> StoreResult<Option<Bytes>>;
    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>>;
    async fn delete(&self, key: &str) -> StoreResult<()>;
    /// The hex sha256 of a stored object, read as a stream (never whole in memory).
    async fn sha256(&self, key: &str) -> StoreResult<Option<String>>;
    /// One page of keys under a prefix, in key order.
    async fn list(
        &self,
        prefix: &str,
        after: Option<String>,
        limit: usize,
    ) -> StoreResult<(Vec<String>, Option<String>)>;
    /// Deletes every key under the prefix; returns how many went.
    async fn delete_prefix(&self, prefix: &str) -> StoreResult<u64> {
        delete_listed(self, prefix).await
    }
    /// Moves the bytes at `from` (a key a presigned URL may still write) to `to` (a key
    /// no URL names) if they are still the bytes whose ETag is `etag`, so what an object
    /// reads is exactly what its confirm checked. `ConditionFailed` if they changed, and
    /// then `to` holds the checked bytes or nothing. `from` is left for [`BlobStore::retire`].
    async fn promote(&self, from: &str, to: &str, etag: &str) -> StoreResult<BlobMeta>;
    /// Deletes `key` and, where the store can, refuses any later write to it (the URL of
    /// a completed, canceled or failed upload). S3 cannot refuse a presigned PUT before
    /// it expires; its notification of the late write brings the key back here.
    async fn retire(&self, key: &str) -> StoreResult<()>;
    async fn presign_get(&self, key: &str, expires_in: Duration) -> StoreResult<String>;
    /// How long a URL signed now can stay valid: what is left of the signing credentials'
    /// life when they are temporary (a Lambda role's session), `None` when only the URL's
    /// own expiry bounds it.
    async fn signing_horizon(&self) -> StoreResult<Option<Duration>> {
        Ok(None)
    }
    /// Starts a multipart upload (for files above one PUT's limit); returns its id.
    async fn create_multipart(&self, key: &str, content_type: &str) -> StoreResult<String>;
    /// The parts received so far, in part order.
    async fn list_parts(&self, key: &str, multipart_id: &str) -> StoreResult<Vec<StoredPart>>;
    /// Joins the parts into the object at `key`.
    async fn complete_multipart(
        &self,
        key: &str,
        multipart_id: &str,
        parts: &[StoredPart],
    ) -> StoreResult<()>;
    async fn abort_multipart(&self, key: &str, multipart_id: &str) -> StoreResult<()>;
    async fn presign_put(
        &self,
        key: &str,
        constraints: &PutConstraints,
        expires_in: Duration,
    ) -> StoreResult<String>;
}

/// Deletes every key `list` finds under the prefix, a page at a time; returns how many
/// went. The default `delete_prefix`, and the part of an adapter's own that it keeps.
pub async fn delete_listed<S: BlobStore + ?Sized>(store: &S, prefix: &str) -> StoreResult<u64> {
    let mut after = None;
    let mut deleted = 0;
    loop {
        let (keys, next) = store.list(prefix, after, 1000).await?;
        for key in &keys {
            store.delete(key).await?;
            deleted += 1;
        }
        match next {
            Some(n) => after = Some(n),
            None => return Ok(deleted),
        }
    }
}
