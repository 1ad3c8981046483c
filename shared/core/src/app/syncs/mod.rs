//! Bucket syncs: a connection, a source path and rules; runs that list the source a
//! page at a time and register what changed (see [`engine`]). This module holds the
//! configuration's lifecycle: create (both the SDK's and the quickstart's body), read,
//! change, pause, resume, trigger, unlock, delete, and the runs, metrics and dead letters.

pub mod engine;
mod frontier;
mod inbound;
mod manifest;
pub mod mapping;
pub mod page;
mod spill;

pub use inbound::{inbound, Received};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::connections::{self, CreateConnection};
use super::{from_item, keys, to_item};
use crate::context::AppContext;
use crate::domain::connections::{ProviderRules, MAX_PREFIX_BYTES};
use crate::domain::entities::{Bucket, Namespace};
use crate::domain::ids::IdKind;
use crate::domain::status::{RunStatus, SyncStatus};
pub use crate::domain::sync::{
    at_epoch, parse_epoch, CompiledFilters, DeadLetter, FileFilters, Reconcile, RunCounts, Sync,
    SyncRun, MAX_EXTENSION_BYTES, MAX_MIME_BYTES, MAX_PATTERNS, MAX_PATTERNS_TOTAL_BYTES,
    MAX_PATTERN_BYTES, SUSPEND_AFTER,
};
use crate::domain::time::{now, now_rfc3339};
use crate::error::Error;
use crate::ports::{Cond, Item, Key, Query, StoreError, Update, Write};

