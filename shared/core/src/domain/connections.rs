//! Storage connections: which provider, where, with what credentials. Parsing and the
//! per-provider presets are pure; the credentials are sealed before they are stored
//! and opened only to build a [`SourceSpec`].

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::schema::FieldError;
use super::status::ConnectionStatus;

/// The providers this server syncs from (the SDK's names; `r2` and `wasabi` are
/// accepted as presets of `s3`).
pub const SUPPORTED: &[&str] = &["s3", "tigris", "backblaze", "supabase"];
/// The SDK's other providers: accepted names, refused with a clear reason.
const NOT_YET: &[&str] = &["gcs", "azure_blob", "box", "mux"];

/// The most of any one setting (an endpoint URL, a region, a bucket name).
pub const MAX_SETTING_BYTES: usize = 1024;
/// S3's longest key, and so the longest prefix that can match anything.
pub const MAX_PREFIX_BYTES: usize = 1024;

pub const TIGRIS_ENDPOINT: &str = "https://fly.storage.tigris.dev";

/// A connection's secret part, by `type` as the SDK discriminates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Credentials {
    AccessKey {
        access_key_id: String,
        secret_access_key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_token: Option<String>,
    },
    IamRole {
        role_arn: String,
        external_id: String,
    },
    /// Backblaze: key id and application key.
    ApplicationKey {
        key_id: String,
        application_key: String,
    },
    /// Supabase: the project's anon key and a service-role JWT as session token.
    ServiceRole {
        anon_key: String,
        service_role_key: String,
    },
}

impl Credentials {
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::AccessKey { .. } => "access_key",
            Credentials::IamRole { .. } => "iam_role",
            Credentials::ApplicationKey { .. } => "application_key",
            Credentials::ServiceRole { .. } => "service_role",
        }
    }

    /// The fields a request gives for credentials of this type.
    pub fn field_names(&self) -> &'static [&'static str] {
        match self {
            Credentials::AccessKey { .. } => {
                &["access_key_id", "secret_access_key", "session_token if any"]
            }
            Credentials::IamRole { .. } => &["role_arn", "external_id"],
            Credentials::ApplicationKey { .. } => &["key_id", "application_key"],
            Credentials::ServiceRole { .. } => &["anon_key", "service_role_key"],
        }
    }

    /// Every secret field within its length limit (a bounded item, a bounded header).
    fn check_lengths(&self) -> Result<(), FieldError> {
        let fields: Vec<(&str, &str, usize)> = match self {
            // access_key_id (1–128) and external_id (8–128) have their checks in `parse`.
            Credentials::AccessKey {
                secret_access_key,
                session_token,
                ..
            } => vec![
                ("secret_access_key", secret_access_key, 1024),
                (
                    "session_token",
                    session_token.as_deref().unwrap_or(""),
                    8192,
                ),
            ],
            Credentials::IamRole { role_arn, .. } => vec![("role_arn", role_arn, 2048)],
            Credentials::ApplicationKey {
                key_id,
                application_key,
            } => vec![
                ("key_id", key_id, 128),
                ("application_key", application_key, 1024),
            ],
            Credentials::ServiceRole {
                anon_key,
                service_role_key,
            } => vec![
                ("anon_key", anon_key, 8192),
                ("service_role_key", service_role_key, 8192),
            ],
        };
        for (name, value, max) in fields {
            if value.len() > max {
                return Err(field(
                    &format!("credentials.{name}"),
                    format!("must be at most {max} bytes"),
                ));
            }
        }
        Ok(())
    }

    /// A PATCH's credentials over the stored ones: with the same `type`, fields the
    /// patch omits keep their stored values.
    pub fn merged(
        stored: &Credentials,
        patch: &Map<String, Value>,
    ) -> Result<Credentials, FieldError> {
        let mut base = match serde_json::to_value(stored) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let same_kind = patch
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(|t| t == stored.kind());
        if !same_kind {
            base = Map::new();
        }
        base.extend(patch.clone());
        serde_json::from_value(Value::Object(base))
            .map_err(|e| FieldError::new("provider_config.credentials", e.to_string()))
    }
}

