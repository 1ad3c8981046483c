//! A Mux connection (the SDK's `MuxConfig`): `access_token` credentials only.

use serde_json::{Map, Value};
use sluice_core::domain::connections::{
    check_settings, credential_text, field, Credentials, ProviderConfig,
};
use sluice_core::domain::schema::FieldError;

pub fn check(_: &str, config: &Map<String, Value>) -> Result<ProviderConfig, FieldError> {
    let mut settings = config.clone();
    settings.remove("provider_type");
    let credentials = Credentials::from_request(
        settings
            .remove("credentials")
            .as_ref()
            .unwrap_or(&Value::Null),
        "access_token",
    )?;
    check_settings("mux", &settings, &[])?;
    if credentials.kind() != "access_token" {
        return Err(field(
            "credentials.type",
            "mux takes credentials of type access_token",
        ));
    }
    let fields: &[(&str, usize, bool)] = &[
        ("access_token_id", 256, true),
        ("access_token_secret", 1024, true),
        ("webhook_secret", 1024, false),
    ];
    for name in credentials.field_names() {
        if !fields.iter().any(|(f, _, _)| *f == name) {
            return Err(field(
                &format!("credentials.{name}"),
                "is not a field of access_token credentials",
            ));
        }
    }
    for (name, max, required) in fields {
        credential_text(&credentials, name, *max, *required)?;
    }
    Ok(ProviderConfig {
        provider_type: "mux".into(),
        settings,
        credentials,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn the_sdk_form_is_taken_and_bad_ones_name_the_field() {
        let ok = json!({"provider_type": "mux", "credentials": {"type": "access_token",
            "access_token_id": "id", "access_token_secret": "secret", "webhook_secret": "whsec"}});
        assert!(super::check("mux", ok.as_object().unwrap()).is_ok());
        for (body, want) in [
            (
                json!({"credentials": {"access_token_id": "id"}}),
                "provider_config.credentials.access_token_secret",
            ),
            (
                json!({"bucket": "b", "credentials": {"access_token_id": "id", "access_token_secret": "s"}}),
                "provider_config.bucket",
            ),
            (
                json!({"credentials": {"type": "access_key", "access_key_id": "a"}}),
                "provider_config.credentials.type",
            ),
        ] {
            assert_eq!(
                super::check("mux", body.as_object().unwrap())
                    .unwrap_err()
                    .field,
                want,
                "{body}"
            );
        }
    }
}
