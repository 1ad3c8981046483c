//! What a batch did and would do, read from what it recorded: its transitions (the
//! timestamps on the batch), its per-object results and its counters. Nothing here
//! writes.

use std::collections::BTreeMap;

use serde_json::json;

use super::{results_of, stalled};
use crate::app::views::{BatchAudit, BatchCostEstimate, BatchDiagnosis, BatchLogLine};
use crate::app::{collections, from_item, keys};
use crate::context::AppContext;
use crate::domain::batch::{Batch, BatchStatus, BatchTarget, ObjectResult, ResultStatus};
use crate::domain::entities::{Bucket, Namespace, Object};
use crate::domain::extractors::writes_embeddings;
use crate::domain::status::ObjectStatus;
use crate::domain::time::{now, parse};
use crate::error::Error;

/// Sluice runs every batch as one tier, tier 0; a tier route naming another is a 404
/// saying so.
pub fn check_tier(batch: &Batch, tier: &str) -> Result<(), Error> {
    match tier.parse::<u32>() {
        Ok(0) => Ok(()),
        _ => Err(Error::not_found(format!(
            "tier {tier:?} of batch {} (its tiers: [0]; Sluice runs every batch as tier 0)",
            batch.batch_id
        ))),
    }
}

/// The batch's log: its transitions in order, then each failed object with its stage
/// and reason.
pub async fn logs(ctx: &AppContext, batch: &Batch) -> Result<Vec<BatchLogLine>, Error> {
    let mut lines = transitions(batch);
    for r in results_of(ctx, batch).await? {
        if r.status == ResultStatus::Failed {
            lines.push(BatchLogLine {
                at: r.finished_at.clone(),
                level: "error".into(),
                message: format!(
                    "object {} failed at {}: {}",
                    r.object_id,
                    r.stage.as_deref().unwrap_or("unknown stage"),
                    r.reason.as_deref().unwrap_or("no reason recorded")
                ),
                object_id: Some(r.object_id),
            });
        }
    }
    lines.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(lines)
}

