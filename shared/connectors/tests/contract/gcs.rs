//! GCS on fake-gcs-server, with a token address that checks what Google's does: the
//! JWT's RS256 signature against the service account's public key, its audience, its
//! scope and its lifetime. fake-gcs-server checks no bearer token and no precondition
//! (the source also compares the generation it is sent).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use sluice_connectors::Registry;
use sluice_core::ports::{Connectors, Source};
use sluice_core::testing::source_contract::{Interposer, SourceFixture, TOO_MANY_REQUESTS};

pub const KEY: &str = include_str!("../fixtures/gcs-test-key.pem");
const PUBLIC_KEY: &str = include_str!("../fixtures/gcs-test-key.pub.pem");
/// A key Google has never heard of.
const OTHER_KEY: &str = include_str!("../fixtures/gcs-other-key.pem");
const EMAIL: &str = "sync@sluice-test.iam.gserviceaccount.com";

pub struct Fixture {
    registry: Registry,
    http: reqwest::Client,
    fake: String,
    token_uri: String,
    bucket: String,
    interposer: Interposer,
}

/// A token address on loopback that grants tokens for `EMAIL`'s key only.
pub async fn token_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/token", listener.local_addr().unwrap());
    let audience = uri.clone();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move |body: String| {
            let audience = audience.clone();
            async move { grant(&audience, &body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    uri
}

fn grant(audience: &str, body: &str) -> (axum::http::StatusCode, axum::Json<Value>) {
    use axum::http::StatusCode;
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type"})),
        );
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[EMAIL]);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
    match jsonwebtoken::decode::<Value>(
        form.get("assertion").map_or("", String::as_str),
        &key,
        &validation,
    ) {
        Ok(t)
            if t.claims["scope"]
                .as_str()
                .is_some_and(|s| s.contains("devstorage")) =>
        {
            (
                StatusCode::OK,
                axum::Json(
                    json!({"access_token": "ya29.test", "expires_in": 3599, "token_type": "Bearer"}),
                ),
            )
        }
        _ => (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
            ),
        ),
    }
}

/// The SDK's `GCSConfig` body for `bucket` at `endpoint`, signed with `key`.
pub fn config(bucket: &str, endpoint: &str, token_uri: &str, key: &str) -> Value {
    json!({"bucket": bucket, "endpoint_url": endpoint, "credentials": {
        "type": "service_account", "service_account_json": {
            "type": "service_account", "project_id": "sluice-test", "private_key_id": "k1",
            "private_key": key, "client_email": EMAIL, "token_uri": token_uri}}})
}

impl Fixture {
    async fn open(&self, endpoint: &str, key: &str) -> Arc<dyn Source> {
        let body = config(&self.bucket, endpoint, &self.token_uri, key);
        let checked = self
            .registry
            .check("gcs", body.as_object().unwrap())
            .unwrap();
        self.registry.open(&checked, &self.bucket).await.unwrap()
    }

    fn object_url(&self, key: &str) -> url::Url {
        let mut url = url::Url::parse(&self.fake).unwrap();
        url.path_segments_mut()
            .unwrap()
            .extend(["storage", "v1", "b", &self.bucket, "o", key]);
        url
    }
}

#[async_trait]
impl SourceFixture for Fixture {
    async fn source(&self) -> Arc<dyn Source> {
        self.open(&self.fake, KEY).await
    }
    async fn put(&self, key: &str, bytes: &[u8]) {
        put(&self.http, &self.fake, &self.bucket, key, bytes).await;
    }
    async fn remove(&self, key: &str) {
        let r = self.http.delete(self.object_url(key)).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    async fn refused(&self) -> Arc<dyn Source> {
        self.open(&self.fake, OTHER_KEY).await
    }
    async fn throttled(&self, n: usize) -> Arc<dyn Source> {
        self.interposer.answer(n, TOO_MANY_REQUESTS);
        self.open(&self.interposer.url, KEY).await
    }
}

/// Creates `bucket` on fake-gcs-server.
pub async fn create_bucket(http: &reqwest::Client, fake: &str, bucket: &str) {
    let r = http
        .post(format!("{fake}/storage/v1/b?project=sluice-test"))
        .body(json!({"name": bucket}).to_string())
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

/// Uploads (or overwrites) an object on fake-gcs-server.
pub async fn put(http: &reqwest::Client, fake: &str, bucket: &str, key: &str, bytes: &[u8]) {
    let mut url = url::Url::parse(&format!("{fake}/upload/storage/v1/b/{bucket}/o")).unwrap();
    url.query_pairs_mut()
        .append_pair("uploadType", "media")
        .append_pair("name", key);
    let r = http
        .post(url)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

async fn fixture() -> Option<Fixture> {
    let fake = super::emulator("SLUICE_TEST_GCS_URL")?;
    let http = reqwest::Client::new();
    let bucket = super::fresh_name("contract");
    create_bucket(&http, &fake, &bucket).await;
    Some(Fixture {
        registry: super::registry(),
        interposer: Interposer::start(super::authority(&fake)).await,
        token_uri: token_server().await,
        http,
        fake,
        bucket,
    })
}

sluice_core::source_contract_tests!(fixture);
