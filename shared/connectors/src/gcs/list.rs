//! `GET storage/v1/b/{bucket}/o`: a page of objects in name order, with `pageToken`.

use serde::Deserialize;
use sluice_core::domain::connections::MAX_PREFIX_BYTES;
use sluice_core::ports::{
    SourceEntry, SourceError, SourcePage, SourceResult, MAX_CONTINUATION_BYTES,
};

use super::{errors, GcsSource};
use crate::http;

/// The most of one page's answer (1 000 objects with 1 KiB names fit).
const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;
/// Only what a manifest compares.
const FIELDS: &str = "nextPageToken,items(name,size,generation,md5Hash,updated)";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listing {
    #[serde(default)]
    items: Vec<Object>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct Object {
    name: String,
    /// GCS sends 64-bit numbers as strings.
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    generation: Option<String>,
    #[serde(default)]
    updated: Option<String>,
}

impl GcsSource {
    pub(super) async fn list_page(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> SourceResult<SourcePage> {
        if prefix.len() > MAX_PREFIX_BYTES {
            return Err(SourceError::Invalid(format!(
                "the prefix is {} bytes; GCS names are at most {MAX_PREFIX_BYTES}",
                prefix.len()
            )));
        }
        let what = format!("listing {}", self.at(prefix));
        let mut url = self.url(None);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("prefix", prefix)
                .append_pair("maxResults", &limit.clamp(1, 1000).to_string())
                .append_pair("fields", FIELDS);
            if let Some(t) = token {
                q.append_pair("pageToken", t);
            }
        }
        let request = self
            .registry_http
            .get(url)
            .bearer_auth(self.bearer().await?);
        let response = http::send("gcs", &what, request).await?;
        if !response.status().is_success() {
            return Err(http::refusal("gcs", &what, response, errors::said).await);
        }
        let listing: Listing = http::json("gcs", &what, response, MAX_PAGE_BYTES).await?;
        let next = match listing.next_page_token {
            Some(t) if t.len() > MAX_CONTINUATION_BYTES => {
                return Err(SourceError::Invalid(format!(
                    "gcs sent a page token of {} bytes when {what}; this server takes at most {MAX_CONTINUATION_BYTES}",
                    t.len()
                )))
            }
            Some(t) if !t.is_empty() => Some(t),
            _ => None,
        };
        let entries = listing
            .items
            .into_iter()
            .map(|o| SourceEntry {
                size: o.size.and_then(|s| s.parse().ok()).unwrap_or(0),
                etag: o.generation.unwrap_or_default(),
                version_id: None,
                last_modified: o.updated,
                key: o.name,
                ..Default::default()
            })
            .collect();
        Ok(SourcePage {
            entries,
            next,
            ..Default::default()
        })
    }
}
