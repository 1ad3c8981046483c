//! The queues: visibility timeouts, redelivery and delays.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::ports::{Queue, QueueName, Received, StoreResult};

use super::lock;

const LONG_POLL: Duration = Duration::from_millis(100);

struct Message {
    body: String,
    receipt: String,
    receive_count: u32,
    visible_at: Instant,
}

/// Queues with SQS's visibility timeout: a received message comes back unless acked.
#[derive(Default)]
pub struct MemoryQueue {
    queues: Mutex<HashMap<QueueName, Vec<Message>>>,
    next_receipt: Mutex<u64>,
}

impl MemoryQueue {
    /// The bodies waiting on `queue`, delayed or not, for assertions.
    pub fn bodies(&self, queue: QueueName) -> Vec<String> {
        lock(&self.queues)
            .get(&queue)
            .map(|q| q.iter().map(|m| m.body.clone()).collect())
            .unwrap_or_default()
    }

    /// How long each waiting message of `queue` has until it is visible.
    pub fn delays(&self, queue: QueueName) -> Vec<Duration> {
        let now = Instant::now();
        lock(&self.queues)
            .get(&queue)
            .map(|q| {
                q.iter()
                    .map(|m| m.visible_at.saturating_duration_since(now))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Removes one waiting message by its body (a test that works messages by hand).
    pub fn drop_body(&self, queue: QueueName, body: &str) {
        if let Some(q) = lock(&self.queues).get_mut(&queue) {
            if let Some(i) = q.iter().position(|m| m.body == body) {
                q.remove(i);
            }
        }
    }

    /// Sends every waiting message of `queue` a second time (at-least-once delivery).
    pub fn duplicate(&self, queue: QueueName) {
        if let Some(q) = lock(&self.queues).get_mut(&queue) {
            let copies: Vec<Message> = q
                .iter()
                .map(|m| Message {
                    body: m.body.clone(),
                    receipt: String::new(),
                    receive_count: 0,
                    visible_at: m.visible_at,
                })
                .collect();
            q.extend(copies);
        }
    }

    /// The oldest message of any queue, whatever its delay, marked received.
    pub(crate) fn next_any(&self) -> Option<(QueueName, Received)> {
        let mut queues = lock(&self.queues);
        let mut receipt = lock(&self.next_receipt);
        for name in QueueName::ALL {
            if let Some(m) = queues.get_mut(&name).and_then(|q| q.first_mut()) {
                *receipt += 1;
                m.receipt = format!("r{receipt}");
                m.receive_count += 1;
                let got = Received {
                    body: m.body.clone(),
                    receipt: m.receipt.clone(),
                    receive_count: m.receive_count,
                };
                // Redelivered after the others, as a visibility timeout would.
                let m = queues
                    .get_mut(&name)
                    .map(|q| q.remove(0))
                    .expect("just seen");
                queues.get_mut(&name).expect("just seen").push(m);
                return Some((name, got));
            }
        }
        None
    }

    pub(crate) fn forget(&self, queue: QueueName, receipt: &str) {
        if let Some(q) = lock(&self.queues).get_mut(&queue) {
            q.retain(|m| m.receipt != receipt);
        }
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(
        &self,
        queue: QueueName,
        bodies: Vec<String>,
        delay: Duration,
    ) -> StoreResult<()> {
        let visible_at = Instant::now() + delay;
        lock(&self.queues)
            .entry(queue)
            .or_default()
            .extend(bodies.into_iter().map(|body| Message {
                body,
                receipt: String::new(),
                receive_count: 0,
                visible_at,
            }));
        Ok(())
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<Received>> {
        // Like SQS's long poll: with nothing visible, wait a little (up to 100 ms) for the next.
        let wake = lock(&self.queues)
            .get(&queue)
            .and_then(|q| q.iter().map(|m| m.visible_at).min())
            .map_or(Instant::now() + LONG_POLL, |t| {
                t.min(Instant::now() + LONG_POLL)
            });
        if wake > Instant::now() {
            tokio::time::sleep_until(wake.into()).await;
        }
        let now = Instant::now();
        let mut queues = lock(&self.queues);
        let mut receipt = lock(&self.next_receipt);
        let mut out = Vec::new();
        for m in queues
            .entry(queue)
            .or_default()
            .iter_mut()
            .filter(|m| m.visible_at <= now)
            .take(max)
        {
            *receipt += 1;
            m.receipt = format!("r{receipt}");
            m.receive_count += 1;
            m.visible_at = now + visibility;
            out.push(Received {
                body: m.body.clone(),
                receipt: m.receipt.clone(),
                receive_count: m.receive_count,
            });
        }
        Ok(out)
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> StoreResult<()> {
        self.forget(queue, receipt);
        Ok(())
    }
}
