//! What the inbound worker's in-process tests share: a SQLite store in a temporary directory
//! and a loopback SMTP sink for what the worker sends.

use std::sync::{Arc, Mutex};

use relais_appservice::{MatrixClient, Metrics};
use relais_core::{Config, Store};
use relais_mail::Mailer;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

use super::Inbound;
use crate::keys::Keys;

/// The authserv-id of the site's MTA in these tests.
pub const AUTHSERV: &str = "mx.pcf.test";

/// What the sink received: for each mail, its `RCPT TO` lines then its data.
pub type Received = Arc<Mutex<Vec<String>>>;

/// A loopback SMTP server accepting every mail.
async fn smtp_sink() -> (u16, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the sink");
    let port = listener.local_addr().expect("sink address").port();
    let received = Received::default();
    let kept = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink\r\n").await;
                let (mut mail, mut in_data) = (String::new(), false);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            kept.lock().expect("sink lock").push(std::mem::take(&mut mail));
                            in_data = false;
                            let _ = write.write_all(b"250 kept\r\n").await;
                        } else {
                            mail.push_str(&line);
                            mail.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            in_data = true;
                            b"354 go on\r\n"
                        }
                        "QUIT" => b"221 bye\r\n",
                        _ => {
                            if verb == "RCPT" {
                                mail.push_str(&line);
                                mail.push('\n');
                            }
                            b"250 ok\r\n"
                        }
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, received)
}

/// The inbound worker with no homeserver (nothing answers on port 9).
pub async fn world(dir: &tempfile::TempDir) -> (Inbound, Received) {
    world_with(dir, "http://127.0.0.1:9", "").await
}

/// The inbound worker with the homeserver at `homeserver` and `mail` added to `[mail]`.
pub async fn world_with(dir: &tempfile::TempDir, homeserver: &str, mail: &str) -> (Inbound, Received) {
    let (port, received) = smtp_sink().await;
    let config = Config::for_tests(
        homeserver,
        &format!(
            "[mail]\ndomain = \"listes.pcf.test\"\nsmtp_url = \"smtp://127.0.0.1:{port}\"\n\
             inbound_auth = \"upstream\"\nauthserv_id = \"{AUTHSERV}\"\n{mail}"
        ),
    );
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::open(&url, 2).await.expect("store");
    let client = MatrixClient::new(&config, Arc::new(Metrics::default())).expect("client");
    let mailer =
        Mailer::new(&format!("smtp://127.0.0.1:{port}"), "Relais <relais@listes.pcf.test>").expect("mailer");
    let inbound = Inbound::new(store, client, Keys::new(b"secret"), Arc::new(config), Some(mailer));
    (inbound, received)
}
