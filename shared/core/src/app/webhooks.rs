//! Webhooks: an org's endpoints subscribed to event types, delivered per the Standard
//! Webhooks spec (`webhook-id` stable across retries, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), retried with
//! exponential backoff through the webhooks queue, logged, and disabled after
//! sustained failure.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::Sha256;

use super::lists::{collect, ListRequest};
pub use super::messages::{DeliveryMessage, WebhookMessage};
use super::views::{record, DeliveryView, Page, WebhookList, WebhookView, WholeList};
use super::{from_item, keys, to_item};
use crate::context::AppContext;
use crate::domain::events::EventType;
use crate::domain::ids::{derived_id, IdKind};
use crate::domain::time::{now, now_rfc3339};
pub use crate::domain::webhook::{Webhook, WebhookChannel, WebhookConfig};
use crate::error::Error;
use crate::net::FetchError;
use crate::ports::{Cond, Event, Query, QueueName, StoreError, Update, Write};

/// Delivery log entries are kept this long.
const DELIVERY_LOG_DAYS: i64 = 30;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    pub webhook_name: String,
    pub event_types: Vec<EventType>,
    pub channels: Vec<WebhookChannel>,
    pub resource_types: Option<Vec<String>>,
    pub is_active: Option<bool>,
    pub webhook_id: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub webhook_name: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    pub channels: Option<Vec<WebhookChannel>>,
    pub resource_types: Option<Vec<String>>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListWebhooks {
    pub event_type: Option<EventType>,
    pub is_active: Option<bool>,
}

fn check(event_types: &[EventType], channels: &[WebhookChannel], name: &str) -> Result<(), Error> {
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::field("webhook_name", "1 to 200 characters"));
    }
    if event_types.is_empty() {
        return Err(Error::field("event_types", "name at least one event type"));
    }
    if channels.is_empty() {
        return Err(Error::field("channels", "give at least one channel"));
    }
    for (i, c) in channels.iter().enumerate() {
        if c.channel != "webhook" {
            return Err(Error::field(
                format!("channels[{i}].channel"),
                "only the 'webhook' channel is delivered by this server",
            ));
        }
        let url = url::Url::parse(&c.configs.url)
            .map_err(|e| Error::field(format!("channels[{i}].configs.url"), e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::field(
                format!("channels[{i}].configs.url"),
                "must be http or https",
            ));
        }
        if let Some(headers) = &c.configs.headers {
            check_headers(headers, &format!("channels[{i}].configs.headers"))?;
        }
        if c.configs
            .timeout
            .is_some_and(|t| !(0.1..=60.0).contains(&t))
        {
            return Err(Error::field(
                format!("channels[{i}].configs.timeout"),
                "0.1 to 60 seconds",
            ));
        }
    }
    Ok(())
}

/// Headers a delivery sets itself or that frame the request: a channel may not set them.
const RESERVED_HEADERS: [&str; 11] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "proxy-authorization",
];

/// A channel's extra headers: HTTP token names, string values with no control
/// characters (a CR/LF would split the request), none the delivery sets itself.
fn check_headers(headers: &Map<String, Value>, field: &str) -> Result<(), Error> {
    if headers.len() > 50 {
        return Err(Error::field(field, "at most 50 headers"));
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    for (name, value) in headers {
        let at = format!("{field}.{name}");
        if name.is_empty() || !name.chars().all(token) {
            return Err(Error::field(at, "is not an HTTP header name"));
        }
        let lower = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("webhook-") {
            return Err(Error::field(
                at,
                "is set by the delivery itself and cannot be overridden",
            ));
        }
        let Some(value) = value.as_str() else {
            return Err(Error::field(at, "must be a string"));
        };
        if value.len() > 4096 || value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(Error::field(
                at,
                "must be at most 4096 bytes with no control characters (CR, LF, NUL)",
            ));
        }
    }
    Ok(())
}

fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn scrub(channels: &[WebhookChannel]) -> Vec<WebhookChannel> {
    channels
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.configs.signing_secret = None;
            c
        })
        .collect()
}

