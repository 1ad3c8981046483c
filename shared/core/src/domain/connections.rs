//! Storage connections, as every provider shares them: which provider, its public
//! settings, its sealed credentials, and where a sync's files sit in it. What each
//! provider accepts is its own (the `sluice-connectors` registry); this is the envelope.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::schema::FieldError;
use super::status::ConnectionStatus;

/// The most of any one setting (an endpoint URL, a region, a bucket name).
pub const MAX_SETTING_BYTES: usize = 1024;
/// The longest key any provider here keeps (S3's, GCS's and Azure's 1 024), and so the
/// longest prefix that can match anything.
pub const MAX_PREFIX_BYTES: usize = 1024;
/// The most of a connection's credentials, as JSON (a service-account key or a PEM
/// private key fits many times over).
pub const MAX_CREDENTIALS_BYTES: usize = 32 * 1024;

/// A `provider_config` field's error, named as the request spelled it.
pub fn field(path: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(format!("provider_config.{path}"), message)
}

/// A connection's secret part: the provider's credential fields, discriminated by
/// `type` as the SDK does. Sealed at rest, never returned, never printed.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Credentials(Map<String, Value>);

impl Credentials {
    /// `fields` with a string `type` (`default_kind` when the request named none).
    pub fn from_request(given: &Value, default_kind: &str) -> Result<Self, FieldError> {
        let Value::Object(fields) = given else {
            return Err(field("credentials", "is required: an object with a type"));
        };
        let mut fields = fields.clone();
        match fields.get("type") {
            None | Some(Value::Null) => {
                fields.insert("type".into(), json!(default_kind));
            }
            Some(Value::String(_)) => {}
            Some(_) => return Err(field("credentials.type", "must be a string")),
        }
        let size = serde_json::to_vec(&fields).map_or(usize::MAX, |v| v.len());
        if size > MAX_CREDENTIALS_BYTES {
            return Err(field(
                "credentials",
                format!("must be at most {MAX_CREDENTIALS_BYTES} bytes as JSON"),
            ));
        }
        Ok(Credentials(fields))
    }

    /// The credential type (`access_key`, `service_account`, …).
    pub fn kind(&self) -> &str {
        self.0.get("type").and_then(Value::as_str).unwrap_or("")
    }

    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }

    /// A string field, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// These credentials with `fields` set (a renewal's new tokens).
    pub fn with_fields(&self, fields: Map<String, Value>) -> Credentials {
        let mut all = self.0.clone();
        all.extend(fields);
        Credentials(all)
    }

    /// The fields these credentials hold, for a message asking for them again.
    pub fn field_names(&self) -> Vec<&str> {
        self.0
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "type")
            .collect()
    }

    /// A PATCH's credentials over the stored ones: with the same `type`, fields the
    /// patch omits keep their stored values; a new type takes none of the old fields.
    pub fn merged(stored: &Credentials, patch: &Map<String, Value>) -> Credentials {
        let same_kind = patch
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(|t| t == stored.kind());
        let mut base = if same_kind {
            stored.0.clone()
        } else {
            Map::new()
        };
        base.extend(patch.clone());
        Credentials(base)
    }
}

// Never print a secret, even in a debug log.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.kind())
    }
}

/// A checked `provider_config`: the public settings (stored in the clear and returned)
/// and the credentials (sealed, never returned).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    pub provider_type: String,
    pub settings: Map<String, Value>,
    pub credentials: Credentials,
}

impl ProviderConfig {
    /// The config as returned: settings, and the credentials' type only.
    pub fn redacted(&self) -> Map<String, Value> {
        let mut out = self.settings.clone();
        out.insert(
            "credentials".into(),
            json!({"type": self.credentials.kind()}),
        );
        out
    }

    /// A string setting, if given.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings.get(name).and_then(Value::as_str)
    }
}

