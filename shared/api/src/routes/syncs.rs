//! Syncs: incremental polling of external storage into a bucket, their runs and dead letters.

use super::prelude::*;
use super::shared::*;

routes! {
    /// Sync a bucket from external storage (the SDK's body or the quickstart's)
    SYNCS_CREATE: POST "/v1/buckets/{bucket_identifier}/syncs" => syncs_create -> SyncView {
        request_body: Some(required::<CreateSync>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable, UseCredentials],
    }

    /// List a bucket's syncs
    SYNCS_LIST: POST "/v1/buckets/{bucket_identifier}/syncs/list" => syncs_list -> ListOf<SyncView> {
        request_body: Some(optional::<ListSyncs>()),
    }

    /// Get a sync
    SYNCS_GET: GET "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}" => syncs_get -> SyncView {}

    /// Change a sync
    SYNCS_UPDATE: PATCH "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}" => syncs_update -> SyncView {
        request_body: Some(required::<UpdateSync>()),
        permissions: &[ReadTable, WriteTable],
    }

    /// Delete a sync (its objects stay)
    SYNCS_DELETE: DELETE "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}" => syncs_delete -> Done {
        permissions: &[ReadTable, WriteTable],
    }

    /// Pause a sync
    SYNCS_PAUSE: POST "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/pause" => syncs_pause -> SyncView {
        permissions: &[ReadTable, WriteTable],
    }

    /// Resume a sync (its next run is due at once)
    SYNCS_RESUME: POST "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/resume" => syncs_resume -> SyncView {
        permissions: &[ReadTable, WriteTable],
    }

    /// Start a sync run now (?full_sync=true re-ingests every file)
    SYNCS_TRIGGER: POST "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/trigger" => syncs_trigger -> SyncTriggered {
        permissions: &[ReadTable, WriteTable, Send(QueueName::Syncs)],
    }

    /// Release the lease of a dead run
    SYNCS_UNLOCK: POST "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/unlock" => syncs_unlock -> SyncView {
        permissions: &[ReadTable, WriteTable],
    }

    /// List a sync's runs
    SYNCS_JOBS: POST "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/jobs" => syncs_jobs -> ListOf<SyncJobView> {
        request_body: Some(optional::<ListRuns>()),
    }

    /// Get one run of a sync, with its counts
    SYNCS_JOB_GET: GET "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/jobs/{sync_job_id}" => syncs_job_get -> SyncJobView {}

    /// A sync's health: stale, stalled, dead letters, failure rate
    SYNCS_METRICS: GET "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/metrics" => syncs_metrics -> SyncMetricsView {}

    /// The files a sync could not take, with why
    SYNCS_DLQ: POST "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/dlq" => syncs_dlq -> DeadLetterList {
        request_body: Some(optional::<ListDeadLetters>()),
    }

    /// Clear dead letters so the next run tries their files again
    SYNCS_DLQ_REQUEUE: POST "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/dlq/requeue" => syncs_dlq_requeue -> Requeued {
        request_body: Some(optional::<RequeueDeadLetters>()),
        permissions: &[ReadTable, WriteTable],
    }

    /// Stop retrying the dead files whose error is of the given types
    SYNCS_DLQ_MARK_FAILED: POST "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/dlq/bulk-mark-failed" => syncs_dlq_mark_failed -> MarkedFailed {
        request_body: Some(required::<MarkFailed>()),
        permissions: &[ReadTable, WriteTable],
    }

    /// Receive Mux's signed events for a connection (starts the syncs that use it)
    MUX_EVENTS: POST "/v1/webhooks/mux/{connection_id}" => mux_events -> ProviderEventReceived {
        access: Access::Public,
        permissions: &[ReadTable, WriteTable, UseCredentials, Send(QueueName::Syncs)],
    }
}

/// Signed by Mux with the connection's `webhook_secret`, not by an API key.
async fn mux_events(ctx: AppContext, _c: Caller, req: ApiRequest) -> Reply<ProviderEventReceived> {
    let id = req.param("connection_id")?;
    let got = syncs::inbound(&ctx, id, &req.headers, &req.body).await?;
    Ok(ProviderEventReceived {
        received: true,
        event: got.event,
        sync_job_ids: got.sync_job_ids,
    })
}

async fn sync_of(
    ctx: &AppContext,
    c: &Caller,
    req: &ApiRequest,
) -> Result<(Bucket, syncs::Sync), ApiError> {
    let bucket = bucket_of(ctx, c, req).await?;
    let sync = syncs::get(ctx, &bucket, req.param("sync_config_id")?).await?;
    Ok((bucket, sync))
}

