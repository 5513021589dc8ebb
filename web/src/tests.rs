//! The pages in-process: the router answered with `tower::ServiceExt::oneshot` over a fresh
//! SQLite store, no listener and no homeserver (nothing answers on port 9). The browser tests
//! (tests/integration/browser.rs) keep proving the same pages in Chromium.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{Method, Request, StatusCode, header},
    response::Response,
};
use relais_bots::store::broadcasts::{BroadcastOrigin, NewBroadcast};
use relais_core::{Config, Store};
use tower::ServiceExt;

use crate::{WebState, router};

/// The pages over their own store in `dir`.
async fn pages(dir: &tempfile::TempDir) -> (axum::Router, Store) {
    pages_with(dir, Config::for_tests("http://127.0.0.1:9", "")).await
}

/// The pages of `config` over their own store in `dir`.
async fn pages_with(dir: &tempfile::TempDir, config: Config) -> (axum::Router, Store) {
    let config = Arc::new(config);
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::open(&url, 2).await.expect("store");
    let metrics = Arc::new(relais_appservice::Metrics::default());
    let client = relais_appservice::MatrixClient::new(&config, metrics).expect("client");
    let applier = relais_provisioning::apply::Applier::for_deployment(
        &config,
        &store,
        "test".into(),
        Default::default(),
    )
    .expect("applier");
    let state = WebState::new(config, &store, client, applier).expect("web state");
    (router(Arc::new(state)), store)
}

async fn call(pages: &axum::Router, method: Method, uri: &str) -> Response {
    let mut request = Request::builder().method(method).uri(uri).body(Body::empty()).expect("request");
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40_000))));
    pages.clone().oneshot(request).await.expect("an answer")
}

async fn text(response: Response) -> String {
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    String::from_utf8(body.to_vec()).expect("UTF-8")
}

#[tokio::test]
async fn the_home_page_and_health_answer_in_french() {
    let dir = tempfile::tempdir().expect("dir");
    let (pages, _) = pages(&dir).await;
    let home = call(&pages, Method::GET, "/").await;
    assert_eq!(home.status(), StatusCode::OK);
    let home = text(home).await;
    assert!(home.contains("lang=\"fr\"") && home.contains("La messagerie du Parti"), "{home}");
    assert_eq!(text(call(&pages, Method::GET, "/health").await).await, "ok\n");
}

