//! Sources for syncs, one folder per provider, registered in one table ([`PROVIDERS`]):
//! each provider checks its own connections (config.rs), signs in (auth.rs), lists
//! (list.rs), reads (read.rs) and says what went wrong (errors.rs). The S3-compatible
//! stores are data rows of the `s3` provider (`s3/config.rs`, as rclone's provider
//! files), not code of their own.
//!
//! Every request a tenant can aim goes through the network guard
//! ([`sluice_core::net::NetGuard`]): a connection's own endpoint (and Backblaze's or a
//! service-account key's token address) is checked as written, and the client that
//! reaches it resolves names through the guard and connects to the vetted address.
//! Sources without an endpoint reach the provider's public API, or the operator's
//! stand-in (`AWS_ENDPOINT_URL_S3`, `SLUICE_*_URL`).

mod azure;
mod r#box;
mod errors;
mod gcs;
mod http;
mod mux;
mod s3;
mod tokens;

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use sluice_core::domain::connections::{ProviderConfig, ProviderRules};
use sluice_core::domain::schema::FieldError;
use sluice_core::net::NetGuard;
use sluice_core::ports::{
    Connectors, CredentialKeeper, InboundEvent, InboundRefusal, Source, SourceError, SourceResult,
};
use sluice_core::Config;

pub use http::guarded_sdk_client;

/// Azure's Shared Key signature, for tools and tests that write to a container the way
/// Azure's own clients do (Azurite checks it).
pub use azure::auth::shared_key as azure_shared_key;
pub use s3::S3Source;

/// Opens a container through a checked config, whose renewed credentials go to the
/// keeper.
pub type Open = for<'a> fn(
    &'a Registry,
    &'a ProviderConfig,
    &'a str,
    Arc<dyn CredentialKeeper>,
) -> BoxFuture<'a, SourceResult<Arc<dyn Source>>>;

/// Checks a provider's signed event with a connection's credentials at a time.
pub type Inbound = fn(
    &ProviderConfig,
    &std::collections::HashMap<String, String>,
    &[u8],
    i64,
) -> Result<InboundEvent, InboundRefusal>;

/// One provider: the names a request may give, its rules, its check and its opener.
pub struct Provider {
    /// `provider_type` values this provider answers to (an S3 preset's among them).
    pub names: &'static [&'static str],
    pub rules: ProviderRules,
    /// Checks a create request's config (the name as given picks a preset).
    pub check: fn(&str, &Map<String, Value>) -> Result<ProviderConfig, FieldError>,
    pub open: Open,
    /// Checks the provider's signed events (its webhooks), where it sends any.
    pub inbound: Option<Inbound>,
}

/// Every provider this server syncs from. Adding one is a folder, a line here, an
/// emulator or fake in `scripts/test`, and a row in docs/syncs.md.
pub const PROVIDERS: &[Provider] = &[
    s3::PROVIDER,
    gcs::PROVIDER,
    azure::PROVIDER,
    r#box::PROVIDER,
    mux::PROVIDER,
];

/// The SDK's provider names this server does not sync from yet: refused with a reason.
const NOT_YET: &[&str] = &["google_drive"];

/// The provider a `provider_type` names.
pub fn provider(provider_type: &str) -> Result<&'static Provider, FieldError> {
    if let Some(p) = PROVIDERS.iter().find(|p| p.names.contains(&provider_type)) {
        return Ok(p);
    }
    let supported: Vec<&str> = PROVIDERS
        .iter()
        .flat_map(|p| p.names.iter().copied())
        .collect();
    let reason = if NOT_YET.contains(&provider_type) {
        format!(
            "{provider_type} syncs are not supported by this server yet; supported: {}",
            supported.join(", ")
        )
    } else {
        format!(
            "unknown provider {provider_type:?}; supported: {}",
            supported.join(", ")
        )
    };
    Err(FieldError::new("provider_type", reason))
}

