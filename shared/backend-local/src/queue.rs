//! Queues on SQLite with SQS semantics: visibility timeout, receive count, dead letters.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::params;
use tokio::sync::Notify;

use super::sqlite::{sql_err, Db};
use sluice_core::ports::{Queue, QueueName, Received, StoreError, StoreResult};

/// The queues' schema, applied when the database opens.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queue_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, body TEXT NOT NULL,
  visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT);
CREATE INDEX IF NOT EXISTS queue_visible ON queue_messages (queue, visible_at, id);
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY, queue TEXT NOT NULL, body TEXT NOT NULL,
  receive_count INTEGER NOT NULL, dead_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS queue_failures (id INTEGER PRIMARY KEY, reason TEXT NOT NULL);
";

/// How long an empty receive waits for a send before returning (like SQS long polling).
const LONG_POLL: Duration = Duration::from_millis(500);

pub struct LocalQueue {
    db: Db,
    max_receives: u32,
    /// One per queue (in [`QueueName::ALL`] order): a send wakes only the receivers of
    /// its own queue, not every poller in the process.
    sent: [Notify; QueueName::ALL.len()],
}

impl LocalQueue {
    fn sent(&self, queue: QueueName) -> &Notify {
        let i = QueueName::ALL
            .iter()
            .position(|q| *q == queue)
            .expect("every queue is in ALL");
        &self.sent[i]
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl LocalQueue {
    /// `max_receives`: deliveries before a message moves to the dead-letter table.
    /// The queues in `db`, which must have been opened with [`SCHEMA`].
    pub fn new(db: Db, max_receives: u32) -> Self {
        LocalQueue {
            db,
            max_receives,
            sent: std::array::from_fn(|_| Notify::new()),
        }
    }

    /// Messages that exhausted their deliveries, oldest first.
    pub async fn dead_letters(&self, queue: QueueName) -> StoreResult<Vec<String>> {
        Ok(self
            .dead_letters_with_reasons(queue)
            .await?
            .into_iter()
            .map(|(body, _)| body)
            .collect())
    }

    /// The dead letters with the reason their last delivery failed, when one was recorded.
    pub async fn dead_letters_with_reasons(
        &self,
        queue: QueueName,
    ) -> StoreResult<Vec<(String, Option<String>)>> {
        let name = queue.as_str();
        self.db
            .read(move |conn| {
                let mut stmt = conn
                    .prepare(
                        "SELECT d.body, f.reason FROM dead_letters d LEFT JOIN queue_failures f ON f.id = d.id
                         WHERE d.queue = ?1 ORDER BY d.id",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map(params![name], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(sql_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sql_err)
            })
            .await
    }

    async fn take(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<Received>> {
        let name = queue.as_str();
        let max_receives = self.max_receives;
        self.db
            .write(move |conn| {
                let now = now_ms();
                let rows: Vec<(i64, String, u32)> = {
                    let mut stmt = conn
                        .prepare_cached(
                            "SELECT id, body, receive_count FROM queue_messages
                             WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, id LIMIT ?3",
                        )
                        .map_err(sql_err)?;
                    let rows = stmt
                        .query_map(params![name, now, max as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                        .map_err(sql_err)?;
                    rows.collect::<Result<_, _>>().map_err(sql_err)?
                };
                let mut out = Vec::new();
                for (id, body, count) in rows {
                    if count >= max_receives {
                        conn.prepare_cached(
                            "INSERT INTO dead_letters (id, queue, body, receive_count, dead_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        )
                        .and_then(|mut s| s.execute(params![id, name, body, count, now]))
                        .map_err(sql_err)?;
                        conn.prepare_cached("DELETE FROM queue_messages WHERE id = ?1")
                            .and_then(|mut s| s.execute(params![id]))
                            .map_err(sql_err)?;
                        let reason: Option<String> = conn
                            .prepare_cached("SELECT reason FROM queue_failures WHERE id = ?1")
                            .and_then(|mut s| s.query_row(params![id], |r| r.get(0)))
                            .ok();
                        tracing::warn!(queue = name, message_id = id, receives = count, reason, "message moved to dead letters");
                        continue;
                    }
                    let receipt = format!("{id}:{}", ulid::Ulid::generate());
                    conn.prepare_cached(
                        "UPDATE queue_messages SET visible_at = ?1, receive_count = receive_count + 1, receipt = ?2 WHERE id = ?3",
                    )
                    .and_then(|mut s| s.execute(params![now + visibility.as_millis() as i64, receipt, id]))
                    .map_err(sql_err)?;
                    out.push(Received { body, receipt, receive_count: count + 1 });
                }
                Ok(out)
            })
            .await
    }
}

#[async_trait]
impl Queue for LocalQueue {
    async fn send(
        &self,
        queue: QueueName,
        bodies: Vec<String>,
        delay: Duration,
    ) -> StoreResult<()> {
        let name = queue.as_str();
        self.db
            .write(move |conn| {
                {
                    let mut stmt = conn
                        .prepare_cached("INSERT INTO queue_messages (queue, body, visible_at) VALUES (?1, ?2, ?3)")
                        .map_err(sql_err)?;
                    let visible_at = now_ms() + delay.as_millis() as i64;
                    for body in &bodies {
                        stmt.execute(params![name, body, visible_at]).map_err(sql_err)?;
                    }
                }
                Ok(())
            })
            .await?;
        self.sent(queue).notify_waiters();
        Ok(())
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<Received>> {
        let woken = self.sent(queue).notified();
        let got = self.take(queue, max, visibility).await?;
        if !got.is_empty() {
            return Ok(got);
        }
        let _ = tokio::time::timeout(LONG_POLL, woken).await;
        self.take(queue, max, visibility).await
    }

    async fn ack(&self, _queue: QueueName, receipt: &str) -> StoreResult<()> {
        let receipt = receipt.to_string();
        let id: i64 = receipt
            .split(':')
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or(StoreError::NotFound)?;
        self.db
            .write(move |conn| {
                let deleted = conn
                    .prepare_cached("DELETE FROM queue_messages WHERE id = ?1 AND receipt = ?2")
                    .and_then(|mut s| s.execute(params![id, receipt]))
                    .map_err(sql_err)?;
                if deleted > 0 {
                    conn.prepare_cached("DELETE FROM queue_failures WHERE id = ?1")
                        .and_then(|mut s| s.execute(params![id]))
                        .map_err(sql_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn record_failure(
        &self,
        _queue: QueueName,
        receipt: &str,
        reason: &str,
    ) -> StoreResult<()> {
        let Some(id) = receipt
            .split(':')
            .next()
            .and_then(|s| s.parse::<i64>().ok())
        else {
            return Err(StoreError::NotFound);
        };
        let reason = reason.to_string();
        self.db
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO queue_failures (id, reason) VALUES (?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET reason = excluded.reason",
                )
                .and_then(|mut s| s.execute(params![id, reason]))
                .map_err(sql_err)?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message no worker acknowledges is delivered `max_receives` times (5 by default,
    /// like the template's redrive policy), then moved to the dead letters with the
    /// reason its last delivery failed, and its queue is empty.
    #[tokio::test]
    async fn an_unacknowledged_message_is_dead_lettered_after_its_receives() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("q.db"), &[SCHEMA], 2).unwrap();
        let q = LocalQueue::new(db, 5);
        q.send(
            QueueName::Tasks,
            vec!["poison".into(), "fine".into()],
            Duration::ZERO,
        )
        .await
        .unwrap();
        let mut counts = Vec::new();
        for _ in 0..5 {
            for m in q.take(QueueName::Tasks, 10, Duration::ZERO).await.unwrap() {
                if m.body == "fine" {
                    q.ack(QueueName::Tasks, &m.receipt).await.unwrap();
                } else {
                    counts.push(m.receive_count);
                    let why = format!("failed at delivery {}", m.receive_count);
                    q.record_failure(QueueName::Tasks, &m.receipt, &why)
                        .await
                        .unwrap();
                }
            }
        }
        assert_eq!(counts, [1, 2, 3, 4, 5]);
        assert!(q.dead_letters(QueueName::Tasks).await.unwrap().is_empty());
        assert!(q
            .take(QueueName::Tasks, 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(q.dead_letters(QueueName::Tasks).await.unwrap(), ["poison"]);
        assert_eq!(
            q.dead_letters_with_reasons(QueueName::Tasks).await.unwrap(),
            [(
                "poison".to_string(),
                Some("failed at delivery 5".to_string())
            )]
        );
        assert!(q.dead_letters(QueueName::Batches).await.unwrap().is_empty());
        // Nothing is left to deliver.
        assert!(q
            .take(QueueName::Tasks, 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty());
    }
}
