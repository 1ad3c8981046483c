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

use crate::audio;
use crate::tools::{self, ClipKind};
use sluice_core::app::extract::{ExtractInput, Extracted, Extractor, FetchedBlob, StageError};
use sluice_core::domain::chunking;
use sluice_core::domain::extractors::ExtractorParams;
use sluice_core::ports::{Embedder, EmbeddingSpec, Media, MediaKind};

const THUMBNAIL_EDGE: u32 = 256;

/// Text to chunk: the blob it came from, and its page for PDFs.
struct TextSource<'a> {
    blob: &'a FetchedBlob,
    text: String,
    page: Option<u32>,
    /// Read from the page's pixels by OCR (a scanned page has no text layer).
    ocr: bool,
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
                ocr: false,
            })
        })
        .collect()
}

/// The text layer of each page of a PDF, numbered from 1 (empty for a scanned page).
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
    Ok(out)
}

/// Every text an object's blobs hold: text and JSON blobs, and PDF pages.
async fn text_sources(blobs: &[FetchedBlob]) -> Result<Vec<TextSource<'_>>, StageError> {
    let mut sources = texts(blobs);
    sources.extend(pdf_sources(blobs).await?);
    Ok(sources)
}

/// Resolution scanned pages are rendered at for OCR.
const OCR_DPI: u32 = 200;

/// The text of every PDF blob's pages; pages without a text layer are rendered
/// (pdftoppm) and read by OCR (tesseract). A PDF with no text even then fails.
async fn pdf_sources<'a>(blobs: &'a [FetchedBlob]) -> Result<Vec<TextSource<'a>>, StageError> {
    let mut sources = Vec::new();
    for blob in blobs.iter().filter(|b| b.mime_type == "application/pdf") {
        let fail = |why: String| {
            StageError::new(
                "extract",
                format!("pdf blob {:?}: {why}", blob.blob.property),
            )
        };
        let pages = decode(blob, "pdf", pdf_pages).await?;
        let scanned: Vec<u32> = pages
            .iter()
            .filter(|(_, t)| t.trim().is_empty())
            .map(|(n, _)| *n)
            .collect();
        let mut read = std::collections::HashMap::new();
        if !scanned.is_empty() {
            let file = blob.file().await.map_err(fail)?;
            for n in &scanned {
                let png = tools::pdf_page_png(file.path(), *n, OCR_DPI)
                    .await
                    .map_err(|e| {
                        fail(format!(
                            "page {n} has no text layer and cannot be rendered for OCR: {e}"
                        ))
                    })?;
                let text = tools::ocr(&png)
                    .await
                    .map_err(|e| fail(format!("OCR of page {n}: {e}")))?;
                read.insert(*n, text);
            }
        }
        let before = sources.len();
        for (page, text) in pages {
            let (text, ocr) = match read.remove(&page) {
                Some(t) => (t, true),
                None => (text, false),
            };
            if !text.trim().is_empty() {
                sources.push(TextSource {
                    blob,
                    text,
                    page: Some(page),
                    ocr,
                });
            }
        }
        if sources.len() == before {
            return Err(fail(
                "the PDF has no text, in its text layer or by OCR".into(),
            ));
        }
    }
    Ok(sources)
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

/// The extractor's params (checked when it was chosen; a namespace from before that check
/// may still hold a bad one, which fails the object).
fn params(input: &ExtractInput<'_>) -> Result<ExtractorParams, StageError> {
    ExtractorParams::parse(input.params, "params")
        .map_err(|e| StageError::new("extract", format!("{}: {}", e.field, e.reason)))
}

/// The model of the collection being written (fixed when its namespace was created).
fn embedder(input: &ExtractInput<'_>) -> Result<std::sync::Arc<dyn Embedder>, StageError> {
    input
        .embedders
        .get(&EmbeddingSpec::of(input.params))
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
    let params = params(input)?.chunk;
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
            if source.ocr {
                fields.insert("ocr".into(), json!(true));
            }
            fields.insert("chunk_index".into(), json!(i));
            fields.insert("start_char".into(), json!(c.start));
            fields.insert("end_char".into(), json!(c.end));
            fields.insert("token_count".into(), json!(c.tokens));
            if c.truncated {
                fields.insert("truncated".into(), json!(true));
            }
            embedded(fields, model.as_ref(), None, vector)
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
    let what = format!("{kind} blob {:?}", blob.blob.property);
    let bytes = in_memory(blob, &what)?;
    decode_bytes(bytes, &what, decoder).await
}

