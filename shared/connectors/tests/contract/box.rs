//! Box on its fake (`tests/fakes/box.py`, written from Box's documentation): bearer
//! tokens from client-credentials, JWT and refresh grants checked as Box checks them
//! (single-use refresh tokens among them), marker pages, 302 downloads, 429s on demand.
//! One app (its own tree) per fixture. Box names cannot be empty, so a written key's
//! empty segments (`a//b`) are dropped; a key ending in `/` is a folder, never a file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use serde_json::{json, Value};
use sluice_connectors::{ApiUrls, Registry};
use sluice_core::domain::connections::{Credentials, ProviderConfig};
use sluice_core::ports::{Connectors, CredentialKeeper, Renew, Source, SourceError, SourceResult};
use sluice_core::testing::source_contract::{list_all, read_all, SourceFixture};

const JWT_KEY: &str = include_str!("../fixtures/box-jwt-key.enc.pem");
const JWT_PUBLIC_KEY: &str = include_str!("../fixtures/box-jwt-key.pub.pem");
const PASSPHRASE: &str = "sluice-test-passphrase";
const ENTERPRISE: &str = "4242";

pub struct Fixture {
    registry: Registry,
    http: reqwest::Client,
    fake: String,
    app: String,
    ids: Mutex<HashMap<String, String>>,
}

/// A Box path for a written key.
fn box_path(key: &str) -> String {
    key.split('/')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

impl Fixture {
    fn config(&self, credentials: Value) -> ProviderConfig {
        let body = json!({"provider_type": "box", "credentials": credentials});
        self.registry
            .check("box", body.as_object().unwrap())
            .unwrap()
    }

    fn ccg(&self, secret: &str) -> ProviderConfig {
        self.config(json!({"type": "ccg", "client_id": self.app,
            "client_secret": secret, "enterprise_id": ENTERPRISE}))
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/_fake/{path}", self.fake))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{} {path}", r.status());
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    }

    async fn stats(&self) -> Value {
        let url = format!("{}/_fake/stats?client_id={}", self.fake, self.app);
        let r = self.http.get(url).send().await.unwrap();
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    }
}

