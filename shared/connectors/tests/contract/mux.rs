//! Mux on its fake (`tests/fakes/mux.py`, written from Mux's documentation): Basic auth
//! checked, an environment per access token, newest-first cursor pages, asset states and
//! static renditions, 429s on demand. A Mux asset never changes its video: what a new
//! version here stands for is a change of the asset's fields (its passthrough).

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use serde_json::json;
use sluice_connectors::{ApiUrls, Registry};
use sluice_core::ports::{Connectors, Source};
use sluice_core::testing::source_contract::SourceFixture;

pub struct Fixture {
    registry: Registry,
    http: reqwest::Client,
    fake: String,
    token: String,
}

impl Fixture {
    async fn open(&self, secret: &str) -> Arc<dyn Source> {
        let body = json!({"credentials": {"type": "access_token",
            "access_token_id": self.token, "access_token_secret": secret}});
        let checked = self
            .registry
            .check("mux", body.as_object().unwrap())
            .unwrap();
        self.registry.open(&checked, "").await.unwrap()
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: serde_json::Value) {
        let r = self
            .http
            .request(method, format!("{}/_fake/{path}", self.fake))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{} {path}", r.status());
    }
}

#[async_trait]
impl SourceFixture for Fixture {
    async fn source(&self) -> Arc<dyn Source> {
        self.open("right-secret").await
    }
    async fn put(&self, key: &str, bytes: &[u8]) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        let digest = format!("{:x}", bytes.len()) + &b64.chars().take(16).collect::<String>();
        let asset =
            json!({"token_id": self.token, "id": key, "bytes_b64": b64, "passthrough": digest});
        self.control(reqwest::Method::POST, "assets", asset).await;
    }
    async fn remove(&self, key: &str) {
        let mut url = url::Url::parse(&format!("{}/_fake/assets", self.fake)).unwrap();
        url.path_segments_mut().unwrap().push(&self.token).push(key);
        self.http.delete(url).send().await.unwrap();
    }
    async fn refused(&self) -> Arc<dyn Source> {
        self.open("wrong-secret").await
    }
    async fn throttled(&self, n: usize) -> Arc<dyn Source> {
        let throttle = json!({"token_id": self.token, "n": n});
        self.control(reqwest::Method::POST, "throttle", throttle)
            .await;
        self.source().await
    }
    fn listed_key(&self, written: &str) -> String {
        format!("{written}.mp4")
    }
}

async fn fixture() -> Option<Fixture> {
    let fake = super::emulator("SLUICE_TEST_MUX_URL")?;
    let urls = ApiUrls {
        mux_api: fake.clone(),
        mux_stream: fake.clone(),
        ..ApiUrls::from_config(&sluice_core::Config::default())
    };
    let f = Fixture {
        registry: Registry::guarded(None, urls),
        http: reqwest::Client::new(),
        token: super::fresh_name("token"),
        fake,
    };
    let token = json!({"id": f.token, "secret": "right-secret"});
    f.control(reqwest::Method::POST, "tokens", token).await;
    Some(f)
}

sluice_core::source_contract_tests!(fixture);
