//! The diff of a source that cannot list in key order (a Box folder walk, Mux's newest
//! first). Each page looks up the manifest entries of the keys it lists (point reads, no
//! writes), so an unchanged file still costs no write; deletions cannot be found page by
//! page, so each page also spills its listed keys, sorted, to one blob of the run
//! (`sync-spills/{sync}/{run}/listed/{page}`). After a complete listing the spills are read back
//! and merged against the manifest, in key order: an entry no page listed is gone. The
//! merge holds the run's listed keys (their bytes, about 20 MB for a million Box ids)
//! and streams the manifest a query page at a time.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;

use super::manifest::ManifestEntry;
use crate::app::{from_item, keys, to_item};
use crate::context::AppContext;
use crate::error::Error;
use crate::ports::{Key, Query};

/// Where a run's blobs live in the blob store (its spills and its frontier).
pub(super) fn run_dir(sync_id: &str, run_id: &str) -> String {
    format!("sync-spills/{sync_id}/{run_id}/")
}

/// Where a run's spills live.
fn prefix(sync_id: &str, run_id: &str) -> String {
    format!("{}listed/", run_dir(sync_id, run_id))
}

/// The manifest entries of `listed` keys (those the manifest has): 100 keys a read
/// (DynamoDB's most for one BatchGetItem), four reads at a time.
pub(super) async fn entries_of(
    ctx: &AppContext,
    sync_id: &str,
    listed: &[String],
) -> Result<BTreeMap<String, ManifestEntry>, Error> {
    let reads: Vec<_> = listed
        .chunks(100)
        .map(|chunk| {
            let wanted: Vec<Key> = chunk.iter().map(|k| keys::manifest(sync_id, k)).collect();
            let table = ctx.table.clone();
            async move { table.get_many(wanted).await }
        })
        .collect();
    let mut found = futures::stream::iter(reads).buffer_unordered(4);
    let mut out = BTreeMap::new();
    while let Some(items) = found.next().await {
        for item in items? {
            let m: ManifestEntry = from_item(item)?;
            out.insert(m.source_key.clone(), m);
        }
    }
    Ok(out)
}

/// Spills a page's listed keys (a redelivered page writes the same blob again).
pub(super) async fn save(
    ctx: &AppContext,
    sync_id: &str,
    run_id: &str,
    page: i64,
    listed: &[String],
) -> Result<(), Error> {
    let sorted: BTreeSet<&String> = listed.iter().collect();
    let body = serde_json::to_vec(&sorted).map_err(|e| Error::Internal(e.into()))?;
    let key = format!("{}{page:010}.json", prefix(sync_id, run_id));
    ctx.blobs
        .put(&key, Bytes::from(body), Some("application/json"))
        .await?;
    Ok(())
}

/// Every key the run's pages listed.
async fn listed(ctx: &AppContext, sync_id: &str, run_id: &str) -> Result<BTreeSet<String>, Error> {
    let (mut all, mut after) = (BTreeSet::new(), None);
    loop {
        let (names, next) = ctx
            .blobs
            .list(&prefix(sync_id, run_id), after, 1000)
            .await?;
        for name in names {
            let Some(body) = ctx.blobs.get(&name).await? else {
                continue;
            };
            let keys: Vec<String> = serde_json::from_slice(&body)
                .map_err(|e| Error::Internal(anyhow::anyhow!("spill {name}: {e}")))?;
            all.extend(keys);
        }
        match next {
            Some(n) => after = Some(n),
            None => return Ok(all),
        }
    }
}

/// After a complete listing: records the manifest entries no page listed as gone (as an
/// ordered run's pages do); how many entries the manifest holds, and how many are gone.
pub(super) async fn record_gone(
    ctx: &AppContext,
    sync_id: &str,
    run_id: &str,
) -> Result<(i64, i64), Error> {
    let seen = listed(ctx, sync_id, run_id).await?;
    let mut query = Query::partition(keys::sync_pk(sync_id))
        .prefix(keys::MANIFEST_PREFIX)
        .limit(1000);
    let (mut held, mut gone_count) = (0, 0);
    loop {
        let page = ctx.table.query(&query).await?;
        let mut gone = Vec::new();
        for item in page.items {
            held += 1;
            let m: ManifestEntry = from_item(item)?;
            if !seen.contains(&m.source_key) {
                let mut item = to_item(&keys::gone(sync_id, run_id, &m.source_key), &m);
                item.insert("object_id".into(), json!(m.object_id));
                gone.push(item);
            }
        }
        gone_count += gone.len() as i64;
        for chunk in gone.chunks(25) {
            ctx.table.put_many(chunk.to_vec()).await?;
        }
        match page.cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok((held, gone_count)),
        }
    }
}

/// Removes the run's blobs, its spills and its frontier (once it has finished or failed).
pub(super) async fn clear(ctx: &AppContext, sync_id: &str, run_id: &str) -> Result<(), Error> {
    ctx.blobs.delete_prefix(&run_dir(sync_id, run_id)).await?;
    Ok(())
}
