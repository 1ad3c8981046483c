//! Queue workers: the same code runs in a Lambda (SQS event) and in `sluice-local`.

use crate::app::collections;
pub use crate::app::messages::TaskMessage;
use crate::app::messages::{ChunkMessage, WebhookMessage};
use crate::app::objects;
use crate::app::pipeline;
use crate::app::purge;
use crate::app::syncs::engine;
use crate::app::uploads;
use crate::app::webhooks;
use crate::context::AppContext;
use crate::error::Error;
use crate::ports::QueueName;

/// Handles one message body. An error that is [`Error::retryable`] means "deliver it
/// again later"; any other is final (see [`settle`]). A handler that panics fails only
/// its message: a sync page's run fails with the reason (a page that panicked would
/// panic again at every delivery); another message is delivered again, and after
/// `max_receives` the queue moves it to its dead letters.
pub async fn handle(
    ctx: &AppContext,
    queue: QueueName,
    body: &str,
    receive_count: u32,
) -> Result<(), Error> {
    let work = std::panic::AssertUnwindSafe(dispatch(ctx, queue, body, receive_count));
    let panic = match futures::FutureExt::catch_unwind(work).await {
        Ok(result) => return result,
        Err(panic) => panic_text(panic.as_ref()),
    };
    tracing::error!(queue = queue.as_str(), why = %panic, receive_count, "a message's handler panicked");
    if queue == QueueName::Syncs {
        if let Ok(page) = serde_json::from_str::<engine::PageMessage>(body) {
            return engine::give_up(ctx, &page, &format!("the worker panicked ({panic})")).await;
        }
    }
    Err(Error::Internal(anyhow::anyhow!(
        "the handler panicked: {panic}"
    )))
}

/// What a panic said, bounded.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    text.chars().take(300).collect()
}

async fn dispatch(
    ctx: &AppContext,
    queue: QueueName,
    body: &str,
    receive_count: u32,
) -> Result<(), Error> {
    match queue {
        QueueName::Tasks => {
            let msg: TaskMessage = match serde_json::from_str(body) {
                Ok(m) => m,
                Err(e) => {
                    // A body no version of this code can read will never succeed: drop it loudly.
                    tracing::error!(error = %e, body, "unreadable task message dropped");
                    return Ok(());
                }
            };
            match msg {
                TaskMessage::Purge(p) => purge::run(ctx, &p, receive_count).await,
                TaskMessage::ConfirmUploads(c) => {
                    uploads::run_confirm_bulk(ctx, &c, receive_count).await
                }
                TaskMessage::CopyDocuments(c) => {
                    collections::copy_documents(ctx, &c, receive_count).await
                }
            }
        }
        QueueName::Batches => match serde_json::from_str::<ChunkMessage>(body) {
            Ok(chunk) => pipeline::run_chunk(ctx, &chunk, receive_count).await,
            Err(e) => {
                tracing::error!(error = %e, body, "unreadable batch chunk dropped");
                Ok(())
            }
        },
        QueueName::Webhooks => match webhooks::parse_message(body) {
            Some(WebhookMessage::Event(event)) => webhooks::fan_out(ctx, &event).await,
            Some(WebhookMessage::Delivery(delivery)) => webhooks::deliver(ctx, delivery).await,
            None => {
                tracing::error!(body, "unreadable webhook message dropped");
                Ok(())
            }
        },
        QueueName::Syncs => match serde_json::from_str::<engine::PageMessage>(body) {
            Ok(page) => crate::app::syncs::page::run_page(ctx, &page).await,
            Err(e) => {
                tracing::error!(error = %e, body, "unreadable sync page dropped");
                Ok(())
            }
        },
    }
}

/// The scheduled sweep: expired uploads and stalled batches.
pub async fn sweep(ctx: &AppContext) -> Result<(), Error> {
    uploads::sweep_expired(ctx).await?;
    pipeline::sweep_stalled(ctx).await?;
    objects::purge_retired(ctx).await?;
    Ok(())
}

