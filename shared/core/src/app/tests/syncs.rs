use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use super::{parse, reload, space};
use crate::app::connections;
use crate::app::syncs::{self, engine, ListRuns, Sync, SyncRun};
use crate::config::Config;
use crate::domain::entities::{Bucket, Namespace};
use crate::error::Error;
use crate::testing::Memory;

fn small_pages() -> Memory {
    Memory::with_config(Config {
        sync_page_size: 4,
        purge_settle: std::time::Duration::ZERO,
        // The in-memory storage is reached through no network, and the providers' names
        // do not resolve offline; the guard has tests of its own (net.rs, the e2e suite).
        allow_private_urls: true,
        ..Config::default()
    })
}

async fn sync_for(m: &Memory, ns: &Namespace, bucket: &Bucket, extra: Value) -> Sync {
    let conn = connections::create(&m.ctx, &ns.org_id, "key_test", parse(json!({
        "name": "source", "provider_type": "s3",
        "provider_config": {"credentials": {"type": "access_key", "access_key_id": "AKIATEST", "secret_access_key": "s3cr3t"}},
    })))
    .await
    .unwrap();
    let mut body = json!({"connection_id": conn.connection_id, "source_path": "src/docs/", "skip_batch_submission": true});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    syncs::create(&m.ctx, ns, bucket, "key_test", parse(body))
        .await
        .unwrap()
}

/// Triggers a run and works the queues until it ends.
async fn run(m: &Memory, bucket: &Bucket, s: &Sync) -> SyncRun {
    let started = engine::trigger(&m.ctx, bucket, &s.sync_config_id, false)
        .await
        .unwrap();
    let dropped = m.run_queues().await;
    assert!(dropped.is_empty(), "{dropped:?}");
    let s = syncs::get(&m.ctx, bucket, &s.sync_config_id).await.unwrap();
    syncs::get_run(&m.ctx, &s, &started.sync_job_id)
        .await
        .unwrap()
}

fn files(m: &Memory, range: std::ops::Range<usize>) {
    for i in range {
        m.storage
            .put("src", &format!("docs/file {i:03}.txt"), format!("text {i}"));
    }
}

#[tokio::test]
async fn a_first_run_registers_every_file_and_a_second_changes_nothing() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    super::listen(&m, &ns.org_id).await;
    files(&m, 0..10);
    m.storage.put("src", "docs/", ""); // a folder marker
    m.storage
        .put("src", "elsewhere.txt", "not under the prefix");
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let first = run(&m, &bucket, &s).await;
    assert_eq!(first.status, "completed", "{first:?}");
    let c = &first.counts;
    assert_eq!(
        (c.scanned, c.new, c.unchanged, c.filtered, c.failed),
        (11, 10, 0, 1, 0),
        "{c:?}"
    );
    assert_eq!(
        c.scanned,
        c.new + c.modified + c.unchanged + c.filtered + c.failed
    );
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 10);

    let writes_before = m.table.all().len();
    let second = run(&m, &bucket, &s).await;
    let c = &second.counts;
    assert_eq!(
        (c.new, c.modified, c.unchanged, c.deleted),
        (0, 0, 10, 0),
        "{c:?}"
    );
    // Only the new run's record: nothing per unchanged file.
    assert_eq!(m.table.all().len(), writes_before + 1);
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 10);
    let s = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    assert_eq!(s.manifest_count, 10);
    assert!(!s.locked() && s.next_sync_at.is_some() && s.last_sync_at.is_some());
    assert!(
        m.events
            .types()
            .iter()
            .filter(|t| *t == "sync.completed")
            .count()
            == 2
    );
}

/// The credentials a connection was given reach the source, sealed and opened again;
/// others are refused there, as a provider refuses them.
#[tokio::test]
async fn the_source_sees_the_connections_own_credentials() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..3);
    m.storage.accept_only("AKIATEST", "s3cr3t");
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    assert_eq!(run(&m, &bucket, &s).await.counts.new, 3);
    m.storage.accept_only("AKIATEST", "another secret");
    let refused = run(&m, &bucket, &s).await;
    assert_eq!(refused.status, "failed", "{refused:?}");
    assert!(
        refused
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("SignatureDoesNotMatch"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn changes_deletions_and_additions_are_counted_exactly() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..20);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    run(&m, &bucket, &s).await;
    for i in [1, 7, 15] {
        m.storage.put(
            "src",
            &format!("docs/file {i:03}.txt"),
            format!("changed {i}"),
        );
    }
    m.storage.remove("src", "docs/file 003.txt");
    m.storage.remove("src", "docs/file 019.txt");
    files(&m, 20..25);
    let r = run(&m, &bucket, &s).await;
    let c = &r.counts;
    assert_eq!(
        (
            c.new,
            c.modified,
            c.deleted,
            c.withheld_deletions,
            c.unchanged
        ),
        (5, 3, 2, 0, 15),
        "{r:?}"
    );
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 23);
    // A changed file's object now points at the new version.
    let objects = crate::app::objects::list(&m.ctx, &bucket, &Default::default())
        .await
        .unwrap();
    let etags: std::collections::HashMap<String, String> = objects
        .results
        .iter()
        .filter_map(|o| {
            let synced = &o["blobs"][0]["properties"]["synced"];
            Some((
                synced["key"].as_str()?.into(),
                synced["etag"].as_str()?.into(),
            ))
        })
        .collect();
    assert_eq!(etags.len(), 23);
    for i in [1, 7, 15, 0, 20] {
        let key = format!("docs/file {i:03}.txt");
        assert_eq!(
            etags.get(&key),
            m.storage.etag("src", &key).as_ref(),
            "{key} does not point at its current version"
        );
    }
}

