//! Moderation across a federation on the real Synapse: a federation's digital referent bans a
//! member from every room of the federation's space with one command (after purging their
//! latest messages), and a re-import of the membership file keeps them out and says so.

use serde_json::Value;

use std::time::Duration;

use crate::common::{Member, RelaisOptions, Stack, eventually, unique};

pub(crate) fn csv(lucie: &str, marc: &str, paul: &str, sofia: &str, marc_section: &str) -> String {
    format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Responsabilités;Cotisation à jour;Identifiant Matrix\n\
         1;Lucie;Garnier;Nord;Lille;Référente numérique;oui;{lucie}\n\
         2;Marc;Petit;Nord;{marc_section};;oui;{marc}\n\
         3;Paul;Roux;Paris;Paris 11e;;oui;{paul}\n\
         4;Sofia;Benali;Nord;Lille;;oui;{sofia}\n"
    )
}

pub(crate) fn provision(stack: &Stack, csv: &str) -> Value {
    let file = stack.relais.dir.path().join(format!("{}.csv", unique("members")));
    std::fs::write(&file, csv).expect("csv");
    let (status, out, err) = stack.relais.cli(&["provision", &file.display().to_string(), "--json"]);
    assert!(status.success(), "{out}{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Nord's members and rooms, provisioned, with Lucie (its digital referent, so a moderator of
/// its space), Marc and Sofia in the space and its discussion room; Paul is of Paris.
pub(crate) struct Nord {
    pub(crate) stack: Stack,
    pub(crate) lucie: Member,
    pub(crate) marc: Member,
    pub(crate) paul: Member,
    pub(crate) sofia: Member,
    /// The space, discussion, announcements and Lille section rooms.
    pub(crate) rooms: Vec<String>,
    pub(crate) discussion: String,
    pub(crate) bot: String,
}

impl Nord {
    pub(crate) async fn provisioned(env: &[(&str, &str)]) -> Self {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let stack = Stack::start(RelaisOptions { env, ..Default::default() }).await;
        let (lucie, marc, paul, sofia) = (
            stack.synapse.register(&unique("lucie")).await,
            stack.synapse.register(&unique("marc")).await,
            stack.synapse.register(&unique("paul")).await,
            stack.synapse.register(&unique("sofia")).await,
        );
        provision(&stack, &csv(&lucie.user_id, &marc.user_id, &paul.user_id, &sofia.user_id, "Lille"));
        let mut rooms = Vec::new();
        for key in ["", ".discussion", ".annonces", ".s.lille"] {
            rooms.push(lucie.resolve(&format!("#relais_nord{key}:pcf.test")).await);
        }
        let discussion = rooms[1].clone();
        for member in [&lucie, &marc, &sofia] {
            assert_eq!(member.try_join(&rooms[0]).await, 200);
            assert_eq!(member.try_join(&discussion).await, 200);
        }
        let bot = stack.relais.bot();
        Self { stack, lucie, marc, paul, sofia, rooms, discussion, bot }
    }

    pub(crate) fn file(&self, marc_section: &str) -> String {
        csv(&self.lucie.user_id, &self.marc.user_id, &self.paul.user_id, &self.sofia.user_id, marc_section)
    }
}

/// Sofia reports Marc's last message: it reaches the federation's moderation room, where Lucie
/// is invited, and Sofia's command leaves the room. Returns the moderation room.
async fn a_report_reaches_the_moderators(n: &Nord) -> String {
    let Nord { stack, lucie, marc, paul, sofia, discussion, bot, .. } = n;
    //'s last message: it reaches the federation's moderation room, where
    // Lucie is invited, and Sofia's command leaves the room.
    for text in ["message un", "message deux", "message trois"] {
        marc.send_text(discussion, text).await;
    }
    let last = marc.messages(discussion, 10).await;
    let last = last.iter().find(|e| e["content"]["body"] == "message trois").expect("Marc's message");
    let last = last["event_id"].as_str().expect("id").to_owned();
    let report = serde_json::json!({"msgtype": "m.text", "body": "!signaler",
                                    "m.relates_to": {"m.in_reply_to": {"event_id": last}}});
    let report = sofia.send_content(discussion, report).await;
    // The room is told, without a reply to Sofia's command: no client shows who reported.
    let thanks = eventually("the room told", Duration::from_secs(60), || async {
        let events = sofia.messages(discussion, 20).await;
        events.into_iter().find(|e| {
            e["sender"] == bot.as_str()
                && e["content"]["body"].as_str().is_some_and(|b| b.contains("transmis aux modérateurs"))
        })
    })
    .await;
    assert!(thanks["content"].get("m.relates_to").is_none(), "{thanks}");
    let desk = lucie.resolve("#relais_nord.moderation:pcf.test").await;
    assert_eq!(lucie.try_join(&desk).await, 200, "Lucie, a moderator of Nord's space, is invited");
    let notices: Vec<String> = lucie
        .messages(&desk, 20)
        .await
        .iter()
        .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
        .collect();
    let notice = notices.iter().find(|b| b.starts_with("Signalement")).expect("the report");
    assert!(
        notice.contains(sofia.user_id.as_str())
            && notice.contains(marc.user_id.as_str())
            && notice.contains("« message trois »"),
        "{notice}"
    );
    let command = stack.bot().get(&format!("/_matrix/client/v3/rooms/{discussion}/event/{report}")).await;
    assert_eq!(command["content"], serde_json::json!({}), "the reporter's command is redacted: {command}");
    assert_ne!(paul.try_join(&desk).await, 200, "the moderation room is not open to all");

    // Lucie lets Paul in by hand; he moderates nothing in Nord, so the next report shows him out.
    lucie
        .post(
            &format!("/_matrix/client/v3/rooms/{desk}/invite"),
            serde_json::json!({"user_id": paul.user_id}),
        )
        .await;
    assert_eq!(paul.try_join(&desk).await, 200);
    let again = serde_json::json!({"msgtype": "m.text", "body": "!signaler",
                                   "m.relates_to": {"m.in_reply_to": {"event_id": last}}});
    sofia.send_content(discussion, again).await;
    eventually("Paul out of the moderation room", Duration::from_secs(60), || async {
        let member = stack.bot().state(&desk, "m.room.member", &paul.user_id).await;
        (member["membership"] == "leave").then_some(())
    })
    .await;
    desk
}

/// From the moderation room, Lucie purges Marc's two latest messages everywhere in Nord.
async fn a_purge_from_the_moderation_room(n: &Nord, desk: &str) {
    let Nord { stack, lucie, marc, discussion, bot, .. } = n;
    // Lucie acts from the moderation room: his two latest messages go, in every room of the
    // space at once.
    let purge = lucie.send_text(desk, &format!("!expurger {} 2 hors sujet", marc.user_id)).await;
    let answer = lucie.wait_reply(desk, bot, &purge).await;
    assert!(answer.contains("messages récents retirés de 4 salon(s) sur 4"), "{answer}");
    let bodies: Vec<String> = stack
        .bot()
        .messages(discussion, 50)
        .await
        .iter()
        .filter(|e| e["sender"] == marc.user_id.as_str() && e["type"] == "m.room.message")
        .map(|e| e["content"]["body"].as_str().unwrap_or("(retiré)").to_owned())
        .collect();
    assert_eq!(
        bodies.iter().filter(|b| b.starts_with("message")).collect::<Vec<_>>(),
        ["message un"],
        "{bodies:?}"
    );
}

/// Lucie bans Marc from every room of Nord's space, with her reason in each.
async fn a_ban_everywhere_in_the_space(n: &Nord) {
    let Nord { stack, lucie, marc, paul, rooms, discussion, bot, .. } = n;
    let ban = lucie.send_text(discussion, &format!("!bannir {} propos injurieux", marc.user_id)).await;
    let answer = lucie.wait_reply(discussion, bot, &ban).await;
    assert!(answer.contains("banni(e) de 4 salon(s) sur 4 (fédération Nord)"), "{answer}");
    let bot_view = stack.bot();
    for room in rooms.iter() {
        let member = bot_view.state(room, "m.room.member", &marc.user_id).await;
        assert_eq!(member["membership"], "ban", "{room}: {member}");
        assert_eq!(member["reason"], "propos injurieux", "{room}: {member}");
    }
    assert_eq!(marc.try_join(discussion).await, 403, "banned: cannot come back by himself");

    // A federation's ban stays its own: the party's policy list (national bans) is not made for it.
    assert_eq!(paul.try_resolve("#relais_bannissements.liste:pcf.test").await, None);
}

#[tokio::test]
async fn a_federation_referent_bans_from_the_whole_space_and_a_reimport_keeps_them_out() {
    let n = Nord::provisioned(&[]).await;
    let Nord { stack, lucie, marc, discussion, bot, .. } = &n;

    // Marc is no moderator: his attempt on Lucie is refused.
    let attempt = marc.send_text(discussion, &format!("!bannir {}", lucie.user_id)).await;
    assert!(marc.wait_reply(discussion, bot, &attempt).await.contains("Seuls les modérateurs"));

    let desk = a_report_reaches_the_moderators(&n).await;
    a_purge_from_the_moderation_room(&n, &desk).await;
    a_ban_everywhere_in_the_space(&n).await;

    // Marc moves to the Roubaix section in the next export: the file lets him into its room,
    // the ban keeps him out, and the plan says so.
    let plan = provision(stack, &n.file("Roubaix"));
    assert_eq!(plan["kept_out"], 1, "{plan}");
    let invited_marc = plan["actions"].as_array().into_iter().flatten().any(|a| {
        matches!(a["type"].as_str(), Some("invite" | "grant")) && a["user_id"] == marc.user_id.as_str()
    });
    assert!(!invited_marc, "{plan}");
    let roubaix = lucie.resolve("#relais_nord.s.roubaix:pcf.test").await;
    assert_eq!(marc.try_join(&roubaix).await, 403, "not let in through the space either");

    // Lifted: Marc is no longer banned anywhere in Nord.
    let unban = lucie.send_text(discussion, &format!("!débannir {}", marc.user_id)).await;
    assert!(lucie.wait_reply(discussion, bot, &unban).await.contains("débanni(e)"));
    let member = stack.bot().state(discussion, "m.room.member", &marc.user_id).await;
    assert_eq!(member["membership"], "leave", "{member}");
}

#[tokio::test]
async fn a_member_flooding_a_room_is_muted_there_then_let_speak_again() {
    let n = Nord::provisioned(&[
        ("RELAIS_BOTS__FLOOD_MESSAGES", "5"),
        ("RELAIS_BOTS__FLOOD_SECONDS", "60"),
        ("RELAIS_BOTS__FLOOD_MUTE_SECONDS", "8"),
    ])
    .await;
    let Nord { stack, lucie, marc, discussion, .. } = &n;
    for i in 0..6 {
        marc.send_text(discussion, &format!("spam {i}")).await;
    }
    eventually("Marc muted", Duration::from_secs(60), || async {
        let levels = stack.bot().state(discussion, "m.room.power_levels", "").await;
        (levels["users"][marc.user_id.as_str()] == -1).then_some(())
    })
    .await;
    assert_eq!(marc.try_send_text(discussion, "encore").await, 403, "muted: cannot speak");
    assert_eq!(lucie.try_send_text(discussion, "du calme").await, 200, "the others can");
    eventually("the moderators told", Duration::from_secs(60), || async {
        // The moderation room is made, Lucie invited to it, then told: she joins once she may.
        let desk = lucie.try_resolve("#relais_nord.moderation:pcf.test").await?;
        if lucie.try_join(&desk).await != 200 {
            return None;
        }
        let told = lucie.messages(&desk, 20).await;
        told.iter()
            .any(|e| {
                e["content"]["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("rendu(e) muet(te)") && b.contains(marc.user_id.as_str()))
            })
            .then_some(())
    })
    .await;
    // The mute is lifted by the clock once its time is up.
    eventually("Marc let speak again", Duration::from_secs(60), || async {
        (marc.try_send_text(discussion, "pardon").await == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn moderators_encrypt_their_rooms_and_attach_their_own_rooms_to_the_space() {
    let n = Nord::provisioned(&[]).await;
    let Nord { lucie, marc, rooms, discussion, .. } = &n;
    let space = &rooms[0];
    let encryption = serde_json::json!({"algorithm": "m.megolm.v1.aes-sha2"});
    let path = format!("/_matrix/client/v3/rooms/{discussion}/state/m.room.encryption/");
    assert_eq!(marc.try_put(&path, encryption.clone()).await, 403, "a member may not");
    assert_eq!(lucie.try_put(&path, encryption).await, 200, "a moderator may");

    // Lucie's own working group, attached to Nord's space by her.
    let group = lucie.create_room("Commission santé (Nord)", &[]).await;
    let child = serde_json::json!({"via": ["pcf.test"]});
    let path = format!("/_matrix/client/v3/rooms/{space}/state/m.space.child/{group}");
    assert_eq!(marc.try_put(&path, child.clone()).await, 403, "a member may not");
    assert_eq!(lucie.try_put(&path, child).await, 200, "a referent may");
    let listed = lucie.hierarchy(space).await;
    assert!(listed.iter().any(|r| r["room_id"] == group.as_str()), "{listed:?}");
}
