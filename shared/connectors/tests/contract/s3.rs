//! S3 on moto. moto checks no signature, so a refused key is an interposer's 403.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use sluice_connectors::Registry;
use sluice_core::ports::{Connectors, Source};
use sluice_core::testing::source_contract::{Interposer, SourceFixture, TOO_MANY_REQUESTS};

const ACCESS_DENIED: &str = "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: 110\r\nConnection: close\r\n\r\n<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";

pub struct Fixture {
    registry: Registry,
    client: aws_sdk_s3::Client,
    moto: String,
    bucket: String,
    interposer: Interposer,
}

impl Fixture {
    async fn open(&self, endpoint: &str) -> Arc<dyn Source> {
        let config = json!({"endpoint_url": endpoint, "credentials": {
            "type": "access_key", "access_key_id": "test", "secret_access_key": "test"}});
        let checked = self
            .registry
            .check("s3", config.as_object().unwrap())
            .unwrap();
        self.registry.open(&checked, &self.bucket).await.unwrap()
    }
}

#[async_trait]
impl SourceFixture for Fixture {
    async fn source(&self) -> Arc<dyn Source> {
        self.open(&self.moto).await
    }
    async fn put(&self, key: &str, bytes: &[u8]) {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(bytes.to_vec().into())
            .send()
            .await
            .unwrap();
    }
    async fn remove(&self, key: &str) {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap();
    }
    async fn refused(&self) -> Arc<dyn Source> {
        self.interposer.answer(usize::MAX, ACCESS_DENIED);
        self.open(&self.interposer.url).await
    }
    async fn throttled(&self, n: usize) -> Arc<dyn Source> {
        self.interposer.answer(n, TOO_MANY_REQUESTS);
        self.open(&self.interposer.url).await
    }
}

async fn fixture() -> Option<Fixture> {
    let moto = super::emulator("AWS_ENDPOINT_URL")?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto)
        .load()
        .await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let bucket = super::fresh_name("contract");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    Some(Fixture {
        registry: super::registry(),
        interposer: Interposer::start(super::authority(&moto)).await,
        client,
        moto,
        bucket,
    })
}

sluice_core::source_contract_tests!(fixture);
