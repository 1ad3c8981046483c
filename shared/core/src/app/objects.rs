//! Objects: registered by URL or inline content, validated against the bucket schema.
//!
//! Inline bytes go to the blob store first; then each object is one table transaction
//! (the object, its content fingerprint, its unique-key claim), many objects running
//! together through `transact_each`. The bucket's counters move by one atomic add per
//! request. A failed object's stored bytes are removed again.

use std::collections::HashMap;

use base64::Engine;
use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::lists::{collect, ListRequest};
use super::views::{record, BulkView, FailedRow, ObjectDeleted, ObjectView, Page};
use super::{from_item, keys, pointer, to_item};
use crate::context::AppContext;
use crate::domain::entities::{Blob, BlobDetails, Bucket, Object};
use crate::domain::events::EventType;
use crate::domain::ids::IdKind;
use crate::domain::schema::{BucketSchema, FieldError, FieldType};
use crate::domain::status::{ObjectStatus, UploadStatus};
pub use crate::domain::sync::SyncedFile;
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Cond, Event, Query, StoreError, Update, Write};

/// Objects one bulk create may register.
pub const MAX_BULK: usize = 100;
const MAX_BLOBS: usize = 64;
const MAX_KEY_PREFIX: usize = 1024;
const MAX_URL: usize = 2083;

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBlob {
    /// The bucket-schema property this blob fills.
    pub property: String,
    #[serde(rename = "type")]
    pub blob_type: String,
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// An http(s) or s3 URL, fetched when the object is processed.
    #[serde(default)]
    pub url: Option<String>,
    /// Inline content: text for text blobs, JSON for json blobs, base64 or a data URI otherwise.
    #[serde(default)]
    pub content: Option<Value>,
    /// The SDK's form: a URL, a data URI, `{base64, mime_type, filename}`, `{url}`, or text.
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub upload_id: Option<String>,
    #[serde(default)]
    pub checksum: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    /// A file a sync listed (set by the sync engine; never read from a request).
    #[serde(skip)]
    #[schemars(skip)]
    pub synced: Option<SyncedFile>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct CreateObject {
    #[serde(default)]
    pub key_prefix: Option<String>,
    #[serde(default)]
    pub blobs: Vec<CreateBlob>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// Return the existing object instead of creating one with the same content.
    #[serde(default)]
    pub skip_duplicates: bool,
    /// A retry with the same key returns the object the first attempt created.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Accepted for compatibility: URL sources are always read when processed.
    #[serde(default)]
    pub canonicalize_source: Option<bool>,
    #[serde(default)]
    pub force_remirror: Option<bool>,
    /// Relationships between objects are not supported: only an empty list is accepted.
    #[serde(default)]
    pub edges: Option<Vec<Value>>,
    /// Other top-level keys are metadata fields, as the API allows.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateObjectsBulk {
    /// At most 100 objects. An item that does not parse refuses the whole request (as
    /// the document's schema says); each parsed one then succeeds or fails on its own
    /// (its bucket's schema, its unique key, its blobs).
    pub objects: Vec<CreateObject>,
}

/// `PATCH`: absent fields are kept, metadata is merged (null removes a key).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchObject {
    #[serde(default)]
    pub key_prefix: Option<String>,
    #[serde(default)]
    pub blobs: Option<Vec<CreateBlob>>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

/// How a write meets an existing object with the same unique key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Insert,
    Update,
    Upsert,
}

impl Policy {
    pub fn choose(query: Option<&str>, bucket: &Bucket) -> Result<Policy, Error> {
        let given = query.or_else(|| {
            bucket
                .unique_key
                .as_ref()
                .and_then(|u| u.default_policy.as_deref())
        });
        match given.unwrap_or("insert") {
            "insert" => Ok(Policy::Insert),
            "update" => Ok(Policy::Update),
            "upsert" => Ok(Policy::Upsert),
            other => Err(Error::field(
                "policy",
                format!("expected insert, update or upsert, got {other:?}"),
            )),
        }
    }
}

struct Payload {
    key: String,
    bytes: Bytes,
    content_type: Option<String>,
}

/// One object ready to write.
struct Prepared {
    object: Object,
    payloads: Vec<Payload>,
    /// The stored object this write replaces (same id), for update/upsert.
    replaces: Option<Object>,
    skip_duplicates: bool,
    /// sha256 of the request's idempotency key, claimed with the object.
    idempotency: Option<String>,
    /// Uploads whose bytes the object takes, claimed with it.
    links: Vec<(Write, Claim)>,
}

/// Why an existing object was returned instead of a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replayed {
    SkipDuplicates,
    IdempotencyKey,
}

impl Replayed {
    pub fn as_str(self) -> &'static str {
        match self {
            Replayed::SkipDuplicates => "skip_duplicates",
            Replayed::IdempotencyKey => "idempotency_key",
        }
    }
}

/// What each write of an object's transaction claims, to explain a failed condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    Object,
    Fingerprint,
    UniqueKey,
    Idempotency,
    /// A completed upload this object takes the bytes of.
    Upload,
    /// The upload being confirmed into this object.
    Confirming,
}

enum Outcome {
    Write(Box<Prepared>),
    /// An existing object returned unchanged (skip_duplicates matched).
    Replay(Box<Object>, Replayed),
}

fn field_err(e: FieldError) -> Error {
    Error::field(e.field, e.reason)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn check_key_prefix(p: &Option<String>, path: &str) -> Result<(), Error> {
    match p {
        Some(s) => crate::domain::names::check_key_prefix(s, MAX_KEY_PREFIX)
            .map_err(|reason| Error::field(path, reason)),
        None => Ok(()),
    }
}

fn check_filename(name: Option<&str>, path: &str) -> Result<(), Error> {
    match name {
        Some(n) => {
            crate::domain::names::check_file_name(n).map_err(|reason| Error::field(path, reason))
        }
        None => Ok(()),
    }
}

/// Checks a blob URL's syntax now; the bytes are fetched when the object is processed.
fn check_url(raw: &str, path: &str) -> Result<url::Url, Error> {
    if raw.len() > MAX_URL {
        return Err(Error::field(
            path,
            format!("URLs are at most {MAX_URL} characters"),
        ));
    }
    let url =
        url::Url::parse(raw).map_err(|e| Error::field(path, format!("not a valid URL: {e}")))?;
    match url.scheme() {
        "http" | "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(Error::field(path, "URL has no host"));
            }
        }
        "s3" => {
            if url.host_str().is_none_or(str::is_empty)
                || url.path().trim_start_matches('/').is_empty()
            {
                return Err(Error::field(path, "s3 URLs are s3://<bucket>/<key>"));
            }
        }
        other => {
            return Err(Error::field(
                path,
                format!("unsupported URL scheme {other:?}: use http, https or s3"),
            ))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::field(path, "URLs must not carry credentials"));
    }
    Ok(url)
}

