//! Mux Video: a connection's assets (newest first, cursor pages) become files. Only
//! `ready` assets are listed (one still preparing is taken by a later run); each is read
//! from its MP4 static rendition on Mux's media host, and one without a readable
//! rendition is listed as unreadable (a dead letter saying why). The asset's duration,
//! aspect ratio and passthrough fill the bucket's fields of those names. Mux's signed
//! webhooks (`webhook.rs`) start the connection's syncs when an asset changes.

mod auth;
mod config;
mod errors;
mod list;
mod read;
mod webhook;

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use sluice_core::domain::connections::{ProviderConfig, ProviderRules};
use sluice_core::ports::{
    Capabilities, CredentialKeeper, Source, SourceBody, SourcePage, SourceResult,
};

use crate::{Provider, Registry};

pub const PROVIDER: Provider = Provider {
    names: &["mux"],
    rules: ProviderRules {
        destination: &[],
        container_setting: None,
        prefix_setting: None,
        default_credentials: "access_token",
        paths: false,
    },
    check: config::check,
    open,
    inbound: Some(webhook::inbound),
};

fn open<'a>(
    registry: &'a Registry,
    config: &'a ProviderConfig,
    _: &'a str,
    _: Arc<dyn CredentialKeeper>,
) -> BoxFuture<'a, SourceResult<Arc<dyn Source>>> {
    Box::pin(async move {
        let api = registry
            .http
            .vetted("SLUICE_MUX_API_URL", &registry.urls.mux_api)?;
        let stream = registry
            .http
            .vetted("SLUICE_MUX_STREAM_URL", &registry.urls.mux_stream)?;
        Ok(Arc::new(MuxSource {
            http: registry.http.tenant().clone(),
            token: auth::Token::from_config(config),
            api,
            stream,
        }) as Arc<dyn Source>)
    })
}

pub struct MuxSource {
    http: reqwest::Client,
    token: auth::Token,
    api: url::Url,
    stream: url::Url,
}

impl MuxSource {
    /// `{api}/video/v1/assets[/{id}]`.
    fn assets_url(&self, id: Option<&str>) -> url::Url {
        let mut url = self.api.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["video", "v1", "assets"]);
            if let Some(id) = id {
                path.push(id);
            }
        }
        url
    }
}

#[async_trait]
impl Source for MuxSource {
    async fn list(
        &self,
        _prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> SourceResult<SourcePage> {
        self.list_page(cursor, limit).await
    }

    async fn read(&self, key: &str, etag: &str, max_bytes: u64) -> SourceResult<SourceBody> {
        self.read_asset(key, etag, max_bytes).await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // Newest first: the engine diffs by lookups and a merge after the listing.
            ordered_listing: false,
            // A read looks the asset up again and refuses one whose version moved.
            conditional_read: true,
            version: "the MP4 rendition and the asset's fields",
        }
    }
}
