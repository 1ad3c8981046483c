//! One page of a sync run (one syncs-queue message): load what the page works from, keep
//! the lease, list, merge with the manifest, register new and changed files as objects,
//! record what is gone and what failed, submit batches, then save the page's outcome once
//! and queue the next page or finish the run.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::engine::{
    create_request, dead_letter_item, fail, finish, idempotency, key_hash, lease_until,
    leave_dead_files, manifest_item, manifest_range, mutate, object_fields, page_state, plan,
    prior_dead_letters, source_failed, synced_blob, unusable, DeadFile, ManifestEntry, Plan, Rules,
};
use super::mapping::SchemaMapping;
use super::{DeadLetter, RunCounts, Sync, SyncRun};
use crate::app::connections::{self, Connection};
use crate::app::messages::PageMessage;
use crate::app::objects::{self, CreateBlob, CreateObject, Policy};
use crate::app::{batches, from_item, keys, to_item};
use crate::context::AppContext;
use crate::domain::entities::{Bucket, Namespace};
use crate::domain::schema::BucketSchema;
use crate::domain::status::RunStatus;
use crate::domain::sync::Frontier;
use crate::domain::time::{now, now_rfc3339};
use crate::error::Error;
use crate::ports::{
    Cond, Item, Measurement, QueueName, Source, SourceEntry, SourceError, SourcePage, StoreError,
    Write,
};

/// Why a page stops before its outcome is saved.
enum Halt {
    /// The run fails with this reason; nothing of the page counts.
    Fail(String),
    /// The provider failed: throttling waits, a denial fails the run ([`source_failed`]).
    Source(SourceError),
    /// A store failure or another retryable one: the message is delivered again.
    Retry(Error),
}

impl From<Error> for Halt {
    fn from(e: Error) -> Self {
        Halt::Retry(e)
    }
}

impl From<StoreError> for Halt {
    fn from(e: StoreError) -> Self {
        Halt::Retry(e.into())
    }
}

/// Works one page of a run (a syncs-queue message).
pub async fn run_page(ctx: &AppContext, msg: &PageMessage) -> Result<(), Error> {
    let Some(state) = page_state(ctx, msg).await? else {
        return Ok(()); // deleted meanwhile
    };
    let (sync, run) = (state.sync, state.run);
    let current = run.status == RunStatus::Running
        && sync.current_run_id.as_deref() == Some(&run.sync_job_id);
    if current && run.phase == "deleting" && msg.page <= run.page {
        // The listing is complete and saved: only finishing is left (a run resumed after
        // it stopped before its finish, or a finish that failed and is tried again).
        return finish(ctx, &sync, run).await;
    }
    if !current || run.page != msg.page {
        tracing::info!(run_id = %run.sync_job_id, page = msg.page, at = run.page, status = %run.status, "stale sync page; dropped");
        return Ok(());
    }
    let sync = keep_lease(ctx, sync, &run).await?;
    match work(ctx, msg, &sync, &run, state.bucket, state.connection).await {
        Ok(done) => advance(ctx, msg, &sync, &run, done).await,
        Err(Halt::Fail(why)) => fail(ctx, &sync, run, why).await,
        Err(Halt::Source(e)) => source_failed(ctx, &sync, run, msg, e).await,
        Err(Halt::Retry(e)) => Err(e),
    }
}

/// Progress keeps the lease: extended once less than half of it is left, so most pages
/// write nothing for it.
async fn keep_lease(ctx: &AppContext, sync: Sync, run: &SyncRun) -> Result<Sync, Error> {
    let lease = lease_until(ctx);
    let half = ctx.config.sync_lease.as_secs() as i64 / 2;
    if sync
        .lock_expires_epoch
        .is_some_and(|at| at - now().unix_timestamp() > half)
    {
        return Ok(sync);
    }
    let mut extended = sync.clone();
    extended.lock_expires_epoch = Some(lease);
    match super::save(ctx, &sync, extended).await {
        // Changed meanwhile (a PATCH): read it again.
        Err(Error::Conflict(_)) => {
            mutate(ctx, &sync.bucket_id, &sync.sync_config_id, |s| {
                if s.current_run_id.as_deref() == Some(&run.sync_job_id) {
                    s.lock_expires_epoch = Some(lease);
                }
                Ok(())
            })
            .await
        }
        saved => saved,
    }
}

