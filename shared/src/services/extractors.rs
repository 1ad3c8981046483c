//! The model-backed extractors: `text_extractor` v1 (chunks + MiniLM embeddings) and
//! `multimodal_extractor` v1 (per blob type: text, JSON, PDF, images, audio, binary).
//!
//! Offline, images get model-free descriptors (size, EXIF, perceptual hash, dominant
//! colours, a thumbnail) and their *text* is embedded: a caption built from those
//! descriptors and the object's metadata. This puts images in the text space honestly,
//! without pretending to see them; true cross-modal vectors need a multimodal model.

use std::io::Cursor;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::audio;
use super::extract::{ExtractInput, Extracted, Extractor, FetchedBlob, StageError};
use crate::domain::chunking::{self, ChunkParams, SplitBy};
use crate::ports::Embedder;

const THUMBNAIL_EDGE: u32 = 256;

/// Text to chunk: the blob it came from, and its page for PDFs.
struct TextSource<'a> {
    blob: &'a FetchedBlob,
    text: String,
    page: Option<u32>,
}

/// The object's text blobs, with the property each came from.
fn texts(blobs: &[FetchedBlob]) -> Vec<TextSource<'_>> {
    blobs
        .iter()
        .filter_map(|b| {
            let text = match b.mime_type.as_str() {
                "application/json" => b
                    .text()
                    .and_then(|t| serde_json::from_str::<Value>(t).ok())
                    .map(|v| flatten_json(&v)),
                m if m.starts_with("text/") => b.text().map(str::to_string),
                _ => None,
            }?;
            Some(TextSource {
                blob: b,
                text,
                page: None,
            })
        })
        .collect()
}

/// The text of each page of a PDF, numbered from 1; a PDF without any text fails.
pub fn pdf_pages(bytes: &[u8]) -> Result<Vec<(u32, String)>, String> {
    let doc =
        lopdf::Document::load_mem(bytes).map_err(|e| format!("the PDF cannot be read: {e}"))?;
    if doc.is_encrypted() {
        return Err("the PDF is encrypted".into());
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err("the PDF has no pages".into());
    }
    let mut out = Vec::with_capacity(pages.len());
    for n in pages.keys() {
        let text = doc
            .extract_text(&[*n])
            .map_err(|e| format!("page {n}: {e}"))?;
        out.push((*n, text));
    }
    if out.iter().all(|(_, t)| t.trim().is_empty()) {
        return Err("the PDF has no text layer (scanned pages need OCR, which this server does not run yet)".into());
    }
    Ok(out)
}

/// JSON as `path: value` lines, so its words reach the text model.
pub fn flatten_json(v: &Value) -> String {
    fn walk(v: &Value, path: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                walk(
                    v,
                    &if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    },
                    out,
                )
            }),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, v)| walk(v, &format!("{path}[{i}]"), out)),
            Value::String(s) => out.push(format!("{path}: {s}")),
            Value::Null => {}
            other => out.push(format!("{path}: {other}")),
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out.join("\n")
}

fn chunk_params(params: Option<&Map<String, Value>>) -> Result<ChunkParams, StageError> {
    let mut p = ChunkParams::default();
    let Some(params) = params else { return Ok(p) };
    let bad = |why: String| StageError::new("extract", format!("params: {why}"));
    if let Some(v) = params.get("split_by").filter(|v| !v.is_null()) {
        let s = v.as_str().unwrap_or_default();
        p.split_by = Some(SplitBy::parse(s).ok_or_else(|| {
            bad(format!(
                "split_by {v} is not one of characters, words, sentences, paragraphs, none"
            ))
        })?);
    }
    let count = |name: &str, max: u64| -> Result<Option<usize>, StageError> {
        match params.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|n| *n <= max)
                .map(|n| Some(n as usize))
                .ok_or_else(|| bad(format!("{name} must be an integer from 0 to {max}"))),
        }
    };
    if let Some(n) = count("chunk_size", 10_000)? {
        p.chunk_size = n.max(1);
    }
    if let Some(n) = count("chunk_overlap", 5_000)? {
        p.chunk_overlap = n;
    }
    Ok(p)
}

fn embedder(input: &ExtractInput<'_>) -> Result<std::sync::Arc<dyn Embedder>, StageError> {
    input
        .ctx
        .embedders
        .text()
        .map_err(|e| StageError::new("embed", e.to_string()))
}

async fn embed(embedder: &dyn Embedder, texts: Vec<String>) -> Result<Vec<Vec<f32>>, StageError> {
    embedder
        .embed_texts(&texts)
        .await
        .map_err(|e| StageError::new("embed", e.to_string()))
}

