//! Azure Blob on Azurite, which checks Shared Key signatures as Azure does (a wrong key
//! is a 403 `AuthorizationFailure`), ETags and `If-Match`.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use sluice_connectors::Registry;
use sluice_core::ports::{Connectors, Source};
use sluice_core::testing::source_contract::{Interposer, SourceFixture, TOO_MANY_REQUESTS};

/// Azurite's well-known development account.
pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// A key of the right shape the account does not have.
const WRONG_KEY: &str = "d3Jvbmcga2V5IGZvciB0aGlzIGFjY291bnQsIHJlZnVzZWQgYnkgYXp1cml0ZQ==";

pub struct Fixture {
    registry: Registry,
    http: reqwest::Client,
    /// The account's blob endpoint (`http://127.0.0.1:10000/devstoreaccount1`).
    endpoint: String,
    container: String,
    interposer: Interposer,
}

/// The SDK's `AzureBlobConfig` body for `container` at `endpoint`.
pub fn config(container: &str, endpoint: &str, key: &str) -> Value {
    json!({"container": container, "endpoint_url": endpoint, "credentials": {
        "type": "account_key", "account_name": ACCOUNT, "account_key": key}})
}

impl Fixture {
    async fn open(&self, endpoint: &str, key: &str) -> Arc<dyn Source> {
        let body = config(&self.container, endpoint, key);
        let checked = self
            .registry
            .check("azure_blob", body.as_object().unwrap())
            .unwrap();
        self.registry.open(&checked, &self.container).await.unwrap()
    }
}

#[async_trait]
impl SourceFixture for Fixture {
    async fn source(&self) -> Arc<dyn Source> {
        self.open(&self.endpoint, KEY).await
    }
    async fn put(&self, key: &str, bytes: &[u8]) {
        blob(
            &self.http,
            &self.endpoint,
            &self.container,
            key,
            Some(bytes),
        )
        .await;
    }
    async fn remove(&self, key: &str) {
        blob(&self.http, &self.endpoint, &self.container, key, None).await;
    }
    async fn refused(&self) -> Arc<dyn Source> {
        self.open(&self.endpoint, WRONG_KEY).await
    }
    async fn throttled(&self, n: usize) -> Arc<dyn Source> {
        self.interposer.answer(n, TOO_MANY_REQUESTS);
        let path = url::Url::parse(&self.endpoint).unwrap().path().to_string();
        self.open(&format!("{}{path}", self.interposer.url), KEY)
            .await
    }
}

/// Writes (`Some`) or deletes (`None`) a blob, signed with the account's Shared Key.
pub async fn blob(
    http: &reqwest::Client,
    endpoint: &str,
    container: &str,
    name: &str,
    body: Option<&[u8]>,
) {
    let mut url = url::Url::parse(endpoint).unwrap();
    url.path_segments_mut()
        .unwrap()
        .push(container)
        .extend(name.split('/'));
    let verb = if body.is_some() { "PUT" } else { "DELETE" };
    let mut headers = vec![
        (
            "x-ms-date",
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        ),
        ("x-ms-version", "2021-08-06".to_string()),
    ];
    if let Some(b) = body {
        headers.push(("x-ms-blob-type", "BlockBlob".into()));
        headers.push(("content-length", b.len().to_string()));
    }
    send(http, verb, url, headers, body.map(<[u8]>::to_vec)).await;
}

/// Creates a container.
pub async fn create_container(http: &reqwest::Client, endpoint: &str, container: &str) {
    let url = url::Url::parse(&format!("{endpoint}/{container}?restype=container")).unwrap();
    let headers = vec![
        (
            "x-ms-date",
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        ),
        ("x-ms-version", "2021-08-06".to_string()),
        ("content-length", "0".to_string()),
    ];
    send(http, "PUT", url, headers, Some(Vec::new())).await;
}

async fn send(
    http: &reqwest::Client,
    verb: &str,
    url: url::Url,
    headers: Vec<(&str, String)>,
    body: Option<Vec<u8>>,
) {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD
        .decode(KEY)
        .unwrap();
    let authorization = sluice_connectors::azure_shared_key(ACCOUNT, &key, verb, &url, &headers);
    let mut request = http.request(verb.parse().unwrap(), url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request = request.header("authorization", authorization);
    if let Some(b) = body {
        request = request.body(b);
    }
    let r = request.send().await.unwrap();
    assert!(
        r.status().is_success(),
        "{} {}",
        r.status(),
        r.text().await.unwrap_or_default()
    );
}

async fn fixture() -> Option<Fixture> {
    let endpoint = super::emulator("SLUICE_TEST_AZURE_URL")?;
    let http = reqwest::Client::new();
    let container = super::fresh_name("contract");
    create_container(&http, &endpoint, &container).await;
    Some(Fixture {
        registry: super::registry(),
        interposer: Interposer::start(super::authority(&endpoint)).await,
        http,
        endpoint,
        container,
    })
}

sluice_core::source_contract_tests!(fixture);