fn transitions(b: &Batch) -> Vec<BatchLogLine> {
    let line = |at: &Option<String>, message: String| {
        at.as_ref().map(|at| BatchLogLine {
            at: at.clone(),
            level: "info".into(),
            message,
            object_id: None,
        })
    };
    [
        line(
            &Some(b.created_at.clone()),
            format!("created with {} objects", b.object_ids.len()),
        ),
        line(
            &b.submitted_at,
            format!("submitted (attempt {})", b.attempt.max(1)),
        ),
        line(&b.started_at, "processing started".into()),
        line(
            &b.finished_at,
            format!(
                "ended {}: {} processed, {} failed, {} skipped{}",
                b.status.as_str(),
                b.processed,
                b.failed,
                b.skipped,
                b.failure_reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Tier 0's accounting: every submitted object is processed, failed, skipped or still
/// pending, by the counters and by the per-object ledger alike.
pub async fn audit(ctx: &AppContext, batch: &Batch) -> Result<BatchAudit, Error> {
    let results = results_of(ctx, batch).await?;
    let count = |s: ResultStatus| results.iter().filter(|r| r.status == s).count() as i64;
    let (processed, failed, skipped) = (
        count(ResultStatus::Completed),
        count(ResultStatus::Failed),
        count(ResultStatus::Skipped),
    );
    let submitted = if batch.status == BatchStatus::Draft {
        0
    } else {
        batch.object_ids.len() as i64
    };
    let recorded = processed + failed + skipped;
    let pending = if batch.status.is_terminal() {
        0
    } else {
        submitted - recorded
    };
    let unaccounted = submitted - recorded - pending;
    let counters_agree =
        (batch.processed, batch.failed, batch.skipped) == (processed, failed, skipped);
    Ok(BatchAudit {
        batch_id: batch.batch_id.clone(),
        status: batch.status.as_str().to_string(),
        tiers: vec![json!({
            "tier_num": 0,
            "submitted_objects": submitted,
            "processed_objects": processed,
            "failed_documents": failed,
            "skipped_objects": skipped,
            "pending_objects": pending,
            "unaccounted_objects": unaccounted,
            "counters": {"processed": batch.processed, "failed": batch.failed, "skipped": batch.skipped},
            "counters_agree": counters_agree,
        })],
        invariant_holds: unaccounted == 0 && counters_agree,
    })
}

/// Failed objects of the batch (as the SDK names them, failed documents), in object
/// order from `offset`.
pub async fn failed(
    ctx: &AppContext,
    batch: &Batch,
    offset: usize,
    limit: usize,
) -> Result<(Vec<ObjectResult>, usize), Error> {
    let failed: Vec<ObjectResult> = results_of(ctx, batch)
        .await?
        .into_iter()
        .filter(|r| r.status == ResultStatus::Failed)
        .collect();
    let total = failed.len();
    Ok((failed.into_iter().skip(offset).take(limit).collect(), total))
}

/// What is wrong with a batch, if anything, and what to do about it.
pub async fn diagnose(ctx: &AppContext, batch: &Batch) -> Result<BatchDiagnosis, Error> {
    let (failures, failed_total) = failed(ctx, batch, 0, 20).await?;
    let mut by_stage: BTreeMap<String, i64> = BTreeMap::new();
    for r in &failures {
        *by_stage
            .entry(r.stage.clone().unwrap_or_default())
            .or_default() += 1;
    }
    let is_stalled = stalled(batch, ctx.config.batch_stall);
    let idle = batch
        .last_activity_at
        .as_deref()
        .and_then(parse)
        .map(|t| (now() - t).whole_seconds());
    let mut advice = Vec::new();
    match batch.status {
        BatchStatus::Draft => advice.push("submit the batch to process it".to_string()),
        BatchStatus::Queued | BatchStatus::Processing if is_stalled => advice.push(format!(
            "nothing has moved for over {} s: the sweeper fails it; check the batch worker's logs",
            ctx.config.batch_stall.as_secs()
        )),
        BatchStatus::CompletedWithErrors | BatchStatus::Failed => advice.push(
            "fix what the failures name, then POST …/retry (failed objects) or …/resubmit (all)"
                .into(),
        ),
        _ => {}
    }
    Ok(BatchDiagnosis {
        batch_id: batch.batch_id.clone(),
        status: batch.status.as_str().into(),
        health: if is_stalled { "STALLED" } else { "OK" }.into(),
        timing: json!({
            "created_at": batch.created_at,
            "submitted_at": batch.submitted_at,
            "started_at": batch.started_at,
            "finished_at": batch.finished_at,
            "last_activity_at": batch.last_activity_at,
            "idle_seconds": idle,
        }),
        progress: json!({
            "total": batch.total, "processed": batch.processed, "failed": batch.failed,
            "skipped": batch.skipped, "pending": batch.pending,
        }),
        errors: json!({
            "failed_objects": failed_total,
            "by_stage": by_stage,
            "failure_reason": batch.failure_reason,
        }),
        failed_documents: failures
            .iter()
            .map(|r| json!({"object_id": r.object_id, "stage": r.stage, "reason": r.reason, "attempt": r.attempt}))
            .collect(),
        infrastructure_events: Vec::new(),
        recommendations: advice,
    })
}

/// The work a batch would do: its objects (read by key, a hundred at a time) and the
/// collections it goes to (those it was made for, or every one fed by the bucket).
pub async fn estimate(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    batch: &Batch,
) -> Result<BatchCostEstimate, Error> {
    let targets = if batch.targets.is_empty() {
        let chosen = batch.collection_ids.as_deref();
        collections::chosen_targets(ctx, ns, &bucket.bucket_id, chosen, "collection_ids")
            .await?
            .1
    } else {
        batch.targets.clone()
    };
    let mut objects = Vec::with_capacity(batch.object_ids.len());
    for ids in batch.object_ids.chunks(100) {
        let wanted = ids
            .iter()
            .map(|id| keys::object(&bucket.bucket_id, id))
            .collect();
        for item in ctx.table.get_many(wanted).await? {
            objects.push(from_item::<Object>(item)?);
        }
    }
    Ok(summarize(batch, &objects, &targets))
}

/// Sluice is self-hosted and charges nothing: credits and dollars are 0, and
/// `content_summary` says what is counted instead (objects and bytes by blob type).
fn summarize(batch: &Batch, objects: &[Object], targets: &[BatchTarget]) -> BatchCostEstimate {
    let mut by_type: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for o in objects {
        for b in &o.blobs {
            let e = by_type.entry(b.blob_type.clone()).or_default();
            e.0 += 1;
            e.1 += b.details.size_bytes.unwrap_or(0);
        }
    }
    let already = objects
        .iter()
        .filter(|o| o.status == ObjectStatus::Completed)
        .count() as i64;
    let missing = batch.object_ids.len() - objects.len();
    let mut warnings = vec![
        "Sluice is self-hosted: nothing is billed, so credits and USD are 0; the cost is the work in content_summary".to_string(),
    ];
    if missing > 0 {
        warnings.push(format!(
            "{missing} of the batch's objects no longer exist and will fail at stage load"
        ));
    }
    BatchCostEstimate {
        batch_id: batch.batch_id.clone(),
        collection_ids: targets.iter().map(|t| t.collection_id.clone()).collect(),
        object_count: batch.object_ids.len() as i64,
        already_extracted_count: already,
        estimated_credits: 0,
        estimated_usd: 0.0,
        features: targets
            .iter()
            .map(|t| &t.extractor)
            .filter(|e| writes_embeddings(&e.feature_extractor_name))
            .map(|e| {
                format!(
                    "mixpeek://{}@{}/embedding",
                    e.feature_extractor_name, e.version
                )
            })
            .collect(),
        extractors: targets
            .iter()
            .map(|t| {
                format!(
                    "{}_{}",
                    t.extractor.feature_extractor_name, t.extractor.version
                )
            })
            .collect(),
        content_summary: json!({
            "by_blob_type": by_type.iter().map(|(t, (n, bytes))| (t.clone(), json!({"blobs": n, "bytes": bytes}))).collect::<serde_json::Map<_, _>>(),
            "total_bytes": by_type.values().map(|(_, b)| b).sum::<i64>(),
            "basis": "the objects' blobs as registered (size_bytes where known)",
        }),
        warnings,
    }
}