#[tokio::test]
async fn a_broadcast_link_redirects_and_counts_only_real_clicks() {
    let dir = tempfile::tempdir().expect("dir");
    let (pages, store) = pages(&dir).await;
    let bots = relais_bots::store::BotStore::new(store.clone());
    let broadcast = NewBroadcast {
        origin: BroadcastOrigin::Copy,
        command_event: "$cmd".into(),
        source_room: "!national:pcf.test".into(),
        source_event: "$src".into(),
        sender: "@nadia:pcf.test".into(),
        content: r#"{"msgtype":"m.text","body":"Manifestation"}"#.into(),
        send_at: 0,
        targets: vec![("!nord:pcf.test".into(), "Nord".into())],
        links: vec![
            ("0a1b2c".into(), "https://pcf.fr/manif".into()),
            ("0d0e0f".into(), "javascript:alert(1)".into()),
        ],
    };
    bots.broadcast_create(&broadcast).await.expect("broadcast");
    let clicks = || async { bots.broadcast_stats(None, 1).await.expect("stats")[0].clicks };

    // A link checker's HEAD is answered without being counted; a GET is a click.
    let head = call(&pages, Method::HEAD, "/relais/lien/0a1b2c").await;
    assert_eq!(head.status(), StatusCode::FOUND);
    assert_eq!(clicks().await, 0);
    let click = call(&pages, Method::GET, "/relais/lien/0a1b2c").await;
    assert_eq!(click.status(), StatusCode::FOUND);
    assert_eq!(click.headers()[header::LOCATION], "https://pcf.fr/manif");
    assert_eq!(click.headers()[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(clicks().await, 1);

    // Only web addresses are followed; an unknown or malformed token is a French page.
    for uri in [
        "/relais/lien/0d0e0f",
        "/relais/lien/ffffff",
        "/relais/lien/pas-un-jeton",
        "/relais/lien/%3Cscript%3E",
    ] {
        let refused = call(&pages, Method::GET, uri).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{uri}");
        assert!(refused.headers().get(header::LOCATION).is_none(), "{uri}");
        let page = text(refused).await;
        assert!(page.contains("Ce lien n'existe pas ou plus") && !page.contains("<script>"), "{uri}: {page}");
    }
}

#[tokio::test]
async fn a_ballot_link_that_is_not_one_is_told_in_french_and_records_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let (pages, store) = pages(&dir).await;
    // An open secret poll with one voter, whose own link shows the ballot.
    let bots = relais_bots::store::BotStore::new(store.clone());
    let poll = relais_bots::store::polls::PollRecord {
        poll_id: "$secret".into(),
        room_id: ruma::room_id!("!section:pcf.test").to_owned(),
        author: ruma::user_id!("@nadia:pcf.test").to_owned(),
        spec: r#"{"question":"Adopter le budget ?","answers":["Pour","Contre"],"max_selections":1,
            "deadline":null,"secret":true,"quorum":null,"majority":"simple"}"#
            .into(),
        created_at: 0,
        deadline: None,
        reminded_at: None,
        closed_at: None,
        result: None,
    };
    bots.poll_create(&poll, &[]).await.expect("poll");
    let secret = Config::for_tests("http://127.0.0.1:9", "").key(relais_core::KeyPurpose::BallotLinks);
    let token = relais_core::ballot::token(secret.expose(), "$secret", "@karim:pcf.test");
    let voters = [("@karim:pcf.test".to_owned(), relais_core::ballot::token_hash(&token), 1)];
    bots.secret_voters_create("$secret", &voters).await.expect("voter");
    let own = text(call(&pages, Method::GET, &format!("/relais/vote/{token}")).await).await;
    assert!(own.contains("<form") && own.contains("Adopter le budget"), "{own}");

    // A link that is none, or the voter's link altered by one character: refused in French,
    // shown no ballot, and a vote posted with it records nothing.
    let mut tampered = token.clone();
    let last = if tampered.ends_with('A') { "B" } else { "A" };
    tampered.replace_range(tampered.len() - 1.., last);
    for bad in ["not-a-token".to_owned(), tampered] {
        let shown = call(&pages, Method::GET, &format!("/relais/vote/{bad}")).await;
        let status = shown.status();
        let page = text(shown).await;
        assert!(status.is_client_error(), "{status}: {page}");
        assert!(page.contains("lang=\"fr\"") && !page.contains("<form"), "{page}");
        let mut post = Request::builder()
            .method(Method::POST)
            .uri(format!("/relais/vote/{bad}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("choix=1"))
            .expect("request");
        post.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40_000))));
        let posted = pages.clone().oneshot(post).await.expect("an answer");
        assert!(posted.status().is_client_error(), "{}", posted.status());
    }
    let ballots: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM secret_ballot_box")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(ballots, 0, "no ballot from a link that is not the voter's");
}

#[tokio::test]
async fn what_a_visitor_types_comes_back_escaped_on_the_invitation_form() {
    let dir = tempfile::tempdir().expect("dir");
    let (pages, store) = pages(&dir).await;
    let lease = relais_core::store::lease::Lease::try_acquire(
        &store,
        relais_provisioning::store::LEASE,
        "test",
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("store")
    .expect("lease");
    let token = relais_provisioning::onboarding::new_token();
    let hash = relais_provisioning::onboarding::token_hash(&token);
    let records = relais_provisioning::store::ProvisioningStore::new(store.clone());
    records.issue_invitation(lease.fence(), "42", &hash, i64::MAX).await.expect("invitation");

    // A user name that would close the attribute and open a script: refused, and shown back as
    // text in the field, never as markup.
    let hostile = "\"><script>alert(1)</script>";
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("nom_utilisateur", hostile)
        .append_pair("mot_de_passe", "un mot de passe solide")
        .append_pair("confirmation", "un mot de passe solide")
        .finish();
    let mut post = Request::builder()
        .method(Method::POST)
        .uri(format!("/inscription/{token}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .expect("request");
    post.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40_000))));
    let answer = pages.clone().oneshot(post).await.expect("an answer");
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = text(answer).await;
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""), "{page}");
    assert!(page.contains("role=\"alert\""), "{page}");
    // Nothing was claimed: the link still opens the form.
    let again = call(&pages, Method::GET, &format!("/inscription/{token}")).await;
    assert_eq!(again.status(), StatusCode::OK);
}

