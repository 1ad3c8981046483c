//! A file's bytes at the version listed: its current version looked up first (a file
//! changed since is refused, one gone is missing), then `GET /2.0/files/{id}/content`
//! pinned to that version, following Box's redirect to its download host (each hop
//! checked by the network guard) and streamed.

use std::time::Duration;

use serde::Deserialize;
use sluice_core::ports::{SourceBody, SourceError, SourceResult};

use super::list::{content_version, FileVersion};
use super::BoxSource;
use crate::http;

const MAX_INFO_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
struct Info {
    #[serde(default)]
    file_version: Option<FileVersion>,
    #[serde(default)]
    sha1: Option<String>,
}

impl BoxSource {
    pub(super) async fn read_file(
        &self,
        id: &str,
        version: &str,
        max_bytes: u64,
    ) -> SourceResult<SourceBody> {
        let listed = content_version(version);
        let what = format!("looking up Box file {id}");
        let mut url = self.api_url(&["files", id]);
        url.query_pairs_mut()
            .append_pair("fields", "file_version,sha1");
        let response = self.send(&what, |http| http.get(url.clone())).await?;
        if !response.status().is_success() {
            return Err(http::refusal("box", &what, response, super::errors::said).await);
        }
        let info: Info = http::json("box", &what, response, MAX_INFO_BYTES).await?;
        let pinned = info.file_version.map(|v| v.id);
        if pinned.as_deref().or(info.sha1.as_deref()) != Some(listed) {
            return Err(SourceError::Changed(format!(
                "Box file {id} has a new version since it was listed"
            )));
        }
        let what = format!("downloading Box file {id}");
        let mut url = self.api_url(&["files", id, "content"]);
        if let Some(v) = &pinned {
            url.query_pairs_mut().append_pair("version", v);
        }
        let response = self.send(&what, |http| http.get(url.clone())).await?;
        // Box answers 202 with Retry-After while a file is not ready to download yet.
        if response.status() == reqwest::StatusCode::ACCEPTED {
            return Err(SourceError::Throttled {
                message: format!("Box file {id} is not ready to download yet"),
                retry_after: http::retry_after(response.headers()).or(Some(Duration::from_secs(5))),
            });
        }
        if !response.status().is_success() {
            return Err(http::refusal("box", &what, response, super::errors::said).await);
        }
        http::streamed("box", &what, response, max_bytes)
    }
}
