//! The web console over HTTP, without a browser: sign-in (right pair, wrong secret, unknown key, no
//! CSRF header), the session cookie's flags (and `Secure` on the HTTPS listener), cookie
//! authorization of the real operation paths (refused without `X-Openkvs-Console`, cross-site, for
//! PutMedia, after sign-out and after expiry on a moved clock), a restricted key's policy applied to
//! cookie calls, and the embedded assets with their content types, ETags and CSP.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::{Backend, RawResponse, TestServer, raw_request};
use openkvs::app::Config;
use openkvs::app::Server;
use openkvs::auth::KeyConfig;
use openkvs::clock::FakeClock;

const CONSOLE: &str = "x-openkvs-console: 1\r\n";

fn post(addr: SocketAddr, path: &str, body: &str, extra_headers: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn get(addr: SocketAddr, path: &str, extra_headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{extra_headers}\r\n").into_bytes()
}

async fn sign_in(addr: SocketAddr, key: &str, secret: &str) -> RawResponse {
    let body = serde_json::json!({ "AccessKeyId": key, "SecretAccessKey": secret }).to_string();
    raw_request(addr, &post(addr, "/console/api/signIn", &body, CONSOLE)).await
}

/// The `openkvs_console=…` pair of a sign-in answer, ready for a `Cookie` header.
fn cookie_of(r: &RawResponse) -> String {
    let set = r.header("set-cookie").expect("Set-Cookie");
    set.split(';').next().unwrap().to_owned()
}

async fn console_call(addr: SocketAddr, path: &str, body: &str, cookie: &str) -> RawResponse {
    raw_request(addr, &post(addr, path, body, &format!("{CONSOLE}cookie: {cookie}\r\n"))).await
}

fn error_type(r: &RawResponse) -> &str {
    r.header("x-amzn-ErrorType").unwrap_or("")
}

fn viewer_key(cfg: &mut Config) {
    cfg.auth.keys.push(KeyConfig {
        access_key_id: "viewer".into(),
        secret_access_key: "viewer-secret".into(),
        operations: Some(vec!["ListStreams".into(), "DescribeStream".into(), "ListFragments".into()]),
        streams: Some(vec!["cam-*".into()]),
    });
}

#[tokio::test]
async fn console_sign_in_sets_a_strict_http_only_cookie_and_refuses_wrong_pairs() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let ok = sign_in(srv.addr, "openkvs", "openkvs-secret").await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    let set = ok.header("set-cookie").unwrap();
    let (pair, flags) = set.split_once(';').unwrap();
    let token = pair.strip_prefix("openkvs_console=").expect("cookie name");
    assert_eq!(token.len(), 64, "256 random bits in hex");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(flags.split(';').any(|f| f.trim() == flag), "{flag} in {set}");
    }
    assert!(!flags.contains("Secure"), "plain-HTTP listener: no Secure flag ({set})");
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    let session = ok.json();
    assert_eq!(session["SignedIn"], true);
    assert_eq!(session["AccessKeyId"], "openkvs");
    assert_eq!(session["Region"], "us-east-1");
    assert!(!String::from_utf8_lossy(&ok.body).contains("openkvs-secret"));

    // Wrong secret and unknown key: the same answer, and no cookie.
    let wrong = sign_in(srv.addr, "openkvs", "nope").await;
    let unknown = sign_in(srv.addr, "nobody", "openkvs-secret").await;
    for r in [&wrong, &unknown] {
        assert_eq!(r.status, 401);
        assert_eq!(error_type(r), "NotAuthorizedException");
        assert!(r.header("set-cookie").is_none());
    }
    assert_eq!(wrong.body, unknown.body);

    // Without the CSRF header, sign-in is refused before the secret is looked at.
    let body = r#"{"AccessKeyId":"openkvs","SecretAccessKey":"openkvs-secret"}"#;
    let r = raw_request(srv.addr, &post(srv.addr, "/console/api/signIn", body, "")).await;
    assert_eq!(error_type(&r), "AccessDeniedException");
    assert!(r.header("set-cookie").is_none());

    // The session endpoint tells the page who is signed in.
    let cookie = cookie_of(&ok);
    let r = raw_request(
        srv.addr,
        &get(srv.addr, "/console/api/session", &format!("{CONSOLE}cookie: {cookie}\r\n")),
    )
    .await;
    assert_eq!(r.json()["AccessKeyId"], "openkvs");
    let r = raw_request(srv.addr, &get(srv.addr, "/console/api/session", CONSOLE)).await;
    assert_eq!(r.json()["SignedIn"], false);
    srv.stop().await;
}

