//! A Box connection (the SDK's `BoxConfig`): `folder_id` (default `"0"`, the root) and
//! credentials of type `oauth`, `ccg` or `jwt`.

use serde_json::{Map, Value};
use sluice_core::domain::connections::{
    check_settings, credential_text, field, string_setting, Credentials, ProviderConfig,
};
use sluice_core::domain::schema::FieldError;

/// Each credential type's fields: name, longest, required.
type Fields = &'static [(&'static str, usize, bool)];

const OAUTH: Fields = &[
    ("client_id", 256, true),
    ("client_secret", 256, true),
    ("access_token", 2048, true),
    ("refresh_token", 2048, false),
];
const CCG: Fields = &[
    ("client_id", 256, true),
    ("client_secret", 256, true),
    ("enterprise_id", 64, false),
    ("user_id", 64, false),
];
const JWT: Fields = &[
    ("client_id", 256, true),
    ("client_secret", 256, true),
    ("enterprise_id", 64, true),
    ("jwt_key_id", 256, true),
    ("private_key", 16 * 1024, true),
    ("private_key_passphrase", 1024, false),
];

pub fn check(_: &str, config: &Map<String, Value>) -> Result<ProviderConfig, FieldError> {
    let mut settings = config.clone();
    settings.remove("provider_type");
    let credentials = Credentials::from_request(
        settings
            .remove("credentials")
            .as_ref()
            .unwrap_or(&Value::Null),
        "oauth",
    )?;
    check_settings("box", &settings, &["folder_id"])?;
    let folder = string_setting(&settings, "folder_id")?.unwrap_or_else(|| "0".into());
    if folder.is_empty() || folder.len() > 32 || !folder.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field(
            "folder_id",
            "must be a Box folder id: the digits at the end of the folder's URL (\"0\" is the root)",
        ));
    }
    settings.insert("folder_id".into(), Value::from(folder));
    let fields = match credentials.kind() {
        "oauth" => OAUTH,
        "ccg" => CCG,
        "jwt" => JWT,
        _ => {
            return Err(field(
                "credentials.type",
                "box takes credentials of type oauth, ccg or jwt",
            ))
        }
    };
    check_fields(&credentials, fields)?;
    match credentials.kind() {
        "ccg" => check_subject(&credentials)?,
        "jwt" => {
            let pem = credentials.text("private_key").unwrap_or_default();
            let passphrase = credentials.text("private_key_passphrase");
            super::auth::signing_key(pem, passphrase)
                .map_err(|why| field("credentials.private_key", why))?;
        }
        _ => {}
    }
    Ok(ProviderConfig {
        provider_type: "box".into(),
        settings,
        credentials,
    })
}

fn check_fields(credentials: &Credentials, fields: Fields) -> Result<(), FieldError> {
    for name in credentials.field_names() {
        if !fields.iter().any(|(f, _, _)| *f == name) {
            return Err(field(
                &format!("credentials.{name}"),
                format!("is not a field of {} credentials", credentials.kind()),
            ));
        }
    }
    for (name, max, required) in fields {
        credential_text(credentials, name, *max, *required)?;
    }
    Ok(())
}

/// A client-credentials grant acts as the enterprise or as one user: exactly one.
fn check_subject(credentials: &Credentials) -> Result<(), FieldError> {
    match (
        credentials.text("enterprise_id"),
        credentials.text("user_id"),
    ) {
        (Some(_), Some(_)) => Err(field(
            "credentials.user_id",
            "give enterprise_id or user_id, not both: the token acts as one of them",
        )),
        (None, None) => Err(field(
            "credentials.enterprise_id",
            "is required unless user_id is given: whom the token acts as",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn refused(body: serde_json::Value) -> String {
        super::check("box", body.as_object().unwrap())
            .unwrap_err()
            .field
    }

    #[test]
    fn the_sdk_forms_are_taken_and_bad_ones_name_the_field() {
        let oauth = json!({"provider_type": "box", "credentials": {"type": "oauth",
            "client_id": "c", "client_secret": "s", "access_token": "a", "refresh_token": "r"}});
        let checked = super::check("box", oauth.as_object().unwrap()).unwrap();
        assert_eq!(checked.settings["folder_id"], "0");
        let ccg = json!({"folder_id": "123", "credentials": {"type": "ccg",
            "client_id": "c", "client_secret": "s", "enterprise_id": "9"}});
        assert!(super::check("box", ccg.as_object().unwrap()).is_ok());
        for (body, want) in [
            (
                json!({"folder_id": "abc", "credentials": {"access_token": "a", "client_id": "c", "client_secret": "s"}}),
                "provider_config.folder_id",
            ),
            (
                json!({"credentials": {"client_id": "c", "client_secret": "s"}}),
                "provider_config.credentials.access_token",
            ),
            (
                json!({"credentials": {"type": "ccg", "client_id": "c", "client_secret": "s"}}),
                "provider_config.credentials.enterprise_id",
            ),
            (
                json!({"credentials": {"type": "ccg", "client_id": "c", "client_secret": "s", "enterprise_id": "1", "user_id": "2"}}),
                "provider_config.credentials.user_id",
            ),
            (
                json!({"credentials": {"type": "jwt", "client_id": "c", "client_secret": "s",
                    "enterprise_id": "1", "jwt_key_id": "k", "private_key": "not a key"}}),
                "provider_config.credentials.private_key",
            ),
            (
                json!({"bucket": "b", "credentials": {"access_token": "a", "client_id": "c", "client_secret": "s"}}),
                "provider_config.bucket",
            ),
            (
                json!({"credentials": {"type": "access_key", "access_key_id": "a"}}),
                "provider_config.credentials.type",
            ),
        ] {
            assert_eq!(refused(body.clone()), want, "{body}");
        }
    }
}