#[tokio::test]
async fn the_brake_withholds_large_deletions_and_an_empty_listing() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..10);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    run(&m, &bucket, &s).await;
    for i in 0..4 {
        m.storage.remove("src", &format!("docs/file {i:03}.txt"));
    }
    let r = run(&m, &bucket, &s).await;
    assert_eq!(
        (r.counts.deleted, r.counts.withheld_deletions),
        (0, 4),
        "{r:?}"
    );
    assert!(
        r.withheld_reason.as_deref().unwrap().contains("brake"),
        "{r:?}"
    );
    assert_eq!(
        reload(&m, &ns, &bucket).await.object_count,
        10,
        "nothing deleted"
    );
    for i in 4..10 {
        m.storage.remove("src", &format!("docs/file {i:03}.txt"));
    }
    let r = run(&m, &bucket, &s).await;
    assert_eq!(r.counts.withheld_deletions, 10);
    assert!(
        r.withheld_reason.as_deref().unwrap().contains("empty"),
        "{r:?}"
    );
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 10);
}

#[tokio::test]
async fn every_page_delivered_twice_counts_once_and_makes_no_duplicate() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..10);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let started = engine::trigger(&m.ctx, &bucket, &s.sync_config_id, false)
        .await
        .unwrap();
    // Work each page message twice, the second delivery after the first was handled.
    loop {
        let bodies = m.queue.bodies(crate::ports::QueueName::Syncs);
        let Some(body) = bodies.first().cloned() else {
            break;
        };
        let msg: engine::PageMessage = serde_json::from_str(&body).unwrap();
        crate::app::syncs::page::run_page(&m.ctx, &msg)
            .await
            .unwrap();
        crate::app::syncs::page::run_page(&m.ctx, &msg)
            .await
            .unwrap();
        m.queue.drop_body(crate::ports::QueueName::Syncs, &body);
    }
    let s = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let r = syncs::get_run(&m.ctx, &s, &started.sync_job_id)
        .await
        .unwrap();
    assert_eq!(
        (r.status.as_str(), r.counts.new, r.counts.scanned),
        ("completed", 10, 10),
        "{r:?}"
    );
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 10);
}

#[tokio::test]
async fn a_page_redone_after_a_crash_before_its_save_counts_as_new_again() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..3);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let started = engine::trigger(&m.ctx, &bucket, &s.sync_config_id, false)
        .await
        .unwrap();
    let body = m.queue.bodies(crate::ports::QueueName::Syncs)[0].clone();
    let msg: engine::PageMessage = serde_json::from_str(&body).unwrap();
    crate::app::syncs::page::run_page(&m.ctx, &msg)
        .await
        .unwrap();
    // The page registered its objects, then "crashed" before saving: undo the save.
    let s1 = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let mut run = syncs::get_run(&m.ctx, &s1, &started.sync_job_id)
        .await
        .unwrap();
    run.page = 0;
    run.status = crate::domain::status::RunStatus::Running;
    run.counts = Default::default();
    run.last_key = None;
    m.ctx
        .table
        .write(crate::ports::Write::put(crate::store::to_item(
            &crate::store::keys::sync_run(&s.sync_config_id, &run.sync_job_id),
            &run,
        )))
        .await
        .unwrap();
    let mut again = s1.clone();
    again.lock_expires_epoch = Some(crate::domain::time::now().unix_timestamp() + 60);
    syncs::save(&m.ctx, &s1, again).await.unwrap();
    crate::app::syncs::page::run_page(&m.ctx, &msg)
        .await
        .unwrap();
    let s2 = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let r = syncs::get_run(&m.ctx, &s2, &started.sync_job_id)
        .await
        .unwrap();
    assert_eq!((r.counts.new, r.counts.unchanged), (3, 0), "{r:?}");
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 3);
}

#[tokio::test]
async fn bad_credentials_fail_runs_and_five_suspend_the_sync() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    super::listen(&m, &ns.org_id).await;
    files(&m, 0..2);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    m.storage.deny.store(true, Ordering::SeqCst);
    for i in 1..=5 {
        let r = run(&m, &bucket, &s).await;
        assert_eq!(r.status, "failed");
        assert!(
            r.error.as_deref().unwrap().contains("access denied"),
            "{r:?}"
        );
        let now = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
            .await
            .unwrap();
        assert_eq!(now.consecutive_failures, i);
    }
    let suspended = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    assert_eq!(
        suspended.status,
        crate::domain::status::SyncStatus::Suspended
    );
    assert!(
        suspended.due_epoch().is_none(),
        "a suspended sync is not polled"
    );
    assert!(matches!(
        engine::trigger(&m.ctx, &bucket, &s.sync_config_id, false).await,
        Err(Error::Conflict(_))
    ));
    assert!(m.events.types().contains(&"sync.suspended".to_string()));
    assert_eq!(
        reload(&m, &ns, &bucket).await.object_count,
        0,
        "never read as an empty source"
    );
    // The connection says so too; a passing test resets it.
    let c = connections::get(&m.ctx, &ns.org_id, &s.connection_id)
        .await
        .unwrap();
    assert_eq!(c.consecutive_failures, 5);
    assert!(c.last_error.unwrap().contains("access denied"));
    assert!(c.last_used_at.is_some());
    m.storage.deny.store(false, Ordering::SeqCst);
    assert!(
        connections::test(&m.ctx, &ns.org_id, &s.connection_id)
            .await
            .unwrap()
            .success
    );
    let c = connections::get(&m.ctx, &ns.org_id, &s.connection_id)
        .await
        .unwrap();
    assert_eq!((c.consecutive_failures, c.last_error), (0, None));
}

