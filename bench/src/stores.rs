//! The providers' emulators as a benchmark drives them: fill a container, count it with
//! a bare paginated listing, read every file, and say how a connection reaches it.

use async_trait::async_trait;
use serde_json::{json, Value};

#[async_trait]
pub trait Store: Send + Sync {
    async fn put(&self, key: String, body: Vec<u8>) -> anyhow::Result<()>;
    /// The bare listing: every key under `files/`, 1 000 a page.
    async fn keys(&self) -> anyhow::Result<Vec<String>>;
    async fn count(&self) -> anyhow::Result<usize> {
        Ok(self.keys().await?.len())
    }
    async fn get(&self, key: String) -> anyhow::Result<()>;
    /// The connection's `provider_config`.
    fn connection(&self) -> Value;
    /// A sync's `source_path` for `prefix`.
    fn source_path(&self, prefix: &str) -> String;
}

/// The store of `provider`, on the emulator its variable names.
pub async fn open(provider: &str) -> anyhow::Result<Box<dyn Store>> {
    let var = |name: &str| {
        std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is not set ({provider}'s emulator)"))
    };
    Ok(match provider {
        "s3" => Box::new(S3::open(&var("AWS_ENDPOINT_URL")?).await?),
        "gcs" => Box::new(Gcs::open(var("SLUICE_TEST_GCS_URL")?).await?),
        "azure_blob" => Box::new(Azure::open(var("SLUICE_TEST_AZURE_URL")?).await?),
        "box" => Box::new(BoxApp::open(var("SLUICE_TEST_BOX_URL")?).await?),
        other => anyhow::bail!("no store for {other}"),
    })
}

pub struct S3 {
    client: aws_sdk_s3::Client,
    bucket: &'static str,
}

impl S3 {
    async fn open(endpoint: &str) -> anyhow::Result<Self> {
        // The sync reads S3 through the SDK's standard variable, as the e2e tests do.
        std::env::set_var("AWS_ENDPOINT_URL_S3", endpoint);
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let client = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build(),
        );
        let bucket = "p5-source";
        client.create_bucket().bucket(bucket).send().await?;
        Ok(S3 { client, bucket })
    }
}

#[async_trait]
impl Store for S3 {
    async fn put(&self, key: String, body: Vec<u8>) -> anyhow::Result<()> {
        self.client.put_object().bucket(self.bucket).key(key).body(body.into()).send().await?;
        Ok(())
    }
    async fn keys(&self) -> anyhow::Result<Vec<String>> {
        let pages: Vec<_> = self
            .client
            .list_objects_v2()
            .bucket(self.bucket)
            .prefix("files/")
            .max_keys(1000)
            .into_paginator()
            .send()
            .try_collect()
            .await?;
        Ok(pages
            .iter()
            .flat_map(|p| p.contents().iter().filter_map(|o| o.key().map(str::to_string)))
            .collect())
    }
    async fn get(&self, key: String) -> anyhow::Result<()> {
        let out = self.client.get_object().bucket(self.bucket).key(key).send().await?;
        out.body.collect().await?;
        Ok(())
    }
    fn connection(&self) -> Value {
        json!({"credentials": {"type": "access_key", "access_key_id": "test", "secret_access_key": "test"}})
    }
    fn source_path(&self, prefix: &str) -> String {
        format!("{}/{prefix}", self.bucket)
    }
}

pub struct Gcs {
    http: reqwest::Client,
    url: String,
    bucket: &'static str,
    token_uri: String,
}

impl Gcs {
    async fn open(url: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let bucket = "p5-source";
        http.post(format!("{url}/storage/v1/b?project=bench"))
            .json(&json!({"name": bucket}))
            .send()
            .await?;
        Ok(Gcs { http, url, bucket, token_uri: token_server().await? })
    }
}

/// A token address that grants any assertion (fake-gcs-server checks no token).
async fn token_server() -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let uri = format!("http://{}/token", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = conn.read(&mut buf).await;
                let body = r#"{"access_token":"bench","expires_in":3599}"#;
                let reply = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    Ok(uri)
}

