//! A real Synapse on loopback, from the virtualenv `scripts/setup-synapse.sh` builds.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{Member, eventually, free_port, workers};

pub const SERVER_NAME: &str = "pcf.test";

pub struct Synapse {
    pub url: String,
    pub port: u16,
    dir: tempfile::TempDir,
    /// One process, or in worker mode the main process, its workers and the router.
    children: Vec<Child>,
    /// In worker mode, what outlives a restart (database, Redis, ports).
    layout: Option<workers::Layout>,
    pub shared_secret: String,
    http: reqwest::Client,
}

pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("RELAIS_SYNAPSE_PYTHON") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-synapse/bin/python");
    assert!(
        p.exists(),
        "Synapse is not installed: run `bash scripts/setup-synapse.sh` (or scripts/test.sh), \
         or set RELAIS_SYNAPSE_PYTHON"
    );
    p
}

/// Standard base64 without padding, as Synapse's signing key file expects.
fn base64_unpadded(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Fills `tests/synapse/<name>` (templates shared with `scripts/demo.sh`), each `@KEY@` by its
/// value in `pairs`.
pub fn fill_template(name: &str, pairs: &[(&str, String)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/synapse").join(name);
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    for (key, value) in pairs {
        text = text.replace(&format!("@{key}@"), value);
    }
    text
}

/// How a test's homeserver is made.
#[derive(Debug, Clone, Default)]
pub struct SynapseOptions {
    /// Synapse in worker mode (`workers.rs`) rather than one process.
    pub workers: bool,
    /// Its name, `pcf.test` (Relais's) by default.
    pub server_name: Option<String>,
    /// More configuration, read after `homeserver.yaml` (its top-level keys replace those),
    /// with `@DIR@` and `@PORT@` filled: e.g. a federation listener (`federation.rs`).
    pub extra: Option<String>,
}

/// Starts the homeserver's processes: one, or those of `layout`.
async fn spawn(dir: &Path, layout: Option<&workers::Layout>) -> Vec<Child> {
    match layout {
        Some(layout) => layout.spawn(dir).await,
        None => vec![spawn_one(dir)],
    }
}

fn spawn_one(dir: &Path) -> Child {
    let stderr = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("stderr.log"));
    let extra = dir.join("extra.yaml");
    Command::new(python())
        .args(["-m", "synapse.app.homeserver", "-c"])
        .arg(dir.join("homeserver.yaml"))
        .args(extra.exists().then(|| ["-c".as_ref(), extra.as_os_str()]).into_iter().flatten())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr.expect("stderr log"))
        .spawn()
        .expect("start synapse")
}

impl Synapse {
    /// CPU seconds (user and system) its processes used so far: one, or the main process, the
    /// workers and the router (Linux `/proc/<pid>/stat`, at 100 ticks a second).
    pub fn cpu_seconds(&self) -> f64 {
        let ticks: u64 = self
            .children
            .iter()
            .filter_map(|child| std::fs::read_to_string(format!("/proc/{}/stat", child.id())).ok())
            .filter_map(|stat| {
                // Fields after the command's closing parenthesis: utime and stime are 12th and 13th.
                let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
                Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
            })
            .sum();
        ticks as f64 / 100.0
    }

    /// Starts Synapse with `registration` (Relais's appservice YAML) and waits until it serves:
    /// one process, or in worker mode when `RELAIS_TEST_SYNAPSE=workers`.
    pub async fn start(registration: &str) -> Self {
        Self::start_with(registration, SynapseOptions { workers: workers::from_env(), ..Default::default() })
            .await
    }

    /// Starts Synapse in worker mode when `workers`, else as one process.
    pub async fn start_in(registration: &str, workers: bool) -> Self {
        Self::start_with(registration, SynapseOptions { workers, ..Default::default() }).await
    }

    /// The worker-mode layout, when Synapse runs so.
    pub fn workers(&self) -> Option<&workers::Layout> {
        self.layout.as_ref()
    }

    /// Starts Synapse as `options` say, with `registration` (empty: no appservice).
    pub async fn start_with(registration: &str, options: SynapseOptions) -> Self {
        let dir = tempfile::tempdir().expect("synapse temp dir");
        let port = free_port();
        let secret = format!("secret{:016x}", rand::random::<u64>());
        let seed: [u8; 32] = rand::random();
        let write =
            |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write synapse file");
        let server_name = options.server_name.as_deref().unwrap_or(SERVER_NAME);
        let pairs = [
            ("DIR", dir.path().display().to_string()),
            ("PORT", port.to_string()),
            ("SECRET", secret.clone()),
            ("SERVER_NAME", server_name.to_owned()),
        ];
        let fill = |name: &str| fill_template(name, &pairs);
        write("homeserver.yaml", &fill("homeserver.yaml.in"));
        write("log.yaml", &fill("log.yaml.in"));
        write("signing.key", &format!("ed25519 a_test {}\n", base64_unpadded(&seed)));
        write("relais-registration.yaml", registration);
        if let Some(extra) = &options.extra {
            let extra = extra
                .replace("@DIR@", &dir.path().display().to_string())
                .replace("@PORT@", &port.to_string());
            write("extra.yaml", &extra);
        }
        let layout = match options.workers {
            true => Some(workers::Layout::prepare(dir.path(), &secret, &fill("log.yaml.in")).await),
            false => None,
        };
        let children = spawn(dir.path(), layout.as_ref()).await;
        let port = layout.as_ref().map_or(port, |l| l.router_port);
        let mut synapse = Self {
            url: format!("http://127.0.0.1:{port}"),
            port,
            dir,
            children,
            layout,
            shared_secret: secret,
            http: reqwest::Client::new(),
        };
        synapse.wait_ready().await;
        synapse
    }

