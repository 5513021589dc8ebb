//! Synapse in worker mode (`RELAIS_TEST_SYNAPSE=workers`): the main process, two event
//! persisters, a client-API worker and the appservice sender, on a fresh PostgreSQL database and
//! their own Redis, behind nginx routing the client API as Synapse's worker documentation says
//! (`tests/synapse/workers/`). The same tests run against it as against one process.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{
    free_port,
    postgres::Database,
    synapse::{fill_template, python},
};

/// The workers: name, what their HTTP listener serves.
const WORKERS: [(&str, &str); 4] = [
    ("persister1", "replication"),
    ("persister2", "replication"),
    ("client1", "client"),
    ("sender1", "metrics"),
];

/// Whether this run's tests use Synapse in worker mode.
pub fn from_env() -> bool {
    std::env::var("RELAIS_TEST_SYNAPSE").is_ok_and(|v| v == "workers")
}

/// What lives as long as the homeserver: its database, its Redis, and the ports of its
/// processes (kept across a restart).
pub struct Layout {
    pub router_port: u16,
    main_port: u16,
    worker_ports: Vec<u16>,
    redis: Child,
    database: Database,
}

impl Layout {
    /// Writes the shared and per-worker configuration, nginx's, and starts Redis. `log_yaml`
    /// is the main process's logging configuration (each worker logs to its own file).
    pub async fn prepare(dir: &Path, secret: &str, log_yaml: &str) -> Self {
        let database = Database::create(
            "synapse_workers",
            "ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
        );
        let (router_port, main_port, replication_port, redis_port) =
            (free_port(), free_port(), free_port(), free_port());
        let worker_ports: Vec<u16> = WORKERS.iter().map(|_| free_port()).collect();
        let at = |k: &str, v: String| (k.to_owned(), v);
        let dir_text = dir.display().to_string();
        let shared: Vec<(String, String)> = vec![
            at("DIR", dir_text.clone()),
            at("SECRET", secret.to_owned()),
            at("DATABASE", database.name.clone()),
            at("ROUTER_PORT", router_port.to_string()),
            at("MAIN_PORT", main_port.to_string()),
            at("REPLICATION_PORT", replication_port.to_string()),
            at("REDIS_PORT", redis_port.to_string()),
            at("PERSISTER1_PORT", worker_ports[0].to_string()),
            at("PERSISTER2_PORT", worker_ports[1].to_string()),
            at("CLIENT_PORT", worker_ports[2].to_string()),
        ];
        let pairs: Vec<(&str, String)> = shared.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("write worker file");
        write("workers.yaml", &fill_template("workers/shared.yaml.in", &pairs));
        write("nginx.conf", &fill_template("workers/nginx.conf.in", &pairs));
        std::fs::create_dir_all(dir.join("nginx-tmp")).expect("nginx temp dir");
        for ((name, resources), port) in WORKERS.iter().zip(&worker_ports) {
            let mut own = pairs.clone();
            own.extend([
                ("NAME", (*name).to_owned()),
                ("PORT", port.to_string()),
                ("RESOURCES", (*resources).to_owned()),
            ]);
            write(&format!("{name}.yaml"), &fill_template("workers/worker.yaml.in", &own));
            write(&format!("log-{name}.yaml"), &log_yaml.replace("homeserver.log", &format!("{name}.log")));
        }
        let redis = Command::new("redis-server")
            .args([
                "--port",
                &redis_port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (apt-get install redis-server)");
        wait_redis(redis_port).await;
        Self { router_port, main_port, worker_ports, redis, database }
    }

    /// The homeserver's PostgreSQL database.
    pub fn database_url(&self) -> &str {
        &self.database.url
    }

    /// The appservice sender's Prometheus metrics.
    pub fn sender_metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}/_synapse/metrics", self.worker_ports[3])
    }

    /// Starts the main process, then the workers once it serves (it prepares the database),
    /// then nginx; returns them all once each answers its health check.
    pub async fn spawn(&self, dir: &Path) -> Vec<Child> {
        let log = |name: &str| {
            std::fs::OpenOptions::new().create(true).append(true).open(dir.join(format!("stderr-{name}.log")))
        };
        let synapse = |app: &str, name: &str, extra: Option<String>| {
            let mut command = Command::new(python());
            command.args(["-m", app, "-c", "homeserver.yaml", "-c", "workers.yaml"]);
            command.args(extra.iter().flat_map(|e| ["-c", e.as_str()]));
            command.current_dir(dir).stdin(Stdio::null()).stdout(Stdio::null());
            command.stderr(log(name).expect("stderr log")).spawn().expect("start a Synapse process")
        };
        let mut children = vec![synapse("synapse.app.homeserver", "main", None)];
        wait_health(self.main_port, &mut children, dir).await;
        for (name, _) in WORKERS {
            children.push(synapse("synapse.app.generic_worker", name, Some(format!("{name}.yaml"))));
        }
        for port in &self.worker_ports {
            wait_health(*port, &mut children, dir).await;
        }
        let nginx = Command::new("nginx")
            .args(["-p", &dir.display().to_string(), "-c", "nginx.conf"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log("nginx").expect("nginx log"))
            .spawn()
            .expect("start nginx (apt-get install nginx-light)");
        children.push(nginx);
        children
    }
}

impl Drop for Layout {
    fn drop(&mut self) {
        let _ = self.redis.kill();
        let _ = self.redis.wait();
    }
}

async fn wait_redis(port: u16) {
    super::eventually("Redis answers PING", Duration::from_secs(30), || async move {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut answer = [0u8; 5];
        stream.read_exact(&mut answer).await.ok()?;
        (&answer == b"+PONG").then_some(())
    })
    .await;
}

/// Waits until the process listening on `port` answers `/health`; fails with the logs if one
/// of `children` exited.
async fn wait_health(port: u16, children: &mut [Child], dir: &Path) {
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/health");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        for child in children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("a Synapse process exited ({status}) during startup:\n{}", logs(dir));
            }
        }
        if let Ok(resp) = http.get(&url).send().await
            && resp.status().is_success()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Synapse worker on {port} did not start:\n{}",
            logs(dir)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last lines of every process's logs, for failure messages.
pub fn logs(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    let mut out = String::new();
    for name in names {
        let text = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        out.push_str(&format!("--- {name}\n{}\n", lines[lines.len().saturating_sub(25)..].join("\n")));
    }
    out
}
