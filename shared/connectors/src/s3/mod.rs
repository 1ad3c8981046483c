//! The S3 API: AWS S3 and every S3-compatible store in `config::PRESETS`, one bucket per
//! source, with the store's addressing, region and checksum rules.

mod auth;
pub mod config;
mod errors;
mod list;
mod read;

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use futures::future::BoxFuture;
use sluice_core::domain::connections::{ProviderConfig, ProviderRules};
use sluice_core::net::NetGuard;
use sluice_core::ports::{
    CredentialKeeper, Source, SourceBody, SourceError, SourcePage, SourceResult,
};

pub use auth::{Signing, Target};
use errors::classify;

use crate::errors::excerpt;
use crate::{Provider, Registry};

pub const PROVIDER: Provider = Provider {
    names: &["s3", "r2", "wasabi", "tigris", "backblaze", "supabase"],
    rules: ProviderRules::S3,
    check: config::check,
    open,
    inbound: None,
};

/// The process's SDK settings, loaded when a connection first needs them (a server that
/// syncs nothing never probes for AWS credentials or a region), and the SDK client that
/// reaches tenant endpoints through the guard.
pub struct Clients {
    base: tokio::sync::OnceCell<aws_config::SdkConfig>,
    pub(crate) guard: Option<NetGuard>,
    guarded: Option<SharedHttpClient>,
}

impl Clients {
    pub fn new(guard: Option<NetGuard>) -> Self {
        Clients {
            base: tokio::sync::OnceCell::new(),
            guarded: guard.clone().map(crate::http::guarded_sdk_client),
            guard,
        }
    }

    pub fn from_sdk(base: &aws_config::SdkConfig, guard: Option<NetGuard>) -> Self {
        Clients {
            base: tokio::sync::OnceCell::new_with(Some(base.clone())),
            ..Self::new(guard)
        }
    }

    /// The tenant endpoint, checked and normalised, with the client that may reach it.
    fn vetted(&self, target: &mut Target) -> SourceResult<Option<SharedHttpClient>> {
        let (Some(endpoint), Some(guard)) = (&target.endpoint, &self.guard) else {
            return Ok(None);
        };
        let url = url::Url::parse(endpoint)
            .map_err(|e| SourceError::Invalid(format!("the endpoint is not a URL: {e}")))?;
        guard
            .check_url(&url)
            .map_err(|why| SourceError::Invalid(format!("the endpoint is refused: {why}")))?;
        target.endpoint = Some(url.as_str().trim_end_matches('/').to_string());
        Ok(self.guarded.clone())
    }
}

/// Opens `bucket` through an S3-family connection. Every source signs with its
/// connection's own credentials; the process's sign only the STS AssumeRole of an
/// `iam_role` connection (the role trusts this server's principal and the ExternalId).
fn open<'a>(
    registry: &'a Registry,
    config: &'a ProviderConfig,
    bucket: &'a str,
    _: Arc<dyn CredentialKeeper>,
) -> BoxFuture<'a, SourceResult<Arc<dyn Source>>> {
    Box::pin(async move {
        let http = registry.http.operator();
        let mut target = auth::target(config, bucket, http, &registry.urls.backblaze).await?;
        let client = registry.s3.vetted(&mut target)?;
        let base = registry
            .s3
            .base
            .get_or_init(|| aws_config::defaults(aws_config::BehaviorVersion::latest()).load())
            .await;
        Ok(Arc::new(S3Source::open(base, &target, client).await?) as Arc<dyn Source>)
    })
}

pub struct S3Source {
    client: Client,
    bucket: String,
    /// The provider's name in error messages.
    provider: String,
}

