//! The S3 family's connections: one row per store (as rclone's provider files), read by
//! one check. A row says which settings and credentials the store takes, where its
//! endpoint comes from, its default region and how it addresses buckets.

use serde_json::{Map, Value};
use sluice_core::domain::connections::{
    check_endpoint_url, check_settings, credential_text, field, string_setting, Credentials,
    ProviderConfig,
};
use sluice_core::domain::schema::FieldError;

/// Where a store's endpoint comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// AWS: the SDK's own resolution (which honours `AWS_ENDPOINT_URL_S3`) unless the
    /// connection gives `endpoint_url`.
    Sdk,
    /// A fixed default, unless the connection gives `endpoint_url`.
    Fixed(&'static str),
    /// Made from a setting (`{}` in the template), unless the connection gives one.
    From {
        setting: &'static str,
        template: &'static str,
        /// The setting's value when it is not given; `None`: required.
        default: Option<&'static str>,
    },
    /// Found at sign-in (Backblaze's `b2_authorize_account`).
    Discovered,
}

/// How a store addresses buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `bucket.host` on AWS's own endpoints, path-style on any other.
    VirtualUnlessEndpoint,
    Virtual,
    Path,
}

/// One S3-compatible store.
#[derive(Debug)]
pub struct Preset {
    /// The `provider_type` a request gives.
    pub name: &'static str,
    /// What its connections are stored as (`r2` and `wasabi` are `s3` connections with
    /// a `preset` setting, as the SDK has no names of their own for them).
    pub stored_as: &'static str,
    pub settings: &'static [&'static str],
    pub credentials: &'static [&'static str],
    pub endpoint: Endpoint,
    pub region: &'static str,
    pub addressing: Addressing,
}

const S3_SETTINGS: &[&str] = &[
    "region",
    "endpoint_url",
    "use_ssl",
    "verify_ssl",
    "preset",
    "account_id",
    "bucket",
];

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "s3",
        stored_as: "s3",
        settings: S3_SETTINGS,
        credentials: &["access_key", "iam_role"],
        endpoint: Endpoint::Sdk,
        region: "us-east-1",
        addressing: Addressing::VirtualUnlessEndpoint,
    },
    Preset {
        name: "r2",
        stored_as: "s3",
        settings: S3_SETTINGS,
        credentials: &["access_key", "iam_role"],
        endpoint: Endpoint::From {
            setting: "account_id",
            template: "https://{}.r2.cloudflarestorage.com",
            default: None,
        },
        region: "auto",
        addressing: Addressing::Path,
    },
    Preset {
        name: "wasabi",
        stored_as: "s3",
        settings: S3_SETTINGS,
        credentials: &["access_key", "iam_role"],
        endpoint: Endpoint::From {
            setting: "region",
            template: "https://s3.{}.wasabisys.com",
            default: Some("us-east-1"),
        },
        region: "us-east-1",
        addressing: Addressing::Path,
    },
    Preset {
        name: "tigris",
        stored_as: "tigris",
        settings: &["region", "endpoint_url", "bucket"],
        credentials: &["access_key"],
        endpoint: Endpoint::Fixed("https://fly.storage.tigris.dev"),
        region: "auto",
        // Tigris moved to virtual hosts for buckets made after 2025-02-19.
        addressing: Addressing::Virtual,
    },
    Preset {
        name: "backblaze",
        stored_as: "backblaze",
        settings: &["bucket"],
        credentials: &["application_key"],
        endpoint: Endpoint::Discovered,
        region: "us-east-1",
        addressing: Addressing::Path,
    },
    Preset {
        name: "supabase",
        stored_as: "supabase",
        settings: &["project_ref", "region", "endpoint_url", "bucket"],
        credentials: &["access_key", "service_role"],
        endpoint: Endpoint::From {
            setting: "project_ref",
            template: "https://{}.storage.supabase.co/storage/v1/s3",
            default: None,
        },
        region: "us-east-1",
        addressing: Addressing::Path,
    },
];

/// A credential type's fields: name, most bytes, required.
type Fields = &'static [(&'static str, usize, bool)];

