//! The ports' contracts (`sluice_core::testing::contract`) on the AWS adapters, against
//! the stand-in `AWS_ENDPOINT_URL` names (moto). Without it they are skipped, unless
//! `SLUICE_REQUIRE_MOTO` says they must run.

use std::time::Duration;

use sluice_core::testing::contract;
use sluice_core::{AppContext, Config};

async fn ctx() -> Option<AppContext> {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        assert!(
            std::env::var("SLUICE_REQUIRE_MOTO").is_err(),
            "SLUICE_REQUIRE_MOTO is set but AWS_ENDPOINT_URL is not"
        );
        eprintln!("AWS_ENDPOINT_URL not set: the AWS adapters' contracts were not run");
        return None;
    }
    let sdk = sluice_backend_aws::sdk_config().await;
    let prefix = format!(
        "contract-{}",
        sluice_core::domain::ids::IdKind::Job
            .new_id()
            .replace('_', "-")
    );
    let names = sluice_backend_aws::provision(&sdk, &prefix)
        .await
        .expect("provision on the stand-in");
    let config = Config {
        visibility_timeout: Duration::from_secs(2),
        ..Config::default()
    };
    Some(sluice_backend_aws::context_from(&sdk, names, config))
}

macro_rules! contracts {
    ($($check:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            if let Some(ctx) = ctx().await {
                contract::$check(ctx).await;
            }
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
