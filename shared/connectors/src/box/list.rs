//! `GET /2.0/folders/{id}/items`: one folder's items a page at a time (marker pages).
//! Files become entries keyed by their id (stable across renames and moves) with their
//! path beside it. A page walks the folders its token names and those it finds while it
//! has room; what is left goes in the next token as far as it fits, and the rest is
//! deferred to the run's frontier, so no token has to hold a wide tree.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map};
use sha2::Digest;
use sluice_core::ports::{SourceEntry, SourceError, SourcePage, SourceResult};

use super::BoxSource;
use crate::http;

/// Box answers at most 1000 items a page.
const MAX_LIMIT: usize = 1000;
const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;
/// Box calls one page may make (folders of web links, or of nothing under the prefix,
/// are walked through rather than answered as empty pages).
const MAX_CALLS: usize = 50;
/// Only what a sync needs of each item.
const FIELDS: &str = "type,id,name,size,sha1,file_version,modified_at,content_modified_at";

/// Where a listing stands: a folder, its path under the synced folder, and the marker of
/// its next page (none: its first).
#[derive(Serialize, Deserialize)]
pub(super) struct At {
    #[serde(rename = "f")]
    folder: String,
    #[serde(rename = "p")]
    path: String,
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
}

/// The most of a token's folders: a token names as many folders to walk as fit (so a
/// page taken from the frontier walks on while it has room), well under the engine's
/// continuation limit.
const TOKEN_BYTES: usize = 2048;

/// `folders` as tokens of at most [`TOKEN_BYTES`] each (a folder whose own path is
/// longer makes a token of its own), in order.
fn tokens(folders: impl IntoIterator<Item = At>) -> Vec<String> {
    let (mut out, mut batch, mut bytes) = (Vec::new(), Vec::new(), 0);
    for at in folders {
        let size = serde_json::to_string(&at).map_or(0, |t| t.len() + 1);
        if !batch.is_empty() && bytes + size > TOKEN_BYTES {
            out.push(serde_json::to_string(&batch).unwrap_or_default());
            (batch, bytes) = (Vec::new(), 0);
        }
        bytes += size;
        batch.push(at);
    }
    if !batch.is_empty() {
        out.push(serde_json::to_string(&batch).unwrap_or_default());
    }
    out
}

#[derive(Deserialize)]
struct Items {
    #[serde(default)]
    entries: Vec<Item>,
    #[serde(default)]
    next_marker: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    sha1: Option<String>,
    #[serde(default)]
    file_version: Option<FileVersion>,
    #[serde(default)]
    modified_at: Option<String>,
    #[serde(default)]
    content_modified_at: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct FileVersion {
    pub(super) id: String,
}

/// A file's version as listed: its content version and its path, so a rename or a move
/// is a change (of the same object). The content version comes first, for the read.
pub(super) fn version(file_version: &str, path: &str) -> String {
    let digest = sha2::Sha256::digest(path.as_bytes());
    format!("{file_version}.{}", hex::encode(&digest[..6]))
}

/// The content version a listed version names.
pub(super) fn content_version(version: &str) -> &str {
    version.rsplit_once('.').map_or(version, |(v, _)| v)
}

impl Item {
    fn entry(&self, path: String) -> SourceEntry {
        let content = self
            .file_version
            .as_ref()
            .map(|v| v.id.clone())
            .or_else(|| self.sha1.clone())
            .unwrap_or_default();
        let mut metadata = Map::new();
        metadata.insert("box_file_id".into(), json!(self.id));
        SourceEntry {
            key: self.id.clone(),
            etag: version(&content, &path),
            size: self.size.unwrap_or(0),
            last_modified: self
                .content_modified_at
                .clone()
                .or_else(|| self.modified_at.clone()),
            path: Some(path),
            metadata: Some(metadata),
            ..Default::default()
        }
    }
}

/// Whether a folder at `path` (ending in `/`) can hold files under `prefix`.
fn leads_to(path: &str, prefix: &str) -> bool {
    path.starts_with(prefix) || prefix.starts_with(path)
}

impl BoxSource {
    /// Up to `limit` files: the folders the token names (a folder the page before left
    /// half done first), then the subfolders found on the way while the page has room,
    /// breadth first. What is left goes on in the next token and, past what a token
    /// holds, in listings deferred to the run's frontier.
    pub(super) async fn list_page(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> SourceResult<SourcePage> {
        let mut queue: VecDeque<At> = match token {
            Some(t) => serde_json::from_str(t)
                .map_err(|_| SourceError::Invalid("not a Box listing token".into()))?,
            None => VecDeque::from([At {
                folder: self.folder.clone(),
                path: String::new(),
                marker: None,
            }]),
        };
        let mut page = SourcePage::default();
        let mut calls = 0;
        while let Some(mut at) = queue.pop_front() {
            let room = limit.saturating_sub(page.entries.len());
            if room == 0 || calls == MAX_CALLS {
                queue.push_front(at);
                break;
            }
            let items = self.items(&at, room).await?;
            calls += 1;
            for item in &items.entries {
                let path = format!("{}{}", at.path, item.name);
                match item.kind.as_str() {
                    "file" if path.starts_with(prefix) => page.entries.push(item.entry(path)),
                    "folder" if leads_to(&format!("{path}/"), prefix) => queue.push_back(At {
                        folder: item.id.clone(),
                        path: format!("{path}/"),
                        marker: None,
                    }),
                    _ => {} // a web link, or outside the prefix
                }
            }
            at.marker = items.next_marker.filter(|m| !m.is_empty());
            if at.marker.is_some() {
                // The folder goes on, before the ones queued after it.
                queue.push_front(at);
            }
        }
        let mut left = tokens(queue).into_iter();
        page.next = left.next();
        page.deferred = left.collect();
        Ok(page)
    }

    async fn items(&self, at: &At, limit: usize) -> SourceResult<Items> {
        let what = format!("listing Box folder {}", at.folder);
        let mut url = self.api_url(&["folders", &at.folder, "items"]);
        url.query_pairs_mut()
            .append_pair("fields", FIELDS)
            .append_pair("usemarker", "true")
            .append_pair("limit", &limit.clamp(1, MAX_LIMIT).to_string());
        if let Some(m) = &at.marker {
            url.query_pairs_mut().append_pair("marker", m);
        }
        let response = self.send(&what, |http| http.get(url.clone())).await?;
        if !response.status().is_success() {
            return Err(http::refusal("box", &what, response, super::errors::said).await);
        }
        http::json("box", &what, response, MAX_PAGE_BYTES).await
    }
}