/// `POST /v1/buckets/{id}/syncs`: the SDK's body, or the quickstart's (`provider`,
/// inline `connection`, `sync_config`), which makes a connection of its own.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSync {
    #[serde(default)]
    pub connection_id: Option<String>,
    #[serde(default)]
    pub source_path: Option<String>,
    /// `continuous` (default) or `initial_only`; the quickstart's `incremental` means continuous.
    #[serde(default)]
    pub sync_mode: Option<String>,
    #[serde(default)]
    pub file_filters: Option<FileFilters>,
    /// Which blob property the file goes into and metadata fields from its key (see
    /// [`mapping`]); without one, a file goes to the blob property of its type.
    #[serde(default)]
    pub schema_mapping: Option<Value>,
    /// Only files modified after this instant (RFC 3339) are taken; older ones count as filtered.
    #[serde(default)]
    pub sync_from: Option<String>,
    /// 30 to 86400 (default 300).
    #[serde(default)]
    pub polling_interval_seconds: Option<i64>,
    /// Objects per batch, 1 to 100 (default 50).
    #[serde(default)]
    pub batch_size: Option<i64>,
    #[serde(default)]
    pub skip_batch_submission: Option<bool>,
    #[serde(default)]
    pub batch_collection_ids: Option<Vec<String>>,
    /// `false`: every run re-ingests every file, unchanged or not (default `true`).
    #[serde(default)]
    pub skip_duplicates: Option<bool>,
    #[serde(default)]
    pub reconcile: Option<Reconcile>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub max_objects_per_run: Option<i64>,
    /// 1 to 100, kept and returned; objects are processed at the batch workers' own
    /// concurrency, which this does not change.
    #[serde(default)]
    pub sync_concurrency: Option<i64>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// Pushed down to the listing: for the S3 family, `{"prefix": "…"}` under the source path.
    #[serde(default)]
    pub provider_filters: Option<Map<String, Value>>,
    /// The quickstart's form: the provider of the inline connection.
    #[serde(default)]
    pub provider: Option<String>,
    /// The quickstart's form: `bucket_name`, `region`, `credentials` and any provider setting.
    #[serde(default)]
    pub connection: Option<Map<String, Value>>,
    /// The quickstart's form: `source_path`, `sync_mode`, `polling_interval` and the SDK's fields.
    #[serde(default)]
    pub sync_config: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSync {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// `SyncStatus::Active` or `SyncStatus::Suspended`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub polling_interval_seconds: Option<i64>,
    #[serde(default)]
    pub batch_size: Option<i64>,
    #[serde(default)]
    pub schema_mapping: Option<Value>,
    #[serde(default)]
    pub skip_batch_submission: Option<bool>,
    #[serde(default)]
    pub batch_collection_ids: Option<Vec<String>>,
    #[serde(default)]
    pub max_objects_per_run: Option<i64>,
    #[serde(default)]
    pub sync_concurrency: Option<i64>,
    #[serde(default)]
    pub reconcile: Option<Reconcile>,
    #[serde(default)]
    pub file_filters: Option<FileFilters>,
    #[serde(default)]
    pub provider_filters: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSyncs {
    #[serde(default)]
    pub connection_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRuns {
    /// `running`, `completed`, `failed`, `interrupted`.
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDeadLetters {
    #[serde(default)]
    pub only_max_retries: Option<bool>,
    #[serde(default)]
    pub error_types: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequeueDeadLetters {
    #[serde(default)]
    pub error_types: Option<Vec<String>>,
}

/// `provider_filters` of the S3 family: only `prefix`, pushed down to ListObjectsV2.
fn check_provider_filters(filters: &Map<String, Value>) -> Result<(), Error> {
    for (k, v) in filters {
        match (k.as_str(), v) {
            ("prefix", Value::String(p)) if p.len() <= 512 => {}
            ("prefix", _) => {
                return Err(Error::field(
                    "provider_filters.prefix",
                    "must be a string of at most 512 bytes",
                ))
            }
            (other, _) => {
                return Err(Error::field(
                    format!("provider_filters.{other}"),
                    "is not a filter of this provider (S3-compatible stores take `prefix`)",
                ))
            }
        }
    }
    Ok(())
}

/// The most of a sync's description.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// The most of a `schema_mapping`, as JSON.
pub const MAX_MAPPING_BYTES: usize = 16 * 1024;

fn check_mapping_size(m: &Value) -> Result<(), Error> {
    connections::check_json_size("schema_mapping", m, MAX_MAPPING_BYTES)
}

/// The prefix a source path points at (`prefix`), narrowed by `provider_filters.prefix`,
/// within the longest key.
fn check_listing_prefix(prefix: &str, filters: Option<&Map<String, Value>>) -> Result<(), Error> {
    let narrower = filters
        .and_then(|f| f.get("prefix"))
        .and_then(Value::as_str)
        .map_or(0, |p| p.trim_start_matches('/').len());
    if prefix.len() + narrower > MAX_PREFIX_BYTES {
        return Err(Error::field(
            "source_path",
            format!(
                "the prefix under the bucket (with provider_filters.prefix) must be at most {MAX_PREFIX_BYTES} bytes"
            ),
        ));
    }
    Ok(())
}

fn check_sync_from(at: &str) -> Result<(), Error> {
    parse_epoch(at)
        .map(|_| ())
        .ok_or_else(|| Error::field("sync_from", "must be an RFC 3339 date-time"))
}

/// The sync as a table item, with its place in the poller's index.
pub fn sync_item(s: &Sync) -> Item {
    let mut item = to_item(&keys::sync(&s.bucket_id, &s.sync_config_id), s);
    if let Some(epoch) = s.due_epoch() {
        crate::store::index::Entry::DueSync {
            sync_id: &s.sync_config_id,
            epoch,
        }
        .insert_into(&mut item);
    }
    item
}

/// Writes `next` over `before` if nothing changed it meanwhile.
pub async fn save(ctx: &AppContext, before: &Sync, mut next: Sync) -> Result<Sync, Error> {
    next.version = before.version + 1;
    next.updated_at = now_rfc3339();
    let write = Write::Put {
        item: sync_item(&next),
        cond: Cond::Equals("version".into(), json!(before.version)),
    };
    match ctx.table.write(write).await {
        Ok(_) => Ok(next),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::Conflict(format!(
            "sync {} changed while this request ran; retry",
            before.sync_config_id
        ))),
        Err(e) => Err(e.into()),
    }
}

fn check_range(field: &str, v: Option<i64>, lo: i64, hi: i64, default: i64) -> Result<i64, Error> {
    match v {
        None => Ok(default),
        Some(n) if (lo..=hi).contains(&n) => Ok(n),
        Some(n) => Err(Error::field(
            field,
            format!("must be {lo} to {hi}, got {n}"),
        )),
    }
}

fn sync_mode(given: Option<&str>) -> Result<String, Error> {
    match given.unwrap_or("continuous") {
        "continuous" | "incremental" => Ok("continuous".into()),
        "initial_only" => Ok("initial_only".into()),
        other => Err(Error::field(
            "sync_mode",
            format!("expected continuous or initial_only, got {other:?}"),
        )),
    }
}

/// The quickstart's body as the SDK's: `sync_config`'s fields flattened (with
/// `polling_interval` as seconds), and the inline connection made into a request.
fn desugar(
    mut req: CreateSync,
    rules_of: impl Fn(&str) -> ProviderRules,
) -> Result<(CreateSync, Option<CreateConnection>), Error> {
    if let Some(cfg) = req.sync_config.take() {
        let mut cfg = cfg;
        if let Some(p) = cfg.remove("polling_interval") {
            cfg.entry("polling_interval_seconds").or_insert(p);
        }
        let mut base =
            serde_json::to_value(SdkFields::from(&req)).map_err(|e| Error::Internal(e.into()))?;
        for (k, v) in cfg {
            if base.get(&k).is_some_and(|old| !old.is_null()) {
                return Err(Error::field(
                    format!("sync_config.{k}"),
                    "is also given at the top level",
                ));
            }
            base[k] = v;
        }
        let flat: SdkFields = serde_path_to_error::deserialize(base).map_err(|e| {
            Error::field(
                format!("sync_config.{}", e.path()),
                e.into_inner().to_string(),
            )
        })?;
        flat.apply(&mut req);
    }
    let inline = match (req.connection.take(), req.provider.take()) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(Error::field(
                "provider",
                "is required with an inline connection",
            ))
        }
        (None, Some(_)) => return Err(Error::field("connection", "is required with provider")),
        (Some(mut conn), Some(provider)) => {
            if req.connection_id.is_some() {
                return Err(Error::field(
                    "connection_id",
                    "give connection_id or an inline connection, not both",
                ));
            }
            let rules = rules_of(&provider);
            let bucket = match conn.remove("bucket_name") {
                Some(Value::String(b)) if !b.is_empty() => Some(b),
                // A feed (Mux) has no bucket to name; a provider whose own setting names
                // the container (Box's folder_id, or its root by default) needs none.
                None if !rules.paths || rules.container_setting.is_some() => None,
                _ => return Err(Error::field("connection.bucket_name", "is required")),
            };
            // Flat credentials are the provider's usual kind (the quickstart names no type).
            if let Some(Value::Object(c)) = conn.get_mut("credentials") {
                c.entry("type")
                    .or_insert_with(|| json!(rules.default_credentials));
            }
            let path = req.source_path.clone().unwrap_or_default();
            match (rules.container_setting, &bucket) {
                // The connection names the container; the path stays a path inside it.
                (Some(setting), Some(b)) => {
                    conn.insert(setting.into(), json!(b));
                }
                (None, Some(b)) => {
                    req.source_path = Some(format!("{b}/{}", path.trim_start_matches('/')))
                }
                _ => {}
            }
            let named = bucket.unwrap_or_default();
            Some(CreateConnection {
                name: format!("{provider}:{named} ({})", IdKind::Connection.new_id()),
                provider_type: provider,
                provider_config: conn,
                description: Some(
                    "made by a sync request that carried its connection inline".into(),
                ),
                metadata: None,
                write_enabled: None,
                test_before_save: Some(true),
            })
        }
    };
    Ok((req, inline))
}

/// The SDK's flat fields, for merging the quickstart's `sync_config` into them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SdkFields {
    source_path: Option<String>,
    sync_mode: Option<String>,
    file_filters: Option<FileFilters>,
    schema_mapping: Option<Value>,
    sync_from: Option<String>,
    polling_interval_seconds: Option<i64>,
    batch_size: Option<i64>,
    skip_batch_submission: Option<bool>,
    batch_collection_ids: Option<Vec<String>>,
    skip_duplicates: Option<bool>,
    reconcile: Option<Reconcile>,
    description: Option<String>,
    max_objects_per_run: Option<i64>,
    sync_concurrency: Option<i64>,
    metadata: Option<Map<String, Value>>,
    provider_filters: Option<Map<String, Value>>,
}

