//! The OpenID check against other homeservers, over loopback servers that answer what a
//! hostile or broken server could.

use super::*;

/// A server answering every connection with `answer`; returns its base URL and the requests
/// it read.
async fn server(answer: Vec<u8>) -> (Url, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = Url::parse(&format!("http://{}/", listener.local_addr().expect("addr"))).expect("url");
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && tcp.read(&mut byte).await.unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            log.lock().expect("log").push(String::from_utf8_lossy(&head).into_owned());
            let _ = tcp.write_all(&answer).await;
        }
    });
    (url, seen)
}

fn json_answer(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn client(servers: &[(&str, &Url)]) -> OtherHomeservers {
    let config = OtherHomeserversConfig {
        servers: servers
            .iter()
            .map(|(n, u)| (OwnedServerName::try_from(*n).expect("name"), (*u).clone()))
            .collect(),
        ..Default::default()
    };
    OtherHomeservers::new(&config).expect("client")
}

fn nord() -> &'static ServerName {
    <&ServerName>::try_from("fed-nord.test").expect("name")
}

#[tokio::test]
async fn a_token_names_an_account_of_the_server_that_issued_it() {
    let (url, seen) = server(json_answer("200 OK", r#"{"sub": "@lucie:fed-nord.test"}"#)).await;
    let user = client(&[("fed-nord.test", &url)]).userinfo(nord(), "a b&c").await.expect("user");
    assert_eq!(user.as_str(), "@lucie:fed-nord.test");
    let request = seen.lock().expect("log")[0].clone();
    assert!(
        request.starts_with("GET /_matrix/federation/v1/openid/userinfo?access_token=a+b%26c HTTP/1.0\r\n"),
        "{request}"
    );
}

#[tokio::test]
async fn a_server_answering_for_an_account_of_another_server_is_not_believed() {
    let (url, _) = server(json_answer("200 OK", r#"{"sub": "@admin:pcf.test"}"#)).await;
    let answer = client(&[("fed-nord.test", &url)]).userinfo(nord(), "token").await;
    assert!(matches!(answer, Err(RemoteOpenIdError::WrongServer)), "{answer:?}");
}

#[tokio::test]
async fn unknown_servers_are_never_asked_and_refusals_are_bad_tokens() {
    let (url, seen) = server(json_answer("401 Unauthorized", r#"{"errcode": "M_UNKNOWN_TOKEN"}"#)).await;
    let client = client(&[("fed-nord.test", &url)]);
    let elsewhere = <&ServerName>::try_from("evil.example").expect("name");
    assert!(matches!(client.userinfo(elsewhere, "t").await, Err(RemoteOpenIdError::UnknownServer)));
    assert!(seen.lock().expect("log").is_empty(), "nothing asked");
    assert!(matches!(client.userinfo(nord(), "t").await, Err(RemoteOpenIdError::BadToken)));
}

#[tokio::test]
async fn oversized_or_garbled_answers_are_errors_not_users() {
    let huge = format!(r#"{{"sub": "@lucie:fed-nord.test", "pad": "{}"}}"#, "x".repeat(MAX_ANSWER));
    for answer in [json_answer("200 OK", &huge), b"garbage".to_vec(), json_answer("200 OK", "{\"sub\": 3}")] {
        let (url, _) = server(answer).await;
        let result = client(&[("fed-nord.test", &url)]).userinfo(nord(), "t").await;
        assert!(matches!(result, Err(RemoteOpenIdError::Unavailable(_))), "{result:?}");
    }
}

#[test]
fn an_answer_is_its_status_and_its_declared_body() {
    let raw = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing";
    assert_eq!(parse_answer(raw), Some((200, b"{}".to_vec())));
    assert_eq!(parse_answer(b"HTTP/1.1 404 Not Found\r\n\r\n"), Some((404, Vec::new())));
    assert_eq!(parse_answer(b"SMTP 220\r\n\r\n"), None);
    assert_eq!(parse_answer(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\n{}"), None, "cut short");
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    assert_eq!(parse_answer(chunked), None);
}

#[test]
fn only_https_servers_unless_on_loopback() {
    let config = |url: &str| OtherHomeserversConfig {
        servers: [(OwnedServerName::try_from("fed-nord.test").expect("name"), Url::parse(url).expect("url"))]
            .into(),
        ..Default::default()
    };
    let error =
        OtherHomeservers::new(&config("http://matrix.fed-nord.test")).expect_err("plain HTTP refused");
    assert!(error.contains("https://"), "{error}");
    assert!(OtherHomeservers::new(&config("http://127.0.0.1:8448")).is_ok(), "loopback");
    let client = OtherHomeservers::new(&config("https://matrix.fed-nord.test/prefix")).expect("https");
    assert_eq!(client.servers[nord()].as_str(), "https://matrix.fed-nord.test/prefix/", "the path is kept");
}

#[test]
fn a_ca_file_without_a_certificate_is_said_at_start() {
    let dir = tempfile_dir();
    let path = dir.join("empty.pem");
    std::fs::write(&path, "not a certificate\n").expect("write");
    let config = OtherHomeserversConfig { ca_file: Some(path), ..Default::default() };
    let error = OtherHomeservers::new(&config).expect_err("refused");
    assert!(error.contains("ca_file") && error.contains("no certificate"), "{error}");
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("relais-openid-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}
