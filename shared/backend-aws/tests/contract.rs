//! The ports' contracts (`sluice_core::testing::contract`) on the AWS adapters, against
//! the stand-in `AWS_ENDPOINT_URL` names (moto). Without it they are skipped, unless
//! `SLUICE_REQUIRE_MOTO` says they must run.

use sluice_core::testing::contract;
use sluice_core::AppContext;

async fn ctx() -> Option<(AppContext, ())> {
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
    let ctx = sluice_backend_aws::context_from(&sdk, names, contract::config());
    Some((ctx, ()))
}

sluice_core::port_contract_tests!(ctx);