/// Bytes already in the blob store under an upload, ready to back a blob.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub upload_id: String,
    pub storage_key: String,
    pub size: i64,
    pub mime: String,
    pub hash: Option<String>,
    pub filename: String,
}

/// An upload being confirmed into this object: its file, and the write that moves it to
/// COMPLETED (committed with the object, so a racing confirm cannot make a second one).
pub struct Confirming {
    pub file: StoredFile,
    pub write: Write,
    /// Unconditional writes that go with the completion (e.g. the content-hash index).
    pub also: Vec<Write>,
}

enum Source {
    Url(url::Url),
    Synced(SyncedFile),
    Stored(StoredFile),
    Bytes {
        bytes: Vec<u8>,
        mime: Option<String>,
        filename: Option<String>,
    },
}

fn decode_base64(s: &str, path: &str) -> Result<Vec<u8>, Error> {
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&cleaned)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&cleaned))
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&cleaned))
        .map_err(|_| Error::field(path, "is not valid base64"))
}

fn decode_data_uri(s: &str, path: &str) -> Result<(Vec<u8>, Option<String>), Error> {
    let rest = &s[5..];
    let (head, payload) = rest
        .split_once(',')
        .ok_or_else(|| Error::field(path, "data URI has no ','"))?;
    let mime = head
        .split(';')
        .next()
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    if head.ends_with(";base64") {
        Ok((decode_base64(payload, path)?, mime))
    } else {
        let text = percent_decode(payload);
        Ok((text.into_bytes(), mime))
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Reads a blob's value in any accepted form.
fn read_source(
    b: &CreateBlob,
    ty: FieldType,
    path: &str,
    uploads: &HashMap<String, StoredFile>,
) -> Result<Source, Error> {
    if let Some(file) = &b.synced {
        return Ok(Source::Synced(file.clone()));
    }
    let given = [
        b.url.is_some(),
        b.content.is_some(),
        b.data.is_some(),
        b.upload_id.is_some(),
    ];
    match given.iter().filter(|g| **g).count() {
        0 => {
            return Err(Error::field(
                path,
                "give one of url, content, data or upload_id",
            ))
        }
        1 => {}
        _ => {
            return Err(Error::field(
                path,
                "give only one of url, content, data or upload_id",
            ))
        }
    }
    if let Some(upload_id) = &b.upload_id {
        return uploads
            .get(upload_id)
            .cloned()
            .map(Source::Stored)
            .ok_or_else(|| {
                Error::field(
                    format!("{path}.upload_id"),
                    format!("upload {upload_id:?} not found in this bucket"),
                )
            });
    }
    check_filename(b.filename.as_deref(), &format!("{path}.filename"))?;
    if let Some(url) = &b.url {
        return Ok(Source::Url(check_url(url, &format!("{path}.url"))?));
    }
    let (value, field) = match (&b.content, &b.data) {
        (Some(v), _) => (v, format!("{path}.content")),
        (_, Some(v)) => (v, format!("{path}.data")),
        _ => unreachable!("one source is present"),
    };
    let inline = Inline {
        ty,
        field,
        mime: b.mime_type.clone().or_else(|| b.content_type.clone()),
        filename: b.filename.clone(),
    };
    match value {
        Value::String(s) => inline.string(s),
        other => inline.structured(other),
    }
}

/// A blob's `content` or `data`, with what the request says of it.
struct Inline {
    ty: FieldType,
    /// Where it is in the request, for refusals.
    field: String,
    mime: Option<String>,
    filename: Option<String>,
}

impl Inline {
    fn bytes(&self, bytes: Vec<u8>, mime: Option<String>) -> Source {
        Source::Bytes {
            bytes,
            mime,
            filename: self.filename.clone(),
        }
    }

    /// A string: a URL, a data URI, text, JSON text or base64, by the blob's type.
    fn string(self, s: &str) -> Result<Source, Error> {
        let field = &self.field;
        if s.starts_with("http://") || s.starts_with("https://") || s.starts_with("s3://") {
            return Ok(Source::Url(check_url(s, field)?));
        }
        if s.starts_with("file://") {
            return Err(Error::field(
                field,
                "file:// URLs are not readable by the server",
            ));
        }
        if s.starts_with("data:") {
            let (bytes, m) = decode_data_uri(s, field)?;
            return Ok(self.bytes(bytes, m.or(self.mime.clone())));
        }
        match self.ty {
            FieldType::Text => {
                let mime = self.mime.clone().or(Some("text/plain".into()));
                Ok(self.bytes(s.as_bytes().to_vec(), mime))
            }
            FieldType::Json => {
                serde_json::from_str::<Value>(s)
                    .map_err(|e| Error::field(field, format!("is not valid JSON: {e}")))?;
                Ok(self.bytes(s.as_bytes().to_vec(), Some("application/json".into())))
            }
            _ => Ok(self.bytes(decode_base64(s, field)?, self.mime.clone())),
        }
    }

    /// An object (`{base64, mime_type, filename}`, `{url}`, `{text}`) or, for a JSON
    /// blob, any JSON value.
    fn structured(self, value: &Value) -> Result<Source, Error> {
        let field = &self.field;
        let text_like = self.ty == FieldType::Text;
        let str_of =
            |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        match value {
            Value::Object(m) if m.contains_key("base64") => {
                let encoded = str_of(m, "base64")
                    .ok_or_else(|| Error::field(field, "base64 must be a string"))?;
                let filename = str_of(m, "filename");
                check_filename(filename.as_deref(), &format!("{field}.filename"))?;
                Ok(Source::Bytes {
                    bytes: decode_base64(&encoded, &format!("{field}.base64"))?,
                    mime: str_of(m, "mime_type").or(self.mime.clone()),
                    filename: filename.or_else(|| self.filename.clone()),
                })
            }
            Value::Object(m) if m.contains_key("url") && m.len() <= 2 => {
                let u =
                    str_of(m, "url").ok_or_else(|| Error::field(field, "url must be a string"))?;
                Ok(Source::Url(check_url(&u, &format!("{field}.url"))?))
            }
            Value::Object(m) if text_like && m.contains_key("text") => {
                let t = str_of(m, "text")
                    .ok_or_else(|| Error::field(field, "text must be a string"))?;
                Ok(self.bytes(t.into_bytes(), Some("text/plain".into())))
            }
            v @ (Value::Object(_) | Value::Array(_)) if self.ty == FieldType::Json => {
                let bytes = serde_json::to_vec(v).map_err(|e| Error::Internal(e.into()))?;
                Ok(self.bytes(bytes, Some("application/json".into())))
            }
            _ => Err(Error::field(
                field,
                format!("is not a valid value for a {} blob", self.ty.as_str()),
            )),
        }
    }
}

fn filename_of(url: &url::Url) -> Option<String> {
    url.path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty())
        .map(percent_decode)
}

/// Validates one blob and lays out where its bytes go.
fn build_blob(
    ctx: &AppContext,
    schema: &BucketSchema,
    b: &CreateBlob,
    path: &str,
    bucket: &Bucket,
    obj: &str,
    uploads: &HashMap<String, StoredFile>,
) -> Result<(Blob, Option<Payload>), Error> {
    let ty = FieldType::parse(&b.blob_type)
        .filter(|t| t.is_blob())
        .ok_or_else(|| {
            Error::field(
                format!("{path}.type"),
                format!("{:?} is not a blob type", b.blob_type),
            )
        })?;
    schema
        .blob_field(&b.property, ty, path)
        .map_err(field_err)?;
    check_key_prefix(&b.key_prefix, &format!("{path}.key_prefix"))?;
    let blob_id = IdKind::Blob.new_id();
    let (properties, details, payload) = match read_source(b, ty, path, uploads)? {
        Source::Stored(file) => stored_blob(file, ty, path)?,
        Source::Synced(file) => synced_blob(b, file)?,
        Source::Url(url) => url_blob(b, &url),
        Source::Bytes {
            bytes,
            mime,
            filename,
        } => {
            let key =
                keys::blob_storage_key(&bucket.namespace_id, &bucket.bucket_id, obj, &blob_id);
            let given = Given { ty, path, key };
            inline_blob(ctx, b, given, bytes, mime, filename)?
        }
    };
    let blob = Blob {
        blob_id,
        property: b.property.clone(),
        blob_type: ty.as_str().to_string(),
        key_prefix: b.key_prefix.clone(),
        properties,
        details,
        metadata: b.metadata.clone(),
    };
    Ok((blob, payload))
}

/// A blob's stored properties and details, and the bytes to store for it (inline ones).
type LaidOut = (Map<String, Value>, BlobDetails, Option<Payload>);

/// A confirmed upload's file: its content type must fit the blob's type.
fn stored_blob(file: StoredFile, ty: FieldType, path: &str) -> Result<LaidOut, Error> {
    if !ty.accepts_mime(&file.mime) {
        return Err(Error::field(
            format!("{path}.upload_id"),
            format!(
                "the upload's content type {:?} does not fit a {} blob",
                file.mime,
                ty.as_str()
            ),
        ));
    }
    let details = BlobDetails {
        filename: Some(file.filename),
        size_bytes: Some(file.size),
        mime_type: Some(file.mime),
        hash: file.hash,
    };
    let mut properties = Map::new();
    properties.insert("source".into(), json!("upload"));
    properties.insert("upload_id".into(), json!(file.upload_id));
    properties.insert("storage_key".into(), json!(file.storage_key));
    Ok((properties, details, None))
}

/// A file a sync listed: read from its source when processed.
fn synced_blob(b: &CreateBlob, file: SyncedFile) -> Result<LaidOut, Error> {
    let details = BlobDetails {
        filename: file.key.rsplit('/').next().map(str::to_string),
        size_bytes: Some(file.size as i64),
        mime_type: b.mime_type.clone().or_else(|| {
            mime_guess::from_path(&file.key)
                .first_raw()
                .map(str::to_string)
        }),
        ..BlobDetails::default()
    };
    let mut properties = Map::new();
    properties.insert("source".into(), json!("sync"));
    properties.insert(
        "synced".into(),
        serde_json::to_value(&file).map_err(|e| Error::Internal(e.into()))?,
    );
    Ok((properties, details, None))
}

/// A URL: fetched when processed.
fn url_blob(b: &CreateBlob, url: &url::Url) -> LaidOut {
    let filename = b.filename.clone().or_else(|| filename_of(url));
    let details = BlobDetails {
        mime_type: b.mime_type.clone().or_else(|| {
            filename
                .as_deref()
                .and_then(|f| mime_guess::from_path(f).first_raw())
                .map(str::to_string)
        }),
        filename,
        hash: b.checksum.clone(),
        ..BlobDetails::default()
    };
    let mut properties = Map::new();
    properties.insert("source".into(), json!("url"));
    properties.insert("url".into(), json!(url.as_str()));
    (properties, details, None)
}

/// What an inline blob is checked against: its type, where it is in the request, and
/// the key its bytes go to.
struct Given<'a> {
    ty: FieldType,
    path: &'a str,
    key: String,
}

