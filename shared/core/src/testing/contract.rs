//! The ports' contracts as public checks (as object_store's `integration.rs`): every
//! backend crate runs them on its adapters in its own tests, `tests/backend` runs them
//! on every backend at once, and a new backend calls them from its first test.
//!
//! Each takes a context whose ports are the backend's, and panics on a broken promise.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use crate::config::Config;
use crate::context::AppContext;
use crate::ports::{
    Cond, Index, Item, Key, Query, Queue, QueueName, Received, StoreError, Update, Write,
};

/// The settings the contracts assume: a queue message comes back after two seconds.
pub fn config() -> Config {
    Config {
        visibility_timeout: Duration::from_secs(2),
        ..Config::default()
    }
}

/// One `#[tokio::test]` per contract, each on a fresh context from `$ctx`: an async fn
/// returning `Option<(AppContext, G)>`, where `None` skips the test and `G` (a temporary
/// directory, say) lives as long as it. A contract added here runs on every backend.
#[macro_export]
macro_rules! port_contract_tests {
    ($ctx:path) => {
        $crate::port_contract_tests!(@each $ctx;
            table_conditions, table_transactions, table_queries, blob_store, queue, events);
    };
    (@each $ctx:path; $($check:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            if let Some((ctx, _keep)) = $ctx().await {
                $crate::testing::contract::$check(ctx).await;
            }
        }
    )*};
}

fn item(pk: &str, sk: &str, extra: Value) -> Item {
    let mut m = extra.as_object().cloned().unwrap_or_default();
    m.insert("pk".into(), json!(pk));
    m.insert("sk".into(), json!(sk));
    m
}

