//! External storage a sync reads: list a prefix a page at a time, read one file at the
//! version listed. Adapters (the `sluice-connectors` crate) speak each provider's API.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::domain::connections::Credentials;

/// One file as the provider listed it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    /// What identifies the file across runs (an S3 key; a Box file id, stable across
    /// renames and moves).
    pub key: String,
    /// Where the file sits, when that is not its key (a Box file's folder path and name):
    /// what filters, MIME types and file names go by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub size: u64,
    /// The provider's content version (an S3 ETag, quotes removed).
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// What the provider says of the file beyond its bytes (a Mux asset's duration,
    /// aspect ratio, passthrough): fills the bucket's fields of the same names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Listed but not readable, and why (a Mux asset without an MP4 rendition): a dead
    /// letter with this reason, not an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

impl SourceEntry {
    /// The file's path: its key unless the source says otherwise.
    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or(&self.key)
    }

    /// What a manifest compares: content version and size (and the version id, where
    /// the bucket keeps versions).
    pub fn version_token(&self) -> String {
        match &self.version_id {
            Some(v) => format!("{}:{}:{v}", self.etag, self.size),
            None => format!("{}:{}", self.etag, self.size),
        }
    }
}

/// One page of a listing, in the provider's key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourcePage {
    pub entries: Vec<SourceEntry>,
    /// Where the next page starts; `None` when this page ends its listing.
    pub next: Option<String>,
    /// Listings to take once this one ends, in order (a Box folder's subfolders, as
    /// tokens `list` starts them from): the engine queues them outside the token, so a
    /// walk's frontier never has to fit in one.
    pub deferred: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// 401/403: the credentials are wrong or lack a permission. Never "the source is empty".
    #[error("access denied: {0}")]
    Denied(String),
    /// The bucket or prefix does not exist.
    #[error("not found: {0}")]
    Missing(String),
    /// 429/503/SlowDown: try again after `retry_after` when the provider said.
    #[error("throttled: {message}")]
    Throttled {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The file changed since it was listed (its version no longer matches).
    #[error("changed since listed: {0}")]
    Changed(String),
    #[error("too large: {0}")]
    TooLarge(String),
    /// The configuration cannot work (bad endpoint, refused address, unsupported option).
    #[error("{0}")]
    Invalid(String),
    /// Anything else the provider or network returned.
    #[error("{0}")]
    Failed(String),
}

/// The longest continuation token a sync keeps between pages: a provider's longer one
/// fails the run (it would not fit a request line, nor the run's stored item).
pub const MAX_CONTINUATION_BYTES: usize = 4096;

/// Between an error's sentence and the excerpt of what the provider said, when it said
/// something (a bounded, cleaned excerpt; see `SourceError::provider_said`).
pub const PROVIDER_SAID: &str = "; the provider said: ";

impl SourceError {
    /// The excerpt of the provider's own message, if the error carries one.
    pub fn provider_said(&self) -> Option<&str> {
        let text = match self {
            SourceError::Denied(m)
            | SourceError::Missing(m)
            | SourceError::Throttled { message: m, .. }
            | SourceError::Changed(m)
            | SourceError::TooLarge(m)
            | SourceError::Invalid(m)
            | SourceError::Failed(m) => m,
        };
        text.split_once(PROVIDER_SAID).map(|(_, said)| said)
    }

    /// Worth trying again (the same request, later).
    pub fn transient(&self) -> bool {
        matches!(self, SourceError::Throttled { .. } | SourceError::Failed(_))
    }
}

pub type SourceResult<T> = Result<T, SourceError>;

/// A file's bytes as they arrive, in order, so a large one never has to be held whole.
pub struct SourceBody {
    /// The length the provider declared, if it did.
    pub size: Option<u64>,
    pub chunks: futures::stream::BoxStream<'static, SourceResult<Bytes>>,
}

impl SourceBody {
    /// A body already in memory.
    pub fn whole(bytes: Bytes) -> Self {
        SourceBody {
            size: Some(bytes.len() as u64),
            chunks: Box::pin(futures::stream::once(async move { Ok(bytes) })),
        }
    }
}

/// One opened source: a bucket (or container, folder…) with credentials.
#[async_trait]
pub trait Source: Send + Sync {
    /// Up to `limit` entries under `prefix`, after `token` (from the previous page).
    async fn list(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> SourceResult<SourcePage>;
    /// The bytes of `key` if its version is still `etag`; refused up front when the
    /// provider declares more than `max_bytes` (the reader enforces it as bytes arrive).
    async fn read(&self, key: &str, etag: &str, max_bytes: u64) -> SourceResult<SourceBody>;
    /// Proves the credentials can list `prefix` (a connection test).
    async fn check(&self, prefix: &str) -> SourceResult<()> {
        self.list(prefix, None, 1).await.map(|_| ())
    }
    /// What this source promises (an S3 bucket's unless it says otherwise).
    fn capabilities(&self) -> Capabilities {
        Capabilities::S3
    }
}

/// What a source can promise, from which the engine picks how to diff it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Listings come in key order, a page after the last key of the one before, so a
    /// page is merged with the manifest's range for the same keys.
    pub ordered_listing: bool,
    /// A read can be pinned to the version listed (refused once the file changed).
    pub conditional_read: bool,
    /// What `SourceEntry::etag` holds, for the docs and messages (`ETag`, `generation`).
    pub version: &'static str,
}

