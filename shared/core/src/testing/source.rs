//! External storage for syncs: buckets of files listed in key order, read at the version listed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;

use super::lock;

/// A bucket's files: key → (bytes, version).
type Files = BTreeMap<String, (Bytes, u64)>;

/// External storage in memory: buckets of files, listed in key order a page at a time
/// (the token is the last key listed, as S3's start-after), read only at the version
/// listed. `deny` answers every call as bad credentials would.
#[derive(Default)]
pub struct MemoryStorage {
    buckets: Mutex<HashMap<String, Files>>,
    next_version: Mutex<u64>,
    pub deny: std::sync::atomic::AtomicBool,
    /// This many list calls answer as a throttling provider (`Retry-After: 3`).
    pub throttle: std::sync::atomic::AtomicUsize,
    /// List calls made, for tests that count requests.
    pub lists: std::sync::atomic::AtomicUsize,
    /// Every list call panics (a stand-in for a bug a provider's answer trips).
    pub panic: std::sync::atomic::AtomicBool,
    /// Lists newest key first, as Mux does (the token is how many were listed), and
    /// says it cannot list in key order.
    pub unordered: std::sync::atomic::AtomicBool,
    /// Walks folders as Box does: a page lists one folder's own files (the token says
    /// which folder and how far) and defers its subfolders.
    pub folders: std::sync::atomic::AtomicBool,
    /// The only access key and secret it accepts, once set: a source opened with any
    /// other answers as bad credentials would.
    accepted: Mutex<Option<(String, String)>>,
}

impl MemoryStorage {
    /// Writes (or overwrites, with a new ETag) a file.
    pub fn put(&self, bucket: &str, key: &str, bytes: impl Into<Bytes>) {
        let mut n = lock(&self.next_version);
        *n += 1;
        lock(&self.buckets)
            .entry(bucket.to_string())
            .or_default()
            .insert(key.to_string(), (bytes.into(), *n));
    }
    /// When a file was last written, as listed: one second after the start of 2026 per
    /// write made so far, so later writes list as later.
    pub fn last_modified(&self, bucket: &str, key: &str) -> Option<String> {
        let buckets = lock(&self.buckets);
        let (_, version) = buckets.get(bucket)?.get(key)?;
        Some(modified_at(*version))
    }
    /// A file's ETag now, as a listing gives it.
    pub fn etag(&self, bucket: &str, key: &str) -> Option<String> {
        let buckets = lock(&self.buckets);
        let (_, version) = buckets.get(bucket)?.get(key)?;
        Some(etag_of(*version))
    }
    pub fn remove(&self, bucket: &str, key: &str) {
        if let Some(b) = lock(&self.buckets).get_mut(bucket) {
            b.remove(key);
        }
    }
    /// Accepts only this access key and secret from now on.
    pub fn accept_only(&self, access_key_id: &str, secret_access_key: &str) {
        *lock(&self.accepted) = Some((access_key_id.into(), secret_access_key.into()));
    }
    fn denied(
        &self,
        given: &crate::domain::connections::Credentials,
    ) -> crate::ports::SourceResult<()> {
        if let Some((id, secret)) = lock(&self.accepted).as_ref() {
            let matches = given.text("access_key_id") == Some(id.as_str())
                && given.text("secret_access_key") == Some(secret.as_str());
            if !matches {
                return Err(crate::ports::SourceError::Denied(
                    "403 SignatureDoesNotMatch".into(),
                ));
            }
        }
        if self.deny.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::ports::SourceError::Denied(
                "403 InvalidAccessKeyId".into(),
            ));
        }
        Ok(())
    }
}

