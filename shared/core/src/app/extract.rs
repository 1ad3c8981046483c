//! Feature extraction: the blob stage every extractor needs (fetch, sniff, hash), the
//! `Extractor` trait and the registry that maps a catalogue entry to its code.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::context::AppContext;
use crate::domain::entities::{Blob, Object};
use crate::domain::extractors::ExtractorChoice;
use crate::domain::sync::SyncedFile;
use crate::net::FetchError;
pub use crate::ports::{
    BlobFile, ExtractInput, Extracted, Extractor, ExtractorSet, FetchedBlob, NoExtractors,
    StageError,
};
use crate::ports::{Content, SourceBody};
use bytes::BytesMut;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

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

/// How many leading bytes decide whether a blob is media (file signatures are shorter).
const SNIFF_BYTES: usize = 8 * 1024;

/// The blob stage: the bytes of one blob, from the blob store, its source (a synced
/// file) or its URL. Video and audio are streamed to a temporary file as they arrive,
/// hashed on the way, so a large one is never held whole in memory; everything else is
/// decoded whole by its extractor and so is read into memory.
pub async fn fetch_blob(ctx: &AppContext, blob: &Blob) -> Result<FetchedBlob, StageError> {
    let max = ctx.config.max_fetch_bytes as u64;
    let body = if let Some(key) = blob.storage_key() {
        let bytes = ctx
            .blobs
            .get(key)
            .await
            .map_err(|e| StageError::new("blob", format!("stored blob {key:?} unreadable: {e}")))?
            .ok_or_else(|| StageError::new("blob", format!("stored blob {key:?} is missing")))?;
        SourceBody::whole(bytes)
    } else if let Some(file) = blob.properties.get("synced") {
        let file: SyncedFile = serde_json::from_value(file.clone())
            .map_err(|e| StageError::new("blob", format!("synced blob unreadable: {e}")))?;
        super::connections::read_file(ctx, &file)
            .await
            .map_err(|why| StageError::new("blob", why))?
    } else if let Some(url) = blob.properties.get("url").and_then(Value::as_str) {
        if url.starts_with("s3://") {
            return Err(StageError::new(
                "blob",
                "s3:// URLs are not fetched: sync the bucket (POST /v1/buckets/{id}/syncs), or register the object by upload or https URL",
            ));
        }
        let fetched = ctx
            .http
            .fetch(url, ctx.config.max_fetch_bytes)
            .await
            .map_err(|e| match e {
                FetchError::Refused(why) => StageError::new("blob", format!("URL refused: {why}")),
                FetchError::TooLarge(why) | FetchError::Failed(why) => {
                    StageError::new("blob", format!("fetching {url}: {why}"))
                }
            })?;
        SourceBody::whole(fetched.bytes)
    } else {
        return Err(StageError::new(
            "blob",
            "the blob has neither stored bytes nor a URL",
        ));
    };
    receive(blob, body, max).await
}

/// Reads a body: its leading bytes say whether it is media (then it goes to a file);
/// hashed and bounded by `max` as it arrives.
async fn receive(blob: &Blob, mut body: SourceBody, max: u64) -> Result<FetchedBlob, StageError> {
    let fail = |why: String| StageError::new("blob", format!("blob {:?}: {why}", blob.property));
    let too_large = || fail(format!("over SLUICE_MAX_FETCH_BYTES ({max} bytes)"));
    if body.size.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut next = async || -> Result<Option<Bytes>, StageError> {
        match body.chunks.next().await {
            None => Ok(None),
            Some(Err(e)) => Err(StageError::new("blob", e.to_string())),
            Some(Ok(chunk)) => Ok(Some(chunk)),
        }
    };
    let mut head = BytesMut::new();
    let mut ended = false;
    while head.len() < SNIFF_BYTES {
        match next().await? {
            Some(chunk) => head.extend_from_slice(&chunk),
            None => {
                ended = true;
                break;
            }
        }
    }
    let signature = infer::get(&head).map(|k| k.mime_type());
    let media = matches!(blob.blob_type.as_str(), "video" | "audio")
        || signature.is_some_and(|m| m.starts_with("video/") || m.starts_with("audio/"));
    let add = |chunk: &[u8], hasher: &mut Sha256, size: &mut u64| {
        hasher.update(chunk);
        *size += chunk.len() as u64;
        (*size <= max).then_some(()).ok_or_else(too_large)
    };
    if !media {
        add(&head, &mut hasher, &mut size)?;
        while !ended {
            match next().await? {
                Some(chunk) => {
                    add(&chunk, &mut hasher, &mut size)?;
                    head.extend_from_slice(&chunk);
                }
                None => ended = true,
            }
        }
        let bytes = head.freeze();
        let mime_type = sniff(&bytes);
        return finish(blob, Content::Memory(bytes), size, mime_type, hasher);
    }
    let mime_type = sniff(&head);
    let temp = |e: std::io::Error| fail(format!("temporary file: {e}"));
    let (file, path) = tempfile::NamedTempFile::new().map_err(temp)?.into_parts();
    let mut out = tokio::io::BufWriter::new(tokio::fs::File::from_std(file));
    add(&head, &mut hasher, &mut size)?;
    out.write_all(&head).await.map_err(temp)?;
    drop(head);
    while !ended {
        match next().await? {
            Some(chunk) => {
                add(&chunk, &mut hasher, &mut size)?;
                out.write_all(&chunk).await.map_err(temp)?;
            }
            None => ended = true,
        }
    }
    out.flush().await.map_err(temp)?;
    finish(blob, Content::File(Arc::new(path)), size, mime_type, hasher)
}

