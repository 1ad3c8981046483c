//! A GCS connection (the SDK's `GCSConfig`): `bucket`, an optional `prefix` and
//! `endpoint_url`, and `service_account` credentials holding the key file's JSON.

use serde_json::{Map, Value};
use sluice_core::domain::connections::{
    check_endpoint_url, check_settings, field, string_setting, Credentials, ProviderConfig,
};
use sluice_core::domain::schema::FieldError;

use super::auth::ServiceAccount;

const SETTINGS: &[&str] = &["bucket", "prefix", "endpoint_url"];

pub fn check(_: &str, config: &Map<String, Value>) -> Result<ProviderConfig, FieldError> {
    let mut settings = config.clone();
    settings.remove("provider_type");
    let mut credentials = Credentials::from_request(
        settings
            .remove("credentials")
            .as_ref()
            .unwrap_or(&Value::Null),
        "service_account",
    )?;
    check_settings("gcs", &settings, SETTINGS)?;
    let bucket = string_setting(&settings, "bucket")?.ok_or_else(|| {
        field(
            "bucket",
            "is required: the GCS bucket to sync from (no gs://)",
        )
    })?;
    check_bucket(&bucket)?;
    settings.insert("bucket".into(), Value::from(bucket));
    if let Some(endpoint) = string_setting(&settings, "endpoint_url")? {
        check_endpoint_url("endpoint_url", &endpoint)?;
    }
    if credentials.kind() != "service_account" {
        return Err(field(
            "credentials.type",
            "gcs takes credentials of type service_account",
        ));
    }
    for name in credentials.field_names() {
        if name != "service_account_json" {
            return Err(field(
                &format!("credentials.{name}"),
                "is not a field of service_account credentials",
            ));
        }
    }
    // The key file's JSON as an object (the SDK's form) or as its text.
    let json = match credentials.fields().get("service_account_json") {
        Some(Value::Object(o)) => o.clone(),
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(o)) => o,
            _ => {
                return Err(field(
                    "credentials.service_account_json",
                    "is not a JSON object",
                ))
            }
        },
        _ => {
            return Err(field(
                "credentials.service_account_json",
                "is required: the service-account key file's JSON",
            ))
        }
    };
    let key = ServiceAccount::parse(&json)?;
    check_endpoint_url("credentials.service_account_json.token_uri", &key.token_uri)?;
    let mut fields = credentials.fields().clone();
    fields.insert("service_account_json".into(), Value::Object(json));
    credentials = Credentials::from_request(&Value::Object(fields), "service_account")?;
    Ok(ProviderConfig {
        provider_type: "gcs".into(),
        settings,
        credentials,
    })
}

/// GCS's bucket names: 3 to 222 characters of lowercase letters, digits, `-`, `_` and
/// `.`, starting and ending with a letter or digit.
fn check_bucket(bucket: &str) -> Result<(), FieldError> {
    let allowed = bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=222).contains(&bucket.len())
        || !allowed
        || !ends(bucket.chars().next())
        || !ends(bucket.chars().last())
    {
        return Err(field(
            "bucket",
            "is not a GCS bucket name (3 to 222 lowercase letters, digits, -, _ and .)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub const TEST_KEY: &str = include_str!("../../tests/fixtures/gcs-test-key.pem");

    fn key_json() -> Value {
        json!({"type": "service_account", "project_id": "p", "private_key_id": "k1",
            "private_key": TEST_KEY, "client_email": "sync@p.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token"})
    }

    #[test]
    fn the_sdk_form_and_the_key_as_text_are_taken() {
        let sdk = json!({"bucket": "media", "prefix": "videos/", "credentials": {
            "type": "service_account", "service_account_json": key_json()}});
        let c = check("gcs", sdk.as_object().unwrap()).unwrap();
        assert_eq!(c.setting("bucket"), Some("media"));
        assert!(!serde_json::to_string(&c.redacted())
            .unwrap()
            .contains("PRIVATE KEY"));
        let text = json!({"bucket": "media", "credentials": {
            "service_account_json": key_json().to_string()}});
        let c = check("gcs", text.as_object().unwrap()).unwrap();
        assert!(c.credentials.fields()["service_account_json"].is_object());
    }

    #[test]
    fn bad_configs_name_the_field() {
        let no_bucket = json!({"credentials": {"service_account_json": key_json()}});
        assert_eq!(
            check("gcs", no_bucket.as_object().unwrap())
                .unwrap_err()
                .field,
            "provider_config.bucket"
        );
        let bad_bucket =
            json!({"bucket": "Has Spaces", "credentials": {"service_account_json": key_json()}});
        assert_eq!(
            check("gcs", bad_bucket.as_object().unwrap())
                .unwrap_err()
                .field,
            "provider_config.bucket"
        );
        let mut broken = key_json();
        broken["private_key"] =
            json!("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n");
        let bad_key = json!({"bucket": "media", "credentials": {"service_account_json": broken}});
        let err = check("gcs", bad_key.as_object().unwrap()).unwrap_err();
        assert_eq!(
            err.field,
            "provider_config.credentials.service_account_json.private_key"
        );
        let mut no_email = key_json();
        no_email.as_object_mut().unwrap().remove("client_email");
        let err = check(
            "gcs",
            json!({"bucket": "media", "credentials": {"service_account_json": no_email}})
                .as_object()
                .unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            err.field,
            "provider_config.credentials.service_account_json.client_email"
        );
        let keys = json!({"bucket": "media", "credentials": {"type": "access_key", "access_key_id": "a", "secret_access_key": "b"}});
        assert_eq!(
            check("gcs", keys.as_object().unwrap()).unwrap_err().field,
            "provider_config.credentials.type"
        );
    }
}