/// What a provider's connections share with the rest of the server beyond their check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderRules {
    /// Settings that say where a connection's requests go: changing one sends the
    /// credentials somewhere new, so the request must give them again.
    pub destination: &'static [&'static str],
    /// The setting that names the container (a GCS bucket, an Azure container, a Box
    /// folder) when a connection holds one: a sync's `source_path` is then a path inside
    /// it. `None`: the path's first segment names the bucket (`bucket/prefix`).
    pub container_setting: Option<&'static str>,
    /// The setting whose value prefixes every path inside the container, if any.
    pub prefix_setting: Option<&'static str>,
    /// The credential type of a request that names none (the quickstart's flat body).
    pub default_credentials: &'static str,
    /// Whether the source has paths at all: a feed (Mux's assets) has none, and a sync's
    /// `source_path` is then only `/`.
    pub paths: bool,
}

impl ProviderRules {
    /// The S3 family's: `bucket/prefix` paths, access keys by default.
    pub const S3: ProviderRules = ProviderRules {
        destination: &["endpoint_url", "account_id", "project_ref", "preset"],
        container_setting: None,
        prefix_setting: None,
        default_credentials: "access_key",
        paths: true,
    };

    /// Where `source_path` points under a connection with these rules and `settings`:
    /// the container and the prefix inside it.
    pub fn locate(
        &self,
        settings: &Map<String, Value>,
        source_path: &str,
    ) -> Result<(String, String), FieldError> {
        if !self.paths {
            if !source_path.trim_matches('/').is_empty() {
                return Err(FieldError::new(
                    "source_path",
                    "this provider's files have no paths: give \"/\"",
                ));
            }
            return Ok((String::new(), String::new()));
        }
        let container = self
            .container_setting
            .and_then(|k| settings.get(k))
            .and_then(Value::as_str);
        let Some(container) = container else {
            return split_source_path(source_path);
        };
        let base = self
            .prefix_setting
            .and_then(|k| settings.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim_start_matches('/');
        let inner = source_path.trim_start_matches('/');
        let prefix = match (base, inner) {
            ("", p) | (p, "") => p.to_string(),
            (b, p) if b.ends_with('/') => format!("{b}{p}"),
            (b, p) => format!("{b}/{p}"),
        };
        check_prefix(&prefix)?;
        Ok((container.to_string(), prefix))
    }
}

fn check_prefix(prefix: &str) -> Result<(), FieldError> {
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(FieldError::new(
            "source_path",
            format!("the prefix under the bucket must be at most {MAX_PREFIX_BYTES} bytes (the longest key)"),
        ));
    }
    Ok(())
}