/// Inline bytes: bounded, of a content type that fits, matching any checksum given;
/// stored with the object.
fn inline_blob(
    ctx: &AppContext,
    b: &CreateBlob,
    given: Given<'_>,
    bytes: Vec<u8>,
    mime: Option<String>,
    filename: Option<String>,
) -> Result<LaidOut, Error> {
    let Given { ty, path, key } = given;
    if bytes.len() > ctx.config.max_inline_bytes {
        return Err(Error::field(
            path,
            format!(
                "inline content is {} bytes; the limit is {}: use a presigned upload for larger files",
                bytes.len(),
                ctx.config.max_inline_bytes
            ),
        ));
    }
    let mime = mime.or_else(|| {
        filename
            .as_deref()
            .and_then(|f| mime_guess::from_path(f).first_raw())
            .map(str::to_string)
    });
    if let Some(m) = mime.as_ref().filter(|m| !ty.accepts_mime(m)) {
        return Err(Error::field(
            path,
            format!("content type {m:?} does not fit a {} blob", ty.as_str()),
        ));
    }
    let hash = sha256_hex(&bytes);
    if let Some(checksum) = &b.checksum {
        if checksum.trim_start_matches("sha256:").to_ascii_lowercase() != hash {
            return Err(Error::field(
                format!("{path}.checksum"),
                "does not match the sha256 of the content",
            ));
        }
    }
    let details = BlobDetails {
        filename,
        size_bytes: Some(bytes.len() as i64),
        mime_type: mime.clone(),
        hash: Some(hash),
    };
    let mut properties = Map::new();
    properties.insert("source".into(), json!("inline"));
    properties.insert("storage_key".into(), json!(key));
    let payload = Payload {
        key,
        bytes: Bytes::from(bytes),
        content_type: mime,
    };
    Ok((properties, details, Some(payload)))
}

/// What makes two objects duplicates: their blobs' content (hash, or URL when not read
/// yet), or their metadata when they hold no blobs.
fn fingerprint(blobs: &[Blob], metadata: &Map<String, Value>) -> String {
    let mut parts: Vec<Value> = blobs
        .iter()
        .map(|b| {
            let what = b.details.hash.clone().or_else(|| {
                b.properties
                    .get("url")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| {
                        b.properties
                            .get("synced")
                            .map(|f| format!("sync:{}/{}@{}", f["bucket"], f["key"], f["etag"]))
                    })
            });
            json!([b.property, b.blob_type, what])
        })
        .collect();
    parts.sort_by_key(|v| v.to_string());
    let basis = if parts.is_empty() {
        json!(["metadata", metadata])
    } else {
        json!(parts)
    };
    sha256_hex(basis.to_string().as_bytes())
}