/// The bytes of a blob held in memory (the blob stage streams only video and audio to a
/// file, and those are read from there).
fn in_memory(blob: &FetchedBlob, what: &str) -> Result<Bytes, StageError> {
    blob.bytes().cloned().ok_or_else(|| {
        StageError::new(
            "extract",
            format!(
                "{what}: its content ({}) was streamed to a file, which this extractor does not read",
                blob.mime_type
            ),
        )
    })
}

/// [`decode`] over any bytes; `what` names them in errors.
async fn decode_bytes<T: Send + 'static>(
    bytes: Bytes,
    what: &str,
    decoder: impl FnOnce(&[u8]) -> Result<T, String> + Send + 'static,
) -> Result<T, StageError> {
    tokio::task::spawn_blocking(move || decoder(&bytes))
        .await
        .map_err(|e| StageError::new("extract", format!("{what}: {e}")))?
        .map_err(|why| StageError::new("extract", format!("{what}: {why}")))
}

/// A document with its vector, saying which model made it and from what (`image`,
/// `video`, `audio` or `caption`; text documents embed their own text).
fn embedded(
    mut fields: Map<String, Value>,
    model: &dyn Embedder,
    input: Option<&str>,
    vector: Vec<f32>,
) -> Extracted {
    fields.insert("embedding_model".into(), json!(model.model_id()));
    if let Some(input) = input {
        fields.insert("embedding_input".into(), json!(input));
    }
    Extracted {
        fields,
        embedding: Some(vector),
    }
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
        let sources = text_sources(input.blobs).await?;
        if sources.is_empty() {
            let kinds: Vec<&str> = input.blobs.iter().map(|b| b.mime_type.as_str()).collect();
            return Err(StageError::new(
                "extract",
                format!("text_extractor needs a text, JSON or PDF blob; this object has {kinds:?}"),
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

impl ImageFacts {
    /// The dominant colours' names, most common first, each once where neighbours repeat.
    fn colour_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&str> = self.dominant_colors.iter().map(|c| c.2).collect();
        names.dedup();
        names
    }
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
    let colours = facts.colour_names();
    let orientation = match facts.width.cmp(&facts.height) {
        std::cmp::Ordering::Greater => "landscape",
        std::cmp::Ordering::Less => "portrait",
        std::cmp::Ordering::Equal => "square",
    };
    described(
        input,
        blob,
        format!(
            "{orientation} {} image, {}x{} pixels, colours {}",
            facts.format,
            facts.width,
            facts.height,
            colours.join(", ")
        ),
    )
}

/// `what` a blob is, then its file name and its object's metadata: the words a caption
/// is embedded by.
fn described(input: &ExtractInput<'_>, blob: &FetchedBlob, what: String) -> String {
    let mut parts = vec![what];
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
        let sources = text_sources(input.blobs).await?;
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
                let position = out.len();
                out.extend(video_documents(input, blob, position).await?);
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

/// What an image, or a video's keyframe, yields: its facts, its stored thumbnail and,
/// when `run_ocr` asks, its text.
struct Picture {
    bytes: Bytes,
    facts: ImageFacts,
    thumbnail_key: String,
    ocr_text: Option<String>,
}

/// Describes a picture, stores its thumbnail (document `position` of the object) and
/// reads its text when asked. `what` names it in errors.
async fn picture(
    input: &ExtractInput<'_>,
    bytes: Bytes,
    what: &str,
    position: usize,
) -> Result<Picture, StageError> {
    let facts = decode_bytes(bytes.clone(), what, describe_image).await?;
    let thumbnail_key = format!(
        "{}/{}/objects/{}/thumbnails/{}-{position}.jpg",
        input.object.namespace_id,
        input.object.bucket_id,
        input.object.object_id,
        input.collection_id
    );
    input
        .blob_store
        .put(
            &thumbnail_key,
            Bytes::from(facts.thumbnail_jpeg.clone()),
            Some("image/jpeg"),
        )
        .await
        .map_err(|e| StageError::new("extract", format!("storing the thumbnail: {e}")))?;
    let ocr_text = if params(input)?.run_ocr {
        Some(
            tools::ocr(&bytes)
                .await
                .map_err(|why| StageError::new("extract", format!("OCR of {what}: {why}")))?,
        )
    } else {
        None
    };
    Ok(Picture {
        bytes,
        facts,
        thumbnail_key,
        ocr_text,
    })
}

impl Picture {
    /// Its caption with what it says first: that is what a query most likely matches.
    fn caption(&self, described: String) -> String {
        match self.ocr_text.as_deref().filter(|t| !t.is_empty()) {
            Some(text) => format!("{text}. {described}"),
            None => described,
        }
    }

    fn insert_fields(&self, fields: &mut Map<String, Value>) {
        let f = &self.facts;
        fields.insert(
            "image".into(),
            json!({
                "format": f.format,
                "width": f.width,
                "height": f.height,
                "color_type": f.color_type,
                "perceptual_hash": f.perceptual_hash,
                "dominant_colors": f.dominant_colors.iter().map(|(hex, share, name)| json!({"hex": hex, "share": share, "name": name})).collect::<Vec<_>>(),
                "exif": f.exif,
            }),
        );
        fields.insert(
            "thumbnail".into(),
            json!({"storage_key": self.thumbnail_key, "content_type": "image/jpeg", "width": f.thumbnail_size.0, "height": f.thumbnail_size.1}),
        );
        if let Some(text) = &self.ocr_text {
            fields.insert("ocr_text".into(), json!(text));
        }
    }
}

/// Vectors for pictures: the pictures themselves for a multimodal model, otherwise their
/// captions (one call). Returns what was embedded.
async fn picture_vectors(
    model: &dyn Embedder,
    pictures: &[Picture],
    captions: &[String],
) -> Result<(Vec<Vec<f32>>, &'static str), StageError> {
    if model.media().contains(&MediaKind::Image) {
        let mut out = Vec::with_capacity(pictures.len());
        for p in pictures {
            out.push(embed_image(model, p).await?);
        }
        Ok((out, "image"))
    } else {
        Ok((embed(model, captions.to_vec()).await?, "caption"))
    }
}

async fn image_document(
    input: &ExtractInput<'_>,
    blob: &FetchedBlob,
    position: usize,
) -> Result<Extracted, StageError> {
    let what = format!("image blob {:?}", blob.blob.property);
    let pic = picture(input, in_memory(blob, &what)?, &what, position).await?;
    let caption = pic.caption(image_caption(&pic.facts, input, blob));
    let model = embedder(input)?;
    let (mut vectors, embedding_input) = picture_vectors(
        model.as_ref(),
        std::slice::from_ref(&pic),
        std::slice::from_ref(&caption),
    )
    .await?;
    let vector = vectors
        .pop()
        .ok_or_else(|| StageError::new("embed", "the model returned no vector"))?;
    let mut fields = base_fields(input, blob, "image");
    fields.insert("text".into(), json!(caption));
    pic.insert_fields(&mut fields);
    Ok(embedded(
        fields,
        model.as_ref(),
        Some(embedding_input),
        vector,
    ))
}

/// The longest clip a model embeds whole (Nova: 30 s of video or audio).
const MAX_CLIP_SECS: f64 = 30.0;

/// Each span of a media file cut out and embedded as a clip by a model that takes them.
async fn clip_vectors(
    model: &dyn Embedder,
    path: &std::path::Path,
    spans: &[(f64, f64)],
    kind: ClipKind,
    what: &str,
) -> Result<Vec<Vec<f32>>, StageError> {
    let (media, format) = match kind {
        ClipKind::Video => (MediaKind::Video, "mp4"),
        ClipKind::Audio => (MediaKind::Audio, "wav"),
    };
    let mut out = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        let length = (end - start).min(MAX_CLIP_SECS);
        let bytes = tools::clip(path, *start, length, kind).await.map_err(|e| {
            StageError::new("extract", format!("{what}: clip at {start:.1} s: {e}"))
        })?;
        let vector = model
            .embed_media(&Media {
                kind: media,
                format,
                bytes: &bytes,
            })
            .await
            .map_err(|e| StageError::new("embed", e.to_string()))?;
        out.push(vector);
    }
    Ok(out)
}

/// Segments a video may have; longer ones need a longer `time_split_interval`.
const MAX_VIDEO_SEGMENTS: usize = 720;

/// One document per time segment (`time_split_interval`, 10 s by default): the video's
/// facts (ffprobe), the segment's keyframe (ffmpeg, its middle frame) described like an
/// image with a stored thumbnail, embedded as a picture or by its caption.
async fn video_documents(
    input: &ExtractInput<'_>,
    blob: &FetchedBlob,
    position: usize,
) -> Result<Vec<Extracted>, StageError> {
    let what = format!("video blob {:?}", blob.blob.property);
    let fail = |why: String| StageError::new("extract", format!("{what}: {why}"));
    let interval = params(input)?.time_split_interval;
    let file = blob.file().await.map_err(&fail)?;
    let video = tools::probe_video(file.path()).await.map_err(&fail)?;
    let segments = tools::time_segments(video.duration_secs, interval);
    if segments.len() > MAX_VIDEO_SEGMENTS {
        return Err(fail(format!(
            "{:.0} s in {interval} s segments is more than {MAX_VIDEO_SEGMENTS} segments; raise time_split_interval",
            video.duration_secs
        )));
    }
    let mut pictures = Vec::with_capacity(segments.len());
    let mut keyframe_times = Vec::with_capacity(segments.len());
    for (i, (start, end)) in segments.iter().enumerate() {
        let at = start + (end - start) / 2.0;
        let frame = tools::frame_at(file.path(), at)
            .await
            .map_err(|e| fail(format!("keyframe at {at:.1} s: {e}")))?;
        let label = format!("{what} keyframe at {at:.1} s");
        pictures.push(picture(input, Bytes::from(frame), &label, position + i).await?);
        keyframe_times.push(at);
    }
    let about = described(
        input,
        blob,
        format!(
            "video, {:.1} seconds, {} {}x{}",
            video.duration_secs, video.codec, video.width, video.height
        ),
    );
    let captions: Vec<String> = pictures
        .iter()
        .zip(&segments)
        .enumerate()
        .map(|(i, (p, (start, end)))| {
            let colours = p.facts.colour_names();
            p.caption(format!(
                "{}. Segment {} of {}, {start:.1} s to {end:.1} s, colours {}",
                about,
                i + 1,
                segments.len(),
                colours.join(", ")
            ))
        })
        .collect();
    let model = embedder(input)?;
    let (vectors, embedding_input) = if model.media().contains(&MediaKind::Video) {
        (
            clip_vectors(
                model.as_ref(),
                file.path(),
                &segments,
                ClipKind::Video,
                &what,
            )
            .await?,
            "video",
        )
    } else {
        picture_vectors(model.as_ref(), &pictures, &captions).await?
    };
    Ok(pictures
        .iter()
        .zip(segments)
        .zip(keyframe_times)
        .zip(captions)
        .zip(vectors)
        .map(|((((pic, (start, end)), at), caption), vector)| {
            let mut fields = base_fields(input, blob, "video");
            fields.insert("text".into(), json!(caption));
            fields.insert(
                "video".into(),
                json!({
                    "duration_seconds": video.duration_secs,
                    "container": video.container,
                    "codec": video.codec,
                    "width": video.width,
                    "height": video.height,
                    "frame_rate": video.frame_rate,
                    "audio_codec": video.audio_codec,
                }),
            );
            fields.insert(
                "segment".into(),
                json!({"start_time": start, "end_time": end, "keyframe_time": at}),
            );
            pic.insert_fields(&mut fields);
            embedded(fields, model.as_ref(), Some(embedding_input), vector)
        })
        .collect())
}

/// Bedrock's documented image limits: 5 MB, and Titan reads PNG and JPEG.
const MODEL_IMAGE_BYTES: usize = 5 * 1024 * 1024;
const MODEL_IMAGE_EDGE: u32 = 2048;

/// An image in a form every multimodal model takes: PNG or JPEG within the size limits
/// as it is, anything else re-encoded as a JPEG of at most 2048 px.
pub fn image_for_model(
    bytes: &[u8],
    format: &str,
    width: u32,
    height: u32,
) -> Result<(String, Vec<u8>), String> {
    if matches!(format, "png" | "jpeg")
        && bytes.len() <= MODEL_IMAGE_BYTES
        && width.max(height) <= MODEL_IMAGE_EDGE
    {
        return Ok((format.to_string(), bytes.to_vec()));
    }
    let img =
        image::load_from_memory(bytes).map_err(|e| format!("the image cannot be decoded: {e}"))?;
    let img = if width.max(height) > MODEL_IMAGE_EDGE {
        img.thumbnail(MODEL_IMAGE_EDGE, MODEL_IMAGE_EDGE)
    } else {
        img
    };
    let mut out = Vec::new();
    img.to_rgb8()
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .map_err(|e| format!("re-encoding for the model: {e}"))?;
    Ok(("jpeg".into(), out))
}

/// The picture itself embedded by a multimodal model.
async fn embed_image(model: &dyn Embedder, pic: &Picture) -> Result<Vec<f32>, StageError> {
    let (format, width, height) = (pic.facts.format.clone(), pic.facts.width, pic.facts.height);
    let (format, bytes) = decode_bytes(pic.bytes.clone(), "image for the model", move |b| {
        image_for_model(b, &format, width, height)
    })
    .await?;
    model
        .embed_media(&Media {
            kind: MediaKind::Image,
            format: &format,
            bytes: &bytes,
        })
        .await
        .map_err(|e| StageError::new("embed", e.to_string()))
}

/// Decodes an audio blob off the async threads, from the file it was streamed to.
async fn audio_facts(
    blob: &FetchedBlob,
    silence_db: f64,
    max_segment: f64,
) -> Result<audio::AudioFacts, StageError> {
    let what = format!("audio blob {:?}", blob.blob.property);
    let fail = |why: String| StageError::new("extract", format!("{what}: {why}"));
    let file = blob.file().await.map_err(fail)?;
    let facts = tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(file.path()).map_err(|e| format!("opening: {e}"))?;
        audio::describe_audio_from(Box::new(f), silence_db, max_segment)
    })
    .await
    .map_err(|e| fail(e.to_string()))?;
    facts.map_err(fail)
}

/// One document per stretch of sound (or one for a silent file), each embedded by a
/// caption of what is known about it.
async fn audio_documents(
    input: &ExtractInput<'_>,
    blob: &FetchedBlob,
) -> Result<Vec<Extracted>, StageError> {
    let p = params(input)?;
    let (silence_db, max_segment) = (p.silence_db_threshold, p.max_segment_duration);
    let facts = audio_facts(blob, silence_db, max_segment).await?;
    let layout = match facts.channels {
        1 => "mono".to_string(),
        2 => "stereo".to_string(),
        n => format!("{n}-channel"),
    };
    let about = described(
        input,
        blob,
        format!(
            "{layout} audio recording, {:.1} seconds, {} Hz",
            facts.duration_secs, facts.sample_rate
        ),
    );
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
                about,
                i + 1,
                spans.len()
            ),
            None => format!("{}. Silent throughout", about),
        })
        .collect();
    let model = embedder(input)?;
    let (vectors, embedding_input) = if model.media().contains(&MediaKind::Audio) {
        let what = format!("audio blob {:?}", blob.blob.property);
        let file = blob
            .file()
            .await
            .map_err(|e| StageError::new("extract", format!("{what}: {e}")))?;
        let cuts: Vec<(f64, f64)> = spans
            .iter()
            .map(|s| s.map_or((0.0, facts.duration_secs), |(a, b, _)| (a, b)))
            .collect();
        (
            clip_vectors(model.as_ref(), file.path(), &cuts, ClipKind::Audio, &what).await?,
            "audio",
        )
    } else {
        (embed(model.as_ref(), captions.clone()).await?, "caption")
    };
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
            embedded(fields, model.as_ref(), Some(embedding_input), vector)
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
