//! Documents out of a collection: streamed as JSON Lines into shards in the blob store,
//! one shard in memory at a time.

use std::time::Duration;

use bytes::Bytes;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::app::documents::Document;
use crate::app::lists::{Filter, ListRequest};
use crate::app::views::{record, DocumentView};
use crate::app::{from_item, keys};
use crate::context::AppContext;
use crate::domain::collection::Collection;
use crate::domain::ids::IdKind;
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::store::index;

/// Documents per export shard unless asked otherwise, and the most bytes a shard holds.
const SHARD_DOCUMENTS: usize = 10_000;
const SHARD_BYTES: usize = 16 * 1024 * 1024;
/// How long export download URLs last.
const EXPORT_URL_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Export {
    /// `json` (JSON Lines, the default); other formats are refused.
    pub format: Option<String>,
    pub include_vectors: Option<bool>,
    /// Provenance fields (`source_object_id`, `batch_id`, …) in each line (default true).
    pub include_lineage: Option<bool>,
    pub select_fields: Option<Vec<String>>,
    pub filters: Option<Value>,
    /// At most this many documents (1 to 1 000 000).
    pub sample_size: Option<i64>,
    pub include_media: Option<bool>,
    /// Documents per shard (1 to 100 000; 10 000 by default).
    pub samples_per_shard: Option<i64>,
    pub destination: Option<Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExportShard {
    pub filename: String,
    pub s3_path: String,
    pub download_url: String,
    pub sample_count: usize,
    pub file_size_bytes: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Exported {
    /// The one shard's URL, or with several the manifest's (a JSON list of the shards).
    pub download_url: String,
    pub s3_path: String,
    pub format: String,
    pub document_count: usize,
    pub file_size_bytes: usize,
    pub exported_at: String,
    pub shard_count: usize,
    pub shard_pattern: String,
    pub shards: Vec<ExportShard>,
}

impl Export {
    fn check(&self) -> Result<(usize, usize), Error> {
        if self.format.as_deref().is_some_and(|f| f != "json") {
            return Err(Error::field("format", "Sluice exports JSON Lines: `json`"));
        }
        for (field, asked) in [
            ("include_vectors", self.include_vectors == Some(true)),
            ("include_media", self.include_media == Some(true)),
            (
                "destination",
                self.destination.as_ref().is_some_and(|d| !d.is_null()),
            ),
        ] {
            if asked {
                return Err(Error::field(
                    field,
                    "exports carry documents only, into Sluice's blob store (vectors stay in the index)",
                ));
            }
        }
        let sample = match self.sample_size {
            None => usize::MAX,
            Some(n @ 1..=1_000_000) => n as usize,
            Some(_) => return Err(Error::field("sample_size", "must be 1 to 1000000")),
        };
        let per_shard = match self.samples_per_shard {
            None => SHARD_DOCUMENTS,
            Some(n @ 1..=100_000) => n as usize,
            Some(_) => return Err(Error::field("samples_per_shard", "must be 1 to 100000")),
        };
        Ok((sample, per_shard))
    }
}

/// The line of one document: its view, provenance dropped unless asked for, projected.
fn line(d: &Document, req: &Export, select: &ListRequest) -> Result<Value, Error> {
    let mut v = record(&DocumentView::from(d))?;
    if req.include_lineage == Some(false) {
        if let Some(m) = v.as_object_mut() {
            for k in [
                "source_object_id",
                "root_object_id",
                "source_bucket_id",
                "batch_id",
            ] {
                m.remove(k);
            }
        }
    }
    Ok(select.project(vec![v]).remove(0))
}

struct Shards<'a> {
    ctx: &'a AppContext,
    prefix: String,
    buffer: Vec<u8>,
    count: usize,
    done: Vec<ExportShard>,
}

impl Shards<'_> {
    async fn flush(&mut self) -> Result<(), Error> {
        if self.count == 0 {
            return Ok(());
        }
        let filename = format!("part-{:05}.jsonl", self.done.len());
        let key = format!("{}{filename}", self.prefix);
        let size = self.buffer.len();
        let bytes = Bytes::from(std::mem::take(&mut self.buffer));
        self.ctx
            .blobs
            .put(&key, bytes, Some("application/x-ndjson"))
            .await?;
        let url = self.ctx.blobs.presign_get(&key, EXPORT_URL_TTL).await?;
        self.done.push(ExportShard {
            filename,
            s3_path: key,
            download_url: url,
            sample_count: std::mem::take(&mut self.count),
            file_size_bytes: size,
        });
        Ok(())
    }
}

/// The documents the caller's key may read (ACLs, soft deletes), as JSON Lines shards.
pub async fn export(
    ctx: &AppContext,
    c: &Collection,
    req: Export,
    reader: Option<&str>,
) -> Result<Exported, Error> {
    let (sample, per_shard) = req.check()?;
    let filter = Filter::optional(req.filters.as_ref())?;
    let select = ListRequest {
        select: req.select_fields.clone(),
        ..ListRequest::default()
    };
    let export_id = IdKind::Export.new_id();
    let mut shards = Shards {
        ctx,
        prefix: keys::export_prefix(&c.namespace_id, &c.collection_id, &export_id),
        buffer: Vec::new(),
        count: 0,
        done: Vec::new(),
    };
    let mut written = 0;
    let mut query = index::collection_documents(&c.collection_id).limit(200);
    'pages: loop {
        let page = ctx.table.query(&query).await?;
        for item in page.items {
            let d: Document = from_item(item)?;
            if !d.may_read(reader) {
                continue;
            }
            let view = record(&DocumentView::from(&d))?;
            if filter.as_ref().is_some_and(|f| !f.matches(&view)) {
                continue;
            }
            serde_json::to_writer(&mut shards.buffer, &line(&d, &req, &select)?)
                .map_err(|e| Error::Internal(e.into()))?;
            shards.buffer.push(b'\n');
            shards.count += 1;
            written += 1;
            if shards.count >= per_shard || shards.buffer.len() >= SHARD_BYTES {
                shards.flush().await?;
            }
            if written >= sample {
                break 'pages;
            }
        }
        match page.cursor {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    shards.flush().await?;
    finish(ctx, shards, written).await
}

/// The export's answer: its one shard, or a manifest of them all.
async fn finish(ctx: &AppContext, shards: Shards<'_>, written: usize) -> Result<Exported, Error> {
    let size = shards.done.iter().map(|s| s.file_size_bytes).sum();
    let (url, path) = match shards.done.as_slice() {
        [one] => (one.download_url.clone(), one.s3_path.clone()),
        many => {
            let key = format!("{}manifest.json", shards.prefix);
            let listed: Vec<Value> = many
                .iter()
                .map(|s| json!({"filename": s.filename, "s3_path": s.s3_path, "sample_count": s.sample_count}))
                .collect();
            let body = serde_json::to_vec(&json!({"format": "json", "shards": listed}))
                .map_err(|e| Error::Internal(e.into()))?;
            ctx.blobs
                .put(&key, Bytes::from(body), Some("application/json"))
                .await?;
            (ctx.blobs.presign_get(&key, EXPORT_URL_TTL).await?, key)
        }
    };
    Ok(Exported {
        download_url: url,
        s3_path: path,
        format: "json".into(),
        document_count: written,
        file_size_bytes: size,
        exported_at: now_rfc3339(),
        shard_count: shards.done.len(),
        shard_pattern: format!("{}part-{{n:05}}.jsonl", shards.prefix),
        shards: shards.done,
    })
}