impl From<&CreateSync> for SdkFields {
    fn from(r: &CreateSync) -> Self {
        SdkFields {
            source_path: r.source_path.clone(),
            sync_mode: r.sync_mode.clone(),
            file_filters: r.file_filters.clone(),
            schema_mapping: r.schema_mapping.clone(),
            sync_from: r.sync_from.clone(),
            polling_interval_seconds: r.polling_interval_seconds,
            batch_size: r.batch_size,
            skip_batch_submission: r.skip_batch_submission,
            batch_collection_ids: r.batch_collection_ids.clone(),
            skip_duplicates: r.skip_duplicates,
            reconcile: r.reconcile.clone(),
            description: r.description.clone(),
            max_objects_per_run: r.max_objects_per_run,
            sync_concurrency: r.sync_concurrency,
            metadata: r.metadata.clone(),
            provider_filters: r.provider_filters.clone(),
        }
    }
}

impl SdkFields {
    fn apply(self, r: &mut CreateSync) {
        r.source_path = self.source_path;
        r.sync_mode = self.sync_mode;
        r.file_filters = self.file_filters;
        r.schema_mapping = self.schema_mapping;
        r.sync_from = self.sync_from;
        r.polling_interval_seconds = self.polling_interval_seconds;
        r.batch_size = self.batch_size;
        r.skip_batch_submission = self.skip_batch_submission;
        r.batch_collection_ids = self.batch_collection_ids;
        r.skip_duplicates = self.skip_duplicates;
        r.reconcile = self.reconcile;
        r.description = self.description;
        r.max_objects_per_run = self.max_objects_per_run;
        r.sync_concurrency = self.sync_concurrency;
        r.metadata = self.metadata;
        r.provider_filters = self.provider_filters;
    }
}