fn unique_hash(bucket: &Bucket, metadata: &Map<String, Value>) -> Result<Option<String>, Error> {
    let Some(uk) = &bucket.unique_key else {
        return Ok(None);
    };
    let mut values = Vec::with_capacity(uk.fields.len());
    for f in &uk.fields {
        match metadata.get(f) {
            Some(v) if !v.is_null() => values.push(v.clone()),
            _ => {
                return Err(Error::field(
                    format!("metadata.{f}"),
                    "is part of the bucket's unique key and is required",
                ))
            }
        }
    }
    Ok(Some(sha256_hex(
        Value::Array(values).to_string().as_bytes(),
    )))
}

async fn load(ctx: &AppContext, bucket: &Bucket, object_id: &str) -> Result<Option<Object>, Error> {
    match ctx
        .table
        .get(&keys::object(&bucket.bucket_id, object_id))
        .await?
    {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

async fn load_pointer(
    ctx: &AppContext,
    bucket: &Bucket,
    key: crate::ports::Key,
) -> Result<Option<Object>, Error> {
    let Some(ptr) = ctx.table.get(&key).await? else {
        return Ok(None);
    };
    match ptr.get("object_id").and_then(Value::as_str) {
        Some(id) => load(ctx, bucket, id).await,
        None => Ok(None),
    }
}

/// Validates a create request and decides what it becomes: a new object, a
/// replacement of the one holding its unique key, or a replay of a duplicate.
/// The uploads an object's blobs name: their files, and the writes that link each to
/// the object (an upload backs at most one object, so deleting it cannot strand another).
async fn link_uploads(
    ctx: &AppContext,
    bucket: &Bucket,
    blobs: &[CreateBlob],
    object_id: &str,
    confirming: Option<&Confirming>,
) -> Result<(HashMap<String, StoredFile>, Vec<(Write, Claim)>), Error> {
    let mut files = HashMap::new();
    let mut writes = Vec::new();
    for (i, id) in blobs
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.upload_id.as_ref().map(|u| (i, u)))
    {
        if files.contains_key(id) {
            return Err(Error::field(
                format!("blobs[{i}].upload_id"),
                "an upload can back only one blob",
            ));
        }
        if let Some(c) = confirming.filter(|c| &c.file.upload_id == id) {
            files.insert(id.clone(), c.file.clone());
            let mut write = c.write.clone();
            if let Write::Update { updates, .. } = &mut write {
                updates.push(Update::Set("linked".into(), json!(true)));
                updates.push(Update::Set("object_id".into(), json!(object_id)));
            }
            writes.push((write, Claim::Confirming));
            writes.extend(c.also.iter().cloned().map(|w| (w, Claim::Confirming)));
            continue;
        }
        let Some(item) = ctx.table.get(&keys::upload(&bucket.bucket_id, id)).await? else {
            continue;
        };
        let upload: crate::domain::entities::Upload = from_item(item)?;
        let field = format!("blobs[{i}].upload_id");
        if upload.status != UploadStatus::Completed {
            return Err(Error::field(
                field,
                format!("upload {id} is {}: confirm it first", upload.status),
            ));
        }
        if upload.linked {
            return Err(Error::field(
                field,
                format!(
                    "upload {id} already backs object {}",
                    upload.object_id.as_deref().unwrap_or("?")
                ),
            ));
        }
        files.insert(
            id.clone(),
            StoredFile {
                upload_id: id.clone(),
                storage_key: upload
                    .blob_key
                    .clone()
                    .unwrap_or_else(|| upload.storage_key.clone()),
                size: upload.file_size_bytes.unwrap_or(0),
                mime: upload.content_type.clone(),
                hash: upload.file_hash.clone(),
                filename: upload.filename.clone(),
            },
        );
        writes.push((
            Write::Update {
                key: keys::upload(&bucket.bucket_id, id),
                updates: vec![
                    Update::Set("linked".into(), json!(true)),
                    Update::Set("object_id".into(), json!(object_id)),
                ],
                cond: Cond::Equals("linked".into(), json!(false)),
            },
            Claim::Upload,
        ));
    }
    Ok((files, writes))
}

async fn prepare(
    ctx: &AppContext,
    bucket: &Bucket,
    schema: &BucketSchema,
    req: CreateObject,
    policy: Policy,
    confirming: Option<&Confirming>,
) -> Result<Outcome, Error> {
    check_shape(&req, schema)?;
    let mut metadata = merged_metadata(req.metadata.unwrap_or_default(), req.extra)?;
    let idempotency = idempotency_hash(req.idempotency_key.as_deref())?;
    if let Some(hash) = &idempotency {
        if let Some(existing) =
            load_pointer(ctx, bucket, keys::idempotency(&bucket.bucket_id, hash)).await?
        {
            return Ok(Outcome::Replay(
                Box::new(existing),
                Replayed::IdempotencyKey,
            ));
        }
    }
    schema.apply_defaults(&mut metadata);
    schema
        .check_object(&metadata, req.blobs.iter().map(|b| b.property.as_str()))
        .map_err(field_err)?;
    let uk = unique_hash(bucket, &metadata)?;
    let replaces = match &uk {
        Some(hash) => replaced(ctx, bucket, policy, hash).await?,
        None => None,
    };
    // A replacement keeps the identity of the object it replaces.
    let object_id = replaces
        .as_ref()
        .map_or_else(|| IdKind::Object.new_id(), |o: &Object| o.object_id.clone());
    let (files, links) = link_uploads(ctx, bucket, &req.blobs, &object_id, confirming).await?;
    let (blobs, payloads) = build_blobs(ctx, schema, &req.blobs, bucket, &object_id, &files)?;
    let fp = fingerprint(&blobs, &metadata);
    if req.skip_duplicates {
        if let Some(existing) =
            load_pointer(ctx, bucket, keys::fingerprint(&bucket.bucket_id, &fp)).await?
        {
            return Ok(Outcome::Replay(
                Box::new(existing),
                Replayed::SkipDuplicates,
            ));
        }
    }
    let now = now_rfc3339();
    let size: i64 = blobs.iter().filter_map(|b| b.details.size_bytes).sum();
    let object = Object {
        object_id,
        bucket_id: bucket.bucket_id.clone(),
        namespace_id: bucket.namespace_id.clone(),
        key_prefix: req.key_prefix,
        blobs,
        metadata,
        status: ObjectStatus::Pending,
        error: None,
        fingerprint: fp,
        unique_hash: uk,
        size_bytes: size,
        version: replaces.as_ref().map_or(1, |o| o.version + 1),
        created_at: replaces
            .as_ref()
            .map_or_else(|| now.clone(), |o| o.created_at.clone()),
        updated_at: now,
    };
    Ok(Outcome::Write(Box::new(Prepared {
        object,
        payloads,
        replaces,
        skip_duplicates: req.skip_duplicates,
        idempotency,
        links,
    })))
}

/// The request's shape, before anything is read: key prefix, blob count, each blob's
/// property and type (a wrong blob is named before a missing one), no edges.
fn check_shape(req: &CreateObject, schema: &BucketSchema) -> Result<(), Error> {
    check_key_prefix(&req.key_prefix, "key_prefix")?;
    if req.blobs.len() > MAX_BLOBS {
        return Err(Error::field(
            "blobs",
            format!("at most {MAX_BLOBS} blobs per object"),
        ));
    }
    // Blob properties and types first: a wrong blob is named before a missing one.
    for (i, b) in req.blobs.iter().enumerate() {
        let ty = FieldType::parse(&b.blob_type)
            .filter(|t| t.is_blob())
            .ok_or_else(|| {
                Error::field(
                    format!("blobs[{i}].type"),
                    format!("{:?} is not a blob type", b.blob_type),
                )
            })?;
        schema
            .blob_field(&b.property, ty, &format!("blobs[{i}]"))
            .map_err(field_err)?;
    }
    if req.edges.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err(Error::field(
            "edges",
            "relationships between objects are not supported",
        ));
    }
    Ok(())
}

