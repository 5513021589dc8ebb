use ruma::{owned_room_id, owned_server_name, owned_user_id, serde::Raw};
use serde_json::{Value, json};

use super::*;

fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serializable")
}

#[test]
fn new_rooms_give_the_bot_the_structure_and_moderators_the_room() {
    let bot = owned_user_id!("@relais:pcf.test");
    // What the homeserver reads: keys left out take the specification's defaults.
    let read = |levels: &RoomPowerLevelsEventContent| -> Value {
        let wire = json_of(levels);
        let parsed: RoomPowerLevelsEventContent = serde_json::from_value(wire).expect("readable");
        json!({
            "users": json_of(&parsed.users), "users_default": i64::from(parsed.users_default),
            "events_default": i64::from(parsed.events_default), "state_default": i64::from(parsed.state_default),
            "invite": i64::from(parsed.invite), "kick": i64::from(parsed.kick), "ban": i64::from(parsed.ban),
            "redact": i64::from(parsed.redact), "events": json_of(&parsed.events),
        })
    };
    let levels = read(&power_levels(RoomKind::Announcements, &bot));
    assert_eq!(levels["users"], json!({ "@relais:pcf.test": 100 }));
    assert_eq!(levels["users_default"], 0);
    assert_eq!(levels["events_default"], 50, "announcements are read-only below moderators");
    for key in ["state_default", "invite", "kick", "ban", "redact"] {
        assert_eq!(levels[key], 50, "{key}: {levels}");
    }
    for event in ["m.room.power_levels", "m.room.join_rules", "m.room.history_visibility", "m.space.child"] {
        assert_eq!(levels["events"][event], 100, "{event}: {levels}");
    }
    assert_eq!(levels["events"]["m.room.encryption"], 50, "moderators may switch a room to encryption");
    let federation = read(&power_levels(RoomKind::FederationSpace, &bot));
    assert_eq!(federation["events"]["m.space.child"], 50, "referents attach their rooms to their space");
    assert_eq!(federation["events"]["m.room.encryption"], 100, "a space is not encrypted");
    let national = read(&power_levels(RoomKind::NationalSpace, &bot));
    assert_eq!(national["events"]["m.space.child"], 100, "the national space's hierarchy is the bot's");
    // Inviting takes a moderator although the specification's default is 0: it is said.
    assert_eq!(json_of(&power_levels(RoomKind::Discussion, &bot))["invite"], 50);
    assert_eq!(read(&power_levels(RoomKind::Discussion, &bot))["events_default"], 0);
}

#[test]
fn restricted_rooms_open_to_their_space_and_the_others_by_invitation() {
    let space = owned_room_id!("!nord:pcf.test");
    let server = owned_server_name!("pcf.test");
    let events = |state: Vec<Raw<AnyInitialStateEvent>>| -> Vec<Value> {
        state.iter().map(|raw| serde_json::from_str(raw.json().get()).expect("json")).collect()
    };
    let restricted = events(initial_state(RoomKind::Discussion, Some(&space), &server, None));
    let rules = restricted.iter().find(|e| e["type"] == "m.room.join_rules").expect("join rules");
    assert_eq!(
        rules["content"],
        json!({ "join_rule": "restricted", "allow": [{ "type": "m.room_membership", "room_id": "!nord:pcf.test" }] })
    );
    let parent = restricted.iter().find(|e| e["type"] == "m.space.parent").expect("parent");
    assert_eq!(parent["state_key"], "!nord:pcf.test");
    assert_eq!(parent["content"], json!({ "via": ["pcf.test"], "canonical": true }));
    assert!(restricted.iter().any(|e| e["content"] == json!({ "guest_access": "forbidden" })));
    assert!(restricted.iter().any(|e| e["content"] == json!({ "history_visibility": "shared" })));

    let top = events(initial_state(RoomKind::Announcements, None, &server, None));
    let rules = top.iter().find(|e| e["type"] == "m.room.join_rules").expect("join rules");
    assert_eq!(rules["content"], json!({ "join_rule": "invite" }));
    assert!(!top.iter().any(|e| e["type"] == "m.space.parent"));
}