/// Creates a sync (and, for the quickstart's body, its connection), due at once.
pub async fn create(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    created_by: &str,
    req: CreateSync,
) -> Result<Sync, Error> {
    let (req, inline) = desugar(req, |p| ctx.connectors.rules(p))?;
    let source_path = req
        .source_path
        .clone()
        .ok_or_else(|| Error::field("source_path", "is required: bucket/prefix"))?;
    // A saved connection is read now; an inline one is checked now and saved last.
    let saved = match req.connection_id.as_deref() {
        Some(id) => Some(saved_connection(ctx, ns, id).await?),
        None => None,
    };
    let (provider, settings) = match (&saved, &inline) {
        (Some(c), _) => (c.provider_type.as_str(), &c.settings),
        (None, Some(i)) => (i.provider_type.as_str(), &i.provider_config),
        (None, None) => {
            return Err(Error::field(
                "connection_id",
                "is required (or an inline provider and connection)",
            ))
        }
    };
    let (_, prefix) = located(ctx, provider, settings, &source_path)?;
    let sync_mode = sync_mode(req.sync_mode.as_deref())?;
    let polling = check_range(
        "polling_interval_seconds",
        req.polling_interval_seconds,
        30,
        86_400,
        300,
    )?;
    let batch_size = check_range("batch_size", req.batch_size, 1, 100, 50)?;
    let max_objects = check_range(
        "max_objects_per_run",
        req.max_objects_per_run,
        1,
        10_000_000,
        100_000,
    )?;
    if let Some(c) = req.sync_concurrency {
        check_range("sync_concurrency", Some(c), 1, 100, 8)?;
    }
    check_options(&req, bucket, &prefix)?;
    let (batch_collection_ids, _) = super::collections::chosen_targets(
        ctx,
        ns,
        &bucket.bucket_id,
        req.batch_collection_ids.as_deref(),
        "batch_collection_ids",
    )
    .await?;
    let connection = match saved {
        Some(c) => c,
        None => implicit_connection(ctx, ns, created_by, inline).await?,
    };
    let at = now_rfc3339();
    let sync = Sync {
        sync_config_id: IdKind::Sync.new_id(),
        bucket_id: bucket.bucket_id.clone(),
        namespace_id: ns.namespace_id.clone(),
        org_id: ns.org_id.clone(),
        connection_id: connection.connection_id.clone(),
        provider_type: connection.provider_type.clone(),
        source_path,
        sync_mode,
        file_filters: req.file_filters,
        schema_mapping: req.schema_mapping,
        sync_from: req.sync_from,
        polling_interval_seconds: polling,
        batch_size,
        skip_batch_submission: req.skip_batch_submission.unwrap_or(false),
        batch_collection_ids,
        skip_duplicates: req.skip_duplicates.unwrap_or(true),
        reconcile: req.reconcile.unwrap_or_default(),
        description: req.description,
        max_objects_per_run: max_objects,
        sync_concurrency: req.sync_concurrency,
        metadata: req.metadata,
        provider_filters: req.provider_filters,
        status: SyncStatus::Active,
        paused: false,
        pause_reason: None,
        paused_at: None,
        next_sync_at: Some(at.clone()),
        last_sync_at: None,
        last_error: None,
        consecutive_failures: 0,
        current_run_id: None,
        lock_expires_epoch: None,
        sync_run_counter: 0,
        manifest_count: 0,
        total_files_discovered: 0,
        total_files_synced: 0,
        total_files_failed: 0,
        total_bytes_synced: 0,
        batches_created: 0,
        created_by: created_by.to_string(),
        created_at: at.clone(),
        updated_at: at,
        version: 1,
    };
    ctx.table.write(Write::create(sync_item(&sync))).await?;
    Ok(sync)
}

