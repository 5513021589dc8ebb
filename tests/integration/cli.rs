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