async fn post_form(pages: &axum::Router, uri: &str, form: &[(&str, &str)]) -> Response {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let mut post = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("request");
    post.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40_000))));
    pages.clone().oneshot(post).await.expect("an answer")
}

#[tokio::test]
async fn the_sign_up_page_is_closed_unless_configured_and_answers_mistakes_in_french() {
    let dir = tempfile::tempdir().expect("dir");
    let (closed, _) = pages(&dir).await;
    let answer = call(&closed, Method::GET, "/relais/rejoindre").await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    assert!(text(answer).await.contains("ne sont pas ouvertes"));

    let mut config = Config::for_tests(
        "http://127.0.0.1:9",
        "[mail]\nsmtp_url = \"smtp://127.0.0.1:9\"\n[public]\nnational = true\nsignup = true\n",
    );
    config.homeserver.registration_shared_secret = Some(relais_core::Secret::new("shared-secret-0123456789"));
    config.public.charter = Some("Respect.\n\nPas d'insultes <b>ni</b> de spam.".into());
    config.public.charter_version = "2026-1".into();
    let dir = tempfile::tempdir().expect("dir");
    let (pages, store) = pages_with(&dir, config).await;
    let form = text(call(&pages, Method::GET, "/relais/rejoindre").await).await;
    assert!(
        form.contains("version 2026-1") && form.contains("Pas d'insultes &lt;b&gt;ni&lt;/b&gt;"),
        "{form}"
    );
    assert!(form.contains("name=\"charte\"") && form.contains("name=\"accord\""), "{form}");
    let charter = text(call(&pages, Method::GET, "/relais/charte").await).await;
    assert!(charter.contains("version 2026-1") && charter.contains("Respect."), "{charter}");
    assert_eq!(call(&closed, Method::GET, "/relais/charte").await.status(), StatusCode::NOT_FOUND);

    // A hostile name, the charter unticked, then no consent, then a bad postcode: each said in
    // French, above the form that keeps what was typed (escaped); nothing recorded.
    let hostile = "\"><script>alert(1)</script>";
    let base =
        [("prenom", hostile), ("nom", "Martin"), ("courriel", "c@example.org"), ("code_postal", "59000")];
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[("accord", "oui")], "acceptez la charte"),
        (&[("charte", "oui")], "Cochez la case d'accord"),
        (&[("charte", "oui"), ("accord", "oui"), ("code_postal", "5900")], "code postal"),
    ];
    for (extra, said) in cases {
        let mut fields: Vec<(&str, &str)> = base.to_vec();
        fields.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        fields.extend_from_slice(extra);
        let answer = post_form(&pages, "/relais/rejoindre", &fields).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = text(answer).await;
        assert!(page.contains(said) && page.contains("role=\"alert\""), "{said}: {page}");
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"), "{page}");
        assert!(page.contains("value=\"Martin\""), "{page}");
    }
    // Nothing posted at all: the same French form, not the framework's error.
    let empty = post_form(&pages, "/relais/rejoindre", &[]).await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(empty).await.contains("Indiquez votre prénom"));
    let recorded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sympathiser").fetch_one(store.pool()).await.expect("count");
    assert_eq!(recorded, 0);

    // A link that is no one's: gone, in French, no form.
    let unknown = call(&pages, Method::GET, "/relais/rejoindre/0123abcd").await;
    assert_eq!(unknown.status(), StatusCode::GONE);
    assert!(!text(unknown).await.contains("<form"));
    let posted = post_form(
        &pages,
        "/relais/rejoindre/0123abcd",
        &[("nom_utilisateur", "camille"), ("mot_de_passe", "0123456789ab"), ("confirmation", "0123456789ab")],
    )
    .await;
    assert_eq!(posted.status(), StatusCode::GONE);
}

