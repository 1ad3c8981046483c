//! The blob store, with presigned PUTs that check what the URL pinned.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::ports::{BlobMeta, BlobStore, PutConstraints, StoreError, StoreResult, StoredPart};

use super::lock;

#[derive(Clone)]
struct StoredBlob {
    bytes: Bytes,
    content_type: Option<String>,
}

/// Blobs in a map. Presigned URLs name a host that does not resolve (`.invalid`): a
/// test hands a PUT URL to [`MemoryBlobs::put_signed`] instead.
#[derive(Default)]
pub struct MemoryBlobs {
    blobs: Mutex<BTreeMap<String, StoredBlob>>,
    parts: Mutex<HashMap<(String, u32), Bytes>>,
    next_upload: Mutex<u64>,
    /// Keys that refuse writes, as the local store refuses a finished upload's URL.
    retired: Mutex<std::collections::HashSet<String>>,
}

fn meta(b: &StoredBlob) -> BlobMeta {
    let sha = hex::encode(Sha256::digest(&b.bytes));
    BlobMeta {
        size: b.bytes.len() as u64,
        content_type: b.content_type.clone(),
        etag: Some(format!("\"{}\"", &sha[..32])),
        sha256: Some(sha),
    }
}

impl MemoryBlobs {
    /// What a client's PUT to a presigned URL does: the bytes land under its key, or
    /// as a part of its multipart upload.
    pub fn put_signed(&self, url: &str, bytes: impl Into<Bytes>) -> StoreResult<String> {
        let rest = url
            .strip_prefix("http://blobs.memory.invalid/put/")
            .ok_or_else(|| StoreError::backend(format!("not a presigned PUT: {url}")))?;
        let (key, part) = match rest.split_once("?part=") {
            Some((key, part)) => (key, Some(part)),
            None => (rest, None),
        };
        let bytes = bytes.into();
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&bytes))[..32]);
        if part.is_none() && lock(&self.retired).contains(key) {
            return Err(StoreError::backend(format!(
                "AccessDenied: {key} belongs to a finished upload"
            )));
        }
        match part {
            Some(p) => {
                let (id, n) = p
                    .split_once(':')
                    .ok_or_else(|| StoreError::backend("bad part"))?;
                let n: u32 = n.parse().map_err(StoreError::backend)?;
                lock(&self.parts).insert((id.to_string(), n), bytes);
            }
            None => {
                lock(&self.blobs).insert(
                    key.to_string(),
                    StoredBlob {
                        bytes,
                        content_type: None,
                    },
                );
            }
        }
        Ok(etag)
    }

    pub fn keys(&self) -> Vec<String> {
        lock(&self.blobs).keys().cloned().collect()
    }
}

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: Option<&str>,
    ) -> StoreResult<BlobMeta> {
        let blob = StoredBlob {
            bytes,
            content_type: content_type.map(str::to_string),
        };
        let m = meta(&blob);
        lock(&self.blobs).insert(key.to_string(), blob);
        Ok(m)
    }
    async fn get(&self, key: &str) -> StoreResult<Option<Bytes>> {
        Ok(lock(&self.blobs).get(key).map(|b| b.bytes.clone()))
    }
    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>> {
        Ok(lock(&self.blobs).get(key).map(meta))
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        lock(&self.blobs).remove(key);
        Ok(())
    }
    async fn sha256(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(lock(&self.blobs).get(key).and_then(|b| meta(b).sha256))
    }
    async fn list(
        &self,
        prefix: &str,
        after: Option<String>,
        limit: usize,
    ) -> StoreResult<(Vec<String>, Option<String>)> {
        let blobs = lock(&self.blobs);
        let mut keys: Vec<String> = blobs
            .keys()
            .filter(|k| k.starts_with(prefix) && after.as_ref().is_none_or(|a| *k > a))
            .take(limit + 1)
            .cloned()
            .collect();
        let next = (keys.len() > limit).then(|| {
            keys.truncate(limit);
            keys.last().cloned().unwrap_or_default()
        });
        Ok((keys, next))
    }
    async fn promote(&self, from: &str, to: &str, etag: &str) -> StoreResult<BlobMeta> {
        let mut blobs = lock(&self.blobs);
        let blob = blobs
            .get(from)
            .cloned()
            .ok_or(StoreError::ConditionFailed { index: None })?;
        let m = meta(&blob);
        if m.etag.as_deref() != Some(etag) {
            return Err(StoreError::ConditionFailed { index: None });
        }
        blobs.insert(to.to_string(), blob);
        Ok(m)
    }
    async fn retire(&self, key: &str) -> StoreResult<()> {
        lock(&self.retired).insert(key.to_string());
        lock(&self.blobs).remove(key);
        Ok(())
    }
    async fn presign_get(&self, key: &str, expires_in: Duration) -> StoreResult<String> {
        Ok(format!(
            "http://blobs.memory.invalid/get/{key}?expires_in={}",
            expires_in.as_secs()
        ))
    }
    async fn create_multipart(&self, _key: &str, _content_type: &str) -> StoreResult<String> {
        let mut n = lock(&self.next_upload);
        *n += 1;
        Ok(format!("mpu-{n}"))
    }
    async fn list_parts(&self, _key: &str, multipart_id: &str) -> StoreResult<Vec<StoredPart>> {
        let mut parts: Vec<StoredPart> = lock(&self.parts)
            .iter()
            .filter(|((id, _), _)| id == multipart_id)
            .map(|((_, n), b)| StoredPart {
                number: *n,
                etag: format!("\"{}\"", &hex::encode(Sha256::digest(b))[..32]),
                size: b.len() as u64,
            })
            .collect();
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }
    async fn complete_multipart(
        &self,
        key: &str,
        multipart_id: &str,
        parts: &[StoredPart],
    ) -> StoreResult<()> {
        let mut stored = lock(&self.parts);
        let mut whole = Vec::new();
        for p in parts {
            let bytes = stored
                .remove(&(multipart_id.to_string(), p.number))
                .ok_or_else(|| {
                    StoreError::backend(format!("part {} was not uploaded", p.number))
                })?;
            whole.extend_from_slice(&bytes);
        }
        lock(&self.blobs).insert(
            key.to_string(),
            StoredBlob {
                bytes: whole.into(),
                content_type: None,
            },
        );
        Ok(())
    }
    async fn abort_multipart(&self, _key: &str, multipart_id: &str) -> StoreResult<()> {
        lock(&self.parts).retain(|(id, _), _| id != multipart_id);
        Ok(())
    }
    async fn presign_put(
        &self,
        key: &str,
        constraints: &PutConstraints,
        _expires_in: Duration,
    ) -> StoreResult<String> {
        Ok(match &constraints.part {
            Some(p) => format!(
                "http://blobs.memory.invalid/put/{key}?part={}:{}",
                p.multipart_id, p.number
            ),
            None => format!("http://blobs.memory.invalid/put/{key}"),
        })
    }
}