/// A sync's checks beyond its required fields: bounded text and JSON, filters that
/// compile, a mapping the bucket's schema takes, a listing prefix and start time that
/// are valid.
fn check_options(req: &CreateSync, bucket: &Bucket, prefix: &str) -> Result<(), Error> {
    connections::check_description(req.description.as_deref(), MAX_DESCRIPTION_CHARS)?;
    connections::check_metadata(req.metadata.as_ref())?;
    if let Some(f) = &req.file_filters {
        f.check()?;
    }
    if let Some(r) = &req.reconcile {
        r.check()?;
    }
    if let Some(m) = &req.schema_mapping {
        check_mapping_size(m)?;
        mapping::SchemaMapping::parse(m, &bucket.schema()?)?;
    }
    if let Some(f) = &req.provider_filters {
        check_provider_filters(f)?;
    }
    check_listing_prefix(prefix, req.provider_filters.as_ref())?;
    if let Some(at) = &req.sync_from {
        check_sync_from(at)?;
    }
    Ok(())
}

/// Where `source_path` points under a connection of `provider` with `settings`.
fn located(
    ctx: &AppContext,
    provider: &str,
    settings: &Map<String, Value>,
    source_path: &str,
) -> Result<(String, String), Error> {
    ctx.connectors
        .rules(provider)
        .locate(settings, source_path)
        .map_err(|e| Error::field(e.field, e.reason))
}

/// The saved connection a new sync names by id.
async fn saved_connection(
    ctx: &AppContext,
    ns: &Namespace,
    id: &str,
) -> Result<connections::Connection, Error> {
    connections::get(ctx, &ns.org_id, id)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) => {
                Error::field("connection_id", format!("connection {id:?} not found"))
            }
            other => other,
        })
}

/// The connection the quickstart's body carries inline, saved now as an implicit one.
async fn implicit_connection(
    ctx: &AppContext,
    ns: &Namespace,
    created_by: &str,
    inline: Option<CreateConnection>,
) -> Result<connections::Connection, Error> {
    let inline = inline.ok_or_else(|| {
        Error::field(
            "connection_id",
            "is required (or an inline provider and connection)",
        )
    })?;
    connections::create_implicit(ctx, &ns.org_id, created_by, inline)
        .await
        .map_err(|e| match e {
            // The inline connection's fields sit under `connection` in this body.
            Error::Invalid { message, details } => Error::Invalid {
                message: message.replacen("provider_config", "connection", 1),
                details,
            },
            other => other,
        })
}

pub async fn get(ctx: &AppContext, bucket: &Bucket, id: &str) -> Result<Sync, Error> {
    if !IdKind::Sync.matches(id) {
        return Err(Error::not_found("sync: no sync has that id"));
    }
    match ctx.table.get(&keys::sync(&bucket.bucket_id, id)).await? {
        Some(item) => from_item(item),
        None => Err(Error::not_found(format!("sync {id:?}"))),
    }
}

pub async fn list(ctx: &AppContext, bucket: &Bucket, req: &ListSyncs) -> Result<Vec<Sync>, Error> {
    let all: Vec<Sync> = super::lists::all_records(
        ctx.table.as_ref(),
        Query::partition(keys::bkt_pk(&bucket.bucket_id)).prefix("SYNC#"),
    )
    .await?;
    Ok(all
        .into_iter()
        .filter(|s| {
            req.connection_id
                .as_ref()
                .is_none_or(|c| *c == s.connection_id)
        })
        .filter(|s| {
            req.status
                .as_ref()
                .is_none_or(|st| st.eq_ignore_ascii_case(s.status.as_str()))
        })
        .filter(|s| {
            req.is_active
                .is_none_or(|a| a == (s.status == SyncStatus::Active && !s.paused))
        })
        .collect())
}