#[tokio::test]
async fn a_file_no_property_takes_is_a_dead_letter_with_its_reason() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    m.storage.put("src", "docs/clip.mp4", "not text");
    m.storage.put("src", "docs/a.txt", "text");
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let r = run(&m, &bucket, &s).await;
    assert_eq!((r.counts.new, r.counts.failed), (1, 1), "{r:?}");
    let s = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let dead = syncs::dead_letters(&m.ctx, &s, &Default::default())
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].source_path, "docs/clip.mp4");
    assert!(dead[0].error_message.contains("video/mp4"), "{:?}", dead[0]);
}

/// A key too long for the table and a file over the fetch limit are dead letters with
/// their reasons; the files beside them go through.
#[tokio::test]
async fn an_over_long_key_and_an_over_large_file_are_dead_letters() {
    let m = Memory::with_config(Config {
        max_fetch_bytes: 64,
        ..small_pages().ctx.config.clone()
    });
    let (ns, bucket) = space(&m).await;
    let long_key = format!("docs/{}.txt", "k".repeat(1_100));
    m.storage.put("src", &long_key, "text");
    m.storage.put("src", "docs/large.txt", "x".repeat(65));
    m.storage.put("src", "docs/small.txt", "fits");
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let r = run(&m, &bucket, &s).await;
    assert_eq!((r.counts.new, r.counts.failed), (1, 2), "{r:?}");
    let s = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let dead = syncs::dead_letters(&m.ctx, &s, &Default::default())
        .await
        .unwrap();
    let reason_of = |path_start: &str| {
        dead.iter()
            .find(|d| d.source_path.starts_with(path_start))
            .map(|d| d.error_message.clone())
            .unwrap_or_else(|| panic!("no dead letter for {path_start}: {dead:?}"))
    };
    assert!(reason_of("docs/kkk").contains("1000"), "{dead:?}");
    assert!(reason_of("docs/large.txt").contains("64"), "{dead:?}");
}

/// A run that fails tells the org's webhooks (`sync.failed`), as a completed one does.
#[tokio::test]
async fn a_failed_run_publishes_sync_failed() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    super::listen(&m, &ns.org_id).await;
    files(&m, 0..2);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    m.storage.deny.store(true, Ordering::SeqCst);
    let r = run(&m, &bucket, &s).await;
    assert_eq!(r.status, "failed", "{r:?}");
    assert!(
        m.events.types().contains(&"sync.failed".to_string()),
        "{:?}",
        m.events.types()
    );
}

#[tokio::test]
async fn the_poller_starts_due_syncs_and_a_running_one_is_not_started_twice() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..2);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    assert_eq!(
        engine::poll(&m.ctx).await.unwrap(),
        1,
        "a new sync is due at once"
    );
    assert_eq!(
        engine::poll(&m.ctx).await.unwrap(),
        0,
        "its run holds the lease"
    );
    assert!(matches!(
        engine::trigger(&m.ctx, &bucket, &s.sync_config_id, false).await,
        Err(Error::Conflict(_))
    ));
    m.run_queues().await;
    assert_eq!(
        engine::poll(&m.ctx).await.unwrap(),
        0,
        "next due after its interval"
    );
    let s = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let runs = syncs::list_runs(&m.ctx, &s, &ListRuns::default())
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].trigger, "scheduled");
    syncs::pause(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    assert!(matches!(
        engine::trigger(&m.ctx, &bucket, &s.sync_config_id, false).await,
        Err(Error::Conflict(_))
    ));
}

#[tokio::test]
async fn a_lapsed_lease_resumes_the_run_from_its_saved_page() {
    let m = Memory::with_config(Config {
        sync_page_size: 4,
        sync_lease: std::time::Duration::from_secs(5),
        ..Config::default()
    });
    let (ns, bucket) = space(&m).await;
    files(&m, 0..10);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let started = engine::trigger(&m.ctx, &bucket, &s.sync_config_id, false)
        .await
        .unwrap();
    // The first page is worked; the message for the second is lost with its worker.
    let first = m.queue.bodies(crate::ports::QueueName::Syncs)[0].clone();
    crate::app::syncs::page::run_page(&m.ctx, &serde_json::from_str(&first).unwrap())
        .await
        .unwrap();
    for b in m.queue.bodies(crate::ports::QueueName::Syncs) {
        m.queue.drop_body(crate::ports::QueueName::Syncs, &b);
    }
    // The lease lapses.
    let before = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let mut lapsed = before.clone();
    lapsed.lock_expires_epoch = Some(crate::domain::time::now().unix_timestamp() - 1);
    syncs::save(&m.ctx, &before, lapsed).await.unwrap();
    assert_eq!(engine::poll(&m.ctx).await.unwrap(), 1);
    m.run_queues().await;
    let s = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let r = syncs::get_run(&m.ctx, &s, &started.sync_job_id)
        .await
        .unwrap();
    assert_eq!(
        (r.status.as_str(), r.trigger.as_str(), r.counts.new),
        ("completed", "resume", 10),
        "{r:?}"
    );
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 10);
}