/// Where the providers' own APIs are, when the operator points them elsewhere (a
/// stand-in, a fake in tests).
#[derive(Debug, Clone)]
pub struct ApiUrls {
    /// `SLUICE_BACKBLAZE_API_URL`: `b2_authorize_account`.
    pub backblaze: String,
    /// `SLUICE_BOX_API_URL`: Box's token endpoint and API.
    pub box_api: String,
    /// `SLUICE_MUX_API_URL` and `SLUICE_MUX_STREAM_URL`: Mux's API and media host.
    pub mux_api: String,
    pub mux_stream: String,
}

impl ApiUrls {
    pub fn from_config(config: &Config) -> Self {
        ApiUrls {
            backblaze: config.backblaze_api_url.clone(),
            box_api: config.box_api_url.clone(),
            mux_api: config.mux_api_url.clone(),
            mux_stream: config.mux_stream_url.clone(),
        }
    }
}

/// The registry the server opens sources through: the providers' shared clients, built
/// once per process.
pub struct Registry {
    pub(crate) s3: s3::Clients,
    pub(crate) http: http::Clients,
    pub(crate) tokens: tokens::Tokens,
    pub(crate) urls: ApiUrls,
}

impl Registry {
    /// For a server with `config` (its guard, its providers' API addresses). The AWS SDK
    /// settings are loaded when a connection first needs them.
    pub fn new(config: &Config) -> Self {
        Self::guarded(
            NetGuard::unless(config.allow_private_urls),
            ApiUrls::from_config(config),
        )
    }

    /// Over a process's shared SDK settings (a Lambda's, with its role's credentials).
    pub fn from_sdk(sdk: &aws_config::SdkConfig, config: &Config) -> Self {
        let mut r = Self::new(config);
        r.s3 = s3::Clients::from_sdk(sdk, r.s3.guard.clone());
        r
    }

    /// With this guard (`None`: private addresses allowed) and these API addresses.
    pub fn guarded(guard: Option<NetGuard>, urls: ApiUrls) -> Self {
        Registry {
            s3: s3::Clients::new(guard.clone()),
            http: http::Clients::new(guard),
            tokens: tokens::Tokens::default(),
            urls,
        }
    }

    /// The same, with the S3 family signing over `sdk` (tests: retries off).
    pub fn with_sdk(mut self, sdk: &aws_config::SdkConfig) -> Self {
        self.s3 = s3::Clients::from_sdk(sdk, self.s3.guard.clone());
        self
    }
}

#[async_trait]
impl Connectors for Registry {
    fn check(
        &self,
        provider_type: &str,
        config: &Map<String, Value>,
    ) -> Result<ProviderConfig, FieldError> {
        (provider(provider_type)?.check)(provider_type, config)
    }

    fn rules(&self, provider_type: &str) -> ProviderRules {
        provider(provider_type).map_or(ProviderRules::S3, |p| p.rules)
    }

    fn inbound(
        &self,
        config: &ProviderConfig,
        headers: &std::collections::HashMap<String, String>,
        body: &[u8],
        now: i64,
    ) -> Result<InboundEvent, InboundRefusal> {
        match provider(&config.provider_type).ok().and_then(|p| p.inbound) {
            Some(inbound) => inbound(config, headers, body, now),
            None => Err(InboundRefusal::Unsupported(format!(
                "{} connections receive no events",
                config.provider_type
            ))),
        }
    }

    async fn open_kept(
        &self,
        config: &ProviderConfig,
        container: &str,
        keeper: Arc<dyn CredentialKeeper>,
    ) -> SourceResult<Arc<dyn Source>> {
        let p = provider(&config.provider_type).map_err(|e| SourceError::Invalid(e.reason))?;
        (p.open)(self, config, container, keeper).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_belongs_to_one_provider() {
        let mut seen = std::collections::HashSet::new();
        for p in PROVIDERS {
            for n in p.names {
                assert!(seen.insert(*n), "{n} is registered twice");
                assert!(!NOT_YET.contains(n), "{n} is registered and refused");
            }
        }
        for preset in s3::config::PRESETS {
            assert!(s3::PROVIDER.names.contains(&preset.name), "{}", preset.name);
        }
        let err = provider("google_drive").err().unwrap();
        assert!(
            err.reason.contains("not supported by this server yet"),
            "{}",
            err.reason
        );
        assert!(provider("dropbox")
            .err()
            .unwrap()
            .reason
            .contains("unknown provider"));
    }
}