#[tokio::test]
async fn console_cookie_authorizes_the_real_operations_only_with_the_csrf_header() {
    let srv = TestServer::start(Backend::Sqlite).await;
    srv.kvs().create_stream().stream_name("cam-1").send().await.unwrap();
    let cookie = cookie_of(&sign_in(srv.addr, "openkvs", "openkvs-secret").await);

    let r = console_call(srv.addr, "/listStreams", "{}", &cookie).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["StreamInfoList"][0]["StreamName"], "cam-1");
    let r = console_call(
        srv.addr,
        "/createStream",
        r#"{"StreamName":"cam-2","DataRetentionInHours":2}"#,
        &cookie,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    srv.kvs().describe_stream().stream_name("cam-2").send().await.expect("created through the console");

    // The cookie alone (a cross-site form post would carry it) is not looked at: SigV4 applies.
    let r =
        raw_request(srv.addr, &post(srv.addr, "/listStreams", "{}", &format!("cookie: {cookie}\r\n"))).await;
    assert_eq!(r.status, 403);
    assert_eq!(error_type(&r), "MissingAuthenticationTokenException");
    // The header without a session.
    let r = raw_request(srv.addr, &post(srv.addr, "/listStreams", "{}", CONSOLE)).await;
    assert_eq!(error_type(&r), "MissingAuthenticationTokenException");
    let r =
        console_call(srv.addr, "/listStreams", "{}", &format!("openkvs_console={}", "ab".repeat(32))).await;
    assert_eq!(error_type(&r), "MissingAuthenticationTokenException");
    // A browser saying the request is cross-site.
    let r = raw_request(
        srv.addr,
        &post(
            srv.addr,
            "/listStreams",
            "{}",
            &format!("{CONSOLE}cookie: {cookie}\r\nsec-fetch-site: cross-site\r\n"),
        ),
    )
    .await;
    assert_eq!(error_type(&r), "AccessDeniedException");
    // PutMedia always needs a signature.
    let r = raw_request(
        srv.addr,
        &post(
            srv.addr,
            "/putMedia",
            "",
            &format!("{CONSOLE}cookie: {cookie}\r\nx-amzn-stream-name: cam-1\r\n"),
        ),
    )
    .await;
    assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(error_type(&r), "NotAuthorizedException");
    // A CORS preflight from another origin does not allow the console header.
    let r = raw_request(
        srv.addr,
        format!(
            "OPTIONS /listStreams HTTP/1.1\r\nhost: {}\r\norigin: https://evil.example\r\naccess-control-request-method: POST\r\naccess-control-request-headers: x-openkvs-console\r\nconnection: close\r\n\r\n",
            srv.addr
        )
        .as_bytes(),
    )
    .await;
    let allowed = r.header("access-control-allow-headers").unwrap_or("").to_ascii_lowercase();
    assert!(!allowed.contains("x-openkvs-console"), "{allowed}");

    // Sign-out ends the session and clears the cookie.
    let out = raw_request(
        srv.addr,
        &post(srv.addr, "/console/api/signOut", "{}", &format!("{CONSOLE}cookie: {cookie}\r\n")),
    )
    .await;
    assert_eq!(out.status, 200);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let r = console_call(srv.addr, "/listStreams", "{}", &cookie).await;
    assert_eq!(error_type(&r), "MissingAuthenticationTokenException");
    srv.stop().await;
}

#[tokio::test]
async fn console_cookie_calls_apply_the_signed_in_keys_policy() {
    let srv = TestServer::start_with(Backend::Sqlite, viewer_key).await;
    srv.kvs().create_stream().stream_name("cam-1").send().await.unwrap();
    srv.kvs().create_stream().stream_name("lobby").send().await.unwrap();
    let cookie = cookie_of(&sign_in(srv.addr, "viewer", "viewer-secret").await);
    let session = raw_request(
        srv.addr,
        &get(srv.addr, "/console/api/session", &format!("{CONSOLE}cookie: {cookie}\r\n")),
    )
    .await;
    assert_eq!(session.json()["Policy"]["Streams"], serde_json::json!(["cam-*"]));

    let r = console_call(srv.addr, "/listStreams", "{}", &cookie).await;
    let names: Vec<_> =
        r.json()["StreamInfoList"].as_array().unwrap().iter().map(|s| s["StreamName"].clone()).collect();
    assert_eq!(names, ["cam-1"], "stream globs filter the listing");
    let r = console_call(srv.addr, "/describeStream", r#"{"StreamName":"cam-1"}"#, &cookie).await;
    assert_eq!(r.status, 200);
    let r = console_call(srv.addr, "/describeStream", r#"{"StreamName":"lobby"}"#, &cookie).await;
    assert_eq!((r.status, error_type(&r)), (401, "NotAuthorizedException"), "outside the key's globs");
    let r = console_call(
        srv.addr,
        "/deleteStream",
        r#"{"StreamARN":"arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam-1/1"}"#,
        &cookie,
    )
    .await;
    assert_eq!(
        (r.status, error_type(&r)),
        (401, "NotAuthorizedException"),
        "operation not in the key's list"
    );
    let r = console_call(srv.addr, "/openkvs/describeWorkers", "{}", &cookie).await;
    assert_eq!(error_type(&r), "AccessDeniedException");
    srv.kvs().describe_stream().stream_name("cam-1").send().await.expect("not deleted");
    srv.stop().await;
}

#[tokio::test]
async fn console_sessions_expire_when_idle_and_after_twelve_hours() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let clock = Arc::new(FakeClock::new(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64,
    ));
    let server = Server::bind_with_clock(&config, clock.clone()).await.unwrap();
    let addr = server.local_addr();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));

    let cookie = cookie_of(&sign_in(addr, "openkvs", "openkvs-secret").await);
    clock.advance_millis(59 * 60_000);
    assert_eq!(
        console_call(addr, "/listStreams", "{}", &cookie).await.status,
        200,
        "used within the idle hour"
    );
    clock.advance_millis(61 * 60_000);
    let r = console_call(addr, "/listStreams", "{}", &cookie).await;
    assert_eq!(
        (r.status, error_type(&r)),
        (403, "MissingAuthenticationTokenException"),
        "idle for over an hour"
    );

    // Kept busy, a session still ends 12 h after sign-in.
    let cookie = cookie_of(&sign_in(addr, "openkvs", "openkvs-secret").await);
    for _ in 0..23 {
        clock.advance_millis(30 * 60_000);
        assert_eq!(console_call(addr, "/listStreams", "{}", &cookie).await.status, 200);
    }
    clock.advance_millis(30 * 60_000);
    assert_eq!(
        error_type(&console_call(addr, "/listStreams", "{}", &cookie).await),
        "MissingAuthenticationTokenException"
    );
    let _ = tx.send(());
    let _ = task.await;
}