/// Chunks of every text source, each with its embedding.
async fn text_documents(
    input: &ExtractInput<'_>,
    sources: Vec<TextSource<'_>>,
) -> Result<Vec<Extracted>, StageError> {
    let params = chunk_params(input.params)?;
    if sources.is_empty() {
        // Nothing to embed: an image- or audio-only object does not need the text pass.
        return Ok(Vec::new());
    }
    let model = embedder(input)?;
    // The model adds two special tokens to what it reads.
    let budget = model.max_tokens().saturating_sub(2);
    let count = |s: &str| model.count_tokens(s);
    let mut pending = Vec::new();
    for source in &sources {
        for c in chunking::chunk(&source.text, &params, budget, &count) {
            pending.push((source, c));
        }
    }
    let vectors = embed(
        model.as_ref(),
        pending.iter().map(|(_, c)| c.text.clone()).collect(),
    )
    .await?;
    Ok(pending
        .into_iter()
        .zip(vectors)
        .enumerate()
        .map(|(i, ((source, c), vector))| {
            let mut fields = base_fields(input, source.blob, "text");
            fields.insert("text".into(), json!(c.text));
            if let Some(page) = source.page {
                fields.insert("page_number".into(), json!(page));
            }
            fields.insert("chunk_index".into(), json!(i));
            fields.insert("start_char".into(), json!(c.start));
            fields.insert("end_char".into(), json!(c.end));
            fields.insert("token_count".into(), json!(c.tokens));
            if c.truncated {
                fields.insert("truncated".into(), json!(true));
            }
            fields.insert("embedding_model".into(), json!(model.model_id()));
            Extracted {
                fields,
                embedding: Some(vector),
            }
        })
        .collect())
}

/// Runs a CPU-bound decoder over a blob's bytes off the async threads; its error fails
/// the object at stage `extract`, naming the blob.
async fn decode<T: Send + 'static>(
    blob: &FetchedBlob,
    kind: &str,
    decoder: impl FnOnce(&[u8]) -> Result<T, String> + Send + 'static,
) -> Result<T, StageError> {
    let bytes = blob.bytes.clone();
    tokio::task::spawn_blocking(move || decoder(&bytes))
        .await
        .map_err(|e| StageError::new("extract", format!("{kind} task: {e}")))?
        .map_err(|why| {
            StageError::new(
                "extract",
                format!("{kind} blob {:?}: {why}", blob.blob.property),
            )
        })
}

fn base_fields(input: &ExtractInput<'_>, blob: &FetchedBlob, modality: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("modality".into(), json!(modality));
    fields.insert("source_blob".into(), blob.details());
    fields.insert(
        "metadata".into(),
        Value::Object(input.object.metadata.clone()),
    );
    fields
}

/// `text_extractor` v1: one document per chunk of the object's text (text and JSON blobs).
pub struct TextExtractor;

#[async_trait]
impl Extractor for TextExtractor {
    async fn extract(&self, input: &ExtractInput<'_>) -> Result<Vec<Extracted>, StageError> {
        let sources = texts(input.blobs);
        if sources.is_empty() {
            let kinds: Vec<&str> = input.blobs.iter().map(|b| b.mime_type.as_str()).collect();
            return Err(StageError::new(
                "extract",
                format!("text_extractor needs a text or JSON blob; this object has {kinds:?}"),
            ));
        }
        let docs = text_documents(input, sources).await?;
        if docs.is_empty() {
            return Err(StageError::new("extract", "the object's text is empty"));
        }
        Ok(docs)
    }

    fn output_count_varies(&self) -> bool {
        true
    }
}

/// What an image is, without a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFacts {
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub color_type: String,
    pub exif: Map<String, Value>,
    pub perceptual_hash: String,
    /// `(hex, share of pixels, name)`, most common first.
    pub dominant_colors: Vec<(String, f32, &'static str)>,
    pub thumbnail_jpeg: Vec<u8>,
    pub thumbnail_size: (u32, u32),
}

