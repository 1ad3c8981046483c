//! The HTTP clients providers share, behind the network guard, and what an HTTP answer
//! means to the engine (denied, missing, changed, throttled with its `Retry-After`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use futures::StreamExt;
use sluice_core::net::{GuardedResolver, NetGuard, Refused};
use sluice_core::ports::{SourceBody, SourceError, SourceResult};

use crate::errors::{excerpt, with_excerpt};

/// Redirects followed, each hop checked by the guard (Box's downloads take one).
const MAX_REDIRECTS: usize = 3;
/// The most of an error answer's body read for its message.
const ERROR_BODY_BYTES: usize = 16 * 1024;

/// An SDK HTTP client (the SDK's own hyper + rustls stack) whose every lookup is the
/// guard's, so the address it connects to is the one the guard vetted.
pub fn guarded_sdk_client(guard: NetGuard) -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .build_with_resolver(SdkResolver(guard))
}

#[derive(Clone, Debug)]
struct SdkResolver(NetGuard);

impl ResolveDns for SdkResolver {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        let guard = self.0.clone();
        let name = name.to_string();
        DnsFuture::new(async move {
            guard
                .resolve(&name)
                .await
                .map_err(|why| ResolveDnsError::new(Refused(why)))
        })
    }
}

/// reqwest clients: one for addresses a tenant can aim (guarded, each redirect checked),
/// one for the operator's own (`SLUICE_BACKBLAZE_API_URL`: no redirects).
pub struct Clients {
    pub guard: Option<NetGuard>,
    tenant: OnceLock<reqwest::Client>,
    operator: OnceLock<reqwest::Client>,
}

impl Clients {
    pub fn new(guard: Option<NetGuard>) -> Self {
        Clients {
            guard,
            tenant: OnceLock::new(),
            operator: OnceLock::new(),
        }
    }

    /// Built on first use: a process that syncs nothing builds no TLS roots.
    pub fn tenant(&self) -> &reqwest::Client {
        self.tenant.get_or_init(|| {
            let guard = self.guard.clone();
            let policy = reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
                }
                match guard.as_ref().map(|g| g.check_url(attempt.url())) {
                    Some(Err(why)) => attempt.error(Refused(why)),
                    _ => attempt.follow(),
                }
            });
            let mut builder = base().redirect(policy);
            if let Some(guard) = &self.guard {
                builder = builder.dns_resolver(Arc::new(GuardedResolver(guard.clone())));
            }
            builder.build().expect("an HTTP client builds")
        })
    }

    pub fn operator(&self) -> &reqwest::Client {
        self.operator.get_or_init(|| {
            base()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client builds")
        })
    }

    /// `url` parsed and, with a guard, judged as far as it can be before resolving.
    pub fn vetted(&self, what: &str, url: &str) -> SourceResult<url::Url> {
        let parsed = url::Url::parse(url)
            .map_err(|e| SourceError::Invalid(format!("{what} is not a URL: {e}")))?;
        if let Some(guard) = &self.guard {
            guard
                .check_url(&parsed)
                .map_err(|why| SourceError::Invalid(format!("{what} is refused: {why}")))?;
        }
        Ok(parsed)
    }
}

fn base() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        // A page or a token; a read's body has no overall deadline, only this per read.
        .read_timeout(Duration::from_secs(60))
        .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
}

/// Sends `request`: the answer, or why none came (refused by the guard, timed out,
/// not connected). `what`: the operation and target, as "listing gs://b/p".
pub async fn send(
    provider: &str,
    what: &str,
    request: reqwest::RequestBuilder,
) -> SourceResult<reqwest::Response> {
    request
        .send()
        .await
        .map_err(|e| unanswered(provider, what, &e))
}

fn unanswered(provider: &str, what: &str, e: &reqwest::Error) -> SourceError {
    if let Some(why) = Refused::find(e).and_then(|why| excerpt(&why)) {
        return SourceError::Invalid(format!("{provider} endpoint refused when {what}: {why}"));
    }
    if e.is_timeout() {
        SourceError::Failed(format!("{provider} did not answer in time when {what}"))
    } else if e.is_builder() {
        SourceError::Invalid(format!(
            "the request to {provider} could not be built when {what}"
        ))
    } else if e.is_redirect() {
        SourceError::Failed(format!("{provider} redirected too often when {what}"))
    } else {
        SourceError::Failed(format!("could not connect to {provider} when {what}"))
    }
}

