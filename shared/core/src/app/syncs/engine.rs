//! The sync engine: the same code under EventBridge + SQS and in `sluice-local`.
//!
//! A run takes the sync's lease (a conditional write), then works one page per queue
//! message: list the page, merge it with the manifest's range for the same keys (the
//! provider lists keys in order, so unchanged files cost no write), register what is new
//! or changed, record what is gone, save the page's counts under a condition on the page
//! number (a redelivered page counts once), submit batches, send the next page. After a
//! complete listing the deletions are applied behind a brake. A run whose worker died is
//! resumed from its saved page when its lease lapses.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{json, Value};

pub(super) use super::manifest::ManifestEntry;
use super::mapping::SchemaMapping;
use super::{
    at_epoch, get_run, sync_item, CompiledFilters, DeadLetter, RunCounts, Sync, SyncRun,
    SUSPEND_AFTER,
};
use crate::app::connections;
pub use crate::app::messages::PageMessage;
use crate::app::objects::{self, CreateBlob, CreateObject, SyncedFile};
use crate::app::{from_item, keys, to_item};
use crate::context::AppContext;
use crate::domain::entities::Bucket;
use crate::domain::events::EventType;
use crate::domain::ids::IdKind;
use crate::domain::schema::{BucketSchema, FieldType};
use crate::domain::status::{RunStatus, SyncStatus};
use crate::domain::time::{now, now_rfc3339};
use crate::error::Error;
use crate::ports::{
    Cond, CursorPos, Event, Item, Query, QueueName, SourceEntry, SourceError, SourcePage,
    StoreError, Write,
};

/// Sort keys of the table hold at most 1024 bytes; the manifest's carry `SRC#`.
const MAX_KEY_BYTES: usize = 1000;
/// A continuation token a run keeps between pages (in its item and the page's request).
const MAX_CONTINUATION_BYTES: usize = crate::ports::MAX_CONTINUATION_BYTES;
/// The most of a source key a dead letter repeats (an over-long key is shortened).
const MAX_DEAD_KEY_BYTES: usize = 1024;

async fn load(ctx: &AppContext, bucket_id: &str, sync_id: &str) -> Result<Option<Sync>, Error> {
    ctx.table
        .get(&keys::sync(bucket_id, sync_id))
        .await?
        .map(from_item)
        .transpose()
}

/// Applies `change` to the stored sync under its version, re-reading on a race.
pub(super) async fn mutate(
    ctx: &AppContext,
    bucket_id: &str,
    sync_id: &str,
    mut change: impl FnMut(&mut Sync) -> Result<(), Error>,
) -> Result<Sync, Error> {
    for _ in 0..8 {
        let before = load(ctx, bucket_id, sync_id)
            .await?
            .ok_or_else(|| Error::not_found(format!("sync {sync_id:?}")))?;
        let mut next = before.clone();
        change(&mut next)?;
        match super::save(ctx, &before, next).await {
            Err(Error::Conflict(_)) => continue,
            other => return other,
        }
    }
    Err(Error::Busy)
}

pub(super) fn lease_until(ctx: &AppContext) -> i64 {
    now().unix_timestamp() + ctx.config.sync_lease.as_secs() as i64
}

/// `POST …/syncs/{id}/trigger`: a run now (or the lapsed run resumed).
pub async fn trigger(
    ctx: &AppContext,
    bucket: &Bucket,
    id: &str,
    full_sync: bool,
) -> Result<SyncRun, Error> {
    let sync = super::get(ctx, bucket, id).await?;
    if sync.paused {
        return Err(Error::Conflict(format!(
            "sync {id} is paused; resume it first"
        )));
    }
    if sync.status != SyncStatus::Active {
        return Err(Error::Conflict(format!(
            "sync {id} is {}{}; set it SyncStatus::Active first",
            sync.status,
            sync.last_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )));
    }
    start(ctx, sync, "manual", full_sync).await
}