/// Decodes an image and describes it; a corrupt or unsupported file is an error.
pub fn describe_image(bytes: &[u8]) -> Result<ImageFacts, String> {
    let format = image::guess_format(bytes).map_err(|e| format!("unknown image format: {e}"))?;
    let img = image::load_from_memory_with_format(bytes, format)
        .map_err(|e| format!("the image cannot be decoded: {e}"))?;
    let hash = image_hasher::HasherConfig::new()
        .hash_alg(image_hasher::HashAlg::Mean)
        .preproc_dct()
        .to_hasher()
        .hash_image(&img);
    let small = img.thumbnail(64, 64).to_rgb8();
    let mut bins = vec![0u32; 512];
    for p in small.pixels() {
        let [r, g, b] = p.0;
        bins[((r as usize >> 5) << 6) | ((g as usize >> 5) << 3) | (b as usize >> 5)] += 1;
    }
    let total = small.pixels().len().max(1) as f32;
    let mut ranked: Vec<(usize, u32)> = bins.into_iter().enumerate().filter(|b| b.1 > 0).collect();
    ranked.sort_by_key(|b| std::cmp::Reverse(b.1));
    let dominant_colors = ranked
        .into_iter()
        .take(5)
        .map(|(bin, n)| {
            // The centre of the bin.
            let c = |shift: usize| (((bin >> shift) & 7) as u8) * 32 + 16;
            let rgb = [c(6), c(3), c(0)];
            (
                format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]),
                n as f32 / total,
                color_name(rgb),
            )
        })
        .collect();
    let mut thumbnail_jpeg = Vec::new();
    // Never scaled up: a small image is its own thumbnail.
    let thumb = if img.width() > THUMBNAIL_EDGE || img.height() > THUMBNAIL_EDGE {
        img.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE)
    } else {
        img.clone()
    };
    let thumbnail_size = (thumb.width(), thumb.height());
    thumb
        .to_rgb8()
        .write_to(
            &mut Cursor::new(&mut thumbnail_jpeg),
            image::ImageFormat::Jpeg,
        )
        .map_err(|e| format!("thumbnail: {e}"))?;
    Ok(ImageFacts {
        format: format!("{format:?}").to_lowercase(),
        width: img.width(),
        height: img.height(),
        color_type: format!("{:?}", img.color()),
        exif: exif_fields(bytes),
        perceptual_hash: hex::encode(hash.as_bytes()),
        dominant_colors,
        thumbnail_jpeg,
        thumbnail_size,
    })
}

/// The primary image's EXIF fields, by tag name (none if it has no EXIF).
fn exif_fields(bytes: &[u8]) -> Map<String, Value> {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return Map::new();
    };
    exif.fields()
        .filter(|f| f.ifd_num == exif::In::PRIMARY)
        .map(|f| {
            (
                f.tag.to_string(),
                json!(f.display_value().with_unit(&exif).to_string()),
            )
        })
        .collect()
}

/// The nearest of a few basic colour names, so colours are searchable words.
fn color_name(rgb: [u8; 3]) -> &'static str {
    const NAMES: [(&str, [u8; 3]); 12] = [
        ("black", [0, 0, 0]),
        ("white", [255, 255, 255]),
        ("gray", [128, 128, 128]),
        ("red", [220, 30, 30]),
        ("orange", [250, 140, 20]),
        ("yellow", [240, 220, 40]),
        ("green", [40, 170, 60]),
        ("cyan", [40, 200, 220]),
        ("blue", [30, 60, 220]),
        ("purple", [130, 50, 180]),
        ("pink", [240, 130, 180]),
        ("brown", [120, 75, 40]),
    ];
    let d = |a: [u8; 3], b: [u8; 3]| {
        (0..3)
            .map(|i| (a[i] as i32 - b[i] as i32).pow(2))
            .sum::<i32>()
    };
    NAMES
        .iter()
        .min_by_key(|(_, c)| d(rgb, *c))
        .map(|(n, _)| *n)
        .unwrap_or("gray")
}

/// The words an image document is embedded by: its descriptors and its object's metadata.
fn image_caption(facts: &ImageFacts, input: &ExtractInput<'_>, blob: &FetchedBlob) -> String {
    let mut colours: Vec<&str> = facts.dominant_colors.iter().map(|c| c.2).collect();
    colours.dedup();
    let orientation = match facts.width.cmp(&facts.height) {
        std::cmp::Ordering::Greater => "landscape",
        std::cmp::Ordering::Less => "portrait",
        std::cmp::Ordering::Equal => "square",
    };
    let mut parts = vec![format!(
        "{orientation} {} image, {}x{} pixels, colours {}",
        facts.format,
        facts.width,
        facts.height,
        colours.join(", ")
    )];
    if let Some(name) = &blob.blob.details.filename {
        parts.push(format!("file {name}"));
    }
    if !input.object.metadata.is_empty() {
        parts.push(flatten_json(&Value::Object(input.object.metadata.clone())));
    }
    parts.join(". ")
}

/// `multimodal_extractor` v1: every blob by what its bytes are.
pub struct MultimodalExtractor;