/// `Retry-After` in seconds, when the provider sent one.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// A non-success answer as the engine acts on it. `said` picks the provider's own
/// message out of its error body.
pub async fn refusal(
    provider: &str,
    what: &str,
    response: reqwest::Response,
    said: fn(&[u8]) -> Option<String>,
) -> SourceError {
    let status = response.status().as_u16();
    let after = retry_after(response.headers());
    let body = bounded_bytes(response, ERROR_BODY_BYTES).await;
    let message = with_excerpt(
        format!("{provider} answered HTTP {status} when {what}"),
        said(&body).as_deref(),
    );
    match status {
        401 | 403 => SourceError::Denied(message),
        404 => SourceError::Missing(message),
        304 | 409 | 412 => SourceError::Changed(message),
        429 | 503 => SourceError::Throttled {
            message,
            retry_after: after,
        },
        _ => SourceError::Failed(message),
    }
}

/// At most `max` bytes of a body (an error's, a JSON page's).
async fn bounded_bytes(response: reqwest::Response, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(Ok(chunk)) = chunks.next().await {
        let room = max.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= max {
            break;
        }
    }
    out
}

/// A JSON answer of at most `max` bytes, parsed as `T`.
pub async fn json<T: serde::de::DeserializeOwned>(
    provider: &str,
    what: &str,
    response: reqwest::Response,
    max: usize,
) -> SourceResult<T> {
    if response.content_length().is_some_and(|n| n as usize > max) {
        return Err(SourceError::Failed(format!(
            "{provider} sent an answer over {max} bytes when {what}"
        )));
    }
    let body = bounded_bytes(response, max + 1).await;
    if body.len() > max {
        return Err(SourceError::Failed(format!(
            "{provider} sent an answer over {max} bytes when {what}"
        )));
    }
    serde_json::from_slice(&body).map_err(|e| {
        SourceError::Failed(format!(
            "{provider} sent an answer that could not be read when {what}: {e}"
        ))
    })
}

/// A text answer of at most `max` bytes.
pub async fn text(
    provider: &str,
    what: &str,
    response: reqwest::Response,
    max: usize,
) -> SourceResult<String> {
    let body = bounded_bytes(response, max + 1).await;
    if body.len() > max {
        return Err(SourceError::Failed(format!(
            "{provider} sent an answer over {max} bytes when {what}"
        )));
    }
    String::from_utf8(body).map_err(|_| {
        SourceError::Failed(format!(
            "{provider} sent an answer that is not UTF-8 when {what}"
        ))
    })
}

/// A file's body as it arrives, refused up front when declared over `max_bytes` and cut
/// off with `TooLarge` as soon as more than `max_bytes` have arrived.
pub fn streamed(
    provider: &str,
    what: &str,
    response: reqwest::Response,
    max_bytes: u64,
) -> SourceResult<SourceBody> {
    let size = response.content_length();
    if size.is_some_and(|n| n > max_bytes) {
        return Err(SourceError::TooLarge(format!(
            "{} bytes is over SLUICE_MAX_FETCH_BYTES ({max_bytes})",
            size.unwrap_or_default()
        )));
    }
    let failed = format!("the connection to {provider} failed while {what}");
    let chunks = response
        .bytes_stream()
        .map(move |chunk| chunk.map_err(|_| SourceError::Failed(failed.clone())));
    Ok(SourceBody {
        size,
        chunks: limited(chunks, max_bytes),
    })
}

/// `chunks`, ending in `TooLarge` once more than `max_bytes` have come.
pub fn limited(
    chunks: impl futures::Stream<Item = SourceResult<bytes::Bytes>> + Send + 'static,
    max_bytes: u64,
) -> futures::stream::BoxStream<'static, SourceResult<bytes::Bytes>> {
    let mut seen = 0u64;
    chunks
        .map(move |chunk| {
            let chunk = chunk?;
            seen += chunk.len() as u64;
            if seen > max_bytes {
                return Err(SourceError::TooLarge(format!(
                    "the body passed SLUICE_MAX_FETCH_BYTES ({max_bytes}) as it arrived"
                )));
            }
            Ok(chunk)
        })
        // Nothing after the first error: the reader stops at it.
        .scan(false, |failed, item| {
            if *failed {
                return futures::future::ready(None);
            }
            *failed = item.is_err();
            futures::future::ready(Some(item))
        })
        .boxed()
}