#[tokio::test]
async fn batches_process_synced_files_through_the_connection() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..3);
    let s = sync_for(
        &m,
        &ns,
        &bucket,
        json!({"skip_batch_submission": false, "batch_size": 2}),
    )
    .await;
    let r = run(&m, &bucket, &s).await;
    assert_eq!(r.batches_created, 2, "{r:?}");
    let object = crate::app::objects::list(&m.ctx, &bucket, &Default::default())
        .await
        .unwrap()
        .results[0]
        .clone();
    let object_id = object["object_id"].as_str().unwrap();
    let docs = crate::app::documents::list_for_object(
        &m.ctx,
        &bucket,
        object_id,
        &Default::default(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(docs.results.len(), 1, "processed: {object}");
    assert!(
        docs.results[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("text "),
        "{:?}",
        docs.results[0]
    );
}

#[tokio::test]
async fn credentials_are_sealed_and_never_shown() {
    let m = small_pages();
    let (ns, _) = space(&m).await;
    let conn = connections::create(&m.ctx, &ns.org_id, "key_test", parse(json!({
        "name": "secret", "provider_type": "r2",
        "provider_config": {"account_id": "acct1", "credentials": {"type": "access_key", "access_key_id": "AKIAVISIBLE", "secret_access_key": "TOPSECRET"}},
        "test_before_save": false,
    })))
    .await
    .unwrap();
    let stored = serde_json::to_string(&m.table.all()).unwrap();
    assert!(
        !stored.contains("TOPSECRET") && !stored.contains("AKIAVISIBLE"),
        "plaintext credentials in the table"
    );
    let shown = serde_json::to_string(&crate::app::views::ConnectionView::from(&conn)).unwrap();
    assert!(
        !shown.contains("TOPSECRET") && !shown.contains("AKIAVISIBLE"),
        "{shown}"
    );
    // A patch that names only the key id keeps the stored secret.
    let patched = connections::update(&m.ctx, &ns.org_id, &conn.connection_id, parse(json!({
        "provider_config": {"account_id": "acct1", "credentials": {"access_key_id": "AKIANEW"}}, "test_before_save": false,
    })))
    .await
    .unwrap();
    let config = connections::provider_config(&m.ctx, &patched)
        .await
        .unwrap();
    let c = &config.credentials;
    assert_eq!(
        (
            c.kind(),
            c.text("access_key_id"),
            c.text("secret_access_key")
        ),
        ("access_key", Some("AKIANEW"), Some("TOPSECRET"))
    );
}

#[tokio::test]
async fn an_endpoint_on_a_private_address_is_refused() {
    let m = Memory::new(); // the guard on
    let (ns, _) = space(&m).await;
    let err = connections::create(&m.ctx, &ns.org_id, "key_test", parse(json!({
        "name": "inside", "provider_type": "s3",
        "provider_config": {"endpoint_url": "http://169.254.169.254/", "credentials": {"type": "access_key", "access_key_id": "a", "secret_access_key": "b"}},
    })))
    .await
    .unwrap_err();
    match err {
        Error::Invalid { details, .. } => {
            assert_eq!(details["field"], "provider_config.endpoint_url")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn max_objects_per_run_defers_the_rest_to_the_next_run() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..10);
    let s = sync_for(&m, &ns, &bucket, json!({"max_objects_per_run": 6})).await;
    let first = run(&m, &bucket, &s).await;
    let c = &first.counts;
    assert_eq!((c.scanned, c.new, c.deferred), (10, 6, 4), "{c:?}");
    assert_eq!(
        c.scanned,
        c.new + c.modified + c.unchanged + c.filtered + c.failed + c.deferred
    );
    let second = run(&m, &bucket, &s).await;
    assert_eq!(
        (
            second.counts.new,
            second.counts.unchanged,
            second.counts.deferred
        ),
        (4, 6, 0),
        "{second:?}"
    );
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 10);
    assert_eq!(second.counts.deleted, 0, "deferred files are not gone");
}

#[tokio::test]
async fn a_dead_letter_clears_once_its_file_goes_through() {
    let m = small_pages();
    let schema = json!({"properties": {"body": {"type": "text"}, "clip": {"type": "video"}}});
    let (ns, bucket) =
        super::space_with(&m, json!({"properties": {"body": {"type": "text"}}}), None).await;
    m.storage.put("src", "docs/clip.mp4", "x");
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    run(&m, &bucket, &s).await;
    let stored = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    assert_eq!(
        syncs::dead_letters(&m.ctx, &stored, &Default::default())
            .await
            .unwrap()
            .len(),
        1
    );
    // The bucket learns to take videos; the next run registers the file and clears its letter.
    crate::app::buckets::update(
        &m.ctx,
        &ns,
        &bucket.bucket_id,
        parse(json!({"bucket_schema": schema})),
    )
    .await
    .unwrap();
    let r = run(&m, &bucket, &s).await;
    assert_eq!(r.counts.new, 1, "{r:?}");
    assert!(syncs::dead_letters(&m.ctx, &stored, &Default::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_schema_mapping_places_files_and_fills_fields_from_their_keys() {
    let m = small_pages();
    let (ns, bucket) = super::space_with(
        &m,
        json!({"properties": {
            "content": {"type": "binary"}, "body": {"type": "text"},
            "team": {"type": "string"}, "year": {"type": "string", "required": true},
            "origin": {"type": "string"},
        }}),
        None,
    )
    .await;
    m.storage
        .put("src", "docs/legal/contract_2024.txt", "terms");
    m.storage
        .put("src", "docs/sales/notes.txt", "no year in the name");
    let mapping = json!({"mappings": {
        // The SDK always sends blob_property (default "content"): the key decides.
        "body": {"target_type": "blob", "source": {"type": "file"}, "blob_property": "content"},
        "team": {"source": {"type": "folder_path", "segment": -1}, "transform": "uppercase"},
        "year": {"source": {"type": "filename_regex", "pattern": r"_(\d{4})\."}, "required": true},
        "origin": {"source": {"type": "constant", "value": "s3"}},
    }});
    let s = sync_for(&m, &ns, &bucket, json!({"schema_mapping": mapping})).await;
    let r = run(&m, &bucket, &s).await;
    assert_eq!((r.counts.new, r.counts.failed), (1, 1), "{r:?}");
    let objects = crate::app::objects::list(&m.ctx, &bucket, &Default::default())
        .await
        .unwrap()
        .results;
    assert_eq!(objects.len(), 1);
    let o = &objects[0];
    assert_eq!(o["blobs"][0]["property"], "body", "{o}");
    assert_eq!(
        o["metadata"],
        json!({"team": "LEGAL", "year": "2024", "origin": "s3"}),
        "{o}"
    );
    let s = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let dead = syncs::dead_letters(&m.ctx, &s, &Default::default())
        .await
        .unwrap();
    assert_eq!(dead[0].source_path, "docs/sales/notes.txt");
    assert!(
        dead[0].error_message.contains("required field \"year\""),
        "{:?}",
        dead[0]
    );

    // A mapping the schema cannot take is refused when saved, naming the mapping.
    let conn = s.connection_id.clone();
    let bad = syncs::create(
        &m.ctx,
        &ns,
        &bucket,
        "key_test",
        parse(json!({
            "connection_id": conn, "source_path": "src/docs/",
            "schema_mapping": {"mappings": {"team": {"source": {"type": "tag", "key": "team"}}}},
        })),
    )
    .await
    .unwrap_err();
    assert!(
        bad.to_string().contains("schema_mapping.mappings.team"),
        "{bad}"
    );
}

#[tokio::test]
async fn sync_from_and_a_provider_prefix_narrow_what_a_run_takes() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..3);
    m.storage.put("src", "docs/new/a.txt", "a");
    m.storage.put("src", "docs/new/b.txt", "b");
    let cut = m.storage.last_modified("src", "docs/new/a.txt").unwrap();
    let s = sync_for(&m, &ns, &bucket, json!({"sync_from": cut})).await;
    let r = run(&m, &bucket, &s).await;
    // Only b.txt was modified after `sync_from`; the rest are filtered, counted.
    assert_eq!(
        (r.counts.scanned, r.counts.new, r.counts.filtered),
        (5, 1, 4),
        "{r:?}"
    );

    let (ns2, bucket2) = space(&m).await;
    let s2 = sync_for(
        &m,
        &ns2,
        &bucket2,
        json!({"provider_filters": {"prefix": "new/"}}),
    )
    .await;
    let r = run(&m, &bucket2, &s2).await;
    assert_eq!((r.counts.scanned, r.counts.new), (2, 2), "{r:?}");
    let err = syncs::create(
        &m.ctx,
        &ns2,
        &bucket2,
        "key_test",
        parse(json!({
            "connection_id": s2.connection_id, "source_path": "src/docs/",
            "provider_filters": {"shared_drive_id": "x"},
        })),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("provider_filters.shared_drive_id"),
        "{err}"
    );
    let err = syncs::create(
        &m.ctx,
        &ns2,
        &bucket2,
        "key_test",
        parse(json!({
            "connection_id": s2.connection_id, "source_path": "src/docs/", "sync_from": "yesterday",
        })),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("sync_from"), "{err}");
}

#[tokio::test]
async fn batch_collection_ids_choose_the_collections_a_sync_feeds() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    let extra = crate::app::collections::create(&m.ctx, &ns, parse(json!({
        "collection_name": "second", "source": {"type": "bucket", "bucket_ids": [bucket.bucket_id]},
        "feature_extractor": {"feature_extractor_name": "passthrough_extractor", "version": "v1"},
    })))
    .await
    .unwrap();
    files(&m, 0..2);
    let s = sync_for(
        &m,
        &ns,
        &bucket,
        json!({
            "skip_batch_submission": false, "batch_collection_ids": ["second"],
        }),
    )
    .await;
    assert_eq!(
        s.batch_collection_ids,
        Some(vec![extra.collection_id.clone()])
    );
    let r = run(&m, &bucket, &s).await;
    assert_eq!(r.batches_created, 1, "{r:?}");
    let batch = crate::app::batches::get(&m.ctx, &bucket, &r.batch_ids[0])
        .await
        .unwrap();
    let fed: Vec<&str> = batch
        .targets
        .iter()
        .map(|t| t.collection_id.as_str())
        .collect();
    assert_eq!(
        fed,
        [extra.collection_id.as_str()],
        "only the chosen collection"
    );
    let err = syncs::create(&m.ctx, &ns, &bucket, "key_test", parse(json!({
        "connection_id": s.connection_id, "source_path": "src/docs/", "batch_collection_ids": ["nope"],
    })))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("batch_collection_ids"), "{err}");
}

#[tokio::test]
async fn a_throttled_listing_is_retried_after_the_providers_delay_and_counts_once() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..10);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let started = engine::trigger(&m.ctx, &bucket, &s.sync_config_id, false)
        .await
        .unwrap();
    m.storage.throttle.store(2, Ordering::SeqCst);
    // The first page is throttled: it goes back on the queue, delayed by at least the
    // provider's Retry-After (plus jitter), and the run is still running.
    let syncs_queue = crate::ports::QueueName::Syncs;
    let [first] = m
        .queue
        .bodies(syncs_queue)
        .try_into()
        .expect("one page queued");
    m.queue.drop_body(syncs_queue, &first);
    crate::jobs::handle(&m.ctx, syncs_queue, &first, 1)
        .await
        .unwrap();
    let waiting = m.queue.delays(syncs_queue);
    assert_eq!(waiting.len(), 1, "the page is sent again");
    assert!(
        waiting[0] > std::time::Duration::from_millis(2900),
        "{waiting:?}"
    );
    assert!(m.run_queues().await.is_empty());
    let s = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let r = syncs::get_run(&m.ctx, &s, &started.sync_job_id)
        .await
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    assert_eq!((r.counts.scanned, r.counts.new), (10, 10), "{r:?}");
}

