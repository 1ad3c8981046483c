//! GetObject with `If-Match` on the listed ETag, streamed as it arrives.

use sluice_core::domain::connections::MAX_PREFIX_BYTES;
use sluice_core::ports::{SourceBody, SourceError, SourceResult};

use super::errors::classify;
use super::S3Source;

impl S3Source {
    pub(super) async fn read_object(
        &self,
        key: &str,
        etag: &str,
        max_bytes: u64,
    ) -> SourceResult<SourceBody> {
        if key.len() > MAX_PREFIX_BYTES {
            return Err(SourceError::Invalid(format!(
                "the key is {} bytes; S3 keys are at most {MAX_PREFIX_BYTES}",
                key.len()
            )));
        }
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .if_match(format!("\"{etag}\""))
            .send()
            .await
            .map_err(|e| classify(&self.provider, &format!("reading {}", self.at(key)), e))?;
        if out.content_length().is_some_and(|n| n as u64 > max_bytes) {
            return Err(SourceError::TooLarge(format!(
                "{} bytes is over SLUICE_MAX_FETCH_BYTES ({max_bytes})",
                out.content_length().unwrap_or_default()
            )));
        }
        let what = format!(
            "the connection to {} failed while reading {}",
            self.provider,
            self.at(key)
        );
        let chunks = futures::stream::try_unfold(out.body, move |mut body| {
            let what = what.clone();
            async move {
                match body.try_next().await {
                    Ok(Some(chunk)) => Ok(Some((chunk, body))),
                    Ok(None) => Ok(None),
                    Err(_) => Err(SourceError::Failed(what)),
                }
            }
        });
        Ok(SourceBody {
            size: out.content_length.map(|n| n.max(0) as u64),
            chunks: crate::http::limited(chunks, max_bytes),
        })
    }
}
