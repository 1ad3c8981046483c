//! A provider's signed events about a connection's files (Mux's webhooks): verified with
//! the connection's own secret, they start the syncs that read through the connection,
//! so an asset that became ready, or was deleted, is synced now rather than at the next
//! poll.

use std::collections::HashMap;

use super::engine;
use crate::app::{connections, from_item, keys};
use crate::context::AppContext;
use crate::domain::entities::Bucket;
use crate::domain::time::now;
use crate::error::Error;
use crate::ports::InboundRefusal;

/// The most syncs one event starts.
const MAX_SYNCS: usize = 100;

/// What an event did.
#[derive(Debug, Clone)]
pub struct Received {
    pub event: String,
    /// The runs it started (a sync already running, paused or suspended starts none).
    pub sync_job_ids: Vec<String>,
}

pub async fn inbound(
    ctx: &AppContext,
    connection_id: &str,
    headers: &HashMap<String, String>,
    body: &[u8],
) -> Result<Received, Error> {
    let connection = connections::by_id(ctx, connection_id).await?;
    let config = connections::provider_config(ctx, &connection).await?;
    let event = ctx
        .connectors
        .inbound(&config, headers, body, now().unix_timestamp())
        .map_err(|e| match e {
            InboundRefusal::Unverified(why) => Error::Unverified(why),
            InboundRefusal::Unsupported(why) => Error::field("connection_id", why),
            InboundRefusal::Invalid(why) => Error::Malformed(why),
        })?;
    tracing::info!(connection_id, event = %event.kind, "provider event received");
    let mut started = Vec::new();
    if !event.starts_runs {
        return Ok(Received {
            event: event.kind,
            sync_job_ids: started,
        });
    }
    for s in connections::syncs_using(ctx, &connection.org_id, connection_id, MAX_SYNCS).await? {
        let Some(item) = ctx
            .table
            .get(&keys::bucket(&s.namespace_id, &s.bucket_id))
            .await?
        else {
            continue;
        };
        let bucket: Bucket = from_item(item)?;
        match engine::trigger(ctx, &bucket, &s.sync_id, false).await {
            Ok(run) => started.push(run.sync_job_id),
            // Running (its listing sees the change or the next run does), paused or
            // suspended (the user's choice): nothing to start.
            Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Received {
        event: event.kind,
        sync_job_ids: started,
    })
}
