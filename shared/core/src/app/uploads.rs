//! Direct uploads: a presigned PUT straight to the blob store, then a confirm (explicit,
//! or from the store's own notification) that turns the bytes into an object.
//!
//! The store enforces what the URL pins (content type, exact length, sha256), so the
//! bytes are not taken on trust. Completing an upload and creating its object are one
//! transaction, conditional on the upload still being UploadStatus::Pending: whichever confirm comes
//! first wins, the others return its result, and there is exactly one object.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::lists::{collect, ListRequest};
pub use super::messages::{ConfirmBulkMessage, ConfirmItem, TaskMessage};
use super::objects::{self, Confirming, CreateBlob, CreateObject, Policy, StoredFile};
use super::views::{
    record, ConfirmQueued, MultipartView, Page, PartView, TaskView, UploadPage, UploadStats,
    UploadView, UploadsCreated,
};
use super::{from_item, keys, pointer, tasks, to_item};
use crate::context::AppContext;
use crate::domain::entities::{Bucket, Namespace, Upload};
use crate::domain::events::EventType;
use crate::domain::ids::IdKind;
use crate::domain::schema::{BucketSchema, FieldType};
use crate::domain::status::{RecordStatus, TaskStatus, UploadStatus};
use crate::domain::time::{now, rfc3339};
use crate::error::Error;
use crate::ports::{
    BlobMeta, Cond, Event, PartRef, PutConstraints, Query, QueueName, StoreError, Update, Write,
};
use crate::store::index;

