//! Google Cloud Storage over its JSON API: a service-account key signs a JWT that buys
//! an OAuth token (cached until shortly before it expires); listings are
//! `storage/v1/b/{bucket}/o` pages in name order, raw names and `generation` as the
//! version; reads are pinned to that generation (`ifGenerationMatch`).

mod auth;
mod config;
mod errors;
mod list;
mod read;

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use sluice_core::domain::connections::{ProviderConfig, ProviderRules};
use sluice_core::ports::{
    Capabilities, CredentialKeeper, Source, SourceBody, SourcePage, SourceResult,
};

use crate::{Provider, Registry};

pub const PROVIDER: Provider = Provider {
    names: &["gcs"],
    rules: ProviderRules {
        destination: &["endpoint_url"],
        container_setting: Some("bucket"),
        prefix_setting: Some("prefix"),
        default_credentials: "service_account",
        paths: true,
    },
    check: config::check,
    open,
    inbound: None,
};

/// The public JSON API, unless the connection names another endpoint.
const PUBLIC_API: &str = "https://storage.googleapis.com";

fn open<'a>(
    registry: &'a Registry,
    config: &'a ProviderConfig,
    bucket: &'a str,
    _: Arc<dyn CredentialKeeper>,
) -> BoxFuture<'a, SourceResult<Arc<dyn Source>>> {
    Box::pin(async move {
        let api = config.setting("endpoint_url").unwrap_or(PUBLIC_API);
        let api = registry.http.vetted("the endpoint", api)?;
        let key = auth::ServiceAccount::from_config(config)?;
        registry
            .http
            .vetted("the key's token_uri", &key.token_uri)?;
        Ok(Arc::new(GcsSource {
            registry_http: registry.http.tenant().clone(),
            tokens: registry.tokens.clone(),
            key,
            api,
            bucket: bucket.to_string(),
        }) as Arc<dyn Source>)
    })
}

pub struct GcsSource {
    registry_http: reqwest::Client,
    tokens: crate::tokens::Tokens,
    key: auth::ServiceAccount,
    api: url::Url,
    bucket: String,
}

impl GcsSource {
    /// `gs://bucket/key`, with a long key shortened.
    fn at(&self, key: &str) -> String {
        let key = crate::errors::excerpt(key).unwrap_or_default();
        format!("gs://{}/{key}", self.bucket)
    }

    /// `{api}/storage/v1/b/{bucket}/o[/{name}]`, each part one escaped path segment.
    fn url(&self, name: Option<&str>) -> url::Url {
        let mut url = self.api.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["storage", "v1", "b", &self.bucket, "o"]);
            if let Some(name) = name {
                path.push(name);
            }
        }
        url
    }

    async fn bearer(&self) -> SourceResult<String> {
        auth::token(&self.tokens, &self.registry_http, &self.key).await
    }
}

#[async_trait]
impl Source for GcsSource {
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

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            ordered_listing: true,
            conditional_read: true,
            version: "generation",
        }
    }
}