impl MemoryBucket {
    fn unordered(&self) -> bool {
        self.storage
            .unordered
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

struct MemoryBucket {
    storage: Arc<MemoryStorage>,
    bucket: String,
    credentials: crate::domain::connections::Credentials,
}

fn etag_of(version: u64) -> String {
    format!("v{version}")
}

fn modified_at(version: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(1_767_225_600 + version as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[async_trait]
impl crate::ports::Source for MemoryBucket {
    async fn list(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> crate::ports::SourceResult<crate::ports::SourcePage> {
        self.storage.denied(&self.credentials)?;
        self.storage
            .lists
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.storage.panic.load(std::sync::atomic::Ordering::SeqCst) {
            panic!("the listing tripped a bug");
        }
        let throttled = self.storage.throttle.fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |n| n.checked_sub(1),
        );
        if throttled.is_ok() {
            return Err(crate::ports::SourceError::Throttled {
                message: "503 SlowDown".into(),
                retry_after: Some(std::time::Duration::from_secs(3)),
            });
        }
        let buckets = lock(&self.storage.buckets);
        let Some(files) = buckets.get(&self.bucket) else {
            return Err(crate::ports::SourceError::Missing(format!(
                "no bucket {}",
                self.bucket
            )));
        };
        let entry = |(k, (b, v)): (&String, &(Bytes, u64))| crate::ports::SourceEntry {
            key: k.clone(),
            size: b.len() as u64,
            etag: etag_of(*v),
            version_id: None,
            last_modified: Some(modified_at(*v)),
            ..Default::default()
        };
        if self
            .storage
            .folders
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(folder_page(files, prefix, token, limit, entry));
        }
        if self.unordered() {
            let skip: usize = token.and_then(|t| t.parse().ok()).unwrap_or(0);
            let under: Vec<_> = files
                .iter()
                .rev()
                .filter(|(k, _)| k.starts_with(prefix))
                .collect();
            let entries: Vec<_> = under
                .iter()
                .skip(skip)
                .take(limit)
                .map(|kv| entry(*kv))
                .collect();
            let next = (skip + limit < under.len()).then(|| (skip + limit).to_string());
            return Ok(crate::ports::SourcePage {
                entries,
                next,
                ..Default::default()
            });
        }
        let mut entries: Vec<crate::ports::SourceEntry> = files
            .iter()
            .filter(|(k, _)| k.starts_with(prefix) && token.is_none_or(|t| k.as_str() > t))
            .take(limit + 1)
            .map(entry)
            .collect();
        let next = (entries.len() > limit).then(|| {
            entries.truncate(limit);
            entries.last().map(|e| e.key.clone()).unwrap_or_default()
        });
        Ok(crate::ports::SourcePage {
            entries,
            next,
            ..Default::default()
        })
    }

    async fn read(
        &self,
        key: &str,
        etag: &str,
        max_bytes: u64,
    ) -> crate::ports::SourceResult<crate::ports::SourceBody> {
        self.storage.denied(&self.credentials)?;
        let buckets = lock(&self.storage.buckets);
        let (bytes, version) = buckets
            .get(&self.bucket)
            .and_then(|b| b.get(key))
            .ok_or_else(|| crate::ports::SourceError::Missing(key.to_string()))?;
        if etag_of(*version) != etag {
            return Err(crate::ports::SourceError::Changed(key.to_string()));
        }
        if bytes.len() as u64 > max_bytes {
            return Err(crate::ports::SourceError::TooLarge(key.to_string()));
        }
        Ok(crate::ports::SourceBody::whole(bytes.clone()))
    }

    fn capabilities(&self) -> crate::ports::Capabilities {
        let folders = self
            .storage
            .folders
            .load(std::sync::atomic::Ordering::SeqCst);
        crate::ports::Capabilities {
            ordered_listing: !self.unordered() && !folders,
            ..crate::ports::Capabilities::S3
        }
    }

    async fn check(&self, prefix: &str) -> crate::ports::SourceResult<()> {
        self.storage.denied(&self.credentials)?;
        if self.bucket.is_empty() {
            return Ok(());
        }
        self.list(prefix, None, 1).await.map(|_| ())
    }
}

/// One page of a folder walk: the folder's own files after `skip` (the token is
/// `{skip} {folder}`), and on its first page its subfolders under `prefix`, deferred.
fn folder_page(
    files: &Files,
    prefix: &str,
    token: Option<&str>,
    limit: usize,
    entry: impl Fn((&String, &(Bytes, u64))) -> crate::ports::SourceEntry,
) -> crate::ports::SourcePage {
    let (skip, folder) = token
        .and_then(|t| t.split_once(' '))
        .map_or((0, ""), |(n, f)| (n.parse().unwrap_or(0), f));
    let inside = |k: &&String| k.starts_with(folder);
    let own: Vec<_> = files
        .iter()
        .filter(|(k, _)| inside(k) && !k[folder.len()..].contains('/') && k.starts_with(prefix))
        .collect();
    let mut page = crate::ports::SourcePage {
        entries: own
            .iter()
            .skip(skip)
            .take(limit)
            .map(|kv| entry(*kv))
            .collect(),
        next: (skip + limit < own.len()).then(|| format!("{} {folder}", skip + limit)),
        deferred: Vec::new(),
    };
    if skip == 0 {
        let subfolders: std::collections::BTreeSet<String> = files
            .keys()
            .filter(|k| inside(k))
            .filter_map(|k| k[folder.len()..].split_once('/'))
            .map(|(sub, _)| format!("{folder}{sub}/"))
            .filter(|sub| sub.starts_with(prefix) || prefix.starts_with(sub.as_str()))
            .collect();
        page.deferred = subfolders.into_iter().map(|f| format!("0 {f}")).collect();
    }
    page
}

/// Opens [`MemoryStorage`] buckets whatever the provider. Its check is the envelope's
/// (credentials with a type; an access key needs its id and secret; an endpoint is a
/// URL): each provider's own rules are `sluice-connectors`'s, tested there.
pub struct MemoryConnectors(pub Arc<MemoryStorage>);

#[async_trait]
impl crate::ports::Connectors for MemoryConnectors {
    fn check(
        &self,
        provider_type: &str,
        config: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<crate::domain::connections::ProviderConfig, crate::domain::schema::FieldError> {
        use crate::domain::connections::{self as c, Credentials, ProviderConfig};
        let credentials = Credentials::from_request(
            config
                .get("credentials")
                .unwrap_or(&serde_json::Value::Null),
            "access_key",
        )?;
        if credentials.kind() == "access_key" {
            c::credential_text(&credentials, "access_key_id", 128, true)?;
            c::credential_text(&credentials, "secret_access_key", 1024, true)?;
        }
        let mut settings = config.clone();
        settings.remove("credentials");
        if let Some(endpoint) = c::string_setting(&settings, "endpoint_url")? {
            c::check_endpoint_url("endpoint_url", &endpoint)?;
        }
        Ok(ProviderConfig {
            provider_type: provider_type.to_string(),
            settings,
            credentials,
        })
    }

    fn rules(&self, _: &str) -> crate::domain::connections::ProviderRules {
        crate::domain::connections::ProviderRules::S3
    }

    async fn open_kept(
        &self,
        config: &crate::domain::connections::ProviderConfig,
        container: &str,
        _: Arc<dyn crate::ports::CredentialKeeper>,
    ) -> crate::ports::SourceResult<Arc<dyn crate::ports::Source>> {
        Ok(Arc::new(MemoryBucket {
            storage: self.0.clone(),
            bucket: container.to_string(),
            credentials: config.credentials.clone(),
        }))
    }
}
