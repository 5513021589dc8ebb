//! element-config/: every JSON file parses, every key of Element's config.json is one Element
//! reads (its `IConfigOptions`), nothing points outside the party's domains, and none of
//! Element's own defaults that name element.io survives the merge with ours.

use std::path::{Path, PathBuf};

use serde_json::Value;

const ALLOWED_HOSTS: &[&str] = &["pcf.fr", "messagerie.pcf.fr", "visio.pcf.fr", "127.0.0.1", "localhost"];

/// The top-level keys Element Web reads: the properties of its `IConfigOptions` interface
/// (src/IConfigOptions.ts — the code, not docs/config.md, which has spelt `help_encrption_url`).
const ELEMENT_KEYS: &[&str] = &[
    "default_server_config",
    "default_server_name",
    "default_hs_url",
    "default_is_url",
    "fallback_hs_url",
    "disable_custom_urls",
    "disable_guests",
    "disable_login_language_selector",
    "disable_3pid_login",
    "brand",
    "branding",
    "force_verification",
    "map_style_url",
    "embedded_pages",
    "permalink_prefix",
    "update_base_url",
    "desktop_builds",
    "mobile_builds",
    "mobile_guide_toast",
    "mobile_guide_app_variant",
    "default_theme",
    "default_country_code",
    "default_federate",
    "default_device_display_name",
    "setting_defaults",
    "integrations_ui_url",
    "integrations_rest_url",
    "integrations_widgets_urls",
    "default_widget_container_height",
    "show_labs_settings",
    "features",
    "bug_report_endpoint_url",
    "uisi_autorageshake_app",
    "sentry",
    "widget_build_url",
    "widget_build_url_ignore_dm",
    "audio_stream_url",
    "jitsi",
    "jitsi_widget",
    "voip",
    "element_call",
    "logout_redirect_url",
    "sso_immediate_redirect",
    "sso_redirect_options",
    "custom_translations_url",
    "report_event",
    "room_directory",
    "posthog",
    "analytics_owner",
    "privacy_policy_url",
    "enable_presence_by_hs_url",
    "terms_and_conditions_links",
    "help_url",
    "help_encryption_url",
    "help_key_storage_url",
    "latex_maths_delims",
    "sync_timeline_limit",
    "user_notice",
    "feedback",
    "oidc_static_clients",
    "oidc_metadata",
    "modules",
];

/// What Element falls back to, where its defaults (`DEFAULTS` in src/SdkConfig.ts, merged key
/// by key under ours) name element.io or vector.im: each must be overridden by our config.
const ELEMENT_DEFAULTS_ELSEWHERE: &[(&str, &str)] = &[
    ("/help_url", "https://element.io/help"),
    ("/help_encryption_url", "https://element.io/help#encryption"),
    // Newer Elements add a key-storage help link, also on element.io's help pages.
    ("/help_key_storage_url", "https://element.io/help"),
    ("/integrations_ui_url", "https://scalar.vector.im/"),
    ("/integrations_rest_url", "https://scalar.vector.im/api"),
    ("/jitsi/preferred_domain", "meet.element.io"),
    ("/desktop_builds/url", "https://element.io/download"),
    ("/desktop_builds/url_macos", "https://packages.element.io/desktop/install/macos/Element.dmg"),
    (
        "/desktop_builds/url_win64",
        "https://packages.element.io/desktop/install/win32/x64/Element%20Setup.exe",
    ),
    (
        "/desktop_builds/url_win64arm",
        "https://packages.element.io/desktop/install/win32/arm64/Element%20Setup.exe",
    ),
    ("/desktop_builds/url_linux", "https://element.io/download#linux"),
];

/// Documented sub-keys of the objects we use.
const NESTED: &[(&str, &[&str])] = &[
    ("default_server_config", &["m.homeserver", "m.identity_server"]),
    ("jitsi", &["preferred_domain"]),
    ("room_directory", &["servers"]),
    ("branding", &["welcome_background_url", "auth_header_logo_url", "auth_footer_links"]),
    ("embedded_pages", &["welcome_url", "home_url", "login_for_welcome"]),
    ("desktop_builds", &["available", "logo", "url", "url_macos", "url_win64", "url_win64arm", "url_linux"]),
];

/// Settings documented for `setting_defaults` (UI features, language, custom themes).
const SETTINGS: &[&str] = &[
    "language",
    "custom_themes",
    "UIFeature.urlPreviews",
    "UIFeature.feedback",
    "UIFeature.voip",
    "UIFeature.widgets",
    "UIFeature.advancedSettings",
    "UIFeature.shareQrCode",
    "UIFeature.shareSocial",
    "UIFeature.identityServer",
    "UIFeature.thirdPartyId",
    "UIFeature.registration",
    "UIFeature.passwordReset",
    "UIFeature.deactivate",
    "UIFeature.advancedEncryption",
    "UIFeature.roomHistorySettings",
    "UIFeature.TimelineEnableRelativeDates",
    "UIFeature.BulkUnverifiedSessionsReminder",
    "UIFeature.locationSharing",
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("element-config")
}

fn json(relative: &str) -> Value {
    let path = dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// Every string in `value`, with its path.
fn strings(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => out.push((at.to_owned(), s.clone())),
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, v)| strings(v, &format!("{at}[{i}]"), out))
        }
        Value::Object(map) => map.iter().for_each(|(k, v)| strings(v, &format!("{at}.{k}"), out)),
        _ => {}
    }
}

fn host_allowed(url: &str) -> bool {
    let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned));
    host.is_some_and(|h| ALLOWED_HOSTS.contains(&h.as_str()))
}

