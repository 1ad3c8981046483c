//! Org-level storage connections: a provider, its settings and sealed credentials,
//! tested before they are saved. Credentials are never returned and never logged.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::credentials::{seal, unseal};
use super::{from_item, keys, pointer, to_item};
use crate::context::AppContext;
pub use crate::domain::connections::Connection;
use crate::domain::connections::{Credentials, ProviderConfig};
use crate::domain::ids::IdKind;
use crate::domain::schema::FieldError;
use crate::domain::status::ConnectionStatus;
use crate::domain::sync::SyncedFile;
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::net::NetGuard;
use crate::ports::{Cond, Query, Source, SourceBody, SourceError, StoreError, Write};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    pub name: String,
    /// `s3`, `gcs`, `azure_blob`, `tigris`, `backblaze`, `supabase`, …; `r2` and
    /// `wasabi` are presets of `s3` (docs/syncs.md lists them with their settings).
    pub provider_type: String,
    /// The provider's settings and `credentials` (`{"type": "access_key", …}`).
    pub provider_config: Map<String, Value>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// Accepted; this server never writes to a connection's storage.
    #[serde(default)]
    pub write_enabled: Option<bool>,
    /// List the source before saving (default true).
    #[serde(default)]
    pub test_before_save: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnection {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Replaces the settings; credential fields omitted are kept while the credential
    /// type is unchanged.
    #[serde(default)]
    pub provider_config: Option<Map<String, Value>>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub status: Option<ConnectionStatus>,
    #[serde(default)]
    pub test_before_save: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListConnections {
    #[serde(default)]
    pub provider_type: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

fn field_err(e: FieldError) -> Error {
    Error::field(e.field, e.reason)
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(Error::field("name", "must be 1 to 100 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::field("name", "must not hold control characters"));
    }
    Ok(())
}

/// The provider config as parsed from what is stored, if it may still be used (a
/// connection saved before the role rules is held to them at its next use).
pub async fn provider_config(ctx: &AppContext, c: &Connection) -> Result<ProviderConfig, Error> {
    let config = ProviderConfig {
        provider_type: c.provider_type.clone(),
        settings: c.settings.clone(),
        credentials: unseal(ctx, c).await?,
    };
    guard_role(ctx, &c.org_id, &config).await?;
    Ok(config)
}

/// An `iam_role` connection is Sluice assuming a role for a tenant: the role must
/// require the tenant's own external id (issued by Sluice, so no tenant can present
/// another's), and may not be in Sluice's own account unless the operator allows it
/// (any role there that trusts the account could be named by any tenant).
async fn guard_role(ctx: &AppContext, org_id: &str, config: &ProviderConfig) -> Result<(), Error> {
    if config.credentials.kind() != "iam_role" {
        return Ok(());
    }
    let issued = super::auth::external_id(ctx, org_id).await?;
    if config.credentials.text("external_id") != Some(issued.as_str()) {
        return Err(Error::field(
            "provider_config.credentials.external_id",
            format!(
                "must be this organisation's external id, {issued}: require it in the role's trust policy (Condition StringEquals sts:ExternalId)"
            ),
        ));
    }
    let role = config.credentials.text("role_arn").unwrap_or_default();
    let account = role.split(':').nth(4).unwrap_or_default();
    if !ctx.config.allow_same_account_roles && ctx.config.aws_account_id.as_deref() == Some(account)
    {
        return Err(Error::field(
            "provider_config.credentials.role_arn",
            "names a role in the account Sluice runs in; use a role in the account that owns the bucket (the operator may allow same-account roles: AllowSameAccountRoles)",
        ));
    }
    Ok(())
}

/// Refuses an endpoint the network guard would refuse at connect time, and one whose
/// name does not resolve now (fail closed), unless the server allows private URLs. The
/// guard checks again at every use: this only makes the refusal a clear 422 at save.
async fn guard_endpoint(ctx: &AppContext, config: &ProviderConfig) -> Result<(), Error> {
    let Some(endpoint) = config.settings.get("endpoint_url").and_then(Value::as_str) else {
        return Ok(());
    };
    let Some(guard) = NetGuard::unless(ctx.config.allow_private_urls) else {
        return Ok(());
    };
    let url = url::Url::parse(endpoint)
        .map_err(|e| Error::field("provider_config.endpoint_url", e.to_string()))?;
    guard
        .check_endpoint(&url)
        .await
        .map_err(|why| Error::field("provider_config.endpoint_url", why))
}

/// At most this many characters of a connection's description (the SDK's limit), and
/// keys and bytes of metadata.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_METADATA_KEYS: usize = 50;
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// The limits on a connection's or sync's free-text description.
pub fn check_description(description: Option<&str>, max_chars: usize) -> Result<(), Error> {
    if description.is_some_and(|d| d.chars().count() > max_chars) {
        return Err(Error::field(
            "description",
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(())
}

/// The limits on a connection's or sync's `metadata`.
pub fn check_metadata(metadata: Option<&Map<String, Value>>) -> Result<(), Error> {
    let Some(m) = metadata else {
        return Ok(());
    };
    if m.len() > MAX_METADATA_KEYS {
        return Err(Error::field(
            "metadata",
            format!("holds at most {MAX_METADATA_KEYS} keys"),
        ));
    }
    check_json_size("metadata", m, MAX_METADATA_BYTES)
}

/// A field's value within `max` bytes as JSON.
pub fn check_json_size(field: &str, value: &impl Serialize, max: usize) -> Result<(), Error> {
    let size = serde_json::to_vec(value).map_or(usize::MAX, |v| v.len());
    if size > max {
        return Err(Error::field(
            field,
            format!("must be at most {max} bytes as JSON"),
        ));
    }
    Ok(())
}

/// The settings among `destination` that differ between `before` and `after`.
fn moved<'a>(
    destination: &[&'a str],
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Vec<&'a str> {
    destination
        .iter()
        .copied()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect()
}

/// `config` with the PATCH's credentials on their own (the stored type assumed when
/// the patch names none), when the provider finds them complete.
fn with_whole_credentials(
    ctx: &AppContext,
    provider_type: &str,
    mut config: Map<String, Value>,
    patch: &Map<String, Value>,
    stored: &Credentials,
) -> Option<ProviderConfig> {
    let Some(Value::Object(given)) = patch.get("credentials") else {
        return None;
    };
    let mut given = given.clone();
    given
        .entry("type")
        .or_insert_with(|| Value::from(stored.kind()));
    config.insert("credentials".into(), Value::Object(given));
    ctx.connectors.check(provider_type, &config).ok()
}

/// Opens `bucket` (empty: the account) through a connection's settings; credentials
/// the source renews go back into `saved` (none before a connection is saved).
pub async fn open_source(
    ctx: &AppContext,
    config: &ProviderConfig,
    bucket: &str,
    saved: Option<&Connection>,
) -> Result<Arc<dyn Source>, SourceError> {
    match saved {
        Some(c) => {
            let keeper = super::credentials::keeper(ctx, c);
            ctx.connectors.open_kept(config, bucket, keeper).await
        }
        None => ctx.connectors.open(config, bucket).await,
    }
}

/// Where a sync's `source_path` points under a connection: its container and prefix.
pub fn locate(
    ctx: &AppContext,
    config: &ProviderConfig,
    source_path: &str,
) -> Result<(String, String), Error> {
    ctx.connectors
        .rules(&config.provider_type)
        .locate(&config.settings, source_path)
        .map_err(field_err)
}

/// The outcome of a connection test, as `POST …/test` returns it.
pub struct Tested {
    pub success: bool,
    pub message: String,
    /// A short, cleaned excerpt of what the provider said, when it failed and said something.
    pub provider_said: Option<String>,
}

impl Tested {
    /// A failed test as a 422 on the settings that were tested.
    fn refusal(&self) -> Error {
        let mut details = json!({"field": "provider_config", "reason": self.message});
        if let Some(said) = &self.provider_said {
            details["provider_message"] = json!(said);
        }
        Error::Invalid {
            message: format!(
                "provider_config: the connection test failed: {}",
                self.message
            ),
            details,
        }
    }
}

async fn test_config(
    ctx: &AppContext,
    config: &ProviderConfig,
    saved: Option<&Connection>,
) -> Tested {
    // The container the connection names, if it names one (an S3 connection may name
    // none: then the test lists the account's buckets).
    let rules = ctx.connectors.rules(&config.provider_type);
    let (bucket, prefix) = rules.locate(&config.settings, "").unwrap_or_else(|_| {
        (
            config.setting("bucket").unwrap_or_default().to_string(),
            String::new(),
        )
    });
    let outcome = match open_source(ctx, config, &bucket, saved).await {
        Ok(source) => source.check(&prefix).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => Tested {
            success: true,
            message: format!("{} connection works", config.provider_type),
            provider_said: None,
        },
        Err(e) => Tested {
            success: false,
            provider_said: e.provider_said().map(str::to_string),
            message: e.to_string(),
        },
    }
}

pub async fn create(
    ctx: &AppContext,
    org_id: &str,
    created_by: &str,
    req: CreateConnection,
) -> Result<Connection, Error> {
    create_inner(ctx, org_id, created_by, req, false).await
}

/// A connection for a sync request that carried one inline (named after the sync).
pub async fn create_implicit(
    ctx: &AppContext,
    org_id: &str,
    created_by: &str,
    req: CreateConnection,
) -> Result<Connection, Error> {
    create_inner(ctx, org_id, created_by, req, true).await
}

async fn create_inner(
    ctx: &AppContext,
    org_id: &str,
    created_by: &str,
    req: CreateConnection,
    implicit: bool,
) -> Result<Connection, Error> {
    check_name(&req.name)?;
    check_description(req.description.as_deref(), MAX_DESCRIPTION_CHARS)?;
    check_metadata(req.metadata.as_ref())?;
    let config = ctx
        .connectors
        .check(&req.provider_type, &req.provider_config)
        .map_err(field_err)?;
    guard_endpoint(ctx, &config).await?;
    guard_role(ctx, org_id, &config).await?;
    if req.test_before_save.unwrap_or(true) {
        let t = test_config(ctx, &config, None).await;
        if !t.success {
            return Err(t.refusal());
        }
    }
    let at = now_rfc3339();
    let c = Connection {
        connection_id: IdKind::Connection.new_id(),
        org_id: org_id.to_string(),
        name: req.name.trim().to_string(),
        description: req.description,
        provider_type: config.provider_type.clone(),
        settings: config.settings.clone(),
        credential_type: config.credentials.kind().to_string(),
        sealed_credentials: seal(ctx, org_id, &config.credentials).await?,
        metadata: req.metadata,
        status: ConnectionStatus::Active,
        last_used_at: None,
        last_error: None,
        consecutive_failures: 0,
        implicit,
        created_by: created_by.to_string(),
        created_at: at.clone(),
        updated_at: at,
        version: 1,
    };
    let ops = vec![
        Write::create(to_item(&keys::connection(org_id, &c.connection_id), &c)),
        Write::create(pointer(
            &keys::connection_name(org_id, &c.name),
            "connection_id",
            &c.connection_id,
        )),
        Write::create(pointer(
            &keys::connection_owner(&c.connection_id),
            "org_id",
            org_id,
        )),
    ];
    match ctx.table.transact(ops).await {
        Ok(()) => Ok(c),
        Err(StoreError::ConditionFailed { index: Some(1) }) => Err(Error::Conflict(format!(
            "a connection named {:?} already exists",
            c.name
        ))),
        Err(e) => Err(e.into()),
    }
}

/// A connection by its id alone, for requests that carry no API key (a provider's
/// webhook). Connections saved before the owner pointer was kept are not found.
pub async fn by_id(ctx: &AppContext, connection_id: &str) -> Result<Connection, Error> {
    let not_found = || Error::not_found(format!("connection {connection_id:?}"));
    if !IdKind::Connection.matches(connection_id) {
        return Err(not_found());
    }
    let owner = ctx
        .table
        .get(&keys::connection_owner(connection_id))
        .await?
        .ok_or_else(not_found)?;
    let org = owner
        .get("org_id")
        .and_then(Value::as_str)
        .ok_or_else(not_found)?;
    get(ctx, org, connection_id).await
}

/// A connection of the org by id or name.
pub async fn get(ctx: &AppContext, org_id: &str, ident: &str) -> Result<Connection, Error> {
    let not_found = || Error::not_found(format!("connection {ident:?}"));
    if ident.len() > 200 {
        return Err(not_found()); // longer than any id or name
    }
    let id = if IdKind::Connection.matches(ident) {
        ident.to_string()
    } else {
        let ptr = ctx
            .table
            .get(&keys::connection_name(org_id, ident))
            .await?
            .ok_or_else(not_found)?;
        ptr.get("connection_id")
            .and_then(Value::as_str)
            .ok_or_else(not_found)?
            .to_string()
    };
    let item = ctx
        .table
        .get(&keys::connection(org_id, &id))
        .await?
        .ok_or_else(not_found)?;
    from_item(item)
}

pub async fn list(
    ctx: &AppContext,
    org_id: &str,
    req: &ListConnections,
) -> Result<Vec<Connection>, Error> {
    let all: Vec<Connection> = super::lists::all_records(
        ctx.table.as_ref(),
        Query::partition(keys::org_pk(org_id)).prefix("CONN#"),
    )
    .await?;
    Ok(all
        .into_iter()
        .filter(|c| {
            req.provider_type
                .as_ref()
                .is_none_or(|p| *p == c.provider_type)
        })
        .filter(|c| {
            req.status
                .as_ref()
                .is_none_or(|s| s.eq_ignore_ascii_case(c.status.as_str()))
        })
        .filter(|c| {
            req.is_active
                .is_none_or(|a| a == (c.status == ConnectionStatus::Active))
        })
        .collect())
}

pub async fn update(
    ctx: &AppContext,
    org_id: &str,
    ident: &str,
    req: UpdateConnection,
) -> Result<Connection, Error> {
    let before = get(ctx, org_id, ident).await?;
    let mut c = before.clone();
    if let Some(name) = &req.name {
        check_name(name)?;
        c.name = name.trim().to_string();
    }
    check_description(req.description.as_deref(), MAX_DESCRIPTION_CHARS)?;
    check_metadata(req.metadata.as_ref())?;
    if req.description.is_some() {
        c.description = req.description.clone();
    }
    if req.metadata.is_some() {
        c.metadata = req.metadata.clone();
    }
    if let Some(status) = req.status {
        if status == ConnectionStatus::Active {
            c.consecutive_failures = 0;
        }
        c.status = status;
    }
    if let Some(patch) = &req.provider_config {
        let stored = unseal(ctx, &before).await?;
        let mut full = patch.clone();
        // A preset (R2, Wasabi) stays what the connection is unless the patch names another.
        if let Some(preset) = before.settings.get("preset") {
            full.entry("preset").or_insert_with(|| preset.clone());
        }
        let creds = match patch.get("credentials") {
            Some(Value::Object(p)) => Credentials::merged(&stored, p),
            Some(_) => {
                return Err(Error::field(
                    "provider_config.credentials",
                    "must be an object",
                ))
            }
            None => stored.clone(),
        };
        full.insert(
            "credentials".into(),
            serde_json::to_value(&creds).map_err(|e| Error::Internal(e.into()))?,
        );
        let provider = before.provider_type.as_str();
        let mut config = ctx.connectors.check(provider, &full).map_err(field_err)?;
        let destination = ctx.connectors.rules(provider).destination;
        let moved = moved(destination, &before.settings, &config.settings);
        if !moved.is_empty() {
            // Never send stored secrets to a new place: the request carries them anew.
            config = with_whole_credentials(ctx, provider, full, patch, &stored).ok_or_else(|| {
                Error::field(
                    "provider_config.credentials",
                    format!(
                        "changing {} sends the credentials somewhere new: give the credentials again, whole, in the same request ({})",
                        moved.join(", "),
                        stored.field_names().join(", ")
                    ),
                )
            })?;
        }
        guard_endpoint(ctx, &config).await?;
        guard_role(ctx, &before.org_id, &config).await?;
        if req.test_before_save.unwrap_or(true) {
            let t = test_config(ctx, &config, None).await;
            if !t.success {
                return Err(t.refusal());
            }
        }
        c.settings = config.settings;
        c.credential_type = config.credentials.kind().into();
        c.sealed_credentials = seal(ctx, &before.org_id, &config.credentials).await?;
    }
    c.updated_at = now_rfc3339();
    c.version = before.version + 1;
    let mut ops = vec![Write::Put {
        item: to_item(&keys::connection(org_id, &c.connection_id), &c),
        cond: Cond::Equals("version".into(), json!(before.version)),
    }];
    if c.name != before.name {
        ops.push(Write::create(pointer(
            &keys::connection_name(org_id, &c.name),
            "connection_id",
            &c.connection_id,
        )));
        ops.push(Write::delete(keys::connection_name(org_id, &before.name)));
    }
    match ctx.table.transact(ops).await {
        Ok(()) => Ok(c),
        Err(StoreError::ConditionFailed { index: Some(0) }) => Err(Error::Conflict(format!(
            "connection {} changed while this request ran; retry",
            c.connection_id
        ))),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::Conflict(format!(
            "a connection named {:?} already exists",
            c.name
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a connection no sync uses.
pub async fn delete(ctx: &AppContext, org_id: &str, ident: &str) -> Result<Connection, Error> {
    let c = get(ctx, org_id, ident).await?;
    if let Some(sync) = sync_using(ctx, org_id, &c.connection_id).await? {
        return Err(Error::Conflict(format!(
            "connection {} is used by sync {sync}; delete the sync first",
            c.connection_id
        )));
    }
    ctx.table
        .transact(vec![
            Write::Delete {
                key: keys::connection(org_id, &c.connection_id),
                cond: Cond::Exists,
            },
            Write::delete(keys::connection_name(org_id, &c.name)),
            Write::delete(keys::connection_owner(&c.connection_id)),
        ])
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => Error::not_found(format!("connection {ident:?}")),
            other => other.into(),
        })?;
    Ok(c)
}

/// `POST …/connections/{id}/test`: the stored settings, listed now.
pub async fn test(ctx: &AppContext, org_id: &str, ident: &str) -> Result<Tested, Error> {
    let c = get(ctx, org_id, ident).await?;
    let config = provider_config(ctx, &c).await?;
    let tested = test_config(ctx, &config, Some(&c)).await;
    let outcome = if tested.success {
        Ok(())
    } else {
        Err(tested.message.as_str())
    };
    record_use(ctx, org_id, &c.connection_id, outcome).await?;
    Ok(tested)
}

/// Notes that the provider answered through this connection (`last_used_at`), and how:
/// a failure is kept as `last_error` and counted, a success resets the count. One
/// conditional update: a connection deleted meanwhile is left deleted.
pub async fn record_use(
    ctx: &AppContext,
    org_id: &str,
    connection_id: &str,
    outcome: Result<(), &str>,
) -> Result<(), Error> {
    use crate::ports::Update;
    let mut updates = vec![Update::Set("last_used_at".into(), json!(now_rfc3339()))];
    match outcome {
        Ok(()) => {
            updates.push(Update::Set("consecutive_failures".into(), json!(0)));
            updates.push(Update::Remove("last_error".into()));
        }
        Err(why) => {
            updates.push(Update::Add("consecutive_failures".into(), 1));
            // The SDK's connection model takes at most 1000 characters of it.
            let why: String = why.chars().take(1000).collect();
            updates.push(Update::Set("last_error".into(), json!(why)));
        }
    }
    let write = Write::Update {
        key: keys::connection(org_id, connection_id),
        updates,
        cond: Cond::Exists,
    };
    match ctx.table.write(write).await {
        Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A sync of the org that uses `connection_id`, if any (a connection in use is not deleted).
async fn sync_using(
    ctx: &AppContext,
    org_id: &str,
    connection_id: &str,
) -> Result<Option<String>, Error> {
    Ok(syncs_using(ctx, org_id, connection_id, 1)
        .await?
        .pop()
        .map(|s| s.sync_id))
}

/// Where a sync that reads through a connection lives.
#[derive(Debug, Clone)]
pub struct SyncUsing {
    pub namespace_id: String,
    pub bucket_id: String,
    pub sync_id: String,
}

/// Up to `most` syncs of the org that read through `connection_id`.
pub async fn syncs_using(
    ctx: &AppContext,
    org_id: &str,
    connection_id: &str,
    most: usize,
) -> Result<Vec<SyncUsing>, Error> {
    let mut found = Vec::new();
    // Syncs live under their buckets; the index of due syncs and the org's buckets are
    // both partial, so look in every bucket of every namespace of the org.
    let namespaces = super::lists::all_items(
        ctx.table.as_ref(),
        Query::partition(keys::org_pk(org_id)).prefix("NS#"),
    )
    .await?;
    for ns in namespaces {
        let Some(ns_id) = ns.get("namespace_id").and_then(Value::as_str) else {
            continue;
        };
        let buckets = super::lists::all_items(
            ctx.table.as_ref(),
            Query::partition(keys::ns_pk(ns_id)).prefix(keys::BUCKETS_PREFIX),
        )
        .await?;
        for b in buckets {
            let Some(bucket_id) = b.get("bucket_id").and_then(Value::as_str) else {
                continue;
            };
            let syncs = super::lists::all_items(
                ctx.table.as_ref(),
                Query::partition(keys::bkt_pk(bucket_id)).prefix("SYNC#"),
            )
            .await?;
            for s in syncs
                .iter()
                .filter(|s| s.get("connection_id").and_then(Value::as_str) == Some(connection_id))
            {
                if let Some(id) = s.get("sync_config_id").and_then(Value::as_str) {
                    found.push(SyncUsing {
                        namespace_id: ns_id.to_string(),
                        bucket_id: bucket_id.to_string(),
                        sync_id: id.to_string(),
                    });
                }
                if found.len() >= most {
                    return Ok(found);
                }
            }
        }
    }
    Ok(found)
}

/// The blob stage's read of a synced file: at the version listed, as it arrives.
pub async fn read_file(ctx: &AppContext, file: &SyncedFile) -> Result<SourceBody, String> {
    let connection = get(ctx, &file.org_id, &file.connection_id)
        .await
        .map_err(|e| format!("connection {}: {e}", file.connection_id))?;
    let config = provider_config(ctx, &connection)
        .await
        .map_err(|e| e.to_string())?;
    let source: Arc<dyn Source> = open_source(ctx, &config, &file.bucket, Some(&connection))
        .await
        .map_err(|e| format!("opening {}: {e}", file.bucket))?;
    source
        .read(&file.key, &file.etag, ctx.config.max_fetch_bytes as u64)
        .await
        .map_err(|e| match e {
            SourceError::Changed(_) => format!(
                "{} changed since it was listed; the next sync run picks it up",
                file.key
            ),
            other => format!("reading {}: {other}", file.key),
        })
}
