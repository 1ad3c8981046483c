use serde_json::json;

use super::{parse, space};
use crate::app::objects::{self, Policy};
use crate::app::views::WebhookView;
use crate::app::webhooks;
use crate::config::Config;
use crate::store::lists::ListRequest;
use crate::testing::Memory;

#[tokio::test]
async fn the_secret_is_shown_once() {
    let m = Memory::new();
    let (ns, _) = space(&m).await;
    let created = webhooks::create(
        &m.ctx,
        &ns.org_id,
        parse(json!({
            "webhook_name": "hook", "event_types": ["object.created"],
            "channels": [{"channel": "webhook", "configs": {"url": "https://example.com/hook"}}],
        })),
    )
    .await
    .unwrap();
    let secret = created.signing_secret.clone().expect("shown at creation");
    assert!(secret.starts_with("whsec_"));
    let stored = webhooks::get(&m.ctx, &ns.org_id, &created.webhook_id)
        .await
        .unwrap();
    // At rest it is sealed: the stored item holds no form of the secret in the clear.
    let item = m
        .ctx
        .table
        .get(&crate::store::keys::webhook(
            &ns.org_id,
            &created.webhook_id,
        ))
        .await
        .unwrap()
        .unwrap();
    let raw = serde_json::to_string(&item).unwrap();
    let key_part = secret.trim_start_matches("whsec_");
    assert!(
        !raw.contains(key_part),
        "the secret is stored in the clear: {raw}"
    );
    assert!(stored.sealed_secret.is_some() && stored.secret.is_none());
    let later = WebhookView::new(&stored, None);
    assert!(later.signing_secret.is_none());
    assert!(later
        .channels
        .iter()
        .all(|c| c.configs.signing_secret.is_none()));
}

#[tokio::test]
async fn an_event_fans_out_and_a_refused_delivery_is_logged_retried_then_stops() {
    let m = Memory::with_config(Config {
        webhook_max_attempts: 3,
        ..Config::default()
    });
    let (ns, bucket) = space(&m).await;
    let hook = webhooks::create(
        &m.ctx,
        &ns.org_id,
        parse(json!({
            "webhook_name": "private", "event_types": ["object.created"],
            "channels": [{"channel": "webhook", "configs": {"url": "http://127.0.0.1:9/hook"}}],
        })),
    )
    .await
    .unwrap();
    let other = webhooks::create(
        &m.ctx,
        &ns.org_id,
        parse(json!({
            "webhook_name": "unrelated", "event_types": ["batch.failed"],
            "channels": [{"channel": "webhook", "configs": {"url": "http://127.0.0.1:9/other"}}],
        })),
    )
    .await
    .unwrap();
    let create = parse(json!({"blobs": [{"property": "body", "type": "text", "content": "x"}]}));
    objects::create_many(&m.ctx, &bucket, vec![Ok(create)], Policy::Insert, None)
        .await
        .unwrap();
    assert!(m.run_queues().await.is_empty());

    let log = webhooks::deliveries(
        &m.ctx,
        &ns.org_id,
        &hook.webhook_id,
        &ListRequest::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        log.results.len(),
        3,
        "one entry per attempt: {:?}",
        log.results
    );
    for entry in &log.results {
        assert_eq!(entry["success"], false);
        assert!(
            entry["error"].as_str().unwrap().starts_with("refused"),
            "{entry}"
        );
        assert_eq!(entry["event_type"], "object.created");
    }
    let stored = webhooks::get(&m.ctx, &ns.org_id, &hook.webhook_id)
        .await
        .unwrap();
    assert_eq!(stored.consecutive_failures, 3);
    let untouched = webhooks::deliveries(
        &m.ctx,
        &ns.org_id,
        &other.webhook_id,
        &ListRequest::default(),
    )
    .await
    .unwrap();
    assert!(
        untouched.results.is_empty(),
        "not subscribed to object.created"
    );
}

#[tokio::test]
async fn sustained_failure_disables_the_webhook() {
    let m = Memory::with_config(Config {
        webhook_max_attempts: 5,
        webhook_disable_after: 2,
        ..Config::default()
    });
    let (ns, bucket) = space(&m).await;
    let hook = webhooks::create(
        &m.ctx,
        &ns.org_id,
        parse(json!({
            "webhook_name": "flaky", "event_types": ["object.created"],
            "channels": [{"channel": "webhook", "configs": {"url": "http://127.0.0.1:9/hook"}}],
        })),
    )
    .await
    .unwrap();
    let create = parse(json!({"blobs": [{"property": "body", "type": "text", "content": "x"}]}));
    objects::create_many(&m.ctx, &bucket, vec![Ok(create)], Policy::Insert, None)
        .await
        .unwrap();
    m.run_queues().await;
    let stored = webhooks::get(&m.ctx, &ns.org_id, &hook.webhook_id)
        .await
        .unwrap();
    assert!(!stored.is_active);
    assert!(stored.delivery_health["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("2 consecutive"));
}

#[tokio::test]
async fn channel_headers_are_checked_when_saved() {
    let m = Memory::new();
    let (ns, _) = space(&m).await;
    let with = |headers: serde_json::Value| {
        parse(json!({
            "webhook_name": "hook", "event_types": ["object.created"],
            "channels": [{"channel": "webhook", "configs": {"url": "https://example.com/hook", "headers": headers}}],
        }))
    };
    for (headers, why) in [
        (json!({"Host": "internal"}), "set by the delivery"),
        (json!({"Content-Length": "1"}), "set by the delivery"),
        (
            json!({"transfer-encoding": "chunked"}),
            "set by the delivery",
        ),
        (
            json!({"Webhook-Signature": "v1,forged"}),
            "set by the delivery",
        ),
        (
            json!({"X-Token": "a\r\nX-Injected: 1"}),
            "control characters",
        ),
        (json!({"X Token": "a"}), "not an HTTP header name"),
        (json!({"X-Count": 3}), "must be a string"),
    ] {
        let name = headers.as_object().unwrap().keys().next().unwrap().clone();
        let err = webhooks::create(&m.ctx, &ns.org_id, with(headers))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(why) && text.contains(&format!("headers.{name}")),
            "{name}: {text}"
        );
    }
    webhooks::create(
        &m.ctx,
        &ns.org_id,
        with(json!({"Authorization": "Bearer t", "X-Tenant": "a b"})),
    )
    .await
    .expect("ordinary headers are kept");
}

/// The bus's one reader is the webhook fan-out: an org with no webhook puts nothing on
/// it, and once it has one (even paused) its events go on again.
#[tokio::test]
async fn events_go_on_the_bus_only_for_orgs_with_a_webhook() {
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    let create = || {
        parse::<objects::CreateObject>(
            json!({"blobs": [{"property": "body", "type": "text", "content": "x"}]}),
        )
    };
    objects::create_many(&m.ctx, &bucket, vec![Ok(create())], Policy::Insert, None)
        .await
        .unwrap();
    assert!(m.events.types().is_empty(), "{:?}", m.events.types());
    super::listen(&m, &ns.org_id).await;
    objects::create_many(&m.ctx, &bucket, vec![Ok(create())], Policy::Insert, None)
        .await
        .unwrap();
    assert_eq!(m.events.types(), vec!["object.created".to_string()]);
}
