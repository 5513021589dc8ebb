//! The `relais` command line as an administrator meets it: help, and clear configuration errors.

use std::process::Command;

use crate::common::relais::BIN;

fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).envs(env.iter().copied()).output().expect("run relais");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn every_command_has_help() {
    for cmd in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["registration", "--help"],
        vec!["queue", "--help"],
        vec!["ping", "--help"],
        vec!["migrate", "--help"],
    ] {
        let (ok, stdout, _) = run(&cmd, &[]);
        assert!(ok, "{cmd:?}");
        assert!(stdout.contains("Usage: relais"), "{cmd:?}: {stdout}");
    }
}

#[test]
fn missing_config_file_says_what_to_do() {
    let (ok, _, stderr) = run(&["--config", "/nonexistent/relais.toml", "serve"], &[]);
    assert!(!ok);
    assert!(stderr.contains("cannot read the configuration file /nonexistent/relais.toml"), "{stderr}");
    assert!(stderr.contains("relais.example.toml"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_key_from_file_or_environment_is_named() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/relais.example.toml");
    let (ok, stdout, stderr) = run(&["--config", example, "registration"], &[]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("rate_limited: false"));
    let (ok, _, stderr) =
        run(&["--config", example, "registration"], &[("RELAIS_APPSERVICE__BIND", "nowhere")]);
    assert!(!ok);
    assert!(stderr.contains("configuration key `appservice.bind`"), "{stderr}");
    let (ok, _, stderr) =
        run(&["--config", example, "registration"], &[("RELAIS_WEB__PUBLIC_URL", "ftp://x")]);
    assert!(!ok);
    assert!(stderr.contains("web.public_url"), "{stderr}");
}

/// `relais member forget` never erases beside a provisioning run (which could write the member
/// back): it waits for the provisioning lease, then erases.
#[tokio::test]
async fn forgetting_a_member_waits_for_a_provisioning_run() {
    use std::time::Duration;

    use relais_core::{Store, store::lease::Lease};

    let relais = crate::common::Relais::prepare(crate::common::RelaisOptions::default());
    let (migrated, _, stderr) = relais.cli(&["migrate"]);
    assert!(migrated.success(), "{stderr}");
    let store = Store::open(&relais.database_url(), 2).await.expect("store");
    let run = Lease::try_acquire(
        &store,
        relais_provisioning::apply::LEASE,
        "a provisioning run",
        Duration::from_secs(60),
    )
    .await
    .expect("lease")
    .expect("free");
    let mut forget = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(relais.config_path())
        .args(["member", "forget", "4242"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let stderr = forget.stderr.take().expect("stderr");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let told = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("Waiting for a provisioning run") {
                return true;
            }
        }
        false
    })
    .await
    .expect("the erasure says in time that it waits");
    assert!(told, "the erasure says it waits");
    assert!(forget.try_wait().expect("status").is_none(), "nothing erased while the run holds the lease");
    run.release().await.expect("release");
    let out = tokio::time::timeout(Duration::from_secs(60), forget.wait_with_output())
        .await
        .expect("the erasure goes on once the run is over")
        .expect("output");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("member 4242"), "{out:?}");
    store.close().await;
}
