//! Connection credentials at rest: sealed, opened, and, when a source renews them (Box's
//! OAuth pair: its refresh token works once), sealed back into their connection. A renewal is single-flight across every worker: the one
//! that takes the connection's renewal lease (a conditional write on its version) calls
//! the provider; the others wait for the sealed result, so two workers never spend one
//! refresh token.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::from_item;
use super::keys;
use crate::context::AppContext;
use crate::domain::connections::{Connection, Credentials};
use crate::domain::time::now;
use crate::error::Error;
use crate::ports::{
    Cond, CredentialKeeper, Renew, SealContext, SealPurpose, SourceError, SourceResult, StoreError,
    Update, Write,
};

/// What a connection's credentials are sealed for.
fn context(org_id: &str) -> SealContext<'_> {
    SealContext {
        org_id,
        purpose: SealPurpose::ConnectionCredentials,
    }
}

/// Credentials as stored: sealed by the process's sealer (KMS in AWS, a key file locally)
/// for the organisation that owns them.
pub(super) async fn seal(ctx: &AppContext, org_id: &str, c: &Credentials) -> Result<String, Error> {
    let plain = serde_json::to_vec(c).map_err(|e| Error::Internal(e.into()))?;
    ctx.sealer
        .seal(&plain, &context(org_id))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))
}

/// A connection's credentials, opened.
pub(super) async fn unseal(ctx: &AppContext, c: &Connection) -> Result<Credentials, Error> {
    let plain = ctx
        .sealer
        .open(&c.sealed_credentials, &context(&c.org_id))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))?;
    serde_json::from_slice(&plain)
        .map_err(|e| Error::Internal(anyhow::anyhow!("sealed credentials unreadable: {e}")))
}

/// How long a renewal may hold the lease before another worker may take it over.
const LEASE_SECONDS: i64 = 30;
/// How often a waiting worker looks for the renewal's result.
const POLL: Duration = Duration::from_millis(250);

/// The attribute a renewal's lease lives in (until when, Unix seconds).
const LEASE: &str = "renewing_until";

/// Keeps one saved connection's credentials.
pub struct Keeper {
    ctx: AppContext,
    org_id: String,
    connection_id: String,
}

/// The keeper of `connection`'s credentials.
pub fn keeper(ctx: &AppContext, connection: &Connection) -> Arc<dyn CredentialKeeper> {
    Arc::new(Keeper {
        ctx: ctx.clone(),
        org_id: connection.org_id.clone(),
        connection_id: connection.connection_id.clone(),
    })
}

/// What a waiting worker reads of the connection: its credentials, version and lease.
struct Stored {
    credentials: Credentials,
    version: i64,
    lease_until: Option<i64>,
}

impl Keeper {
    async fn load(&self) -> SourceResult<Stored> {
        let key = keys::connection(&self.org_id, &self.connection_id);
        let item = self
            .ctx
            .table
            .get(&key)
            .await
            .map_err(|e| failed(e.into()))?
            .ok_or_else(|| SourceError::Invalid("the connection is gone".into()))?;
        let lease_until = item.get(LEASE).and_then(Value::as_i64);
        let c: Connection = from_item(item).map_err(failed)?;
        Ok(Stored {
            credentials: unseal(&self.ctx, &c).await.map_err(failed)?,
            version: c.version,
            lease_until,
        })
    }

    /// Takes the renewal lease if the connection is still at `version`.
    async fn lease(&self, version: i64) -> SourceResult<bool> {
        let write = Write::Update {
            key: keys::connection(&self.org_id, &self.connection_id),
            updates: vec![
                Update::Set(LEASE.into(), json!(now().unix_timestamp() + LEASE_SECONDS)),
                Update::Add("version".into(), 1),
            ],
            cond: Cond::Equals("version".into(), json!(version)),
        };
        match self.ctx.table.write(write).await {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed { .. } | StoreError::Busy) => Ok(false),
            Err(e) => Err(failed(e.into())),
        }
    }

    /// Seals `renewed` into the connection and gives up the lease (held at `version`).
    /// A connection changed meanwhile (credentials given again by hand) keeps its own.
    async fn save(&self, version: i64, renewed: &Credentials) -> SourceResult<()> {
        let sealed = seal(&self.ctx, &self.org_id, renewed)
            .await
            .map_err(failed)?;
        let write = Write::Update {
            key: keys::connection(&self.org_id, &self.connection_id),
            updates: vec![
                Update::Set("sealed_credentials".into(), json!(sealed)),
                Update::Remove(LEASE.into()),
                Update::Add("version".into(), 1),
            ],
            cond: Cond::Equals("version".into(), json!(version)),
        };
        match self.ctx.table.write(write).await {
            Ok(_) => Ok(()),
            Err(StoreError::ConditionFailed { .. }) => {
                tracing::warn!(connection_id = %self.connection_id, "connection changed during a credential renewal; the renewed credentials were not kept");
                Ok(())
            }
            Err(e) => Err(failed(e.into())),
        }
    }

    /// Gives up a lease whose renewal failed, so the next worker need not wait it out.
    async fn release(&self, version: i64) {
        let write = Write::Update {
            key: keys::connection(&self.org_id, &self.connection_id),
            updates: vec![
                Update::Remove(LEASE.into()),
                Update::Add("version".into(), 1),
            ],
            cond: Cond::Equals("version".into(), json!(version)),
        };
        let _ = self.ctx.table.write(write).await;
    }
}

#[async_trait]
impl CredentialKeeper for Keeper {
    async fn renewed(&self, stale: &Credentials, renew: Renew<'_>) -> SourceResult<Credentials> {
        let give_up = now().unix_timestamp() + 2 * LEASE_SECONDS;
        loop {
            let stored = self.load().await?;
            if stored.credentials != *stale {
                return Ok(stored.credentials); // renewed since (here or elsewhere)
            }
            let at = now().unix_timestamp();
            let leased = stored.lease_until.is_some_and(|until| until > at);
            if !leased && self.lease(stored.version).await? {
                let held = stored.version + 1;
                return match renew(stored.credentials).await {
                    Ok(renewed) => {
                        self.save(held, &renewed).await?;
                        Ok(renewed)
                    }
                    Err(e) => {
                        self.release(held).await;
                        Err(e)
                    }
                };
            }
            if at > give_up {
                return Err(SourceError::Throttled {
                    message: "another worker is renewing the connection's credentials".into(),
                    retry_after: Some(Duration::from_secs(LEASE_SECONDS as u64)),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn failed(e: Error) -> SourceError {
    SourceError::Failed(format!("keeping the connection's credentials: {e}"))
}
