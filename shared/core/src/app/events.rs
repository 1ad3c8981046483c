//! Publishing events: a leaf every feature may use. Webhooks hear them (`webhooks`).

use super::keys;
use crate::context::AppContext;
use crate::error::Error;
use crate::ports::{Event, Query};

/// Whether the org has a webhook, active or not: a read of at most one item.
async fn has_any(ctx: &AppContext, org_id: &str) -> Result<bool, Error> {
    if org_id.is_empty() {
        return Ok(false);
    }
    let query = Query::partition(keys::org_pk(org_id))
        .prefix(keys::WEBHOOKS_PREFIX)
        .limit(1);
    Ok(!ctx.table.query(&query).await?.items.is_empty())
}

/// Puts events on the bus, whose one reader is the webhook fan-out (`webhooks::fan_out`): the
/// events of an org with no webhook would be queued, taken and dropped, so they are not
/// sent. Locally that work was a fifth of what a single-object create costs; in AWS it is
/// a PutEvents and an SQS receive per request. A webhook created while an event is
/// published may miss it, as it may when the fan-out reads the org's webhooks first.
pub async fn publish(ctx: &AppContext, mut events: Vec<Event>) -> Result<(), Error> {
    let mut orgs: Vec<&str> = events.iter().map(|e| e.org_id.as_str()).collect();
    orgs.sort_unstable();
    orgs.dedup();
    let mut heard = Vec::with_capacity(orgs.len());
    for org in orgs {
        if has_any(ctx, org).await? {
            heard.push(org.to_string());
        }
    }
    events.retain(|e| heard.contains(&e.org_id));
    if events.is_empty() {
        return Ok(());
    }
    ctx.events.publish(events).await?;
    Ok(())
}
