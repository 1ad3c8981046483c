//! Queue workers: the same code runs in a Lambda (SQS event) and in `sluice-local`.

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::app::batches::ChunkMessage;
use crate::app::pipeline;
use crate::app::purge::{self, PurgeMessage};
use crate::app::syncs::engine;
use crate::app::uploads::{self, ConfirmBulkMessage};
use crate::app::webhooks::{self, WebhookMessage};
use crate::context::AppContext;
use crate::error::Error;
use crate::ports::QueueName;

/// Everything the tasks queue carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskMessage {
    Purge(PurgeMessage),
    ConfirmUploads(ConfirmBulkMessage),
}

impl TaskMessage {
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("task messages serialize")
    }
}

/// Handles one message body. An error that is [`Error::retryable`] means "deliver it
/// again later"; any other is final (see [`settle`]).
pub async fn handle(
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
            Ok(page) => engine::run_page(ctx, &page).await,
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

/// Messages a local poller works at once.
const CONCURRENT_MESSAGES: usize = 4;

/// Polls a queue until `shutdown` fires: the local stand-in for an SQS event source.
pub async fn poll(
    ctx: AppContext,
    queue: QueueName,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let received = tokio::select! {
            r = ctx.queue.receive(queue, 10, ctx.config.visibility_timeout) => r,
            _ = shutdown.changed() => return,
        };
        match received {
            Ok(messages) => {
                // Messages of one receive are independent: work them side by side, as
                // concurrent Lambda invocations would.
                let ctx = &ctx;
                futures::stream::iter(messages)
                    .for_each_concurrent(CONCURRENT_MESSAGES, |m| async move {
                        let result = handle(ctx, queue, &m.body, m.receive_count).await;
                        if settle(queue, result).is_ok() {
                            if let Err(e) = ctx.queue.ack(queue, &m.receipt).await {
                                tracing::warn!(error = %e, "ack failed; the message will be delivered again");
                            }
                        }
                    })
                    .await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "queue receive failed");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
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
