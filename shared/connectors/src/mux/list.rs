//! `GET /video/v1/assets`: a page of assets, newest first, with a cursor. An asset
//! becomes a file named `{asset_id}.mp4`.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::Digest;
use sluice_core::ports::{
    SourceEntry, SourceError, SourcePage, SourceResult, MAX_CONTINUATION_BYTES,
};

use super::{errors, MuxSource};
use crate::http;

/// Mux answers at most 100 assets a page.
const MAX_LIMIT: usize = 100;
const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    data: Vec<Asset>,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Asset {
    pub(super) id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    aspect_ratio: Option<String>,
    #[serde(default)]
    passthrough: Option<String>,
    #[serde(default)]
    playback_ids: Vec<PlaybackId>,
    #[serde(default)]
    static_renditions: Option<Renditions>,
}

#[derive(Deserialize)]
struct PlaybackId {
    id: String,
    #[serde(default)]
    policy: String,
}

#[derive(Deserialize, Default)]
struct Renditions {
    #[serde(default)]
    files: Vec<Rendition>,
}

#[derive(Deserialize)]
struct Rendition {
    name: String,
    #[serde(default)]
    ext: String,
    #[serde(default)]
    status: String,
    /// Mux sends sizes as strings.
    #[serde(default)]
    filesize: Option<String>,
}

/// Where a ready asset's MP4 is read, or why it cannot be.
pub(super) struct Readable {
    pub(super) playback_id: String,
    pub(super) rendition: String,
}

impl Asset {
    pub(super) fn key(&self) -> String {
        format!("{}.mp4", self.id)
    }

    /// The largest ready MP4 static rendition, preferring `highest.mp4`.
    fn mp4(&self) -> Option<&Rendition> {
        let files = self
            .static_renditions
            .as_ref()
            .map(|r| r.files.as_slice())
            .unwrap_or(&[]);
        let ready = files
            .iter()
            .filter(|f| f.status == "ready" && f.ext == "mp4");
        ready.max_by_key(|f| {
            (
                f.name == "highest.mp4",
                f.filesize.as_deref().and_then(|s| s.parse::<u64>().ok()),
            )
        })
    }

    pub(super) fn readable(&self) -> Result<Readable, String> {
        let rendition = self.mp4().ok_or_else(|| {
            format!("Mux asset {} has no ready MP4 static rendition: enable static renditions (\"highest\") on it in Mux", self.id)
        })?;
        let playback = self.playback_ids.iter().find(|p| p.policy == "public").ok_or_else(|| {
            format!("Mux asset {} has no public playback id: signed and DRM playback cannot be read by a sync", self.id)
        })?;
        Ok(Readable {
            playback_id: playback.id.clone(),
            rendition: rendition.name.clone(),
        })
    }

    /// The version a manifest compares: the rendition read, its size, and the fields
    /// that become metadata (a new passthrough is a change).
    pub(super) fn version(&self) -> String {
        let rendition = self.mp4().map(|r| (r.name.as_str(), r.filesize.as_deref()));
        let text = json!([
            rendition,
            self.passthrough,
            self.duration,
            self.aspect_ratio
        ])
        .to_string();
        hex::encode(&sha2::Sha256::digest(text.as_bytes())[..8])
    }

    fn metadata(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("mux_asset_id".into(), json!(self.id));
        if let Some(d) = self.duration {
            m.insert("duration".into(), json!(d));
        }
        if let Some(a) = &self.aspect_ratio {
            m.insert("aspect_ratio".into(), json!(a));
        }
        if let Some(p) = &self.passthrough {
            m.insert("passthrough".into(), json!(p));
        }
        m
    }

    fn entry(&self) -> SourceEntry {
        SourceEntry {
            key: self.key(),
            size: self
                .mp4()
                .and_then(|r| r.filesize.as_deref()?.parse().ok())
                .unwrap_or(0),
            etag: self.version(),
            last_modified: self.created_at.as_deref().and_then(rfc3339),
            metadata: Some(self.metadata()),
            unreadable: self.readable().err(),
            ..Default::default()
        }
    }
}

/// Unix seconds (as Mux sends them, a string) as RFC 3339.
fn rfc3339(seconds: &str) -> Option<String> {
    let at = time::OffsetDateTime::from_unix_timestamp(seconds.parse().ok()?).ok()?;
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

impl MuxSource {
    pub(super) async fn list_page(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> SourceResult<SourcePage> {
        let what = "listing Mux assets";
        let mut url = self.assets_url(None);
        url.query_pairs_mut()
            .append_pair("limit", &limit.clamp(1, MAX_LIMIT).to_string());
        if let Some(c) = cursor {
            url.query_pairs_mut().append_pair("cursor", c);
        }
        let response = http::send("mux", what, self.token.sign(self.http.get(url))).await?;
        if !response.status().is_success() {
            return Err(http::refusal("mux", what, response, errors::said).await);
        }
        let listing: Listing = http::json("mux", what, response, MAX_PAGE_BYTES).await?;
        let next = match listing.next_cursor.filter(|c| !c.is_empty()) {
            Some(c) if c.len() > MAX_CONTINUATION_BYTES => {
                return Err(SourceError::Invalid(format!(
                    "mux sent a cursor of {} bytes; this server takes at most {MAX_CONTINUATION_BYTES}",
                    c.len()
                )))
            }
            next => next,
        };
        // Assets still preparing (or errored) are not files yet: a later run takes them.
        let entries = listing
            .data
            .iter()
            .filter(|a| a.status == "ready")
            .map(Asset::entry)
            .collect();
        Ok(SourcePage {
            entries,
            next,
            ..Default::default()
        })
    }
}
