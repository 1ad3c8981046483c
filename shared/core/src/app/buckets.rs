//! Buckets: schema-validated containers of objects inside a namespace.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::lists::{collect, ListRequest};
use super::purge::{self, PurgeScope};
use super::views::{record, BucketView, DeletionQueued, Page};
use super::{from_item, keys, pointer, tasks, to_item};
use crate::context::AppContext;
use crate::domain::entities::{Bucket, Namespace, UniqueKey};
use crate::domain::ids::IdKind;
use crate::domain::names;
use crate::domain::schema::{BucketSchema, FieldError};
use crate::domain::status::{RecordStatus, TaskStatus};
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Cond, Query, StoreError, Update, Write};

pub const POLICIES: [&str; 3] = ["insert", "update", "upsert"];

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBucket {
    pub bucket_name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `{"properties": {"<name>": {"type": "...", "required": bool, ...}}}`.
    pub bucket_schema: Value,
    #[serde(default)]
    pub unique_key: Option<UniqueKey>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBucket {
    #[serde(default)]
    pub bucket_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub bucket_schema: Option<Value>,
    #[serde(default)]
    pub unique_key: Option<UniqueKey>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

fn field_err(e: FieldError) -> Error {
    Error::field(e.field, e.reason)
}

fn check_name(name: &str) -> Result<(), Error> {
    names::check(name, 1, 128, IdKind::Bucket).map_err(|reason| Error::field("bucket_name", reason))
}

fn check_unique_key(uk: &UniqueKey, schema: &BucketSchema) -> Result<(), Error> {
    if uk.fields.is_empty() {
        return Err(Error::field(
            "unique_key.fields",
            "must name at least one field",
        ));
    }
    for (i, f) in uk.fields.iter().enumerate() {
        match schema.properties.get(f) {
            Some(spec) if !spec.ty.is_blob() => {}
            Some(_) => {
                return Err(Error::field(
                    format!("unique_key.fields[{i}]"),
                    format!("{f:?} is a blob property"),
                ))
            }
            None => {
                return Err(Error::field(
                    format!("unique_key.fields[{i}]"),
                    format!("{f:?} is not in the bucket schema"),
                ))
            }
        }
    }
    if let Some(p) = &uk.default_policy {
        if !POLICIES.contains(&p.as_str()) {
            return Err(Error::field(
                "unique_key.default_policy",
                "must be insert, update or upsert",
            ));
        }
    }
    Ok(())
}

impl Bucket {
    pub fn schema(&self) -> Result<BucketSchema, Error> {
        BucketSchema::parse(&self.bucket_schema)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored schema invalid: {e:?}")))
    }
}

/// Finds an active bucket of the namespace by id or name; anything else is a 404.
pub async fn resolve(ctx: &AppContext, ns: &Namespace, ident: &str) -> Result<Bucket, Error> {
    let not_found = || Error::not_found(format!("bucket {ident:?}"));
    let id = if IdKind::Bucket.matches(ident) {
        ident.to_string()
    } else {
        let ptr = ctx
            .table
            .get(&keys::bucket_name(&ns.namespace_id, ident))
            .await?
            .ok_or_else(not_found)?;
        ptr.get("bucket_id")
            .and_then(Value::as_str)
            .ok_or_else(not_found)?
            .to_string()
    };
    let item = ctx
        .table
        .get(&keys::bucket(&ns.namespace_id, &id))
        .await?
        .ok_or_else(not_found)?;
    let bucket: Bucket = from_item(item)?;
    if bucket.status != RecordStatus::Active {
        return Err(not_found());
    }
    Ok(bucket)
}

/// Every bucket of the namespace (a namespace holds few; each read is its counters).
pub async fn all(ctx: &AppContext, ns: &Namespace) -> Result<Vec<Bucket>, Error> {
    let query = Query::partition(keys::ns_pk(&ns.namespace_id)).prefix(keys::BUCKETS_PREFIX);
    super::lists::all_records(ctx.table.as_ref(), query).await
}

pub async fn create(ctx: &AppContext, ns: &Namespace, req: CreateBucket) -> Result<Bucket, Error> {
    check_name(&req.bucket_name)?;
    let schema = BucketSchema::parse(&req.bucket_schema).map_err(field_err)?;
    if let Some(uk) = &req.unique_key {
        check_unique_key(uk, &schema)?;
    }
    let now = now_rfc3339();
    let bucket = Bucket {
        bucket_id: IdKind::Bucket.new_id(),
        bucket_name: req.bucket_name,
        namespace_id: ns.namespace_id.clone(),
        org_id: ns.org_id.clone(),
        description: req.description,
        bucket_schema: schema.to_json(),
        unique_key: req.unique_key,
        metadata: req.metadata,
        status: RecordStatus::Active,
        object_count: 0,
        total_size_bytes: 0,
        version: 1,
        created_at: now.clone(),
        updated_at: now,
        last_upload_at: None,
    };
    let ops = vec![
        // Counting the bucket also checks the namespace is still active.
        Write::Update {
            key: keys::namespace(&ns.org_id, &ns.namespace_id),
            updates: vec![Update::Add("bucket_count".into(), 1)],
            cond: Cond::Equals("status".into(), json!(RecordStatus::Active)),
        },
        Write::create(to_item(
            &keys::bucket(&ns.namespace_id, &bucket.bucket_id),
            &bucket,
        )),
        Write::create(pointer(
            &keys::bucket_name(&ns.namespace_id, &bucket.bucket_name),
            "bucket_id",
            &bucket.bucket_id,
        )),
    ];
    match ctx.table.transact(ops).await {
        Ok(()) => Ok(bucket),
        Err(StoreError::ConditionFailed { index: Some(0) }) => {
            Err(Error::not_found(format!("namespace {}", ns.namespace_id)))
        }
        Err(StoreError::ConditionFailed { .. }) => Err(Error::Conflict(format!(
            "a bucket named {:?} already exists in this namespace",
            bucket.bucket_name
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn list(
    ctx: &AppContext,
    ns: &Namespace,
    req: &ListRequest,
) -> Result<Page<BucketView>, Error> {
    let size = req.page_size()?;
    let query = Query::partition(keys::ns_pk(&ns.namespace_id))
        .prefix(keys::BUCKETS_PREFIX)
        .cursor(req.cursor()?)
        .descending(req.descending()?);
    let filter = req.filter(&["bucket_name", "bucket_id", "description"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let b: Bucket = from_item(item)?;
        (b.status == RecordStatus::Active)
            .then(|| record(&BucketView::from(&b)))
            .transpose()
    })
    .await?;
    let total = filter.is_empty().then_some(ns.bucket_count);
    Ok(Page::new(req.project(results), next, size, total).counted())
}

/// PATCH or PUT: the fields given change, the rest stay. A schema change must only add
/// optional properties once the bucket holds objects, so no stored object turns invalid.
pub async fn update(
    ctx: &AppContext,
    ns: &Namespace,
    ident: &str,
    req: UpdateBucket,
) -> Result<Bucket, Error> {
    let current = resolve(ctx, ns, ident).await?;
    let mut next = current.clone();
    if let Some(name) = req.bucket_name {
        check_name(&name)?;
        next.bucket_name = name;
    }
    let old_schema = current.schema()?;
    let schema = match req.bucket_schema {
        Some(v) => {
            let s = BucketSchema::parse(&v).map_err(field_err)?;
            if current.object_count > 0 && !old_schema.is_additive_change(&s) {
                return Err(Error::field(
                    "bucket_schema",
                    "the bucket holds objects: a schema change may only add optional properties",
                ));
            }
            s
        }
        None => old_schema,
    };
    next.bucket_schema = schema.to_json();
    if req.description.is_some() {
        next.description = req.description;
    }
    if req.metadata.is_some() {
        next.metadata = req.metadata;
    }
    if req.unique_key.is_some() {
        if req.unique_key != current.unique_key && current.object_count > 0 {
            return Err(Error::field(
                "unique_key",
                "cannot change once the bucket holds objects",
            ));
        }
        next.unique_key = req.unique_key;
    }
    if let Some(uk) = &next.unique_key {
        check_unique_key(uk, &schema)?;
    }
    next.updated_at = now_rfc3339();
    next.version = current.version + 1;

    let key = keys::bucket(&ns.namespace_id, &current.bucket_id);
    // Counters move under concurrent object writes: carry them by Add, never by copy.
    let mut updates = vec![
        Update::Set("bucket_name".into(), json!(next.bucket_name)),
        Update::Set("bucket_schema".into(), next.bucket_schema.clone()),
        Update::Set("description".into(), json!(next.description)),
        Update::Set("metadata".into(), json!(next.metadata)),
        Update::Set("unique_key".into(), json!(next.unique_key)),
        Update::Set("updated_at".into(), json!(next.updated_at)),
        Update::Add("version".into(), 1),
    ];
    updates.retain(|u| !matches!(u, Update::Set(_, Value::Null)));
    let mut ops = vec![Write::Update {
        key,
        updates,
        cond: Cond::Equals("version".into(), json!(current.version)),
    }];
    if next.bucket_name != current.bucket_name {
        ops.push(Write::Delete {
            key: keys::bucket_name(&ns.namespace_id, &current.bucket_name),
            cond: Cond::Equals("bucket_id".into(), json!(current.bucket_id)),
        });
        ops.push(Write::create(pointer(
            &keys::bucket_name(&ns.namespace_id, &next.bucket_name),
            "bucket_id",
            &next.bucket_id,
        )));
    }
    match ctx.table.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: Some(2) }) => {
            return Err(Error::Conflict(format!(
                "a bucket named {:?} already exists in this namespace",
                next.bucket_name
            )))
        }
        Err(StoreError::ConditionFailed { .. }) => {
            return Err(Error::Conflict(
                "the bucket changed while this request ran; retry".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    resolve(ctx, ns, &current.bucket_id).await
}

/// Hides the bucket and frees its name at once, then purges it in the background.
pub async fn delete(
    ctx: &AppContext,
    ns: &Namespace,
    ident: &str,
) -> Result<DeletionQueued, Error> {
    let bucket = resolve(ctx, ns, ident).await?;
    let task = tasks::new_task(
        &ns.org_id,
        Some(&ns.namespace_id),
        "api_buckets_delete",
        vec![json!({"bucket_id": bucket.bucket_id})],
    );
    let scope = PurgeScope::Bucket {
        namespace_id: ns.namespace_id.clone(),
        bucket_id: bucket.bucket_id.clone(),
    };
    purge::enqueue(ctx, &ns.org_id, &task.task_id, &scope).await?;
    let ops = vec![
        Write::Update {
            key: keys::bucket(&ns.namespace_id, &bucket.bucket_id),
            updates: vec![
                Update::Set("status".into(), json!(RecordStatus::Deleting)),
                Update::Set("updated_at".into(), json!(now_rfc3339())),
            ],
            cond: Cond::Equals("status".into(), json!(RecordStatus::Active)),
        },
        Write::Delete {
            key: keys::bucket_name(&ns.namespace_id, &bucket.bucket_name),
            cond: Cond::Equals("bucket_id".into(), json!(bucket.bucket_id)),
        },
        tasks::create_write(&task),
        Write::Update {
            key: keys::namespace(&ns.org_id, &ns.namespace_id),
            updates: vec![Update::Add("bucket_count".into(), -1)],
            cond: Cond::Exists,
        },
    ];
    match ctx.table.transact(ops).await {
        Ok(()) => Ok(DeletionQueued {
            success: true,
            message: format!("bucket {} is being deleted", bucket.bucket_id),
            namespace_id: None,
            bucket_id: Some(bucket.bucket_id),
            task_id: task.task_id,
            status: TaskStatus::Pending,
        }),
        Err(StoreError::ConditionFailed { .. }) => {
            Err(Error::not_found(format!("bucket {ident:?}")))
        }
        Err(e) => Err(e.into()),
    }
}