pub async fn update(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    id: &str,
    req: UpdateSync,
) -> Result<Sync, Error> {
    let before = get(ctx, bucket, id).await?;
    let mut s = before.clone();
    connections::check_description(req.description.as_deref(), MAX_DESCRIPTION_CHARS)?;
    connections::check_metadata(req.metadata.as_ref())?;
    if req.description.is_some() {
        s.description = req.description;
    }
    if let Some(m) = req.metadata {
        s.metadata = Some(m);
    }
    if let Some(p) = req.polling_interval_seconds {
        s.polling_interval_seconds =
            check_range("polling_interval_seconds", Some(p), 30, 86_400, 300)?;
    }
    if let Some(b) = req.batch_size {
        s.batch_size = check_range("batch_size", Some(b), 1, 100, 50)?;
    }
    if let Some(m) = req.max_objects_per_run {
        s.max_objects_per_run =
            check_range("max_objects_per_run", Some(m), 1, 10_000_000, 100_000)?;
    }
    if let Some(c) = req.sync_concurrency {
        s.sync_concurrency = Some(check_range("sync_concurrency", Some(c), 1, 100, 8)?);
    }
    if let Some(m) = req.schema_mapping {
        check_mapping_size(&m)?;
        mapping::SchemaMapping::parse(&m, &bucket.schema()?)?;
        s.schema_mapping = Some(m);
    }
    if let Some(v) = req.skip_batch_submission {
        s.skip_batch_submission = v;
    }
    if let Some(ids) = req.batch_collection_ids {
        let (chosen, _) = super::collections::chosen_targets(
            ctx,
            ns,
            &bucket.bucket_id,
            Some(&ids),
            "batch_collection_ids",
        )
        .await?;
        s.batch_collection_ids = chosen;
    }
    if let Some(r) = req.reconcile {
        r.check()?;
        s.reconcile = r;
    }
    if let Some(f) = &req.file_filters {
        f.check()?;
        s.file_filters = req.file_filters;
    }
    if let Some(f) = req.provider_filters {
        check_provider_filters(&f)?;
        // The whole source path bounds the prefix it points at under any provider's
        // rules (this route opens no connection); a listing refuses a longer one anyway.
        check_listing_prefix(s.source_path.trim_start_matches('/'), Some(&f))?;
        s.provider_filters = Some(f);
    }
    let activate = match (req.status.as_deref(), req.is_active) {
        (Some("ACTIVE"), _) | (None, Some(true)) => Some(true),
        (Some("SUSPENDED"), _) | (None, Some(false)) => Some(false),
        (Some(other), _) => {
            return Err(Error::field(
                "status",
                format!("expected SyncStatus::Active or SyncStatus::Suspended, got {other:?}"),
            ))
        }
        (None, None) => None,
    };
    match activate {
        Some(true) if s.status != SyncStatus::Active => {
            s.status = SyncStatus::Active;
            s.consecutive_failures = 0;
            s.next_sync_at = Some(now_rfc3339());
        }
        Some(false) => s.status = SyncStatus::Suspended,
        _ => {}
    }
    save(ctx, &before, s).await
}

pub async fn pause(ctx: &AppContext, bucket: &Bucket, id: &str) -> Result<Sync, Error> {
    let before = get(ctx, bucket, id).await?;
    let mut s = before.clone();
    s.paused = true;
    s.paused_at = Some(now_rfc3339());
    s.pause_reason = Some("paused through the API".into());
    save(ctx, &before, s).await
}

/// Unpauses; the next run is due at once.
pub async fn resume(ctx: &AppContext, bucket: &Bucket, id: &str) -> Result<Sync, Error> {
    let before = get(ctx, bucket, id).await?;
    let mut s = before.clone();
    s.paused = false;
    s.paused_at = None;
    s.pause_reason = None;
    s.next_sync_at = Some(now_rfc3339());
    save(ctx, &before, s).await
}