/// `metadata` with the request's top-level fields added; a key in both is refused.
fn merged_metadata(
    mut metadata: Map<String, Value>,
    extra: Map<String, Value>,
) -> Result<Map<String, Value>, Error> {
    for (k, v) in extra {
        if metadata.contains_key(&k) {
            return Err(Error::field(
                format!("metadata.{k}"),
                "is given both at the top level and in metadata",
            ));
        }
        metadata.insert(k, v);
    }
    Ok(metadata)
}

fn idempotency_hash(key: Option<&str>) -> Result<Option<String>, Error> {
    match key {
        Some(k) if k.is_empty() || k.len() > 255 => Err(Error::field(
            "idempotency_key",
            "must be 1 to 255 characters",
        )),
        Some(k) => Ok(Some(sha256_hex(k.as_bytes()))),
        None => Ok(None),
    }
}

/// The object holding this unique key, which the write replaces, as the policy allows.
async fn replaced(
    ctx: &AppContext,
    bucket: &Bucket,
    policy: Policy,
    unique: &str,
) -> Result<Option<Object>, Error> {
    let existing = load_pointer(ctx, bucket, keys::unique(&bucket.bucket_id, unique)).await?;
    match (policy, existing) {
        (Policy::Insert, Some(e)) => Err(Error::Conflict(format!(
            "object {} already holds this unique key",
            e.object_id
        ))),
        (Policy::Update, None) => Err(Error::not_found("object with this unique key")),
        (_, e) => Ok(e),
    }
}

/// Each blob checked and laid out, with the bytes to store for inline ones.
fn build_blobs(
    ctx: &AppContext,
    schema: &BucketSchema,
    requested: &[CreateBlob],
    bucket: &Bucket,
    object_id: &str,
    files: &HashMap<String, StoredFile>,
) -> Result<(Vec<Blob>, Vec<Payload>), Error> {
    let mut blobs = Vec::with_capacity(requested.len());
    let mut payloads = Vec::new();
    for (i, b) in requested.iter().enumerate() {
        let path = format!("blobs[{i}]");
        let (blob, payload) = build_blob(ctx, schema, b, &path, bucket, object_id, files)?;
        blobs.push(blob);
        payloads.extend(payload);
    }
    Ok((blobs, payloads))
}

/// The object's transaction, each write beside what it claims.
fn writes_for(p: &Prepared) -> Vec<(Write, Claim)> {
    let o = &p.object;
    let obj_key = keys::object(&o.bucket_id, &o.object_id);
    let fp_ptr = pointer(
        &keys::fingerprint(&o.bucket_id, &o.fingerprint),
        "object_id",
        &o.object_id,
    );
    let mut ops = Vec::with_capacity(4);
    match &p.replaces {
        None => ops.push((Write::create(to_item(&obj_key, o)), Claim::Object)),
        Some(old) => ops.push((
            Write::Put {
                item: to_item(&obj_key, o),
                cond: Cond::Equals("version".into(), json!(old.version)),
            },
            Claim::Object,
        )),
    }
    // With skip_duplicates the fingerprint is a claim (a racing twin loses and replays);
    // otherwise it just points at the newest object with this content.
    let fp = if p.skip_duplicates {
        Write::create(fp_ptr)
    } else {
        Write::put(fp_ptr)
    };
    ops.push((fp, Claim::Fingerprint));
    if let (Some(hash), None) = (&o.unique_hash, &p.replaces) {
        ops.push((
            Write::create(pointer(
                &keys::unique(&o.bucket_id, hash),
                "object_id",
                &o.object_id,
            )),
            Claim::UniqueKey,
        ));
    }
    if let Some(hash) = &p.idempotency {
        ops.push((
            Write::create(pointer(
                &keys::idempotency(&o.bucket_id, hash),
                "object_id",
                &o.object_id,
            )),
            Claim::Idempotency,
        ));
    }
    ops.extend(p.links.iter().cloned());
    ops
}

/// The outcome of one object in a create request.
pub type ItemResult = Result<(Object, Option<Replayed>), Error>;

/// Creates objects; each succeeds or fails on its own. `true` marks a replay.
/// Why an upsert lost a race: another writer took the unique key, or changed the object
/// it was replacing. Both are retried: the next attempt reads the winner and replaces it.
const UNIQUE_KEY_TAKEN: &str = "another object already holds this unique key";
const OBJECT_CHANGED: &str = "the object changed while this request ran; retry";
/// How many times an upsert that lost a race tries again before answering 409.
const UPSERT_ATTEMPTS: u32 = 8;

fn lost_a_race(r: &ItemResult) -> bool {
    matches!(r, Err(Error::Conflict(m)) if m == UNIQUE_KEY_TAKEN || m == OBJECT_CHANGED)
}

pub async fn create_many(
    ctx: &AppContext,
    bucket: &Bucket,
    requests: Vec<Result<CreateObject, Error>>,
    policy: Policy,
    confirming: Option<&Confirming>,
) -> Result<Vec<ItemResult>, Error> {
    if policy != Policy::Upsert {
        return create_many_once(ctx, bucket, requests, policy, confirming).await;
    }
    // An upsert must not fail because another upsert of the same key committed first:
    // the losers go again, with a short jittered pause, over what the winner wrote.
    let kept: Vec<Option<CreateObject>> =
        requests.iter().map(|r| r.as_ref().ok().cloned()).collect();
    let mut results = create_many_once(ctx, bucket, requests, policy, confirming).await?;
    for attempt in 1..UPSERT_ATTEMPTS {
        let losers: Vec<usize> = (0..results.len())
            .filter(|&i| lost_a_race(&results[i]) && kept[i].is_some())
            .collect();
        if losers.is_empty() {
            break;
        }
        let pause = rand::random_range(1..=(4u64 << attempt.min(5)));
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        let again = losers
            .iter()
            .map(|&i| Ok(kept[i].clone().expect("kept above")))
            .collect();
        let retried = create_many_once(ctx, bucket, again, policy, confirming).await?;
        for (i, r) in losers.into_iter().zip(retried) {
            results[i] = r;
        }
    }
    Ok(results)
}

