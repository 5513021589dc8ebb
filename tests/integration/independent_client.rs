//! Provisioning as an independent client sees it: matrix-nio (PyPI) discovers the homeserver
//! through the `.well-known` Relais serves, logs in as a provisioned member, finds their
//! federation space and section room through the space hierarchy, and joins them.

use crate::common;

use crate::common::{RelaisOptions, Stack, unique};

#[tokio::test]
async fn a_member_finds_their_rooms_with_matrix_nio() {
    let stack = Stack::start(RelaisOptions::default()).await;
    let localpart = unique("ines");
    let member = stack.synapse.register(&localpart).await;
    let csv = format!(
        "N° adhérent;Prénom;Nom;Fédération;Section;Cotisation à jour;Identifiant Matrix\n\
         201;Inès;Moreau;Paris;Paris 11e;oui;{}\n",
        member.user_id
    );
    let file = stack.relais.dir.path().join("members.csv");
    std::fs::write(&file, csv).expect("csv");
    let (status, stdout, stderr) = stack.relais.cli(&["provision", &file.display().to_string()]);
    assert!(status.success(), "{stdout}\n{stderr}");

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/nio_member.py");
    let password = format!("pw-{localpart}-Relais!");
    let out = tokio::process::Command::new(common::synapse::python())
        .args([
            script,
            &stack.relais.web_url,
            &member.user_id,
            &password,
            "Fédération Paris",
            "Section Paris 11e (Paris)",
        ])
        .output()
        .await
        .expect("run matrix-nio");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "matrix-nio: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).expect("nio prints JSON");
    assert_eq!(seen["homeserver"], stack.synapse.url, "discovered through .well-known");
    let rooms: Vec<&str> =
        seen["rooms"].as_array().expect("rooms").iter().filter_map(|r| r.as_str()).collect();
    assert!(rooms.contains(&"Paris — discussion") && rooms.contains(&"Paris — annonces"), "{rooms:?}");
    let joined: Vec<&str> =
        seen["joined"].as_array().expect("joined").iter().filter_map(|r| r.as_str()).collect();
    assert!(
        joined.contains(&"Fédération Paris") && joined.contains(&"Section Paris 11e (Paris)"),
        "{joined:?}"
    );
}
