//! `GET storage/v1/b/{bucket}/o/{name}?alt=media`, pinned to the listed generation.

use sluice_core::domain::connections::MAX_PREFIX_BYTES;
use sluice_core::ports::{SourceBody, SourceError, SourceResult};

use super::{errors, GcsSource};
use crate::http;

impl GcsSource {
    pub(super) async fn read_object(
        &self,
        key: &str,
        generation: &str,
        max_bytes: u64,
    ) -> SourceResult<SourceBody> {
        if key.len() > MAX_PREFIX_BYTES {
            return Err(SourceError::Invalid(format!(
                "the name is {} bytes; GCS names are at most {MAX_PREFIX_BYTES}",
                key.len()
            )));
        }
        let what = format!("reading {}", self.at(key));
        let mut url = self.url(Some(key));
        url.query_pairs_mut()
            .append_pair("alt", "media")
            .append_pair("ifGenerationMatch", generation);
        let request = self
            .registry_http
            .get(url)
            .bearer_auth(self.bearer().await?);
        let response = http::send("gcs", &what, request).await?;
        if !response.status().is_success() {
            return Err(http::refusal("gcs", &what, response, errors::said).await);
        }
        // Where a server skips the precondition, the generation it sent still tells.
        let sent = response
            .headers()
            .get("x-goog-generation")
            .and_then(|v| v.to_str().ok());
        if sent.is_some_and(|g| g != generation) {
            return Err(SourceError::Changed(format!(
                "{} is now generation {}, not {generation}",
                self.at(key),
                sent.unwrap_or_default()
            )));
        }
        http::streamed("gcs", &what, response, max_bytes)
    }
}