/// S3 takes at most 5 GiB in one PUT; larger files go in parts.
pub const MAX_SINGLE_PUT: i64 = 5 * 1024 * 1024 * 1024;
/// S3's largest object (10 000 parts of at most 5 GiB, capped at 5 TiB).
pub const MAX_OBJECT: i64 = 5 * 1024 * 1024 * 1024 * 1024;
const MAX_PARTS: i64 = 10_000;
const MIB: i64 = 1024 * 1024;
/// Uploads one bulk create or confirm may hold.
pub const MAX_BULK: usize = 100;
/// Completed records stay this long after their URL expired (DynamoDB TTL).
const RECORD_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Above this size a confirm trusts the store (which enforced any pinned checksum)
/// rather than reading the whole file again to hash it.
const MAX_HASH_ON_CONFIRM: u64 = 1024 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUpload {
    /// A plain file name (no path).
    pub filename: String,
    /// Pinned into the URL: the store refuses another type.
    pub content_type: String,
    /// When given, pinned into the URL: the store refuses another length.
    #[serde(default)]
    pub file_size_bytes: Option<i64>,
    /// Seconds, 60 to 86400 (default 3600).
    #[serde(default)]
    pub presigned_url_expiration: Option<i64>,
    #[serde(default)]
    pub create_object_on_confirm: Option<bool>,
    #[serde(default)]
    pub object_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub blob_property: Option<String>,
    #[serde(default)]
    pub blob_type: Option<String>,
    /// sha256 hex; pinned into the URL (`x-amz-checksum-sha256`) and used for duplicates.
    #[serde(default)]
    pub file_hash: Option<String>,
    #[serde(default)]
    pub skip_duplicates: Option<bool>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUploadsBulk {
    pub uploads: Vec<CreateUpload>,
    #[serde(default)]
    pub shared_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub shared_object_metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmUpload {
    /// The ETag the store returned for the PUT; checked when given.
    #[serde(default)]
    pub etag: Option<String>,
    /// The size the client sent; checked when given.
    #[serde(default)]
    pub file_size_bytes: Option<i64>,
    /// Submit a batch of the created object right away (synchronous confirms).
    #[serde(default)]
    pub auto_submit_batch: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBulk {
    pub confirmations: Vec<ConfirmItem>,
}

fn epoch(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// A file name without any path, safe to show and to put in a storage key.
fn check_filename(name: &str, field: &str) -> Result<(), Error> {
    crate::domain::names::check_file_name(name).map_err(|reason| Error::field(field, reason))
}

/// The filename as it appears in the storage key: anything beyond a safe set becomes `_`.
fn storage_name(name: &str) -> String {
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

fn check_mime(ct: &str, field: &str) -> Result<(), Error> {
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

/// The blob type a content type implies.
pub fn blob_type_for(content_type: &str) -> FieldType {
    [
        FieldType::Image,
        FieldType::Video,
        FieldType::Audio,
        FieldType::Pdf,
        FieldType::Json,
        FieldType::Excel,
        FieldType::Text,
    ]
    .into_iter()
    .find(|t| t.accepts_mime(content_type))
    .unwrap_or(FieldType::Binary)
}

/// Which schema property the upload fills when none is named: the only blob property
/// of its type, else the only blob property, else the file name without extension.
fn default_property(schema: &BucketSchema, ty: FieldType, filename: &str) -> String {
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
fn check_file(
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
fn check_object_fits(
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
    schema.check_object(&meta, [property]).map_err(|e| {
        let field = e
            .field
            .strip_prefix("metadata")
            .map_or(e.field.clone(), |rest| format!("object_metadata{rest}"));
        Error::field(f(&field), e.reason)
    })?;
    Ok(())
}

/// Validates a create request; nothing is issued unless the upload could complete.
fn draft(
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
    let create_object = req.create_object_on_confirm.unwrap_or(true);
    if create_object {
        check_object_fits(schema, &req, &property, ty, &f)?;
    }
    let upload_id = IdKind::Upload.new_id();
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
        message: None,
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

/// Where a single PUT's bytes move at confirm (a key no presigned URL names); a
/// multipart upload's assembled file stays where it is, since a completed multipart
/// upload takes no more parts.
fn promoted_key(up: &Upload) -> String {
    if up.multipart_id.is_some() {
        return up.storage_key.clone();
    }
    let filename = up.storage_key.rsplit('/').next().unwrap_or_default();
    keys::upload_blob_key(&up.namespace_id, &up.bucket_id, &up.upload_id, filename)
}

/// The key objects read this upload's bytes from, once it is completed. Uploads
/// completed before promotion existed are read where they were written.
fn confirmed_key(up: &Upload) -> Option<&str> {
    match (&up.blob_key, up.status) {
        (Some(k), _) => Some(k),
        (None, UploadStatus::Completed) => Some(&up.storage_key),
        (None, _) => None,
    }
}

fn expires_epoch(up: &Upload) -> i64 {
    time::OffsetDateTime::parse(
        &up.expires_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map(epoch)
    .unwrap_or(0)
}

fn is_due(up: &Upload) -> bool {
    up.status == UploadStatus::Pending && epoch(now()) > expires_epoch(up)
}

/// The record as stored: pending uploads sit in the sweeper's index, ordered by expiry.
fn record_item(up: &Upload) -> crate::ports::Item {
    let mut item = to_item(&keys::upload(&up.bucket_id, &up.upload_id), up);
    if up.status == UploadStatus::Pending {
        index::Entry::PendingUpload {
            upload_id: &up.upload_id,
            expires_epoch: expires_epoch(up),
        }
        .insert_into(&mut item);
    }
    crate::store::set_expiry(
        &mut item,
        time::OffsetDateTime::from_unix_timestamp(expires_epoch(up) + RECORD_TTL.as_secs() as i64)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
    );
    item
}

/// Leaving UploadStatus::Pending: out of the sweeper's index.
fn leave_pending(status: UploadStatus, mut updates: Vec<Update>) -> Vec<Update> {
    updates.push(Update::Set("status".into(), json!(status)));
    updates.extend(index::remove());
    updates.push(Update::Add("version".into(), 1));
    updates
}

/// An upload's view, with where to send its bytes when `target` is given.
pub fn upload_view(up: &Upload, target: Option<Target>, duplicate_of: Option<&str>) -> UploadView {
    let (presigned_url, multipart) = match target {
        Some(Target::Single(url)) => (Some(url), None),
        Some(Target::Parts {
            multipart_id,
            part_size,
            urls,
        }) => (
            None,
            Some(MultipartView {
                multipart_upload_id: multipart_id,
                part_size,
                parts: urls
                    .into_iter()
                    .map(|(part_number, size, presigned_url)| PartView {
                        part_number,
                        size,
                        presigned_url,
                    })
                    .collect(),
            }),
        ),
        None => (None, None),
    };
    UploadView::new(up, presigned_url, multipart, duplicate_of)
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

/// Fresh URLs for a pending upload, valid for the rest of its time.
async fn presign(ctx: &AppContext, up: &Upload) -> Result<Target, Error> {
    let left = Duration::from_secs((expires_epoch(up) - epoch(now())).max(1) as u64);
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
fn part_size_for(ctx: &AppContext, size: Option<i64>) -> Option<i64> {
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
async fn duplicate_of(
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

async fn issue(ctx: &AppContext, bucket: &Bucket, up: Upload) -> Result<UploadView, Error> {
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

pub async fn load(
    ctx: &AppContext,
    bucket: &Bucket,
    upload_id: &str,
) -> Result<Option<Upload>, Error> {
    match ctx
        .table
        .get(&keys::upload(&bucket.bucket_id, upload_id))
        .await?
    {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

async fn must_load(ctx: &AppContext, bucket: &Bucket, upload_id: &str) -> Result<Upload, Error> {
    load(ctx, bucket, upload_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("upload {upload_id:?}")))
}

/// Moves a pending upload to `status`, removing any bytes that reached the store.
/// Returns the upload as it is afterwards (another writer may have moved it first).
async fn end_pending(
    ctx: &AppContext,
    bucket: &Bucket,
    up: &Upload,
    status: UploadStatus,
    message: &str,
) -> Result<Upload, Error> {
    let updates = leave_pending(status, vec![Update::Set("message".into(), json!(message))]);
    let write = Write::Update {
        key: keys::upload(&bucket.bucket_id, &up.upload_id),
        updates,
        cond: Cond::Equals("status".into(), json!(UploadStatus::Pending)),
    };
    match ctx.table.write(write).await {
        Ok(_) => {
            // The URL stays valid until it expires: the store refuses what it can of any
            // later PUT, and `on_stored` removes what it could not.
            ctx.blobs.retire(&up.storage_key).await?;
            if let Some(m) = &up.multipart_id {
                ctx.blobs.abort_multipart(&up.storage_key, m).await?;
            } else {
                // A confirm that promoted the bytes but then failed (say, on a unique key).
                ctx.blobs.delete(&promoted_key(up)).await?;
            }
            tracing::info!(upload_id = %up.upload_id, %status, "upload ended");
        }
        Err(StoreError::ConditionFailed { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    must_load(ctx, bucket, &up.upload_id).await
}

/// An upload as it is now: a pending one past its expiry is failed on the spot.
pub async fn get(
    ctx: &AppContext,
    bucket: &Bucket,
    upload_id: &str,
) -> Result<(Upload, Option<Target>), Error> {
    let up = must_load(ctx, bucket, upload_id).await?;
    if is_due(&up) {
        return Ok((
            end_pending(
                ctx,
                bucket,
                &up,
                UploadStatus::Failed,
                "expired: not confirmed before expires_at",
            )
            .await?,
            None,
        ));
    }
    let url = if up.status == UploadStatus::Pending {
        Some(presign(ctx, &up).await?)
    } else {
        None
    };
    Ok((up, url))
}

/// Cancels a pending upload and removes its bytes; a completed one is refused.
pub async fn cancel(ctx: &AppContext, bucket: &Bucket, upload_id: &str) -> Result<Upload, Error> {
    let up = must_load(ctx, bucket, upload_id).await?;
    match up.status {
        UploadStatus::Completed => Err(Error::Conflict(format!(
            "upload {upload_id} is completed; delete its object ({}) instead",
            up.object_id.as_deref().unwrap_or("none")
        ))),
        UploadStatus::Pending => {
            let after = end_pending(ctx, bucket, &up, UploadStatus::Canceled, "canceled").await?;
            if after.status == UploadStatus::Completed {
                return Err(Error::Conflict(format!(
                    "upload {upload_id} completed before it could be canceled"
                )));
            }
            Ok(after)
        }
        _ => Ok(up),
    }
}

/// A confirm of a completed upload replays it, if it describes the file confirmed; a size
/// or ETag that differs is a 409 naming the field.
fn confirmed_again(up: Upload, req: &ConfirmUpload) -> Result<Upload, Error> {
    if let (Some(given), Some(stored)) = (req.file_size_bytes, up.file_size_bytes) {
        if given != stored {
            return Err(Error::Conflict(format!(
                "file_size_bytes: upload {} was confirmed with {stored} bytes, not {given}",
                up.upload_id
            )));
        }
    }
    if let (Some(given), Some(stored)) = (&req.etag, &up.etag) {
        if !same_etag(given, stored) {
            return Err(Error::Conflict(format!(
                "etag: upload {} was confirmed with ETag {stored}, not {given}",
                up.upload_id
            )));
        }
    }
    Ok(up)
}

/// The upload, replayed as `confirmed_again` does, if another confirm (or the store's
/// notice) completed it while this one ran.
async fn completed_meanwhile(
    ctx: &AppContext,
    bucket: &Bucket,
    upload_id: &str,
    req: &ConfirmUpload,
) -> Result<Option<Upload>, Error> {
    let after = must_load(ctx, bucket, upload_id).await?;
    if after.status == UploadStatus::Completed {
        return confirmed_again(after, req).map(Some);
    }
    Ok(None)
}

fn same_etag(a: &str, b: &str) -> bool {
    a.trim().trim_matches('"') == b.trim().trim_matches('"')
}

/// Joins a multipart upload's parts, once every part has arrived at its exact size.
async fn assemble(ctx: &AppContext, up: &Upload, multipart_id: &str) -> Result<(), Error> {
    let (Some(size), Some(part_size)) = (up.file_size_bytes, up.part_size) else {
        return Ok(());
    };
    let expected = (size + part_size - 1) / part_size;
    let parts = ctx.blobs.list_parts(&up.storage_key, multipart_id).await?;
    let complete = parts.len() as i64 == expected
        && parts.iter().enumerate().all(|(i, p)| {
            let n = i as i64 + 1;
            p.number as i64 == n && p.size as i64 == part_size.min(size - (n - 1) * part_size)
        });
    if !complete {
        return Err(Error::Conflict(format!(
            "upload {} has {} of its {expected} parts: PUT every part to its URL, then confirm",
            up.upload_id,
            parts.len()
        )));
    }
    match ctx
        .blobs
        .complete_multipart(&up.storage_key, multipart_id, &parts)
        .await
    {
        Ok(()) => Ok(()),
        // A racing confirm completed it first: the object is there now.
        Err(_) if ctx.blobs.head(&up.storage_key).await?.is_some() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Confirms an upload: checks the stored bytes, completes it and (unless asked not
/// to) creates its object, all at once. Confirming again returns the same result.
pub async fn confirm(
    ctx: &AppContext,
    bucket: &Bucket,
    upload_id: &str,
    req: &ConfirmUpload,
    policy: Option<&str>,
) -> Result<Upload, Error> {
    let up = must_load(ctx, bucket, upload_id).await?;
    if let Step::Done(done) = still_pending(ctx, bucket, &up, req).await? {
        return Ok(*done);
    }
    let head = match stored_file(ctx, bucket, &up, req).await? {
        Step::Next(head) => head,
        Step::Done(done) => return Ok(*done),
    };
    let sha256 = checked_hash(ctx, bucket, &up, &head).await?;
    let blob_key = match promote(ctx, bucket, &up, &head, req).await? {
        Step::Next(key) => key,
        Step::Done(done) => return Ok(*done),
    };
    let stamp = rfc3339(now());
    let checked = Checked {
        head: &head,
        sha256,
        blob_key,
        stamp: &stamp,
    };
    let outcome = complete(ctx, bucket, &up, &checked, policy).await;
    let after = must_load(ctx, bucket, upload_id).await?;
    match outcome {
        Ok(()) => {}
        // Another confirm (or the store's notification) completed it first: same result.
        Err(_) if after.status == UploadStatus::Completed => return Ok(after),
        Err(Error::Conflict(_)) if after.status != UploadStatus::Pending => {
            return Err(Error::Conflict(format!(
                "upload {upload_id} is {}",
                after.status
            )))
        }
        Err(e) => return Err(e),
    }
    if up.multipart_id.is_none() {
        ctx.blobs.retire(&up.storage_key).await?;
    }
    announce(ctx, bucket, &after, stamp).await;
    Ok(after)
}

/// A step of a confirm goes on with what it found, or ends the confirm with the upload
/// as it now is (completed by a racing confirm, or confirmed before).
enum Step<T> {
    Next(T),
    Done(Box<Upload>),
}

/// What a confirm checked of the stored file, to complete the upload with.
struct Checked<'a> {
    head: &'a BlobMeta,
    sha256: Option<String>,
    /// Where the checked bytes now are (out of the presigned URL's reach).
    blob_key: String,
    stamp: &'a str,
}

/// Whether the upload can be confirmed: pending and not expired. A completed one answers
/// as before (if the request matches it).
async fn still_pending(
    ctx: &AppContext,
    bucket: &Bucket,
    up: &Upload,
    req: &ConfirmUpload,
) -> Result<Step<()>, Error> {
    let upload_id = &up.upload_id;
    match up.status {
        UploadStatus::Completed => {
            return confirmed_again(up.clone(), req).map(|u| Step::Done(Box::new(u)))
        }
        UploadStatus::Pending => {}
        other => {
            return Err(Error::Conflict(format!(
                "upload {upload_id} is {other}{}",
                up.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )))
        }
    }
    if !is_due(up) {
        return Ok(Step::Next(()));
    }
    let why = "expired: not confirmed before expires_at";
    let after = end_pending(ctx, bucket, up, UploadStatus::Failed, why).await?;
    if after.status == UploadStatus::Completed {
        return Ok(Step::Done(Box::new(after)));
    }
    Err(Error::Conflict(format!(
        "upload {upload_id} expired at {} before it was confirmed",
        up.expires_at
    )))
}

/// The stored file (a multipart upload's parts assembled first), checked against the
/// size and ETag the request gives.
async fn stored_file(
    ctx: &AppContext,
    bucket: &Bucket,
    up: &Upload,
    req: &ConfirmUpload,
) -> Result<Step<BlobMeta>, Error> {
    let upload_id = &up.upload_id;
    let mut head = ctx.blobs.head(&up.storage_key).await?;
    if let (None, Some(multipart_id)) = (&head, &up.multipart_id) {
        assemble(ctx, up, multipart_id).await?;
        head = ctx.blobs.head(&up.storage_key).await?;
    }
    let Some(head) = head else {
        // A racing confirm may have completed it and retired the URL's key.
        if let Some(done) = completed_meanwhile(ctx, bucket, upload_id, req).await? {
            return Ok(Step::Done(Box::new(done)));
        }
        return Err(Error::Conflict(format!(
            "upload {upload_id} has no file yet: PUT the file to its presigned_url, then confirm"
        )));
    };
    if let Some(size) = req.file_size_bytes {
        if size as u64 != head.size {
            return Err(Error::field(
                "file_size_bytes",
                format!("the stored file is {} bytes, not {size}", head.size),
            ));
        }
    }
    if let (Some(given), Some(stored)) = (&req.etag, &head.etag) {
        if !same_etag(given, stored) {
            return Err(Error::field(
                "etag",
                format!("the stored file's ETag is {stored}, not {given}"),
            ));
        }
    }
    Ok(Step::Next(head))
}

/// The stored file's sha256 (hashed here when the store has none and the file is small
/// enough); a file that does not match what the upload declared fails it.
async fn checked_hash(
    ctx: &AppContext,
    bucket: &Bucket,
    up: &Upload,
    head: &BlobMeta,
) -> Result<Option<String>, Error> {
    let sha256 = match head.sha256.clone() {
        Some(h) => Some(h),
        None if head.size <= MAX_HASH_ON_CONFIRM => ctx.blobs.sha256(&up.storage_key).await?,
        None => None,
    };
    // The store enforced what the URL pinned; this catches a store that could not.
    let declared_mismatch = up.file_size_bytes.is_some_and(|s| s as u64 != head.size)
        || matches!((&up.file_hash, &sha256), (Some(want), Some(got)) if want != got);
    if !declared_mismatch {
        return Ok(sha256);
    }
    let why = "the stored file does not match the declared size or sha256";
    end_pending(ctx, bucket, up, UploadStatus::Failed, why).await?;
    Err(Error::Conflict(format!(
        "upload {} failed: the stored file does not match what was declared",
        up.upload_id
    )))
}

/// What objects read is exactly what was checked: the bytes move, if their ETag is
/// still the one checked, to a key the presigned URL cannot write.
async fn promote(
    ctx: &AppContext,
    bucket: &Bucket,
    up: &Upload,
    head: &BlobMeta,
    req: &ConfirmUpload,
) -> Result<Step<String>, Error> {
    let upload_id = &up.upload_id;
    let blob_key = promoted_key(up);
    if up.multipart_id.is_some() {
        return Ok(Step::Next(blob_key));
    }
    let etag = head.etag.as_deref().ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "the store gave no ETag for upload {upload_id}"
        ))
    })?;
    match ctx.blobs.promote(&up.storage_key, &blob_key, etag).await {
        Ok(_) => Ok(Step::Next(blob_key)),
        Err(StoreError::ConditionFailed { .. }) => {
            if let Some(done) = completed_meanwhile(ctx, bucket, upload_id, req).await? {
                return Ok(Step::Done(Box::new(done)));
            }
            Err(Error::Conflict(format!(
                "upload {upload_id}: the file was replaced while it was being confirmed; confirm again"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Marks the upload completed (conditional on it still pending) with its content-hash
/// index, and creates its object in the same transaction when it asked for one.
async fn complete(
    ctx: &AppContext,
    bucket: &Bucket,
    up: &Upload,
    checked: &Checked<'_>,
    policy: Option<&str>,
) -> Result<(), Error> {
    let head = checked.head;
    let updates = leave_pending(
        UploadStatus::Completed,
        vec![
            Update::Set("blob_key".into(), json!(checked.blob_key)),
            Update::Set("completed_at".into(), json!(checked.stamp)),
            Update::Set("verified_at".into(), json!(checked.stamp)),
            Update::Set("etag".into(), json!(head.etag)),
            Update::Set("file_hash".into(), json!(checked.sha256)),
            Update::Set("file_size_bytes".into(), json!(head.size)),
            Update::Set("message".into(), Value::Null),
        ],
    );
    let complete = Write::Update {
        key: keys::upload(&bucket.bucket_id, &up.upload_id),
        updates,
        cond: Cond::Equals("status".into(), json!(UploadStatus::Pending)),
    };
    // The content-hash index (for skip_duplicates) is written with the completion.
    let hash_index: Vec<Write> = checked
        .sha256
        .iter()
        .map(|h| {
            Write::put(pointer(
                &keys::upload_hash(&bucket.bucket_id, h),
                "upload_id",
                &up.upload_id,
            ))
        })
        .collect();
    if !up.create_object_on_confirm {
        let mut ops = vec![complete];
        ops.extend(hash_index);
        return ctx.table.transact(ops).await.map_err(Error::from);
    }
    let confirming = Confirming {
        file: StoredFile {
            upload_id: up.upload_id.clone(),
            storage_key: checked.blob_key.clone(),
            size: head.size as i64,
            mime: up.content_type.clone(),
            hash: checked.sha256.clone(),
            filename: up.filename.clone(),
        },
        write: complete,
        also: hash_index,
    };
    let request = CreateObject {
        blobs: vec![CreateBlob {
            property: up.blob_property.clone(),
            blob_type: up.blob_type.clone(),
            upload_id: Some(up.upload_id.clone()),
            ..CreateBlob::default()
        }],
        metadata: up.object_metadata.clone(),
        ..CreateObject::default()
    };
    let policy = Policy::choose(policy, bucket)?;
    let mut results =
        objects::create_many(ctx, bucket, vec![Ok(request)], policy, Some(&confirming)).await?;
    results.pop().expect("one result per request").map(|_| ())
}

/// `upload.completed`, for the org's webhooks; a failure to publish is logged.
async fn announce(ctx: &AppContext, bucket: &Bucket, after: &Upload, stamp: String) {
    let event = Event {
        event_id: IdKind::Event.new_id(),
        event_type: EventType::UploadCompleted,
        org_id: bucket.org_id.clone(),
        namespace_id: Some(bucket.namespace_id.clone()),
        created_at: stamp,
        data: json!({"upload_id": after.upload_id, "bucket_id": bucket.bucket_id, "object_id": after.object_id}),
    };
    if let Err(e) = super::events::publish(ctx, vec![event]).await {
        tracing::warn!(error = %e, "publishing upload.completed failed");
    }
}

/// The store says bytes arrived at `key` (S3 notification, or the local PUT): confirm
/// the upload they belong to. Keys that are not uploads are ignored.
pub async fn on_stored(ctx: &AppContext, key: &str) -> Result<(), Error> {
    let ns_id = key.split('/').next().unwrap_or_default();
    let Some((bucket_id, upload_id)) = keys::parse_upload_storage_key(key) else {
        return Ok(());
    };
    let Some(item) = ctx.table.get(&keys::bucket(ns_id, bucket_id)).await? else {
        return Ok(());
    };
    let bucket: Bucket = from_item(item)?;
    if bucket.status != RecordStatus::Active {
        return Ok(());
    }
    let Some(up) = load(ctx, &bucket, upload_id).await? else {
        return Ok(());
    };
    if up.status != UploadStatus::Pending {
        // A late PUT to a finished upload's URL, which S3 cannot refuse before the URL
        // expires: nothing reads those bytes, so they go.
        if up.storage_key == key && confirmed_key(&up) != Some(key) {
            ctx.blobs.retire(key).await?;
            tracing::info!(upload_id, status = %up.status, "late write to a finished upload removed");
        }
        return Ok(());
    }
    match confirm(ctx, &bucket, upload_id, &ConfirmUpload::default(), None).await {
        Ok(up) => {
            tracing::info!(upload_id, object_id = ?up.object_id, "upload confirmed by the store's notification");
            Ok(())
        }
        // A canceled, failed or unknown upload: nothing to do.
        Err(Error::Conflict(m)) | Err(Error::NotFound(m)) => {
            tracing::info!(upload_id, reason = %m, "stored bytes not confirmed");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Fails every pending upload whose URL expired, and removes any bytes they left.
pub async fn sweep_expired(ctx: &AppContext) -> Result<usize, Error> {
    let mut query = index::uploads_expired_by(epoch(now())).limit(100);
    let mut swept = 0;
    for _ in 0..10 {
        let page = ctx.table.query(&query).await?;
        for item in page.items {
            let up: Upload = from_item(item)?;
            let key = keys::bucket(&up.namespace_id, &up.bucket_id);
            let Some(b) = ctx.table.get(&key).await? else {
                continue;
            };
            let bucket: Bucket = from_item(b)?;
            if is_due(&up) {
                end_pending(
                    ctx,
                    &bucket,
                    &up,
                    UploadStatus::Failed,
                    "expired: not confirmed before expires_at",
                )
                .await?;
                swept += 1;
            }
        }
        query.cursor = page.cursor;
        if query.cursor.is_none() {
            break;
        }
    }
    Ok(swept)
}

pub async fn list(
    ctx: &AppContext,
    bucket: &Bucket,
    req: &ListRequest,
) -> Result<UploadPage, Error> {
    let size = req.page_size()?;
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id))
        .prefix("UPL#")
        .cursor(req.cursor()?)
        .descending(req.descending()?);
    let filter = req.filter(&["filename", "upload_id"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let mut up: Upload = from_item(item)?;
        if is_due(&up) {
            // Shown as it is about to become; the sweeper (or a read) writes it.
            up.status = UploadStatus::Failed;
            up.message = Some("expired: not confirmed before expires_at".into());
        }
        record(&upload_view(&up, None, None)).map(Some)
    })
    .await?;
    let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
    let mut total_size = 0;
    for r in &results {
        *by_status
            .entry(r["status"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
        total_size += r["file_size_bytes"].as_i64().unwrap_or(0);
    }
    let count = results.len() as i64;
    let results = req.project(results);
    Ok(UploadPage {
        page: Page::new(results, next, size, None),
        stats: UploadStats {
            total_uploads: count,
            total_size_bytes: total_size,
            uploads_by_status: by_status,
            avg_file_size_bytes: if count > 0 {
                total_size as f64 / count as f64
            } else {
                0.0
            },
            unique_buckets: (count > 0).into(),
        },
    })
}

/// Queues a bulk confirmation as a task (enqueue first; the task record committed
/// after makes it real, as with purges).
pub async fn confirm_bulk(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    req: ConfirmBulk,
) -> Result<ConfirmQueued, Error> {
    if req.confirmations.is_empty() || req.confirmations.len() > MAX_BULK {
        return Err(Error::field(
            "confirmations",
            format!("must hold 1 to {MAX_BULK} confirmations"),
        ));
    }
    let task = tasks::new_task(
        &ns.org_id,
        Some(&ns.namespace_id),
        "api_buckets_uploads_batch_confirm",
        req.confirmations
            .iter()
            .map(|c| json!({"upload_id": c.upload_id}))
            .collect(),
    );
    let msg = TaskMessage::ConfirmUploads(ConfirmBulkMessage {
        task_id: task.task_id.clone(),
        org_id: ns.org_id.clone(),
        namespace_id: ns.namespace_id.clone(),
        bucket_id: bucket.bucket_id.clone(),
        items: req.confirmations.clone(),
    });
    ctx.queue
        .send(
            QueueName::Tasks,
            vec![msg.to_body()],
            Duration::from_secs(1),
        )
        .await?;
    ctx.table.write(tasks::create_write(&task)).await?;
    Ok(ConfirmQueued {
        task_id: task.task_id.clone(),
        status: task.status,
        confirmations_count: req.confirmations.len(),
        task: TaskView::from(&task),
        message: "Batch confirmation is being processed in the background.".into(),
    })
}

/// The worker side of a batch confirm: each confirmation on its own, results recorded.
pub async fn run_confirm_bulk(
    ctx: &AppContext,
    msg: &ConfirmBulkMessage,
    receive_count: u32,
) -> Result<(), Error> {
    let Some(task) = tasks::for_message(ctx, &msg.org_id, &msg.task_id, receive_count).await?
    else {
        return Ok(());
    };
    if task.status != TaskStatus::Pending && task.status != TaskStatus::InProgress {
        return Ok(());
    }
    let Some(item) = ctx
        .table
        .get(&keys::bucket(&msg.namespace_id, &msg.bucket_id))
        .await?
    else {
        tasks::set_status(
            ctx,
            &msg.org_id,
            &msg.task_id,
            TaskStatus::Failed,
            None,
            Some("bucket not found".into()),
        )
        .await?;
        return Ok(());
    };
    let bucket: Bucket = from_item(item)?;
    tasks::set_status(
        ctx,
        &msg.org_id,
        &msg.task_id,
        TaskStatus::InProgress,
        None,
        None,
    )
    .await?;
    let mut outputs = Vec::with_capacity(msg.items.len());
    let mut failures = 0;
    for c in &msg.items {
        let req = ConfirmUpload {
            etag: c.etag.clone(),
            file_size_bytes: c.file_size_bytes,
            auto_submit_batch: None,
        };
        match confirm(ctx, &bucket, &c.upload_id, &req, None).await {
            Ok(up) => outputs.push(
                json!({"upload_id": c.upload_id, "status": up.status, "object_id": up.object_id}),
            ),
            Err(e) if e.retryable() => return Err(e),
            Err(e) => {
                failures += 1;
                outputs.push(
                    json!({"upload_id": c.upload_id, "status": UploadStatus::Failed, "error": e.to_string()}),
                );
            }
        }
    }
    let status = if failures == 0 {
        TaskStatus::Completed
    } else {
        TaskStatus::CompletedWithErrors
    };
    tasks::set_status(ctx, &msg.org_id, &msg.task_id, status, Some(outputs), None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_cannot_carry_paths() {
        for bad in [
            "",
            "..",
            "a/b.jpg",
            "..\\x",
            "../etc/passwd",
            "a\u{0}b",
            "x..y",
        ] {
            assert!(check_filename(bad, "filename").is_err(), "{bad:?}");
        }
        assert!(check_filename("photo 1.jpg", "filename").is_ok());
        assert_eq!(storage_name("photo 1 (é).jpg"), "photo_1____.jpg");
    }

    #[test]
    fn content_types_imply_blob_types() {
        assert_eq!(blob_type_for("image/jpeg"), FieldType::Image);
        assert_eq!(blob_type_for("video/mp4"), FieldType::Video);
        assert_eq!(blob_type_for("application/pdf"), FieldType::Pdf);
        assert_eq!(blob_type_for("text/plain; charset=utf-8"), FieldType::Text);
        assert_eq!(blob_type_for("application/octet-stream"), FieldType::Binary);
    }

    #[test]
    fn storage_keys_round_trip() {
        let key = keys::upload_storage_key("ns_1", "bkt_1", "upl_1", "a.jpg");
        assert_eq!(
            keys::parse_upload_storage_key(&key),
            Some(("bkt_1", "upl_1"))
        );
        assert_eq!(
            keys::parse_upload_storage_key("ns_1/bkt_1/objects/obj_1/blob_1"),
            None
        );
    }
}