/// Every form the pages receive, posted as a browser would not: fields left out, a field twice,
/// a body that is no form. The answer is a French page, never the framework's English text.
#[tokio::test]
async fn a_form_missing_fields_or_unreadable_is_answered_in_french() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = Config::for_tests("http://127.0.0.1:9", "");
    config.public.signup = true;
    let (pages, _) = pages_with(&dir, config).await;
    let forms = [
        "/relais/connexion",
        "/relais/connexion/openid",
        "/relais/referent/appliquer",
        "/relais/referent/salons",
        "/relais/referent/salons/moderateurs",
        "/relais/referent/sympathisants/effacer",
        "/inscription/not-a-token",
        "/relais/rejoindre",
        "/relais/rejoindre/not-a-token",
        "/relais/courriel/not-a-token",
        "/inscription",
        "/relais/referent/mot-de-passe",
        "/relais/referent/lettres",
        "/relais/referent/compte",
        "/relais/archives",
    ];
    let french = |uri: &str, status: StatusCode, page: &str| {
        assert!(!page.contains("Failed to deserialize") && !page.contains("missing field"), "{uri}: {page}");
        assert!(page.contains("lang=\"fr\""), "{uri} answers a page in French ({status}): {page}");
    };
    for uri in forms {
        let empty = post_form(&pages, uri, &[]).await;
        let status = empty.status();
        french(uri, status, &text(empty).await);
        // One field twice where one is read: unreadable, said so.
        let twice =
            post_form(&pages, uri, &[("charte", "oui"), ("charte", "non"), ("id", "1"), ("id", "x")]).await;
        let status = twice.status();
        french(uri, status, &text(twice).await);
        let mut json = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .expect("request");
        json.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40_000))));
        let answer = pages.clone().oneshot(json).await.expect("an answer");
        let status = answer.status();
        let page = text(answer).await;
        french(uri, status, &page);
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{uri}: {page}");
        assert!(page.contains("Le formulaire reçu est incomplet ou illisible"), "{uri}: {page}");
    }
}

/// A sign-up flood spread over many client addresses cannot aim its confirmation mails at one
/// provider's inboxes: past the per-domain limit it is refused, other domains still sign up.
#[tokio::test]
async fn sign_ups_are_limited_per_mail_domain_whatever_the_client_address() {
    let mut config = Config::for_tests(
        "http://127.0.0.1:9",
        "[mail]\nsmtp_url = \"smtp://127.0.0.1:9\"\n[public]\nnational = true\nsignup = true\n",
    );
    config.homeserver.registration_shared_secret = Some(relais_core::Secret::new("shared-secret-0123456789"));
    let dir = tempfile::tempdir().expect("dir");
    let (pages, store) = pages_with(&dir, config).await;
    let sign_up = |n: u8, domain: &'static str| {
        let form = [
            ("prenom", "Camille".to_owned()),
            ("nom", "Martin".to_owned()),
            ("courriel", format!("c{n}@{domain}")),
            ("code_postal", "59000".to_owned()),
            ("accord", "oui".to_owned()),
        ];
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let mut post = Request::builder()
            .method(Method::POST)
            .uri("/relais/rejoindre")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        // Each from its own address: the per-address limit never trips.
        post.extensions_mut().insert(ConnectInfo(SocketAddr::from(([198, 51, 100, n], 40_000))));
        pages.clone().oneshot(post)
    };
    let mut statuses = Vec::new();
    for n in 0..31 {
        statuses.push(sign_up(n, "victim.example").await.expect("answer").status());
    }
    assert!(statuses[..30].iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    assert_eq!(statuses[30], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sign_up(31, "ailleurs.example").await.expect("answer").status(), StatusCode::OK);
    let recorded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sympathiser").fetch_one(store.pool()).await.expect("count");
    assert_eq!(recorded, 31, "the refused one is not recorded");
}