pub async fn create(
    ctx: &AppContext,
    org_id: &str,
    req: CreateWebhook,
) -> Result<WebhookView, Error> {
    check(&req.event_types, &req.channels, &req.webhook_name)?;
    let at = now_rfc3339();
    let secret = new_secret();
    let sealed = ctx
        .sealer
        .seal(secret.as_bytes(), &secret_context(org_id))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("sealing the signing secret: {e}")))?;
    let wh = Webhook {
        // The SDK's format: `wh_` and 16 hex digits.
        webhook_id: format!("wh_{}", hex::encode(rand::random::<[u8; 8]>())),
        org_id: org_id.to_string(),
        webhook_name: req.webhook_name,
        event_types: req.event_types,
        channels: scrub(&req.channels),
        resource_types: req.resource_types,
        is_active: req.is_active.unwrap_or(true),
        sealed_secret: Some(sealed),
        secret: None,
        consecutive_failures: 0,
        delivery_health: Map::new(),
        last_failure_at: None,
        last_failure_cause: None,
        created_at: at.clone(),
        updated_at: at,
    };
    ctx.table
        .write(Write::create(to_item(
            &keys::webhook(org_id, &wh.webhook_id),
            &wh,
        )))
        .await?;
    Ok(WebhookView::new(&wh, Some(&secret)))
}

pub async fn get(ctx: &AppContext, org_id: &str, id: &str) -> Result<Webhook, Error> {
    match ctx.table.get(&keys::webhook(org_id, id)).await? {
        Some(item) => from_item(item),
        None => Err(Error::not_found(format!("webhook {id:?}"))),
    }
}

pub async fn update(
    ctx: &AppContext,
    org_id: &str,
    id: &str,
    req: UpdateWebhook,
) -> Result<WebhookView, Error> {
    let mut wh = get(ctx, org_id, id).await?;
    let before = wh.updated_at.clone();
    if let Some(n) = req.webhook_name {
        wh.webhook_name = n;
    }
    if let Some(t) = req.event_types {
        wh.event_types = t;
    }
    if let Some(c) = req.channels {
        wh.channels = scrub(&c);
    }
    if req.resource_types.is_some() {
        wh.resource_types = req.resource_types;
    }
    if let Some(a) = req.is_active {
        if a && !wh.is_active {
            // Re-enabling starts the failure count afresh.
            wh.consecutive_failures = 0;
            wh.delivery_health.remove("disabled_reason");
        }
        wh.is_active = a;
    }
    check(&wh.event_types, &wh.channels, &wh.webhook_name)?;
    wh.updated_at = now_rfc3339();
    let write = Write::Put {
        item: to_item(&keys::webhook(org_id, id), &wh),
        cond: Cond::Equals("updated_at".into(), json!(before)),
    };
    match ctx.table.write(write).await {
        Ok(_) => Ok(WebhookView::new(&wh, None)),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::Conflict(format!(
            "webhook {id} changed while this request ran; retry"
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(ctx: &AppContext, org_id: &str, id: &str) -> Result<(), Error> {
    match ctx
        .table
        .write(Write::Delete {
            key: keys::webhook(org_id, id),
            cond: Cond::Exists,
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::not_found(format!("webhook {id:?}"))),
        Err(e) => Err(e.into()),
    }
}

async fn all_for_org(ctx: &AppContext, org_id: &str) -> Result<Vec<Webhook>, Error> {
    let query = Query::partition(keys::org_pk(org_id)).prefix(keys::WEBHOOKS_PREFIX);
    super::lists::all_records(ctx.table.as_ref(), query).await
}

pub async fn list(
    ctx: &AppContext,
    org_id: &str,
    req: &ListWebhooks,
) -> Result<WebhookList, Error> {
    let hooks: Vec<WebhookView> = all_for_org(ctx, org_id)
        .await?
        .iter()
        .filter(|w| {
            req.event_type
                .as_ref()
                .is_none_or(|t| w.event_types.contains(t))
        })
        .filter(|w| req.is_active.is_none_or(|a| a == w.is_active))
        .map(|w| WebhookView::new(w, None))
        .collect();
    let total = hooks.len();
    Ok(WebhookList {
        results: hooks,
        pagination: WholeList {
            total,
            page: 1,
            page_size: total.max(1),
            total_pages: 1,
        },
        total,
    })
}

/// What a webhook's signing secret is sealed for.
fn secret_context(org_id: &str) -> crate::ports::SealContext<'_> {
    crate::ports::SealContext {
        org_id,
        purpose: crate::ports::SealPurpose::WebhookSecret,
    }
}

/// The webhook's signing secret, opened from its sealed form.
async fn signing_secret(ctx: &AppContext, wh: &Webhook) -> Result<String, Error> {
    match (&wh.sealed_secret, &wh.secret) {
        (Some(sealed), _) => {
            let plain = ctx
                .sealer
                .open(sealed, &secret_context(&wh.org_id))
                .await
                .map_err(|e| Error::Internal(anyhow::anyhow!("opening the signing secret: {e}")))?;
            String::from_utf8(plain)
                .map_err(|_| Error::Internal(anyhow::anyhow!("the signing secret is not text")))
        }
        (None, Some(plain)) => Ok(plain.clone()),
        (None, None) => Err(Error::Internal(anyhow::anyhow!(
            "webhook {} has no signing secret",
            wh.webhook_id
        ))),
    }
}

pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String, Error> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .map_err(|_| Error::Internal(anyhow::anyhow!("webhook secret is not base64")))?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key)
        .map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    Ok(format!("v1,{sig}"))
}

/// The delay before attempt `attempt` (2 = first retry), doubling, within SQS's 15 minutes.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(2).min(16));
    (base * factor).min(Duration::from_secs(900))
}

