//! Confirming an upload: the stored file checked against what was declared, moved out of the URL's reach, and completed with its object in one transaction.

use serde_json::{json, Value};

use super::{from_item, keys, pointer};
use crate::app::objects::{self, Confirming, CreateBlob, CreateObject, Policy, StoredFile};
use crate::context::AppContext;
use crate::domain::entities::{Bucket, Upload};
use crate::domain::events::EventType;
use crate::domain::ids::IdKind;
use crate::domain::status::{RecordStatus, UploadStatus};
use crate::domain::time::{now, rfc3339};
use crate::error::Error;
use crate::ports::{BlobMeta, Cond, Event, StoreError, Update, Write};

use super::*;

/// A confirm of a completed upload replays it, if it describes the file confirmed; a size
/// or ETag that differs is a 409 naming the field.
pub(super) fn confirmed_again(up: Upload, req: &ConfirmUpload) -> Result<Upload, Error> {
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
pub(super) async fn completed_meanwhile(
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

pub(super) fn same_etag(a: &str, b: &str) -> bool {
    a.trim().trim_matches('"') == b.trim().trim_matches('"')
}

/// Joins a multipart upload's parts, once every part has arrived at its exact size.
pub(super) async fn assemble(
    ctx: &AppContext,
    up: &Upload,
    multipart_id: &str,
) -> Result<(), Error> {
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
pub(super) enum Step<T> {
    Next(T),
    Done(Box<Upload>),
}

/// What a confirm checked of the stored file, to complete the upload with.
pub(super) struct Checked<'a> {
    head: &'a BlobMeta,
    sha256: Option<String>,
    /// Where the checked bytes now are (out of the presigned URL's reach).
    blob_key: String,
    stamp: &'a str,
}

/// Whether the upload can be confirmed: pending and not expired. A completed one answers
/// as before (if the request matches it).
pub(super) async fn still_pending(
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
pub(super) async fn stored_file(
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
pub(super) async fn checked_hash(
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
pub(super) async fn promote(
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
pub(super) async fn complete(
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
            // An upload that makes no object keeps saying what its object needs.
            Update::Set(
                "message".into(),
                match up.create_object_on_confirm {
                    true => Value::Null,
                    false => json!(up.message),
                },
            ),
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
pub(super) async fn announce(ctx: &AppContext, bucket: &Bucket, after: &Upload, stamp: String) {
    let event = Event {
        event_id: IdKind::Event.new_id(),
        event_type: EventType::UploadCompleted,
        org_id: bucket.org_id.clone(),
        namespace_id: Some(bucket.namespace_id.clone()),
        created_at: stamp,
        data: json!({"upload_id": after.upload_id, "bucket_id": bucket.bucket_id, "object_id": after.object_id}),
    };
    if let Err(e) = crate::app::events::publish(ctx, vec![event]).await {
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