/// What a page did, saved on its run by [`advance`].
struct PageDone {
    listed: SourcePage,
    /// Where the next page starts (`None`: the listing is complete).
    next: Option<String>,
    /// Milliseconds to open and list, to merge with the manifest, and in all.
    took_ms: [u64; 3],
    frontier: Frontier,
    /// The source lists out of key order (the run diffs by lookups and a final merge).
    unordered: bool,
    counts: RunCounts,
    /// Manifest entries in the page's key range once its writes are in.
    entries_after: i64,
    gone: i64,
    bytes: i64,
    batch_ids: Vec<String>,
}

/// What the steps of one page share.
struct Page<'a> {
    ctx: &'a AppContext,
    sync: &'a Sync,
    run: &'a SyncRun,
    bucket: Bucket,
    source_bucket: String,
    schema: BucketSchema,
    mapping: Option<SchemaMapping>,
}

/// The page's work, up to its outcome.
async fn work(
    ctx: &AppContext,
    msg: &PageMessage,
    sync: &Sync,
    run: &SyncRun,
    bucket: Option<Bucket>,
    connection: Option<Connection>,
) -> Result<PageDone, Halt> {
    let started = std::time::Instant::now();
    let bucket = page_bucket(ctx, sync, bucket).await?;
    let (source, source_bucket, prefix) = open(ctx, sync, connection).await?;
    let unordered = !source.capabilities().ordered_listing;
    let listing_prefix = sync.listing_prefix(&prefix);
    let listed = list(ctx, source.as_ref(), &listing_prefix, run, unordered).await?;
    let list_ms = started.elapsed().as_millis() as u64;
    let (plan, prior, known) = plan_page(ctx, sync, run, &prefix, &listed, unordered).await?;
    let plan_ms = started.elapsed().as_millis() as u64 - list_ms;
    let schema = bucket.schema()?;
    let mapping = sync
        .schema_mapping
        .as_ref()
        .map(|m| SchemaMapping::parse(m, &schema))
        .transpose()
        // The bucket's schema changed under a saved mapping.
        .map_err(|e| Halt::Fail(e.to_string()))?;
    let page = Page {
        ctx,
        sync,
        run,
        bucket,
        source_bucket,
        schema,
        mapping,
    };
    let mut writes = Writes::new(&plan, known);
    writes.create_new(&page, &plan.new).await?;
    writes.update_modified(&page, &plan.modified).await?;
    writes.save(&page, &plan.gone, &prior).await?;
    if unordered {
        let keys: Vec<String> = listed.entries.iter().map(|e| e.key.clone()).collect();
        super::spill::save(
            ctx,
            &sync.sync_config_id,
            &run.sync_job_id,
            run.page.into(),
            &keys,
        )
        .await?;
        // The manifest is counted whole by the merge after the listing.
        writes.entries_after = 0;
    }
    let batch_ids = submit(&page, msg, &writes.to_process).await?;
    let (next, frontier) = next_listing(ctx, sync, run, &listed).await?;
    Ok(PageDone {
        took_ms: [list_ms, plan_ms, started.elapsed().as_millis() as u64],
        next,
        frontier,
        listed,
        unordered,
        counts: writes.counts,
        entries_after: writes.entries_after,
        gone: plan.gone.len() as i64,
        bytes: writes.bytes,
        batch_ids,
    })
}

/// Where the listing goes on: the page's own next token, or else the oldest listing the
/// source deferred (`None`: the listing is complete). The page's deferred listings are
/// queued first.
async fn next_listing(
    ctx: &AppContext,
    sync: &Sync,
    run: &SyncRun,
    listed: &SourcePage,
) -> Result<(Option<String>, Frontier), Error> {
    let (sync_id, run_id) = (&sync.sync_config_id, &run.sync_job_id);
    let frontier =
        super::frontier::push(ctx, sync_id, run_id, &run.frontier, &listed.deferred).await?;
    if listed.next.is_some() {
        return Ok((listed.next.clone(), frontier));
    }
    Ok(
        match super::frontier::take(ctx, sync_id, run_id, &frontier).await? {
            Some((token, after)) => (Some(token), after),
            None => (None, frontier),
        },
    )
}