async fn create_many_once(
    ctx: &AppContext,
    bucket: &Bucket,
    requests: Vec<Result<CreateObject, Error>>,
    policy: Policy,
    confirming: Option<&Confirming>,
) -> Result<Vec<ItemResult>, Error> {
    let schema = bucket.schema()?;
    let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(requests.len());
    let mut pending: Vec<(usize, Prepared)> = Vec::new();
    for req in requests {
        let slot = results.len();
        let outcome = match req {
            Ok(r) => prepare(ctx, bucket, &schema, r, policy, confirming).await,
            Err(e) => Err(e),
        };
        results.push(match outcome {
            Ok(Outcome::Replay(o, why)) => Some(Ok((*o, Some(why)))),
            Ok(Outcome::Write(p)) => {
                pending.push((slot, *p));
                None
            }
            Err(e) => Some(Err(e)),
        });
    }

    // Bytes first, so no committed object points at missing bytes.
    store_payloads(ctx, pending.iter().map(|(_, p)| p)).await?;
    let (groups, claims): (Vec<Vec<Write>>, Vec<Vec<Claim>>) = pending
        .iter()
        .map(|(_, p)| writes_for(p).into_iter().unzip())
        .unzip();
    let outcomes = commit(ctx, groups).await;
    let (mut added, mut size_delta) = (0i64, 0i64);
    let mut events = Vec::new();
    let mut stale_keys = Vec::new();
    for (((slot, p), outcome), claims) in pending.into_iter().zip(outcomes).zip(claims) {
        let result = match outcome {
            Ok(()) => {
                size_delta += p.object.size_bytes - p.replaces.as_ref().map_or(0, |o| o.size_bytes);
                match &p.replaces {
                    None => added += 1,
                    Some(old) => stale_keys.extend(removed_keys(old, &p.object)),
                }
                let kind = if p.replaces.is_some() {
                    EventType::ObjectUpdated
                } else {
                    EventType::ObjectCreated
                };
                events.push(object_event(kind, &p.object, &bucket.org_id));
                Ok((p.object, None))
            }
            Err(e) => failed_write(ctx, bucket, &p, e, &claims).await?,
        };
        results[slot] = Some(result);
    }
    // The counters and the events are independent writes: sent together, they share a
    // commit instead of waiting for one each.
    let (counted, ()) = tokio::join!(
        bump_bucket(ctx, bucket, added, size_delta),
        publish_object_events(ctx, bucket, events)
    );
    counted?;
    for key in stale_keys {
        let _ = ctx.blobs.delete(&key).await;
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every slot is filled"))
        .collect())
}

/// Puts the inline blobs' bytes, sixteen at a time.
async fn store_payloads<'a>(
    ctx: &AppContext,
    prepared: impl Iterator<Item = &'a Prepared>,
) -> Result<(), Error> {
    let uploads: Vec<_> = prepared
        .flat_map(|p| p.payloads.iter())
        .map(|p| {
            let (blobs, key, bytes, content_type) = (
                ctx.blobs.clone(),
                p.key.clone(),
                p.bytes.clone(),
                p.content_type.clone(),
            );
            async move { blobs.put(&key, bytes, content_type.as_deref()).await }
        })
        .collect();
    stream::iter(uploads)
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// An object whose transaction failed: its bytes are removed, and the claim that failed
/// says what the request gets. A twin that committed first wins a claim; it is replayed
/// when the request asked (skip_duplicates, an idempotency key).
async fn failed_write(
    ctx: &AppContext,
    bucket: &Bucket,
    p: &Prepared,
    e: StoreError,
    claims: &[Claim],
) -> Result<ItemResult, Error> {
    for payload in &p.payloads {
        let _ = ctx.blobs.delete(&payload.key).await;
    }
    let claim = match &e {
        StoreError::ConditionFailed { index: Some(i) } => claims.get(*i).copied(),
        _ => None,
    };
    let replay = match claim {
        Some(Claim::Fingerprint) => Some((
            keys::fingerprint(&bucket.bucket_id, &p.object.fingerprint),
            Replayed::SkipDuplicates,
        )),
        Some(Claim::Idempotency) => p.idempotency.as_ref().map(|h| {
            (
                keys::idempotency(&bucket.bucket_id, h),
                Replayed::IdempotencyKey,
            )
        }),
        _ => None,
    };
    if let Some((key, why)) = replay {
        if let Some(o) = load_pointer(ctx, bucket, key).await? {
            return Ok(Ok((o, Some(why))));
        }
    }
    Ok(Err(match (e, claim) {
        (_, Some(Claim::UniqueKey)) => Error::Conflict(UNIQUE_KEY_TAKEN.into()),
        (_, Some(Claim::Upload)) => {
            Error::Conflict("an upload this object names was linked to another object".into())
        }
        (_, Some(Claim::Confirming)) => {
            Error::Conflict("the upload was confirmed by another request".into())
        }
        (StoreError::ConditionFailed { .. }, _) => Error::Conflict(OBJECT_CHANGED.into()),
        (other, _) => other.into(),
    }))
}

/// Publishes what a create request did. Many objects at once are one
/// `objects.created.batch` event (the dispatcher gives `object.created` subscribers one
/// delivery per object): bus traffic per request, not per object.
async fn publish_object_events(ctx: &AppContext, bucket: &Bucket, mut events: Vec<Event>) {
    let created: Vec<&Event> = events
        .iter()
        .filter(|e| e.event_type == EventType::ObjectCreated)
        .collect();
    if created.len() > 1 {
        let ids: Vec<Value> = created
            .iter()
            .map(|e| e.data["object_id"].clone())
            .collect();
        let batch_event = Event {
            event_id: IdKind::Event.new_id(),
            event_type: EventType::ObjectsCreatedBatch,
            org_id: bucket.org_id.clone(),
            namespace_id: Some(bucket.namespace_id.clone()),
            created_at: now_rfc3339(),
            data: json!({"bucket_id": bucket.bucket_id, "object_ids": ids}),
        };
        events.retain(|e| e.event_type != EventType::ObjectCreated);
        events.push(batch_event);
    }
    if !events.is_empty() {
        if let Err(e) = super::events::publish(ctx, events).await {
            tracing::warn!(error = %e, "publishing object events failed");
        }
    }
}

/// Whether a group can skip its transaction: a brand-new object (a fresh id, so its
/// create condition cannot fail) and its unconditional fingerprint pointer, no claims.
fn needs_no_transaction(group: &[Write]) -> bool {
    matches!(
        group,
        [Write::Put { cond: Cond::NotExists, item }, Write::Put { cond: Cond::None, .. }]
            if item.get("sk").and_then(Value::as_str).is_some_and(|sk| sk.starts_with("OBJ#"))
                && item.get("version").and_then(Value::as_i64) == Some(1)
    )
}

/// Commits each object's writes: plain new objects in batched puts (25 items a
/// request), the rest as one transaction each. A failed batched put removes what it
/// may have written, so no object is left half-registered.
async fn commit(ctx: &AppContext, groups: Vec<Vec<Write>>) -> Vec<Result<(), StoreError>> {
    let mut outcomes: Vec<Option<Result<(), StoreError>>> = vec![None; groups.len()];
    let mut bulk_slots = Vec::new();
    let mut bulk_items = Vec::new();
    let mut tx_slots = Vec::new();
    let mut tx_groups = Vec::new();
    for (slot, group) in groups.into_iter().enumerate() {
        if needs_no_transaction(&group) {
            bulk_slots.push(slot);
            bulk_items.extend(group.into_iter().filter_map(|w| match w {
                Write::Put { item, .. } => Some(item),
                _ => None,
            }));
        } else {
            tx_slots.push(slot);
            tx_groups.push(group);
        }
    }
    if !bulk_items.is_empty() {
        let keys: Vec<_> = bulk_items
            .iter()
            .filter_map(crate::ports::Key::of)
            .collect();
        let result = ctx.table.put_many(bulk_items).await;
        if let Err(e) = &result {
            tracing::warn!(error = %e, "batched object writes failed; removing what landed");
            if let Err(cleanup) = ctx.table.delete_many(keys).await {
                tracing::error!(error = %cleanup, "removing partly written objects failed");
            }
        }
        for slot in bulk_slots {
            outcomes[slot] = Some(result.clone());
        }
    }
    for (slot, outcome) in tx_slots
        .into_iter()
        .zip(ctx.table.transact_each(tx_groups).await)
    {
        outcomes[slot] = Some(outcome);
    }
    outcomes
        .into_iter()
        .map(|o| o.expect("every group has an outcome"))
        .collect()
}

/// Adds to the bucket's object and byte counters; nothing to add writes nothing.
async fn bump_bucket(
    ctx: &AppContext,
    bucket: &Bucket,
    objects: i64,
    bytes: i64,
) -> Result<(), Error> {
    if objects == 0 && bytes == 0 {
        return Ok(());
    }
    let mut updates = vec![
        Update::Add("object_count".into(), objects),
        Update::Add("total_size_bytes".into(), bytes),
    ];
    if objects > 0 || bytes > 0 {
        updates.push(Update::Set("last_upload_at".into(), json!(now_rfc3339())));
    }
    ctx.table
        .write(Write::Update {
            key: keys::bucket(&bucket.namespace_id, &bucket.bucket_id),
            updates,
            cond: Cond::Exists,
        })
        .await?;
    Ok(())
}

fn object_event(event_type: EventType, o: &Object, org_id: &str) -> Event {
    Event {
        event_id: IdKind::Event.new_id(),
        event_type,
        org_id: org_id.to_string(),
        namespace_id: Some(o.namespace_id.clone()),
        created_at: now_rfc3339(),
        data: json!({"object_id": o.object_id, "bucket_id": o.bucket_id}),
    }
}

/// Storage keys the old version used that the new one does not.
fn removed_keys(old: &Object, new: &Object) -> Vec<String> {
    let kept: Vec<&str> = new.blobs.iter().filter_map(Blob::storage_key).collect();
    old.blobs
        .iter()
        .filter_map(Blob::storage_key)
        .filter(|k| !kept.contains(k))
        .map(str::to_string)
        .collect()
}

pub async fn get(ctx: &AppContext, bucket: &Bucket, object_id: &str) -> Result<Object, Error> {
    load(ctx, bucket, object_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("object {object_id:?}")))
}

