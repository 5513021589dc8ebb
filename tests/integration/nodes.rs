//! Two `relais serve` nodes on one PostgreSQL database, behind one address for the homeserver
//! (a loopback front that hands each connection to the next node alive, as a load balancer
//! would): intake on both, the work shared through the database; one node killed with -9 in the
//! middle of a broadcast, or of a referent's import on its page, and the survivor finishes it —
//! every copy, every action once.

use std::{process::Command, time::Duration};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::common::{
    Member, Relais, RelaisOptions, Synapse, e2ee::EncryptingMember, eventually, postgres::Database, unique,
};

/// Listens on loopback and hands each connection to the first node that accepts it, starting
/// with the next one each time; a dead node is passed over. Returns its URL.
async fn front(nodes: Vec<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the front");
    let address = listener.local_addr().expect("front address");
    tokio::spawn(async move {
        let mut next = 0usize;
        while let Ok((mut inbound, _)) = listener.accept().await {
            let order: Vec<String> =
                (0..nodes.len()).map(|i| nodes[(next + i) % nodes.len()].clone()).collect();
            next += 1;
            tokio::spawn(async move {
                for node in order {
                    if let Ok(mut outbound) = TcpStream::connect(&node).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
            });
        }
    });
    format!("http://{address}")
}

struct Nodes {
    synapse: Synapse,
    a: Relais,
    b: Relais,
    /// Last: dropped after the nodes stopped.
    _database: Database,
}

/// Two nodes sharing one database and the appservice's tokens, the homeserver aimed at the front.
async fn two_nodes(env: &[(&str, &str)]) -> Nodes {
    two_nodes_each(env, env).await
}

/// [`two_nodes`], each with its own settings.
async fn two_nodes_each(env_a: &[(&str, &str)], env_b: &[(&str, &str)]) -> Nodes {
    let database = Database::create("relais_nodes", "");
    let env = |own: &[(&str, &str)]| {
        let mut env: Vec<(String, String)> =
            own.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        env.push(("RELAIS_DATABASE__URL".into(), database.url.clone()));
        // A killed node's leased events are taken over within seconds (120 by default).
        env.push(("RELAIS_DISPATCH__LEASE_SECONDS".into(), "6".into()));
        env
    };
    let mut a = Relais::prepare(RelaisOptions { env: env(env_a), ..Default::default() });
    let mut b = Relais::prepare(RelaisOptions { env: env(env_b), ..Default::default() });
    b.as_token = a.as_token.clone();
    b.hs_token = a.hs_token.clone();
    let front = front(vec![
        a.as_url.trim_start_matches("http://").to_owned(),
        b.as_url.trim_start_matches("http://").to_owned(),
    ])
    .await;
    let registration = a.registration().replace(&a.as_url, &front);
    assert!(registration.contains(&front), "{registration}");
    let synapse = Synapse::start(&registration).await;
    a.point_at(&synapse);
    b.point_at(&synapse);
    a.start().await;
    b.start().await;
    Nodes { synapse, a, b, _database: database }
}

/// Delivered copies of the newest broadcast, as `relais stats --csv` counts them.
fn delivered(node: &Relais) -> usize {
    let (_, out, _) = node.cli(&["stats", "--csv", "--limit", "1"]);
    out.lines().nth(1).and_then(|l| l.split(';').nth(4)).and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn a_node_killed_during_a_broadcast_leaves_the_other_to_finish_it_once() {
    const FEDERATIONS: usize = 30;
    let alias_local = unique("communication");
    let national = format!("#{alias_local}:pcf.test");
    let mut nodes = two_nodes(&[("RELAIS_BOTS__NATIONAL_ROOM", &national)]).await;
    let nadia = nodes.synapse.register(&unique("nadia")).await;
    let mut csv = String::from("N° adhérent;Prénom;Nom;Fédération;Section;Cotisation à jour;Courriel\n");
    for n in 0..FEDERATIONS {
        csv.push_str(&format!("{n};P{n};N{n};Fédé {n:02};Section {n};oui;m{n}@example.org\n"));
    }
    let file = nodes.a.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = nodes.a.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");

    let bot = nodes.a.bot();
    let room = nadia
        .post(
            "/_matrix/client/v3/createRoom",
            json!({"name": "Communication nationale", "room_alias_name": alias_local, "invite": [bot]}),
        )
        .await["room_id"]
        .as_str()
        .expect("room")
        .to_owned();
    nodes.synapse.wait_joined(&nadia, &room, &bot).await;
    let appeal = nadia.send_text(&room, "Appel unique : rassemblement dimanche.").await;
    let ask = json!({"msgtype": "m.text", "body": "!diffuser --toutes", "m.relates_to": {"m.in_reply_to": {"event_id": appeal}}});
    nadia.send_content(&room, ask).await;
    let at_kill = eventually("the first copies", Duration::from_secs(60), || async {
        let n = delivered(&nodes.b);
        (n > 0).then_some(n)
    })
    .await;
    nodes.a.kill9().await;
    println!("node a killed with {at_kill} of {FEDERATIONS} copies recorded");
    eventually("every copy recorded by the surviving node", Duration::from_secs(120), || async {
        (delivered(&nodes.b) == FEDERATIONS).then_some(())
    })
    .await;

    let bot_view = Member::new(&nodes.synapse.url, &bot, &nodes.a.as_token);
    crate::broadcasts::one_copy_each(&bot_view, FEDERATIONS, "Appel unique").await;
    // The survivor still answers the homeserver, now alone behind the front.
    let later = nadia.send_text(&room, "!aide").await;
    assert!(!nadia.wait_reply(&room, &bot, &later).await.is_empty(), "node b answers alone");
}

/// Audit lines so far, as `relais audit` prints them.
fn audit_lines(node: &Relais) -> Vec<String> {
    let (status, out, err) = node.cli(&["audit", "--limit", "100000", "--json"]);
    assert!(status.success(), "{err}");
    out.lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn a_node_killed_during_a_referents_import_leaves_the_other_to_finish_it_once() {
    const NEW: usize = 30;
    let mut nodes = two_nodes(&[]).await;
    let camille = nodes.synapse.register(&unique("camille")).await;
    let mut members = Vec::new();
    for _ in 0..NEW {
        members.push(nodes.synapse.register(&unique("m")).await);
    }
    let header =
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n";
    let national =
        format!("{header}1;Camille;Test;Nord;Centre;Référente numérique;oui;{}\n", camille.user_id);
    let file = nodes.a.dir.path().join("national.csv");
    std::fs::write(&file, &national).expect("csv");
    let (status, out, err) = nodes.a.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");

    // Camille imports her federation's export, with 30 new members, on node a's page.
    let nord: String = std::iter::once(national)
        .chain(
            members
                .iter()
                .enumerate()
                .map(|(i, m)| format!("{};M{i};Test;Nord;Centre;;oui;{}\n", 100 + i, m.user_id)),
        )
        .collect();
    let mut browser = crate::referents::Browser {
        http: crate::referents::redirectless(),
        base: nodes.a.web_url.clone(),
        cookie: None,
    };
    assert_eq!(browser.sign_in(&camille.user_id, &camille.password()).await, 303);
    let (_, upload) = crate::referents::dry_run(&browser, &nord).await;
    let before = audit_lines(&nodes.a).len();
    assert_eq!(crate::referents::apply(&browser, &[("upload", &upload)]).await, 303);
    // Killed once its first homeserver actions are recorded (the members' records and their
    // restricted rooms' entries, 3 per member, come first).
    eventually("the first invitations", Duration::from_secs(60), || async {
        (audit_lines(&nodes.b).len() > before + 3 * NEW).then_some(())
    })
    .await;
    nodes.a.kill9().await;
    eventually("node b finishes the import node a left", Duration::from_secs(90), || async {
        nodes.b.log().contains("finished an interrupted provisioning run").then_some(())
    })
    .await;
    for member in &members {
        assert_eq!(member.try_join("#relais_nord.s.centre:pcf.test").await, 200, "{}", member.user_id);
    }
    // Each action once: no audit line twice, and the same file plans nothing more.
    let lines: Vec<serde_json::Value> =
        audit_lines(&nodes.b).iter().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    let mut seen = std::collections::BTreeSet::new();
    // Newest first: the import's lines are those written since it was applied.
    for line in &lines[..lines.len() - before] {
        let key = (line["action"].to_string(), line["target"].to_string(), line["detail"].to_string());
        assert!(seen.insert(key), "an action recorded twice: {line}");
    }
    let export = nodes.b.dir.path().join("nord.csv");
    std::fs::write(&export, &nord).expect("csv");
    let (_, out, err) = nodes.b.cli(&["provision", &export.display().to_string(), "--dry-run", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"));
    assert_eq!(plan["actions"], json!([]), "nothing left: {plan}");
}

/// The bot's device id, from the session a node saved in its `e2ee_dir`.
fn saved_device(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("session.json")).expect("session.json");
    let session: serde_json::Value = serde_json::from_str(&text).expect("session json");
    session["device_id"].as_str().expect("device id").to_owned()
}

/// The encryption device's node dies; the operator moves the device as docs/deploy.md (8b)
/// says — its directory copied to the other node, which is started again with it and with
/// dispatch on — and the other node answers in the encrypted room with the same device, the
/// command sent while no node held the device included.
#[tokio::test]
async fn the_encryption_device_moves_to_the_other_node_when_its_node_dies() {
    let (held, moved) = (tempfile::tempdir().expect("device dir"), tempfile::tempdir().expect("device dir"));
    let device_a = held.path().display().to_string();
    let passphrase = ("RELAIS_BOTS__E2EE_PASSPHRASE", "une phrase de passe");
    let mut nodes = two_nodes_each(
        &[("RELAIS_BOTS__E2EE_DIR", &device_a), passphrase],
        // Intake only: a node without the device must not handle events that need it.
        &[("RELAIS_DISPATCH__ENABLED", "false")],
    )
    .await;
    let bot = nodes.a.bot();
    let alice = nodes.synapse.register(&unique("alice")).await;
    let mut nio = EncryptingMember::start_at(&nodes.synapse.url, &alice).await;
    let room = nio.create_encrypted_room("Réunion chiffrée", &[&bot]).await;
    nodes.synapse.wait_joined(&alice, &room, &bot).await;
    let asked = nio.send(&room, "!aide").await;
    let help = nio.wait(json!({"room": room, "sender": bot, "reply_to": asked})).await;
    assert_eq!(help["decrypted"], true, "node a answers encrypted: {help}");
    let device = saved_device(held.path());

    nodes.a.kill9().await;
    let pending = nio.send(&room, "!ping").await;
    let copied = Command::new("cp").arg("-a").arg(format!("{device_a}/.")).arg(moved.path()).status();
    assert!(copied.expect("cp").success(), "the device's directory copied to node b");
    nodes.b.terminate().await;
    let device_b = moved.path().display().to_string();
    nodes
        .b
        .start_with(&[("RELAIS_BOTS__E2EE_DIR", &device_b), passphrase, ("RELAIS_DISPATCH__ENABLED", "true")])
        .await;

    let pong = nio.wait(json!({"room": room, "sender": bot, "reply_to": pending})).await;
    assert_eq!(pong["decrypted"], true, "{pong}");
    assert!(pong["source"]["content"]["body"].as_str().unwrap_or_default().starts_with("Pong"), "{pong}");
    assert_eq!(saved_device(moved.path()), device, "the same device, not a new login");
    let bot_view = Member::new(&nodes.synapse.url, &bot, &nodes.b.as_token);
    let devices = bot_view.get("/_matrix/client/v3/devices").await;
    let ids: Vec<&str> =
        devices["devices"].as_array().into_iter().flatten().filter_map(|d| d["device_id"].as_str()).collect();
    assert_eq!(ids, [device.as_str()], "one device for the bot");
    let again = nio.send(&room, "!aide").await;
    let answer = nio.wait(json!({"room": room, "sender": bot, "reply_to": again})).await;
    assert_eq!(answer["decrypted"], true, "node b keeps answering: {answer}");
}
