//! Azure Blob Storage over its REST API: `List Blobs` pages (`marker`) in name order, the
//! ETag as the version, reads with `If-Match`. Requests are signed with the account's
//! Shared Key, or carry a managed identity's bearer token where the runtime has one.

pub(crate) mod auth;
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
    names: &["azure_blob"],
    rules: ProviderRules {
        destination: &["endpoint_url", "account_name"],
        container_setting: Some("container"),
        prefix_setting: Some("prefix"),
        default_credentials: "account_key",
        paths: true,
    },
    check: config::check,
    open,
    inbound: None,
};

/// The REST API version every request names (Shared Key and bearer tokens both work).
const API_VERSION: &str = "2021-08-06";

fn open<'a>(
    registry: &'a Registry,
    config: &'a ProviderConfig,
    container: &'a str,
    _: Arc<dyn CredentialKeeper>,
) -> BoxFuture<'a, SourceResult<Arc<dyn Source>>> {
    Box::pin(async move {
        let account = config::account_name(config)?;
        let endpoint = match config.setting("endpoint_url") {
            Some(url) => url.to_string(),
            None => format!("https://{account}.blob.core.windows.net"),
        };
        let endpoint = registry.http.vetted("the endpoint", &endpoint)?;
        let auth = auth::Auth::from_config(config, &account)?;
        Ok(Arc::new(AzureSource {
            http: registry.http.tenant().clone(),
            identity: registry.http.operator().clone(),
            tokens: registry.tokens.clone(),
            auth,
            endpoint,
            container: container.to_string(),
        }) as Arc<dyn Source>)
    })
}

pub struct AzureSource {
    http: reqwest::Client,
    /// Reaches the runtime's identity endpoint (IMDS, a token exchange): the operator's.
    identity: reqwest::Client,
    tokens: crate::tokens::Tokens,
    auth: auth::Auth,
    endpoint: url::Url,
    container: String,
}

impl AzureSource {
    /// `azure://container/name`, with a long name shortened.
    fn at(&self, name: &str) -> String {
        let name = crate::errors::excerpt(name).unwrap_or_default();
        format!("azure://{}/{name}", self.container)
    }

    /// `{endpoint}/{container}[/{name…}]`: the name's `/` kept as path separators, every
    /// other reserved character escaped.
    fn url(&self, name: Option<&str>) -> url::Url {
        let mut url = self.endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push(&self.container);
            if let Some(name) = name {
                path.extend(name.split('/'));
            }
        }
        url
    }

    /// A `verb` (GET, HEAD) request for `url`, signed, with `headers` (as `x-ms-*` and
    /// conditional headers).
    async fn signed(
        &self,
        verb: &'static str,
        url: url::Url,
        headers: &[(&'static str, String)],
    ) -> SourceResult<reqwest::RequestBuilder> {
        let method = reqwest::Method::from_bytes(verb.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = self.http.request(method, url.clone());
        let mut all: Vec<(&str, String)> = vec![
            (
                "x-ms-date",
                httpdate::fmt_http_date(std::time::SystemTime::now()),
            ),
            ("x-ms-version", API_VERSION.to_string()),
        ];
        all.extend(headers.iter().cloned());
        let authorization = self
            .auth
            .authorization(verb, &url, &all, &self.identity, &self.tokens)
            .await?;
        for (name, value) in all {
            request = request.header(name, value);
        }
        Ok(request.header(reqwest::header::AUTHORIZATION, authorization))
    }
}

#[async_trait]
impl Source for AzureSource {
    async fn list(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> SourceResult<SourcePage> {
        self.list_page(prefix, token, limit).await
    }

    async fn read(&self, key: &str, etag: &str, max_bytes: u64) -> SourceResult<SourceBody> {
        self.read_blob(key, etag, max_bytes).await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            ordered_listing: true,
            conditional_read: true,
            version: "ETag",
        }
    }
}
