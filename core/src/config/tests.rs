use super::{Config, ConfigError};

const GOOD: &str = r#"
[homeserver]
url = "http://127.0.0.1:8008"
server_name = "pcf.test"
[appservice]
id = "relais"
bind = "127.0.0.1:9009"
url = "http://127.0.0.1:9009"
as_token = "as-token-0123456789abcdef"
hs_token = "hs-token-0123456789abcdef"
sender_localpart = "relais"
[database]
url = "sqlite://relais.db?mode=rwc"
[web]
bind = "127.0.0.1:8080"
public_url = "http://127.0.0.1:8080"
"#;

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    Config::from_toml_and_env(text, "test.toml", vars)
}

fn key_of(err: ConfigError) -> String {
    match err {
        ConfigError::Key { key, .. } => key,
        other => panic!("expected a key error, got {other}"),
    }
}

#[test]
fn loads_the_documented_example() {
    let example = include_str!("../../../relais.example.toml");
    let config = load(example, &[]).expect("relais.example.toml must load");
    assert_eq!(config.appservice.sender_localpart, "relais");
    let config = load(GOOD, &[]).expect("minimal config loads");
    assert_eq!(config.bot_user_id().as_str(), "@relais:pcf.test");
    assert!(config.dispatch.enabled);
}

#[test]
fn environment_overrides_file_and_accepts_numbers_as_text() {
    let config = load(
        GOOD,
        &[
            ("RELAIS_HOMESERVER__SERVER_NAME", "pcf.fr"),
            ("RELAIS_DATABASE__MAX_CONNECTIONS", "3"),
            ("RELAIS_DISPATCH__ENABLED", "false"),
            ("RELAIS_CONFIG", "ignored.toml"),
            ("HOME", "/root"),
        ],
    )
    .expect("overlay loads");
    assert_eq!(config.homeserver.server_name.as_str(), "pcf.fr");
    assert_eq!(config.database.max_connections, 3);
    assert!(!config.dispatch.enabled);
}

#[test]
fn missing_key_is_named() {
    let text = GOOD.replace("hs_token = \"hs-token-0123456789abcdef\"\n", "");
    let err = load(&text, &[]).expect_err("hs_token is required");
    assert!(err.to_string().contains("hs_token"), "{err}");
}

#[test]
fn invalid_values_are_named() {
    let cases = [
        (GOOD.replace("127.0.0.1:9009\"\nurl", "nowhere\"\nurl"), "appservice.bind"),
        (GOOD.replace("as-token-0123456789abcdef", "…"), "appservice.as_token"),
        (GOOD.replace("hs-token-0123456789abcdef", "as-token-0123456789abcdef"), "appservice.hs_token"),
        (GOOD.replace("sqlite://relais.db?mode=rwc", "mysql://x"), "database.url"),
        (
            GOOD.replace("server_name = \"pcf.test\"", "server_name = \"not a name\""),
            "homeserver.server_name",
        ),
    ];
    for (text, key) in cases {
        let err = load(&text, &[]).expect_err(key);
        assert_eq!(key_of(err), key);
    }
}

#[test]
fn unknown_keys_and_bad_env_names_are_refused() {
    let err = load(&format!("{GOOD}\n[web2]\nx = 1\n"), &[]).expect_err("unknown section");
    assert!(err.to_string().contains("web2"), "{err}");
    let err = load(GOOD, &[("RELAIS_HOMESERVER__URL__X", "x")]).expect_err("three parts");
    assert!(matches!(err, ConfigError::EnvKey { .. }));
    let err = load(GOOD, &[("RELAIS_HOMESERVER__URLS", "x")]).expect_err("unknown key");
    assert!(err.to_string().contains("urls"), "{err}");
    // Unrelated or mistyped variables do not stop the service.
    load(GOOD, &[("RELAIS_HOMESERVER_URL", "x"), ("RELAIS_TEST_POSTGRES_URL", "y")]).expect("ignored");
}

#[test]
fn own_namespace() {
    let config = load(GOOD, &[]).expect("loads");
    for (user, own) in [
        ("@relais:pcf.test", true),
        ("@relais_votes:pcf.test", true),
        ("@courriel_0042:pcf.test", true),
        ("@alice:pcf.test", false),
        ("@relais:other.test", false),
    ] {
        let user = ruma::UserId::parse(user).expect("valid");
        assert_eq!(config.is_own_user(&user), own, "{user}");
    }
}

#[test]
fn keys_come_from_the_master_key_never_from_the_appservice_token() {
    use crate::KeyPurpose;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("relais.toml");
    std::fs::write(&path, GOOD).expect("write");
    let first = Config::load(&path).expect("loads, creating the key file");
    assert!(dir.path().join("relais.key").exists(), "created beside the configuration");
    // The appservice token is rotated: ballots, minutes, statistics and mail keys stay.
    std::fs::write(&path, GOOD.replace("as-token-0123456789abcdef", "as-token-rotated-987654321"))
        .expect("write");
    let rotated = Config::load(&path).expect("loads");
    for purpose in
        [KeyPurpose::BallotLinks, KeyPurpose::Minutes, KeyPurpose::StatsMembers, KeyPurpose::MailAddresses]
    {
        assert_eq!(first.key(purpose).expose(), rotated.key(purpose).expose(), "{purpose:?}");
        assert!(!first.key(purpose).expose().contains("as-token"), "{purpose:?}");
    }

    // From the environment: 64 hex characters, or an error naming the key.
    let hex = "0f".repeat(32);
    let a = load(GOOD, &[("RELAIS_SECRETS__MASTER_KEY", &hex)]).expect("env key");
    let b = load(GOOD, &[("RELAIS_SECRETS__MASTER_KEY", &hex)]).expect("env key");
    assert_eq!(a.key(KeyPurpose::Minutes).expose(), b.key(KeyPurpose::Minutes).expose(), "nodes agree");
    assert_eq!(
        key_of(load(GOOD, &[("RELAIS_SECRETS__MASTER_KEY", "short")]).expect_err("bad")),
        "secrets.master_key"
    );
    // Without a key file or variable, a configuration gets a random key, never a shared one.
    let (x, y) = (load(GOOD, &[]).expect("x"), load(GOOD, &[]).expect("y"));
    assert_ne!(x.key(KeyPurpose::Minutes).expose(), y.key(KeyPurpose::Minutes).expose());
}