/// An object's view as GET shows it: with its document count, and when asked, short-lived
/// GET URLs for its stored blobs (and the source URL of a blob registered by URL).
pub async fn view(ctx: &AppContext, o: &Object, presigned_urls: bool) -> Result<ObjectView, Error> {
    let mut view = if presigned_urls {
        with_presigned_urls(ctx, o).await?
    } else {
        ObjectView::from(o)
    };
    let documents = Query::partition(keys::bkt_pk(&o.bucket_id))
        .prefix(keys::object_documents_prefix(&o.object_id));
    view.document_count = Some(ctx.table.count(&documents).await?);
    Ok(view)
}

async fn with_presigned_urls(ctx: &AppContext, o: &Object) -> Result<ObjectView, Error> {
    let mut view = ObjectView::from(o);
    for blob in &mut view.blobs {
        let url = match blob.blob.storage_key() {
            Some(k) => Some(
                ctx.blobs
                    .presign_get(k, std::time::Duration::from_secs(3600))
                    .await?,
            ),
            None => blob
                .blob
                .properties
                .get("url")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        blob.presigned_url = Some(url);
    }
    Ok(view)
}

pub async fn list(
    ctx: &AppContext,
    bucket: &Bucket,
    req: &ListRequest,
) -> Result<Page<ObjectView>, Error> {
    let size = req.page_size()?;
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id))
        .prefix("OBJ#")
        .cursor(req.cursor()?)
        .descending(req.descending()?);
    let filter = req.filter(&["key_prefix", "object_id"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let o: Object = from_item(item)?;
        record(&ObjectView::from(&o)).map(Some)
    })
    .await?;
    let total =
        (filter.is_empty() && req.include_total == Some(true)).then_some(bucket.object_count);
    Ok(Page::new(req.project(results), next, size, total))
}

/// PATCH (merge) or PUT (replace) one object, keeping its id.
pub async fn update(
    ctx: &AppContext,
    bucket: &Bucket,
    object_id: &str,
    key_prefix: Option<String>,
    blobs: Option<Vec<CreateBlob>>,
    metadata: Option<Map<String, Value>>,
    replace: bool,
) -> Result<Object, Error> {
    let schema = bucket.schema()?;
    let current = get(ctx, bucket, object_id).await?;
    check_key_prefix(&key_prefix, "key_prefix")?;
    let mut next = current.clone();
    let mut payloads = Vec::new();
    let mut links = Vec::new();
    if let Some(new_blobs) = blobs {
        let (files, writes) =
            link_uploads(ctx, bucket, &new_blobs, &current.object_id, None).await?;
        links = writes;
        let id = &current.object_id;
        (next.blobs, payloads) = build_blobs(ctx, &schema, &new_blobs, bucket, id, &files)?;
    } else if replace {
        next.blobs.clear();
    }
    merge_fields(&mut next, key_prefix, metadata.unwrap_or_default(), replace);
    schema.apply_defaults(&mut next.metadata);
    schema
        .check_object(
            &next.metadata,
            next.blobs.iter().map(|b| b.property.as_str()),
        )
        .map_err(field_err)?;
    next.fingerprint = fingerprint(&next.blobs, &next.metadata);
    next.unique_hash = unique_hash(bucket, &next.metadata)?;
    next.size_bytes = next.blobs.iter().filter_map(|b| b.details.size_bytes).sum();
    next.version = current.version + 1;
    next.updated_at = now_rfc3339();

    for p in &payloads {
        ctx.blobs
            .put(&p.key, p.bytes.clone(), p.content_type.as_deref())
            .await?;
    }
    let mut ops = update_writes(bucket, &current, &next);
    let links_start = ops.len();
    ops.extend(links.into_iter().map(|(w, _)| w));
    if let Err(e) = ctx.table.transact(ops).await {
        for p in &payloads {
            let _ = ctx.blobs.delete(&p.key).await;
        }
        return Err(update_refused(e, links_start, &next));
    }
    bump_bucket(ctx, bucket, 0, next.size_bytes - current.size_bytes).await?;
    for key in removed_keys(&current, &next) {
        let _ = ctx.blobs.delete(&key).await;
    }
    let event = object_event(EventType::ObjectUpdated, &next, &bucket.org_id);
    let _ = super::events::publish(ctx, vec![event]).await;
    Ok(next)
}

