//! ListObjectsV2, a page at a time, in key order.

use sluice_core::domain::connections::MAX_PREFIX_BYTES;
use sluice_core::ports::{SourceEntry, SourceError, SourcePage, SourceResult};

use super::errors::classify;
use super::{S3Source, MAX_TOKEN_BYTES};

impl S3Source {
    pub(super) async fn list_page(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> SourceResult<SourcePage> {
        // Beyond these the SDK cannot build the request URI (it would panic).
        if prefix.len() > MAX_PREFIX_BYTES {
            return Err(SourceError::Invalid(format!(
                "the prefix is {} bytes; S3 keys are at most {MAX_PREFIX_BYTES}",
                prefix.len()
            )));
        }
        if token.is_some_and(|t| t.len() > MAX_TOKEN_BYTES) {
            return Err(SourceError::Invalid(format!(
                "the continuation token is over {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(limit.clamp(1, 1000) as i32)
            .set_continuation_token(token.map(str::to_string))
            .send()
            .await
            .map_err(|e| classify(&self.provider, &format!("listing {}", self.at(prefix)), e))?;
        let entries = out
            .contents()
            .iter()
            .filter_map(|o| {
                Some(SourceEntry {
                    key: o.key()?.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                    version_id: None,
                    last_modified: o.last_modified().map(|t| t.to_string()),
                    ..Default::default()
                })
            })
            .collect();
        // Only IsTruncated ends a listing; a truncated page without a token is an error.
        let next = match (out.is_truncated(), out.next_continuation_token()) {
            (Some(true), Some(t)) if t.len() > MAX_TOKEN_BYTES => {
                return Err(SourceError::Invalid(format!(
                    "{} sent a continuation token of {} bytes when listing {}; this server takes at most {MAX_TOKEN_BYTES}",
                    self.provider,
                    t.len(),
                    self.at(prefix)
                )))
            }
            (Some(true), Some(t)) => Some(t.to_string()),
            (Some(true), None) => {
                return Err(SourceError::Failed(format!(
                    "{} sent a truncated page without a continuation token when listing {}",
                    self.provider,
                    self.at(prefix)
                )))
            }
            _ => None,
        };
        Ok(SourcePage {
            entries,
            next,
            ..Default::default()
        })
    }
}
