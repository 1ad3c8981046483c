//! An asset's MP4 static rendition, read from Mux's media host once the asset, looked up
//! again, is still the version listed.

use sluice_core::ports::{SourceBody, SourceError, SourceResult};

use super::list::Asset;
use super::{errors, MuxSource};
use crate::http;

const MAX_ASSET_BYTES: usize = 1024 * 1024;

#[derive(serde::Deserialize)]
struct One {
    data: Asset,
}

impl MuxSource {
    pub(super) async fn read_asset(
        &self,
        key: &str,
        version: &str,
        max_bytes: u64,
    ) -> SourceResult<SourceBody> {
        let id = key.strip_suffix(".mp4").unwrap_or(key);
        let what = format!("looking up Mux asset {id}");
        let response = http::send(
            "mux",
            &what,
            self.token.sign(self.http.get(self.assets_url(Some(id)))),
        )
        .await?;
        if !response.status().is_success() {
            return Err(http::refusal("mux", &what, response, errors::said).await);
        }
        let asset = http::json::<One>("mux", &what, response, MAX_ASSET_BYTES)
            .await?
            .data;
        if asset.version() != version {
            return Err(SourceError::Changed(format!(
                "Mux asset {id} changed since it was listed"
            )));
        }
        let readable = asset.readable().map_err(SourceError::Invalid)?;
        let mut url = self.stream.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend([readable.playback_id.as_str(), readable.rendition.as_str()]);
        }
        let what = format!("reading Mux asset {id}'s {}", readable.rendition);
        let response = http::send("mux", &what, self.http.get(url)).await?;
        if !response.status().is_success() {
            return Err(http::refusal("mux", &what, response, |b| {
                crate::errors::excerpt(&String::from_utf8_lossy(b))
            })
            .await);
        }
        http::streamed("mux", &what, response, max_bytes)
    }
}