/// Releases a lease whose worker is gone; its run is marked interrupted.
pub async fn unlock(ctx: &AppContext, bucket: &Bucket, id: &str) -> Result<Sync, Error> {
    let before = get(ctx, bucket, id).await?;
    let mut s = before.clone();
    s.lock_expires_epoch = None;
    if let Some(run_id) = &s.current_run_id {
        if let Ok(mut run) = get_run(ctx, &s, run_id).await {
            if run.status == RunStatus::Running {
                run.status = RunStatus::Interrupted;
                run.phase = "idle".into();
                run.error = Some("unlocked through the API".into());
                run.updated_at = now_rfc3339();
                ctx.table
                    .write(Write::put(to_item(
                        &keys::sync_run(&s.sync_config_id, run_id),
                        &run,
                    )))
                    .await?;
            }
        }
    }
    save(ctx, &before, s).await
}

/// Deletes a sync and its manifest, runs and dead letters; the objects it made stay.
pub async fn delete(ctx: &AppContext, bucket: &Bucket, id: &str) -> Result<Sync, Error> {
    let s = get(ctx, bucket, id).await?;
    ctx.table
        .write(Write::Delete {
            key: keys::sync(&bucket.bucket_id, id),
            cond: Cond::Exists,
        })
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => Error::not_found(format!("sync {id:?}")),
            other => other.into(),
        })?;
    loop {
        let page = ctx
            .table
            .query(&Query::partition(keys::sync_pk(id)).limit(100))
            .await?;
        if page.items.is_empty() {
            break;
        }
        let keys = page
            .items
            .iter()
            .filter_map(crate::ports::Key::of)
            .collect();
        ctx.table.delete_many(keys).await?;
    }
    Ok(s)
}

pub async fn get_run(ctx: &AppContext, s: &Sync, run_id: &str) -> Result<SyncRun, Error> {
    match ctx
        .table
        .get(&keys::sync_run(&s.sync_config_id, run_id))
        .await?
    {
        Some(item) => from_item(item),
        None => Err(Error::not_found(format!("sync job {run_id:?}"))),
    }
}

/// The sync's runs, newest first.
pub async fn list_runs(ctx: &AppContext, s: &Sync, req: &ListRuns) -> Result<Vec<SyncRun>, Error> {
    let page = ctx
        .table
        .query(
            &Query::partition(keys::sync_pk(&s.sync_config_id))
                .prefix("RUN#")
                .descending(true)
                .limit(100),
        )
        .await?;
    let runs: Vec<SyncRun> = page
        .items
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    Ok(runs
        .into_iter()
        .filter(|r| {
            req.status
                .as_ref()
                .is_none_or(|st| st.eq_ignore_ascii_case(r.status.as_str()))
        })
        .collect())
}

pub async fn dead_letters(
    ctx: &AppContext,
    s: &Sync,
    req: &ListDeadLetters,
) -> Result<Vec<DeadLetter>, Error> {
    let all: Vec<DeadLetter> = super::lists::all_records(
        ctx.table.as_ref(),
        Query::partition(keys::sync_pk(&s.sync_config_id)).prefix("DLQ#"),
    )
    .await?;
    Ok(all
        .into_iter()
        .filter(|d| {
            req.error_types
                .as_ref()
                .is_none_or(|t| t.contains(&d.error_type))
        })
        .filter(|d| !req.only_max_retries.unwrap_or(false) || d.max_retries_reached)
        .collect())
}

/// What a requeue did: how many dead letters it made retryable, and the run that
/// retries them now (none while a run is under way, or the sync is paused or
/// suspended: the next run does).
pub struct Requeue {
    pub requeued: usize,
    pub sync_job_id: Option<String>,
}