async fn page_bucket(
    ctx: &AppContext,
    sync: &Sync,
    loaded: Option<Bucket>,
) -> Result<Bucket, Halt> {
    if let Some(b) = loaded {
        return Ok(b);
    }
    match ctx
        .table
        .get(&keys::bucket(&sync.namespace_id, &sync.bucket_id))
        .await?
    {
        Some(item) => Ok(from_item(item)?),
        None => Err(Halt::Fail("the bucket is gone".into())),
    }
}

/// The source behind the sync's connection, its bucket and the prefix below which keys
/// are relative.
async fn open(
    ctx: &AppContext,
    sync: &Sync,
    loaded: Option<Connection>,
) -> Result<(Arc<dyn Source>, String, String), Halt> {
    let connection = match loaded {
        Some(c) => c,
        None => match connections::get(ctx, &sync.org_id, &sync.connection_id).await {
            Ok(c) => c,
            Err(Error::NotFound(_)) => {
                return Err(Halt::Fail(format!(
                    "connection {} is gone",
                    sync.connection_id
                )))
            }
            Err(e) => return Err(e.into()),
        },
    };
    let config = connections::provider_config(ctx, &connection).await?;
    let (source_bucket, prefix) =
        connections::locate(ctx, &config, &sync.source_path).map_err(|e| {
            Halt::Fail(format!(
                "the sync's source_path no longer fits its connection: {e}"
            ))
        })?;
    let source = connections::open_source(ctx, &config, &source_bucket, Some(&connection))
        .await
        .map_err(Halt::Source)?;
    Ok((source, source_bucket, prefix))
}

/// The run's next page of the listing, refused when it cannot be merged safely.
async fn list(
    ctx: &AppContext,
    source: &dyn Source,
    prefix: &str,
    run: &SyncRun,
    unordered: bool,
) -> Result<SourcePage, Halt> {
    let page = source
        .list(prefix, run.token.as_deref(), ctx.config.sync_page_size)
        .await
        .map_err(Halt::Source)?;
    // A walk or a feed may pass a page with nothing to take (folders of web links,
    // assets still preparing): only a repeated token says it is stuck.
    let empty = page.entries.is_empty() && page.deferred.is_empty() && !unordered;
    if page.next.is_some() && (empty || page.next == run.token) {
        return Err(Halt::Fail(
            "the provider's listing did not advance (an empty or repeated page): nothing deleted"
                .into(),
        ));
    }
    if !unordered && !page.deferred.is_empty() {
        return Err(Halt::Fail(
            "a source that lists in key order deferred a listing: nothing deleted".into(),
        ));
    }
    if let Some(long) = page
        .deferred
        .iter()
        .find(|t| t.len() > crate::ports::MAX_CONTINUATION_BYTES)
    {
        return Err(Halt::Fail(format!(
            "the provider deferred a listing whose token is {} bytes, over the {} this server keeps: nothing deleted",
            long.len(),
            crate::ports::MAX_CONTINUATION_BYTES
        )));
    }
    let last_key = if unordered {
        None
    } else {
        run.last_key.as_deref()
    };
    match unusable(&page, last_key, unordered) {
        Some(why) => Err(Halt::Fail(why)),
        None => Ok(page),
    }
}

