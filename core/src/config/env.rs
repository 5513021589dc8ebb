//! Environment overlay: `RELAIS_APPSERVICE__AS_TOKEN=…` sets `[appservice] as_token`.

use serde::{Deserialize, Deserializer, de::DeserializeOwned};

use super::ConfigError;

const PREFIX: &str = "RELAIS_";

/// Sets every `RELAIS_<SECTION>__<KEY>` variable into `table` as a string.
///
/// `RELAIS_CONFIG`, `RELAIS_LOG` and `RELAIS_TEST_…` belong to the CLI and the test suite.
/// Another `RELAIS_…` variable without the double underscore is most likely a typo
/// (`RELAIS_HOMESERVER_URL`): it is ignored with a warning rather than refused, so an unrelated
/// variable in the environment cannot stop the service.
pub(super) fn overlay(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (var, value) in vars {
        let Some(rest) = var.strip_prefix(PREFIX) else {
            continue;
        };
        if matches!(rest, "CONFIG" | "LOG") || rest.starts_with("TEST_") {
            continue;
        }
        let Some((section, key)) = rest.split_once("__") else {
            tracing::warn!(%var, "ignored: not of the form RELAIS_<SECTION>__<KEY>");
            continue;
        };
        if section.is_empty() || key.is_empty() || key.contains("__") {
            return Err(ConfigError::EnvKey { var });
        }
        let section = table
            .entry(section.to_ascii_lowercase())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section) = section.as_table_mut() else {
            return Err(ConfigError::EnvKey { var });
        };
        section.insert(key.to_ascii_lowercase(), toml::Value::String(value));
    }
    Ok(())
}

/// Accepts either the native TOML value or a string (as set from the environment).
pub(super) fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + std::str::FromStr,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Value(toml::Value),
    }
    match Either::deserialize(deserializer)? {
        Either::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
        Either::Value(v) => v.try_into().map_err(serde::de::Error::custom),
    }
}

/// A list: a TOML array, or one string of comma-separated items (as set from the environment).
pub(super) fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Items(Vec<String>),
    }
    let items = match Either::deserialize(deserializer)? {
        Either::Text(s) => s.split(',').map(str::to_owned).collect(),
        Either::Items(items) => items,
    };
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}
