//! Sources for syncs: the S3 API (AWS S3 and every S3-compatible store here), opened
//! from a connection's resolved settings. GCS, Azure Blob, Box and Mux come later on the
//! same `Source` port.
//!
//! Every request a tenant can aim goes through the network guard
//! ([`sluice_core::net::NetGuard`]): a connection's own endpoint (and Backblaze's
//! returned one) is checked as written, and the SDK client that reaches it resolves
//! names through the guard and connects to the vetted address, virtual-hosted bucket
//! names included. Sources without an endpoint reach AWS's own S3 domains, or the
//! operator's stand-in (`AWS_ENDPOINT_URL_S3`), through the SDK's default client.

mod backblaze;
mod errors;
mod s3;

use std::sync::Arc;

use async_trait::async_trait;
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use sluice_core::domain::connections::{SourceSpec, SpecCredentials};
use sluice_core::net::{NetGuard, Refused};
use sluice_core::ports::{Connectors, Source, SourceError, SourceResult};

pub use s3::S3Source;

/// Opens S3-API sources. Built once per process over the environment's AWS settings
/// (region, an `AWS_ENDPOINT_URL_S3` stand-in). Every source signs with its connection's
/// own credentials; the process's credentials sign only the STS AssumeRole of an
/// `iam_role` connection (the role trusts this server's principal and the ExternalId).
pub struct S3Connectors {
    /// The process's SDK settings, loaded when a connection first needs them: a server
    /// that syncs nothing never probes for AWS credentials or a region.
    base: tokio::sync::OnceCell<aws_config::SdkConfig>,
    /// `None` when the server allows private addresses (development).
    guard: Option<NetGuard>,
    /// The SDK's HTTP client for tenant endpoints: resolves through the guard.
    guarded: Option<SharedHttpClient>,
    /// Backblaze's authorize call. It goes to the operator's `SLUICE_BACKBLAZE_API_URL`,
    /// not to a tenant's choice; the S3 endpoint it returns is checked like any other.
    http: reqwest::Client,
}

impl S3Connectors {
    /// `guard`: the network guard for tenant endpoints (`NetGuard::unless(allow_private)`).
    pub fn new(guard: Option<NetGuard>) -> Self {
        Self::with_base(tokio::sync::OnceCell::new(), guard)
    }

    /// Over a process's shared SDK settings (a Lambda's, with its role's credentials).
    pub fn from_sdk(base: &aws_config::SdkConfig, guard: Option<NetGuard>) -> Self {
        Self::with_base(tokio::sync::OnceCell::new_with(Some(base.clone())), guard)
    }

    fn with_base(
        base: tokio::sync::OnceCell<aws_config::SdkConfig>,
        guard: Option<NetGuard>,
    ) -> Self {
        S3Connectors {
            base,
            guarded: guard.clone().map(guarded_http_client),
            guard,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client builds"),
        }
    }
}

/// An SDK HTTP client (the SDK's own hyper + rustls stack) whose every lookup is the
/// guard's, so the address it connects to is the one the guard vetted.
pub fn guarded_http_client(guard: NetGuard) -> SharedHttpClient {
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

impl S3Connectors {
    /// The tenant endpoint, checked and normalised, with the client that may reach it.
    fn vetted(&self, spec: &mut SourceSpec) -> SourceResult<Option<SharedHttpClient>> {
        let (Some(endpoint), Some(guard)) = (&spec.endpoint, &self.guard) else {
            return Ok(None);
        };
        let url = url::Url::parse(endpoint)
            .map_err(|e| SourceError::Invalid(format!("the endpoint is not a URL: {e}")))?;
        guard
            .check_url(&url)
            .map_err(|why| SourceError::Invalid(format!("the endpoint is refused: {why}")))?;
        spec.endpoint = Some(url.as_str().trim_end_matches('/').to_string());
        Ok(self.guarded.clone())
    }
}

#[async_trait]
impl Connectors for S3Connectors {
    async fn open(&self, spec: &SourceSpec) -> SourceResult<Arc<dyn Source>> {
        let mut spec = spec.clone();
        if let SpecCredentials::Backblaze {
            key_id,
            application_key,
            api_url,
        } = &spec.credentials
        {
            let found = backblaze::authorize(&self.http, api_url, key_id, application_key).await?;
            spec.endpoint = Some(found.s3_api_url);
            spec.region = found.region;
            spec.credentials = SpecCredentials::Static {
                access_key_id: key_id.clone(),
                secret_access_key: application_key.clone(),
                session_token: None,
            };
        }
        let http = self.vetted(&mut spec)?;
        let base = self
            .base
            .get_or_init(|| aws_config::defaults(aws_config::BehaviorVersion::latest()).load())
            .await;
        Ok(Arc::new(S3Source::open(base, &spec, http).await?))
    }
}
