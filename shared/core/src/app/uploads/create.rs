//! Issuing uploads: a request checked so nothing is issued that could not complete, its presigned URL (or multipart part URLs), one or many at once.

use std::time::Duration;

use serde_json::{Map, Value};

use super::keys;
use crate::app::views::{UploadView, UploadsCreated};
use crate::context::AppContext;
use crate::domain::entities::{Bucket, Upload};
use crate::domain::ids::IdKind;
use crate::domain::schema::{BucketSchema, FieldError, FieldType};
use crate::domain::status::UploadStatus;
use crate::domain::time::{now, rfc3339};
use crate::error::Error;
use crate::ports::{PartRef, PutConstraints, Write};

use super::*;

/// A file name without any path, safe to show and to put in a storage key.
pub(super) fn check_filename(name: &str, field: &str) -> Result<(), Error> {
    crate::domain::names::check_file_name(name).map_err(|reason| Error::field(field, reason))
}

/// The filename as it appears in the storage key: anything beyond a safe set becomes `_`.
pub(super) fn storage_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(super) fn check_mime(ct: &str, field: &str) -> Result<(), Error> {
    let essence = ct.split(';').next().unwrap_or("").trim();
    let ok = essence
        .split_once('/')
        .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty())
        && !ct.chars().any(|c| c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            field,
            format!("{ct:?} is not a MIME type (type/subtype)"),
        ))
    }
}

/// Which schema property the upload fills when none is named: the only blob property
/// of its type, else the only blob property, else the file name without extension.
pub(super) fn default_property(schema: &BucketSchema, ty: FieldType, filename: &str) -> String {
    let blobs: Vec<(&String, FieldType)> = schema
        .properties
        .iter()
        .filter(|(_, f)| f.ty.is_blob())
        .map(|(k, f)| (k, f.ty))
        .collect();
    let of_type: Vec<&&String> = blobs
        .iter()
        .filter(|(_, t)| *t == ty)
        .map(|(k, _)| k)
        .collect();
    if of_type.len() == 1 {
        return of_type[0].to_string();
    }
    if blobs.len() == 1 {
        return blobs[0].0.clone();
    }
    filename
        .rsplit_once('.')
        .map_or(filename, |(stem, _)| stem)
        .to_string()
}

/// The declared file: its size within bounds, an expiry the URL may have, a sha256 in
/// hex.
pub(super) fn check_file(
    req: &CreateUpload,
    f: &dyn Fn(&str) -> String,
) -> Result<(i64, Option<String>), Error> {
    if let Some(size) = req.file_size_bytes {
        if size < 1 {
            return Err(Error::field(f("file_size_bytes"), "must be at least 1"));
        }
        if size > MAX_OBJECT {
            return Err(Error::field(
                f("file_size_bytes"),
                format!("files are at most {MAX_OBJECT} bytes"),
            ));
        }
    }
    let expiration = req.presigned_url_expiration.unwrap_or(3600);
    if !(60..=86400).contains(&expiration) {
        return Err(Error::field(
            f("presigned_url_expiration"),
            "must be between 60 and 86400 seconds",
        ));
    }
    let file_hash = match &req.file_hash {
        Some(h) if h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()) => {
            Some(h.to_ascii_lowercase())
        }
        Some(_) => {
            return Err(Error::field(
                f("file_hash"),
                "must be a sha256 as 64 hex characters",
            ))
        }
        None => None,
    };
    Ok((expiration, file_hash))
}

/// The object a confirm will create fits the bucket: the blob's property and type, the
/// content type, the object's metadata.
pub(super) fn check_object_fits(
    schema: &BucketSchema,
    req: &CreateUpload,
    property: &str,
    ty: FieldType,
    f: &dyn Fn(&str) -> String,
) -> Result<(), Error> {
    schema.blob_field(property, ty, "").map_err(|e| {
        let which = if e.field.ends_with(".type") {
            "blob_type"
        } else {
            "blob_property"
        };
        Error::field(f(which), e.reason)
    })?;
    if !ty.accepts_mime(&req.content_type) {
        return Err(Error::field(
            f("content_type"),
            format!(
                "{:?} does not fit the {} property {property:?}",
                req.content_type,
                ty.as_str()
            ),
        ));
    }
    let mut meta = req.object_metadata.clone().unwrap_or_default();
    schema.apply_defaults(&mut meta);
    schema
        .check_object(&meta, [property])
        .map_err(|e| metadata_error(e, f))?;
    Ok(())
}

/// A schema refusal of the object's metadata, named as the upload request spells it.
fn metadata_error(e: FieldError, f: &dyn Fn(&str) -> String) -> Error {
    let field = e
        .field
        .strip_prefix("metadata")
        .map_or(e.field.clone(), |rest| format!("object_metadata{rest}"));
    Error::field(f(&field), e.reason)
}

