//! The `Source` contract (`sluice_core::testing::source_contract`) on every provider,
//! each against its emulator on loopback: S3 on moto (`AWS_ENDPOINT_URL`), GCS on
//! fake-gcs-server (`SLUICE_TEST_GCS_URL`), Azure Blob on Azurite
//! (`SLUICE_TEST_AZURE_URL`: the account's blob endpoint), Box and Mux on their fakes
//! (`SLUICE_TEST_BOX_URL`, `SLUICE_TEST_MUX_URL`). A provider whose emulator is not named is
//! skipped, unless `SLUICE_REQUIRE_EMULATORS` (set by `./scripts/test`) says it must run.

mod azure;
mod r#box;
mod gcs;
mod mux;
mod s3;

use sluice_connectors::{ApiUrls, Registry};

/// The emulator at `var`, or `None` (skipped) when it is not running here.
fn emulator(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_string()),
        _ => {
            assert!(
                std::env::var("SLUICE_REQUIRE_EMULATORS").is_err(),
                "SLUICE_REQUIRE_EMULATORS is set but {var} is not"
            );
            eprintln!("{var} not set: this provider's contract was not run");
            None
        }
    }
}

/// A registry that reaches loopback (the emulators) and retries nothing itself.
fn registry() -> Registry {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let urls = ApiUrls {
        backblaze: "http://127.0.0.1:1".into(),
        ..ApiUrls::from_config(&sluice_core::Config::default())
    };
    Registry::guarded(None, urls).with_sdk(&sdk)
}

/// A container name no other test uses.
fn fresh_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        sluice_core::domain::ids::IdKind::Job
            .new_id()
            .to_ascii_lowercase()
            .replace('_', "-")
    )
}

/// The host and port of an emulator's URL, for an interposer before it.
fn authority(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!(
        "{}:{}",
        u.host_str().unwrap(),
        u.port_or_known_default().unwrap()
    )
}