#[test]
fn every_json_file_parses_and_points_only_at_party_domains() {
    for file in ["config.json", "well-known/matrix/client", "well-known/matrix/server"] {
        let mut found = Vec::new();
        strings(&json(file), "", &mut found);
        assert!(!found.is_empty(), "{file} has content");
        for (at, s) in found {
            if s.starts_with("http://") || s.starts_with("https://") {
                assert!(host_allowed(&s), "{file}{at} points outside the party's domains: {s}");
            }
        }
    }
    // Keys holding bare domains.
    let config = json("config.json");
    let domains = [
        config["jitsi"]["preferred_domain"].clone(),
        config["default_server_config"]["m.homeserver"]["server_name"].clone(),
        json("well-known/matrix/client")["im.vector.riot.jitsi"]["preferredDomain"].clone(),
    ];
    for d in domains.iter().chain(config["room_directory"]["servers"].as_array().into_iter().flatten()) {
        assert!(d.as_str().is_some_and(|d| ALLOWED_HOSTS.contains(&d)), "domain outside the party: {d}");
    }
    let server = json("well-known/matrix/server")["m.server"].as_str().map(str::to_owned).unwrap_or_default();
    assert!(host_allowed(&format!("https://{server}")), "{server}");
}

#[test]
fn every_element_key_is_documented() {
    let config = json("config.json");
    let object = config.as_object().expect("config.json is an object");
    for key in object.keys() {
        assert!(ELEMENT_KEYS.contains(&key.as_str()), "config.json key `{key}` is not one Element reads");
    }
    for (key, allowed) in NESTED {
        if let Some(nested) = config[*key].as_object() {
            for sub in nested.keys() {
                assert!(allowed.contains(&sub.as_str()), "`{key}.{sub}` is not documented by Element");
            }
        }
    }
    let homeserver = config["default_server_config"]["m.homeserver"].as_object().expect("m.homeserver");
    assert!(homeserver.keys().all(|k| k == "base_url" || k == "server_name"));
    for key in config["setting_defaults"].as_object().expect("setting_defaults").keys() {
        assert!(SETTINGS.contains(&key.as_str()), "setting `{key}` is not documented for setting_defaults");
    }
}

#[test]
fn element_with_its_own_defaults_merged_names_no_element_io_page() {
    let config = json("config.json");
    for (pointer, default) in ELEMENT_DEFAULTS_ELSEWHERE {
        // Element merges its defaults under ours key by key: only what we set replaces one.
        let effective =
            config.pointer(pointer).cloned().unwrap_or_else(|| Value::String((*default).to_owned()));
        let text = effective.as_str().unwrap_or_default();
        assert!(
            !text.contains("element.io") && !text.contains("vector.im"),
            "{pointer} falls back to Element's own {default}"
        );
    }
    // The help links lead to the party's own pages.
    for key in ["help_url", "help_encryption_url", "help_key_storage_url"] {
        let url = config[key].as_str().unwrap_or_default();
        assert!(url.starts_with("https://messagerie.pcf.fr/aide"), "{key}: {url}");
    }
    // Accounts carry no address: a forgotten password is reset by the member's referent, so
    // Element does not offer a reset by email that cannot work.
    assert_eq!(config["setting_defaults"]["UIFeature.passwordReset"], false);
    assert_eq!(config["desktop_builds"]["available"], false, "no desktop download prompt to element.io");
}

#[test]
fn the_choices_the_party_made_hold() {
    let config = json("config.json");
    assert_eq!(config["setting_defaults"]["language"], "fr");
    assert_eq!(config["default_country_code"], "FR");
    assert_eq!(config["disable_guests"], true);
    assert_eq!(config["jitsi"]["preferred_domain"], "visio.pcf.fr");
    for key in ["integrations_ui_url", "integrations_rest_url", "integrations_widgets_urls"] {
        assert!(config[key].is_null(), "{key}: integrations are off");
    }
    for absent in ["bug_report_endpoint_url", "posthog", "sentry", "map_style_url"] {
        assert!(config.get(absent).is_none(), "{absent} would send data outside the party's servers");
    }
    assert!(config.get("privacy_policy_url").is_some() && config.get("help_url").is_some());
    let theme = &config["setting_defaults"]["custom_themes"][0];
    assert_eq!(format!("custom-{}", theme["name"].as_str().unwrap_or_default()), config["default_theme"]);
    let base = &config["default_server_config"]["m.homeserver"]["base_url"];
    assert_eq!(&json("well-known/matrix/client")["m.homeserver"]["base_url"], base, "one homeserver address");
}

#[test]
fn nginx_proxies_only_to_loopback_and_keeps_the_admin_api_closed() {
    let site = std::fs::read_to_string(dir().join("nginx/messagerie.pcf.fr.conf")).expect("nginx site");
    let targets: Vec<&str> = site.lines().filter_map(|l| l.trim().strip_prefix("proxy_pass ")).collect();
    assert!(!targets.is_empty());
    for target in targets {
        assert!(host_allowed(target.trim_end_matches(';')), "proxy to {target}");
    }
    assert!(site.contains("location /_synapse/admin { return 404; }"));
    let synapse =
        std::fs::read_to_string(dir().join("synapse/homeserver-relais.yaml")).expect("synapse fragment");
    for word in synapse.split_whitespace().filter(|w| w.contains("://")) {
        let url = word.trim_matches(|c| c == '"' || c == '\'');
        assert!(host_allowed(url), "synapse fragment points at {url}");
    }
    assert!(
        synapse.contains("default_room_version: \"10\"") && synapse.contains("enable_registration: false")
    );
}
