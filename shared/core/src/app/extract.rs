//! Feature extraction: the blob stage every extractor needs (fetch, sniff, hash), the
//! `Extractor` trait and the registry that maps a catalogue entry to its code.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::context::AppContext;
use crate::domain::entities::{Blob, Object};
use crate::domain::extractors::ExtractorChoice;
use crate::domain::ids::sha256_hex;
use crate::net::FetchError;

/// Why one object could not be processed, and at which stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StageError {
    pub stage: &'static str,
    pub reason: String,
}

impl StageError {
    pub fn new(stage: &'static str, reason: impl Into<String>) -> Self {
        StageError {
            stage,
            reason: reason.into(),
        }
    }
}

/// A blob's bytes and what they really are.
#[derive(Debug, Clone)]
pub struct FetchedBlob {
    pub blob: Blob,
    pub bytes: Bytes,
    /// Sniffed from the bytes, not taken from the client.
    pub mime_type: String,
    pub sha256: String,
}

impl FetchedBlob {
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes).ok()
    }

    pub fn details(&self) -> Value {
        json!({
            "property": self.blob.property,
            "type": self.blob.blob_type,
            "blob_id": self.blob.blob_id,
            "mime_type": self.mime_type,
            "size_bytes": self.bytes.len(),
            "sha256": self.sha256,
            "url": self.blob.properties.get("url"),
            "filename": self.blob.details.filename,
        })
    }
}

/// What a blob's bytes are, by their leading bytes; UTF-8 without a signature is text.
pub fn sniff(bytes: &[u8]) -> String {
    if let Some(kind) = infer::get(bytes) {
        return kind.mime_type().to_string();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let t = text.trim_start();
            if (t.starts_with('{') || t.starts_with('['))
                && serde_json::from_str::<Value>(t).is_ok()
            {
                "application/json".into()
            } else {
                "text/plain".into()
            }
        }
        Err(_) => "application/octet-stream".into(),
    }
}

/// Whether sniffed bytes can be the declared blob type.
fn fits(blob_type: &str, mime: &str) -> bool {
    let text_like = mime.starts_with("text/") || mime == "application/json";
    match blob_type {
        "image" => mime.starts_with("image/"),
        "video" => mime.starts_with("video/"),
        "audio" => mime.starts_with("audio/"),
        "pdf" => mime == "application/pdf",
        "text" | "string" => text_like,
        "json" | "object" | "array" => mime == "application/json" || text_like,
        _ => true,
    }
}

/// The blob stage: the bytes of one blob, from the blob store or its URL.
pub async fn fetch_blob(ctx: &AppContext, blob: &Blob) -> Result<FetchedBlob, StageError> {
    let bytes = if let Some(key) = blob.storage_key() {
        ctx.blobs
            .get(key)
            .await
            .map_err(|e| StageError::new("blob", format!("stored blob {key:?} unreadable: {e}")))?
            .ok_or_else(|| StageError::new("blob", format!("stored blob {key:?} is missing")))?
    } else if let Some(file) = blob.properties.get("synced") {
        let file: super::objects::SyncedFile = serde_json::from_value(file.clone())
            .map_err(|e| StageError::new("blob", format!("synced blob unreadable: {e}")))?;
        super::syncs::engine::read_synced(ctx, &file)
            .await
            .map_err(|why| StageError::new("blob", why))?
    } else if let Some(url) = blob.properties.get("url").and_then(Value::as_str) {
        if url.starts_with("s3://") {
            return Err(StageError::new(
                "blob",
                "s3:// URLs are not fetched: sync the bucket (POST /v1/buckets/{id}/syncs), or register the object by upload or https URL",
            ));
        }
        ctx.http
            .fetch(url, ctx.config.max_fetch_bytes)
            .await
            .map_err(|e| match e {
                FetchError::Refused(why) => StageError::new("blob", format!("URL refused: {why}")),
                FetchError::TooLarge(why) | FetchError::Failed(why) => {
                    StageError::new("blob", format!("fetching {url}: {why}"))
                }
            })?
            .bytes
    } else {
        return Err(StageError::new(
            "blob",
            "the blob has neither stored bytes nor a URL",
        ));
    };
    let mime_type = sniff(&bytes);
    if !fits(&blob.blob_type, &mime_type) {
        return Err(StageError::new(
            "blob",
            format!(
                "blob {:?} is declared {} but its content is {mime_type}",
                blob.property, blob.blob_type
            ),
        ));
    }
    let sha256 = sha256_hex(&bytes);
    Ok(FetchedBlob {
        blob: blob.clone(),
        bytes,
        mime_type,
        sha256,
    })
}

