//! The real `relais` binary, configured for one test and run as a child process.

use std::{
    path::PathBuf,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use tokio::process::{Child, Command};

use super::{Synapse, free_port};

pub const BIN: &str = env!("CARGO_BIN_EXE_relais");

/// Per-test choices.
#[derive(Debug, Clone, Default)]
pub struct RelaisOptions {
    /// Extra `RELAIS_…` environment variables.
    pub env: Vec<(String, String)>,
    /// `[mail] smtp_url`.
    pub smtp_url: Option<String>,
    /// More of the configuration file, appended after the sections above (e.g. `[public]`).
    pub toml: String,
}

pub struct Relais {
    pub dir: tempfile::TempDir,
    pub as_url: String,
    pub web_url: String,
    pub as_token: String,
    pub hs_token: String,
    options: RelaisOptions,
    homeserver_url: String,
    shared_secret: Option<String>,
    child: Option<Child>,
}

impl Relais {
    /// Writes a configuration on fresh ports and a fresh SQLite database; does not start.
    pub fn prepare(options: RelaisOptions) -> Self {
        let dir = tempfile::tempdir().expect("relais temp dir");
        let (as_port, web_port) = (free_port(), free_port());
        let as_token = format!("as{:032x}", rand::random::<u128>());
        let hs_token = format!("hs{:032x}", rand::random::<u128>());
        let relais = Self {
            as_url: format!("http://127.0.0.1:{as_port}"),
            web_url: format!("http://127.0.0.1:{web_port}"),
            as_token,
            hs_token,
            options,
            homeserver_url: "http://127.0.0.1:9".into(),
            shared_secret: None,
            child: None,
            dir,
        };
        relais.write_config();
        relais
    }

    fn write_config(&self) {
        let text = format!(
            r#"[homeserver]
url = "{hs}"
server_name = "{server}"
{secret}
[appservice]
id = "relais"
bind = "{as_addr}"
url = "{as_url}"
as_token = "{as_token}"
hs_token = "{hs_token}"
sender_localpart = "relais"
[database]
url = "{db_url}"
[provisioning]
# Short, so that a test's killed run is taken over within seconds (60 by default).
lease_seconds = 10
[web]
bind = "{web_addr}"
public_url = "{web_url}"
[mail]
from = "Relais <relais@pcf.test>"
{smtp}
{more}
"#,
            hs = self.homeserver_url,
            server = super::synapse::SERVER_NAME,
            as_addr = self.as_url.trim_start_matches("http://"),
            as_url = self.as_url,
            as_token = self.as_token,
            hs_token = self.hs_token,
            db_url = self.database_url(),
            web_addr = self.web_url.trim_start_matches("http://"),
            web_url = self.web_url,
            secret = self
                .shared_secret
                .as_ref()
                .map(|s| format!("registration_shared_secret = \"{s}\""))
                .unwrap_or_default(),
            smtp = self.options.smtp_url.as_ref().map(|u| format!("smtp_url = \"{u}\"")).unwrap_or_default(),
            more = self.options.toml,
        );
        std::fs::write(self.config_path(), text).expect("write relais.toml");
    }

    /// The test's own SQLite database, as Relais opens it.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.dir.path().join("relais.db").display())
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("relais.toml")
    }

    pub fn bot(&self) -> String {
        format!("@relais:{}", super::synapse::SERVER_NAME)
    }

    /// Aims Relais at `synapse`.
    /// Adds an environment variable for every later command and start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.options.env.push((key.to_owned(), value.to_owned()));
    }

    pub fn point_at(&mut self, synapse: &Synapse) {
        self.homeserver_url = synapse.url.clone();
        self.shared_secret = Some(synapse.shared_secret.clone());
        self.write_config();
    }

    /// Runs a `relais` command with this configuration; returns (status, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (ExitStatus, String, String) {
        let out = std::process::Command::new(BIN)
            .arg("--config")
            .arg(self.config_path())
            .args(args)
            .envs(self.options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run relais");
        (out.status, String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    /// The registration YAML, from `relais registration`.
    pub fn registration(&self) -> String {
        let (status, stdout, stderr) = self.cli(&["registration"]);
        assert!(status.success(), "relais registration failed: {stderr}");
        stdout
    }

    /// Starts `relais serve` and waits for `/health`.
    pub async fn start(&mut self) {
        self.start_with(&[]).await;
    }

    /// Starts `relais serve` with extra environment for this run only.
    pub async fn start_with(&mut self, env: &[(&str, &str)]) {
        assert!(self.child.is_none(), "relais already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("relais.log"))
            .expect("relais log");
        let child = Command::new(BIN)
            .arg("--config")
            .arg(self.config_path())
            .arg("serve")
            .envs(self.options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().copied())
            .env("RELAIS_LOG", "info,relais=debug,relais_appservice=debug,relais_e2ee=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn relais serve");
        self.child = Some(child);
        let http = reqwest::Client::new();
        let health = format!("{}/health", self.as_url);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("relais exited early ({status}):\n{}", self.log());
            }
            if let Ok(resp) = http.get(&health).send().await
                && resp.status().is_success()
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "relais did not become healthy:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills `relais serve` with SIGKILL: no chance to flush or clean up.
    pub async fn kill9(&mut self) {
        let mut child = self.child.take().expect("relais running");
        child.kill().await.expect("kill -9 relais");
    }

    /// Sends SIGTERM and returns the exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("relais running");
        let pid = child.id().expect("pid");
        let sent = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        assert!(sent.expect("kill -TERM").success());
        tokio::time::timeout(Duration::from_secs(40), child.wait())
            .await
            .expect("relais stops within 40 s of SIGTERM")
            .expect("wait relais")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("relais.log")).unwrap_or_default()
    }

    /// Reads one sample from `/metrics`, e.g. `relais_queue_events{state="pending"}`.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = reqwest::get(format!("{}/metrics", self.as_url)).await.ok()?.text().await.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
    }
}

impl Drop for Relais {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("relais log:\n{}", self.log());
        }
    }
}
