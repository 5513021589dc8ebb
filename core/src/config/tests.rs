use super::{Config, ConfigError};

const GOOD: &str = super::TEST_TOML;

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

#[test]
fn the_mail_listener_beyond_loopback_needs_an_allow_list() {
    let bind = |addr: &str| {
        vec![
            ("RELAIS_MAIL__INBOUND_BIND", addr.to_owned()),
            ("RELAIS_MAIL__AUTHSERV_ID", "mx.pcf.test".into()),
        ]
    };
    let with = |vars: Vec<(&'static str, String)>| {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        load(GOOD, &vars)
    };
    let config = with(bind("127.0.0.1:2525")).expect("loopback needs no list");
    assert!(config.mail.inbound_allowed_peers.is_empty());
    assert_eq!(config.mail.inbound_max_connections, 100);
    with(bind("[::1]:2525")).expect("IPv6 loopback");
    for addr in ["0.0.0.0:2525", "10.0.0.2:2525", "[::]:2525"] {
        let err = with(bind(addr)).expect_err(addr);
        assert!(err.to_string().contains("RELAIS_MAIL__INBOUND_ALLOWED_PEERS"), "{err}");
        assert_eq!(key_of(err), "mail.inbound_allowed_peers");
    }
    let mut vars = bind("0.0.0.0:2525");
    vars.push(("RELAIS_MAIL__INBOUND_ALLOWED_PEERS", " 10.0.0.5, 10.0.1.0/24,".into()));
    let config = with(vars).expect("an allow-list from the environment");
    let peers: Vec<String> = config.mail.inbound_allowed_peers.iter().map(ToString::to_string).collect();
    assert_eq!(peers, ["10.0.0.5/32", "10.0.1.0/24"]);

    let text = format!(
        "{GOOD}\n[mail]\ninbound_bind = \"[::]:2525\"\nauthserv_id = \"mx\"\ninbound_allowed_peers = [\"2001:db8::/32\"]\n"
    );
    let config = load(&text, &[]).expect("an allow-list in the file");
    assert_eq!(config.mail.inbound_allowed_peers.len(), 1);
    let err = load(&text.replace("2001:db8::/32", "mx.pcf.test"), &[]).expect_err("not a network");
    assert_eq!(key_of(err), "mail.inbound_allowed_peers");
    let err = load(GOOD, &[("RELAIS_MAIL__INBOUND_MAX_CONNECTIONS", "0")]).expect_err("zero");
    assert_eq!(key_of(err), "mail.inbound_max_connections");
}

#[test]
fn web_limits_have_defaults_and_refuse_zero() {
    let config = load(GOOD, &[]).expect("defaults");
    assert_eq!(
        (config.web.max_connections, config.web.header_timeout_seconds, config.web.body_timeout_seconds),
        (1024, 15, 60)
    );
    let proxies: Vec<String> = config.web.trusted_proxies.iter().map(ToString::to_string).collect();
    assert_eq!(proxies, ["127.0.0.0/8", "::1/128"]);
    let config = load(GOOD, &[("RELAIS_WEB__TRUSTED_PROXIES", "10.0.0.0/24,127.0.0.1")]).expect("from env");
    let proxies: Vec<String> = config.web.trusted_proxies.iter().map(ToString::to_string).collect();
    assert_eq!(proxies, ["10.0.0.0/24", "127.0.0.1/32"]);
    for (var, key) in [
        ("RELAIS_WEB__MAX_CONNECTIONS", "web.max_connections"),
        ("RELAIS_WEB__HEADER_TIMEOUT_SECONDS", "web.header_timeout_seconds"),
        ("RELAIS_WEB__BODY_TIMEOUT_SECONDS", "web.body_timeout_seconds"),
    ] {
        assert_eq!(key_of(load(GOOD, &[(var, "0")]).expect_err(var)), key);
    }
}

#[test]
fn the_postmaster_is_an_address_outside_the_list_domain() {
    let domain = ("RELAIS_MAIL__DOMAIN", "listes.pcf.test");
    let config = load(GOOD, &[domain]).expect("no postmaster: mail to postmaster is kept");
    assert_eq!(config.mail.postmaster, None);
    for good in ["ops@pcf.test", "Équipe technique <ops@pcf.test>", " ops@Example.ORG "] {
        let config = load(GOOD, &[domain, ("RELAIS_MAIL__POSTMASTER", good)]).expect(good);
        assert!(config.mail.postmaster_address().is_some_and(|a| a.contains('@')), "{good}");
    }
    assert_eq!(
        load(GOOD, &[domain, ("RELAIS_MAIL__POSTMASTER", "Ops <Ops@PCF.test>")])
            .expect("a name")
            .mail
            .postmaster_address()
            .as_deref(),
        Some("Ops@PCF.test")
    );
    // Back to Relais's own listener: it would come back here forever.
    for bad in [
        "ops",
        "@pcf.test",
        "ops@",
        "a b@pcf.test",
        "ops@pcf test",
        "postmaster@listes.pcf.test",
        "X <x@Listes.PCF.test>",
        "x@listes.pcf.test.",
    ] {
        let err = load(GOOD, &[domain, ("RELAIS_MAIL__POSTMASTER", bad)]).expect_err(bad);
        assert_eq!(key_of(err), "mail.postmaster", "{bad}");
    }
}

#[test]
fn relais_mail_leaves_from_the_list_domain_unless_a_sender_is_set() {
    let config = load(GOOD, &[("RELAIS_MAIL__DOMAIN", "listes.pcf.fr")]).expect("domain");
    assert_eq!(
        config.mail.from, "Relais <relais@listes.pcf.fr>",
        "not relais@localhost, which DMARC refuses"
    );
    let text = format!("{GOOD}\n[mail]\ndomain = \"listes.pcf.fr\"\n");
    assert_eq!(load(&text, &[]).expect("file").mail.from, "Relais <relais@listes.pcf.fr>");
    let vars = [("RELAIS_MAIL__DOMAIN", "listes.pcf.fr"), ("RELAIS_MAIL__FROM", "PCF <contact@pcf.fr>")];
    assert_eq!(load(GOOD, &vars).expect("set").mail.from, "PCF <contact@pcf.fr>", "a sender set stays");
    assert_eq!(load(GOOD, &[]).expect("none").mail.from, "Relais <relais@localhost>", "no domain: as before");
}

#[test]
fn other_homeservers_come_from_a_table_and_the_environment() {
    let text = format!(
        "{GOOD}\n[other_homeservers]\nservers = {{ \"nord.pcf.fr\" = \"https://matrix.nord.pcf.fr:8448\" }}\n"
    );
    let config =
        load(&text, &[("RELAIS_OTHER_HOMESERVERS__HTTPS_PROXY", "http://proxy.pcf.fr:3128")]).expect("loads");
    let servers = &config.other_homeservers.servers;
    let nord = ruma::OwnedServerName::try_from("nord.pcf.fr").expect("name");
    assert_eq!(servers[&nord].as_str(), "https://matrix.nord.pcf.fr:8448/");
    assert_eq!(
        config.other_homeservers.https_proxy.as_ref().map(url::Url::as_str),
        Some("http://proxy.pcf.fr:3128/")
    );
    let bad =
        format!("{GOOD}\n[other_homeservers]\nservers = {{ \"not a server\" = \"https://x.example\" }}\n");
    assert!(load(&bad, &[]).is_err(), "a server name is parsed");
}
