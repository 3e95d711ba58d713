//! SigV4 and key policies end to end: the official SDK and hand-signed raw requests against a real
//! server; plus the HTTPS listener with a C-producer-style request (Host without the port).

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_kinesisvideo::error::ProvideErrorMetadata;
use aws_smithy_async::time::StaticTimeSource;
use common::{Backend, TestServer, raw_request, signed_json_post};
use openkvs::auth::{AuthMode, KeyConfig};

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_owned()
}

fn restricted_keys(cfg: &mut openkvs::app::Config) {
    cfg.auth.keys.push(KeyConfig {
        access_key_id: "camera".into(),
        secret_access_key: "camera-secret".into(),
        operations: Some(vec!["DescribeStream".into(), "GetDataEndpoint".into(), "ListStreams".into()]),
        streams: Some(vec!["cam-*".into()]),
    });
}

#[tokio::test]
async fn wrong_secret_unknown_key_and_clock_skew_are_refused() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let e = srv.kvs_as("openkvs", "wrong", "us-east-1").list_streams().send().await.unwrap_err();
    let e = e.into_service_error();
    assert_eq!(code(&e), "InvalidSignatureException");
    let e =
        srv.kvs_as("nobody", "x", "us-east-1").list_streams().send().await.unwrap_err().into_service_error();
    assert_eq!(code(&e), "UnrecognizedClientException");
    for offset in [-20 * 60i64, 20 * 60] {
        let t = SystemTime::now().checked_add_signed_secs(offset);
        let client = aws_sdk_kinesisvideo::Client::from_conf(
            srv.kvs_config("openkvs", "openkvs-secret", "us-east-1")
                .time_source(StaticTimeSource::new(t))
                .build(),
        );
        let err = client.list_streams().send().await.unwrap_err();
        let status = err.raw_response().map(|r| r.status().as_u16());
        assert_eq!(code(&err.into_service_error()), "InvalidSignatureException", "skew {offset}s");
        assert_eq!(status, Some(403));
    }
    // 10 minutes of skew is within AWS's 15-minute window.
    let t = SystemTime::now().checked_add_signed_secs(-600);
    let client = aws_sdk_kinesisvideo::Client::from_conf(
        srv.kvs_config("openkvs", "openkvs-secret", "us-east-1")
            .time_source(StaticTimeSource::new(t))
            .build(),
    );
    client.list_streams().send().await.unwrap();
    srv.stop().await;
}

trait AddSecs {
    fn checked_add_signed_secs(self, secs: i64) -> SystemTime;
}

impl AddSecs for SystemTime {
    fn checked_add_signed_secs(self, secs: i64) -> SystemTime {
        if secs >= 0 {
            self + Duration::from_secs(secs as u64)
        } else {
            self - Duration::from_secs((-secs) as u64)
        }
    }
}

#[tokio::test]
async fn raw_requests_wrong_service_tampering_and_no_signature() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let now = SystemTime::now();
    let ok = raw_request(
        srv.addr,
        &signed_json_post(srv.addr, "/listStreams", "{}", "kinesisvideo", "openkvs", "openkvs-secret", now),
    )
    .await;
    assert_eq!(ok.status, 200, "{:?}", String::from_utf8_lossy(&ok.body));
    assert!(ok.header("x-amzn-RequestId").is_some());

    let wrong_service =
        signed_json_post(srv.addr, "/listStreams", "{}", "kinesis", "openkvs", "openkvs-secret", now);
    let r = raw_request(srv.addr, &wrong_service).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("InvalidSignatureException"));
    assert_eq!(r.json()["__type"], "InvalidSignatureException");
    assert!(r.json()["message"].as_str().unwrap().contains("kinesisvideo"));

    // Tamper with the body after signing: the payload hash no longer matches.
    let signed =
        signed_json_post(srv.addr, "/listStreams", "{}", "kinesisvideo", "openkvs", "openkvs-secret", now);
    let tampered = String::from_utf8(signed).unwrap().replace("\r\n\r\n{}", "\r\n\r\n[]");
    let r = raw_request(srv.addr, tampered.as_bytes()).await;
    assert_eq!(r.header("x-amzn-ErrorType"), Some("InvalidSignatureException"));

    let unsigned = format!(
        "POST /listStreams HTTP/1.1\r\nhost: {}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}",
        srv.addr
    );
    let r = raw_request(srv.addr, unsigned.as_bytes()).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("MissingAuthenticationTokenException"));

    let garbage = format!(
        "POST /listStreams HTTP/1.1\r\nhost: {}\r\nauthorization: AWS4-HMAC-SHA256 Credential=x\r\nx-amz-date: 20250101T000000Z\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}",
        srv.addr
    );
    let r = raw_request(srv.addr, garbage.as_bytes()).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("IncompleteSignatureException"));

    let unknown_path = signed_json_post(
        srv.addr,
        "/describeStreams",
        "{}",
        "kinesisvideo",
        "openkvs",
        "openkvs-secret",
        now,
    );
    let r = raw_request(srv.addr, &unknown_path).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("UnknownOperationException"));
    srv.stop().await;
}