#[tokio::test]
async fn console_failed_sign_ins_are_rate_limited() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let mut last = None;
    for _ in 0..31 {
        last = Some(sign_in(srv.addr, "openkvs", "guess").await);
    }
    assert_eq!(error_type(last.as_ref().unwrap()), "ClientLimitExceededException");
    // Even the right secret waits for the minute to pass.
    assert_eq!(
        error_type(&sign_in(srv.addr, "openkvs", "openkvs-secret").await),
        "ClientLimitExceededException"
    );
    srv.stop().await;
}

#[tokio::test]
async fn console_assets_are_embedded_with_types_etags_and_a_strict_csp() {
    let srv = TestServer::start(Backend::Sqlite).await;
    for (path, ty) in [
        ("/", "text/html; charset=utf-8"),
        ("/console/", "text/html; charset=utf-8"),
        ("/console/app.js", "text/javascript; charset=utf-8"),
        ("/console/style.css", "text/css; charset=utf-8"),
        ("/console/views/stream.js", "text/javascript; charset=utf-8"),
        ("/console/vendor/hls.light.min.mjs", "text/javascript; charset=utf-8"),
        ("/console/favicon.svg", "image/svg+xml"),
    ] {
        let r = raw_request(srv.addr, &get(srv.addr, path, "")).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(ty), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        let csp = r.header("content-security-policy").expect("CSP");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "media-src 'self' blob:",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} in {csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains("http"),
            "{csp}"
        );
        let etag = r.header("etag").expect("ETag").to_owned();
        let again = raw_request(srv.addr, &get(srv.addr, path, &format!("if-none-match: {etag}\r\n"))).await;
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
    }
    let page = raw_request(srv.addr, &get(srv.addr, "/", "")).await;
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains(r#"<script type="module" src="/console/app.js">"#));
    assert!(!html.contains("http://") && !html.contains("https://"), "nothing fetched from elsewhere");
    assert_eq!(raw_request(srv.addr, &get(srv.addr, "/console/nope.js", "")).await.status, 404);
    assert_eq!(raw_request(srv.addr, &get(srv.addr, "/console/../Cargo.toml", "")).await.status, 404);
    // `GET /` with a channel ARN is still the signaling WebSocket (here refused: not signed).
    let r = raw_request(
        srv.addr,
        &get(srv.addr, "/?X-Amz-ChannelARN=arn%3Aaws%3Akinesisvideo%3Aus-east-1%3A0%3Achannel%2Fd%2F1", ""),
    )
    .await;
    assert_ne!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.status >= 400);
    srv.stop().await;
}

/// Accepts any server certificate (the test server's is self-signed).
#[derive(Debug)]
struct AcceptAnyCert;

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider().signature_verification_algorithms.supported_schemes()
    }
}

#[tokio::test]
async fn console_cookie_is_secure_on_the_https_listener() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.tls.cert = Some(cert_path.clone());
        c.tls.key = Some(key_path.clone());
        c.tls.listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let tls_addr = srv.tls_addr.expect("https listener");
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert))
            .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(tls_addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap();
    let body = r#"{"AccessKeyId":"openkvs","SecretAccessKey":"openkvs-secret"}"#;
    let r = common::exchange(&mut tls, &post(tls_addr, "/console/api/signIn", body, CONSOLE)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let set = r.header("set-cookie").unwrap();
    assert!(set.split(';').any(|f| f.trim() == "Secure"), "{set}");
    // The plain listener of the same server does not mark it Secure.
    let plain = sign_in(srv.addr, "openkvs", "openkvs-secret").await;
    assert!(!plain.header("set-cookie").unwrap().contains("Secure"));
    srv.stop().await;
}
