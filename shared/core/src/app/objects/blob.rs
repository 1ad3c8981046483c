//! Laying out one blob: checked against the schema, and where its bytes go.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::app::keys;
use crate::context::AppContext;
use crate::domain::entities::{Blob, BlobDetails, Bucket};
use crate::domain::ids::IdKind;
use crate::domain::schema::{BucketSchema, FieldType};
pub use crate::domain::sync::SyncedFile;
use crate::error::Error;

use super::*;

/// Validates one blob and lays out where its bytes go.
pub(super) fn build_blob(
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
pub(super) type LaidOut = (Map<String, Value>, BlobDetails, Option<Payload>);

/// A confirmed upload's file: its content type must fit the blob's type.
pub(super) fn stored_blob(file: StoredFile, ty: FieldType, path: &str) -> Result<LaidOut, Error> {
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
pub(super) fn synced_blob(b: &CreateBlob, file: SyncedFile) -> Result<LaidOut, Error> {
    let details = BlobDetails {
        filename: b
            .filename
            .clone()
            .or_else(|| file.key.rsplit('/').next().map(str::to_string)),
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
pub(super) fn url_blob(b: &CreateBlob, url: &url::Url) -> LaidOut {
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
pub(super) struct Given<'a> {
    pub(super) ty: FieldType,
    pub(super) path: &'a str,
    pub(super) key: String,
}

/// Inline bytes: bounded, of a content type that fits, matching any checksum given;
/// stored with the object.
pub(super) fn inline_blob(
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

/// Each blob checked and laid out, with the bytes to store for inline ones.
pub(super) fn build_blobs(
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