impl Capabilities {
    /// An S3-API bucket's: keys in order, reads with `If-Match` on the ETag.
    pub const S3: Capabilities = Capabilities {
        ordered_listing: true,
        conditional_read: true,
        version: "ETag",
    };
}

/// The providers' registry, behind a port: checks a connection's settings and
/// credentials by its provider's rules, and opens sources from what was checked.
#[async_trait]
pub trait Connectors: Send + Sync {
    /// Checks a create request's `provider_type` and `provider_config` (with its
    /// `credentials`): the stored form, or a 422 naming the field.
    fn check(
        &self,
        provider_type: &str,
        config: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<crate::domain::connections::ProviderConfig, crate::domain::schema::FieldError>;

    /// The provider's rules beyond its check (where its syncs' paths point, which
    /// settings move its requests). The S3 family's for a name it does not know.
    fn rules(&self, provider_type: &str) -> crate::domain::connections::ProviderRules;

    /// A provider's signed event about a connection's files (Mux's webhooks), checked
    /// with the connection's credentials at `now` (Unix seconds).
    fn inbound(
        &self,
        config: &crate::domain::connections::ProviderConfig,
        headers: &std::collections::HashMap<String, String>,
        body: &[u8],
        now: i64,
    ) -> Result<InboundEvent, InboundRefusal> {
        let _ = (headers, body, now);
        Err(InboundRefusal::Unsupported(format!(
            "{} connections receive no events",
            config.provider_type
        )))
    }

    /// Opens `container` (a bucket; empty: the account) through a checked config that
    /// no saved connection holds (a test before saving): credentials it cannot renew.
    async fn open(
        &self,
        config: &crate::domain::connections::ProviderConfig,
        container: &str,
    ) -> SourceResult<std::sync::Arc<dyn Source>> {
        self.open_kept(config, container, std::sync::Arc::new(Unkept))
            .await
    }

    /// The same through a saved connection's config: credentials the source renews
    /// (Box's OAuth pair) go back into the connection through `keeper`.
    async fn open_kept(
        &self,
        config: &crate::domain::connections::ProviderConfig,
        container: &str,
        keeper: std::sync::Arc<dyn CredentialKeeper>,
    ) -> SourceResult<std::sync::Arc<dyn Source>>;
}

/// How a source renews credentials: given what is stored now, the renewed credentials.
pub type Renew<'a> = &'a (dyn Fn(Credentials) -> futures::future::BoxFuture<'static, SourceResult<Credentials>>
         + Send
         + Sync);

/// Keeps a connection's credentials when a source renews them (Box's OAuth pair, whose
/// refresh token works once): one renewal at a time across every worker, and the new
/// credentials sealed back into the connection before anyone uses them.
#[async_trait]
pub trait CredentialKeeper: Send + Sync {
    /// Credentials newer than `stale`: another worker's renewal when one happened since,
    /// else `renew`'s, run only while this worker holds the connection's renewal.
    async fn renewed(&self, stale: &Credentials, renew: Renew<'_>) -> SourceResult<Credentials>;
}

/// Credentials with no connection to keep them in: never renewed (a renewal would burn a
/// single-use token that nothing saves).
pub struct Unkept;

#[async_trait]
impl CredentialKeeper for Unkept {
    async fn renewed(&self, _: &Credentials, _: Renew<'_>) -> SourceResult<Credentials> {
        Err(SourceError::Denied(
            "the access token was refused, and credentials are renewed only for a saved connection: give a current access token".into(),
        ))
    }
}

/// A provider's event, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEvent {
    /// The provider's name for it (`video.asset.ready`).
    pub kind: String,
    /// It changes the files: the syncs that read through the connection run now.
    pub starts_runs: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundRefusal {
    /// The provider (or this connection) receives no events.
    #[error("{0}")]
    Unsupported(String),
    /// The signature is missing, wrong or too old.
    #[error("{0}")]
    Unverified(String),
    /// Signed, but not an event this server can read.
    #[error("{0}")]
    Invalid(String),
}

/// Encrypts secrets at rest (envelope encryption: KMS in AWS, a key file locally). The
/// sealed form is opaque text safe to store, bound to its context: it opens only with
/// the organisation and purpose it was sealed for (KMS's encryption context, the local
/// cipher's associated data), so one tenant's sealed value copied into another's
/// record does not open.
#[async_trait]
pub trait Sealer: Send + Sync {
    async fn seal(&self, plaintext: &[u8], context: &SealContext<'_>) -> Result<String, SealError>;
    async fn open(&self, sealed: &str, context: &SealContext<'_>) -> Result<Vec<u8>, SealError>;
}

/// Whose secret, and what for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealContext<'a> {
    pub org_id: &'a str,
    pub purpose: SealPurpose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealPurpose {
    ConnectionCredentials,
    WebhookSecret,
}

impl SealPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            SealPurpose::ConnectionCredentials => "connection-credentials",
            SealPurpose::WebhookSecret => "webhook-secret",
        }
    }
}

impl SealContext<'_> {
    /// The pairs KMS binds (its encryption context), in a fixed order.
    pub fn pairs(&self) -> [(&'static str, &str); 2] {
        [("org_id", self.org_id), ("purpose", self.purpose.as_str())]
    }
    /// The same, as one string (associated data for a local cipher, a cache key).
    pub fn bound(&self) -> String {
        format!("org_id={};purpose={}", self.org_id, self.purpose.as_str())
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("credential encryption: {0}")]
pub struct SealError(pub String);