/// The page merged with the manifest's entries for the same key range: what is new,
/// changed, gone or refused; the files' earlier dead letters; and how many entries the
/// range held.
async fn plan_page(
    ctx: &AppContext,
    sync: &Sync,
    run: &SyncRun,
    prefix: &str,
    listed: &SourcePage,
    unordered: bool,
) -> Result<(Plan, HashMap<String, DeadLetter>, i64), Halt> {
    let filters = sync
        .file_filters
        .as_ref()
        .map(|f| f.compile())
        .transpose()
        .map_err(|why| Halt::Fail(format!("file_filters: {why}")))?;
    let up_to = listed
        .next
        .as_ref()
        .and(listed.entries.last())
        .map(|e| e.key.as_str());
    let known = if unordered {
        // Only the listed keys' entries: the page cannot say what lies between them.
        let keys: Vec<String> = listed.entries.iter().map(|e| e.key.clone()).collect();
        super::spill::entries_of(ctx, &sync.sync_config_id, &keys).await?
    } else {
        manifest_range(ctx, &sync.sync_config_id, run.last_key.as_deref(), up_to).await?
    };
    let known_count = known.len() as i64;
    let rules = Rules {
        filters: filters.as_ref(),
        max_bytes: ctx.config.max_fetch_bytes as u64,
        budget: sync.max_objects_per_run - (run.counts.new + run.counts.modified),
    };
    let mut plan = plan(sync, run, prefix, &listed.entries, known, rules);
    let prior = prior_dead_letters(ctx, sync, &plan).await?;
    leave_dead_files(&mut plan, &prior);
    Ok((plan, prior, known_count))
}

/// The page's writes, worked out file by file.
struct Writes {
    counts: RunCounts,
    dead: Vec<DeadFile>,
    manifest: Vec<Item>,
    /// Objects to process: new ones, changed ones (unless the sync says not to) and
    /// those an earlier delivery of this page registered.
    to_process: Vec<String>,
    bytes: i64,
    entries_after: i64,
}

impl Writes {
    fn new(plan: &Plan, known: i64) -> Self {
        Writes {
            counts: plan.counts.clone(),
            dead: plan.dead.clone(),
            manifest: Vec::new(),
            to_process: plan.redone.clone(),
            bytes: 0,
            entries_after: known,
        }
    }

    /// A file that was counted new or modified becomes a failure with a dead letter.
    fn refuse(&mut self, e: &SourceEntry, was_new: bool, reason: &'static str, why: String) {
        if was_new {
            self.counts.new -= 1;
        } else {
            self.counts.modified -= 1;
        }
        self.counts.failed += 1;
        self.dead.push((e.clone(), reason, why));
    }

    /// New files: one object each, idempotent on (sync, run, key) so a redelivery
    /// replays.
    async fn create_new(&mut self, p: &Page<'_>, new: &[SourceEntry]) -> Result<(), Error> {
        let mut requests = Vec::with_capacity(new.len());
        let mut placed = Vec::with_capacity(new.len());
        for e in new {
            let run_id = &p.run.sync_job_id;
            match create_request(
                p.sync,
                &p.source_bucket,
                run_id,
                e,
                &p.schema,
                p.mapping.as_ref(),
            ) {
                Ok(r) => {
                    requests.push(Ok(r));
                    placed.push(e);
                }
                Err((reason, why)) => self.refuse(e, true, reason, why),
            }
        }
        if requests.is_empty() {
            return Ok(());
        }
        let results =
            objects::create_many(p.ctx, &p.bucket, requests, Policy::Insert, None).await?;
        for (e, r) in placed.into_iter().zip(results) {
            match r {
                Ok((o, _)) => {
                    self.bytes += e.size as i64;
                    self.entries_after += 1;
                    self.manifest
                        .push(manifest_item(p.sync, p.run, e, &o.object_id, "new"));
                    self.to_process.push(o.object_id);
                }
                Err(err) if err.retryable() => return Err(err),
                Err(err) => self.refuse(e, true, "object_rejected", err.to_string()),
            }
        }
        Ok(())
    }

