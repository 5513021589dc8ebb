//! A real SMTP server (aiosmtpd from PyPI, in the test virtualenv) that stores every message it
//! accepts in a maildir the test reads.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::{eventually, free_port};

pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Starts on a given port (to bring a stopped server back where Relais expects it).
    pub async fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("maildir");
        let child = Command::new(super::synapse::python())
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(dir.path().join("maildir"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let sink = Self { port, dir, child };
        eventually("SMTP server listening", Duration::from_secs(30), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok().map(|_| ())
        })
        .await;
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Every message received so far, raw.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir().join(sub)) {
                out.extend(entries.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()));
            }
        }
        out
    }

    /// Waits for a message to `to` and returns it with quoted-printable soft breaks removed.
    pub async fn wait_for(&self, to: &str) -> String {
        eventually(&format!("a mail to {to}"), Duration::from_secs(30), || async {
            self.messages()
                .into_iter()
                .find(|m| m.contains(to))
                .map(|m| m.replace("=\r\n", "").replace("=\n", ""))
        })
        .await
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