/// Whether confirming the upload makes an object, and if not by default, why. A file the
/// schema cannot make an object of alone (it requires other blobs) is still uploaded when
/// the request did not ask for an object: the message says what the object needs and how
/// to make it from this upload. Asked for explicitly, such an upload is a 422.
fn object_on_confirm(
    schema: &BucketSchema,
    req: &CreateUpload,
    property: &str,
    ty: FieldType,
    upload_id: &str,
    f: &dyn Fn(&str) -> String,
) -> Result<(bool, Option<String>), Error> {
    if req.create_object_on_confirm == Some(false) {
        return Ok((false, None));
    }
    let missing = schema.missing_blobs([property]);
    if req.create_object_on_confirm == Some(true) || missing.is_empty() {
        check_object_fits(schema, req, property, ty, f)?;
        return Ok((true, None));
    }
    // What else the object would need is checked as if those blobs were there.
    let with_them: Vec<&str> = missing
        .iter()
        .map(String::as_str)
        .chain([property])
        .collect();
    schema
        .blob_field(property, ty, "")
        .map_err(|e| Error::field(f("blob_property"), e.reason))?;
    let mut meta = req.object_metadata.clone().unwrap_or_default();
    schema.apply_defaults(&mut meta);
    schema
        .check_object(&meta, with_them)
        .map_err(|e| metadata_error(e, f))?;
    Ok((
        false,
        Some(format!(
            "confirming stores the file without making an object: the bucket schema also requires {missing:?}; \
             create the object with those blobs and {{\"property\": \"{property}\", \"type\": \"{}\", \"upload_id\": \"{upload_id}\"}}",
            ty.as_str()
        )),
    ))
}

/// Validates a create request; nothing is issued unless the upload could complete.
pub(super) fn draft(
    bucket: &Bucket,
    schema: &BucketSchema,
    req: CreateUpload,
    at: &str,
) -> Result<Upload, Error> {
    let f = |name: &str| {
        if at.is_empty() {
            name.to_string()
        } else {
            format!("{at}.{name}")
        }
    };
    check_filename(&req.filename, &f("filename"))?;
    check_mime(&req.content_type, &f("content_type"))?;
    let (expiration, file_hash) = check_file(&req, &f)?;
    let ty = match &req.blob_type {
        Some(t) => FieldType::parse(t)
            .filter(|t| t.is_blob())
            .ok_or_else(|| Error::field(f("blob_type"), format!("{t:?} is not a blob type")))?,
        None => blob_type_for(&req.content_type),
    };
    let property = req
        .blob_property
        .clone()
        .unwrap_or_else(|| default_property(schema, ty, &req.filename));
    let upload_id = IdKind::Upload.new_id();
    let (create_object, message) = object_on_confirm(schema, &req, &property, ty, &upload_id, &f)?;
    let created = now();
    let expires = created + Duration::from_secs(expiration as u64);
    Ok(Upload {
        storage_key: keys::upload_storage_key(
            &bucket.namespace_id,
            &bucket.bucket_id,
            &upload_id,
            &storage_name(&req.filename),
        ),
        upload_id,
        bucket_id: bucket.bucket_id.clone(),
        namespace_id: bucket.namespace_id.clone(),
        filename: req.filename,
        content_type: req.content_type,
        file_size_bytes: req.file_size_bytes,
        presigned_url_expiration: expiration,
        create_object_on_confirm: create_object,
        object_metadata: req.object_metadata,
        blob_property: property,
        blob_type: ty.as_str().to_string(),
        file_hash,
        skip_duplicates: req.skip_duplicates.unwrap_or(true),
        metadata: req.metadata,
        status: UploadStatus::Pending,
        message,
        linked: false,
        object_id: None,
        etag: None,
        blob_key: None,
        multipart_id: None,
        part_size: None,
        created_at: rfc3339(created),
        expires_at: rfc3339(expires),
        completed_at: None,
        verified_at: None,
        version: 1,
    })
}

/// Where the client sends the bytes: one URL, or one per part.
pub enum Target {
    Single(String),
    Parts {
        multipart_id: String,
        part_size: i64,
        urls: Vec<(u32, i64, String)>,
    },
}

