//! The ports' contracts (`sluice_core::testing::contract`) on the local adapters:
//! SQLite for the table and the queues, files for blobs, in-process events.

use std::time::Duration;

use sluice_core::testing::contract;
use sluice_core::{AppContext, Config};

fn ctx() -> (AppContext, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        visibility_timeout: Duration::from_secs(2),
        ..Config::default()
    };
    let (ctx, _) = sluice_backend_local::context(dir.path(), "http://127.0.0.1:1", config).unwrap();
    (ctx, dir)
}

macro_rules! contracts {
    ($($check:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            let (ctx, _dir) = ctx();
            contract::$check(ctx).await;
        }
    )*};
}

contracts!(
    table_conditions,
    table_transactions,
    table_queries,
    blob_store,
    queue,
    events
);