/// The S3 family's credential types and their fields.
const CREDENTIALS: &[(&str, Fields)] = &[
    (
        "access_key",
        &[
            ("access_key_id", 128, true),
            ("secret_access_key", 1024, true),
            ("session_token", 8192, false),
        ],
    ),
    (
        "iam_role",
        &[("role_arn", 2048, true), ("external_id", 128, true)],
    ),
    (
        "application_key",
        &[("key_id", 128, true), ("application_key", 1024, true)],
    ),
    (
        "service_role",
        &[("anon_key", 8192, true), ("service_role_key", 8192, true)],
    ),
];

/// The row a request's name (or a stored `s3` connection's `preset`) picks.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The row a stored connection was made from.
pub fn stored_preset(config: &ProviderConfig) -> &'static Preset {
    let named = match config.provider_type.as_str() {
        "s3" => config.setting("preset").unwrap_or("s3"),
        other => other,
    };
    preset(named).unwrap_or(&PRESETS[0])
}

/// Checks an S3-family connection: the row's settings and credentials, the endpoint it
/// implies, a region that is a plain name.
pub fn check(
    provider_type: &str,
    config: &Map<String, Value>,
) -> Result<ProviderConfig, FieldError> {
    let mut settings = config.clone();
    settings.remove("provider_type");
    let credentials = Credentials::from_request(
        settings
            .remove("credentials")
            .as_ref()
            .unwrap_or(&Value::Null),
        "access_key",
    )?;
    let row = match (
        provider_type,
        settings.get("preset").and_then(Value::as_str),
    ) {
        ("s3", Some(p @ ("r2" | "wasabi"))) => preset(p),
        (name, _) => preset(name),
    }
    .ok_or_else(|| {
        FieldError::new(
            "provider_type",
            format!("{provider_type} is not an S3 store"),
        )
    })?;
    check_settings(row.stored_as, &settings, row.settings)?;
    check_credentials(row, &credentials)?;
    fill_endpoint(row, &mut settings)?;
    settings
        .entry("region")
        .or_insert_with(|| Value::from(row.region));
    if row.stored_as != row.name {
        settings.insert("preset".into(), Value::from(row.name));
    }
    check_region(&settings)?;
    if let Some(endpoint) = string_setting(&settings, "endpoint_url")? {
        check_endpoint_url("endpoint_url", &endpoint)?;
    }
    Ok(ProviderConfig {
        provider_type: row.stored_as.to_string(),
        settings,
        credentials,
    })
}

fn check_credentials(row: &Preset, credentials: &Credentials) -> Result<(), FieldError> {
    let kind = credentials.kind();
    let fields = CREDENTIALS
        .iter()
        .find(|(k, _)| *k == kind && row.credentials.contains(k))
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            field(
                "credentials.type",
                format!(
                    "{} takes credentials of type {}",
                    row.stored_as,
                    row.credentials.join(" or ")
                ),
            )
        })?;
    for name in credentials.field_names() {
        if !fields.iter().any(|(f, _, _)| *f == name) {
            return Err(field(
                &format!("credentials.{name}"),
                format!("is not a field of {kind} credentials"),
            ));
        }
    }
    for (name, max, required) in fields {
        credential_text(credentials, name, *max, *required)?;
    }
    if kind == "iam_role" {
        if !credentials
            .text("role_arn")
            .unwrap_or("")
            .starts_with("arn:")
        {
            return Err(field("credentials.role_arn", "must be an IAM role ARN"));
        }
        if credentials.text("external_id").unwrap_or("").len() < 8 {
            return Err(field(
                "credentials.external_id",
                "must be 8 to 128 characters",
            ));
        }
    }
    Ok(())
}

/// The endpoint a row implies, unless the connection gave one.
fn fill_endpoint(row: &Preset, settings: &mut Map<String, Value>) -> Result<(), FieldError> {
    match row.endpoint {
        Endpoint::Sdk | Endpoint::Discovered => {}
        Endpoint::Fixed(url) => {
            settings
                .entry("endpoint_url")
                .or_insert_with(|| Value::from(url));
        }
        Endpoint::From {
            setting,
            template,
            default,
        } => {
            let value = match (string_setting(settings, setting)?, default) {
                (Some(v), _) => v,
                (None, Some(d)) => d.to_string(),
                (None, None) => {
                    return Err(field(
                        setting,
                        format!(
                            "is required for {} (the endpoint is {})",
                            row.name,
                            template.replace("{}", &format!("<{setting}>"))
                        ),
                    ))
                }
            };
            if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(field(setting, "must be letters, digits and dashes"));
            }
            settings
                .entry("endpoint_url")
                .or_insert_with(|| Value::from(template.replace("{}", &value)));
            settings.insert(setting.into(), Value::from(value));
        }
    }
    Ok(())
}