/// A parsed `provider_config`: the public settings (stored in the clear and returned)
/// and the credentials (sealed, never returned).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    pub provider_type: String,
    pub settings: Map<String, Value>,
    pub credentials: Credentials,
}

fn field(path: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(format!("provider_config.{path}"), message)
}

fn string(settings: &Map<String, Value>, name: &str) -> Result<Option<String>, FieldError> {
    match settings.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(_) => Err(field(name, "must be a non-empty string")),
    }
}

/// Every setting a bounded string or a boolean.
fn check_setting_values(settings: &Map<String, Value>) -> Result<(), FieldError> {
    for (key, value) in settings {
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

/// Settings each provider accepts beside `credentials` (the SDK's fields, and the
/// Sluice presets' own).
fn allowed(provider: &str) -> &'static [&'static str] {
    match provider {
        "s3" => &[
            "region",
            "endpoint_url",
            "use_ssl",
            "verify_ssl",
            "preset",
            "account_id",
            "bucket",
        ],
        "tigris" => &["region", "endpoint_url", "bucket"],
        "backblaze" => &["bucket"],
        "supabase" => &["project_ref", "region", "endpoint_url", "bucket"],
        _ => &[],
    }
}

impl ProviderConfig {
    /// Checks a create request's `provider_type` and `provider_config`, filling what
    /// the presets imply: R2's endpoint from `account_id`, Wasabi's from `region`,
    /// Tigris's default endpoint, Supabase's from `project_ref`.
    pub fn parse(provider_type: &str, config: &Map<String, Value>) -> Result<Self, FieldError> {
        let (provider, preset) = provider_of(provider_type)?;
        let credentials = match config.get("credentials") {
            Some(Value::Object(c)) => {
                serde_json::from_value::<Credentials>(Value::Object(c.clone()))
                    .map_err(|e| field("credentials", e.to_string()))?
            }
            _ => return Err(field("credentials", "is required: an object with a type")),
        };
        credentials.check_lengths()?;
        let mut settings = config.clone();
        settings.remove("credentials");
        settings.remove("provider_type");
        check_setting_values(&settings)?;
        let preset = preset.or_else(|| match settings.get("preset").and_then(Value::as_str) {
            Some("r2") => Some("r2"),
            Some("wasabi") => Some("wasabi"),
            _ => None,
        });
        for key in settings.keys() {
            if !allowed(provider).contains(&key.as_str()) {
                return Err(field(key, format!("is not a {provider} setting")));
            }
        }
        check_credentials(provider, &credentials)?;
        apply_preset(preset, &mut settings)?;
        apply_defaults(provider, &mut settings)?;
        check_endpoint_and_region(&settings)?;
        Ok(ProviderConfig {
            provider_type: provider.to_string(),
            settings,
            credentials,
        })
    }

    /// The config as returned: settings, and the credentials' type only.
    pub fn redacted(&self) -> Map<String, Value> {
        let mut out = self.settings.clone();
        out.insert(
            "credentials".into(),
            serde_json::json!({"type": self.credentials.kind()}),
        );
        out
    }

    /// Where and how to reach the source, for `bucket` (from the sync's source path).
    pub fn spec(&self, bucket: &str, b2_api_url: &str) -> SourceSpec {
        let s = |k: &str| {
            self.settings
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let endpoint = s("endpoint_url");
        let region = s("region").unwrap_or_else(|| "us-east-1".into());
        let credentials = match (&self.provider_type[..], &self.credentials) {
            (
                "supabase",
                Credentials::ServiceRole {
                    anon_key,
                    service_role_key,
                },
            ) => SpecCredentials::Static {
                access_key_id: s("project_ref").unwrap_or_default(),
                secret_access_key: anon_key.clone(),
                session_token: Some(service_role_key.clone()),
            },
            (
                _,
                Credentials::AccessKey {
                    access_key_id,
                    secret_access_key,
                    session_token,
                },
            ) => SpecCredentials::Static {
                access_key_id: access_key_id.clone(),
                secret_access_key: secret_access_key.clone(),
                session_token: session_token.clone(),
            },
            (
                _,
                Credentials::IamRole {
                    role_arn,
                    external_id,
                },
            ) => SpecCredentials::AssumeRole {
                role_arn: role_arn.clone(),
                external_id: external_id.clone(),
            },
            (
                _,
                Credentials::ApplicationKey {
                    key_id,
                    application_key,
                },
            ) => SpecCredentials::Backblaze {
                key_id: key_id.clone(),
                application_key: application_key.clone(),
                api_url: b2_api_url.to_string(),
            },
            (_, Credentials::ServiceRole { .. }) => SpecCredentials::Static {
                access_key_id: String::new(),
                secret_access_key: String::new(),
                session_token: None,
            },
        };
        // AWS S3 addresses buckets by virtual host; every other S3-compatible store here
        // takes (or requires) path-style, except Tigris, which moved to virtual hosts.
        let path_style = match &self.provider_type[..] {
            "s3" => endpoint.is_some(),
            "tigris" => false,
            _ => true,
        };
        SourceSpec {
            provider: self.provider_type.clone(),
            endpoint,
            region,
            path_style,
            // R2 and B2 reject the SDK's default CRC checksum headers.
            checksums_when_required: self.provider_type != "s3"
                || self.settings.contains_key("endpoint_url"),
            bucket: bucket.to_string(),
            credentials,
        }
    }
}

/// What an adapter needs to open one source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSpec {
    pub provider: String,
    /// `None`: the provider's default (for AWS S3, the SDK's own resolution, which
    /// honours `AWS_ENDPOINT_URL_S3`).
    pub endpoint: Option<String>,
    pub region: String,
    pub path_style: bool,
    /// Send checksum headers only when an operation requires them.
    pub checksums_when_required: bool,
    pub bucket: String,
    pub credentials: SpecCredentials,
}

#[derive(Clone, PartialEq)]
pub enum SpecCredentials {
    Static {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    },
    AssumeRole {
        role_arn: String,
        external_id: String,
    },
    /// Backblaze: `b2_authorize_account` at `api_url` gives the S3 endpoint.
    Backblaze {
        key_id: String,
        application_key: String,
        api_url: String,
    },
}

// Never print a secret, even in a debug log.
impl std::fmt::Debug for SpecCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpecCredentials::Static { access_key_id, .. } => {
                write!(f, "Static({access_key_id}, ***)")
            }
            SpecCredentials::AssumeRole { role_arn, .. } => {
                write!(f, "AssumeRole({role_arn}, ***)")
            }
            SpecCredentials::Backblaze {
                key_id, api_url, ..
            } => write!(f, "Backblaze({key_id}, ***, {api_url})"),
        }
    }
}

