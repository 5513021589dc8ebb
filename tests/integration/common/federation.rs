//! Homeservers federating over loopback, as on the internet: each Synapse serves federation
//! over TLS with a certificate from a local CA that the others trust (`federation_custom_ca_list`,
//! certificates verified), and `/.well-known/matrix/server`. Names like `pcf.test` resolve
//! nowhere, so every server's outbound HTTPS goes through a CONNECT proxy that knows where each
//! name listens — what DNS does in production; nothing else differs.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use super::free_port;

/// A certificate authority for the test's servers.
pub struct LocalCa {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl LocalCa {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("ca dir");
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=Relais test CA",
            ],
        );
        Self { dir }
    }

    /// The CA's certificate (PEM).
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A certificate and key for `name`, signed by the CA: (certificate, key).
    pub fn issue(&self, name: &str) -> (PathBuf, PathBuf) {
        let dir = self.dir.path();
        let ext = format!("subjectAltName=DNS:{name}");
        std::fs::write(dir.join(format!("{name}.ext")), &ext).expect("ext file");
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.crt"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
        (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")))
    }
}

/// The CONNECT proxy standing in for DNS: `CONNECT name:any-port` reaches the federation
/// listener registered for `name`; any other name is refused.
#[derive(Clone)]
pub struct Resolver {
    pub port: u16,
    names: Arc<Mutex<HashMap<String, u16>>>,
}

impl Resolver {
    /// Starts the proxy on its own thread: it must keep serving while a test blocks on a
    /// `relais` command that makes the homeservers federate.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("non-blocking proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let names: Arc<Mutex<HashMap<String, u16>>> = Arc::default();
        let table = names.clone();
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                while let Ok((inbound, _)) = listener.accept().await {
                    let table = table.clone();
                    tokio::spawn(async move {
                        let _ = tunnel(inbound, &table).await;
                    });
                }
            });
        });
        Self { port, names }
    }

    /// `name` listens on loopback `port`.
    pub fn add(&self, name: &str, port: u16) {
        self.names.lock().expect("names").insert(name.to_owned(), port);
    }
}

async fn tunnel(mut inbound: TcpStream, names: &Mutex<HashMap<String, u16>>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        if inbound.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split_whitespace().nth(1).unwrap_or_default();
    let host = target.rsplit_once(':').map_or(target, |(h, _)| h);
    let port = names.lock().expect("names").get(host).copied();
    let Some(port) = port.filter(|_| head.starts_with("CONNECT ")) else {
        inbound.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n").await?;
        return Ok(());
    };
    let mut outbound = TcpStream::connect(("127.0.0.1", port)).await?;
    inbound.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
    tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await?;
    Ok(())
}

/// The configuration a Synapse named `name` needs to federate: its TLS federation listener on
/// `federation_port` (besides its client listener), the CA, the proxy. Without `appservice`,
/// no Relais is registered there.
pub fn synapse_config(
    ca: &LocalCa,
    resolver: &Resolver,
    name: &str,
    federation_port: u16,
    appservice: bool,
) -> String {
    let (cert, key) = ca.issue(name);
    resolver.add(name, federation_port);
    let appservices = if appservice { "" } else { "app_service_config_files: []\n" };
    format!(
        r#"listeners:
  - port: @PORT@
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    resources:
      - names: [client, openid]
        compress: false
  - port: {federation_port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: true
    resources:
      - names: [federation, keys, openid, client]
        compress: false
tls_certificate_path: "{cert}"
tls_private_key_path: "{key}"
federation_custom_ca_list: ["{ca}"]
serve_server_wellknown: true
https_proxy: "http://127.0.0.1:{proxy}"
ip_range_whitelist: ["127.0.0.0/8"]
{appservices}"#,
        cert = cert.display(),
        key = key.display(),
        ca = ca.cert().display(),
        proxy = resolver.port,
    )
}

/// A free port for a federation listener.
pub fn federation_port() -> u16 {
    free_port()
}
