//! An Azure Blob connection (the SDK's `AzureBlobConfig`): `container`, an optional
//! `prefix`, `account_name` and `endpoint_url`, and `account_key` credentials (the
//! account's name and key) or `managed_identity` ones (an optional `client_id`).

use serde_json::{Map, Value};
use sluice_core::domain::connections::{
    check_endpoint_url, check_settings, credential_text, field, string_setting, Credentials,
    ProviderConfig,
};
use sluice_core::domain::schema::FieldError;
use sluice_core::ports::{SourceError, SourceResult};

const SETTINGS: &[&str] = &["container", "prefix", "account_name", "endpoint_url"];

pub fn check(_: &str, config: &Map<String, Value>) -> Result<ProviderConfig, FieldError> {
    let mut settings = config.clone();
    settings.remove("provider_type");
    let credentials = Credentials::from_request(
        settings
            .remove("credentials")
            .as_ref()
            .unwrap_or(&Value::Null),
        "account_key",
    )?;
    check_settings("azure_blob", &settings, SETTINGS)?;
    let container = string_setting(&settings, "container")?
        .ok_or_else(|| field("container", "is required: the container to sync from"))?;
    check_container(&container)?;
    settings.insert("container".into(), Value::from(container));
    if let Some(endpoint) = string_setting(&settings, "endpoint_url")? {
        check_endpoint_url("endpoint_url", &endpoint)?;
    }
    let fields: &[(&str, usize, bool)] = match credentials.kind() {
        "account_key" => &[("account_name", 24, true), ("account_key", 256, true)],
        "managed_identity" => &[("client_id", 64, false)],
        _ => {
            return Err(field(
                "credentials.type",
                "azure_blob takes credentials of type account_key or managed_identity",
            ))
        }
    };
    for name in credentials.field_names() {
        if !fields.iter().any(|(f, _, _)| *f == name) {
            return Err(field(
                &format!("credentials.{name}"),
                format!("is not a field of {} credentials", credentials.kind()),
            ));
        }
    }
    for (name, max, required) in fields {
        credential_text(&credentials, name, *max, *required)?;
    }
    if let Some(key) = credentials.text("account_key") {
        use base64::Engine;
        if base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_err()
        {
            return Err(field(
                "credentials.account_key",
                "is not a storage account key (base64)",
            ));
        }
    }
    let account = credentials
        .text("account_name")
        .map(str::to_string)
        .or(string_setting(&settings, "account_name")?)
        .ok_or_else(|| {
            field(
                "account_name",
                "is required with managed_identity credentials (they carry no account name)",
            )
        })?;
    check_account(&account)?;
    Ok(ProviderConfig {
        provider_type: "azure_blob".into(),
        settings,
        credentials,
    })
}

/// The storage account a checked connection reads.
pub fn account_name(config: &ProviderConfig) -> SourceResult<String> {
    config
        .credentials
        .text("account_name")
        .or(config.setting("account_name"))
        .map(str::to_string)
        .ok_or_else(|| SourceError::Invalid("the connection names no storage account".into()))
}

/// 3 to 24 lowercase letters and digits.
fn check_account(account: &str) -> Result<(), FieldError> {
    let ok = (3..=24).contains(&account.len())
        && account
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !ok {
        return Err(field(
            "account_name",
            "is not a storage account name (3 to 24 lowercase letters and digits)",
        ));
    }
    Ok(())
}

/// 3 to 63 lowercase letters, digits and single dashes, starting and ending with a
/// letter or digit.
fn check_container(container: &str) -> Result<(), FieldError> {
    let chars_ok = container
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ends_ok = !container.starts_with('-') && !container.ends_with('-');
    if !(3..=63).contains(&container.len()) || !chars_ok || !ends_ok || container.contains("--") {
        return Err(field(
            "container",
            "is not a container name (3 to 63 lowercase letters, digits and single dashes)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_sdk_forms_are_taken_and_bad_ones_name_the_field() {
        let key = json!({"container": "media", "credentials": {"type": "account_key",
            "account_name": "acct1", "account_key": "a2V5"}});
        let c = check("azure_blob", key.as_object().unwrap()).unwrap();
        assert_eq!(account_name(&c).unwrap(), "acct1");
        assert!(!serde_json::to_string(&c.redacted())
            .unwrap()
            .contains("a2V5"));
        let mi = json!({"container": "media", "account_name": "acct1", "credentials": {"type": "managed_identity"}});
        assert!(check("azure_blob", mi.as_object().unwrap()).is_ok());
        let cases = [
            (
                json!({"container": "media", "credentials": {"type": "managed_identity"}}),
                "provider_config.account_name",
            ),
            (
                json!({"credentials": {"type": "managed_identity"}, "account_name": "acct1"}),
                "provider_config.container",
            ),
            (
                json!({"container": "Bad_Name", "account_name": "acct1", "credentials": {"type": "managed_identity"}}),
                "provider_config.container",
            ),
            (
                json!({"container": "media", "credentials": {"account_name": "acct1", "account_key": "not base64!"}}),
                "provider_config.credentials.account_key",
            ),
            (
                json!({"container": "media", "credentials": {"account_name": "acct1"}}),
                "provider_config.credentials.account_key",
            ),
            (
                json!({"container": "media", "credentials": {"type": "sas", "token": "x"}}),
                "provider_config.credentials.type",
            ),
        ];
        for (body, want) in cases {
            let err = check("azure_blob", body.as_object().unwrap()).unwrap_err();
            assert_eq!(err.field, want, "{body}");
        }
    }
}