/// Takes the lease and queues the run's first page; or, when a run holds a lapsed
/// lease, takes it again and queues that run's saved page.
pub(super) async fn start(
    ctx: &AppContext,
    sync: Sync,
    trigger: &str,
    full_sync: bool,
) -> Result<SyncRun, Error> {
    if sync.locked() {
        return Err(Error::Conflict(format!(
            "sync {} has a run in progress ({}); wait for it, or unlock a dead one",
            sync.sync_config_id,
            sync.current_run_id.as_deref().unwrap_or("?")
        )));
    }
    let lapsed = match &sync.current_run_id {
        Some(run_id) if sync.lock_expires_epoch.is_some() => get_run(ctx, &sync, run_id)
            .await
            .ok()
            .filter(|r| r.status == RunStatus::Running),
        _ => None,
    };
    let mut next = sync.clone();
    next.lock_expires_epoch = Some(lease_until(ctx));
    let (run, first) = match lapsed {
        Some(mut run) => {
            run.resumes += 1;
            run.trigger = "resume".into();
            run.updated_at = now_rfc3339();
            (run, false)
        }
        None => {
            let at = now_rfc3339();
            next.sync_run_counter += 1;
            let run = SyncRun {
                sync_job_id: IdKind::Job.new_id(),
                sync_config_id: sync.sync_config_id.clone(),
                bucket_id: sync.bucket_id.clone(),
                namespace_id: sync.namespace_id.clone(),
                org_id: sync.org_id.clone(),
                status: RunStatus::Running,
                trigger: trigger.into(),
                phase: "queued".into(),
                full_sync,
                page: 0,
                token: None,
                last_key: None,
                counts: RunCounts::default(),
                manifest_entries: Some(0),
                unordered: false,
                merged: false,
                frontier: Default::default(),
                gone: 0,
                bytes: 0,
                batches_created: 0,
                batch_ids: Vec::new(),
                resumes: 0,
                withheld_reason: None,
                error: None,
                started_at: at.clone(),
                completed_at: None,
                updated_at: at,
            };
            (run, true)
        }
    };
    next.current_run_id = Some(run.sync_job_id.clone());
    next.version = sync.version + 1;
    next.updated_at = now_rfc3339();
    let run_key = keys::sync_run(&sync.sync_config_id, &run.sync_job_id);
    let ops = vec![
        Write::Put {
            item: sync_item(&next),
            cond: Cond::Equals("version".into(), json!(sync.version)),
        },
        if first {
            Write::create(to_item(&run_key, &run))
        } else {
            Write::put(to_item(&run_key, &run))
        },
    ];
    match ctx.table.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => {
            return Err(Error::Conflict(format!(
                "sync {} started a run concurrently; look at its jobs",
                sync.sync_config_id
            )))
        }
        Err(e) => return Err(e.into()),
    }
    let msg = PageMessage {
        org_id: sync.org_id.clone(),
        bucket_id: sync.bucket_id.clone(),
        sync_id: sync.sync_config_id.clone(),
        run_id: run.sync_job_id.clone(),
        page: run.page,
        namespace_id: Some(sync.namespace_id.clone()),
        connection_id: Some(sync.connection_id.clone()),
    };
    ctx.queue
        .send(QueueName::Syncs, vec![msg.body()], Duration::ZERO)
        .await?;
    tracing::info!(sync_id = %sync.sync_config_id, run_id = %run.sync_job_id, trigger = %run.trigger, page = run.page, "sync run started");
    Ok(run)
}

/// The scheduled poller: starts every due sync (and resumes lapsed runs). Returns
/// how many runs it started.
pub async fn poll(ctx: &AppContext) -> Result<usize, Error> {
    let mut query = crate::store::index::due_syncs(now().unix_timestamp()).limit(100);
    let mut started = 0;
    loop {
        let page = ctx.table.query(&query).await?;
        for item in &page.items {
            let (Some(bucket_id), Some(sync_id)) = (
                item.get("bucket_id").and_then(Value::as_str),
                item.get("sync_config_id").and_then(Value::as_str),
            ) else {
                continue;
            };
            let Some(sync) = load(ctx, bucket_id, sync_id).await? else {
                continue;
            };
            if sync.locked() || sync.due_epoch().is_none_or(|d| d > now().unix_timestamp()) {
                continue;
            }
            let resumable = sync.lock_expires_epoch.is_some();
            if !resumable && (sync.paused || sync.status != SyncStatus::Active) {
                continue;
            }
            match start(ctx, sync, "scheduled", false).await {
                Ok(_) => started += 1,
                Err(Error::Conflict(why)) => tracing::info!(sync_id, why, "not started"),
                Err(e) => tracing::warn!(sync_id, error = %e, "sync run did not start"),
            }
        }
        match page.cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok(started),
        }
    }
}

/// The bucket-schema property a file of `mime` goes into: the blob property of its
/// type (a required one first), else a `binary` one.
fn property_for(schema: &BucketSchema, mime: &str) -> Option<(String, FieldType)> {
    let fits = |binary: bool| {
        let mut candidates: Vec<(&String, bool)> = schema
            .properties
            .iter()
            .filter(|(_, spec)| {
                spec.ty.is_blob()
                    && (spec.ty == FieldType::Binary) == binary
                    && spec.ty.accepts_mime(mime)
            })
            .map(|(name, spec)| (name, spec.required))
            .collect();
        candidates.sort_by_key(|(name, required)| (!*required, (*name).clone()));
        candidates
            .first()
            .map(|(n, _)| ((*n).clone(), schema.properties[*n].ty))
    };
    fits(false).or_else(|| fits(true))
}