pub async fn table_conditions(ctx: AppContext) {
    let t = ctx.table.as_ref();
    let k = Key::new("P#1", "A");
    t.write(Write::create(item("P#1", "A", json!({"n": 1, "s": "x"}))))
        .await
        .unwrap();
    assert!(matches!(
        t.write(Write::create(item("P#1", "A", json!({})))).await,
        Err(StoreError::ConditionFailed { .. })
    ));
    let got = t.get(&k).await.unwrap().unwrap();
    assert_eq!(got["n"], json!(1));
    assert_eq!(got["s"], json!("x"));

    // Equals holds → update applies and returns the new item.
    let after = t
        .write(Write::Update {
            key: k.clone(),
            updates: vec![
                Update::Add("n".into(), 5),
                Update::Set("s".into(), json!("y")),
                Update::Remove("gone".into()),
            ],
            cond: Cond::Equals("s".into(), json!("x")),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after["n"], json!(6));
    // Equals fails → nothing changes.
    let r = t
        .write(Write::Update {
            key: k.clone(),
            updates: vec![Update::Add("n".into(), 1)],
            cond: Cond::Equals("s".into(), json!("x")),
        })
        .await;
    assert!(matches!(r, Err(StoreError::ConditionFailed { .. })));
    assert_eq!(t.get(&k).await.unwrap().unwrap()["n"], json!(6));

    // Update without a condition creates the item, counters start at zero.
    let fresh = t
        .write(Write::Update {
            key: Key::new("P#1", "B"),
            updates: vec![Update::Add("count".into(), -2)],
            cond: Cond::None,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh["count"], json!(-2));
    assert!(matches!(
        t.write(Write::Update {
            key: Key::new("P#1", "C"),
            updates: vec![Update::Add("c".into(), 1)],
            cond: Cond::Exists
        })
        .await,
        Err(StoreError::ConditionFailed { .. })
    ));
    assert!(t.get(&Key::new("P#1", "C")).await.unwrap().is_none());

    // Conditional delete.
    assert!(matches!(
        t.write(Write::Delete {
            key: k.clone(),
            cond: Cond::Equals("s".into(), json!("nope"))
        })
        .await,
        Err(StoreError::ConditionFailed { .. })
    ));
    t.write(Write::Delete {
        key: k.clone(),
        cond: Cond::Exists,
    })
    .await
    .unwrap();
    assert!(t.get(&k).await.unwrap().is_none());
}

pub async fn table_transactions(ctx: AppContext) {
    let t = ctx.table.as_ref();
    t.write(Write::create(item("T#1", "taken", json!({}))))
        .await
        .unwrap();
    // All or nothing, and the failing op is named.
    let r = t
        .transact(vec![
            Write::create(item("T#1", "new", json!({}))),
            Write::Update {
                key: Key::new("T#1", "counter"),
                updates: vec![Update::Add("n".into(), 1)],
                cond: Cond::None,
            },
            Write::create(item("T#1", "taken", json!({}))),
        ])
        .await;
    assert!(
        matches!(r, Err(StoreError::ConditionFailed { index: Some(2) })),
        "{r:?}"
    );
    assert!(t.get(&Key::new("T#1", "new")).await.unwrap().is_none());
    assert!(t.get(&Key::new("T#1", "counter")).await.unwrap().is_none());
    t.transact(vec![
        Write::create(item("T#1", "new", json!({}))),
        Write::Check {
            key: Key::new("T#1", "taken"),
            cond: Cond::Exists,
        },
    ])
    .await
    .unwrap();
    assert!(t.get(&Key::new("T#1", "new")).await.unwrap().is_some());

    // Independent groups: one failing does not undo the others.
    let results = t
        .transact_each(vec![
            vec![
                Write::create(item("T#2", "a", json!({}))),
                Write::create(item("T#2", "a-extra", json!({}))),
            ],
            vec![
                Write::create(item("T#2", "b", json!({}))),
                Write::create(item("T#1", "taken", json!({}))),
            ],
            vec![Write::create(item("T#2", "c", json!({})))],
        ])
        .await;
    assert!(results[0].is_ok());
    assert!(
        matches!(
            results[1],
            Err(StoreError::ConditionFailed { index: Some(1) })
        ),
        "{:?}",
        results[1]
    );
    assert!(results[2].is_ok());
    assert!(t.get(&Key::new("T#2", "a-extra")).await.unwrap().is_some());
    assert!(t.get(&Key::new("T#2", "b")).await.unwrap().is_none());

    // A cancelled transaction never undoes writes that ran beside it.
    let groups: Vec<Vec<Write>> = (0..40)
        .map(|i| {
            if i % 2 == 0 {
                vec![
                    Write::create(item("T#3", &format!("fail-{i}"), json!({}))),
                    Write::create(item("T#1", "taken", json!({}))),
                ]
            } else {
                vec![Write::create(item("T#3", &format!("ok-{i}"), json!({})))]
            }
        })
        .collect();
    let results = t.transact_each(groups).await;
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.is_ok(), i % 2 == 1, "group {i}: {r:?}");
        let survived = t
            .get(&Key::new("T#3", format!("ok-{i}")))
            .await
            .unwrap()
            .is_some();
        assert_eq!(survived, i % 2 == 1, "write {i} lost");
    }
}

