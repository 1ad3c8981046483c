//! Extraction: what an extractor is given (an object and its fetched blobs) and what it
//! returns (documents' fields and vectors). `sluice-extract` implements the catalogue's
//! extractors behind [`ExtractorSet`].

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::blob::BlobStore;
use super::embed::Embedders;
use crate::domain::entities::{Blob, Object};
use crate::domain::extractors::ExtractorChoice;

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

/// Where a fetched blob's bytes are.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    Memory(Bytes),
    /// Streamed to a temporary file as it arrived; removed when the last clone drops.
    File(Arc<tempfile::TempPath>),
}

/// A blob's bytes and what they really are.
#[derive(Debug, Clone)]
pub struct FetchedBlob {
    pub blob: Blob,
    pub(crate) content: Content,
    pub size_bytes: u64,
    /// Sniffed from the bytes, not taken from the client.
    pub mime_type: String,
    pub sha256: String,
}

/// A file holding a blob's bytes, for tools that read files (ffmpeg, pdftoppm).
pub enum BlobFile {
    /// The temporary file the blob was streamed to.
    Streamed(Arc<tempfile::TempPath>),
    /// A new temporary file the in-memory bytes were written to.
    Written(tempfile::TempPath),
}

impl BlobFile {
    pub fn path(&self) -> &std::path::Path {
        match self {
            BlobFile::Streamed(p) => p,
            BlobFile::Written(p) => p,
        }
    }
}

impl FetchedBlob {
    /// The bytes, when the blob is held in memory: every blob but video and audio, which
    /// are streamed to a file (see [`fetch_blob`]).
    pub fn bytes(&self) -> Option<&Bytes> {
        match &self.content {
            Content::Memory(b) => Some(b),
            Content::File(_) => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        self.bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// A file with the bytes: the one the blob was streamed to, or a new one.
    pub async fn file(&self) -> Result<BlobFile, String> {
        match &self.content {
            Content::File(path) => Ok(BlobFile::Streamed(path.clone())),
            Content::Memory(bytes) => {
                let path = tempfile::NamedTempFile::new()
                    .map_err(|e| format!("temporary file: {e}"))?
                    .into_temp_path();
                tokio::fs::write(&path, bytes)
                    .await
                    .map_err(|e| format!("temporary file: {e}"))?;
                Ok(BlobFile::Written(path))
            }
        }
    }

    pub fn details(&self) -> Value {
        json!({
            "property": self.blob.property,
            "type": self.blob.blob_type,
            "blob_id": self.blob.blob_id,
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "url": self.blob.properties.get("url"),
            "filename": self.blob.details.filename,
        })
    }
}

/// An extractor's view of one object: its record and its fetched blobs.
pub struct ExtractInput<'a> {
    /// The models, for extractors that embed.
    pub embedders: &'a Embedders,
    /// Where extractors keep what they derive (thumbnails).
    pub blob_store: &'a dyn BlobStore,
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