/// The S3 client a target describes (exposed for tests that check what it sends).
/// `http`: the guarded HTTP client a tenant endpoint is reached through.
pub async fn client(
    base: &aws_config::SdkConfig,
    target: &Target,
    http: Option<SharedHttpClient>,
) -> Client {
    let mut builder =
        aws_sdk_s3::config::Builder::from(base).region(Region::new(target.region.clone()));
    if let Some(http) = http {
        builder = builder.http_client(http);
    }
    match &target.signing {
        Signing::Static {
            access_key_id,
            secret_access_key,
            session_token,
        } => {
            builder = builder.credentials_provider(Credentials::new(
                access_key_id,
                secret_access_key,
                session_token.clone(),
                None,
                "sluice-connection",
            ));
        }
        Signing::AssumeRole {
            role_arn,
            external_id,
        } => {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
                .external_id(external_id)
                .session_name("sluice-sync")
                .configure(base)
                .build()
                .await;
            builder = builder.credentials_provider(provider);
        }
    }
    let stand_in =
        base.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    if let Some(endpoint) = &target.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    // A stand-in on loopback has no DNS for virtual hosts.
    builder =
        builder.force_path_style(target.path_style || (target.endpoint.is_none() && stand_in));
    if target.checksums_when_required {
        builder = builder
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    }
    Client::from_conf(builder.build())
}

impl S3Source {
    pub async fn open(
        base: &aws_config::SdkConfig,
        target: &Target,
        http: Option<SharedHttpClient>,
    ) -> SourceResult<Self> {
        Ok(S3Source {
            client: client(base, target, http).await,
            bucket: target.bucket.clone(),
            provider: target.provider.clone(),
        })
    }

    /// `s3://bucket/key`, with a long key shortened.
    fn at(&self, key: &str) -> String {
        let key = excerpt(key).unwrap_or_default();
        format!("s3://{}/{key}", self.bucket)
    }
}

/// Continuation tokens longer than this fail the run: no provider here sends one near
/// it, and the request URI (and the run's stored item) must stay bounded.
pub const MAX_TOKEN_BYTES: usize = sluice_core::ports::MAX_CONTINUATION_BYTES;

