//! Box: a folder's tree (breadth first, one folder's items a page at a time) as files
//! keyed by their id, which stays the same through renames and moves (a rename is a
//! change of the same object, not a delete and an add); each file's path goes beside it
//! for filters, MIME types and names. Reads are pinned to the version listed and follow
//! Box's redirect to its download host. Tokens come from a client-credentials grant, a
//! JWT assertion, or the connection's OAuth pair, renewed through the connection.

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

use crate::{http, Provider, Registry};

pub const PROVIDER: Provider = Provider {
    names: &["box"],
    rules: ProviderRules {
        // Requests go to the operator's SLUICE_BOX_API_URL, never to a tenant's address.
        destination: &[],
        container_setting: Some("folder_id"),
        prefix_setting: None,
        default_credentials: "oauth",
        paths: true,
    },
    check: config::check,
    open,
    inbound: None,
};

fn open<'a>(
    registry: &'a Registry,
    config: &'a ProviderConfig,
    folder: &'a str,
    keeper: Arc<dyn CredentialKeeper>,
) -> BoxFuture<'a, SourceResult<Arc<dyn Source>>> {
    Box::pin(async move {
        let api = registry
            .http
            .vetted("SLUICE_BOX_API_URL", &registry.urls.box_api)?;
        let http = registry.http.tenant().clone();
        let auth = auth::Auth::new(
            config,
            keeper,
            registry.tokens.clone(),
            http.clone(),
            joined(&api, &["oauth2", "token"]),
        )?;
        let folder = if folder.is_empty() { "0" } else { folder };
        Ok(Arc::new(BoxSource {
            http,
            auth,
            api,
            folder: folder.to_string(),
        }) as Arc<dyn Source>)
    })
}

/// `base` with `segments` appended to its path, each escaped.
fn joined(base: &url::Url, segments: &[&str]) -> url::Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

pub struct BoxSource {
    http: reqwest::Client,
    auth: auth::Auth,
    api: url::Url,
    /// The synced folder's id.
    folder: String,
}

impl BoxSource {
    /// `{api}/2.0/{segments…}`.
    fn api_url(&self, segments: &[&str]) -> url::Url {
        let mut all = vec!["2.0"];
        all.extend_from_slice(segments);
        joined(&self.api, &all)
    }

    /// Sends a request with a bearer token; once more with a renewed one when Box
    /// refuses the token (an expired one answers 401).
    async fn send(
        &self,
        what: &str,
        request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> SourceResult<reqwest::Response> {
        let token = self.auth.token().await?;
        let response = http::send("box", what, request(&self.http).bearer_auth(&token)).await?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let renewed = self.auth.renew(&token).await?;
        http::send("box", what, request(&self.http).bearer_auth(&renewed)).await
    }
}

#[async_trait]
impl Source for BoxSource {
    async fn list(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> SourceResult<SourcePage> {
        self.list_page(prefix, token, limit).await
    }

    async fn read(&self, key: &str, version: &str, max_bytes: u64) -> SourceResult<SourceBody> {
        self.read_file(key, version, max_bytes).await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // One folder at a time: the engine diffs by lookups and a merge after the walk.
            ordered_listing: false,
            conditional_read: true,
            version: "file_version.id and the file's path",
        }
    }
}
