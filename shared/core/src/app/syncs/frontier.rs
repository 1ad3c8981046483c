//! The listings a source defers (a Box walk's subfolders, each a token its `list` starts
//! from), queued first in, first out in blobs of the run: a page's deferred listings are
//! one blob (`sync-spills/{sync}/{run}/frontier/{n}`), and the run keeps only where the
//! queue stands ([`Frontier`]). So a walk's frontier costs the run's item three numbers
//! however wide the tree, and a page holds at most one blob of it in memory.

use bytes::Bytes;

use super::spill::run_dir;
use crate::context::AppContext;
use crate::domain::sync::Frontier;
use crate::error::Error;

fn blob(sync_id: &str, run_id: &str, n: i64) -> String {
    format!("{}frontier/{n:010}.json", run_dir(sync_id, run_id))
}

/// Queues a page's deferred listings as the run's next blob (a redelivered page, whose
/// run has not moved, writes the same blob again). The frontier after it.
pub(super) async fn push(
    ctx: &AppContext,
    sync_id: &str,
    run_id: &str,
    at: &Frontier,
    deferred: &[String],
) -> Result<Frontier, Error> {
    if deferred.is_empty() {
        return Ok(at.clone());
    }
    let body = serde_json::to_vec(deferred).map_err(|e| Error::Internal(e.into()))?;
    let key = blob(sync_id, run_id, at.written);
    ctx.blobs
        .put(&key, Bytes::from(body), Some("application/json"))
        .await?;
    Ok(Frontier {
        written: at.written + 1,
        ..at.clone()
    })
}

/// The next queued listing and the frontier after taking it; `None` once the queue is
/// empty (the walk is complete).
pub(super) async fn take(
    ctx: &AppContext,
    sync_id: &str,
    run_id: &str,
    at: &Frontier,
) -> Result<Option<(String, Frontier)>, Error> {
    let mut at = at.clone();
    while at.blob < at.written {
        let key = blob(sync_id, run_id, at.blob);
        let body = ctx.blobs.get(&key).await?.ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("the run's frontier blob {key} is gone"))
        })?;
        let listings: Vec<String> = serde_json::from_slice(&body)
            .map_err(|e| Error::Internal(anyhow::anyhow!("frontier {key}: {e}")))?;
        if let Some(token) = listings.get(at.index as usize) {
            at.index += 1;
            return Ok(Some((token.clone(), at)));
        }
        at.blob += 1;
        at.index = 0;
    }
    Ok(None)
}
