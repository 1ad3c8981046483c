//! Multipart uploads: parts kept apart until the confirm assembles them.

use super::rows::*;
use super::spool::*;
use super::{BlobAccessError, LocalBlobStore};
use std::path::PathBuf;

use bytes::Bytes;

use sluice_core::ports::{BlobMeta, PartRef, PutConstraints, StoreError, StoreResult};

impl LocalBlobStore {
    /// Where the parts of a multipart upload wait (outside the key space).
    pub(super) fn parts_dir(&self, multipart_id: &str) -> StoreResult<PathBuf> {
        if multipart_id.is_empty() || !multipart_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(StoreError::Backend("invalid multipart upload id".into()));
        }
        Ok(self.root.join("multipart").join(multipart_id))
    }

    /// One part of a multipart upload, beside the others until they are joined.
    pub(super) async fn put_part<S, E>(
        &self,
        part: &PartRef,
        pinned: &PutConstraints,
        body: S,
    ) -> Result<BlobMeta, BlobAccessError>
    where
        S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let internal = |e: &dyn std::fmt::Display| BlobAccessError::BadRequest(e.to_string());
        let dir = self
            .parts_dir(&part.multipart_id)
            .map_err(|e| internal(&e))?;
        if !tokio::fs::try_exists(&dir)
            .await
            .map_err(|e| internal(&e))?
        {
            return Err(BlobAccessError::BadRequest(
                "NoSuchUpload: the multipart upload does not exist".into(),
            ));
        }
        let path = dir.join(format!("{:05}", part.number));
        let tmp = path.with_extension(format!("tmp-{}", ulid::Ulid::generate()));
        let received = match receive(body, pinned, 0, &tmp).await {
            Ok(r) => r,
            Err(e) => {
                remove_quietly(&tmp).await;
                return Err(e);
            }
        };
        if received.packed.is_some() {
            // An empty part: `receive` kept its nothing in memory.
            tokio::fs::write(&tmp, b"")
                .await
                .map_err(|e| internal(&e))?;
        }
        // The part's ETag beside it, so listing parts reads no part twice.
        let etag = etag_of(&received.sha256);
        tokio::fs::write(path.with_extension("etag"), &etag)
            .await
            .map_err(|e| internal(&e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| internal(&e))?;
        Ok(BlobMeta {
            size: received.size,
            content_type: None,
            etag: Some(etag),
            sha256: Some(received.sha256),
        })
    }
}
