//! The ports' contracts (`sluice_core::testing::contract`) on the local adapters:
//! SQLite for the table and the queues, files for blobs, in-process events.

use sluice_core::testing::contract;
use sluice_core::AppContext;

async fn ctx() -> Option<(AppContext, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) =
        sluice_backend_local::context(dir.path(), "http://127.0.0.1:1", contract::config())
            .unwrap();
    Some((ctx, dir))
}

sluice_core::port_contract_tests!(ctx);
