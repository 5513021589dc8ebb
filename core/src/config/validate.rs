//! Checks serde cannot express: token strength, id syntax, URL schemes.

use ruma::UserId;

use super::{Config, ConfigError};

const MIN_TOKEN_LEN: usize = 16;

fn key_err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Key { key: key.to_owned(), message: message.into() }
}

pub(super) fn check(config: &Config) -> Result<(), ConfigError> {
    check_appservice(config)?;
    check_prefixes(config)?;
    check_urls(config)?;
    check_limits(config)?;
    super::public::check(&config.public)?;
    check_mail(config)
}

fn check_mail(config: &Config) -> Result<(), ConfigError> {
    let mail = &config.mail;
    if let Some(domain) = &mail.domain {
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
        if domain.is_empty() || !domain.chars().all(valid) {
            return Err(key_err("mail.domain", "must be a domain name such as pcf.fr"));
        }
    }
    if mail.digest_minutes().is_none() {
        return Err(key_err("mail.digest_time", "must be a local time HH:MM, such as 07:00"));
    }
    if mail.retention_days < 8 {
        return Err(key_err("mail.retention_days", "must be at least 8: a weekly digest needs its week"));
    }
    if !(1..=7).contains(&mail.weekly_day) {
        return Err(key_err("mail.weekly_day", "must be 1 (Monday) to 7 (Sunday)"));
    }
    if mail.inbound_bind.is_some()
        && mail.inbound_auth == super::InboundAuth::Upstream
        && mail.authserv_id.as_deref().is_none_or(str::is_empty)
    {
        return Err(key_err(
            "mail.authserv_id",
            "is required with inbound_auth = \"upstream\": the authserv-id your MTA writes in Authentication-Results",
        ));
    }
    check_listener(mail)?;
    check_postmaster(mail)?;
    if mail.dkim_selector.is_some() != mail.dkim_key_file.is_some() {
        return Err(key_err("mail.dkim_key_file", "set both dkim_selector and dkim_key_file, or neither"));
    }
    if let Some(secret) = &mail.secret
        && secret.expose().len() < MIN_TOKEN_LEN
    {
        return Err(key_err("mail.secret", "must be at least 16 characters; use `openssl rand -hex 32`"));
    }
    if mail.smtp_concurrency == 0 || mail.bounce_limit == 0 {
        return Err(key_err("mail.smtp_concurrency", "smtp_concurrency and bounce_limit must be at least 1"));
    }
    Ok(())
}

/// `postmaster` is one plain address, outside the list domain: mail forwarded to an address of
/// that domain would come back to Relais's listener.
fn check_postmaster(mail: &super::MailConfig) -> Result<(), ConfigError> {
    if mail.postmaster.is_none() {
        return Ok(());
    }
    let address = mail.postmaster_address().unwrap_or_default();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(key_err(
            "mail.postmaster",
            "must be an address such as ops@pcf.fr (or Name <ops@pcf.fr>)",
        ));
    };
    let local_ok = !local.is_empty()
        && local.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | ',' | ';' | '@'));
    let domain_ok = !domain.split('.').any(str::is_empty)
        && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !local_ok || !domain_ok {
        return Err(key_err(
            "mail.postmaster",
            "must be an address such as ops@pcf.fr (or Name <ops@pcf.fr>)",
        ));
    }
    if mail.domain.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(domain)) {
        return Err(key_err(
            "mail.postmaster",
            "must be an address outside the list domain (mail to it would come back to Relais)",
        ));
    }
    Ok(())
}

/// The inbound listener trusts its peers' `Authentication-Results`: reachable from beyond the
/// host, it must know who its MTA is.
fn check_listener(mail: &super::MailConfig) -> Result<(), ConfigError> {
    if let Some(bind) = mail.inbound_bind
        && !bind.ip().to_canonical().is_loopback()
        && mail.inbound_allowed_peers.is_empty()
    {
        return Err(key_err(
            "mail.inbound_allowed_peers",
            format!(
                "is required when inbound_bind ({bind}) is not a loopback address: list the addresses of \
                 the MTA that hands mail to Relais, e.g. [\"10.0.0.5\"] \
                 (RELAIS_MAIL__INBOUND_ALLOWED_PEERS=10.0.0.5,10.0.1.0/24)"
            ),
        ));
    }
    if mail.inbound_max_connections == 0 {
        return Err(key_err("mail.inbound_max_connections", "must be at least 1"));
    }
    if mail.inbound_timeout_seconds == 0 {
        return Err(key_err("mail.inbound_timeout_seconds", "must be at least 1"));
    }
    Ok(())
}