/// A PUT replaces the key prefix and metadata; a PATCH sets what it gives and removes
/// the metadata keys it sets to null.
fn merge_fields(
    next: &mut Object,
    key_prefix: Option<String>,
    metadata: Map<String, Value>,
    replace: bool,
) {
    if replace {
        next.key_prefix = key_prefix;
        next.metadata = metadata;
        return;
    }
    if key_prefix.is_some() {
        next.key_prefix = key_prefix;
    }
    for (k, v) in metadata {
        if v.is_null() {
            next.metadata.remove(&k);
        } else {
            next.metadata.insert(k, v);
        }
    }
}

/// The object over exactly the version read, its fingerprint pointer, and its unique
/// key's pointer moved when the key changed.
fn update_writes(bucket: &Bucket, current: &Object, next: &Object) -> Vec<Write> {
    let obj_key = keys::object(&bucket.bucket_id, &current.object_id);
    let mut ops = vec![
        Write::Put {
            item: to_item(&obj_key, next),
            cond: Cond::Equals("version".into(), json!(current.version)),
        },
        Write::put(pointer(
            &keys::fingerprint(&bucket.bucket_id, &next.fingerprint),
            "object_id",
            &next.object_id,
        )),
    ];
    if next.unique_hash != current.unique_hash {
        if let Some(old) = &current.unique_hash {
            ops.push(Write::Delete {
                key: keys::unique(&bucket.bucket_id, old),
                cond: Cond::Equals("object_id".into(), json!(current.object_id)),
            });
        }
        if let Some(new) = &next.unique_hash {
            ops.push(Write::create(pointer(
                &keys::unique(&bucket.bucket_id, new),
                "object_id",
                &next.object_id,
            )));
        }
    }
    ops
}

/// What a failed update transaction means, by the write whose condition failed.
fn update_refused(e: StoreError, links_start: usize, next: &Object) -> Error {
    match e {
        StoreError::ConditionFailed { index: Some(i) } if i >= links_start => {
            Error::Conflict("an upload this object names was linked to another object".into())
        }
        StoreError::ConditionFailed { index: Some(i) } if i >= 2 && next.unique_hash.is_some() => {
            Error::Conflict("another object already holds this unique key".into())
        }
        StoreError::ConditionFailed { .. } => {
            Error::Conflict("the object changed while this request ran; retry".into())
        }
        other => other.into(),
    }
}

pub async fn delete(
    ctx: &AppContext,
    bucket: &Bucket,
    object_id: &str,
) -> Result<ObjectDeleted, Error> {
    let current = get(ctx, bucket, object_id).await?;
    let mut ops = vec![Write::Delete {
        key: keys::object(&bucket.bucket_id, &current.object_id),
        cond: Cond::Equals("version".into(), json!(current.version)),
    }];
    if let Some(hash) = &current.unique_hash {
        ops.push(Write::Delete {
            key: keys::unique(&bucket.bucket_id, hash),
            cond: Cond::Equals("object_id".into(), json!(current.object_id)),
        });
    }
    ops.push(Write::Update {
        key: keys::bucket(&bucket.namespace_id, &bucket.bucket_id),
        updates: vec![
            Update::Add("object_count".into(), -1),
            Update::Add("total_size_bytes".into(), -current.size_bytes),
        ],
        cond: Cond::Exists,
    });
    match ctx.table.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => {
            return Err(Error::Conflict(
                "the object changed while this request ran; retry".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    // The fingerprint may point at a newer twin by now: remove it only if it is ours.
    let _ = ctx
        .table
        .write(Write::Delete {
            key: keys::fingerprint(&bucket.bucket_id, &current.fingerprint),
            cond: Cond::Equals("object_id".into(), json!(current.object_id)),
        })
        .await;
    for key in current.blobs.iter().filter_map(Blob::storage_key) {
        ctx.blobs.delete(key).await?;
    }
    // Its documents go with it (batch results stay: they are the batch's history).
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id))
        .prefix(keys::object_documents_prefix(&current.object_id));
    let documents = super::lists::all_items(ctx.table.as_ref(), query).await?;
    super::documents::remove(ctx, &documents).await?;
    let _ = super::events::publish(
        ctx,
        vec![object_event(
            EventType::ObjectDeleted,
            &current,
            &bucket.org_id,
        )],
    )
    .await;
    Ok(ObjectDeleted {
        success: true,
        object_id: current.object_id,
        message: "object deleted".into(),
    })
}

/// The bulk create's response: successes in request order, then each failure with its
/// index, its error type and status as `describe` (the API's error mapping) gives them.
pub fn bulk_view(
    results: &[ItemResult],
    describe: impl Fn(&Error) -> (&'static str, u16),
) -> BulkView {
    let mut succeeded = Vec::new();
    let mut failed = Vec::new();
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok((o, replayed)) => succeeded.push(ObjectView {
                object_index: Some(i),
                replayed: Some(replayed.is_some()),
                replayed_by: replayed.map(|r| r.as_str().to_string()),
                ..ObjectView::from(o)
            }),
            Err(e) => {
                let (error_type, status) = describe(e);
                failed.push(FailedRow {
                    object_index: i,
                    error: e.to_string(),
                    error_type: error_type.into(),
                    status,
                })
            }
        }
    }
    BulkView {
        succeeded_count: succeeded.len(),
        failed_count: failed.len(),
        total_requested: results.len(),
        succeeded,
        failed,
    }
}

/// Query parameters of the object routes.
pub fn flag(query: &HashMap<String, String>, name: &str) -> Result<bool, Error> {
    match query.get(name).map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(Error::field(
            name,
            format!("expected true or false, got {other:?}"),
        )),
    }
}