fn check_region(settings: &Map<String, Value>) -> Result<(), FieldError> {
    if let Some(region) = string_setting(settings, "region")? {
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
        check(p, v.as_object().unwrap())
    }

    const KEYS: &str =
        r#"{"type": "access_key", "access_key_id": "AK", "secret_access_key": "SK"}"#;

    fn keys() -> Value {
        serde_json::from_str(KEYS).unwrap()
    }

    #[test]
    fn presets_fill_endpoints_and_regions() {
        let r2 = parse("r2", json!({"account_id": "abc123", "credentials": keys()})).unwrap();
        assert_eq!(r2.provider_type, "s3");
        assert_eq!(
            r2.setting("endpoint_url"),
            Some("https://abc123.r2.cloudflarestorage.com")
        );
        assert_eq!(
            (r2.setting("region"), r2.setting("preset")),
            (Some("auto"), Some("r2"))
        );
        // A stored R2 connection re-checked as `s3` (a PATCH) keeps being R2.
        let again = parse(
            "s3",
            Value::Object(r2.redacted())
                .as_object()
                .map(|m| {
                    let mut m = m.clone();
                    m.insert("credentials".into(), keys());
                    Value::Object(m)
                })
                .unwrap(),
        )
        .unwrap();
        assert_eq!(stored_preset(&again).name, "r2");
        let wasabi = parse(
            "wasabi",
            json!({"region": "eu-central-1", "credentials": keys()}),
        )
        .unwrap();
        assert_eq!(
            wasabi.setting("endpoint_url"),
            Some("https://s3.eu-central-1.wasabisys.com")
        );
        let aws = parse("s3", json!({"credentials": keys()})).unwrap();
        assert_eq!(
            (aws.setting("endpoint_url"), aws.setting("region")),
            (None, Some("us-east-1"))
        );
        let tigris = parse("tigris", json!({"credentials": keys()})).unwrap();
        assert_eq!(
            tigris.setting("endpoint_url"),
            Some("https://fly.storage.tigris.dev")
        );
        let supa = parse("supabase", json!({"project_ref": "proj", "credentials": {"type": "service_role", "anon_key": "anon", "service_role_key": "jwt"}})).unwrap();
        assert_eq!(
            supa.setting("endpoint_url"),
            Some("https://proj.storage.supabase.co/storage/v1/s3")
        );
    }

    #[test]
    fn bad_configs_name_the_field() {
        let err = parse("s3", json!({})).unwrap_err();
        assert_eq!(err.field, "provider_config.credentials");
        let err = parse("s3", json!({"credentials": {"type": "iam_role", "role_arn": "arn:aws:iam::1:role/r", "external_id": "short"}})).unwrap_err();
        assert_eq!(err.field, "provider_config.credentials.external_id");
        let err = parse("s3", json!({"bogus": 1, "credentials": keys()})).unwrap_err();
        assert_eq!(err.field, "provider_config.bogus");
        let err = parse("tigris", json!({"credentials": {"type": "iam_role", "role_arn": "arn:x", "external_id": "12345678"}})).unwrap_err();
        assert_eq!(err.field, "provider_config.credentials.type");
        let err = parse("r2", json!({"credentials": keys()})).unwrap_err();
        assert_eq!(err.field, "provider_config.account_id");
        let err = parse("s3", json!({"credentials": {"type": "access_key", "access_key_id": "AK", "secret_access_key": "SK", "extra": "x"}})).unwrap_err();
        assert_eq!(err.field, "provider_config.credentials.extra");
        let err = parse("s3", json!({"credentials": {"type": "access_key", "access_key_id": "AK", "secret_access_key": "x".repeat(1025)}})).unwrap_err();
        assert_eq!(err.field, "provider_config.credentials.secret_access_key");
        let err = parse(
            "s3",
            json!({"endpoint_url": "ftp://x", "credentials": keys()}),
        )
        .unwrap_err();
        assert_eq!(err.field, "provider_config.endpoint_url");
    }
}