#[test]
fn public_rooms_are_joined_or_knocked_and_guests_read_only_where_allowed() {
    use crate::desired::Openness;
    use relais_core::config::PublicJoin;
    let space = owned_room_id!("!public:pcf.test");
    let server = owned_server_name!("pcf.test");
    let content = |open: Openness, kind: &str| -> Value {
        let state = initial_state(RoomKind::Public, Some(&space), &server, Some(open));
        let events: Vec<Value> =
            state.iter().map(|raw| serde_json::from_str(raw.json().get()).expect("json")).collect();
        events.into_iter().find(|e| e["type"] == kind).expect("present")["content"].clone()
    };
    let open = Openness { join: PublicJoin::Public, guests: true };
    assert_eq!(content(open, "m.room.join_rules"), json!({ "join_rule": "public" }));
    assert_eq!(content(open, "m.room.guest_access"), json!({ "guest_access": "can_join" }));
    assert_eq!(content(open, "m.room.history_visibility"), json!({ "history_visibility": "world_readable" }));
    let knock = Openness { join: PublicJoin::Knock, guests: false };
    assert_eq!(content(knock, "m.room.join_rules"), json!({ "join_rule": "knock" }));
    assert_eq!(content(knock, "m.room.guest_access"), json!({ "guest_access": "forbidden" }));
    assert_eq!(content(knock, "m.room.history_visibility"), json!({ "history_visibility": "shared" }));
    // Moderators of a public space attach rooms to it; the bot alone changes its join rules.
    let bot = owned_user_id!("@relais:pcf.test");
    let levels = json_of(&power_levels(RoomKind::PublicSpace, &bot));
    assert_eq!(levels["events"]["m.space.child"], 50);
    assert_eq!(levels["events"]["m.room.join_rules"], 100);
}

#[test]
fn moderators_follow_the_file_and_hand_set_levels_stay() {
    let bot = owned_user_id!("@relais:pcf.test");
    // As some clients write them: levels as strings, which the old JSON walk read as 0.
    let current: RoomPowerLevelsEventContent = serde_json::from_value(json!({
        "users": {
            "@relais:pcf.test": 100,
            "@admin:pcf.test": "100",
            "@ancien:pcf.test": 50,
            "@reste:pcf.test": "50",
            "@muet:pcf.test": -1,
        },
        "events": { "m.room.encryption": 100 },
        "ban": 50,
    }))
    .expect("levels");
    let wanted = [
        owned_user_id!("@reste:pcf.test"),
        owned_user_id!("@nouvelle:pcf.test"),
        owned_user_id!("@admin:pcf.test"),
    ]
    .into_iter()
    .collect();
    let next = json_of(&with_moderators(current, &wanted, &bot));
    assert_eq!(
        next["users"],
        json!({
            "@relais:pcf.test": 100,
            "@admin:pcf.test": 100,
            "@reste:pcf.test": 50,
            "@nouvelle:pcf.test": 50,
            "@muet:pcf.test": -1,
        }),
        "a moderator no longer in the file loses the role; an admin listed as moderator stays admin"
    );
    assert_eq!(next["events"], json!({ "m.room.encryption": 100 }), "the rest is untouched");
}

#[test]
fn rooms_made_by_an_older_relais_give_moderators_what_they_may_now_do() {
    use std::collections::BTreeMap;

    use ruma::events::TimelineEventType;
    let old = |levels: &[(TimelineEventType, i64)]| -> BTreeMap<TimelineEventType, ruma::Int> {
        levels.iter().map(|(t, l)| (t.clone(), ruma::Int::from(i32::try_from(*l).expect("small")))).collect()
    };
    let mut section =
        old(&[(TimelineEventType::RoomEncryption, 100), (TimelineEventType::RoomPowerLevels, 100)]);
    assert!(structure_outdated(RoomKind::Section, &section));
    with_moderators_structure(&mut section, RoomKind::Section);
    assert_eq!(
        section,
        old(&[(TimelineEventType::RoomEncryption, 50), (TimelineEventType::RoomPowerLevels, 100)])
    );
    assert!(!structure_outdated(RoomKind::Section, &section));
    // A space is not encrypted; a federation's space lets moderators attach rooms.
    let mut space = old(&[(TimelineEventType::RoomEncryption, 100), (TimelineEventType::SpaceChild, 100)]);
    assert!(structure_outdated(RoomKind::FederationSpace, &space));
    with_moderators_structure(&mut space, RoomKind::FederationSpace);
    assert_eq!(space, old(&[(TimelineEventType::RoomEncryption, 100), (TimelineEventType::SpaceChild, 50)]));
    // The national space's structure stays the bot's.
    let national = old(&[(TimelineEventType::SpaceChild, 100)]);
    assert!(!structure_outdated(RoomKind::NationalSpace, &national));
}