/// `bucket/prefix` (the SDK's form) or the quickstart's `/prefix/` under a named bucket.
pub fn split_source_path(path: &str) -> Result<(String, String), FieldError> {
    let trimmed = path.trim_start_matches('/');
    let (bucket, prefix) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    check_prefix(prefix)?;
    if bucket.is_empty() || bucket.len() > 255 {
        return Err(FieldError::new(
            "source_path",
            "must start with a bucket name: bucket/prefix",
        ));
    }
    if bucket.contains(['?', '#', '\\']) || bucket.chars().any(char::is_whitespace) {
        return Err(FieldError::new(
            "source_path",
            "the bucket name is not valid",
        ));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// A string setting: `None` when absent, trimmed, refused when empty or not a string.
pub fn string_setting(
    settings: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, FieldError> {
    match settings.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(_) => Err(field(name, "must be a non-empty string")),
    }
}

/// A string credential field within `max` bytes, required or not.
pub fn credential_text(
    credentials: &Credentials,
    name: &str,
    max: usize,
    required: bool,
) -> Result<Option<String>, FieldError> {
    let path = format!("credentials.{name}");
    match credentials.fields().get(name) {
        None | Some(Value::Null) if required => Err(field(&path, "is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() && required => {
            Err(field(&path, "must not be empty"))
        }
        Some(Value::String(s)) if s.len() > max => {
            Err(field(&path, format!("must be at most {max} bytes")))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(field(&path, "must be a string")),
    }
}

/// Every setting a bounded string or a boolean, and only the ones the provider names.
pub fn check_settings(
    provider: &str,
    settings: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), FieldError> {
    for (key, value) in settings {
        if !allowed.contains(&key.as_str()) {
            return Err(field(key, format!("is not a {provider} setting")));
        }
        let ok = match value {
            Value::String(s) => s.len() <= MAX_SETTING_BYTES,
            Value::Bool(_) | Value::Null => true,
            _ => false,
        };
        if !ok {
            return Err(field(
                key,
                format!("must be a string of at most {MAX_SETTING_BYTES} bytes, or a boolean"),
            ));
        }
    }
    Ok(())
}

/// An endpoint is an http(s) URL with a host and no credentials in it.
pub fn check_endpoint_url(path: &str, endpoint: &str) -> Result<url::Url, FieldError> {
    let url = url::Url::parse(endpoint).map_err(|e| field(path, e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(field(path, "must be an http(s) URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(field(path, "must not carry credentials"));
    }
    Ok(url)
}

/// A stored connection; `sealed_credentials` is the credentials' envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Connection {
    pub connection_id: String,
    pub org_id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub provider_type: String,
    pub settings: Map<String, Value>,
    pub credential_type: String,
    pub sealed_credentials: String,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    pub status: ConnectionStatus,
    #[serde(default)]
    pub last_used_at: Option<String>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub consecutive_failures: i64,
    /// Made by a sync request that carried its connection inline (the quickstart's form).
    #[serde(default)]
    pub implicit: bool,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub version: i64,
}

impl Connection {
    pub fn redacted_config(&self) -> Map<String, Value> {
        let mut out = self.settings.clone();
        out.insert("credentials".into(), json!({"type": self.credential_type}));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_merge_by_type_and_never_print() {
        let stored = Credentials::from_request(
            &json!({"access_key_id": "AKIA", "secret_access_key": "s3cr3t"}),
            "access_key",
        )
        .unwrap();
        assert_eq!(stored.kind(), "access_key");
        assert!(!format!("{stored:?}").contains("s3cr3t"));
        let patched = Credentials::merged(
            &stored,
            json!({"access_key_id": "AKIB"}).as_object().unwrap(),
        );
        assert_eq!(patched.text("secret_access_key"), Some("s3cr3t"));
        let other = Credentials::merged(
            &stored,
            json!({"type": "iam_role", "role_arn": "arn:r"})
                .as_object()
                .unwrap(),
        );
        assert_eq!(
            other.text("secret_access_key"),
            None,
            "a new type takes none of the old fields"
        );
        assert!(Credentials::from_request(&json!("key"), "access_key").is_err());
    }

    #[test]
    fn source_paths() {
        assert_eq!(
            split_source_path("media/videos/").unwrap(),
            ("media".into(), "videos/".into())
        );
        assert_eq!(
            split_source_path("media").unwrap(),
            ("media".into(), "".into())
        );
        assert!(split_source_path("/").is_err());
        let rules = ProviderRules {
            container_setting: Some("bucket"),
            prefix_setting: Some("prefix"),
            ..ProviderRules::S3
        };
        let settings = json!({"bucket": "b", "prefix": "marketing"});
        assert_eq!(
            rules
                .locate(settings.as_object().unwrap(), "/videos/")
                .unwrap(),
            ("b".into(), "marketing/videos/".into())
        );
        let settings = json!({"bucket": "b"});
        assert_eq!(
            rules.locate(settings.as_object().unwrap(), "/").unwrap(),
            ("b".into(), "".into())
        );
        assert_eq!(
            ProviderRules::S3
                .locate(settings.as_object().unwrap(), "b2/x")
                .unwrap(),
            ("b2".into(), "x".into())
        );
    }
}