/// Fans an event out to the org's active webhooks that subscribe to it.
pub async fn fan_out(ctx: &AppContext, event: &Event) -> Result<(), Error> {
    if event.org_id.is_empty() {
        return Ok(());
    }
    let hooks = all_for_org(ctx, &event.org_id).await?;
    for wh in hooks.iter().filter(|w| w.is_active) {
        for delivered in events_for(wh, event) {
            deliver(
                ctx,
                DeliveryMessage {
                    webhook_id: wh.webhook_id.clone(),
                    org_id: event.org_id.clone(),
                    event: delivered,
                    attempt: 1,
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// What a webhook receives for an event: the event if it subscribes to it, and for
/// `objects.created.batch` one `object.created` per object to its subscribers (ids
/// derived from the batch event's, so retries and redeliveries keep them).
fn events_for(wh: &Webhook, event: &Event) -> Vec<Event> {
    let mut out = Vec::new();
    // `resource_types` narrows by what the event is about: `batch`, `object`, `upload`, …
    let resource = event.event_type.resource();
    if wh
        .resource_types
        .as_ref()
        .is_some_and(|r| !r.is_empty() && !r.iter().any(|t| t == resource))
    {
        return out;
    }
    if wh.event_types.contains(&event.event_type) {
        out.push(event.clone());
    }
    if event.event_type == EventType::ObjectsCreatedBatch
        && wh.event_types.contains(&EventType::ObjectCreated)
    {
        for id in event.data["object_ids"].as_array().into_iter().flatten() {
            let object_id = id.as_str().unwrap_or_default();
            out.push(Event {
                event_id: derived_id(IdKind::Event, &[&event.event_id, object_id]),
                event_type: EventType::ObjectCreated,
                data: json!({"object_id": object_id, "bucket_id": event.data["bucket_id"]}),
                ..event.clone()
            });
        }
    }
    out
}

/// One delivery attempt; a failure schedules the next attempt on the queue.
pub async fn deliver(ctx: &AppContext, msg: DeliveryMessage) -> Result<(), Error> {
    let wh = match get(ctx, &msg.org_id, &msg.webhook_id).await {
        Ok(w) => w,
        Err(Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    if !wh.is_active {
        return Ok(());
    }
    let attempted = post(ctx, &wh, &msg).await?;
    ctx.metrics
        .record(crate::ports::Measurement::webhook_attempt(
            attempted.failure.is_none(),
        ));
    let at = now_rfc3339();
    log_delivery(ctx, &wh, &msg, &attempted, &at).await?;
    let key = keys::webhook(&wh.org_id, &wh.webhook_id);
    let Some(why) = attempted.failure else {
        if wh.consecutive_failures != 0 {
            ctx.table
                .write(Write::Update {
                    key,
                    updates: vec![Update::Set("consecutive_failures".into(), json!(0))],
                    cond: Cond::Exists,
                })
                .await?;
        }
        return Ok(());
    };
    let Some(failures) = count_failure(ctx, &wh, &why, &at).await? else {
        return Ok(()); // deleted meanwhile
    };
    if failures >= ctx.config.webhook_disable_after {
        return disable(ctx, &wh, failures, &why, &at).await;
    }
    if msg.attempt < ctx.config.webhook_max_attempts {
        let next = DeliveryMessage {
            attempt: msg.attempt + 1,
            ..msg
        };
        let delay = backoff(ctx.config.webhook_retry_base, next.attempt);
        let body = serde_json::to_string(&WebhookMessage::Delivery(next))
            .map_err(|e| Error::Internal(e.into()))?;
        ctx.queue
            .send(QueueName::Webhooks, vec![body], delay)
            .await?;
    }
    Ok(())
}

/// How one attempt went.
struct Attempted {
    failure: Option<String>,
    status_code: Option<u16>,
    duration_ms: u64,
}

/// The event, signed per Standard Webhooks, POSTed to each of the webhook's channels.
async fn post(ctx: &AppContext, wh: &Webhook, msg: &DeliveryMessage) -> Result<Attempted, Error> {
    let body = serde_json::to_vec(&json!({
        "type": msg.event.event_type,
        "timestamp": msg.event.created_at,
        "data": msg.event.data,
        "event_id": msg.event.event_id,
        "namespace_id": msg.event.namespace_id,
    }))
    .map_err(|e| Error::Internal(e.into()))?;
    let timestamp = now().unix_timestamp();
    let secret = signing_secret(ctx, wh).await?;
    let signature = sign(&secret, &msg.event.event_id, timestamp, &body)?;
    let started = std::time::Instant::now();
    let mut failure: Option<String> = None;
    let mut status_code: Option<u16> = None;
    for channel in &wh.channels {
        let mut headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("webhook-id".to_string(), msg.event.event_id.clone()),
            ("webhook-timestamp".to_string(), timestamp.to_string()),
            ("webhook-signature".to_string(), signature.clone()),
        ];
        for (k, v) in channel.configs.headers.iter().flatten() {
            if let Some(v) = v.as_str() {
                headers.push((k.clone(), v.to_string()));
            }
        }
        let timeout = Duration::from_secs_f64(channel.configs.timeout.unwrap_or(10.0));
        match ctx
            .http
            .post(&channel.configs.url, headers, body.clone().into(), timeout)
            .await
        {
            Ok(d) if (200..300).contains(&d.status) => status_code = Some(d.status),
            Ok(d) => {
                status_code = Some(d.status);
                failure = Some(format!("HTTP {}", d.status));
            }
            Err(FetchError::Refused(why)) => failure = Some(format!("refused: {why}")),
            Err(FetchError::Failed(why) | FetchError::TooLarge(why)) => failure = Some(why),
        }
    }
    Ok(Attempted {
        failure,
        status_code,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

/// The attempt in the webhook's delivery log, kept `DELIVERY_LOG_DAYS`.
async fn log_delivery(
    ctx: &AppContext,
    wh: &Webhook,
    msg: &DeliveryMessage,
    attempted: &Attempted,
    at: &str,
) -> Result<(), Error> {
    let delivery_id = IdKind::Delivery.new_id();
    let log_key = keys::delivery(&wh.webhook_id, &delivery_id);
    let log = DeliveryView {
        delivery_id,
        webhook_id: wh.webhook_id.clone(),
        event_id: msg.event.event_id.clone(),
        event_type: msg.event.event_type,
        attempt: msg.attempt,
        success: attempted.failure.is_none(),
        status_code: attempted.status_code,
        error: attempted.failure.clone(),
        duration_ms: attempted.duration_ms,
        created_at: at.to_string(),
    };
    let mut item = to_item(&log_key, &log);
    crate::store::set_expiry(&mut item, now() + time::Duration::days(DELIVERY_LOG_DAYS));
    ctx.table.write(Write::put(item)).await?;
    Ok(())
}

/// Counts a failed delivery on the webhook; its consecutive failures now, or `None`
/// when the webhook is gone.
async fn count_failure(
    ctx: &AppContext,
    wh: &Webhook,
    why: &str,
    at: &str,
) -> Result<Option<i64>, Error> {
    let updated = ctx
        .table
        .write(Write::Update {
            key: keys::webhook(&wh.org_id, &wh.webhook_id),
            updates: vec![
                Update::Add("consecutive_failures".into(), 1),
                Update::Set("last_failure_at".into(), json!(at)),
                Update::Set("last_failure_cause".into(), json!(why)),
            ],
            cond: Cond::Exists,
        })
        .await;
    match updated {
        Ok(Some(item)) => Ok(Some(
            item.get("consecutive_failures")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        )),
        Ok(None) => Ok(Some(0)),
        Err(StoreError::ConditionFailed { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Turns a webhook off after sustained failure, saying why in its delivery health.
async fn disable(
    ctx: &AppContext,
    wh: &Webhook,
    failures: i64,
    why: &str,
    at: &str,
) -> Result<(), Error> {
    tracing::warn!(
        webhook_id = wh.webhook_id,
        failures,
        "webhook disabled after sustained failure"
    );
    let mut health = wh.delivery_health.clone();
    health.insert(
        "disabled_reason".into(),
        json!(format!(
            "{failures} consecutive failed deliveries; last: {why}"
        )),
    );
    health.insert("disabled_at".into(), json!(at));
    ctx.table
        .write(Write::Update {
            key: keys::webhook(&wh.org_id, &wh.webhook_id),
            updates: vec![
                Update::Set("is_active".into(), json!(false)),
                Update::Set("delivery_health".into(), Value::Object(health)),
            ],
            cond: Cond::Exists,
        })
        .await?;
    Ok(())
}

pub async fn deliveries(
    ctx: &AppContext,
    org_id: &str,
    id: &str,
    req: &ListRequest,
) -> Result<Page<DeliveryView>, Error> {
    get(ctx, org_id, id).await?;
    let size = req.page_size()?;
    let query = Query::partition(keys::webhook_pk(id))
        .prefix("DLV#")
        .cursor(req.cursor()?)
        .descending(true);
    let (results, next) = collect(
        ctx.table.as_ref(),
        query,
        size,
        &req.filter(&["event_type", "event_id"])?,
        |item| record(&from_item::<DeliveryView>(item)?).map(Some),
    )
    .await?;
    Ok(Page::new(results, next, size, None).counted())
}

/// Reads a webhooks-queue body: ours, or an EventBridge rule's envelope around an event.
pub fn parse_message(body: &str) -> Option<WebhookMessage> {
    if let Ok(m) = serde_json::from_str::<WebhookMessage>(body) {
        return Some(m);
    }
    let envelope: Value = serde_json::from_str(body).ok()?;
    let detail = envelope.get("detail")?.clone();
    serde_json::from_value::<Event>(detail)
        .ok()
        .map(WebhookMessage::Event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_standard_webhooks_reference() {
        // The example from the Standard Webhooks specification.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn resource_types_narrow_deliveries() {
        let mut wh: Webhook = serde_json::from_value(json!({
            "webhook_id": "wh_1", "org_id": "org_1", "webhook_name": "w",
            "event_types": ["batch.completed", "object.created"], "channels": [],
            "is_active": true, "secret": "whsec_", "created_at": "t", "updated_at": "t",
        }))
        .unwrap();
        let event = |t: EventType, data: Value| Event {
            event_id: "evt_1".into(),
            event_type: t,
            org_id: "org_1".into(),
            namespace_id: None,
            created_at: "t".into(),
            data,
        };
        let batch = event(
            EventType::ObjectsCreatedBatch,
            json!({"object_ids": ["obj_a", "obj_b"], "bucket_id": "bkt"}),
        );
        let expanded = events_for(&wh, &batch);
        assert_eq!(expanded.len(), 2);
        assert_ne!(expanded[0].event_id, expanded[1].event_id);
        assert_eq!(
            events_for(&wh, &event(EventType::BatchCompleted, json!({}))).len(),
            1
        );
        wh.resource_types = Some(vec!["batch".into()]);
        assert!(events_for(&wh, &batch).is_empty());
        assert_eq!(
            events_for(&wh, &event(EventType::BatchCompleted, json!({}))).len(),
            1
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 2), Duration::from_secs(5));
        assert_eq!(backoff(base, 3), Duration::from_secs(10));
        assert_eq!(backoff(base, 30), Duration::from_secs(900));
    }

    #[test]
    fn reads_eventbridge_envelopes() {
        let body = r#"{"version":"0","detail-type":"batch.completed","source":"sluice","detail":{"event_id":"evt_1","event_type":"batch.completed","org_id":"org_1","namespace_id":null,"created_at":"t","data":{}}}"#;
        assert!(
            matches!(parse_message(body), Some(WebhookMessage::Event(e)) if e.event_id == "evt_1")
        );
    }
}