/// What becomes of a handled message: `Ok` to delete it (done, or failed for good, which
/// is logged), `Err` to have it delivered again (and dead-lettered after
/// `max_receives`). SQS in Lambda and the local queue both act on this.
pub fn settle(queue: QueueName, result: Result<(), Error>) -> Result<(), Error> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.retryable() => {
            tracing::warn!(error = %e, queue = queue.as_str(), "message failed; will retry");
            Err(e)
        }
        Err(e) => {
            tracing::error!(error = %e, queue = queue.as_str(), "message failed for good; dropped");
            Ok(())
        }
    }
}

/// Messages a local poller works at once, per queue.
const CONCURRENT_MESSAGES: usize = 4;

/// How long one message may take before it is given up and delivered again: a sync
/// page gets the visibility timeout (it is redelivered then anyway); the other queues'
/// work (a video's extraction) is bounded by its own tools' limits.
fn time_bound(ctx: &AppContext, queue: QueueName) -> Option<std::time::Duration> {
    (queue == QueueName::Syncs).then_some(ctx.config.visibility_timeout)
}

/// Polls a queue until `shutdown` fires: the local stand-in for an SQS event source.
/// Each message is its own task, as each would be its own Lambda invocation: a slow
/// one holds one of the queue's slots, never the next receive.
pub async fn poll(
    ctx: AppContext,
    queue: QueueName,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENT_MESSAGES));
    loop {
        if *shutdown.borrow() {
            break;
        }
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => p,
            _ = shutdown.changed() => break,
        };
        let Ok(first) = first else { break };
        let mut permits = vec![first];
        while let Ok(p) = slots.clone().try_acquire_owned() {
            permits.push(p);
        }
        let received = tokio::select! {
            r = ctx.queue.receive(queue, permits.len(), ctx.config.visibility_timeout) => r,
            _ = shutdown.changed() => break,
        };
        match received {
            Ok(messages) => {
                for (m, permit) in messages.into_iter().zip(permits) {
                    let ctx = ctx.clone();
                    tokio::spawn(async move {
                        work_one(&ctx, queue, m).await;
                        drop(permit);
                    });
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "queue receive failed");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
    // Let the messages under way finish before returning.
    let _ = slots.acquire_many(CONCURRENT_MESSAGES as u32).await;
}

async fn work_one(ctx: &AppContext, queue: QueueName, m: crate::ports::Received) {
    let handled = handle(ctx, queue, &m.body, m.receive_count);
    let result = match time_bound(ctx, queue) {
        Some(bound) => match tokio::time::timeout(bound, handled).await {
            Ok(r) => r,
            Err(_) => Err(Error::NotYet(format!(
                "the message took over {}s; delivered again",
                bound.as_secs()
            ))),
        },
        None => handled.await,
    };
    match settle(queue, result) {
        Ok(()) => {
            if let Err(e) = ctx.queue.ack(queue, &m.receipt).await {
                tracing::warn!(error = %e, "ack failed; the message will be delivered again");
            }
        }
        Err(why) => {
            let why: String = why.to_string().chars().take(1000).collect();
            if let Err(e) = ctx.queue.record_failure(queue, &m.receipt, &why).await {
                tracing::warn!(error = %e, "a failure's reason was not recorded");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_retryable_failures_come_back() {
        assert!(settle(QueueName::Batches, Ok(())).is_ok());
        assert!(settle(QueueName::Batches, Err(Error::Busy)).is_err());
        assert!(settle(QueueName::Tasks, Err(Error::NotYet("task".into()))).is_err());
        assert!(settle(QueueName::Tasks, Err(Error::field("x", "bad"))).is_ok());
        assert!(settle(QueueName::Webhooks, Err(Error::not_found("webhook"))).is_ok());
    }
}
