//! OpenID tokens from the party's other homeservers (`[other_homeservers]`): a member whose
//! account lives on their federation's own server signs in to Relais's pages with a token that
//! server issued, checked there over its federation API — never a server outside the list, and
//! the answer counts only for an account of that very server.

use std::{collections::BTreeMap, fmt, sync::Arc, time::Duration};

use relais_core::config::OtherHomeserversConfig;
use ruma::{OwnedServerName, OwnedUserId, ServerName};
use rustls_pki_types::{CertificateDer, pem::PemObject};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
};
use tokio_rustls::TlsConnector;
use url::Url;

use super::ClientError;

/// How long one check may take, all included; how much of an answer is read.
const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ANSWER: usize = 16 * 1024;

/// The other homeservers and how to reach them. One GET per check, over HTTP/1.0 so the answer
/// ends with the connection: nothing to reuse, nothing to parse but a status line and a body.
#[derive(Clone)]
pub struct OtherHomeservers {
    servers: Arc<BTreeMap<OwnedServerName, Url>>,
    tls: TlsConnector,
    /// `host:port` of the HTTPS proxy, if any.
    proxy: Option<String>,
}

impl fmt::Debug for OtherHomeservers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtherHomeservers")
            .field("servers", &self.servers)
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// Why a token from another server was not taken.
#[derive(Debug, thiserror::Error)]
pub enum RemoteOpenIdError {
    #[error("not one of the party's homeservers")]
    UnknownServer,
    #[error("the server did not recognise the token")]
    BadToken,
    #[error("the server answered for an account of another server")]
    WrongServer,
    #[error(transparent)]
    Unavailable(#[from] ClientError),
}

fn unreachable(what: impl fmt::Display) -> ClientError {
    ClientError::Unreachable(what.to_string())
}

impl OtherHomeservers {
    /// The client for `config`; a CA file that cannot be read or holds no certificate is said.
    pub fn new(config: &OtherHomeserversConfig) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(path) = &config.ca_file {
            let fail = |e: &dyn fmt::Display| format!("[other_homeservers] ca_file {}: {e}", path.display());
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_file_iter(path).and_then(Iterator::collect).map_err(|e| fail(&e))?;
            if certs.is_empty() {
                return Err(fail(&"no certificate in it"));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| fail(&e))?;
            }
        }
        let tls =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let proxy = match &config.https_proxy {
            None => None,
            Some(url) => match (url.scheme(), url.host_str(), url.port_or_known_default()) {
                ("http", Some(host), Some(port)) => Some(format!("{host}:{port}")),
                _ => return Err(format!("[other_homeservers] https_proxy {url}: an http://host:port URL")),
            },
        };
        let mut servers = BTreeMap::new();
        for (name, url) in &config.servers {
            servers.insert(name.clone(), checked_base(name, url)?);
        }
        Ok(Self { servers: Arc::new(servers), tls: TlsConnector::from(Arc::new(tls)), proxy })
    }

    /// Whether `server` is one of them.
    pub fn knows(&self, server: &ServerName) -> bool {
        self.servers.contains_key(server)
    }

    /// The account on `server` that `token` names, as `server` answers at
    /// `/_matrix/federation/v1/openid/userinfo`.
    pub async fn userinfo(&self, server: &ServerName, token: &str) -> Result<OwnedUserId, RemoteOpenIdError> {
        let base = self.servers.get(server).ok_or(RemoteOpenIdError::UnknownServer)?;
        let mut url = base
            .join("_matrix/federation/v1/openid/userinfo")
            .map_err(|e| ClientError::Request(e.to_string()))?;
        url.query_pairs_mut().append_pair("access_token", token);
        let (status, body) = tokio::time::timeout(TIMEOUT, self.get(&url))
            .await
            .map_err(|_| unreachable(format!("{server} did not answer within {TIMEOUT:?}")))??;
        if matches!(status, 401 | 403 | 404) {
            return Err(RemoteOpenIdError::BadToken);
        }
        if !(200..300).contains(&status) {
            return Err(ClientError::Response(format!("{server} answered HTTP {status}")).into());
        }
        let answer: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| ClientError::Response(format!("{server}: not JSON")))?;
        let user = answer["sub"]
            .as_str()
            .and_then(|u| OwnedUserId::try_from(u).ok())
            .ok_or_else(|| ClientError::Response(format!("{server}: no user in the OpenID answer")))?;
        if user.server_name() != server {
            return Err(RemoteOpenIdError::WrongServer);
        }
        Ok(user)
    }

    /// `GET url` (never logged: it carries the token): the status and the body.
    async fn get(&self, url: &Url) -> Result<(u16, Vec<u8>), ClientError> {
        let bad = || ClientError::Request("the server's URL has no host".into());
        // As written in a URL (`[::1]` for IPv6: the CONNECT line and `Host`), and as an address.
        let host = url.host_str().ok_or_else(bad)?;
        let bare = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => host.to_owned(),
        };
        let port = url.port_or_known_default().ok_or_else(bad)?;
        let tcp = match &self.proxy {
            None => TcpStream::connect((bare.as_str(), port))
                .await
                .map_err(|e| unreachable(format!("{host}: {e}")))?,
            Some(proxy) => tunnel(proxy, host, port).await?,
        };
        let host_header = url.port().map_or_else(|| host.to_owned(), |p| format!("{host}:{p}"));
        let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
        let request = format!(
            "GET {}{query} HTTP/1.0\r\nHost: {host_header}\r\nAccept: application/json\r\nUser-Agent: Relais\r\n\r\n",
            url.path()
        );
        match url.scheme() {
            "https" => {
                let name = rustls_pki_types::ServerName::try_from(bare)
                    .map_err(|e| ClientError::Request(e.to_string()))?;
                let mut tls = self
                    .tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| unreachable(format!("{host}: TLS: {e}")))?;
                exchange(&mut tls, &request).await
            }
            "http" => exchange(&mut { tcp }, &request).await,
            other => Err(ClientError::Request(format!("unsupported scheme {other}"))),
        }
    }
}