    /// Changed files: their object takes the new version (and is processed again).
    async fn update_modified(
        &mut self,
        p: &Page<'_>,
        modified: &[(SourceEntry, ManifestEntry)],
    ) -> Result<(), Error> {
        for (e, old) in modified {
            if !p.sync.reconcile.on_update {
                self.manifest
                    .push(manifest_item(p.sync, p.run, e, &old.object_id, "modified"));
                continue;
            }
            let mapping = p.mapping.as_ref();
            let placed = synced_blob(p.sync, &p.source_bucket, e, &p.schema, mapping)
                .and_then(|b| Ok((b, object_fields(mapping, &p.schema, e)?)));
            let (blob, fields) = match placed {
                Ok(placed) => placed,
                Err((reason, why)) => {
                    self.refuse(e, false, reason, why);
                    continue;
                }
            };
            let Some(object_id) = self.replace(p, e, &old.object_id, blob, fields).await? else {
                continue;
            };
            self.bytes += e.size as i64;
            self.manifest
                .push(manifest_item(p.sync, p.run, e, &object_id, "modified"));
            if p.sync.reconcile.re_extract_on_update {
                self.to_process.push(object_id);
            }
        }
        Ok(())
    }

    /// The changed file's object takes its new blob and fields; an object deleted by hand
    /// is made again. `None`: refused (a dead letter).
    async fn replace(
        &mut self,
        p: &Page<'_>,
        e: &SourceEntry,
        object_id: &str,
        blob: CreateBlob,
        fields: Option<serde_json::Map<String, Value>>,
    ) -> Result<Option<String>, Error> {
        let blobs = Some(vec![blob.clone()]);
        let refused = match objects::update(
            p.ctx,
            &p.bucket,
            object_id,
            None,
            blobs,
            fields.clone(),
            false,
        )
        .await
        {
            Ok(o) => return Ok(Some(o.object_id)),
            Err(Error::NotFound(_)) => {
                let req = CreateObject {
                    blobs: vec![blob],
                    metadata: fields,
                    idempotency_key: Some(idempotency(p.sync, &p.run.sync_job_id, &e.key)),
                    ..CreateObject::default()
                };
                match objects::create_many(p.ctx, &p.bucket, vec![Ok(req)], Policy::Insert, None)
                    .await?
                    .pop()
                {
                    Some(Ok((o, _))) => return Ok(Some(o.object_id)),
                    Some(Err(err)) if err.retryable() => return Err(err),
                    Some(Err(err)) => err,
                    None => return Ok(None),
                }
            }
            Err(err) if err.retryable() => return Err(err),
            Err(err) => err,
        };
        self.refuse(e, false, "object_rejected", refused.to_string());
        Ok(None)
    }