    /// Kills Synapse (every process) with SIGKILL: the homeserver goes down mid-way.
    pub fn kill(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts Synapse again on the same ports and database, and waits until it serves.
    pub async fn restart(&mut self) {
        self.kill();
        self.children = spawn(self.dir.path(), self.layout.as_ref()).await;
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let url = format!("{}/_matrix/client/versions", self.url);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.children.iter_mut().find_map(|c| c.try_wait().ok().flatten()) {
                panic!("Synapse exited ({status}) during startup:\n{}", self.log_tail());
            }
            if let Ok(resp) = self.http.get(&url).send().await
                && resp.status().is_success()
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "Synapse did not start:\n{}", self.log_tail());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines of Synapse's logs, for failure messages.
    pub fn log_tail(&self) -> String {
        if self.layout.is_some() {
            return workers::logs(self.dir.path());
        }
        let mut out = String::new();
        for name in ["stderr.log", "homeserver.log"] {
            let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {name}\n{}\n", lines[lines.len().saturating_sub(40)..].join("\n")));
        }
        out
    }

    /// Registers a member with the shared secret, with message rate limits lifted for them.
    pub async fn register(&self, localpart: &str) -> Member {
        let member = self.register_raw(localpart, false).await;
        let admin = self.admin().await;
        let url = format!(
            "{}/_synapse/admin/v1/users/{}/override_ratelimit",
            self.url,
            member.user_id.replace('@', "%40").replace(':', "%3A")
        );
        let resp = self
            .http
            .post(url)
            .bearer_auth(&admin.token)
            .json(&serde_json::json!({"messages_per_second": 0, "burst_count": 0}))
            .send()
            .await
            .expect("override ratelimit");
        assert!(resp.status().is_success(), "override ratelimit: {}", resp.status());
        member
    }

    /// Registers a member as [`Synapse::register`] does, without lifting their rate limits.
    pub async fn register_plain(&self, localpart: &str) -> Member {
        self.register_raw(localpart, false).await
    }

    pub async fn admin(&self) -> Member {
        self.register_raw(&super::unique("admin"), true).await
    }

    async fn register_raw(&self, localpart: &str, admin: bool) -> Member {
        let url = format!("{}/_synapse/admin/v1/register", self.url);
        let nonce: serde_json::Value =
            self.http.get(&url).send().await.expect("nonce").json().await.expect("nonce json");
        let nonce = nonce["nonce"].as_str().expect("nonce field").to_owned();
        let password = super::member::password_for(localpart);
        let mut mac = Hmac::<Sha1>::new_from_slice(self.shared_secret.as_bytes()).expect("hmac key");
        for (i, part) in [nonce.as_str(), localpart, password.as_str()].iter().enumerate() {
            if i > 0 {
                mac.update(b"\x00");
            }
            mac.update(part.as_bytes());
        }
        mac.update(b"\x00");
        mac.update(if admin { b"admin".as_slice() } else { b"notadmin".as_slice() });
        let body = serde_json::json!({
            "nonce": nonce, "username": localpart, "password": password, "admin": admin,
            "mac": hex::encode(mac.finalize().into_bytes()),
        });
        let resp = self.http.post(&url).json(&body).send().await.expect("register");
        let status = resp.status();
        let json: serde_json::Value = resp.json().await.expect("register json");
        assert!(status.is_success(), "register {localpart}: {json}");
        Member::new(
            &self.url,
            json["user_id"].as_str().expect("user_id"),
            json["access_token"].as_str().expect("access_token"),
        )
    }

    /// Calls `POST /_matrix/client/v1/appservice/{id}/ping` as the appservice.
    pub async fn ping_appservice(&self, id: &str, as_token: &str) -> (u16, serde_json::Value) {
        let resp = self
            .http
            .post(format!("{}/_matrix/client/v1/appservice/{id}/ping", self.url))
            .bearer_auth(as_token)
            .json(&serde_json::json!({"transaction_id": "relais-test-ping"}))
            .send()
            .await
            .expect("ping request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or_default())
    }

    /// Waits until Synapse's own view shows `user` joined in `room`.
    pub async fn wait_joined(&self, member: &Member, room: &str, user: &str) {
        eventually(&format!("{user} joined {room}"), Duration::from_secs(30), || async {
            member.joined_members(room).await.contains(&user.to_owned()).then_some(())
        })
        .await;
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        self.kill();
        if let Some(to) = std::env::var_os("RELAIS_TEST_KEEP_LOGS").filter(|_| std::thread::panicking()) {
            // Every log file of this homeserver, kept for a look after a failure.
            let to = std::path::Path::new(&to).join(format!("synapse-{}", self.port));
            let _ = std::fs::create_dir_all(&to);
            for entry in std::fs::read_dir(self.dir.path()).into_iter().flatten().flatten() {
                if entry.file_name().to_string_lossy().ends_with(".log") {
                    let _ = std::fs::copy(entry.path(), to.join(entry.file_name()));
                }
            }
        }
        if std::thread::panicking() {
            eprintln!("Synapse logs:\n{}", self.log_tail());
        }
    }
}

#[test]
fn base64_matches_the_standard_alphabet() {
    assert_eq!(base64_unpadded(b"Man"), "TWFu");
    assert_eq!(base64_unpadded(b"Ma"), "TWE");
    assert_eq!(base64_unpadded(b"M"), "TQ");
}