#[async_trait]
impl Extractor for MultimodalExtractor {
    async fn extract(&self, input: &ExtractInput<'_>) -> Result<Vec<Extracted>, StageError> {
        let mut sources = texts(input.blobs);
        for blob in input
            .blobs
            .iter()
            .filter(|b| b.mime_type == "application/pdf")
        {
            let pages = decode(blob, "pdf", pdf_pages).await?;
            sources.extend(pages.into_iter().map(|(page, text)| TextSource {
                blob,
                text,
                page: Some(page),
            }));
        }
        let mut out = text_documents(input, sources).await?;
        for blob in input.blobs {
            let mime = blob.mime_type.as_str();
            if mime.starts_with("text/") || mime == "application/json" || mime == "application/pdf"
            {
                continue;
            }
            if mime.starts_with("image/") {
                out.push(image_document(input, blob, out.len()).await?);
            } else if mime.starts_with("audio/") {
                out.extend(audio_documents(input, blob).await?);
            } else if mime.starts_with("video/") {
                return Err(StageError::new(
                    "extract",
                    format!(
                        "{} blob {:?}: {mime} is not processed by this server yet",
                        blob.blob.blob_type, blob.blob.property
                    ),
                ));
            } else {
                // Binary: what is known about the blob, nothing to embed.
                let mut fields = base_fields(input, blob, "binary");
                fields.insert("text".into(), Value::Null);
                out.push(Extracted {
                    fields,
                    embedding: None,
                });
            }
        }
        if out.is_empty() {
            return Err(StageError::new(
                "extract",
                "the object has no content to extract",
            ));
        }
        Ok(out)
    }

    fn output_count_varies(&self) -> bool {
        true
    }
}

async fn image_document(
    input: &ExtractInput<'_>,
    blob: &FetchedBlob,
    position: usize,
) -> Result<Extracted, StageError> {
    let facts = decode(blob, "image", describe_image).await?;
    let thumbnail_key = format!(
        "{}/{}/objects/{}/thumbnails/{}-{position}.jpg",
        input.object.namespace_id,
        input.object.bucket_id,
        input.object.object_id,
        input.collection_id
    );
    input
        .ctx
        .blobs
        .put(
            &thumbnail_key,
            Bytes::from(facts.thumbnail_jpeg.clone()),
            Some("image/jpeg"),
        )
        .await
        .map_err(|e| StageError::new("extract", format!("storing the thumbnail: {e}")))?;
    let run_ocr = input
        .params
        .and_then(|p| p.get("run_ocr"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let ocr_text = if run_ocr {
        Some(ocr(&blob.bytes).await.map_err(|why| {
            StageError::new(
                "extract",
                format!("OCR of image blob {:?}: {why}", blob.blob.property),
            )
        })?)
    } else {
        None
    };
    let mut caption = image_caption(&facts, input, blob);
    if let Some(text) = ocr_text.as_deref().filter(|t| !t.is_empty()) {
        // What the image says comes first: it is what a query is most likely to match.
        caption = format!("{text}. {caption}");
    }
    let model = embedder(input)?;
    let vector = embed(model.as_ref(), vec![caption.clone()])
        .await?
        .pop()
        .ok_or_else(|| StageError::new("embed", "the model returned no vector"))?;
    let mut fields = base_fields(input, blob, "image");
    fields.insert("text".into(), json!(caption));
    fields.insert(
        "image".into(),
        json!({
            "format": facts.format,
            "width": facts.width,
            "height": facts.height,
            "color_type": facts.color_type,
            "perceptual_hash": facts.perceptual_hash,
            "dominant_colors": facts.dominant_colors.iter().map(|(hex, share, name)| json!({"hex": hex, "share": share, "name": name})).collect::<Vec<_>>(),
            "exif": facts.exif,
        }),
    );
    fields.insert(
        "thumbnail".into(),
        json!({"storage_key": thumbnail_key, "content_type": "image/jpeg", "width": facts.thumbnail_size.0, "height": facts.thumbnail_size.1}),
    );
    if let Some(text) = ocr_text {
        fields.insert("ocr_text".into(), json!(text));
    }
    fields.insert("embedding_model".into(), json!(model.model_id()));
    fields.insert("embedding_input".into(), json!("caption"));
    Ok(Extracted {
        fields,
        embedding: Some(vector),
    })
}

/// Longest an OCR run may take.
const OCR_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The text in an image, read by tesseract (Debian's `tesseract-ocr`), whitespace-folded.
async fn ocr(image: &[u8]) -> Result<String, String> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("tesseract")
        .args(["stdin", "stdout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                "run_ocr needs tesseract, which is not installed here (Debian: apt-get install tesseract-ocr)".to_string()
            }
            _ => format!("tesseract did not start: {e}"),
        })?;
    let mut stdin = child.stdin.take().ok_or("tesseract has no stdin")?;
    let bytes = image.to_vec();
    // Written beside the wait, so a large image cannot deadlock on a full pipe.
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&bytes).await;
    });
    let out = tokio::time::timeout(OCR_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("tesseract took longer than {} s", OCR_TIMEOUT.as_secs()))?
        .map_err(|e| format!("tesseract failed: {e}"))?;
    let _ = writer.await;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("tesseract failed: {}", err.trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" "))
}

