//! Confirming many uploads in the background (a task).

use std::time::Duration;

use serde_json::json;

use super::{from_item, keys, tasks};
use crate::app::messages::{ConfirmBulkMessage, TaskMessage};
use crate::app::views::{ConfirmQueued, TaskView};
use crate::context::AppContext;
use crate::domain::entities::{Bucket, Namespace};
use crate::domain::status::{TaskStatus, UploadStatus};
use crate::error::Error;
use crate::ports::QueueName;

use super::*;

/// Queues a bulk confirmation as a task (enqueue first; the task record committed
/// after makes it real, as with purges).
pub async fn confirm_bulk(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    req: ConfirmBulk,
) -> Result<ConfirmQueued, Error> {
    if req.confirmations.is_empty() || req.confirmations.len() > MAX_BULK {
        return Err(Error::field(
            "confirmations",
            format!("must hold 1 to {MAX_BULK} confirmations"),
        ));
    }
    let task = tasks::new_task(
        &ns.org_id,
        Some(&ns.namespace_id),
        "api_buckets_uploads_batch_confirm",
        req.confirmations
            .iter()
            .map(|c| json!({"upload_id": c.upload_id}))
            .collect(),
    );
    let msg = TaskMessage::ConfirmUploads(ConfirmBulkMessage {
        task_id: task.task_id.clone(),
        org_id: ns.org_id.clone(),
        namespace_id: ns.namespace_id.clone(),
        bucket_id: bucket.bucket_id.clone(),
        items: req.confirmations.clone(),
    });
    ctx.queue
        .send(
            QueueName::Tasks,
            vec![msg.to_body()],
            Duration::from_secs(1),
        )
        .await?;
    ctx.table.write(tasks::create_write(&task)).await?;
    Ok(ConfirmQueued {
        task_id: task.task_id.clone(),
        status: task.status,
        confirmations_count: req.confirmations.len(),
        task: TaskView::from(&task),
        message: "Batch confirmation is being processed in the background.".into(),
    })
}

/// The worker side of a batch confirm: each confirmation on its own, results recorded.
pub async fn run_confirm_bulk(
    ctx: &AppContext,
    msg: &ConfirmBulkMessage,
    receive_count: u32,
) -> Result<(), Error> {
    let Some(task) = tasks::for_message(ctx, &msg.org_id, &msg.task_id, receive_count).await?
    else {
        return Ok(());
    };
    if task.status != TaskStatus::Pending && task.status != TaskStatus::InProgress {
        return Ok(());
    }
    let Some(item) = ctx
        .table
        .get(&keys::bucket(&msg.namespace_id, &msg.bucket_id))
        .await?
    else {
        tasks::set_status(
            ctx,
            &msg.org_id,
            &msg.task_id,
            TaskStatus::Failed,
            None,
            Some("bucket not found".into()),
        )
        .await?;
        return Ok(());
    };
    let bucket: Bucket = from_item(item)?;
    tasks::set_status(
        ctx,
        &msg.org_id,
        &msg.task_id,
        TaskStatus::InProgress,
        None,
        None,
    )
    .await?;
    let mut outputs = Vec::with_capacity(msg.items.len());
    let mut failures = 0;
    for c in &msg.items {
        let req = ConfirmUpload {
            etag: c.etag.clone(),
            file_size_bytes: c.file_size_bytes,
            auto_submit_batch: None,
        };
        match confirm(ctx, &bucket, &c.upload_id, &req, None).await {
            Ok(up) => outputs.push(
                json!({"upload_id": c.upload_id, "status": up.status, "object_id": up.object_id}),
            ),
            Err(e) if e.retryable() => return Err(e),
            Err(e) => {
                failures += 1;
                outputs.push(
                    json!({"upload_id": c.upload_id, "status": UploadStatus::Failed, "error": e.to_string()}),
                );
            }
        }
    }
    let status = if failures == 0 {
        TaskStatus::Completed
    } else {
        TaskStatus::CompletedWithErrors
    };
    tasks::set_status(ctx, &msg.org_id, &msg.task_id, status, Some(outputs), None).await?;
    Ok(())
}