#[async_trait]
impl Store for Gcs {
    async fn put(&self, key: String, body: Vec<u8>) -> anyhow::Result<()> {
        let mut url = reqwest::Url::parse(&format!("{}/upload/storage/v1/b/{}/o", self.url, self.bucket))?;
        url.query_pairs_mut().append_pair("uploadType", "media").append_pair("name", &key);
        self.http.post(url).body(body).send().await?.error_for_status()?;
        Ok(())
    }
    async fn keys(&self) -> anyhow::Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = reqwest::Url::parse(&format!("{}/storage/v1/b/{}/o", self.url, self.bucket))?;
            url.query_pairs_mut().append_pair("prefix", "files/").append_pair("maxResults", "1000");
            if let Some(t) = &token {
                url.query_pairs_mut().append_pair("pageToken", t);
            }
            let page: Value = self.http.get(url).send().await?.error_for_status()?.json().await?;
            for item in page["items"].as_array().into_iter().flatten() {
                keys.push(item["name"].as_str().unwrap_or_default().to_string());
            }
            match page["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(keys),
            }
        }
    }
    async fn get(&self, key: String) -> anyhow::Result<()> {
        let mut url = reqwest::Url::parse(&self.url)?;
        url.path_segments_mut()
            .map_err(|_| anyhow::anyhow!("a base URL"))?
            .extend(["storage", "v1", "b", self.bucket, "o", &key]);
        url.query_pairs_mut().append_pair("alt", "media");
        self.http.get(url).send().await?.error_for_status()?.bytes().await?;
        Ok(())
    }
    fn connection(&self) -> Value {
        json!({"bucket": self.bucket, "endpoint_url": self.url, "credentials": {
            "type": "service_account", "service_account_json": {
                "client_email": "bench@sluice.iam.gserviceaccount.com",
                "private_key": include_str!("../../shared/connectors/tests/fixtures/gcs-test-key.pem"),
                "token_uri": self.token_uri}}})
    }
    fn source_path(&self, prefix: &str) -> String {
        format!("/{prefix}")
    }
}

/// Azurite's well-known development account.
const AZURE_ACCOUNT: &str = "devstoreaccount1";
const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub struct Azure {
    http: reqwest::Client,
    endpoint: String,
    container: &'static str,
}

impl Azure {
    async fn open(endpoint: String) -> anyhow::Result<Self> {
        let a = Azure { http: reqwest::Client::new(), endpoint, container: "p5-source" };
        let url = format!("{}/{}?restype=container", a.endpoint, a.container);
        let r = a.send("PUT", &url, &[("content-length", "0".into())], Vec::new()).await?;
        anyhow::ensure!(r.status().is_success() || r.status() == 409, "{}", r.status());
        Ok(a)
    }

    async fn send(
        &self,
        verb: &str,
        url: &str,
        extra: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<reqwest::Response> {
        use base64::Engine;
        let url = reqwest::Url::parse(url)?;
        let mut headers = vec![
            ("x-ms-date", httpdate::fmt_http_date(std::time::SystemTime::now())),
            ("x-ms-version", "2021-08-06".to_string()),
        ];
        headers.extend(extra.iter().cloned());
        let key = base64::engine::general_purpose::STANDARD.decode(AZURE_KEY)?;
        let auth = sluice_connectors::azure_shared_key(AZURE_ACCOUNT, &key, verb, &url, &headers);
        let mut request = self.http.request(verb.parse()?, url).header("authorization", auth).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        Ok(request.send().await?)
    }

    fn blob_url(&self, key: &str) -> String {
        format!("{}/{}/{key}", self.endpoint, self.container)
    }
}

#[async_trait]
impl Store for Azure {
    async fn put(&self, key: String, body: Vec<u8>) -> anyhow::Result<()> {
        let headers = [("x-ms-blob-type", "BlockBlob".to_string()), ("content-length", body.len().to_string())];
        self.send("PUT", &self.blob_url(&key), &headers, body).await?.error_for_status()?;
        Ok(())
    }
    async fn keys(&self) -> anyhow::Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut url = reqwest::Url::parse(&format!("{}/{}", self.endpoint, self.container))?;
            url.query_pairs_mut()
                .append_pair("restype", "container")
                .append_pair("comp", "list")
                .append_pair("prefix", "files/")
                .append_pair("maxresults", "1000");
            if let Some(m) = &marker {
                url.query_pairs_mut().append_pair("marker", m);
            }
            let xml = self.send("GET", url.as_str(), &[], Vec::new()).await?.error_for_status()?.text().await?;
            let doc = roxmltree::Document::parse(&xml)?;
            keys.extend(
                doc.descendants()
                    .filter(|n| n.has_tag_name("Name"))
                    .filter_map(|n| n.text().map(str::to_string)),
            );
            match doc.descendants().find(|n| n.has_tag_name("NextMarker")).and_then(|n| n.text()) {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => return Ok(keys),
            }
        }
    }
    async fn get(&self, key: String) -> anyhow::Result<()> {
        self.send("GET", &self.blob_url(&key), &[], Vec::new()).await?.error_for_status()?.bytes().await?;
        Ok(())
    }
    fn connection(&self) -> Value {
        json!({"container": self.container, "endpoint_url": self.endpoint, "credentials": {
            "type": "account_key", "account_name": AZURE_ACCOUNT, "account_key": AZURE_KEY}})
    }
    fn source_path(&self, prefix: &str) -> String {
        format!("/{prefix}")
    }
}