/// `bucket/prefix` (the SDK's form) or the quickstart's `/prefix/` under a named bucket.
pub fn split_source_path(path: &str) -> Result<(String, String), FieldError> {
    let trimmed = path.trim_start_matches('/');
    let (bucket, prefix) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(FieldError::new(
            "source_path",
            format!("the prefix under the bucket must be at most {MAX_PREFIX_BYTES} bytes (S3's longest key)"),
        ));
    }
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

/// The provider a `provider_type` names, and the S3 preset it implies (`r2`, `wasabi`).
fn provider_of(provider_type: &str) -> Result<(&str, Option<&str>), FieldError> {
    match provider_type {
        "r2" | "wasabi" => Ok(("s3", Some(provider_type))),
        p if SUPPORTED.contains(&p) => Ok((p, None)),
        p if NOT_YET.contains(&p) => Err(FieldError::new(
            "provider_type",
            format!(
                "{p} syncs are not supported by this server yet; supported: {}",
                SUPPORTED.join(", ")
            ),
        )),
        p => Err(FieldError::new(
            "provider_type",
            format!(
                "unknown provider {p:?}; supported: {}, r2, wasabi",
                SUPPORTED.join(", ")
            ),
        )),
    }
}

/// The credential types a provider takes, and their fields' shapes.
fn check_credentials(provider: &str, credentials: &Credentials) -> Result<(), FieldError> {
    let ok_kinds: &[&str] = match provider {
        "s3" => &["access_key", "iam_role"],
        "tigris" => &["access_key"],
        "backblaze" => &["application_key"],
        "supabase" => &["access_key", "service_role"],
        _ => &[],
    };
    if !ok_kinds.contains(&credentials.kind()) {
        return Err(field(
            "credentials.type",
            format!(
                "{provider} takes credentials of type {}",
                ok_kinds.join(" or ")
            ),
        ));
    }
    match credentials {
        Credentials::AccessKey {
            access_key_id,
            secret_access_key,
            ..
        } => {
            if access_key_id.is_empty() || access_key_id.len() > 128 {
                return Err(field(
                    "credentials.access_key_id",
                    "must be 1 to 128 characters",
                ));
            }
            if secret_access_key.is_empty() {
                return Err(field("credentials.secret_access_key", "must not be empty"));
            }
        }
        Credentials::IamRole {
            role_arn,
            external_id,
        } => {
            if !role_arn.starts_with("arn:") {
                return Err(field("credentials.role_arn", "must be an IAM role ARN"));
            }
            if !(8..=128).contains(&external_id.len()) {
                return Err(field(
                    "credentials.external_id",
                    "must be 8 to 128 characters",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// What an S3 preset implies: R2's endpoint from `account_id`, Wasabi's from `region`.
fn apply_preset(preset: Option<&str>, settings: &mut Map<String, Value>) -> Result<(), FieldError> {
    match preset {
        Some("r2") => {
            let account = string(settings, "account_id")?.ok_or_else(|| {
                field(
                    "account_id",
                    "is required for R2 (the endpoint is <account_id>.r2.cloudflarestorage.com)",
                )
            })?;
            if !account.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(field("account_id", "must be letters and digits"));
            }
            settings.entry("endpoint_url").or_insert_with(|| {
                Value::from(format!("https://{account}.r2.cloudflarestorage.com"))
            });
            settings
                .entry("region")
                .or_insert_with(|| Value::from("auto"));
            settings.insert("preset".into(), Value::from("r2"));
        }
        Some("wasabi") => {
            let region = string(settings, "region")?.unwrap_or_else(|| "us-east-1".into());
            if !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(field("region", "is not a region name"));
            }
            settings
                .entry("endpoint_url")
                .or_insert_with(|| Value::from(format!("https://s3.{region}.wasabisys.com")));
            settings.insert("region".into(), Value::from(region));
            settings.insert("preset".into(), Value::from("wasabi"));
        }
        _ => {}
    }
    Ok(())
}

/// A provider's defaults: regions, Tigris's endpoint, Supabase's from `project_ref`.
fn apply_defaults(provider: &str, settings: &mut Map<String, Value>) -> Result<(), FieldError> {
    match provider {
        "s3" => {
            settings
                .entry("region")
                .or_insert_with(|| Value::from("us-east-1"));
        }
        "tigris" => {
            settings
                .entry("region")
                .or_insert_with(|| Value::from("auto"));
            settings
                .entry("endpoint_url")
                .or_insert_with(|| Value::from(TIGRIS_ENDPOINT));
        }
        "supabase" => {
            let project = string(settings, "project_ref")?.ok_or_else(|| {
                field(
                    "project_ref",
                    "is required (the endpoint is derived from it)",
                )
            })?;
            if !project.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(field("project_ref", "must be letters and digits"));
            }
            settings.entry("endpoint_url").or_insert_with(|| {
                Value::from(format!(
                    "https://{project}.storage.supabase.co/storage/v1/s3"
                ))
            });
            settings
                .entry("region")
                .or_insert_with(|| Value::from("us-east-1"));
        }
        _ => {}
    }
    Ok(())
}

/// An endpoint is an http(s) URL with a host and no credentials; a region a plain name.
fn check_endpoint_and_region(settings: &Map<String, Value>) -> Result<(), FieldError> {
    if let Some(endpoint) = string(settings, "endpoint_url")? {
        let url = url::Url::parse(&endpoint).map_err(|e| field("endpoint_url", e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(field("endpoint_url", "must be an http(s) URL with a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(field("endpoint_url", "must not carry credentials"));
        }
    }
    if let Some(region) = string(settings, "region")? {
        let plain = region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if region.len() > 64 || !plain {
            return Err(field(
                "region",
                "is not a region name (letters, digits, dashes and underscores)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(p: &str, v: Value) -> Result<ProviderConfig, FieldError> {
        ProviderConfig::parse(p, v.as_object().unwrap())
    }

    #[test]
    fn presets_fill_endpoints_and_addressing() {
        let keys = json!({"type": "access_key", "access_key_id": "AK", "secret_access_key": "SK"});
        let r2 = parse("r2", json!({"account_id": "abc123", "credentials": keys})).unwrap();
        assert_eq!(r2.provider_type, "s3");
        let spec = r2.spec("b", "");
        assert_eq!(
            spec.endpoint.as_deref(),
            Some("https://abc123.r2.cloudflarestorage.com")
        );
        assert_eq!(
            (
                spec.region.as_str(),
                spec.path_style,
                spec.checksums_when_required
            ),
            ("auto", true, true)
        );
        let wasabi = parse(
            "wasabi",
            json!({"region": "eu-central-1", "credentials": keys}),
        )
        .unwrap();
        assert_eq!(
            wasabi.spec("b", "").endpoint.as_deref(),
            Some("https://s3.eu-central-1.wasabisys.com")
        );
        let aws = parse("s3", json!({"credentials": keys}))
            .unwrap()
            .spec("b", "");
        assert_eq!(
            (aws.endpoint, aws.path_style, aws.checksums_when_required),
            (None, false, false)
        );
        let tigris = parse("tigris", json!({"credentials": keys}))
            .unwrap()
            .spec("b", "");
        assert_eq!(
            (tigris.endpoint.as_deref(), tigris.path_style),
            (Some(TIGRIS_ENDPOINT), false)
        );
        let supa = parse("supabase", json!({"project_ref": "proj", "credentials": {"type": "service_role", "anon_key": "anon", "service_role_key": "jwt"}})).unwrap();
        let spec = supa.spec("b", "");
        assert_eq!(
            spec.endpoint.as_deref(),
            Some("https://proj.storage.supabase.co/storage/v1/s3")
        );
        assert!(
            matches!(spec.credentials, SpecCredentials::Static { ref access_key_id, ref session_token, .. } if access_key_id == "proj" && session_token.as_deref() == Some("jwt"))
        );
    }

    #[test]
    fn bad_configs_name_the_field() {
        let err = parse("s3", json!({})).unwrap_err();
        assert_eq!(err.field, "provider_config.credentials");
        let err = parse("s3", json!({"credentials": {"type": "iam_role", "role_arn": "arn:aws:iam::1:role/r", "external_id": "short"}})).unwrap_err();
        assert_eq!(err.field, "provider_config.credentials.external_id");
        let err = parse("gcs", json!({})).unwrap_err();
        assert!(
            err.reason.contains("not supported by this server yet"),
            "{}",
            err.reason
        );
        let err = parse("s3", json!({"bogus": 1, "credentials": {"type": "access_key", "access_key_id": "a", "secret_access_key": "b"}})).unwrap_err();
        assert_eq!(err.field, "provider_config.bogus");
        let err = parse("tigris", json!({"credentials": {"type": "iam_role", "role_arn": "arn:x", "external_id": "12345678"}})).unwrap_err();
        assert_eq!(err.field, "provider_config.credentials.type");
    }

    #[test]
    fn redaction_keeps_only_the_type_and_patches_keep_omitted_fields() {
        let c = parse("s3", json!({"credentials": {"type": "access_key", "access_key_id": "AKIA", "secret_access_key": "s3cr3t"}})).unwrap();
        let shown = serde_json::to_string(&c.redacted()).unwrap();
        assert!(
            !shown.contains("AKIA") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        let patched = Credentials::merged(
            &c.credentials,
            json!({"access_key_id": "AKIB"}).as_object().unwrap(),
        )
        .unwrap();
        assert_eq!(
            patched,
            Credentials::AccessKey {
                access_key_id: "AKIB".into(),
                secret_access_key: "s3cr3t".into(),
                session_token: None
            }
        );
        let other = Credentials::merged(
            &c.credentials,
            json!({"type": "iam_role", "role_arn": "arn:r"})
                .as_object()
                .unwrap(),
        );
        assert!(other.is_err(), "a new type takes none of the old fields");
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
    }
}