fn mime_of(key: &str) -> String {
    mime_guess::from_path(key)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// What one page found, before anything is written.
#[derive(Default)]
pub(super) struct Plan {
    pub(super) counts: RunCounts,
    pub(super) new: Vec<SourceEntry>,
    pub(super) modified: Vec<(SourceEntry, ManifestEntry)>,
    /// Files registered by an earlier delivery of this page: counted, not redone.
    pub(super) redone: Vec<String>,
    pub(super) gone: Vec<ManifestEntry>,
    pub(super) dead: Vec<DeadFile>,
}

/// A file a run could not take: its listing, the reason's code and the reason.
pub(super) type DeadFile = (SourceEntry, &'static str, String);

/// A query of the manifest's entries with keys after `after` (all of them without one).
fn manifest_after(sync_id: &str, after: Option<&str>) -> Query {
    let mut query = Query::partition(keys::sync_pk(sync_id))
        .prefix(keys::MANIFEST_PREFIX)
        .limit(1000);
    query.cursor = after.map(|a| {
        CursorPos {
            sk: format!("{}{a}", keys::MANIFEST_PREFIX),
            pk: None,
            isk: None,
        }
        .encode()
    });
    query
}

/// The manifest entries with keys in `(after, up_to]` (to the end when `up_to` is None).
pub(super) async fn manifest_range(
    ctx: &AppContext,
    sync_id: &str,
    after: Option<&str>,
    up_to: Option<&str>,
) -> Result<BTreeMap<String, ManifestEntry>, Error> {
    let mut query = manifest_after(sync_id, after);
    query.sk_max = up_to.map(|k| format!("{}{k}", keys::MANIFEST_PREFIX));
    let mut out = BTreeMap::new();
    loop {
        let page = ctx.table.query(&query).await?;
        for item in page.items {
            let m: ManifestEntry = from_item(item)?;
            out.insert(m.source_key.clone(), m);
        }
        match page.cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// What a page works from, read at once when the message names every key.
pub(super) struct PageState {
    pub(super) sync: Sync,
    pub(super) run: SyncRun,
    pub(super) bucket: Option<Bucket>,
    pub(super) connection: Option<connections::Connection>,
}

/// `None`: the sync or its run is gone (the message is dropped).
pub(super) async fn page_state(
    ctx: &AppContext,
    msg: &PageMessage,
) -> Result<Option<PageState>, Error> {
    let (Some(ns), Some(conn)) = (&msg.namespace_id, &msg.connection_id) else {
        let Some(sync) = load(ctx, &msg.bucket_id, &msg.sync_id).await? else {
            return Ok(None);
        };
        let run = match get_run(ctx, &sync, &msg.run_id).await {
            Ok(r) => r,
            Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        return Ok(Some(PageState {
            sync,
            run,
            bucket: None,
            connection: None,
        }));
    };
    let wanted = [
        keys::sync(&msg.bucket_id, &msg.sync_id),
        keys::sync_run(&msg.sync_id, &msg.run_id),
        keys::bucket(ns, &msg.bucket_id),
        keys::connection(&msg.org_id, conn),
    ];
    let mut found: Vec<Option<crate::ports::Item>> = vec![None; wanted.len()];
    for item in ctx.table.get_many(wanted.to_vec()).await? {
        if let Some(key) = crate::ports::Key::of(&item) {
            if let Some(i) = wanted.iter().position(|k| *k == key) {
                found[i] = Some(item);
            }
        }
    }
    let mut found = found.into_iter();
    let (Some(Some(sync)), Some(Some(run))) = (found.next(), found.next()) else {
        return Ok(None);
    };
    Ok(Some(PageState {
        sync: from_item(sync)?,
        run: from_item(run)?,
        bucket: found.next().flatten().map(from_item).transpose()?,
        connection: found.next().flatten().map(from_item).transpose()?,
    }))
}

/// What a page's files are judged by beside the sync and the manifest.
pub(super) struct Rules<'a> {
    pub(super) filters: Option<&'a CompiledFilters<'a>>,
    /// The largest file a run takes (`SLUICE_MAX_FETCH_BYTES`).
    pub(super) max_bytes: u64,
    /// New and changed files this run may still take (`max_objects_per_run`).
    pub(super) budget: i64,
}

/// Sorts a page's files into new, modified, unchanged, filtered and unreadable, and
/// finds the manifest's files in the page's key range that the page no longer lists.
pub(super) fn plan(
    sync: &Sync,
    run: &SyncRun,
    prefix: &str,
    entries: &[SourceEntry],
    mut known: BTreeMap<String, ManifestEntry>,
    rules: Rules,
) -> Plan {
    let Rules {
        filters,
        max_bytes,
        mut budget,
    } = rules;
    let mut p = Plan::default();
    // Over `max_objects_per_run`, new and changed files wait for the next run.
    let mut take = |p: &mut Plan| {
        budget -= 1;
        if budget < 0 {
            p.counts.deferred += 1;
        }
        budget >= 0
    };
    for e in entries {
        p.counts.scanned += 1;
        let old = known.remove(&e.key);
        let relative = e.path().strip_prefix(prefix).unwrap_or(e.path());
        if e.path().ends_with('/') && e.size == 0 {
            p.counts.filtered += 1; // a folder marker, not a file
            continue;
        }
        if let Some(why) = &e.unreadable {
            p.counts.failed += 1;
            p.dead.push((e.clone(), "unreadable", why.clone()));
            continue;
        }
        if sync.before_sync_from(e.last_modified.as_deref()) {
            p.counts.filtered += 1;
            continue;
        }
        if let Some(why) = filters.and_then(|f| f.excludes(relative, e.size)) {
            tracing::debug!(key = %e.key, why, "filtered");
            p.counts.filtered += 1;
            continue;
        }
        if e.key.len() > MAX_KEY_BYTES {
            p.counts.failed += 1;
            p.dead.push((
                e.clone(),
                "key_too_long",
                format!(
                    "the key is {} bytes; this server keeps keys up to {MAX_KEY_BYTES}",
                    e.key.len()
                ),
            ));
            continue;
        }
        if e.size > max_bytes {
            p.counts.failed += 1;
            p.dead.push((
                e.clone(),
                "too_large",
                format!(
                    "{} bytes is over SLUICE_MAX_FETCH_BYTES ({max_bytes})",
                    e.size
                ),
            ));
            continue;
        }
        match old {
            None if !take(&mut p) => {}
            None => {
                p.counts.new += 1;
                p.new.push(e.clone());
            }
            Some(m) if m.run_id == run.sync_job_id => {
                // Registered by an earlier delivery of this very page.
                if m.kind == "new" {
                    p.counts.new += 1;
                } else {
                    p.counts.modified += 1;
                }
                p.redone.push(m.object_id.clone());
            }
            // `skip_duplicates: false` re-ingests every file each run, as a full sync does.
            Some(m) if m.token == e.version_token() && !run.full_sync && sync.skip_duplicates => {
                p.counts.unchanged += 1
            }
            Some(_) if !take(&mut p) => {}
            Some(m) => {
                p.counts.modified += 1;
                p.modified.push((e.clone(), m));
            }
        }
    }
    p.gone = known.into_values().collect();
    p
}

pub(super) fn idempotency(sync: &Sync, run_id: &str, key: &str) -> String {
    let digest = crate::domain::ids::derived_id(IdKind::Sync, &[&sync.sync_config_id, run_id, key]);
    format!("sync:{digest}")
}

/// Why a file could not be made an object (a dead letter's reason code and message).
type Refusal = (&'static str, String);

pub(super) fn synced_blob(
    sync: &Sync,
    source_bucket: &str,
    e: &SourceEntry,
    schema: &BucketSchema,
    mapping: Option<&SchemaMapping>,
) -> Result<CreateBlob, Refusal> {
    let (property, ty, mime) = match mapping.and_then(|m| m.blob.as_ref()) {
        Some(target) => (
            target.property.clone(),
            target.ty,
            target
                .mime_type_override
                .clone()
                .unwrap_or_else(|| mime_of(e.path())),
        ),
        None => {
            let mime = mime_of(e.path());
            let (property, ty) = property_for(schema, &mime).ok_or_else(|| {
                (
                    "no_blob_property",
                    format!("no blob property of the bucket's schema takes {mime}"),
                )
            })?;
            (property, ty, mime)
        }
    };
    Ok(CreateBlob {
        property,
        blob_type: ty.as_str().to_string(),
        mime_type: Some(mime),
        filename: e
            .path
            .as_deref()
            .and_then(|p| p.rsplit('/').next())
            .map(str::to_string),
        synced: Some(SyncedFile {
            org_id: sync.org_id.clone(),
            connection_id: sync.connection_id.clone(),
            sync_id: sync.sync_config_id.clone(),
            bucket: source_bucket.to_string(),
            key: e.key.clone(),
            etag: e.etag.clone(),
            size: e.size,
        }),
        ..CreateBlob::default()
    })
}

/// The metadata a mapping takes from a file's key (`None` without field mappings).
pub(super) fn mapped_fields(
    mapping: Option<&SchemaMapping>,
    key: &str,
) -> Result<Option<serde_json::Map<String, Value>>, Refusal> {
    match mapping.filter(|m| !m.fields.is_empty()) {
        None => Ok(None),
        Some(m) => m
            .fields_for(key)
            .map(Some)
            .map_err(|why| ("mapping_failed", why)),
    }
}

/// A synced file's object fields: the mapping's, the source key, and what the provider
/// says of the file, where the bucket has a field for each.
pub(super) fn object_fields(
    mapping: Option<&SchemaMapping>,
    schema: &BucketSchema,
    e: &SourceEntry,
) -> Result<Option<serde_json::Map<String, Value>>, Refusal> {
    let mut metadata = mapped_fields(mapping, e.path())?.unwrap_or_default();
    // The source key is kept beside the object, so a client sees where it came from.
    if schema.properties.contains_key("source_key") && !metadata.contains_key("source_key") {
        metadata.insert("source_key".into(), json!(e.path()));
    }
    for (k, v) in e.metadata.iter().flatten() {
        if schema.properties.contains_key(k) && !metadata.contains_key(k) {
            metadata.insert(k.clone(), v.clone());
        }
    }
    Ok((!metadata.is_empty()).then_some(metadata))
}

pub(super) fn create_request(
    sync: &Sync,
    source_bucket: &str,
    run_id: &str,
    e: &SourceEntry,
    schema: &BucketSchema,
    mapping: Option<&SchemaMapping>,
) -> Result<CreateObject, Refusal> {
    let blob = synced_blob(sync, source_bucket, e, schema, mapping)?;
    Ok(CreateObject {
        blobs: vec![blob],
        metadata: object_fields(mapping, schema, e)?,
        idempotency_key: Some(idempotency(sync, run_id, &e.key)),
        ..CreateObject::default()
    })
}

pub(super) fn manifest_item(
    sync: &Sync,
    run: &SyncRun,
    e: &SourceEntry,
    object_id: &str,
    kind: &str,
) -> Item {
    let m = ManifestEntry {
        source_key: e.key.clone(),
        token: e.version_token(),
        etag: e.etag.clone(),
        size: e.size,
        object_id: object_id.to_string(),
        run_id: run.sync_job_id.clone(),
        kind: kind.into(),
    };
    to_item(&keys::manifest(&sync.sync_config_id, &e.key), &m)
}

/// `key`, cut to at most `MAX_DEAD_KEY_BYTES` (on a character boundary) with a mark.
fn shortened(key: &str) -> String {
    if key.len() <= MAX_DEAD_KEY_BYTES {
        return key.to_string();
    }
    let mut end = MAX_DEAD_KEY_BYTES - '…'.len_utf8();
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &key[..end])
}

/// A file's dead letter after one more failed attempt, or `None` when it is already
/// dead (out of attempts, not requeued) and so was not tried. A redelivered page of the
/// same run counts its attempt once.
pub(super) fn dead_letter_item(
    sync: &Sync,
    run: &SyncRun,
    (e, kind, why): &DeadFile,
    at: &str,
    prior: Option<&DeadLetter>,
    max_attempts: i64,
) -> Option<Item> {
    if prior.is_some_and(|d| d.max_retries_reached && d.sync_job_id != run.sync_job_id) {
        return None;
    }
    let attempts = match prior {
        Some(d) if d.sync_job_id == run.sync_job_id => d.retry_count,
        Some(d) => d.retry_count + 1,
        None => 1,
    };
    let key = shortened(&e.key);
    let d = DeadLetter {
        dlq_id: dead_letter_id(&e.key),
        sync_config_id: sync.sync_config_id.clone(),
        source_object_id: key.clone(),
        internal_id: sync.org_id.clone(),
        namespace_id: sync.namespace_id.clone(),
        bucket_id: sync.bucket_id.clone(),
        source_path: key,
        error_type: kind.to_string(),
        error_message: why.chars().take(ERROR_CHARS).collect(),
        retry_count: attempts,
        max_retries_reached: attempts >= max_attempts,
        first_seen_at: prior.map_or_else(|| at.to_string(), |d| d.first_seen_at.clone()),
        last_seen_at: at.into(),
        sync_job_id: run.sync_job_id.clone(),
    };
    Some(to_item(
        &keys::dead_letter(&sync.sync_config_id, &key_hash(&e.key)),
        &d,
    ))
}

pub(super) fn key_hash(key: &str) -> String {
    crate::domain::ids::sha256_hex(key.as_bytes())
}

fn dead_letter_id(key: &str) -> String {
    format!("dlq_{}", &key_hash(key)[..24])
}

/// The dead letters of the files a page would try or refuse. A page of unchanged files
/// reads nothing; otherwise one query of one row says whether the sync has any at all.
pub(super) async fn prior_dead_letters(
    ctx: &AppContext,
    sync: &Sync,
    plan: &Plan,
) -> Result<HashMap<String, DeadLetter>, Error> {
    if plan.new.is_empty() && plan.modified.is_empty() && plan.dead.is_empty() {
        return Ok(HashMap::new());
    }
    let any = ctx
        .table
        .query(
            &Query::partition(keys::sync_pk(&sync.sync_config_id))
                .prefix("DLQ#")
                .limit(1),
        )
        .await?;
    if any.items.is_empty() {
        return Ok(HashMap::new());
    }
    let wanted: Vec<&str> = plan
        .new
        .iter()
        .map(|e| e.key.as_str())
        .chain(plan.modified.iter().map(|(e, _)| e.key.as_str()))
        .chain(plan.dead.iter().map(|(e, _, _)| e.key.as_str()))
        .collect();
    let by_id: HashMap<String, &str> = wanted.iter().map(|k| (dead_letter_id(k), *k)).collect();
    let mut found = HashMap::new();
    for chunk in wanted.chunks(100) {
        let ks = chunk
            .iter()
            .map(|k| keys::dead_letter(&sync.sync_config_id, &key_hash(k)))
            .collect();
        for item in ctx.table.get_many(ks).await? {
            let d: DeadLetter = from_item(item)?;
            if let Some(key) = by_id.get(&d.dlq_id) {
                found.insert(key.to_string(), d);
            }
        }
    }
    Ok(found)
}

/// Files out of attempts stay dead until requeued: counted as failed, not tried.
pub(super) fn leave_dead_files(plan: &mut Plan, prior: &HashMap<String, DeadLetter>) {
    let dead = |key: &str| prior.get(key).is_some_and(|d| d.max_retries_reached);
    let before = plan.new.len();
    plan.new.retain(|e| !dead(&e.key));
    let skipped_new = (before - plan.new.len()) as i64;
    let before = plan.modified.len();
    plan.modified.retain(|(e, _)| !dead(&e.key));
    let skipped_modified = (before - plan.modified.len()) as i64;
    plan.counts.new -= skipped_new;
    plan.counts.modified -= skipped_modified;
    plan.counts.failed += skipped_new + skipped_modified;
}

/// Why a listed page cannot be used: its keys are out of order, or its continuation
/// token is longer than a run keeps.
pub(super) fn unusable(
    page: &SourcePage,
    last_key: Option<&str>,
    unordered: bool,
) -> Option<String> {
    let why = if unordered {
        twice(&page.entries)
    } else {
        out_of_order(&page.entries, last_key)
    };
    if why.is_some() {
        return why;
    }
    let token = page
        .next
        .as_deref()
        .filter(|t| t.len() > MAX_CONTINUATION_BYTES)?;
    Some(format!(
        "the provider's continuation token is {} bytes, over the {MAX_CONTINUATION_BYTES} this server keeps: nothing deleted",
        token.len()
    ))
}

/// A page of an unordered source that lists a key twice.
fn twice(entries: &[SourceEntry]) -> Option<String> {
    let distinct: std::collections::HashSet<&str> =
        entries.iter().map(|e| e.key.as_str()).collect();
    (distinct.len() != entries.len()).then(|| {
        "the provider listed a key twice in one page: nothing written, nothing deleted".into()
    })
}

/// Why a page cannot be merged: keys not strictly ascending within it, or not after
/// the pages done. Checked before anything is written.
pub(crate) fn out_of_order(entries: &[SourceEntry], after: Option<&str>) -> Option<String> {
    let unsorted = entries.windows(2).any(|w| w[0].key >= w[1].key);
    let behind =
        matches!((entries.first(), after), (Some(first), Some(last)) if first.key.as_str() <= last);
    (unsorted || behind).then(|| {
        "the provider listed keys out of order (or twice): nothing written, nothing deleted".into()
    })
}

/// A listing or open failure: wait and retry what may pass, fail the run on the rest.
pub(super) async fn source_failed(
    ctx: &AppContext,
    sync: &Sync,
    run: SyncRun,
    msg: &PageMessage,
    e: SourceError,
) -> Result<(), Error> {
    match e {
        SourceError::Throttled {
            retry_after,
            message,
        } => {
            // Jittered, at least what the provider asked for, within SQS's 15-minute delay.
            let base = retry_after.unwrap_or(Duration::from_secs(2));
            let jitter = Duration::from_millis(rand::random::<u64>() % 1000);
            let delay = (base + jitter).min(Duration::from_secs(900));
            tracing::warn!(run_id = %run.sync_job_id, ?delay, message, "throttled; page retried later");
            ctx.queue
                .send(QueueName::Syncs, vec![msg.body()], delay)
                .await?;
            Ok(())
        }
        SourceError::Failed(why) => Err(Error::NotYet(format!("listing failed, retried: {why}"))),
        other => {
            let why = other.to_string();
            connections::record_use(ctx, &sync.org_id, &sync.connection_id, Err(&why)).await?;
            fail(ctx, sync, run, why).await
        }
    }
}

/// The most of an error a run or sync keeps.
const ERROR_CHARS: usize = 1000;

/// Writes a run's end and the sync's settled state in one transaction: the run only if
/// it is still running (another delivery may have settled it: then `None`), the sync
/// under its version (re-read on a race).
async fn settle(
    ctx: &AppContext,
    run: &SyncRun,
    mut change: impl FnMut(&mut Sync),
) -> Result<Option<Sync>, Error> {
    let run_item = to_item(&keys::sync_run(&run.sync_config_id, &run.sync_job_id), run);
    for _ in 0..8 {
        let Some(before) = load(ctx, &run.bucket_id, &run.sync_config_id).await? else {
            return Ok(None); // the sync was deleted; its partition goes with it
        };
        let mut next = before.clone();
        if next.current_run_id.as_deref() == Some(&run.sync_job_id) {
            next.lock_expires_epoch = None;
        }
        change(&mut next);
        next.version = before.version + 1;
        next.updated_at = now_rfc3339();
        let ops = vec![
            Write::Put {
                item: run_item.clone(),
                cond: Cond::Equals("status".into(), json!(RunStatus::Running)),
            },
            Write::Put {
                item: sync_item(&next),
                cond: Cond::Equals("version".into(), json!(before.version)),
            },
        ];
        match ctx.table.transact(ops).await {
            Ok(()) => return Ok(Some(next)),
            Err(StoreError::ConditionFailed { index: Some(0) }) => return Ok(None),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Busy)
}

/// Manifest entries with keys after `after` (all of them without one).
async fn count_manifest_after(
    ctx: &AppContext,
    sync_id: &str,
    after: Option<&str>,
) -> Result<i64, Error> {
    let mut query = manifest_after(sync_id, after);
    let mut n = 0;
    loop {
        let page = ctx.table.query(&query).await?;
        n += page.items.len() as i64;
        match page.cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok(n),
        }
    }
}

/// Ends a run as failed; five in a row suspend the sync. Nothing is deleted; the
/// manifest's count is made exact (the pages done, and what lies beyond them).
pub(super) async fn fail(
    ctx: &AppContext,
    sync: &Sync,
    mut run: SyncRun,
    why: String,
) -> Result<(), Error> {
    // The SDK's models take at most 1000 characters of a run's or sync's error.
    let why: String = why.chars().take(ERROR_CHARS).collect();
    tracing::warn!(sync_id = %sync.sync_config_id, run_id = %run.sync_job_id, why, "sync run failed");
    clear_gone(ctx, &sync.sync_config_id, &run.sync_job_id).await?;
    super::spill::clear(ctx, &sync.sync_config_id, &run.sync_job_id).await?;
    let manifest_count = match run.manifest_entries {
        // An unordered run's pages counted nothing: count the whole manifest.
        Some(_) if run.unordered => {
            Some(count_manifest_after(ctx, &sync.sync_config_id, None).await?)
        }
        Some(done) => Some(
            done + count_manifest_after(ctx, &sync.sync_config_id, run.last_key.as_deref()).await?,
        ),
        None => None,
    };
    let at = now_rfc3339();
    run.status = RunStatus::Failed;
    run.phase = "idle".into();
    run.error = Some(why.clone());
    run.completed_at = Some(at.clone());
    run.updated_at = at;
    let interval = sync.polling_interval_seconds;
    let settled = settle(ctx, &run, |s| {
        s.consecutive_failures += 1;
        s.last_error = Some(why.clone());
        if s.consecutive_failures >= SUSPEND_AFTER {
            s.status = SyncStatus::Suspended;
        }
        s.next_sync_at = s
            .continuous()
            .then(|| at_epoch(now().unix_timestamp() + interval));
        if let Some(n) = manifest_count {
            s.manifest_count = n;
        }
    })
    .await?;
    let Some(s) = settled else {
        return Ok(());
    };
    let kind = if s.status == SyncStatus::Suspended {
        EventType::SyncSuspended
    } else {
        EventType::SyncFailed
    };
    publish(ctx, &s, &run, kind).await
}

/// A page whose work panicked: it would panic again at every delivery, so its run
/// fails with the reason instead (and the failure counts toward suspension).
pub async fn give_up(ctx: &AppContext, msg: &PageMessage, why: &str) -> Result<(), Error> {
    let Some(state) = page_state(ctx, msg).await? else {
        return Ok(());
    };
    if state.run.status != RunStatus::Running {
        return Ok(());
    }
    let why = format!("page {} could not be worked: {why}", msg.page);
    fail(ctx, &state.sync, state.run, why).await
}

async fn publish(ctx: &AppContext, s: &Sync, run: &SyncRun, kind: EventType) -> Result<(), Error> {
    crate::app::events::publish(
        ctx,
        vec![Event {
            event_id: crate::domain::ids::derived_id(
                IdKind::Event,
                &[&run.sync_job_id, kind.as_str()],
            ),
            event_type: kind,
            org_id: s.org_id.clone(),
            namespace_id: Some(s.namespace_id.clone()),
            created_at: now_rfc3339(),
            data: json!({
                "sync_config_id": s.sync_config_id, "sync_job_id": run.sync_job_id,
                "bucket_id": s.bucket_id, "status": run.status, "counts": run.counts,
                "error": run.error, "consecutive_failures": s.consecutive_failures,
            }),
        }],
    )
    .await?;
    Ok(())
}

async fn gone_items(ctx: &AppContext, sync_id: &str, run_id: &str) -> Result<Vec<Item>, Error> {
    crate::store::lists::all_items(
        ctx.table.as_ref(),
        Query::partition(keys::sync_pk(sync_id)).prefix(keys::gone_prefix(run_id)),
    )
    .await
}

async fn clear_gone(ctx: &AppContext, sync_id: &str, run_id: &str) -> Result<(), Error> {
    let keys: Vec<_> = gone_items(ctx, sync_id, run_id)
        .await?
        .iter()
        .filter_map(crate::ports::Key::of)
        .collect();
    for chunk in keys.chunks(25) {
        ctx.table.delete_many(chunk.to_vec()).await?;
    }
    Ok(())
}

/// After the last page: deletions behind the brake, then the run and the sync settle
/// together. Safe to run again (a resumed run, a retried finish): deleting is
/// idempotent and the settle writes only while the run is still running.
pub(super) async fn finish(ctx: &AppContext, sync: &Sync, mut run: SyncRun) -> Result<(), Error> {
    if run.unordered && !run.merged {
        run = merge_unordered(ctx, sync, run).await?;
    }
    let known = match run.manifest_entries {
        Some(n) => n,
        None => sync.manifest_count + run.counts.new,
    };
    let gone = gone_items(ctx, &sync.sync_config_id, &run.sync_job_id).await?;
    let withhold = withheld(ctx, sync, &run, known, gone.len() as i64);
    let mut deleted = 0i64;
    match &withhold {
        Some(why) => {
            run.counts.withheld_deletions += gone.len() as i64;
            run.withheld_reason = Some(why.clone());
            tracing::warn!(run_id = %run.sync_job_id, why, "deletions withheld");
        }
        None => deleted = delete_gone(ctx, sync, &gone).await?,
    }
    run.counts.deleted += deleted;
    let withheld = run.counts.withheld_deletions;
    for (outcome, n) in [("deleted", deleted), ("withheld_deletion", withheld)] {
        if n > 0 {
            ctx.metrics
                .record(crate::ports::Measurement::sync_files(outcome, n));
        }
    }
    let at = now_rfc3339();
    run.status = RunStatus::Completed;
    run.phase = "idle".into();
    run.completed_at = Some(at.clone());
    run.updated_at = at.clone();
    let counts = run.counts.clone();
    let (bytes, batches) = (run.bytes, run.batches_created);
    let settled = settle(ctx, &run, |s| {
        s.consecutive_failures = 0;
        s.last_error = None;
        s.last_sync_at = Some(at.clone());
        s.next_sync_at = s
            .continuous()
            .then(|| at_epoch(now().unix_timestamp() + s.polling_interval_seconds));
        s.manifest_count = known - deleted;
        s.total_files_discovered += counts.scanned;
        s.total_files_synced += counts.new + counts.modified;
        s.total_files_failed += counts.failed;
        s.total_bytes_synced += bytes;
        s.batches_created += batches;
    })
    .await?;
    clear_gone(ctx, &sync.sync_config_id, &run.sync_job_id).await?;
    super::spill::clear(ctx, &sync.sync_config_id, &run.sync_job_id).await?;
    let Some(s) = settled else {
        return Ok(()); // settled by another delivery
    };
    tracing::info!(sync_id = %s.sync_config_id, run_id = %run.sync_job_id, ?counts, "sync run completed");
    connections::record_use(ctx, &s.org_id, &s.connection_id, Ok(())).await?;
    publish(ctx, &s, &run, EventType::SyncCompleted).await
}

/// An unordered run's gone files, found once its listing is complete and saved on the
/// run before anything is deleted, so a retried finish works from the same figures.
async fn merge_unordered(
    ctx: &AppContext,
    sync: &Sync,
    mut run: SyncRun,
) -> Result<SyncRun, Error> {
    let (held, gone) =
        super::spill::record_gone(ctx, &sync.sync_config_id, &run.sync_job_id).await?;
    run.manifest_entries = Some(held);
    run.gone = gone;
    run.merged = true;
    run.updated_at = now_rfc3339();
    ctx.table
        .write(Write::Put {
            item: to_item(
                &keys::sync_run(&sync.sync_config_id, &run.sync_job_id),
                &run,
            ),
            cond: Cond::Equals("page".into(), json!(run.page)),
        })
        .await?;
    Ok(run)
}

/// Why the deletions of files gone from the source are withheld, if they are.
fn withheld(ctx: &AppContext, sync: &Sync, run: &SyncRun, known: i64, gone: i64) -> Option<String> {
    let brake = ctx.config.sync_delete_brake_percent;
    if gone == 0 {
        None
    } else if run.counts.scanned == 0 {
        Some(format!(
            "the listing was empty while {known} files were known: deletions withheld"
        ))
    } else if gone > known * brake as i64 / 100 {
        Some(format!(
            "{gone} of {known} files are gone, over the {brake}% brake (SLUICE_SYNC_DELETE_BRAKE_PERCENT): deletions withheld"
        ))
    } else if !sync.reconcile.on_delete {
        Some("reconcile.on_delete is off: objects of deleted files are kept".into())
    } else {
        None
    }
}

/// Deletes the objects and manifest entries of files gone from the source; how many.
async fn delete_gone(ctx: &AppContext, sync: &Sync, gone: &[Item]) -> Result<i64, Error> {
    if gone.is_empty() {
        return Ok(0);
    }
    let bucket: Option<Bucket> = ctx
        .table
        .get(&keys::bucket(&sync.namespace_id, &sync.bucket_id))
        .await?
        .map(from_item)
        .transpose()?;
    let mut deleted = 0;
    for item in gone {
        let (Some(key), Some(object_id)) = (
            item.get("source_key").and_then(Value::as_str),
            item.get("object_id").and_then(Value::as_str),
        ) else {
            continue;
        };
        if let Some(b) = &bucket {
            match objects::delete(ctx, b, object_id).await {
                Ok(_) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        ctx.table
            .delete_many(vec![keys::manifest(&sync.sync_config_id, key)])
            .await?;
        deleted += 1;
    }
    Ok(deleted)
}