/// The folder of the Box tree a file goes in: 100 folders under `files/`, so a walk
/// lists 101 folders breadth first.
const BOX_FOLDERS: usize = 100;

/// An app on the Box fake (`tests/fakes/box.py`) with a client-credentials grant.
pub struct BoxApp {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl BoxApp {
    async fn open(url: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(3)).build()?;
        let app = json!({"client_id": "bench", "client_secret": "bench-secret", "enterprise_id": "4242"});
        http.post(format!("{url}/_fake/apps")).json(&app).send().await?.error_for_status()?;
        let form = [("grant_type", "client_credentials"), ("client_id", "bench"), ("client_secret", "bench-secret"),
            ("box_subject_type", "enterprise"), ("box_subject_id", "4242")];
        let body = url_form(&form);
        let granted: Value = http.post(format!("{url}/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded").body(body)
            .send().await?.error_for_status()?.json().await?;
        let token = granted["access_token"].as_str().unwrap_or_default().to_string();
        Ok(BoxApp { http, url, token })
    }

    /// A page of a folder's items (marker pages of 1 000, the fields a sync asks for).
    async fn items(&self, folder: &str, marker: Option<&str>) -> anyhow::Result<Value> {
        let mut url = reqwest::Url::parse(&format!("{}/2.0/folders/{folder}/items", self.url))?;
        url.query_pairs_mut().append_pair("fields", "type,id,name,size,sha1,file_version,modified_at")
            .append_pair("usemarker", "true").append_pair("limit", "1000");
        if let Some(m) = marker {
            url.query_pairs_mut().append_pair("marker", m);
        }
        Ok(self.http.get(url).bearer_auth(&self.token).send().await?.error_for_status()?.json().await?)
    }
}

fn url_form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

#[async_trait]
impl Store for BoxApp {
    async fn put(&self, key: String, body: Vec<u8>) -> anyhow::Result<()> {
        use base64::Engine;
        // files/000123.txt goes in files/d23/.
        let n: usize = key.trim_start_matches("files/").trim_end_matches(".txt").parse().unwrap_or(0);
        let path = format!("files/d{:02}/{}", n % BOX_FOLDERS, key.trim_start_matches("files/"));
        let spec = json!({"client_id": "bench", "path": path,
            "bytes_b64": base64::engine::general_purpose::STANDARD.encode(body)});
        self.http.post(format!("{}/_fake/files", self.url)).json(&spec).send().await?.error_for_status()?;
        Ok(())
    }
    /// The bare walk: breadth first from the root, every folder's marker pages; the
    /// files' ids.
    async fn keys(&self) -> anyhow::Result<Vec<String>> {
        let (mut ids, mut folders) = (Vec::new(), std::collections::VecDeque::from(["0".to_string()]));
        while let Some(folder) = folders.pop_front() {
            let mut marker: Option<String> = None;
            loop {
                let page = self.items(&folder, marker.as_deref()).await?;
                for item in page["entries"].as_array().into_iter().flatten() {
                    let id = item["id"].as_str().unwrap_or_default().to_string();
                    match item["type"].as_str() {
                        Some("folder") => folders.push_back(id),
                        Some("file") => ids.push(id),
                        _ => {}
                    }
                }
                match page["next_marker"].as_str() {
                    Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                    _ => break,
                }
            }
        }
        Ok(ids)
    }
    async fn get(&self, id: String) -> anyhow::Result<()> {
        let url = format!("{}/2.0/files/{id}/content", self.url);
        self.http.get(url).bearer_auth(&self.token).send().await?.error_for_status()?.bytes().await?;
        Ok(())
    }
    fn connection(&self) -> Value {
        json!({"credentials": {"type": "ccg", "client_id": "bench", "client_secret": "bench-secret", "enterprise_id": "4242"}})
    }
    fn source_path(&self, prefix: &str) -> String {
        format!("/{prefix}")
    }
}