    /// The manifest's new entries, the gone files' records and the dead letters, in
    /// batches of 25; a file that made it this time is no longer a dead letter.
    async fn save(
        &mut self,
        p: &Page<'_>,
        gone: &[ManifestEntry],
        prior: &HashMap<String, DeadLetter>,
    ) -> Result<(), Error> {
        let (sync, run) = (p.sync, p.run);
        let registered: HashSet<String> = self
            .manifest
            .iter()
            .filter_map(|i| {
                i.get("source_key")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        let at = now_rfc3339();
        let max_attempts = p.ctx.config.sync_max_file_attempts;
        let mut writes = std::mem::take(&mut self.manifest);
        writes.extend(gone.iter().map(|m| {
            let key = keys::gone(&sync.sync_config_id, &run.sync_job_id, &m.source_key);
            let mut item = to_item(&key, m);
            item.insert("object_id".into(), json!(m.object_id));
            item
        }));
        writes.extend(self.dead.iter().filter_map(|d| {
            dead_letter_item(sync, run, d, &at, prior.get(&d.0.key), max_attempts)
        }));
        for chunk in writes.chunks(25) {
            p.ctx.table.put_many(chunk.to_vec()).await?;
        }
        let cleared: Vec<_> = prior
            .keys()
            .filter(|k| registered.contains(*k))
            .map(|k| keys::dead_letter(&sync.sync_config_id, &key_hash(k)))
            .collect();
        if !cleared.is_empty() {
            p.ctx.table.delete_many(cleared).await?;
        }
        Ok(())
    }
}

/// Batches of what changed, unless the sync only registers objects.
async fn submit(
    p: &Page<'_>,
    msg: &PageMessage,
    to_process: &[String],
) -> Result<Vec<String>, Halt> {
    let sync = p.sync;
    if sync.skip_batch_submission || to_process.is_empty() {
        return Ok(Vec::new());
    }
    let ns: Namespace = match p
        .ctx
        .table
        .get(&keys::namespace(&sync.org_id, &sync.namespace_id))
        .await?
    {
        Some(item) => from_item(item)?,
        None => return Err(Halt::Fail("the namespace is gone".into())),
    };
    let mut batch_ids = Vec::new();
    for (i, chunk) in to_process
        .chunks(sync.batch_size.max(1) as usize)
        .enumerate()
    {
        let subject = format!("sync:{}:{}:{}", p.run.sync_job_id, msg.page, i);
        let collections = sync.batch_collection_ids.clone();
        match batches::create_for(p.ctx, &ns, &p.bucket, chunk.to_vec(), collections, &subject)
            .await
        {
            Ok((batch, _)) => batch_ids.push(batch.batch_id),
            Err(e) if e.retryable() => return Err(e.into()),
            // A chosen collection was deleted or disabled since the sync was saved.
            Err(e) => return Err(Halt::Fail(format!("batch_collection_ids: {e}"))),
        }
    }
    Ok(batch_ids)
}

/// Saves the page's outcome on its run, once (conditional on the page this message was
/// for), then queues the next page or finishes the run.
async fn advance(
    ctx: &AppContext,
    msg: &PageMessage,
    sync: &Sync,
    run: &SyncRun,
    done: PageDone,
) -> Result<(), Error> {
    let next = next_run(run, &done);
    let saved = ctx
        .table
        .write(Write::Put {
            item: to_item(
                &keys::sync_run(&sync.sync_config_id, &run.sync_job_id),
                &next,
            ),
            cond: Cond::Equals("page".into(), json!(run.page)),
        })
        .await;
    match saved {
        Ok(_) => {}
        Err(StoreError::ConditionFailed { .. }) => return Ok(()), // another delivery saved it
        Err(e) => return Err(e.into()),
    }
    let c = &done.counts;
    measure_files(ctx, c);
    let [list_ms, plan_ms, work_ms] = done.took_ms;
    tracing::info!(run_id = %run.sync_job_id, page = run.page, listed = done.listed.entries.len(), new = c.new, modified = c.modified, unchanged = c.unchanged, list_ms, plan_ms, work_ms, "sync page done");
    if done.next.is_none() {
        return finish(ctx, sync, next).await;
    }
    let msg = PageMessage {
        page: next.page,
        ..msg.clone()
    };
    ctx.queue
        .send(QueueName::Syncs, vec![msg.body()], Duration::ZERO)
        .await?;
    Ok(())
}

/// What became of a saved page's files (deletions are measured where they are applied).
fn measure_files(ctx: &AppContext, c: &RunCounts) {
    let outcomes = [
        ("new", c.new),
        ("modified", c.modified),
        ("unchanged", c.unchanged),
        ("filtered", c.filtered),
        ("failed", c.failed),
        ("deferred", c.deferred),
    ];
    for (outcome, n) in outcomes {
        if n > 0 {
            ctx.metrics.record(Measurement::sync_files(outcome, n));
        }
    }
}

/// The run after this page.
fn next_run(run: &SyncRun, done: &PageDone) -> SyncRun {
    let mut next = run.clone();
    next.page = run.page + 1;
    next.token = done.next.clone();
    next.frontier = done.frontier.clone();
    if let Some(k) = done.listed.entries.last() {
        next.last_key = Some(k.key.clone());
    }
    next.counts.add(&done.counts);
    next.manifest_entries = next.manifest_entries.map(|n| n + done.entries_after);
    next.gone += done.gone;
    next.unordered = done.unordered;
    next.bytes += done.bytes;
    next.batches_created += done.batch_ids.len() as i64;
    next.batch_ids.extend(done.batch_ids.iter().cloned());
    next.batch_ids.truncate(100);
    next.phase = if done.next.is_some() {
        "discovering".into()
    } else {
        "deleting".into()
    };
    next.updated_at = now_rfc3339();
    next
}