/// Runs the blob stage over every blob of an object.
pub async fn fetch_blobs(
    ctx: &AppContext,
    object: &Object,
) -> Result<Vec<FetchedBlob>, StageError> {
    let mut fetched = Vec::with_capacity(object.blobs.len());
    for blob in &object.blobs {
        fetched.push(fetch_blob(ctx, blob).await?);
    }
    Ok(fetched)
}

/// An extractor's view of one object: its record and its fetched blobs.
pub struct ExtractInput<'a> {
    pub ctx: &'a AppContext,
    /// The collection the output is for.
    pub collection_id: &'a str,
    pub object: &'a Object,
    pub blobs: &'a [FetchedBlob],
    pub params: Option<&'a Map<String, Value>>,
}

/// One document's worth of output: its fields, and its vector if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub fields: Map<String, Value>,
    pub embedding: Option<Vec<f32>>,
}

/// Turns one object into documents.
#[async_trait]
pub trait Extractor: Send + Sync {
    async fn extract(&self, input: &ExtractInput<'_>) -> Result<Vec<Extracted>, StageError>;

    /// Whether re-processing an object can yield fewer documents than before (then the
    /// extra old ones are removed).
    fn output_count_varies(&self) -> bool {
        false
    }
}

/// One document per object: its metadata, its text content and its blobs' details.
pub struct Passthrough;

#[async_trait]
impl Extractor for Passthrough {
    async fn extract(&self, input: &ExtractInput<'_>) -> Result<Vec<Extracted>, StageError> {
        let text: Vec<&str> = input
            .blobs
            .iter()
            .filter(|b| b.mime_type.starts_with("text/") || b.mime_type == "application/json")
            .filter_map(FetchedBlob::text)
            .collect();
        let mut fields = Map::new();
        fields.insert(
            "metadata".into(),
            Value::Object(input.object.metadata.clone()),
        );
        fields.insert(
            "text".into(),
            if text.is_empty() {
                Value::Null
            } else {
                Value::from(text.join("\n\n"))
            },
        );
        fields.insert(
            "blobs".into(),
            Value::Array(input.blobs.iter().map(FetchedBlob::details).collect()),
        );
        fields.insert("key_prefix".into(), json!(input.object.key_prefix));
        Ok(vec![Extracted {
            fields,
            embedding: None,
        }])
    }
}

/// Stands in for a catalogue extractor whose code has not shipped: it fails every
/// object with that reason rather than report a success it did not earn.
pub struct NotYetAvailable(pub String);

#[async_trait]
impl Extractor for NotYetAvailable {
    async fn extract(&self, _input: &ExtractInput<'_>) -> Result<Vec<Extracted>, StageError> {
        Err(StageError::new(
            "extract",
            format!("{} is not available on this server yet", self.0),
        ))
    }
}

/// The extractors a process can run beyond passthrough. `sluice-extract` provides
/// them (with its image, PDF and audio code); a process that runs no batch installs
/// [`NoExtractors`], so it does not link that code.
pub trait ExtractorSet: Send + Sync {
    /// The code behind a catalogue entry, if this set has it.
    fn get(&self, choice: &ExtractorChoice) -> Option<Arc<dyn Extractor>>;

    /// An image query in a form multimodal models take: its format and bytes.
    fn image_for_model(&self, bytes: &[u8]) -> Result<(String, Vec<u8>), String>;
}

/// The set of a process that runs no extractor but passthrough.
pub struct NoExtractors;

impl ExtractorSet for NoExtractors {
    fn get(&self, _choice: &ExtractorChoice) -> Option<Arc<dyn Extractor>> {
        None
    }
    fn image_for_model(&self, _bytes: &[u8]) -> Result<(String, Vec<u8>), String> {
        Err("this process decodes no images (only the batch worker, feature search and sluice-local do)".into())
    }
}

/// The code behind a catalogue entry.
pub fn registry(ctx: &AppContext, choice: &ExtractorChoice) -> Arc<dyn Extractor> {
    match (
        choice.feature_extractor_name.as_str(),
        choice.version.as_str(),
    ) {
        ("passthrough_extractor", "v1") => Arc::new(Passthrough),
        (name, version) => ctx
            .extractors
            .get(choice)
            .unwrap_or_else(|| Arc::new(NotYetAvailable(format!("{name} {version}")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_trusts_bytes_not_names() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff(b"hello"), "text/plain");
        assert_eq!(sniff(b" {\"a\": 1}"), "application/json");
        assert_eq!(sniff(&[0xff, 0xfe, 0x00, 0x81]), "application/octet-stream");
        assert!(fits("image", "image/png"));
        assert!(!fits("image", "text/plain"));
        assert!(fits("json", "application/json"));
        assert!(fits("binary", "application/octet-stream"));
    }
}