#[tokio::test]
async fn restricted_keys_see_and_touch_only_their_streams() {
    let srv = TestServer::start_with(Backend::Sqlite, restricted_keys).await;
    let admin = srv.kvs();
    admin.create_stream().stream_name("cam-1").send().await.unwrap();
    admin.create_stream().stream_name("lobby").send().await.unwrap();
    let cam = srv.kvs_as("camera", "camera-secret", "us-east-1");
    cam.describe_stream().stream_name("cam-1").send().await.unwrap();
    let e = cam.describe_stream().stream_name("lobby").send().await.unwrap_err();
    let status = e.raw_response().map(|r| r.status().as_u16());
    assert_eq!(code(&e.into_service_error()), "NotAuthorizedException");
    assert_eq!(status, Some(401));
    // Even a stream that does not exist: the key learns nothing outside its globs.
    let e = cam.describe_stream().stream_name("ghost").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&e), "NotAuthorizedException");
    let e = cam.delete_stream().stream_arn("arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam-1/1");
    assert_eq!(code(&e.send().await.unwrap_err().into_service_error()), "NotAuthorizedException");
    let e = cam.create_stream().stream_name("cam-2").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&e), "NotAuthorizedException", "operation not in the key's list");
    let listed = cam.list_streams().send().await.unwrap();
    let names: Vec<_> = listed.stream_info_list().iter().filter_map(|s| s.stream_name()).collect();
    assert_eq!(names, ["cam-1"]);
    srv.stop().await;
}

#[tokio::test]
async fn open_mode_accepts_any_well_formed_signature() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| c.auth.mode = AuthMode::Open).await;
    let anyone = srv.kvs_as("whoever", "whatever", "eu-central-1");
    let arn = anyone.create_stream().stream_name("s").send().await.unwrap().stream_arn.unwrap();
    assert!(arn.contains(":eu-central-1:"));
    let unsigned = format!(
        "POST /listStreams HTTP/1.1\r\nhost: {}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}",
        srv.addr
    );
    let r = raw_request(srv.addr, unsigned.as_bytes()).await;
    assert_eq!(r.header("x-amzn-ErrorType"), Some("MissingAuthenticationTokenException"));
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
async fn https_listener_serves_a_c_producer_style_request() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.tls.cert = Some(cert_path.clone());
        c.tls.key = Some(key_path.clone());
        c.tls.listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    srv.kvs().create_stream().stream_name("cam-1").send().await.unwrap();
    let tls_addr = srv.tls_addr.expect("https listener");

    // Signed like the C producer: Host without the port, only host;user-agent;x-amz-date signed.
    let body = "{\n\t\"StreamName\": \"cam-1\",\n\t\"APIName\": \"PUT_MEDIA\"\n}";
    let headers =
        [("host", "127.0.0.1"), ("user-agent", "AWS-PRODUCER-SDK-KVS/1.6.4 GCC/12.2.0 Linux/x86_64")];
    let url = format!("https://127.0.0.1:{}/getDataEndpoint", tls_addr.port());
    let auth = common::sigv4_headers(
        "POST",
        &url,
        &headers,
        body.as_bytes(),
        "kinesisvideo",
        "us-west-2",
        "openkvs",
        "openkvs-secret",
        SystemTime::now(),
    );
    // aws-sigv4 keeps the port of the URL in what it signs only if a host header is absent; we gave one.
    let mut req = format!(
        "POST /getDataEndpoint HTTP/1.1\r\nHost: 127.0.0.1\r\nuser-agent: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        headers[1].1,
        body.len()
    );
    for (k, v) in auth {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCert))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(tls_addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let resp = common::exchange(&mut tls, req.as_bytes()).await;
    // The stream was created in us-east-1; this request is scoped to us-west-2.
    assert_eq!(resp.status, 404, "{}", String::from_utf8_lossy(&resp.body));
    srv.kvs_as("openkvs", "openkvs-secret", "us-west-2")
        .create_stream()
        .stream_name("cam-1")
        .send()
        .await
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(tls_addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let resp = common::exchange(&mut tls, req.as_bytes()).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.json()["DataEndpoint"], format!("https://127.0.0.1:{}", tls_addr.port()));
    srv.stop().await;
}

