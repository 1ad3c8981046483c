//! Mux's API takes HTTP Basic with an access token's id and secret.

use sluice_core::domain::connections::ProviderConfig;

#[derive(Clone)]
pub struct Token {
    id: String,
    secret: String,
}

impl Token {
    pub fn from_config(config: &ProviderConfig) -> Self {
        let text = |k: &str| config.credentials.text(k).unwrap_or_default().to_string();
        Token {
            id: text("access_token_id"),
            secret: text("access_token_secret"),
        }
    }

    pub fn sign(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.basic_auth(&self.id, Some(&self.secret))
    }
}