/// One document per stretch of sound (or one for a silent file), each embedded by a
/// caption of what is known about it.
async fn audio_documents(
    input: &ExtractInput<'_>,
    blob: &FetchedBlob,
) -> Result<Vec<Extracted>, StageError> {
    let param = |name: &str| {
        input
            .params
            .and_then(|p| p.get(name))
            .and_then(Value::as_f64)
    };
    let silence_db = param("silence_db_threshold").unwrap_or(audio::DEFAULT_SILENCE_DB);
    let max_segment = param("max_segment_duration")
        .filter(|s| *s > 0.0)
        .unwrap_or(30.0);
    let facts = decode(blob, "audio", move |b| {
        audio::describe_audio(b, silence_db, max_segment)
    })
    .await?;
    let layout = match facts.channels {
        1 => "mono".to_string(),
        2 => "stereo".to_string(),
        n => format!("{n}-channel"),
    };
    let mut about = vec![format!(
        "{layout} audio recording, {:.1} seconds, {} Hz",
        facts.duration_secs, facts.sample_rate
    )];
    if let Some(name) = &blob.blob.details.filename {
        about.push(format!("file {name}"));
    }
    if !input.object.metadata.is_empty() {
        about.push(flatten_json(&Value::Object(input.object.metadata.clone())));
    }
    let spans: Vec<Option<(f64, f64, f64)>> = if facts.segments.is_empty() {
        vec![None]
    } else {
        facts.segments.iter().copied().map(Some).collect()
    };
    let captions: Vec<String> = spans
        .iter()
        .enumerate()
        .map(|(i, span)| match span {
            Some((start, end, _)) => format!(
                "{}. Sound from {start:.1} s to {end:.1} s, segment {} of {}",
                about.join(". "),
                i + 1,
                spans.len()
            ),
            None => format!("{}. Silent throughout", about.join(". ")),
        })
        .collect();
    let model = embedder(input)?;
    let vectors = embed(model.as_ref(), captions.clone()).await?;
    Ok(spans
        .into_iter()
        .zip(captions)
        .zip(vectors)
        .map(|((span, caption), vector)| {
            let mut fields = base_fields(input, blob, "audio");
            fields.insert("text".into(), json!(caption));
            fields.insert(
                "audio".into(),
                json!({
                    "duration_seconds": facts.duration_secs,
                    "sample_rate": facts.sample_rate,
                    "channels": facts.channels,
                    "loudness_dbfs": facts.loudness_db,
                    "peak_dbfs": facts.peak_db,
                    "silence_threshold_dbfs": silence_db,
                }),
            );
            fields.insert(
                "segment".into(),
                match span {
                    Some((start, end, loudness)) => {
                        json!({"start_time": start, "end_time": end, "loudness_dbfs": loudness})
                    }
                    None => {
                        json!({"start_time": 0.0, "end_time": facts.duration_secs, "silent": true})
                    }
                },
            );
            fields.insert("embedding_model".into(), json!(model.model_id()));
            fields.insert("embedding_input".into(), json!("caption"));
            Extracted {
                fields,
                embedding: Some(vector),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn images_are_described_without_a_model() {
        let f = describe_image(&png(40, 20, [230, 20, 20])).unwrap();
        assert_eq!((f.format.as_str(), f.width, f.height), ("png", 40, 20));
        assert_eq!(f.dominant_colors[0].2, "red");
        assert!((f.dominant_colors[0].1 - 1.0).abs() < 1e-6);
        assert!(!f.perceptual_hash.is_empty());
        let thumb = image::load_from_memory(&f.thumbnail_jpeg).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (40, 20));
        let mut broken = png(8, 8, [0, 0, 255]);
        broken.truncate(40);
        assert!(describe_image(&broken).is_err());
    }

    #[test]
    fn json_is_flattened_to_lines() {
        let v = json!({"title": "Red kite", "tags": ["bird", "raptor"], "n": 2, "x": null});
        assert_eq!(
            flatten_json(&v),
            "n: 2\ntags[0]: bird\ntags[1]: raptor\ntitle: Red kite"
        );
    }
}
