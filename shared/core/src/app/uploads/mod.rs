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
use super::views::{record, MultipartView, Page, PartView, UploadPage, UploadStats, UploadView};
use super::{from_item, keys, pointer, tasks, to_item};
use crate::context::AppContext;
use crate::domain::entities::{Bucket, Upload};
use crate::domain::schema::FieldType;
use crate::domain::status::UploadStatus;
use crate::domain::time::now;
use crate::error::Error;
use crate::ports::{Cond, Query, StoreError, Update, Write};
use crate::store::index;

mod bulk;
mod confirm;
mod create;

pub use bulk::{confirm_bulk, run_confirm_bulk};
pub use confirm::{confirm, on_stored};
use create::*;
pub use create::{create, create_bulk, Target};

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
