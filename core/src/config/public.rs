//! `[public]`: the open half — public campaign spaces apart from the members-only rooms, the
//! sympathisers' sign-up page and the charter they accept.

use std::path::PathBuf;

use serde::Deserialize;

/// How a public room is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicJoin {
    /// Anyone joins (`public`).
    Public,
    /// Anyone asks, a moderator lets them in (`knock`).
    Knock,
}

/// One room of every public space.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicRoomConfig {
    /// Stable part of the room's key and alias: lowercase letters, digits and `-`.
    pub slug: String,
    /// The room's name; in a federation's space, " (<federation>)" is added.
    pub name: String,
    #[serde(default = "public_join")]
    pub join: PublicJoin,
    /// Whether guests (accounts without registration) may read and join.
    #[serde(default)]
    pub guests: bool,
}

fn public_join() -> PublicJoin {
    PublicJoin::Public
}

/// `[public]`. Nothing public exists until `national` or `federations` asks for it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicConfig {
    /// A national public space (`#<alias_prefix>national.public`).
    #[serde(default, deserialize_with = "super::env::lenient")]
    pub national: bool,
    /// Federations (names as in the membership file) with a public space of their own; `"*"`
    /// for every federation.
    #[serde(default)]
    pub federations: Vec<String>,
    /// The rooms of every public space.
    #[serde(default)]
    pub rooms: Vec<PublicRoomConfig>,
    /// The sympathisers' sign-up page, `/relais/rejoindre` (needs mail and the registration
    /// secret, and a public space to land in).
    #[serde(default, deserialize_with = "super::env::lenient")]
    pub signup: bool,
    /// The charter shown at sign-up and at onboarding (plain text, paragraphs separated by a
    /// blank line); relative to the configuration file. Unset: no charter is asked.
    #[serde(default)]
    pub charter_file: Option<PathBuf>,
    /// The charter's version: a member or sympathiser who accepted another one is asked again.
    #[serde(default)]
    pub charter_version: String,
    /// The charter's text, read from `charter_file` at load.
    #[serde(skip)]
    pub charter: Option<String>,
}

impl PublicConfig {
    /// Whether `federation` (as the membership file writes it) has a public space.
    pub fn federation_has_space(&self, federation: &str) -> bool {
        let wanted = crate::text::fold(federation);
        self.federations.iter().any(|f| f == "*" || crate::text::fold(f) == wanted)
    }

    /// Whether any public space is configured.
    pub fn any(&self) -> bool {
        self.national || !self.federations.is_empty()
    }
}

/// The most rooms one public space may have.
pub const MAX_PUBLIC_ROOMS: usize = 20;

pub(super) fn check(public: &PublicConfig) -> Result<(), super::ConfigError> {
    let err = |key: &str, message: &str| super::ConfigError::Key { key: key.into(), message: message.into() };
    if public.rooms.len() > MAX_PUBLIC_ROOMS {
        return Err(err("public.rooms", "at most 20 rooms per public space"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for room in &public.rooms {
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if room.slug.is_empty() || room.slug.len() > 32 || !room.slug.chars().all(valid) {
            return Err(err("public.rooms.slug", "lowercase letters, digits and '-', at most 32 characters"));
        }
        if !seen.insert(room.slug.as_str()) {
            return Err(err("public.rooms.slug", "each room needs its own slug"));
        }
        if room.name.trim().is_empty() || room.name.chars().count() > 80 {
            return Err(err("public.rooms.name", "a name of 1 to 80 characters"));
        }
    }
    if public.federations.iter().any(|f| f.trim().is_empty()) {
        return Err(err("public.federations", "federation names cannot be empty (\"*\" for every one)"));
    }
    if public.charter_file.is_some() && public.charter_version.trim().is_empty() {
        return Err(err("public.charter_version", "set the charter's version with its file"));
    }
    if public.charter_version.len() > 40 {
        return Err(err("public.charter_version", "at most 40 characters"));
    }
    Ok(())
}

/// Reads the charter's text (at most 64 KiB) from `file`, relative to `config_path`.
pub(super) fn read_charter(file: &std::path::Path, config_path: &std::path::Path) -> Result<String, String> {
    let path = crate::keys::resolve(file, config_path);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.trim().is_empty() || text.len() > 64 * 1024 {
        return Err(format!("{} must hold the charter's text, at most 64 KiB", path.display()));
    }
    Ok(text)
}