#[async_trait]
impl Source for S3Source {
    async fn list(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> SourceResult<SourcePage> {
        self.list_page(prefix, token, limit).await
    }

    async fn read(&self, key: &str, etag: &str, max_bytes: u64) -> SourceResult<SourceBody> {
        self.read_object(key, etag, max_bytes).await
    }

    async fn check(&self, prefix: &str) -> SourceResult<()> {
        if self.bucket.is_empty() {
            self.client
                .list_buckets()
                .send()
                .await
                .map_err(|e| classify(&self.provider, "listing buckets", e))?;
            return Ok(());
        }
        self.list(prefix, None, 1).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers one request with `response` and hands back the request's head.
    async fn capture(response: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 16 * 1024];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            sock.write_all(response.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&got).to_ascii_lowercase()
        });
        (url, task)
    }

    /// Where a connection of `provider` with `config` reaches bucket `bkt`.
    async fn target(provider: &str, config: &serde_json::Map<String, serde_json::Value>) -> Target {
        let checked = config::check(provider, config).unwrap();
        auth::target(&checked, "bkt", &reqwest::Client::new(), "")
            .await
            .unwrap()
    }

    const OBJECT: &str =
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: \"abc\"\r\nConnection: close\r\n\r\nhi";

    async fn read_headers(provider: &str, settings: serde_json::Value) -> String {
        let (url, task) = capture(OBJECT).await;
        let mut config = settings.as_object().unwrap().clone();
        config.insert("credentials".into(), serde_json::json!({"type": "access_key", "access_key_id": "AK", "secret_access_key": "SK"}));
        let mut spec = target(provider, &config).await;
        spec.endpoint = Some(url); // the provider's endpoint, served here
        let base = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let source = S3Source::open(&base, &spec, None).await.unwrap();
        let body = source.read("k.txt", "abc", 1024).await.unwrap();
        assert_eq!(body.size, Some(2));
        let chunks: Vec<Bytes> = futures::TryStreamExt::try_collect(body.chunks)
            .await
            .unwrap();
        assert_eq!(chunks.concat(), b"hi");
        task.await.unwrap()
    }

    #[tokio::test]
    async fn presets_send_no_checksum_headers_aws_does() {
        // R2 and B2 refuse `x-amz-checksum-mode` (and the CRC headers) the SDK sends by default.
        for (provider, settings) in [
            ("r2", serde_json::json!({"account_id": "acct"})),
            ("wasabi", serde_json::json!({"region": "us-east-1"})),
            ("tigris", serde_json::json!({})),
            ("supabase", serde_json::json!({"project_ref": "proj"})),
        ] {
            let head = read_headers(provider, settings).await;
            assert!(
                !head.contains("x-amz-checksum-mode"),
                "{provider} sent a checksum header:\n{head}"
            );
            assert!(
                head.starts_with("get /bkt/k.txt") || head.contains("host: bkt."),
                "{provider}: {head}"
            );
            assert!(
                head.contains("if-match: \"abc\""),
                "{provider}: reads are conditional on the listed version:\n{head}"
            );
            // Signed with the connection's own key (the head is lowercased).
            assert!(
                head.contains("authorization: aws4-hmac-sha256 credential=ak/"),
                "{provider}: not signed with the connection's access key:\n{head}"
            );
        }
        let aws = read_headers("s3", serde_json::json!({"region": "us-east-1"})).await;
        assert!(
            aws.contains("x-amz-checksum-mode"),
            "AWS keeps the SDK's validation:\n{aws}"
        );
    }

    #[tokio::test]
    async fn path_style_where_the_provider_needs_it() {
        let (url, task) = capture(OBJECT).await;
        let config = serde_json::json!({"account_id": "acct", "credentials": {"type": "access_key", "access_key_id": "AK", "secret_access_key": "SK"}});
        let mut spec = target("r2", config.as_object().unwrap()).await;
        spec.endpoint = Some(url);
        let base = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        S3Source::open(&base, &spec, None)
            .await
            .unwrap()
            .read("a/b.txt", "abc", 1024)
            .await
            .unwrap();
        let head = task.await.unwrap();
        assert!(
            head.starts_with("get /bkt/a/b.txt"),
            "R2 is addressed path-style:\n{head}"
        );
    }

    /// An S3 error answer, as the providers send it.
    fn error_response(status: &str, code: &str, extra_headers: &str) -> &'static str {
        let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>m</Message></Error>");
        Box::leak(
            format!(
                "HTTP/1.1 {status}\r\n{extra_headers}Content-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        )
    }

    async fn source_at(url: String) -> S3Source {
        let config = serde_json::json!({"credentials": {"type": "access_key", "access_key_id": "AK", "secret_access_key": "SK"}});
        let mut spec = target("s3", config.as_object().unwrap()).await;
        spec.endpoint = Some(url);
        spec.path_style = true;
        let base = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            // One request per call: the engine, not the SDK, decides when to try again.
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        S3Source::open(&base, &spec, None).await.unwrap()
    }

    #[tokio::test]
    async fn provider_answers_become_what_the_engine_acts_on() {
        let (url, _) = capture(error_response(
            "503 Slow Down",
            "SlowDown",
            "Retry-After: 7\r\n",
        ))
        .await;
        match source_at(url).await.list("p/", None, 10).await {
            Err(SourceError::Throttled { retry_after, .. }) => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)))
            }
            other => panic!(
                "SlowDown must be Throttled with its Retry-After: {:?}",
                other.err()
            ),
        }
        let (url, _) = capture(error_response(
            "429 Too Many Requests",
            "TooManyRequests",
            "",
        ))
        .await;
        assert!(matches!(
            source_at(url).await.list("p/", None, 10).await,
            Err(SourceError::Throttled {
                retry_after: None,
                ..
            })
        ));
        let (url, _) = capture(error_response("403 Forbidden", "AccessDenied", "")).await;
        assert!(matches!(
            source_at(url).await.list("p/", None, 10).await,
            Err(SourceError::Denied(_))
        ));
        let (url, _) = capture(error_response(
            "412 Precondition Failed",
            "PreconditionFailed",
            "",
        ))
        .await;
        assert!(matches!(
            source_at(url).await.read("k", "old", 10).await.err(),
            Some(SourceError::Changed(_))
        ));
        let (url, _) = capture("HTTP/1.1 200 OK\r\nContent-Length: 20\r\nETag: \"abc\"\r\nConnection: close\r\n\r\n01234567890123456789").await;
        assert!(matches!(
            source_at(url).await.read("k", "abc", 10).await.err(),
            Some(SourceError::TooLarge(_))
        ));
    }
}