pub async fn table_queries(ctx: AppContext) {
    let t = ctx.table.as_ref();
    let mut ops = Vec::new();
    for i in 0..25 {
        ops.push(Write::create(item(
            "Q#1",
            &format!("OBJ#{i:03}"),
            json!({"i": i, "gsi1pk": "DUE", "gsi1sk": format!("{:03}", 100 - i)}),
        )));
    }
    ops.push(Write::create(item("Q#1", "OTHER#1", json!({}))));
    ops.push(Write::create(item("Q#2", "OBJ#000", json!({}))));
    for r in t
        .transact_each(ops.into_iter().map(|w| vec![w]).collect())
        .await
    {
        r.unwrap();
    }
    // A count sees the prefix, the bound and the index, never the limit or cursor.
    let counted = |q: Query| async move { t.count(&q).await.unwrap() };
    assert_eq!(
        counted(Query::partition("Q#1").prefix("OBJ#").limit(3)).await,
        25
    );
    assert_eq!(counted(Query::partition("Q#1")).await, 26);
    assert_eq!(counted(Query::partition("Q#1").prefix("NONE#")).await, 0);
    let mut due_by = Query::partition("DUE").on(Index::Gsi1);
    due_by.sk_max = Some("080".into());
    assert_eq!(counted(due_by).await, 5);
    // Pages in order, the cursor picking up where the last page stopped.
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = t
            .query(
                &Query::partition("Q#1")
                    .prefix("OBJ#")
                    .limit(10)
                    .cursor(cursor),
            )
            .await
            .unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|i| i["i"].as_i64().unwrap()));
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, (0..25).collect::<Vec<_>>());
    assert_eq!(pages, 3);
    // Descending.
    let page = t
        .query(
            &Query::partition("Q#1")
                .prefix("OBJ#")
                .limit(3)
                .descending(true),
        )
        .await
        .unwrap();
    let got: Vec<i64> = page
        .items
        .iter()
        .map(|i| i["i"].as_i64().unwrap())
        .collect();
    assert_eq!(got, vec![24, 23, 22]);
    let next = t
        .query(
            &Query::partition("Q#1")
                .prefix("OBJ#")
                .limit(3)
                .descending(true)
                .cursor(page.cursor),
        )
        .await
        .unwrap();
    assert_eq!(next.items[0]["i"], json!(21));
    // A cursor from another prefix is refused, not followed.
    let other = t
        .query(&Query::partition("Q#1").prefix("OBJ#").limit(1))
        .await
        .unwrap()
        .cursor
        .unwrap();
    assert!(matches!(
        t.query(&Query::partition("Q#1").prefix("OTHER#").cursor(Some(other)))
            .await,
        Err(StoreError::InvalidCursor)
    ));
    assert!(matches!(
        t.query(&Query::partition("Q#1").cursor(Some("!!".into())))
            .await,
        Err(StoreError::InvalidCursor)
    ));
    // The secondary index, with an upper bound on its sort key, paged.
    let mut q = Query::partition("DUE").on(Index::Gsi1).limit(4);
    q.sk_max = Some("080".into());
    let mut due = Vec::new();
    loop {
        let page = t.query(&q).await.unwrap();
        due.extend(page.items.iter().map(|i| i["i"].as_i64().unwrap()));
        q.cursor = page.cursor;
        if q.cursor.is_none() {
            break;
        }
    }
    assert_eq!(due, (20..25).rev().collect::<Vec<_>>());
    // Batched deletes.
    let keys: Vec<Key> = (0..25)
        .map(|i| Key::new("Q#1", format!("OBJ#{i:03}")))
        .collect();
    t.delete_many(keys).await.unwrap();
    let left = t.query(&Query::partition("Q#1")).await.unwrap();
    assert_eq!(left.items.len(), 1);
}

