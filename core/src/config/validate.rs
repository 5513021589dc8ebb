//! Checks serde cannot express: token strength, id syntax, URL schemes.

use ruma::UserId;

use super::{Config, ConfigError};

const MIN_TOKEN_LEN: usize = 16;

pub(super) fn check(config: &Config) -> Result<(), ConfigError> {
    let key_err = |key: &str, message: String| ConfigError::Key {
        key: key.to_owned(),
        message,
    };
    let app = &config.appservice;
    if app.id.trim().is_empty() {
        return Err(key_err("appservice.id", "must not be empty".into()));
    }
    for (key, token) in [
        ("appservice.as_token", &app.as_token),
        ("appservice.hs_token", &app.hs_token),
    ] {
        if token.expose().len() < MIN_TOKEN_LEN || token.expose().contains(char::is_whitespace) {
            return Err(key_err(
                key,
                format!(
                    "must be at least {MIN_TOKEN_LEN} characters without spaces; generate one with `openssl rand -hex 32`"
                ),
            ));
        }
    }
    if app.as_token == app.hs_token {
        return Err(key_err(
            "appservice.hs_token",
            "must differ from appservice.as_token".into(),
        ));
    }
    let bot = format!(
        "@{}:{}",
        app.sender_localpart, config.homeserver.server_name
    );
    if UserId::parse(&bot).is_err() || app.sender_localpart.is_empty() {
        return Err(key_err(
            "appservice.sender_localpart",
            format!(
                "`{}` does not form a valid Matrix user id",
                app.sender_localpart
            ),
        ));
    }
    for (key, prefix) in [
        ("appservice.user_prefix", &app.user_prefix),
        ("appservice.alias_prefix", &app.alias_prefix),
        ("mail.ghost_prefix", &config.mail.ghost_prefix),
    ] {
        let ok = !prefix.is_empty()
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._=-/".contains(c));
        if !ok {
            return Err(key_err(
                key,
                "must be non-empty lowercase letters, digits or ._=-/".into(),
            ));
        }
    }
    for (key, url) in [
        ("homeserver.url", &config.homeserver.url),
        ("appservice.url", &app.url),
        ("web.public_url", &config.web.public_url),
    ] {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(key_err(key, "must be an http:// or https:// URL".into()));
        }
    }
    let db = config.database.url.expose();
    if !(db.starts_with("sqlite:")
        || db.starts_with("postgres://")
        || db.starts_with("postgresql://"))
    {
        return Err(key_err(
            "database.url",
            "must start with sqlite: (embedded) or postgres:// (production)".into(),
        ));
    }
    if config.database.max_connections == 0 {
        return Err(key_err(
            "database.max_connections",
            "must be at least 1".into(),
        ));
    }
    if config.dispatch.max_attempts == 0 {
        return Err(key_err(
            "dispatch.max_attempts",
            "must be at least 1".into(),
        ));
    }
    Ok(())
}
