//! `Get Blob` with `If-Match` on the listed ETag, streamed as it arrives.

use sluice_core::domain::connections::MAX_PREFIX_BYTES;
use sluice_core::ports::{SourceBody, SourceError, SourceResult};

use super::{errors, AzureSource};
use crate::http;

impl AzureSource {
    pub(super) async fn read_blob(
        &self,
        name: &str,
        etag: &str,
        max_bytes: u64,
    ) -> SourceResult<SourceBody> {
        if name.len() > MAX_PREFIX_BYTES {
            return Err(SourceError::Invalid(format!(
                "the name is {} bytes; this server keeps names up to {MAX_PREFIX_BYTES}",
                name.len()
            )));
        }
        let what = format!("reading {}", self.at(name));
        let request = self
            .signed(
                "GET",
                self.url(Some(name)),
                &[("If-Match", format!("\"{etag}\""))],
            )
            .await?;
        let response = http::send("azure_blob", &what, request).await?;
        if !response.status().is_success() {
            return Err(
                match http::refusal("azure_blob", &what, response, errors::said).await {
                    // A precondition also fails on a blob that is gone (Azurite answers so):
                    // only a look at the blob tells deleted from changed.
                    SourceError::Changed(why) if !self.exists(name).await? => {
                        SourceError::Missing(why)
                    }
                    other => other,
                },
            );
        }
        http::streamed("azure_blob", &what, response, max_bytes)
    }

    /// Whether the blob is there now (`Get Blob Properties`).
    async fn exists(&self, name: &str) -> SourceResult<bool> {
        let what = format!("looking at {}", self.at(name));
        let request = self.signed("HEAD", self.url(Some(name)), &[]).await?;
        let response = http::send("azure_blob", &what, request).await?;
        match response.status().as_u16() {
            404 => Ok(false),
            s if (200..300).contains(&s) => Ok(true),
            _ => Err(http::refusal("azure_blob", &what, response, errors::said).await),
        }
    }
}
