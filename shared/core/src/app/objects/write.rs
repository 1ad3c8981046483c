//! Creating objects: each prepared (validated, deduplicated, replacing what its unique key names), then written with its claims in one transaction per object, many objects at once.

use std::collections::HashMap;

use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};

use crate::app::{from_item, keys, pointer, to_item};
use crate::context::AppContext;
use crate::domain::entities::{Blob, Bucket, Object};
use crate::domain::events::EventType;
use crate::domain::ids::IdKind;
use crate::domain::schema::{BucketSchema, FieldType};
use crate::domain::status::{ObjectStatus, UploadStatus};
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Cond, Event, Measurement, StoreError, Update, Write};

use super::*;

pub(super) struct Payload {
    pub(super) key: String,
    pub(super) bytes: Bytes,
    pub(super) content_type: Option<String>,
}

/// One object ready to write.
pub(super) struct Prepared {
    pub(super) object: Object,
    pub(super) payloads: Vec<Payload>,
    /// The stored object this write replaces (same id), for update/upsert.
    pub(super) replaces: Option<Object>,
    pub(super) skip_duplicates: bool,
    /// sha256 of the request's idempotency key, claimed with the object.
    pub(super) idempotency: Option<String>,
    /// Uploads whose bytes the object takes, claimed with it.
    pub(super) links: Vec<(Write, Claim)>,
}

/// What each write of an object's transaction claims, to explain a failed condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Claim {
    Object,
    Fingerprint,
    UniqueKey,
    Idempotency,
    /// A completed upload this object takes the bytes of.
    Upload,
    /// The upload being confirmed into this object.
    Confirming,
}

pub(super) enum Outcome {
    Write(Box<Prepared>),
    /// An existing object returned unchanged (skip_duplicates matched).
    Replay(Box<Object>, Replayed),
}

/// What makes two objects duplicates: their blobs' content (hash, or URL when not read
/// yet), or their metadata when they hold no blobs.
pub(super) fn fingerprint(blobs: &[Blob], metadata: &Map<String, Value>) -> String {
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

pub(super) fn unique_hash(
    bucket: &Bucket,
    metadata: &Map<String, Value>,
) -> Result<Option<String>, Error> {
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

pub(super) async fn load(
    ctx: &AppContext,
    bucket: &Bucket,
    object_id: &str,
) -> Result<Option<Object>, Error> {
    find(ctx, &bucket.bucket_id, object_id).await
}

pub(super) async fn load_pointer(
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
pub(super) async fn link_uploads(
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

pub(super) async fn prepare(
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
        lifecycle: None,
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
pub(super) fn check_shape(req: &CreateObject, schema: &BucketSchema) -> Result<(), Error> {
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
pub(super) fn merged_metadata(
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

pub(super) fn idempotency_hash(key: Option<&str>) -> Result<Option<String>, Error> {
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
pub(super) async fn replaced(
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

/// The object's transaction, each write beside what it claims.
pub(super) fn writes_for(p: &Prepared) -> Vec<(Write, Claim)> {
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
pub(super) const UNIQUE_KEY_TAKEN: &str = "another object already holds this unique key";

pub(super) const OBJECT_CHANGED: &str = "the object changed while this request ran; retry";

/// How many times an upsert that lost a race tries again before answering 409.
pub(super) const UPSERT_ATTEMPTS: u32 = 8;

pub(super) fn lost_a_race(r: &ItemResult) -> bool {
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

pub(super) async fn create_many_once(
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
    if added > 0 {
        ctx.metrics
            .record(Measurement::objects_registered(added as usize));
    }
    for key in stale_keys {
        let _ = ctx.blobs.delete(&key).await;
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every slot is filled"))
        .collect())
}

/// Puts the inline blobs' bytes, sixteen at a time.
pub(super) async fn store_payloads<'a>(
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
pub(super) async fn failed_write(
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
pub(super) async fn publish_object_events(
    ctx: &AppContext,
    bucket: &Bucket,
    mut events: Vec<Event>,
) {
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
        if let Err(e) = crate::app::events::publish(ctx, events).await {
            tracing::warn!(error = %e, "publishing object events failed");
        }
    }
}

/// Whether a group can skip its transaction: a brand-new object (a fresh id, so its
/// create condition cannot fail) and its unconditional fingerprint pointer, no claims.
pub(super) fn needs_no_transaction(group: &[Write]) -> bool {
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
pub(super) async fn commit(
    ctx: &AppContext,
    groups: Vec<Vec<Write>>,
) -> Vec<Result<(), StoreError>> {
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
pub(super) async fn bump_bucket(
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

pub(super) fn object_event(event_type: EventType, o: &Object, org_id: &str) -> Event {
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
pub(super) fn removed_keys(old: &Object, new: &Object) -> Vec<String> {
    let kept: Vec<&str> = new.blobs.iter().filter_map(Blob::storage_key).collect();
    old.blobs
        .iter()
        .filter_map(Blob::storage_key)
        .filter(|k| !kept.contains(k))
        .map(str::to_string)
        .collect()
}