#[tokio::test]
async fn skip_duplicates_false_replaces_every_object_each_run() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..5);
    let s = sync_for(&m, &ns, &bucket, json!({"skip_duplicates": false})).await;
    run(&m, &bucket, &s).await;
    let again = run(&m, &bucket, &s).await;
    let c = &again.counts;
    assert_eq!((c.unchanged, c.modified, c.new), (0, 5, 0), "{c:?}");
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 5);
}

/// Triggers a run; the run and its first page's message, left on the queue.
async fn triggered(m: &Memory, bucket: &Bucket, s: &Sync) -> (SyncRun, String) {
    let started = engine::trigger(&m.ctx, bucket, &s.sync_config_id, false)
        .await
        .unwrap();
    let first = m.queue.bodies(crate::ports::QueueName::Syncs)[0].clone();
    (started, first)
}

/// Overwrites a stored run (a test's stand-in for a crash at a chosen moment).
async fn put_run(m: &Memory, run: &SyncRun) {
    m.ctx
        .table
        .write(crate::ports::Write::put(crate::store::to_item(
            &crate::store::keys::sync_run(&run.sync_config_id, &run.sync_job_id),
            run,
        )))
        .await
        .unwrap();
}

fn manifest_entries(m: &Memory, s: &Sync) -> i64 {
    let pk = crate::store::keys::sync_pk(&s.sync_config_id);
    m.table
        .all()
        .iter()
        .filter(|i| i.get("pk").and_then(Value::as_str) == Some(&pk))
        .filter(|i| {
            i.get("sk")
                .and_then(Value::as_str)
                .is_some_and(|sk| sk.starts_with(crate::store::keys::MANIFEST_PREFIX))
        })
        .count() as i64
}