async fn syncs_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncView> {
    let body: syncs::CreateSync = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let made = syncs::create(&ctx, c.namespace()?, &bucket, &creator(&c), body).await?;
    Ok(SyncView::from(&made))
}

async fn syncs_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ListOf<SyncView>> {
    let body: syncs::ListSyncs = req.json_or_default()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let all = syncs::list(&ctx, &bucket, &body).await?;
    Ok(ListOf::new(all.iter().map(SyncView::from).collect()))
}

async fn syncs_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncView> {
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    Ok(SyncView::from(&sync))
}

async fn syncs_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncView> {
    let body: syncs::UpdateSync = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let changed = syncs::update(
        &ctx,
        c.namespace()?,
        &bucket,
        req.param("sync_config_id")?,
        body,
    )
    .await?;
    Ok(SyncView::from(&changed))
}

async fn syncs_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Done> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let gone = syncs::delete(&ctx, &bucket, req.param("sync_config_id")?).await?;
    Ok(Done::new(format!(
        "sync {} deleted; its objects stay in the bucket",
        gone.sync_config_id
    )))
}

async fn syncs_pause(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(SyncView::from(
        &syncs::pause(&ctx, &bucket, req.param("sync_config_id")?).await?,
    ))
}

async fn syncs_resume(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(SyncView::from(
        &syncs::resume(&ctx, &bucket, req.param("sync_config_id")?).await?,
    ))
}

async fn syncs_unlock(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(SyncView::from(
        &syncs::unlock(&ctx, &bucket, req.param("sync_config_id")?).await?,
    ))
}

async fn syncs_trigger(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncTriggered> {
    let full = objects::flag(&req.query, "full_sync")?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let run = syncs::engine::trigger(&ctx, &bucket, req.param("sync_config_id")?, full).await?;
    Ok(SyncTriggered {
        message: format!("sync run {} is {}", run.sync_job_id, run.phase),
        sync_job_id: run.sync_job_id,
        sync_config_id: run.sync_config_id,
        status: run.status,
        trigger: run.trigger,
    })
}

async fn syncs_jobs(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ListOf<SyncJobView>> {
    let body: syncs::ListRuns = req.json_or_default()?;
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    let runs = syncs::list_runs(&ctx, &sync, &body).await?;
    Ok(ListOf::new(runs.iter().map(SyncJobView::from).collect()))
}

async fn syncs_job_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncJobView> {
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    let run = syncs::get_run(&ctx, &sync, req.param("sync_job_id")?).await?;
    Ok(SyncJobView::from(&run))
}

async fn syncs_metrics(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncMetricsView> {
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    let last = match &sync.current_run_id {
        Some(id) => syncs::get_run(&ctx, &sync, id).await.ok(),
        None => None,
    };
    let dead = syncs::dead_letters(&ctx, &sync, &syncs::ListDeadLetters::default()).await?;
    let mut by_error = std::collections::BTreeMap::new();
    for d in &dead {
        *by_error.entry(d.error_type.clone()).or_insert(0) += 1;
    }
    let h = syncs::health(&sync, last.as_ref());
    let failure_rate = last
        .as_ref()
        .filter(|r| r.counts.scanned > 0)
        .map_or(0.0, |r| r.counts.failed as f64 / r.counts.scanned as f64);
    Ok(SyncMetricsView {
        sync_config_id: sync.sync_config_id.clone(),
        status: sync.status,
        is_active: sync.status == sluice_core::domain::status::SyncStatus::Active && !sync.paused,
        is_stale: h.is_stale,
        stale_after_seconds: h.stale_after_seconds,
        stalled: h.stalled,
        healthy: h.healthy,
        dlq_total: dead.len(),
        dlq_by_error: by_error,
        failure_rate,
        last_job: last.as_ref().map(SyncJobView::from),
    })
}

async fn syncs_dlq(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<DeadLetterList> {
    let body: syncs::ListDeadLetters = req.json_or_default()?;
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    let results = syncs::dead_letters(&ctx, &sync, &body).await?;
    Ok(DeadLetterList {
        total: results.len(),
        results,
    })
}

async fn syncs_dlq_requeue(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Requeued> {
    let body: syncs::RequeueDeadLetters = req.json_or_default()?;
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    let done = syncs::requeue(&ctx, &sync, &body).await?;
    Ok(Requeued {
        requeued: done.requeued,
        sync_job_id: done.sync_job_id,
    })
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct MarkFailed {
    /// Error types (`error_type` of the dead letters) to stop retrying.
    error_types: Vec<String>,
}

async fn syncs_dlq_mark_failed(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<MarkedFailed> {
    let body: MarkFailed = req.json()?;
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    let updated = syncs::mark_permanently_failed(&ctx, &sync, &body.error_types).await?;
    Ok(MarkedFailed { updated })
}
