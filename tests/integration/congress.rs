//! Congress mode against the real Synapse: the mandates file is checked line by line and loaded
//! by the CLI, a poll opened with `--congrès` counts each delegate's mandates and the proxies
//! they carry (an absent delegate who gave a proxy, and a member without mandates, are not
//! counted), and closing posts signed minutes that `relais poll verify` accepts — and rejects
//! once altered.

use std::time::Duration;

use crate::common::{Member, RelaisOptions, Stack, eventually, unique};
use serde_json::{Value, json};

const SECTION: &str = "#relais_nord.s.lille:pcf.test";
const HEADER: &str =
    "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n";

/// Answers `poll` the way Element does (an MSC3381 response event).
async fn answer(member: &Member, room: &str, poll: &str, answer: &str) {
    let content = json!({"m.relates_to": {"rel_type": "m.reference", "event_id": poll},
                         "org.matrix.msc3381.poll.response": {"answers": [answer]}});
    member.send_content_of(room, "org.matrix.msc3381.poll.response", content).await;
}

fn mandates(stack: &Stack, text: &str, extra: &[&str]) -> (bool, String) {
    let file = stack.relais.dir.path().join(format!("{}.csv", unique("mandats")));
    std::fs::write(&file, text).expect("file");
    let mut args = vec!["congres", "mandats", file.to_str().expect("path")];
    args.extend_from_slice(extra);
    let (status, out, err) = stack.relais.cli(&args);
    (status.success(), format!("{out}{err}"))
}

#[tokio::test]
async fn a_congress_vote_counts_mandates_and_proxies_and_signs_its_minutes() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let people: Vec<Member> = register_all(&stack, &["paul", "sophie", "karim", "luc"]).await;
    let [paul, sophie, karim, luc] = &people[..] else { unreachable!("four members") };
    let mut csv = String::from(HEADER);
    for (n, (m, role)) in people.iter().zip(["Secrétaire de section", "", "", ""]).enumerate() {
        csv.push_str(&format!("{};Prénom{n};Nom{n};Nord;Lille;{role};oui;{}\n", n + 1, m.user_id));
    }
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{out}{err}");

    // Paul 3 mandates; Sophie 2 plus Karim's 1 by proxy; Luc has none.
    let (ok, said) = mandates(&stack, "N° adhérent;Mandats;Procuration de\n1;3;\n2;2;3\n3;1;\n9;1;\n", &[]);
    assert!(!ok && said.contains("line 5") && said.contains("« 9 » absent"), "{said}");
    let good = "N° adhérent;Mandats;Procuration de\n1;3;\n2;2;3\n3;1;\n";
    let (ok, said) = mandates(&stack, good, &["--max-procurations", "0"]);
    assert!(!ok && said.contains("plus de 0 procuration"), "{said}");
    let (ok, said) = mandates(&stack, good, &[]);
    assert!(ok && said.contains("3 delegates, 6 mandates, 1 proxies"), "{said}");

    for member in &people {
        assert_eq!(member.try_join(SECTION).await, 200);
    }
    let room = paul.resolve(SECTION).await;
    let bot = stack.relais.bot();
    let ask = paul
        .send_text(&room, "!sondage \"Motion 1 ?\" \"Pour\" \"Contre\" --congrès --majorité absolue")
        .await;
    assert!(paul.wait_reply(&room, &bot, &ask).await.contains("2 adhérent(s)"), "Paul and Sophie vote");
    let poll = eventually("the poll", Duration::from_secs(60), || async {
        let events = paul.messages(&room, 100).await;
        let start = events
            .iter()
            .find(|e| e["sender"] == bot.as_str() && e["type"] == "org.matrix.msc3381.poll.start");
        start.and_then(|e| e["event_id"].as_str()).map(str::to_owned)
    })
    .await;
    answer(paul, &room, &poll, "r1").await;
    answer(sophie, &room, &poll, "r2").await;
    answer(karim, &room, &poll, "r1").await;
    answer(luc, &room, &poll, "r1").await;

    let results = eventually("four responses recorded", Duration::from_secs(60), || async {
        let (_, out, _) = stack.relais.cli(&["poll", "results", &poll, "--json"]);
        let json: Value = serde_json::from_str(&out).ok()?;
        (json["ignored"] == 2 && json["voted"] == 2).then_some(json)
    })
    .await;
    let counts: Vec<u64> =
        results["answers"].as_array().expect("answers").iter().filter_map(|a| a["count"].as_u64()).collect();
    assert_eq!(counts, [3, 3], "in mandates: {results}");
    assert_eq!(results["mandates"], json!({"eligible": 6, "voted": 6}));

    let close = paul.send_text(&room, "!sondage clore").await;
    assert!(paul.wait_reply(&room, &bot, &close).await.contains("Sondage clos"));
    let minutes = eventually("the signed minutes", Duration::from_secs(60), || async {
        let events = paul.messages(&room, 100).await;
        let file =
            events.iter().find(|e| e["sender"] == bot.as_str() && e["content"]["msgtype"] == "m.file")?;
        Some(file["content"]["url"].as_str()?.to_owned())
    })
    .await;
    let text = String::from_utf8(paul.download(&minutes).await).expect("utf-8");
    assert!(text.contains("PROCÈS-VERBAL DE VOTE") && text.contains("Question : Motion 1 ?"), "{text}");
    assert!(
        text.contains("- Pour : 3\n- Contre : 3") && text.contains("mandats exprimés : 6 sur 6"),
        "{text}"
    );
    assert!(text.contains("aucune réponse n'obtient la majorité requise"), "{text}");

    let saved = stack.relais.dir.path().join("pv.txt");
    std::fs::write(&saved, &text).expect("save");
    let (status, out, err) = stack.relais.cli(&["poll", "verify", saved.to_str().expect("path")]);
    assert!(status.success() && out.contains("valid"), "{out}{err}");
    std::fs::write(&saved, text.replace("- Pour : 3", "- Pour : 4")).expect("tamper");
    let (status, out, err) = stack.relais.cli(&["poll", "verify", saved.to_str().expect("path")]);
    assert!(!status.success() && err.contains("altered"), "{out}{err}");
}

/// Registers `names` (each made unique).
async fn register_all(stack: &Stack, names: &[&str]) -> Vec<Member> {
    let mut out = Vec::new();
    for name in names {
        out.push(stack.synapse.register(&unique(name)).await);
    }
    out
}