#[tokio::test]
async fn a_run_stopped_between_its_last_page_and_its_finish_completes_when_resumed() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..6);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let done = run(&m, &bucket, &s).await;
    assert_eq!(done.status, "completed");
    // Put the run back as it was after its last page was saved, before its finish.
    let mut stopped = done.clone();
    stopped.status = crate::domain::status::RunStatus::Running;
    stopped.phase = "deleting".into();
    stopped.completed_at = None;
    put_run(&m, &stopped).await;
    let before = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let mut leased = before.clone();
    leased.current_run_id = Some(done.sync_job_id.clone());
    leased.lock_expires_epoch = Some(crate::domain::time::now().unix_timestamp() - 1);
    syncs::save(&m.ctx, &before, leased).await.unwrap();
    // The lease lapses; the poller resumes the run at its saved page (past the last).
    assert_eq!(engine::poll(&m.ctx).await.unwrap(), 1);
    assert!(m.run_queues().await.is_empty());
    let s = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let r = syncs::get_run(&m.ctx, &s, &done.sync_job_id).await.unwrap();
    assert_eq!(
        (r.status.as_str(), r.trigger.as_str()),
        ("completed", "resume"),
        "{r:?}"
    );
    assert_eq!((s.consecutive_failures, s.locked()), (0, false), "{s:?}");
    assert_eq!(s.manifest_count, 6);
}

#[tokio::test]
async fn the_manifest_count_stays_exact_after_a_failed_run() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..10);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let (started, first) = triggered(&m, &bucket, &s).await;
    m.queue.drop_body(crate::ports::QueueName::Syncs, &first);
    crate::app::syncs::page::run_page(&m.ctx, &serde_json::from_str(&first).unwrap())
        .await
        .unwrap();
    // The credentials stop working after one page of four files: the run fails.
    m.storage.deny.store(true, Ordering::SeqCst);
    m.run_queues().await;
    let failed_sync = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let failed = syncs::get_run(&m.ctx, &failed_sync, &started.sync_job_id)
        .await
        .unwrap();
    assert_eq!(failed.status, "failed", "{failed:?}");
    assert_eq!(failed_sync.manifest_count, manifest_entries(&m, &s));
    assert_eq!(failed_sync.manifest_count, 4);
    m.storage.deny.store(false, Ordering::SeqCst);
    let again = run(&m, &bucket, &s).await;
    assert_eq!(
        (again.counts.new, again.counts.unchanged),
        (6, 4),
        "{again:?}"
    );
    let s = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    assert_eq!((s.manifest_count, manifest_entries(&m, &s)), (10, 10));
}

#[tokio::test]
async fn dead_letters_count_attempts_stay_dead_and_requeue_retries_now() {
    let m = Memory::with_config(Config {
        sync_page_size: 4,
        allow_private_urls: true,
        sync_max_file_attempts: 2,
        ..Config::default()
    });
    let (ns, bucket) = space(&m).await;
    m.storage.put("src", "docs/clip.mp4", "not text");
    m.storage.put("src", "docs/a.txt", "text");
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let letter = |m: &Memory| {
        let s = s.clone();
        let ctx = m.ctx.clone();
        async move {
            let mut d = syncs::dead_letters(&ctx, &s, &Default::default())
                .await
                .unwrap();
            assert_eq!(d.len(), 1, "{d:?}");
            d.remove(0)
        }
    };
    let first = run(&m, &bucket, &s).await;
    assert_eq!(first.counts.failed, 1);
    let d1 = letter(&m).await;
    assert_eq!(
        (d1.retry_count, d1.max_retries_reached),
        (1, false),
        "{d1:?}"
    );
    run(&m, &bucket, &s).await;
    let d2 = letter(&m).await;
    assert_eq!(
        (d2.retry_count, d2.max_retries_reached),
        (2, true),
        "{d2:?}"
    );
    assert_eq!(d2.first_seen_at, d1.first_seen_at, "first seen is kept");
    // Out of attempts: the next run counts it failed and does not try it again.
    let third = run(&m, &bucket, &s).await;
    assert_eq!(
        (third.counts.failed, third.counts.unchanged),
        (1, 1),
        "{third:?}"
    );
    let d3 = letter(&m).await;
    assert_eq!(
        (d3.retry_count, d3.sync_job_id.as_str()),
        (2, d2.sync_job_id.as_str())
    );
    // A requeue starts a run now, which tries it once more.
    let stored = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let requeued = syncs::requeue(&m.ctx, &stored, &Default::default())
        .await
        .unwrap();
    assert_eq!(requeued.requeued, 1);
    let run_id = requeued.sync_job_id.expect("a run started");
    assert!(m.run_queues().await.is_empty());
    let stored = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let r = syncs::get_run(&m.ctx, &stored, &run_id).await.unwrap();
    assert_eq!(
        (r.status.as_str(), r.trigger.as_str(), r.counts.failed),
        ("completed", "manual", 1)
    );
    let d4 = letter(&m).await;
    assert_eq!(
        (d4.retry_count, d4.max_retries_reached, d4.sync_job_id),
        (3, true, run_id)
    );
}

