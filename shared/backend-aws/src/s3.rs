//! Blob bytes in S3, with presigned URLs S3 itself enforces.

use std::time::Duration;

use aws_sdk_s3::config::{ProvideCredentials, SharedCredentialsProvider};

use async_trait::async_trait;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use base64::Engine;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use sluice_core::ports::{
    BlobMeta, BlobStore, PutConstraints, StoreError, StoreResult, StoredPart,
};

/// Metadata key holding the hex sha256 of what Sluice stored.
const SHA256_META: &str = "sha256";
/// A URL stops this long before the signing session does: clocks differ, and a client
/// needs time to send the bytes it started with.
const SIGNING_MARGIN: Duration = Duration::from_secs(300);

pub struct S3BlobStore {
    client: Client,
    bucket: String,
    /// The credentials URLs are signed with, to know how long they live.
    signer: Option<SharedCredentialsProvider>,
    /// When the signer was last asked, and the expiry it gave: asking is not free (a
    /// provider chain may call STS), and a session's expiry does not move within it.
    session: std::sync::Mutex<Option<(std::time::Instant, Option<std::time::SystemTime>)>>,
}

/// How long a session's expiry, once read, is trusted before the signer is asked again.
const SESSION_RECHECK: Duration = Duration::from_secs(60);

impl S3BlobStore {
    /// Knowing the credentials it signs with, so URLs never outlive them.
    pub fn signing_with(mut self, signer: Option<SharedCredentialsProvider>) -> Self {
        self.signer = signer;
        self
    }
}

/// An S3 client; with a custom endpoint (a stand-in), path-style addressing.
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    let mut builder = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        builder = builder.force_path_style(true);
    }
    Client::from_conf(builder.build())
}