#[async_trait]
impl SourceFixture for Fixture {
    async fn source(&self) -> Arc<dyn Source> {
        self.registry
            .open(&self.ccg("right-secret"), "0")
            .await
            .unwrap()
    }
    async fn put(&self, key: &str, bytes: &[u8]) {
        let path = box_path(key);
        if key.ends_with('/') {
            self.control("folders", json!({"client_id": self.app, "path": path}))
                .await;
            return;
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        let made = self
            .control(
                "files",
                json!({"client_id": self.app, "path": path, "bytes_b64": b64}),
            )
            .await;
        let id = made["id"].as_str().unwrap().to_string();
        self.ids.lock().unwrap().insert(key.to_string(), id);
    }
    async fn remove(&self, key: &str) {
        let mut url = url::Url::parse(&format!("{}/_fake/files", self.fake)).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", &self.app)
            .append_pair("path", &box_path(key));
        self.http.delete(url).send().await.unwrap();
    }
    async fn refused(&self) -> Arc<dyn Source> {
        self.registry
            .open(&self.ccg("wrong-secret"), "0")
            .await
            .unwrap()
    }
    async fn throttled(&self, n: usize) -> Arc<dyn Source> {
        self.control("throttle", json!({"client_id": self.app, "n": n}))
            .await;
        self.source().await
    }
    fn listed_key(&self, written: &str) -> String {
        let ids = self.ids.lock().unwrap();
        ids.get(written)
            .cloned()
            .unwrap_or_else(|| written.to_string())
    }
    fn folders_are_files(&self) -> bool {
        false
    }
}

async fn fixture() -> Option<Fixture> {
    let fake = super::emulator("SLUICE_TEST_BOX_URL")?;
    let urls = ApiUrls {
        box_api: fake.clone(),
        ..ApiUrls::from_config(&sluice_core::Config::default())
    };
    let f = Fixture {
        registry: Registry::guarded(None, urls),
        http: reqwest::Client::new(),
        app: super::fresh_name("app"),
        fake,
        ids: Mutex::default(),
    };
    let app = json!({"client_id": f.app, "client_secret": "right-secret",
        "enterprise_id": ENTERPRISE, "keys": {"key-1": JWT_PUBLIC_KEY}});
    f.control("apps", app).await;
    Some(f)
}

sluice_core::source_contract_tests!(fixture);

/// A connection's credentials kept in memory, renewed one at a time.
#[derive(Default)]
struct KeptHere {
    stored: tokio::sync::Mutex<Option<Credentials>>,
}

#[async_trait]
impl CredentialKeeper for KeptHere {
    async fn renewed(&self, stale: &Credentials, renew: Renew<'_>) -> SourceResult<Credentials> {
        let mut stored = self.stored.lock().await;
        match stored.as_ref() {
            Some(now) if now != stale => Ok(now.clone()),
            _ => {
                let renewed = renew(stale.clone()).await?;
                *stored = Some(renewed.clone());
                Ok(renewed)
            }
        }
    }
}

#[tokio::test]
async fn a_jwt_app_with_an_encrypted_key_lists_and_reads() {
    let Some(f) = fixture().await else { return };
    f.put("reports/q1.txt", b"first quarter").await;
    let config = f.config(
        json!({"type": "jwt", "client_id": f.app, "client_secret": "right-secret",
        "enterprise_id": ENTERPRISE, "jwt_key_id": "key-1", "private_key": JWT_KEY,
        "private_key_passphrase": PASSPHRASE}),
    );
    let source = f.registry.open(&config, "0").await.unwrap();
    let (listed, _) = list_all(source.as_ref(), "", 100).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].path(), "reports/q1.txt");
    let got = read_all(source.as_ref(), &listed[0].key, &listed[0].etag, 1024)
        .await
        .unwrap();
    assert_eq!(got.as_ref(), b"first quarter");
    // A second token for the same app: a fresh assertion (a new jti) is taken.
    f.control("expire", json!({"client_id": f.app})).await;
    assert!(list_all(source.as_ref(), "", 100).await.is_ok());

    let wrong = json!({"type": "jwt", "client_id": f.app, "client_secret": "right-secret",
        "enterprise_id": ENTERPRISE, "jwt_key_id": "key-1", "private_key": JWT_KEY,
        "private_key_passphrase": "not it"});
    let body = json!({"credentials": wrong});
    let refused = f
        .registry
        .check("box", body.as_object().unwrap())
        .unwrap_err();
    assert_eq!(refused.field, "provider_config.credentials.private_key");
}

#[tokio::test]
async fn an_expired_oauth_token_is_renewed_once_for_concurrent_readers() {
    let Some(f) = fixture().await else { return };
    f.put("a.txt", b"a").await;
    let pair = f.control("oauth", json!({"client_id": f.app})).await;
    let config = f.config(
        json!({"type": "oauth", "client_id": f.app, "client_secret": "right-secret",
        "access_token": pair["access_token"], "refresh_token": pair["refresh_token"]}),
    );
    let keeper = Arc::new(KeptHere::default());
    let one = f
        .registry
        .open_kept(&config, "0", keeper.clone())
        .await
        .unwrap();
    let two = f
        .registry
        .open_kept(&config, "0", keeper.clone())
        .await
        .unwrap();
    f.control("expire", json!({"client_id": f.app})).await;
    let (a, b) = tokio::join!(
        list_all(one.as_ref(), "", 10),
        list_all(two.as_ref(), "", 10)
    );
    assert_eq!(a.unwrap().0.len(), 1);
    assert_eq!(b.unwrap().0.len(), 1);
    let stats = f.stats().await;
    assert_eq!(stats["refreshes"], 1, "{stats}");
    assert_eq!(stats["refused_refreshes"], 0, "{stats}");
    let kept = keeper.stored.lock().await.clone().unwrap();
    assert_ne!(kept.text("refresh_token"), pair["refresh_token"].as_str());
}