/// Fresh URLs for a pending upload, valid for the rest of its time, or for as long as
/// the signing credentials live if that is shorter (a Lambda role's session): a GET of
/// the upload signs fresh ones until it expires.
pub(super) async fn presign(ctx: &AppContext, up: &Upload) -> Result<Target, Error> {
    let mut left = Duration::from_secs((expires_epoch(up) - epoch(now())).max(1) as u64);
    if let Some(horizon) = ctx.blobs.signing_horizon().await? {
        left = left.min(horizon.max(Duration::from_secs(1)));
    }
    if let (Some(multipart_id), Some(part_size), Some(size)) =
        (&up.multipart_id, up.part_size, up.file_size_bytes)
    {
        let count = (size + part_size - 1) / part_size;
        let mut urls = Vec::with_capacity(count as usize);
        for n in 1..=count {
            let len = part_size.min(size - (n - 1) * part_size);
            let pinned = PutConstraints {
                content_length: Some(len as u64),
                part: Some(PartRef {
                    multipart_id: multipart_id.clone(),
                    number: n as u32,
                }),
                ..PutConstraints::default()
            };
            urls.push((
                n as u32,
                len,
                ctx.blobs
                    .presign_put(&up.storage_key, &pinned, left)
                    .await?,
            ));
        }
        return Ok(Target::Parts {
            multipart_id: multipart_id.clone(),
            part_size,
            urls,
        });
    }
    let pinned = PutConstraints {
        content_type: Some(up.content_type.clone()),
        content_length: up.file_size_bytes.map(|s| s as u64),
        sha256: up.file_hash.clone(),
        part: None,
    };
    Ok(Target::Single(
        ctx.blobs
            .presign_put(&up.storage_key, &pinned, left)
            .await?,
    ))
}

/// Above the threshold (and always above one PUT's limit) a file goes in parts.
pub(super) fn part_size_for(ctx: &AppContext, size: Option<i64>) -> Option<i64> {
    let size = size?;
    if size <= MAX_SINGLE_PUT && size as u64 <= ctx.config.multipart_threshold {
        return None;
    }
    let wanted = (ctx.config.multipart_part_size as i64)
        .max(5 * MIB)
        .max((size + MAX_PARTS - 1) / MAX_PARTS);
    Some((wanted + MIB - 1) / MIB * MIB)
}

/// A completed upload of this bucket with the same bytes, if `skip_duplicates` finds one.
pub(super) async fn duplicate_of(
    ctx: &AppContext,
    bucket: &Bucket,
    up: &Upload,
) -> Result<Option<Upload>, Error> {
    let (true, Some(hash)) = (up.skip_duplicates, &up.file_hash) else {
        return Ok(None);
    };
    let Some(ptr) = ctx
        .table
        .get(&keys::upload_hash(&bucket.bucket_id, hash))
        .await?
    else {
        return Ok(None);
    };
    let Some(id) = ptr.get("upload_id").and_then(Value::as_str) else {
        return Ok(None);
    };
    Ok(load(ctx, bucket, id)
        .await?
        .filter(|u| u.status == UploadStatus::Completed))
}

/// Creates one upload: its record, then its presigned URL (or the duplicate it matches).
pub async fn create(
    ctx: &AppContext,
    bucket: &Bucket,
    req: CreateUpload,
) -> Result<UploadView, Error> {
    let schema = bucket.schema()?;
    let up = draft(bucket, &schema, req, "")?;
    issue(ctx, bucket, up).await
}

pub(super) async fn issue(
    ctx: &AppContext,
    bucket: &Bucket,
    up: Upload,
) -> Result<UploadView, Error> {
    if let Some(existing) = duplicate_of(ctx, bucket, &up).await? {
        return Ok(upload_view(&existing, None, Some(&existing.upload_id)));
    }
    let mut up = up;
    if let Some(part_size) = part_size_for(ctx, up.file_size_bytes) {
        up.multipart_id = Some(
            ctx.blobs
                .create_multipart(&up.storage_key, &up.content_type)
                .await?,
        );
        up.part_size = Some(part_size);
    }
    ctx.table.write(Write::create(record_item(&up))).await?;
    let target = presign(ctx, &up).await?;
    Ok(upload_view(&up, Some(target), None))
}

pub async fn create_bulk(
    ctx: &AppContext,
    bucket: &Bucket,
    req: CreateUploadsBulk,
) -> Result<UploadsCreated, Error> {
    if req.uploads.is_empty() || req.uploads.len() > MAX_BULK {
        return Err(Error::field(
            "uploads",
            format!("must hold 1 to {MAX_BULK} uploads"),
        ));
    }
    let schema = bucket.schema()?;
    let merge = |shared: &Option<Map<String, Value>>, own: Option<Map<String, Value>>| match (
        shared, own,
    ) {
        (None, own) => own,
        (Some(s), own) => {
            let mut m = s.clone();
            m.extend(own.unwrap_or_default());
            Some(m)
        }
    };
    // Every upload is checked before any is issued.
    let mut drafts = Vec::with_capacity(req.uploads.len());
    for (i, mut u) in req.uploads.into_iter().enumerate() {
        u.metadata = merge(&req.shared_metadata, u.metadata.take());
        u.object_metadata = merge(&req.shared_object_metadata, u.object_metadata.take());
        drafts.push(draft(bucket, &schema, u, &format!("uploads[{i}]"))?);
    }
    let mut out = Vec::with_capacity(drafts.len());
    for up in drafts {
        out.push(issue(ctx, bucket, up).await?);
    }
    Ok(UploadsCreated {
        total: out.len(),
        uploads: out,
    })
}