/// The route table: every operation of `Operation::ALL` is routed (an unsigned request is refused
/// by authentication, a signed one reaches its handler), and every path outside the table and the
/// other documented kinds (console, session resources, signaling socket, operator endpoints) is
/// refused with `UnknownOperationException` before authentication — never passed through.
#[tokio::test]
async fn route_table_serves_exactly_the_operations_and_refuses_other_paths() {
    use openkvs::api::Operation;
    let srv = TestServer::start(Backend::Sqlite).await;
    let unsigned = |method: &str, path: &str| {
        format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            srv.addr
        )
        .into_bytes()
    };
    let mut paths = std::collections::BTreeSet::new();
    for op in Operation::ALL {
        assert!(paths.insert(op.path()), "{op}: its path is unique");
        let r = raw_request(srv.addr, &unsigned("POST", op.path())).await;
        assert_eq!(r.status, 403, "{op} unsigned: {:?}", r.json());
        assert_eq!(r.header("x-amzn-ErrorType"), Some("MissingAuthenticationTokenException"), "{op}");
        let signed = signed_json_post(
            srv.addr,
            op.path(),
            "",
            "kinesisvideo",
            "openkvs",
            "openkvs-secret",
            SystemTime::now(),
        );
        let r = raw_request(srv.addr, &signed).await;
        let code = r.header("x-amzn-ErrorType").unwrap_or("-").to_owned();
        assert!(
            r.status == 200 || (r.status == 400 && code == "InvalidArgumentException"),
            "{op} signed, empty input: reaches its handler ({} {code} {:?})",
            r.status,
            r.json()
        );
    }
    let refused = [
        ("POST", "/tagResource"),
        ("POST", "/describestream"),
        ("POST", "/describeStream/"),
        ("POST", "/DescribeStream"),
        ("GET", "/admin"),
        ("GET", "/favicon.ico"),
        ("POST", "/openkvs/"),
        ("POST", "/v1/get-ice-server-config/x"),
        ("GET", "/hls/v2/getHLSMasterPlaylist.m3u8"),
        ("GET", "/consoles"),
        ("GET", "/metrics/x"),
    ];
    for (method, path) in refused {
        let r = raw_request(srv.addr, &unsigned(method, path)).await;
        assert_eq!(
            (r.status, r.header("x-amzn-ErrorType")),
            (404, Some("UnknownOperationException")),
            "{method} {path}"
        );
        assert!(r.header("x-amzn-RequestId").is_some(), "{method} {path}: answered by the request context");
    }
    // The other kinds pass authentication to handlers that authorize them their own way.
    assert_eq!(raw_request(srv.addr, &unsigned("GET", "/health")).await.status, 200);
    assert_eq!(raw_request(srv.addr, &unsigned("GET", "/")).await.status, 200, "the console page");
    let hls = raw_request(srv.addr, &unsigned("GET", "/hls/v1/getHLSMasterPlaylist.m3u8")).await;
    assert_eq!(
        (hls.status, hls.header("x-amzn-ErrorType")),
        (400, Some("InvalidArgumentException")),
        "no token"
    );
    let console = raw_request(srv.addr, &unsigned("GET", "/console/api/session")).await;
    assert_eq!(console.header("x-amzn-ErrorType"), Some("AccessDeniedException"), "the console's CSRF guard");
    let socket = raw_request(srv.addr, &unsigned("GET", "/?X-Amz-ChannelARN=arn")).await;
    assert_eq!(
        socket.header("x-amzn-ErrorType"),
        Some("MissingAuthenticationTokenException"),
        "presigned only"
    );
    srv.stop().await;
}