fn finish(
    blob: &Blob,
    content: Content,
    size_bytes: u64,
    mime_type: String,
    hasher: Sha256,
) -> Result<FetchedBlob, StageError> {
    if !fits(&blob.blob_type, &mime_type) {
        return Err(StageError::new(
            "blob",
            format!(
                "blob {:?} is declared {} but its content is {mime_type}",
                blob.property, blob.blob_type
            ),
        ));
    }
    Ok(FetchedBlob {
        blob: blob.clone(),
        content,
        size_bytes,
        mime_type,
        sha256: hex::encode(hasher.finalize()),
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

    fn blob(blob_type: &str) -> Blob {
        serde_json::from_value(json!({"blob_id": "b", "property": "p", "type": blob_type})).unwrap()
    }

    /// A body in `n` chunks of `chunk` bytes, of undeclared length.
    fn chunked(first: &'static [u8], n: usize, chunk: usize) -> SourceBody {
        let rest = (0..n).map(move |i| Ok(Bytes::from(vec![(i % 251) as u8; chunk])));
        let chunks =
            futures::stream::iter(std::iter::once(Ok(Bytes::from_static(first))).chain(rest));
        SourceBody {
            size: None,
            chunks: Box::pin(chunks),
        }
    }

    const MKV: &[u8] = b"\x1a\x45\xdf\xa3\x93\x42\x82\x88matroska";

    #[tokio::test]
    async fn video_is_streamed_to_a_file_hashed_on_the_way() {
        let fetched = receive(&blob("video"), chunked(MKV, 64, 64 * 1024), u64::MAX)
            .await
            .unwrap();
        assert!(
            fetched.bytes().is_none(),
            "video must not be held in memory"
        );
        assert_eq!(fetched.size_bytes, (MKV.len() + 64 * 64 * 1024) as u64);
        let file = fetched.file().await.unwrap();
        let on_disk = std::fs::read(file.path()).unwrap();
        assert_eq!(on_disk.len() as u64, fetched.size_bytes);
        assert_eq!(fetched.sha256, crate::domain::ids::sha256_hex(&on_disk));
        assert_eq!(fetched.mime_type, "video/x-matroska");
        let path = file.path().to_path_buf();
        drop((file, fetched));
        assert!(!path.exists(), "the temporary file outlived the blob");
    }

    #[tokio::test]
    async fn text_stays_in_memory_and_limits_hold_mid_stream() {
        let fetched = receive(
            &blob("text"),
            SourceBody::whole(Bytes::from_static(b"hello")),
            10,
        )
        .await
        .unwrap();
        assert_eq!(fetched.text(), Some("hello"));
        assert_eq!(fetched.sha256, crate::domain::ids::sha256_hex(b"hello"));
        // No declared length: the limit is enforced as bytes arrive, for both kinds.
        for kind in ["video", "binary"] {
            let err = receive(&blob(kind), chunked(MKV, 20, 1024), 8 * 1024)
                .await
                .unwrap_err();
            assert!(
                err.reason.contains("SLUICE_MAX_FETCH_BYTES"),
                "{kind}: {err:?}"
            );
        }
        let declared = SourceBody {
            size: Some(11),
            ..SourceBody::whole(Bytes::new())
        };
        assert!(receive(&blob("text"), declared, 10).await.is_err());
        // Declared video whose bytes are text: refused by what the bytes are.
        let err = receive(
            &blob("video"),
            SourceBody::whole(Bytes::from_static(b"plain")),
            10,
        )
        .await
        .unwrap_err();
        assert!(err.reason.contains("text/plain"), "{err:?}");
    }
}