/// A form posted to the referents' pages from another site is refused before anything reads it.
#[tokio::test]
async fn a_referent_form_from_another_site_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::for_tests("http://127.0.0.1:9", "");
    let ours = config.web.public_url.origin().ascii_serialization();
    let (pages, _) = pages_with(&dir, config).await;
    let post = |origin: &str| {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/relais/referent/salons")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, origin)
            .body(Body::from("nom=Intrus&acces=public"))
            .expect("request");
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40_000))));
        pages.clone().oneshot(request)
    };
    let foreign = post("https://evil.example").await.expect("answer");
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(text(foreign).await.contains("ne vient pas de l'espace des référents"));
    let same = post(&ours).await.expect("answer");
    assert_eq!(same.status(), StatusCode::UNAUTHORIZED, "our own form reaches the page (no session here)");
}

/// The preferences page offers the lists of the rooms the membership file lets a member into,
/// except where a moderator banned their account: a ban keeps the file's access recorded, not
/// the mail.
#[tokio::test]
async fn a_banned_members_preferences_page_does_not_offer_the_room_they_were_banned_from() {
    use relais_bridge::store::MailList;
    use relais_provisioning::store::{Effect, MemberRooms, ProvisioningStore, RoomRecord};
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::for_tests("http://127.0.0.1:9", "");
    let token = relais_bridge::keys::from_config(&config).preferences_token("9");
    let (pages, store) = pages_with(&dir, config).await;
    let mut effects = vec![Effect::Member {
        member_id: "9".into(),
        record: "{}".into(),
        active: true,
        matrix_id: Some("@karim:pcf.test".into()),
        email: Some("karim@example.org".into()),
        rooms: MemberRooms::default(),
    }];
    let mail = relais_bridge::store::MailStore::new(store.clone());
    for (key, id, name) in [
        ("nord.discussion", "!nord:pcf.test", "Nord — discussion"),
        ("paris.discussion", "!paris:pcf.test", "Paris — discussion"),
    ] {
        effects.push(Effect::Room(RoomRecord {
            key: key.into(),
            kind: "discussion".into(),
            name: name.into(),
            parent_key: None,
            room_id: id.into(),
            moderators: "[]".into(),
        }));
        effects.push(Effect::Grant {
            room_key: key.into(),
            member_id: "9".into(),
            user_id: "@karim:pcf.test".into(),
        });
        let list = MailList {
            room_id: id.into(),
            localpart: key.replace('.', "-"),
            name: name.into(),
            room_key: Some(key.into()),
            enabled: true,
        };
        mail.list_upsert(&list).await.expect("list");
    }
    ProvisioningStore::new(store.clone()).seed(&effects).await.expect("seed");
    let page = text(call(&pages, Method::GET, &format!("/relais/courriel/{token}")).await).await;
    assert!(page.contains("Nord — discussion") && page.contains("Paris — discussion"), "{page}");

    let ban = relais_provisioning::store::moderation::NewModeration {
        command_event: "$ban".into(),
        kind: relais_provisioning::moderation::ModerationKind::Ban,
        target: "@karim:pcf.test".try_into().expect("id"),
        scope: "nord".into(),
        reason: "insultes".into(),
        amount: 0,
        moderator: "@lucie:pcf.test".try_into().expect("id"),
    };
    relais_provisioning::store::moderation::ModerationStore::new(store.clone())
        .record(&ban, &[])
        .await
        .expect("ban");
    let page = text(call(&pages, Method::GET, &format!("/relais/courriel/{token}")).await).await;
    assert!(page.contains("Paris — discussion"), "{page}");
    assert!(!page.contains("Nord — discussion"), "banned there: {page}");
}