#[tokio::test]
async fn an_oauth_token_with_nothing_to_keep_it_is_not_renewed() {
    let Some(f) = fixture().await else { return };
    let pair = f.control("oauth", json!({"client_id": f.app})).await;
    let config = f.config(
        json!({"type": "oauth", "client_id": f.app, "client_secret": "right-secret",
        "access_token": pair["access_token"], "refresh_token": pair["refresh_token"]}),
    );
    let source = f.registry.open(&config, "0").await.unwrap();
    f.control("expire", json!({"client_id": f.app})).await;
    match source.list("", None, 10).await {
        Err(SourceError::Denied(_)) => {}
        other => panic!("want a denial, got {other:?}"),
    }
    assert_eq!(
        f.stats().await["refreshes"],
        0,
        "the refresh token was not spent"
    );
}

#[tokio::test]
async fn a_rename_keeps_the_key_and_changes_the_version() {
    let Some(f) = fixture().await else { return };
    f.put("drafts/plan.txt", b"the plan").await;
    let source = f.source().await;
    let (before, _) = list_all(source.as_ref(), "", 10).await.unwrap();
    f.control(
        "move",
        json!({"client_id": f.app, "from": "drafts/plan.txt", "to": "final/plan-v1.txt"}),
    )
    .await;
    let (after, _) = list_all(source.as_ref(), "", 10).await.unwrap();
    assert_eq!(before[0].key, after[0].key, "the file id stays");
    assert_eq!(after[0].path(), "final/plan-v1.txt");
    assert_ne!(before[0].version_token(), after[0].version_token());
    // Its bytes are read as listed before the move: the content did not change.
    let got = read_all(source.as_ref(), &before[0].key, &before[0].etag, 100).await;
    assert_eq!(got.unwrap().as_ref(), b"the plan");
}

#[tokio::test]
async fn a_walk_fills_its_page_defers_the_rest_and_keeps_to_the_prefix() {
    let Some(f) = fixture().await else { return };
    for path in ["top.txt", "a/one.txt", "a/b/two.txt", "c/three.txt"] {
        f.put(path, path.as_bytes()).await;
    }
    let source = f.source().await;
    let small = source.list("", None, 2).await.unwrap();
    assert_eq!(small.entries.len(), 2, "{small:?}");
    assert!(small.next.is_some(), "{small:?}");
    // A page with room walks on into the folders it finds.
    let whole = source.list("", None, 100).await.unwrap();
    assert_eq!(whole.entries.len(), 4, "{whole:?}");
    assert!(
        whole.next.is_none() && whole.deferred.is_empty(),
        "{whole:?}"
    );
    let (under_a, _) = list_all(source.as_ref(), "a/", 100).await.unwrap();
    let mut paths: Vec<&str> = under_a.iter().map(|e| e.path()).collect();
    paths.sort();
    assert_eq!(paths, ["a/b/two.txt", "a/one.txt"]);
}

#[tokio::test]
async fn a_wide_tree_goes_on_in_the_token_and_the_frontier() {
    let Some(f) = fixture().await else { return };
    for i in 0..150 {
        f.put(&format!("wide/f{i:03}/x.txt"), b"x").await;
    }
    let source = f.source().await;
    // 50 calls a page: the root, wide/ and 48 of its folders; the other 102 folders do
    // not fit one token.
    let first = source.list("", None, 1000).await.unwrap();
    assert_eq!(first.entries.len(), 48);
    assert!(
        first.next.is_some() && !first.deferred.is_empty(),
        "{first:?}"
    );
    assert!(first.deferred.iter().all(|t| t.len() <= 4096));
    let (all, _) = list_all(source.as_ref(), "", 1000).await.unwrap();
    let ids: std::collections::HashSet<&str> = all.iter().map(|e| e.key.as_str()).collect();
    assert_eq!((all.len(), ids.len()), (150, 150), "each file once");
}