/// A server's base URL as the client uses it: HTTPS (plain HTTP would hand the token, and the
/// answer naming the account, to anyone on the path) — plain HTTP only on loopback — and a path
/// ending with `/` so that the API's path is added to it, not put in place of its last segment.
fn checked_base(name: &ServerName, url: &Url) -> Result<Url, String> {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain == "localhost",
        None => false,
    };
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(format!("[other_homeservers] servers.\"{name}\": {url} must be an https:// URL"));
    }
    let mut url = url.clone();
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    url.set_query(None);
    Ok(url)
}

/// A connection to `host:port` through the HTTP proxy at `proxy` (`CONNECT`).
async fn tunnel(proxy: &str, host: &str, port: u16) -> Result<TcpStream, ClientError> {
    let mut tcp =
        TcpStream::connect(proxy).await.map_err(|e| unreachable(format!("the proxy {proxy}: {e}")))?;
    let connect = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n");
    tcp.write_all(connect.as_bytes()).await.map_err(unreachable)?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= 8192 || tcp.read(&mut byte).await.map_err(unreachable)? == 0 {
            return Err(unreachable(format!("the proxy {proxy} gave no answer to CONNECT")));
        }
        head.push(byte[0]);
    }
    match status_of(&head) {
        Some(200) => Ok(tcp),
        status => Err(unreachable(format!("the proxy {proxy} refused {host}:{port} ({status:?})"))),
    }
}

/// Writes `request`, reads the answer to its end (bounded): (status, body).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &str,
) -> Result<(u16, Vec<u8>), ClientError> {
    stream.write_all(request.as_bytes()).await.map_err(unreachable)?;
    let mut raw = Vec::new();
    let read = (&mut *stream).take(MAX_ANSWER as u64 + 1).read_to_end(&mut raw).await;
    // A server closing without TLS's close_notify: what came is all there is (a cut JSON body
    // does not parse).
    if let Err(e) = read
        && (e.kind() != std::io::ErrorKind::UnexpectedEof || raw.is_empty())
    {
        return Err(unreachable(e));
    }
    if raw.len() > MAX_ANSWER {
        return Err(ClientError::Response("the answer is too large".into()));
    }
    parse_answer(&raw).ok_or_else(|| ClientError::Response("not an HTTP answer".into()))
}

/// The status of an HTTP answer's head.
fn status_of(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/1."))?;
    parts.next()?.parse().ok()
}

/// (status, body) of a whole HTTP/1.0 answer. A body shorter than its `Content-Length` was cut
/// and a `Transfer-Encoding` is not HTTP/1.0's: neither is an answer.
fn parse_answer(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let (head, body) = (&raw[..split], &raw[split + 4..]);
    let status = status_of(head)?;
    let mut length = None;
    for line in std::str::from_utf8(head).ok()?.lines().skip(1) {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse::<usize>().ok()?);
        }
    }
    let body = match length {
        Some(n) if n > body.len() => return None,
        Some(n) => &body[..n],
        None => body,
    };
    Some((status, body.to_vec()))
}

#[cfg(test)]
#[path = "openid_tests.rs"]
mod tests;
