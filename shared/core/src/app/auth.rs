//! API keys and organisations: `Authorization: Bearer sk_...` → org.

use sha2::{Digest, Sha256};

use super::{from_item, keys, to_item};
use crate::context::AppContext;
use crate::domain::entities::{ApiKey, Org};
use crate::domain::ids::IdKind;
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Cond, Query, StoreError, Write};

/// Who is calling: the org the API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub org_id: String,
    pub key_id: String,
}

pub fn hash_key(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// A new random API key: `sk_` + 48 hex characters (192 bits).
pub fn generate_key() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("sk_{}", hex::encode(bytes))
}

/// Resolves the `Authorization` header to a principal; anything wrong is a 401.
pub async fn authenticate(
    ctx: &AppContext,
    authorization: Option<&str>,
) -> Result<Principal, Error> {
    let token = authorization
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| t.starts_with("sk_") && t.len() <= 256)
        .ok_or(Error::Unauthenticated)?;
    let item = ctx
        .table
        .get(&keys::api_key(&hash_key(token)))
        .await?
        .ok_or(Error::Unauthenticated)?;
    let key: ApiKey = from_item(item)?;
    Ok(Principal {
        org_id: key.org_id,
        key_id: key.key_id,
    })
}

pub async fn create_org(ctx: &AppContext, name: &str) -> Result<Org, Error> {
    let org = Org {
        org_id: IdKind::Org.new_id(),
        name: name.to_string(),
        created_at: now_rfc3339(),
        namespace_count: 0,
    };
    ctx.table
        .transact(vec![
            Write::create(to_item(&keys::org(&org.org_id), &org)),
            Write::create(external_id_item(&org.org_id, &new_external_id())),
        ])
        .await?;
    Ok(org)
}

/// A fresh external id: random, so no tenant can work out another's.
fn new_external_id() -> String {
    format!("sluice-{}", hex::encode(rand::random::<[u8; 16]>()))
}

fn external_id_item(org_id: &str, external_id: &str) -> crate::ports::Item {
    super::pointer(&keys::org_external_id(org_id), "external_id", external_id)
}

/// The external id the organisation's `iam_role` connections must use (the `sts:ExternalId`
/// their roles' trust policies require): issued by Sluice, stable, one per organisation.
/// An organisation from before external ids were issued gets one on first use.
pub async fn external_id(ctx: &AppContext, org_id: &str) -> Result<String, Error> {
    let key = keys::org_external_id(org_id);
    loop {
        if let Some(item) = ctx.table.get(&key).await? {
            let id = item.get("external_id").and_then(serde_json::Value::as_str);
            return Ok(id.unwrap_or_default().to_string());
        }
        let issued = external_id_item(org_id, &new_external_id());
        match ctx.table.write(Write::create(issued)).await {
            // Issued here, or by a concurrent request: read what won.
            Ok(_) | Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

pub async fn get_org(ctx: &AppContext, org_id: &str) -> Result<Org, Error> {
    let item = ctx
        .table
        .get(&keys::org(org_id))
        .await?
        .ok_or_else(|| Error::not_found(format!("org {org_id}")))?;
    from_item(item)
}

/// Registers an API key for an org. `plaintext` is generated when not given.
pub async fn create_api_key(
    ctx: &AppContext,
    org_id: &str,
    name: &str,
    plaintext: Option<String>,
) -> Result<(String, ApiKey), Error> {
    get_org(ctx, org_id).await?;
    let plaintext = plaintext.unwrap_or_else(generate_key);
    if !plaintext.starts_with("sk_") || plaintext.len() < 20 {
        return Err(Error::invalid(
            "API keys start with 'sk_' and have at least 20 characters",
        ));
    }
    let record = ApiKey {
        key_id: IdKind::ApiKey.new_id(),
        org_id: org_id.to_string(),
        name: name.to_string(),
        key_hash: hash_key(&plaintext),
        key_hint: plaintext.chars().take(7).collect(),
        created_at: now_rfc3339(),
    };
    let ops = vec![
        Write::create(to_item(&keys::api_key(&record.key_hash), &record)),
        Write::create(to_item(&keys::org_api_key(org_id, &record.key_id), &record)),
    ];
    match ctx.table.transact(ops).await {
        Ok(()) => Ok((plaintext, record)),
        Err(StoreError::ConditionFailed { .. }) => {
            Err(Error::Conflict("that API key is already registered".into()))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn list_api_keys(ctx: &AppContext, org_id: &str) -> Result<Vec<ApiKey>, Error> {
    let query = Query::partition(keys::org_pk(org_id)).prefix("APIKEY#");
    super::lists::all_records(ctx.table.as_ref(), query).await
}

pub async fn revoke_api_key(ctx: &AppContext, org_id: &str, key_id: &str) -> Result<(), Error> {
    let listing_key = keys::org_api_key(org_id, key_id);
    let item = ctx
        .table
        .get(&listing_key)
        .await?
        .ok_or_else(|| Error::not_found(format!("api key {key_id}")))?;
    let record: ApiKey = from_item(item)?;
    ctx.table
        .transact(vec![
            Write::Delete {
                key: keys::api_key(&record.key_hash),
                cond: Cond::None,
            },
            Write::Delete {
                key: listing_key,
                cond: Cond::Exists,
            },
        ])
        .await?;
    Ok(())
}

/// Makes sure `plaintext` is a valid key, creating an org for it if it is new.
/// Returns the org id. Used by `sluice-local` for its dev key.
pub async fn ensure_key(
    ctx: &AppContext,
    org_name: &str,
    plaintext: &str,
) -> Result<String, Error> {
    if let Some(item) = ctx.table.get(&keys::api_key(&hash_key(plaintext))).await? {
        let key: ApiKey = from_item(item)?;
        return Ok(key.org_id);
    }
    let org = create_org(ctx, org_name).await?;
    create_api_key(ctx, &org.org_id, "dev", Some(plaintext.to_string())).await?;
    Ok(org.org_id)
}