/// Gives the chosen dead files (those out of attempts) one more attempt and starts a
/// run to make it now. Their dead letters stay, with their attempt counts, until a run
/// takes the file.
pub async fn requeue(
    ctx: &AppContext,
    s: &Sync,
    req: &RequeueDeadLetters,
) -> Result<Requeue, Error> {
    let items = super::lists::all_items(
        ctx.table.as_ref(),
        Query::partition(keys::sync_pk(&s.sync_config_id)).prefix("DLQ#"),
    )
    .await?;
    let chosen: Vec<Item> = items
        .into_iter()
        // Entries with attempts left are retried by every run already.
        .filter(|i| i.get("max_retries_reached") == Some(&json!(true)))
        .filter(|i| {
            let t = i
                .get("error_type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            req.error_types
                .as_ref()
                .is_none_or(|ts| ts.iter().any(|x| x == t))
        })
        .map(|mut i| {
            i.insert("max_retries_reached".into(), json!(false));
            i
        })
        .collect();
    let requeued = chosen.len();
    for chunk in chosen.chunks(25) {
        ctx.table.put_many(chunk.to_vec()).await?;
    }
    let sync_job_id = if requeued > 0 && !s.paused && s.status == SyncStatus::Active && !s.locked()
    {
        match engine::start(ctx, s.clone(), "manual", false).await {
            Ok(run) => Some(run.sync_job_id),
            Err(Error::Conflict(_)) => None, // a run started meanwhile; it or the next takes them
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    Ok(Requeue {
        requeued,
        sync_job_id,
    })
}

/// Health, as `GET …/metrics` reports it.
pub struct Health {
    pub is_stale: bool,
    pub stale_after_seconds: i64,
    pub stalled: bool,
    pub healthy: bool,
}

pub fn health(s: &Sync, last: Option<&SyncRun>) -> Health {
    let stale_after = (2 * s.polling_interval_seconds).max(120);
    let now = now().unix_timestamp();
    let since_last = s
        .last_sync_at
        .as_deref()
        .and_then(parse_epoch)
        .map(|t| now - t);
    let is_stale = s.continuous()
        && s.status == SyncStatus::Active
        && !s.paused
        && since_last.is_none_or(|d| d > stale_after)
        && parse_epoch(&s.created_at).is_some_and(|c| now - c > stale_after);
    let stalled = last.is_some_and(|r| r.status == RunStatus::Running) && !s.locked();
    Health {
        is_stale,
        stale_after_seconds: stale_after,
        stalled,
        healthy: !is_stale
            && !stalled
            && s.consecutive_failures == 0
            && s.status == SyncStatus::Active,
    }
}

/// Stops retries of the dead files whose error is one of `error_types`: they stay in
/// the dead-letter list, out of attempts, until requeued. Returns how many changed.
pub async fn mark_permanently_failed(
    ctx: &AppContext,
    s: &Sync,
    error_types: &[String],
) -> Result<usize, Error> {
    if error_types.is_empty() || error_types.len() > 50 {
        return Err(Error::field("error_types", "name 1 to 50 error types"));
    }
    let letters = super::lists::all_items(
        ctx.table.as_ref(),
        Query::partition(keys::sync_pk(&s.sync_config_id)).prefix("DLQ#"),
    )
    .await?;
    let mut updated = 0;
    for item in &letters {
        let Some(key) = Key::of(item) else { continue };
        let d: DeadLetter = from_item(item.clone())?;
        if d.max_retries_reached || !error_types.contains(&d.error_type) {
            continue;
        }
        let write = Write::Update {
            key,
            updates: vec![Update::Set("max_retries_reached".into(), json!(true))],
            cond: Cond::Exists,
        };
        match ctx.table.write(write).await {
            Ok(_) => updated += 1,
            // Taken by a run meanwhile (the file synced): nothing to stop.
            Err(StoreError::ConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quickstart_body_is_the_sdks() {
        let req: CreateSync = serde_json::from_value(json!({
            "provider": "s3",
            "connection": {"bucket_name": "my-source-bucket", "region": "us-east-1",
                           "credentials": {"access_key_id": "AKIA...", "secret_access_key": "..."}},
            "sync_config": {"source_path": "/videos/", "sync_mode": "incremental", "polling_interval": 3600}
        }))
        .unwrap();
        let (flat, conn) = desugar(req, |_| ProviderRules::S3).unwrap();
        assert_eq!(
            flat.source_path.as_deref(),
            Some("my-source-bucket/videos/")
        );
        assert_eq!(flat.polling_interval_seconds, Some(3600));
        assert_eq!(sync_mode(flat.sync_mode.as_deref()).unwrap(), "continuous");
        let conn = conn.unwrap();
        assert_eq!(conn.provider_type, "s3");
        assert_eq!(conn.provider_config["credentials"]["type"], "access_key");
        assert!(!conn.provider_config.contains_key("bucket_name"));
        let both: CreateSync =
            serde_json::from_value(json!({"batch_size": 5, "sync_config": {"batch_size": 6}}))
                .unwrap();
        assert!(desugar(both, |_| ProviderRules::S3).is_err());
    }
}