pub async fn blob_store(ctx: AppContext) {
    let b = ctx.blobs.as_ref();
    let meta = b
        .put(
            "ns/bkt/objects/o1/b1",
            Bytes::from_static(b"hello"),
            Some("text/plain"),
        )
        .await
        .unwrap();
    assert_eq!(meta.size, 5);
    assert_eq!(
        meta.sha256.as_deref(),
        Some("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    );
    assert_eq!(
        b.get("ns/bkt/objects/o1/b1").await.unwrap().unwrap(),
        Bytes::from_static(b"hello")
    );
    let head = b.head("ns/bkt/objects/o1/b1").await.unwrap().unwrap();
    assert_eq!(head.size, 5);
    assert_eq!(head.content_type.as_deref(), Some("text/plain"));
    assert_eq!(head.sha256, meta.sha256);
    assert_eq!(b.sha256("ns/bkt/objects/o1/b1").await.unwrap(), meta.sha256);
    assert!(b.sha256("ns/bkt/nope").await.unwrap().is_none());
    assert!(b.get("ns/bkt/nope").await.unwrap().is_none());
    assert!(b.head("ns/bkt/nope").await.unwrap().is_none());
    for i in 0..5 {
        b.put(
            &format!("ns/bkt/objects/o{i}/x"),
            Bytes::from(vec![i as u8; 10]),
            None,
        )
        .await
        .unwrap();
    }
    b.put("ns/other/objects/k", Bytes::from_static(b"keep"), None)
        .await
        .unwrap();
    let (page, next) = b.list("ns/bkt/", None, 3).await.unwrap();
    assert_eq!(page.len(), 3);
    let (rest, _) = b.list("ns/bkt/", next, 100).await.unwrap();
    assert_eq!(page.len() + rest.len(), 6);
    assert_eq!(b.delete_prefix("ns/bkt/").await.unwrap(), 6);
    assert!(b.list("ns/bkt/", None, 10).await.unwrap().0.is_empty());
    assert!(b.get("ns/other/objects/k").await.unwrap().is_some());
    b.delete("ns/other/objects/k").await.unwrap();
    b.delete("ns/other/objects/k").await.unwrap();

    // Promotion moves bytes only while they are the ones checked, and retiring the
    // source leaves the promoted copy alone.
    let (from, to) = ("ns/p/uploads/upl_1/f.txt", "ns/p/files/upl_1/f.txt");
    let first = b
        .put(from, Bytes::from_static(b"checked"), Some("text/plain"))
        .await
        .unwrap();
    let etag = first.etag.clone().unwrap();
    let promoted = b.promote(from, to, &etag).await.unwrap();
    assert_eq!((promoted.size, &promoted.sha256), (7, &first.sha256));
    b.put(from, Bytes::from_static(b"swapped"), None)
        .await
        .unwrap();
    assert!(matches!(
        b.promote(from, to, &etag).await,
        Err(StoreError::ConditionFailed { .. })
    ));
    // A refused promotion leaves the checked bytes or nothing, never the swapped ones
    // (S3 refuses the copy; where a store ignores the condition, the copy is removed).
    let left = b.get(to).await.unwrap();
    assert!(left.as_deref().is_none_or(|l| l == b"checked"), "{left:?}");
    b.put(from, Bytes::from_static(b"checked"), None)
        .await
        .unwrap();
    b.promote(from, to, &etag).await.unwrap();
    b.retire(from).await.unwrap();
    assert!(b.head(from).await.unwrap().is_none());
    assert_eq!(
        b.get(to).await.unwrap().unwrap(),
        Bytes::from_static(b"checked")
    );
    assert_eq!(b.head(to).await.unwrap().unwrap().size, 7);
    assert!(b.delete_prefix("ns/p/").await.unwrap() >= 1);
    assert!(b.get(to).await.unwrap().is_none());

    // A GET URL names its key and is signed, by the store each backend stands for.
    b.put("ns/other/objects/k", Bytes::from_static(b"keep"), None)
        .await
        .unwrap();
    let url = b
        .presign_get("ns/other/objects/k", Duration::from_secs(60))
        .await
        .unwrap();
    let parsed = url::Url::parse(&url).unwrap();
    let has = |name: &str| parsed.query_pairs().any(|(k, _)| k == name);
    assert!(parsed.path().ends_with("ns/other/objects/k"), "{url}");
    match parsed.host_str() {
        Some("blobs.memory.invalid") => {}
        // The local store signs its own URLs (served under its blob route).
        _ if has("X-Sluice-Signature") => assert!(has("X-Sluice-Expires"), "{url}"),
        // Anything else is S3: SigV4, and the URL serves the bytes.
        _ => {
            assert!(has("X-Amz-Signature") && has("X-Amz-Expires"), "{url}");
            let got = reqwest::get(&url).await.unwrap();
            assert_eq!(got.status(), 200);
            assert_eq!(got.bytes().await.unwrap(), Bytes::from_static(b"keep"));
        }
    }
    b.delete("ns/other/objects/k").await.unwrap();
}

/// The next message, waiting a bounded while for one to become visible.
async fn next_message(q: &dyn Queue, visibility: Duration) -> Received {
    for _ in 0..20 {
        let got = q.receive(QueueName::Tasks, 1, visibility).await.unwrap();
        if let Some(m) = got.into_iter().next() {
            return m;
        }
    }
    panic!("no message became visible");
}

pub async fn queue(ctx: AppContext) {
    let q = ctx.queue.as_ref();
    // Drain anything a previous test left (moto queues are fresh per run; local too).
    q.send(
        QueueName::Tasks,
        (0..12).map(|i| format!("m{i}")).collect(),
        Duration::ZERO,
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    for _ in 0..10 {
        for m in q
            .receive(QueueName::Tasks, 10, Duration::from_secs(30))
            .await
            .unwrap()
        {
            assert_eq!(m.receive_count, 1);
            got.push(m);
        }
        if got.len() == 12 {
            break;
        }
    }
    let mut bodies: Vec<String> = got.iter().map(|m| m.body.clone()).collect();
    bodies.sort();
    let mut want: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(bodies, want);
    for m in &got {
        q.ack(QueueName::Tasks, &m.receipt).await.unwrap();
    }
    // Not acknowledged → delivered again after the visibility timeout, counted.
    q.send(QueueName::Tasks, vec!["again".into()], Duration::ZERO)
        .await
        .unwrap();
    let first = next_message(q, Duration::from_secs(1)).await;
    assert_eq!(first.body, "again");
    assert!(
        q.receive(QueueName::Tasks, 1, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "hidden while held"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = next_message(q, Duration::from_secs(30)).await;
    assert_eq!(second.body, "again");
    assert_eq!(second.receive_count, 2);
    q.ack(QueueName::Tasks, &second.receipt).await.unwrap();
    // Delayed messages stay hidden until the delay passes.
    q.send(
        QueueName::Tasks,
        vec!["later".into()],
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert!(q
        .receive(QueueName::Tasks, 1, Duration::from_secs(30))
        .await
        .unwrap()
        .is_empty());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let late = next_message(q, Duration::from_secs(30)).await;
    assert_eq!(late.body, "later");
    q.ack(QueueName::Tasks, &late.receipt).await.unwrap();
}

/// Every event published reaches the webhooks queue once, in EventBridge's envelope
/// (the template's rule; `provision` sets the same rule up on moto).
pub async fn events(ctx: AppContext) {
    let sent: Vec<crate::ports::Event> = (0..12)
        .map(|i| crate::ports::Event {
            event_id: format!("evt_{i:02}"),
            event_type: if i % 2 == 0 {
                crate::domain::events::EventType::ObjectCreated
            } else {
                crate::domain::events::EventType::BatchCompleted
            },
            org_id: "org_1".into(),
            namespace_id: None,
            created_at: "2026-01-01T00:00:00Z".into(),
            data: json!({"n": i}),
        })
        .collect();
    ctx.events.publish(sent.clone()).await.unwrap();
    let mut seen: HashMap<String, Value> = HashMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < sent.len() && std::time::Instant::now() < deadline {
        for m in ctx
            .queue
            .receive(QueueName::Webhooks, 10, Duration::from_secs(30))
            .await
            .unwrap()
        {
            let envelope: Value = serde_json::from_str(&m.body).unwrap();
            let id = envelope["detail"]["event_id"].as_str().unwrap().to_string();
            assert!(
                seen.insert(id, envelope).is_none(),
                "an event arrived twice"
            );
            ctx.queue
                .ack(QueueName::Webhooks, &m.receipt)
                .await
                .unwrap();
        }
    }
    assert_eq!(seen.len(), sent.len(), "{:?}", seen.keys());
    for e in &sent {
        let got = &seen[&e.event_id];
        assert_eq!(got["detail-type"], json!(e.event_type));
        assert_eq!(got["detail"]["data"], e.data);
    }
}