fn check_appservice(config: &Config) -> Result<(), ConfigError> {
    let app = &config.appservice;
    if app.id.trim().is_empty() {
        return Err(key_err("appservice.id", "must not be empty"));
    }
    for (key, token) in [("appservice.as_token", &app.as_token), ("appservice.hs_token", &app.hs_token)] {
        let token = token.expose();
        if token.len() < MIN_TOKEN_LEN || token.contains(char::is_whitespace) {
            return Err(key_err(
                key,
                format!(
                    "must be at least {MIN_TOKEN_LEN} characters without spaces; generate one with `openssl rand -hex 32`"
                ),
            ));
        }
    }
    if app.as_token == app.hs_token {
        return Err(key_err("appservice.hs_token", "must differ from appservice.as_token"));
    }
    let bot = format!("@{}:{}", app.sender_localpart, config.homeserver.server_name);
    if app.sender_localpart.is_empty() || UserId::parse(&bot).is_err() {
        return Err(key_err(
            "appservice.sender_localpart",
            format!("`{}` does not form a valid Matrix user id", app.sender_localpart),
        ));
    }
    Ok(())
}

fn check_prefixes(config: &Config) -> Result<(), ConfigError> {
    for (key, prefix) in [
        ("appservice.user_prefix", &config.appservice.user_prefix),
        ("appservice.alias_prefix", &config.appservice.alias_prefix),
        ("mail.ghost_prefix", &config.mail.ghost_prefix),
    ] {
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._=-/".contains(c);
        if prefix.is_empty() || !prefix.chars().all(valid) {
            return Err(key_err(key, "must be non-empty lowercase letters, digits or ._=-/"));
        }
    }
    Ok(())
}

fn check_urls(config: &Config) -> Result<(), ConfigError> {
    for (key, url) in [
        ("homeserver.url", &config.homeserver.url),
        ("appservice.url", &config.appservice.url),
        ("web.public_url", &config.web.public_url),
    ] {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(key_err(key, "must be an http:// or https:// URL"));
        }
    }
    let db = config.database.url.expose();
    if !(db.starts_with("sqlite:") || db.starts_with("postgres://") || db.starts_with("postgresql://")) {
        return Err(key_err(
            "database.url",
            "must start with sqlite: (embedded) or postgres:// (production)",
        ));
    }
    Ok(())
}

fn check_limits(config: &Config) -> Result<(), ConfigError> {
    if config.provisioning.invitation_days == 0 {
        return Err(key_err("provisioning.invitation_days", "must be at least 1"));
    }
    if let Some(url) = &config.mail.smtp_url
        && !["smtp://", "smtps://"].iter().any(|s| url.expose().starts_with(s))
    {
        return Err(key_err("mail.smtp_url", "must start with smtp:// or smtps://"));
    }
    if config.provisioning.max_removal_percent > 100 {
        return Err(key_err("provisioning.max_removal_percent", "must be between 0 and 100"));
    }
    if config.provisioning.national_name.trim().is_empty() {
        return Err(key_err("provisioning.national_name", "must not be empty"));
    }
    if config.provisioning.lease_seconds < 3 {
        return Err(key_err("provisioning.lease_seconds", "must be at least 3 (it is renewed every third)"));
    }
    if config.database.max_connections < 2 {
        return Err(key_err(
            "database.max_connections",
            "must be at least 2 (a provisioning run keeps one to renew its lease)",
        ));
    }
    for (key, value) in [
        ("dispatch.max_attempts", config.dispatch.max_attempts),
        ("dispatch.lease_seconds", config.dispatch.lease_seconds),
        ("provisioning.concurrency", config.provisioning.concurrency),
        ("web.max_connections", config.web.max_connections),
    ] {
        if value == 0 {
            return Err(key_err(key, "must be at least 1"));
        }
    }
    for (key, value) in [
        ("web.header_timeout_seconds", config.web.header_timeout_seconds),
        ("web.body_timeout_seconds", config.web.body_timeout_seconds),
    ] {
        if value == 0 {
            return Err(key_err(key, "must be at least 1"));
        }
    }
    Ok(())
}