#[tokio::test]
async fn moving_a_connection_needs_its_credentials_again() {
    let m = small_pages();
    let (ns, _) = space(&m).await;
    let conn = connections::create(&m.ctx, &ns.org_id, "key_test", parse(json!({
        "name": "moving", "provider_type": "s3",
        "provider_config": {"endpoint_url": "https://storage.example.com", "credentials": {
            "type": "access_key", "access_key_id": "AKIA", "secret_access_key": "SECRET", "session_token": "TOKEN"}},
        "test_before_save": false,
    })))
    .await
    .unwrap();
    let moved = json!({"provider_config": {"endpoint_url": "https://elsewhere.example.net"}, "test_before_save": false});
    match connections::update(&m.ctx, &ns.org_id, &conn.connection_id, parse(moved)).await {
        Err(Error::Invalid { details, message }) => {
            assert_eq!(details["field"], "provider_config.credentials");
            assert!(
                message.contains("endpoint_url") && message.contains("secret_access_key"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A part of the credentials is not enough: the stored rest would go along.
    let partial = json!({"provider_config": {"endpoint_url": "https://elsewhere.example.net",
        "credentials": {"access_key_id": "AKIB"}}, "test_before_save": false});
    assert!(
        connections::update(&m.ctx, &ns.org_id, &conn.connection_id, parse(partial))
            .await
            .is_err()
    );
    let whole = json!({"provider_config": {"endpoint_url": "https://elsewhere.example.net",
        "credentials": {"access_key_id": "AKIB", "secret_access_key": "NEW"}}, "test_before_save": false});
    let patched = connections::update(&m.ctx, &ns.org_id, &conn.connection_id, parse(whole))
        .await
        .unwrap();
    let config = connections::provider_config(&m.ctx, &patched)
        .await
        .unwrap();
    let c = &config.credentials;
    assert_eq!(
        (c.text("access_key_id"), c.text("secret_access_key")),
        (Some("AKIB"), Some("NEW"))
    );
    assert_eq!(
        c.text("session_token"),
        None,
        "the old session token did not follow"
    );
    // Settings that move nothing keep the stored credentials.
    let stay = json!({"provider_config": {"endpoint_url": "https://elsewhere.example.net", "region": "eu-west-1"}, "test_before_save": false});
    connections::update(&m.ctx, &ns.org_id, &conn.connection_id, parse(stay))
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_a_bucket_removes_its_syncs_manifests_runs_and_dead_letters() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..5);
    m.storage.put("src", "docs/clip.mp4", "not text");
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    run(&m, &bucket, &s).await;
    let pk = crate::store::keys::sync_pk(&s.sync_config_id);
    let in_partition = |m: &Memory| {
        m.table
            .all()
            .iter()
            .filter(|i| i.get("pk").and_then(Value::as_str) == Some(pk.as_str()))
            .count()
    };
    assert!(in_partition(&m) >= 7, "manifest, run and dead letter");
    crate::app::buckets::delete(&m.ctx, &ns, &bucket.bucket_id)
        .await
        .unwrap();
    m.run_queues().await;
    assert_eq!(in_partition(&m), 0, "the sync's partition is left behind");
}

#[test]
fn keys_out_of_order_within_a_page_or_behind_the_last_are_refused() {
    let entry = |k: &str| crate::ports::SourceEntry {
        key: k.into(),
        size: 1,
        etag: "e".into(),
        version_id: None,
        ..Default::default()
    };
    let page = |ks: &[&str]| ks.iter().map(|k| entry(k)).collect::<Vec<_>>();
    assert!(engine::out_of_order(&page(&["a", "b", "c"]), None).is_none());
    assert!(engine::out_of_order(&page(&["b", "c"]), Some("a")).is_none());
    assert!(engine::out_of_order(&page(&["a", "c", "b"]), None).is_some());
    assert!(engine::out_of_order(&page(&["a", "a"]), None).is_some());
    assert!(engine::out_of_order(&page(&["b", "c"]), Some("b")).is_some());
}

#[tokio::test]
async fn a_page_that_panics_fails_its_run_with_the_reason_and_nothing_else() {
    let m = small_pages();
    let (ns, bucket) = space(&m).await;
    files(&m, 0..3);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let (started, body) = triggered(&m, &bucket, &s).await;
    m.storage.panic.store(true, Ordering::SeqCst);
    // The worker survives; the page is settled (not delivered again at every start).
    crate::jobs::handle(&m.ctx, crate::ports::QueueName::Syncs, &body, 1)
        .await
        .unwrap();
    let s = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    let r = syncs::get_run(&m.ctx, &s, &started.sync_job_id)
        .await
        .unwrap();
    assert_eq!(r.status, "failed");
    let why = r.error.unwrap_or_default();
    assert!(
        why.contains("panicked") && why.contains("tripped a bug"),
        "{why}"
    );
    assert_eq!((s.consecutive_failures, s.locked()), (1, false));
}

#[tokio::test]
async fn a_source_without_key_order_diffs_by_lookups_and_finds_deletions_after_the_listing() {
    let m = small_pages();
    m.storage
        .unordered
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (ns, bucket) = space(&m).await;
    files(&m, 0..25);
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let first = run(&m, &bucket, &s).await;
    assert_eq!(
        first.status,
        crate::domain::status::RunStatus::Completed,
        "{first:?}"
    );
    assert!(first.unordered && first.merged);
    assert_eq!(
        (first.counts.scanned, first.counts.new),
        (25, 25),
        "{:?}",
        first.counts
    );
    let again = run(&m, &bucket, &s).await;
    assert_eq!(
        (
            again.counts.unchanged,
            again.counts.new,
            again.counts.deleted
        ),
        (25, 0, 0),
        "{:?}",
        again.counts
    );
    files(&m, 1..3); // a new version of two
    for i in 3..6 {
        m.storage.remove("src", &format!("docs/file {i:03}.txt"));
    }
    files(&m, 100..104);
    let third = run(&m, &bucket, &s).await;
    let c = &third.counts;
    assert_eq!(
        (c.new, c.modified, c.deleted, c.unchanged),
        (4, 2, 3, 20),
        "{c:?}"
    );
    let s = syncs::get(&m.ctx, &bucket, &s.sync_config_id)
        .await
        .unwrap();
    assert_eq!(s.manifest_count, 26);
    let (spills, _) = m.ctx.blobs.list("sync-spills/", None, 10).await.unwrap();
    assert!(
        spills.is_empty(),
        "a finished run leaves no spill: {spills:?}"
    );
    // The brake holds for a merge as for a range: 19 of 26 gone is withheld.
    for i in 6..25 {
        m.storage.remove("src", &format!("docs/file {i:03}.txt"));
    }
    let braked = run(&m, &bucket, &s).await;
    assert_eq!(
        (braked.counts.deleted, braked.counts.withheld_deletions),
        (0, 19),
        "{:?}",
        braked.counts
    );
}

#[tokio::test]
async fn a_folder_walk_queues_its_frontier_outside_the_token() {
    let m = small_pages();
    m.storage
        .folders
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (ns, bucket) = space(&m).await;
    for d in 0..12 {
        for f in 0..3 {
            m.storage.put(
                "src",
                &format!("docs/d{d:02}/sub/f{f}.txt"),
                format!("{d} {f}"),
            );
        }
    }
    files(&m, 0..5);
    m.storage
        .put("src", "other/skipped.txt", "outside the path");
    let s = sync_for(&m, &ns, &bucket, json!({})).await;
    let first = run(&m, &bucket, &s).await;
    assert_eq!(
        first.status,
        crate::domain::status::RunStatus::Completed,
        "{first:?}"
    );
    assert_eq!(
        (first.counts.scanned, first.counts.new),
        (41, 41),
        "{:?}",
        first.counts
    );
    // A blob per folder with subfolders: the root's (docs/), docs/'s (12), each dNN/'s.
    assert_eq!(first.frontier.written, 14, "{:?}", first.frontier);
    let (left, _) = m.ctx.blobs.list("sync-spills/", None, 10).await.unwrap();
    assert!(left.is_empty(), "a finished walk leaves no blob: {left:?}");
    for d in 0..2 {
        m.storage.remove("src", &format!("docs/d{d:02}/sub/f0.txt"));
    }
    let again = run(&m, &bucket, &s).await;
    let c = &again.counts;
    assert_eq!((c.unchanged, c.new, c.deleted), (39, 0, 2), "{c:?}");
}

#[tokio::test]
async fn two_workers_renewing_one_connection_spend_its_refresh_token_once() {
    use crate::domain::connections::Credentials;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    let m = small_pages();
    let (ns, _) = space(&m).await;
    let made = connections::create(&m.ctx, &ns.org_id, "key_test", parse(json!({
        "name": "renewing", "provider_type": "s3",
        "provider_config": {"credentials": {"type": "access_key", "access_key_id": "AKIATEST", "secret_access_key": "first"}},
    })))
    .await
    .unwrap();
    let c = connections::get(&m.ctx, &ns.org_id, &made.connection_id)
        .await
        .unwrap();
    let stale = connections::provider_config(&m.ctx, &c)
        .await
        .unwrap()
        .credentials;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let renew = move |stored: Credentials| -> futures::future::BoxFuture<
        'static,
        crate::ports::SourceResult<Credentials>,
    > {
        counted.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let mut fields = serde_json::Map::new();
            fields.insert("secret_access_key".into(), json!("second"));
            Ok(stored.with_fields(fields))
        })
    };
    let (one, two) = (
        crate::app::credentials::keeper(&m.ctx, &c),
        crate::app::credentials::keeper(&m.ctx, &c),
    );
    let (a, b) = tokio::join!(one.renewed(&stale, &renew), two.renewed(&stale, &renew));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one renewal for two workers"
    );
    assert_eq!(a.text("secret_access_key"), Some("second"));
    assert_eq!(b.text("secret_access_key"), Some("second"));
    let kept = connections::get(&m.ctx, &ns.org_id, &made.connection_id)
        .await
        .unwrap();
    let sealed = connections::provider_config(&m.ctx, &kept).await.unwrap();
    assert_eq!(sealed.credentials.text("secret_access_key"), Some("second"));
    // A third worker holding the old credentials takes the renewed ones, renewing nothing.
    let three = crate::app::credentials::keeper(&m.ctx, &kept);
    let c3 = three.renewed(&stale, &renew).await.unwrap();
    assert_eq!(c3.text("secret_access_key"), Some("second"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