fn err<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug + Send + Sync + 'static>(
    e: SdkError<E, R>,
) -> StoreError {
    StoreError::Backend(DisplayErrorContext(e).to_string())
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: String) -> Self {
        S3BlobStore {
            client,
            bucket,
            signer: None,
            session: std::sync::Mutex::new(None),
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: Option<&str>,
    ) -> StoreResult<BlobMeta> {
        let sha = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len() as u64;
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .set_content_type(content_type.map(str::to_string))
            .metadata(SHA256_META, &sha)
            .send()
            .await
            .map_err(err)?;
        Ok(BlobMeta {
            size,
            content_type: content_type.map(str::to_string),
            etag: out.e_tag,
            sha256: Some(sha),
        })
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Bytes>> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.body
                    .collect()
                    .await
                    .map_err(StoreError::backend)?
                    .into_bytes(),
            )),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>> {
        // Checksum mode returns the sha256 S3 verified at PUT (x-amz-checksum-sha256).
        let head = self.client.head_object().bucket(&self.bucket).key(key);
        match head
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
        {
            Ok(out) => Ok(Some(BlobMeta {
                size: out.content_length.unwrap_or(0).max(0) as u64,
                content_type: out.content_type,
                etag: out.e_tag,
                sha256: out
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get(SHA256_META).cloned())
                    .or_else(|| {
                        out.checksum_sha256
                            .as_deref()
                            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                            .map(hex::encode)
                    }),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn sha256(&self, key: &str) -> StoreResult<Option<String>> {
        let mut body = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out.body,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.try_next().await.map_err(StoreError::backend)? {
            hasher.update(&chunk);
        }
        Ok(Some(hex::encode(hasher.finalize())))
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<String>,
        limit: usize,
    ) -> StoreResult<(Vec<String>, Option<String>)> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_start_after(after)
            .max_keys(limit.min(1000) as i32)
            .send()
            .await
            .map_err(err)?;
        let keys: Vec<String> = out
            .contents
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| o.key)
            .collect();
        let next = if out.is_truncated == Some(true) {
            keys.last().cloned()
        } else {
            None
        };
        Ok((keys, next))
    }

    /// One `DeleteObjects` call per 1000 keys.
    async fn delete_prefix(&self, prefix: &str) -> StoreResult<u64> {
        let mut deleted = 0;
        loop {
            let (keys, _) = self.list(prefix, None, 1000).await?;
            if keys.is_empty() {
                return Ok(deleted);
            }
            let objects = keys
                .iter()
                .map(|k| {
                    ObjectIdentifier::builder()
                        .key(k)
                        .build()
                        .map_err(StoreError::backend)
                })
                .collect::<StoreResult<Vec<_>>>()?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(StoreError::backend)?;
            self.client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(err)?;
            deleted += keys.len() as u64;
        }
    }

    async fn create_multipart(&self, key: &str, content_type: &str) -> StoreResult<String> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(err)?;
        out.upload_id
            .ok_or_else(|| StoreError::Backend("S3 returned no multipart upload id".into()))
    }

    async fn list_parts(&self, key: &str, multipart_id: &str) -> StoreResult<Vec<StoredPart>> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(multipart_id)
                .set_part_number_marker(marker)
                .send()
                .await
                .map_err(err)?;
            for p in out.parts.unwrap_or_default() {
                parts.push(StoredPart {
                    number: p.part_number.unwrap_or(0).max(0) as u32,
                    etag: p.e_tag.unwrap_or_default(),
                    size: p.size.unwrap_or(0).max(0) as u64,
                });
            }
            if out.is_truncated != Some(true) {
                break;
            }
            marker = out.next_part_number_marker;
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
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|p| {
                        CompletedPart::builder()
                            .part_number(p.number as i32)
                            .e_tag(&p.etag)
                            .build()
                    })
                    .collect(),
            ))
            .build();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(multipart_id)
            .multipart_upload(completed)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn abort_multipart(&self, key: &str, multipart_id: &str) -> StoreResult<()> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(multipart_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_upload()) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    async fn promote(&self, from: &str, to: &str, etag: &str) -> StoreResult<BlobMeta> {
        // CopySource is "bucket/key" with the key URL-encoded, '/' kept.
        const KEY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'/')
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        let source = format!(
            "{}/{}",
            self.bucket,
            percent_encoding::utf8_percent_encode(from, KEY)
        );
        // The copy happens only if the source still has the ETag the confirm checked;
        // metadata (the sha256) and the checksum travel with it.
        let copied = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(to)
            .copy_source(source)
            .copy_source_if_match(etag)
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
            .send()
            .await;
        match copied {
            Ok(_) => {}
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
                return Err(StoreError::ConditionFailed { index: None })
            }
            Err(e) => return Err(err(e)),
        }
        let copy = self
            .head(to)
            .await?
            .ok_or_else(|| StoreError::Backend(format!("{to} vanished after its copy")))?;
        // A single-part copy keeps its MD5 ETag under SSE-S3, so this also catches a store
        // that ignores CopySourceIfMatch (moto does).
        if copy.etag.as_deref().map(|e| e.trim_matches('"')) != Some(etag.trim_matches('"')) {
            self.delete(to).await?;
            return Err(StoreError::ConditionFailed { index: None });
        }
        Ok(copy)
    }

    async fn retire(&self, key: &str) -> StoreResult<()> {
        self.delete(key).await
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> StoreResult<String> {
        let config = PresigningConfig::expires_in(expires_in).map_err(StoreError::backend)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(err)?;
        Ok(req.uri().to_string())
    }

    /// Content type, length and sha256 become signed headers: S3 refuses a different file.
    async fn signing_horizon(&self) -> StoreResult<Option<Duration>> {
        let Some(provider) = &self.signer else {
            return Ok(None);
        };
        let known = *self.session.lock().unwrap_or_else(|e| e.into_inner());
        let expiry = match known {
            // Trusted while fresh, unless the session is nearly over (it may be renewed).
            Some((asked, expiry))
                if asked.elapsed() < SESSION_RECHECK
                    && expiry.is_none_or(|at| {
                        at > std::time::SystemTime::now() + SIGNING_MARGIN + SESSION_RECHECK
                    }) =>
            {
                expiry
            }
            _ => {
                let credentials = provider
                    .provide_credentials()
                    .await
                    .map_err(StoreError::backend)?;
                let expiry = credentials.expiry();
                *self.session.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((std::time::Instant::now(), expiry));
                expiry
            }
        };
        // A URL must not outlive the session that signed it: S3 refuses it then.
        Ok(expiry.map(|at| {
            at.duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
                .saturating_sub(SIGNING_MARGIN)
        }))
    }

    async fn presign_put(
        &self,
        key: &str,
        c: &PutConstraints,
        expires_in: Duration,
    ) -> StoreResult<String> {
        let config = PresigningConfig::expires_in(expires_in).map_err(StoreError::backend)?;
        let checksum = c
            .sha256
            .as_deref()
            .map(|h| {
                hex::decode(h)
                    .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
                    .map_err(StoreError::backend)
            })
            .transpose()?;
        if let Some(part) = &c.part {
            // One part of a multipart upload: its exact length is signed.
            let req = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&part.multipart_id)
                .part_number(part.number as i32)
                .set_content_length(c.content_length.map(|l| l as i64))
                .set_checksum_sha256(checksum)
                .presigned(config)
                .await
                .map_err(err)?;
            return Ok(req.uri().to_string());
        }
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .set_content_type(c.content_type.clone())
            .set_content_length(c.content_length.map(|l| l as i64))
            .set_checksum_sha256(checksum)
            .presigned(config)
            .await
            .map_err(err)?;
        Ok(req.uri().to_string())
    }
}

pub async fn create_bucket(client: &Client, bucket: &str) -> anyhow::Result<()> {
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
            }) =>
        {
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!(
            "create bucket {bucket}: {}",
            DisplayErrorContext(e)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::Credentials;
    use std::time::SystemTime;

    fn store(expiry: Option<SystemTime>) -> S3BlobStore {
        let creds = Credentials::new("AKIA", "secret", Some("token".into()), expiry, "test");
        let config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(creds.clone())
            .build();
        S3BlobStore::new(Client::from_conf(config), "b".into())
            .signing_with(Some(SharedCredentialsProvider::new(creds)))
    }

    #[tokio::test]
    async fn urls_live_no_longer_than_the_session_that_signs_them() {
        let in_20_min = SystemTime::now() + Duration::from_secs(1200);
        let horizon = store(Some(in_20_min))
            .signing_horizon()
            .await
            .unwrap()
            .unwrap();
        assert!(horizon <= Duration::from_secs(900) && horizon > Duration::from_secs(890));
        assert_eq!(store(None).signing_horizon().await.unwrap(), None);
    }
}
