//! One bucket over the S3 API, with the provider's addressing, region and checksum
//! rules from its `SourceSpec`.

use async_trait::async_trait;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use crate::errors::{classify, excerpt};

use sluice_core::domain::connections::{SourceSpec, SpecCredentials, MAX_PREFIX_BYTES};
use sluice_core::ports::{Source, SourceBody, SourceEntry, SourceError, SourcePage, SourceResult};

pub struct S3Source {
    client: Client,
    bucket: String,
    /// The provider's name in error messages.
    provider: String,
}

/// The S3 client a spec describes (exposed for tests that check what it sends). `http`:
/// the guarded HTTP client a tenant endpoint is reached through.
pub async fn client(
    base: &aws_config::SdkConfig,
    spec: &SourceSpec,
    http: Option<SharedHttpClient>,
) -> SourceResult<Client> {
    let mut builder =
        aws_sdk_s3::config::Builder::from(base).region(Region::new(spec.region.clone()));
    if let Some(http) = http {
        builder = builder.http_client(http);
    }
    match &spec.credentials {
        SpecCredentials::Static {
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
        SpecCredentials::AssumeRole {
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
        SpecCredentials::Backblaze { .. } => {
            return Err(SourceError::Invalid(
                "Backblaze credentials are exchanged before the S3 client is built".into(),
            ))
        }
    }
    let stand_in =
        base.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    if let Some(endpoint) = &spec.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    // A stand-in on loopback has no DNS for virtual hosts.
    builder = builder.force_path_style(spec.path_style || (spec.endpoint.is_none() && stand_in));
    if spec.checksums_when_required {
        builder = builder
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    }
    Ok(Client::from_conf(builder.build()))
}

impl S3Source {
    pub async fn open(
        base: &aws_config::SdkConfig,
        spec: &SourceSpec,
        http: Option<SharedHttpClient>,
    ) -> SourceResult<Self> {
        Ok(S3Source {
            client: client(base, spec, http).await?,
            bucket: spec.bucket.clone(),
            provider: spec.provider.clone(),
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
        // Beyond these the SDK cannot build the request URI (it would panic).
        if prefix.len() > MAX_PREFIX_BYTES {
            return Err(SourceError::Invalid(format!(
                "the prefix is {} bytes; S3 keys are at most {MAX_PREFIX_BYTES}",
                prefix.len()
            )));
        }
        if token.is_some_and(|t| t.len() > MAX_TOKEN_BYTES) {
            return Err(SourceError::Invalid(format!(
                "the continuation token is over {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(limit.clamp(1, 1000) as i32)
            .set_continuation_token(token.map(str::to_string))
            .send()
            .await
            .map_err(|e| classify(&self.provider, &format!("listing {}", self.at(prefix)), e))?;
        let entries = out
            .contents()
            .iter()
            .filter_map(|o| {
                Some(SourceEntry {
                    key: o.key()?.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                    version_id: None,
                    last_modified: o.last_modified().map(|t| t.to_string()),
                })
            })
            .collect();
        // Only IsTruncated ends a listing; a truncated page without a token is an error.
        let next = match (out.is_truncated(), out.next_continuation_token()) {
            (Some(true), Some(t)) if t.len() > MAX_TOKEN_BYTES => {
                return Err(SourceError::Invalid(format!(
                    "{} sent a continuation token of {} bytes when listing {}; this server takes at most {MAX_TOKEN_BYTES}",
                    self.provider,
                    t.len(),
                    self.at(prefix)
                )))
            }
            (Some(true), Some(t)) => Some(t.to_string()),
            (Some(true), None) => {
                return Err(SourceError::Failed(format!(
                    "{} sent a truncated page without a continuation token when listing {}",
                    self.provider,
                    self.at(prefix)
                )))
            }
            _ => None,
        };
        Ok(SourcePage { entries, next })
    }

    async fn read(&self, key: &str, etag: &str, max_bytes: u64) -> SourceResult<SourceBody> {
        if key.len() > MAX_PREFIX_BYTES {
            return Err(SourceError::Invalid(format!(
                "the key is {} bytes; S3 keys are at most {MAX_PREFIX_BYTES}",
                key.len()
            )));
        }
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .if_match(format!("\"{etag}\""))
            .send()
            .await
            .map_err(|e| classify(&self.provider, &format!("reading {}", self.at(key)), e))?;
        if out.content_length().is_some_and(|n| n as u64 > max_bytes) {
            return Err(SourceError::TooLarge(format!(
                "{} bytes is over SLUICE_MAX_FETCH_BYTES ({max_bytes})",
                out.content_length().unwrap_or_default()
            )));
        }
        let what = format!(
            "the connection to {} failed while reading {}",
            self.provider,
            self.at(key)
        );
        let chunks = futures::stream::try_unfold(out.body, move |mut body| {
            let what = what.clone();
            async move {
                match body.try_next().await {
                    Ok(Some(chunk)) => Ok(Some((chunk, body))),
                    Ok(None) => Ok(None),
                    Err(_) => Err(SourceError::Failed(what)),
                }
            }
        });
        Ok(SourceBody {
            size: out.content_length.map(|n| n.max(0) as u64),
            chunks: Box::pin(chunks),
        })
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
    use sluice_core::domain::connections::ProviderConfig;
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

    const OBJECT: &str =
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: \"abc\"\r\nConnection: close\r\n\r\nhi";

    async fn read_headers(provider: &str, settings: serde_json::Value) -> String {
        let (url, task) = capture(OBJECT).await;
        let mut config = settings.as_object().unwrap().clone();
        config.insert("credentials".into(), serde_json::json!({"type": "access_key", "access_key_id": "AK", "secret_access_key": "SK"}));
        let parsed = ProviderConfig::parse(provider, &config).unwrap();
        let mut spec = parsed.spec("bkt", "");
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
        let mut spec = ProviderConfig::parse("r2", config.as_object().unwrap())
            .unwrap()
            .spec("bkt", "");
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
        let mut spec = ProviderConfig::parse("s3", config.as_object().unwrap())
            .unwrap()
            .spec("bkt", "");
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
