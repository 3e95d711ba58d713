//! Security and resource-exhaustion tests (part 3 of the reliability issue).
//!
//! - **SigV4 attacks** (SQLite only: signature checking happens before any index access, so the
//!   backend is irrelevant): wrong secret, unknown key, tampered method/path/query/header/body,
//!   unsigned required headers, clock skew both ways, wrong scope, expired presigned URLs, replayed
//!   signatures and a table of malformed `Authorization` headers. Every attack must get the AWS
//!   error a client expects (`x-amzn-ErrorType` + status, table in `openkvs::auth::sigv4`).
//! - **Stream-restricted keys** (both backends: the stream lookup goes through the index) reading
//!   and writing a stream outside their globs; forged/expired DASH session tokens (HLS ones are in
//!   `tests/playback.rs`).
//! - **No secret in the logs**: a tracing subscriber installed by this binary collects every log
//!   line (debug and up, openkvs at trace) and each test asserts no configured secret appears.
//! - **Resource exhaustion**: disk full during ingest (ENOSPC injected by
//!   `openkvs::archive::FaultyStore`), thousands of idle connections, slow-loris heads, a stalled PutMedia
//!   body, stalled GetMedia/HLS readers next to a producer; and (opt-in, `OPENKVS_PG_RESTART_TEST=1`
//!   with `TEST_DATABASE_URL`) Postgres restarted under ingest.
//!
//! Figures (attacks rejected, RSS deltas, latencies) are printed; run with `--nocapture` to see them.

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_kinesisvideoarchivedmedia::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{
    DashFragmentSelector, DashFragmentSelectorType, DashPlaybackMode, DashTimestampRange, FragmentSelector,
    FragmentSelectorType, HlsFragmentSelector, HlsFragmentSelectorType, HlsPlaybackMode, HlsTimestampRange,
    TimestampRange,
};
use bytes::Bytes;
use common::producer::{PutOptions, Synth, now_ms, put_media, split_file};
use common::{Backend, RawResponse, TestServer, raw_request, signed_json_post};
use openkvs::app::Config;
use openkvs::archive::{FaultSwitch, FaultyStore};
use openkvs::auth::KeyConfig;
use openkvs::auth::sigv4::{AmzDate, SecretKey, SigningKey, sha256_hex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

backend_tests!(restricted_key_cannot_touch_other_streams, disk_full_during_ingest_then_recovery);

// ---------------------------------------------------------------------------------------------
// Log capture and attack accounting.

const SECRETS: [&str; 3] = ["openkvs-secret", "camera-secret", "other-secret"];

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static REJECTED: AtomicUsize = AtomicUsize::new(0);
/// Serialises the timing- and memory-sensitive tests of this binary.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut logs = LOGS.lock().unwrap();
        if logs.len() < 64 << 20 {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug,openkvs=trace"))
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
    });
}

/// Asserts no configured secret was ever logged; returns the log size.
fn assert_no_secret_logged() -> usize {
    let logs = LOGS.lock().unwrap();
    let text = String::from_utf8_lossy(&logs);
    for s in SECRETS {
        assert!(!text.contains(s), "secret {s:?} appears in the server log");
    }
    logs.len()
}

fn rejected(n: &mut usize, label: &str, r: &RawResponse, status: u16, code: &str) {
    assert_eq!(
        (r.status, r.header("x-amzn-ErrorType")),
        (status, Some(code)),
        "{label}: body {}",
        String::from_utf8_lossy(&r.body)
    );
    for s in SECRETS {
        assert!(!String::from_utf8_lossy(&r.body).contains(s), "{label}: secret in the response");
    }
    REJECTED.fetch_add(1, Ordering::SeqCst);
    *n += 1;
    println!("rejected: {label:<60} -> {status} {code}");
}

fn sdk_rejected<E: ProvideErrorMetadata>(n: &mut usize, label: &str, e: &E, code: &str) {
    assert_eq!(e.code(), Some(code), "{label}: {:?}", e.message());
    REJECTED.fetch_add(1, Ordering::SeqCst);
    *n += 1;
    println!("rejected: {label:<60} -> {code}");
}

// ---------------------------------------------------------------------------------------------
// A hand-rolled SigV4 signer, so every part can be signed and then altered independently.

#[derive(Clone)]
struct Req {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn json(addr: SocketAddr, path: &str, body: &str, date: &AmzDate) -> Self {
        Self {
            method: "POST".into(),
            path: path.into(),
            query: String::new(),
            headers: vec![
                ("host".into(), addr.to_string()),
                ("content-type".into(), "application/json".into()),
                ("x-amz-date".into(), date.as_str().to_owned()),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn remove(&mut self, name: &str) -> &mut Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let q = if self.query.is_empty() { String::new() } else { format!("?{}", self.query) };
        let mut out = format!("{} {}{q} HTTP/1.1\r\n", self.method, self.path);
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", self.body.len()));
        let mut b = out.into_bytes();
        b.extend_from_slice(&self.body);
        b
    }

    async fn send(&self, addr: SocketAddr) -> RawResponse {
        raw_request(addr, &self.bytes()).await
    }
}

struct Scope<'a> {
    key: &'a str,
    secret: &'a str,
    day: String,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
}

impl<'a> Scope<'a> {
    fn dev(date: &AmzDate) -> Self {
        Self {
            key: "openkvs",
            secret: "openkvs-secret",
            day: date.day().to_owned(),
            region: "us-east-1",
            service: "kinesisvideo",
            terminator: "aws4_request",
        }
    }
    fn credential(&self) -> String {
        format!("{}/{}/{}/{}/{}", self.key, self.day, self.region, self.service, self.terminator)
    }
}

/// The signature of `req` over `signed` headers (lower-case, sorted) with `amz_date`.
fn signature(req: &Req, signed: &[&str], amz_date: &str, scope: &Scope, payload_hash: &str) -> String {
    let mut canon_headers = String::new();
    for name in signed {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        canon_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let creq = format!(
        "{}\n{}\n{}\n{canon_headers}\n{}\n{payload_hash}",
        req.method,
        req.path,
        req.query,
        signed.join(";")
    );
    let scope_text = format!("{}/{}/{}/{}", scope.day, scope.region, scope.service, scope.terminator);
    let sts = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope_text}\n{}", sha256_hex(creq.as_bytes()));
    let key = SigningKey::derive(&SecretKey::new(scope.secret), &scope.day, scope.region, scope.service);
    key.sign_hex(sts.as_bytes())
}

/// Signs `req` in the header form (adds `authorization`).
fn sign(req: &mut Req, signed: &[&str], scope: &Scope) {
    let date = req.headers.iter().find(|(k, _)| k == "x-amz-date").map(|(_, v)| v.clone()).unwrap();
    let sig = signature(req, signed, &date, scope, &sha256_hex(&req.body));
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}, SignedHeaders={}, Signature={sig}",
        scope.credential(),
        signed.join(";")
    );
    req.set("authorization", &auth);
}

const SIGNED: [&str; 3] = ["content-type", "host", "x-amz-date"];

fn amz(offset_secs: i64) -> AmzDate {
    AmzDate::from_unix(now_ms() as i64 / 1000 + offset_secs)
}

fn signed_list_streams(addr: SocketAddr) -> Req {
    let date = amz(0);
    let mut r = Req::json(addr, "/listStreams", "{}", &date);
    sign(&mut r, &SIGNED, &Scope::dev(&date));
    r
}

// ---------------------------------------------------------------------------------------------
// SigV4 attacks.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigv4_attacks_are_rejected_with_aws_errors() {
    capture_logs();
    let srv = TestServer::start(Backend::Sqlite).await;
    let addr = srv.addr;
    let mut n = 0usize;
    const INVALID: &str = "InvalidSignatureException";
    const INCOMPLETE: &str = "IncompleteSignatureException";

    // Control: the hand-rolled signer produces requests the server accepts.
    let ok = signed_list_streams(addr).send(addr).await;
    assert_eq!(ok.status, 200, "control request: {}", String::from_utf8_lossy(&ok.body));

    // Wrong secret, unknown key.
    let date = amz(0);
    let mut r = Req::json(addr, "/listStreams", "{}", &date);
    sign(&mut r, &SIGNED, &Scope { secret: "not-the-secret", ..Scope::dev(&date) });
    rejected(&mut n, "wrong secret", &r.send(addr).await, 403, INVALID);
    let mut r = Req::json(addr, "/listStreams", "{}", &date);
    sign(&mut r, &SIGNED, &Scope { key: "AKIAUNKNOWN", ..Scope::dev(&date) });
    rejected(&mut n, "unknown access key", &r.send(addr).await, 403, "UnrecognizedClientException");

    // Sign one request, alter one thing, send.
    let base = signed_list_streams(addr);
    let mut r = base.clone();
    r.method = "PUT".into();
    rejected(&mut n, "tampered method (POST signed, PUT sent)", &r.send(addr).await, 403, INVALID);
    let mut r = base.clone();
    r.path = "/describeStream".into();
    rejected(&mut n, "tampered path", &r.send(addr).await, 403, INVALID);
    let mut r = base.clone();
    r.query = "MaxResults=1".into();
    rejected(&mut n, "tampered query (added)", &r.send(addr).await, 403, INVALID);
    let mut r = base.clone();
    r.set("content-type", "application/x-amz-json-1.1");
    rejected(&mut n, "tampered signed header (content-type)", &r.send(addr).await, 403, INVALID);
    let mut r = base.clone();
    r.set("host", "127.0.0.1:1");
    rejected(&mut n, "tampered host header", &r.send(addr).await, 403, INVALID);
    let mut r = base.clone();
    r.set("x-amz-date", amz(1).as_str());
    rejected(&mut n, "tampered x-amz-date (+1 s)", &r.send(addr).await, 403, INVALID);
    let mut r = base.clone();
    r.body = b"{ }".to_vec();
    rejected(&mut n, "tampered body (same JSON meaning)", &r.send(addr).await, 403, INVALID);
    let mut r = base.clone();
    r.body = br#"{"MaxResults":1}"#.to_vec();
    rejected(&mut n, "tampered body (different JSON)", &r.send(addr).await, 403, INVALID);

    // Query tampering on a request signed with a query.
    let mut q = Req::json(addr, "/listStreams", "{}", &date);
    q.query = "a=1".into();
    sign(&mut q, &SIGNED, &Scope::dev(&date));
    assert_eq!(q.send(addr).await.status, 200, "control: signed query");
    let mut r = q.clone();
    r.query = "a=2".into();
    rejected(&mut n, "tampered query (value changed)", &r.send(addr).await, 403, INVALID);

    // Unsigned required headers.
    let mut r = Req::json(addr, "/listStreams", "{}", &date);
    sign(&mut r, &["content-type", "x-amz-date"], &Scope::dev(&date));
    rejected(&mut n, "host not in SignedHeaders", &r.send(addr).await, 400, INCOMPLETE);
    // x-amz-date outside SignedHeaders is still bound by the string to sign: changing it fails.
    let mut r = Req::json(addr, "/listStreams", "{}", &date);
    sign(&mut r, &["content-type", "host"], &Scope::dev(&date));
    let unsigned_date_ok = r.clone().send(addr).await.status;
    println!("x-amz-date outside SignedHeaders, untouched: status {unsigned_date_ok} (AWS accepts it too)");
    r.set("x-amz-date", amz(-60).as_str());
    rejected(&mut n, "x-amz-date unsigned and altered", &r.send(addr).await, 403, INVALID);
    let mut r = Req::json(addr, "/listStreams", "{}", &date);
    r.set("x-amz-meta", "v");
    sign(&mut r, &["content-type", "host", "x-amz-date", "x-amz-meta"], &Scope::dev(&date));
    r.remove("x-amz-meta");
    rejected(&mut n, "signed header removed before sending", &r.send(addr).await, 400, INCOMPLETE);
    let mut r = Req::json(addr, "/listStreams", "{}", &date);
    r.remove("x-amz-date");
    let sig = signature(&r, &["content-type", "host"], date.as_str(), &Scope::dev(&date), &sha256_hex(b"{}"));
    r.set(
        "authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential={}, SignedHeaders=content-type;host, Signature={sig}",
            Scope::dev(&date).credential()
        ),
    );
    rejected(&mut n, "no x-amz-date and no Date header", &r.send(addr).await, 400, INCOMPLETE);

    // Clock skew beyond 15 minutes, both ways (raw; tests/auth.rs does ±20 min with the SDK).
    for (label, offset) in [("clock skew -15 min 30 s", -930i64), ("clock skew +15 min 30 s", 930)] {
        let d = amz(offset);
        let mut r = Req::json(addr, "/listStreams", "{}", &d);
        sign(&mut r, &SIGNED, &Scope::dev(&d));
        rejected(&mut n, label, &r.send(addr).await, 403, INVALID);
    }

    // Wrong scope.
    for (label, scope) in [
        ("wrong service in scope (s3)", Scope { service: "s3", ..Scope::dev(&date) }),
        ("wrong service in scope (kinesis)", Scope { service: "kinesis", ..Scope::dev(&date) }),
        ("invalid region in scope (US_EAST_1)", Scope { region: "US_EAST_1", ..Scope::dev(&date) }),
        ("bad scope terminator", Scope { terminator: "aws4_reques", ..Scope::dev(&date) }),
        ("scope day != request day", Scope { day: amz(-86_400).day().to_owned(), ..Scope::dev(&date) }),
    ] {
        let mut r = Req::json(addr, "/listStreams", "{}", &date);
        sign(&mut r, &SIGNED, &scope);
        rejected(&mut n, label, &r.send(addr).await, 403, INVALID);
    }

    // Another request's signature replayed on this one (same key, same second).
    let other = signed_list_streams(addr);
    let stolen = other.headers.iter().find(|(k, _)| k == "authorization").unwrap().1.clone();
    let mut r = Req::json(addr, "/describeStream", r#"{"StreamName":"s"}"#, &date);
    r.set("x-amz-date", other.headers.iter().find(|(k, _)| k == "x-amz-date").unwrap().1.as_str());
    r.set("authorization", &stolen);
    rejected(&mut n, "signature of another request replayed", &r.send(addr).await, 403, INVALID);
    let mut r = Req::json(addr, "/createStream", r#"{"StreamName":"evil"}"#, &date);
    r.set("x-amz-date", other.headers.iter().find(|(k, _)| k == "x-amz-date").unwrap().1.as_str());
    r.set("authorization", &stolen);
    rejected(&mut n, "replayed signature on a mutating call", &r.send(addr).await, 403, INVALID);

    // Presigned URLs: fresh works, reused after expiry fails; bad X-Amz-Expires.
    let presign = |signed_at: i64, expires: i64| {
        let d = amz(signed_at);
        let scope = Scope::dev(&d);
        let cred = scope.credential().replace('/', "%2F");
        let mut r = Req::json(addr, "/listStreams", "{}", &d);
        r.remove("x-amz-date").remove("content-type");
        r.query = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date={}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host",
            d.as_str()
        );
        let sig = signature(&r, &["host"], d.as_str(), &scope, &sha256_hex(b"{}"));
        r.query.push_str(&format!("&X-Amz-Signature={sig}"));
        r
    };
    let fresh = presign(0, 300).send(addr).await;
    assert_eq!(fresh.status, 200, "control: presigned: {}", String::from_utf8_lossy(&fresh.body));
    rejected(&mut n, "presigned URL reused after expiry", &presign(-400, 300).send(addr).await, 403, INVALID);
    rejected(&mut n, "presigned URL, X-Amz-Expires=0", &presign(0, 0).send(addr).await, 400, INCOMPLETE);
    rejected(
        &mut n,
        "presigned URL, X-Amz-Expires > 7 days",
        &presign(0, 604_801).send(addr).await,
        400,
        INCOMPLETE,
    );
    let mut r = presign(0, 300);
    r.query = r.query.replace("X-Amz-Expires=300", "X-Amz-Expires=3000");
    rejected(&mut n, "presigned URL, X-Amz-Expires extended", &r.send(addr).await, 403, INVALID);
    let mut r = presign(0, 300);
    let hdr = signed_list_streams(addr);
    for (k, v) in hdr.headers.iter().filter(|(k, _)| k == "authorization" || k == "x-amz-date") {
        r.set(k, v);
    }
    rejected(&mut n, "both header and presigned signatures", &r.send(addr).await, 400, INCOMPLETE);

    // Malformed Authorization headers.
    let cred = Scope::dev(&date).credential();
    let sh = "content-type;host;x-amz-date";
    let hex64 = "0".repeat(64);
    let huge = "a".repeat(60_000);
    let table: Vec<(&str, String)> = vec![
        ("algorithm only", "AWS4-HMAC-SHA256".into()),
        ("no Credential", format!("AWS4-HMAC-SHA256 SignedHeaders={sh}, Signature={hex64}")),
        ("no SignedHeaders", format!("AWS4-HMAC-SHA256 Credential={cred}, Signature={hex64}")),
        ("no Signature", format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={sh}")),
        (
            "unsupported algorithm (SHA512)",
            format!("AWS4-HMAC-SHA512 Credential={cred}, SignedHeaders={sh}, Signature={hex64}"),
        ),
        (
            "SigV4a algorithm",
            format!("AWS4-ECDSA-P256-SHA256 Credential={cred}, SignedHeaders={sh}, Signature={hex64}"),
        ),
        (
            "lower-case algorithm",
            format!("aws4-hmac-sha256 Credential={cred}, SignedHeaders={sh}, Signature={hex64}"),
        ),
        (
            "duplicate Credential",
            format!(
                "AWS4-HMAC-SHA256 Credential={cred}, Credential={cred}, SignedHeaders={sh}, Signature={hex64}"
            ),
        ),
        (
            "duplicate Signature",
            format!(
                "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={sh}, Signature={hex64}, Signature={hex64}"
            ),
        ),
        ("empty Signature", format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={sh}, Signature=")),
        (
            "non-hex Signature",
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={sh}, Signature={}", "zz".repeat(32)),
        ),
        (
            "63-digit Signature",
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={sh}, Signature={}", "0".repeat(63)),
        ),
        (
            "Credential with 4 parts",
            format!(
                "AWS4-HMAC-SHA256 Credential=openkvs/{}/us-east-1/kinesisvideo, SignedHeaders={sh}, Signature={hex64}",
                date.day()
            ),
        ),
        ("empty Credential", format!("AWS4-HMAC-SHA256 Credential=, SignedHeaders={sh}, Signature={hex64}")),
        (
            "empty SignedHeaders",
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=, Signature={hex64}"),
        ),
        (
            "fields without separators",
            format!("AWS4-HMAC-SHA256 Credential={cred}SignedHeaders={sh}Signature={hex64}"),
        ),
        (
            "huge Signature (60 KB)",
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={sh}, Signature={huge}"),
        ),
        (
            "huge Credential (60 KB)",
            format!("AWS4-HMAC-SHA256 Credential={huge}, SignedHeaders={sh}, Signature={hex64}"),
        ),
    ];
    for (label, value) in &table {
        let mut r = Req::json(addr, "/listStreams", "{}", &date);
        r.set("authorization", value);
        rejected(&mut n, &format!("malformed Authorization: {label}"), &r.send(addr).await, 400, INCOMPLETE);
    }
    let mut r = base.clone();
    r.set("x-amz-date", "20251301T250000Z");
    rejected(&mut n, "malformed x-amz-date", &r.send(addr).await, 400, INCOMPLETE);
    // Beyond hyper's head limit: refused at the HTTP layer, before any auth code runs.
    let mut r = base.clone();
    r.set("authorization", &format!("AWS4-HMAC-SHA256 Credential={}", "a".repeat(1 << 20)));
    let resp = r.send(addr).await;
    assert_eq!(resp.status, 431, "1 MiB Authorization header");
    REJECTED.fetch_add(1, Ordering::SeqCst);
    n += 1;
    println!("rejected: {:<60} -> 431 (HTTP layer, no AWS body)", "1 MiB Authorization header");

    // Unsigned request still gets the missing-token error; signed control still works.
    let mut r = Req::json(addr, "/listStreams", "{}", &date);
    r.remove("x-amz-date");
    rejected(&mut n, "no signature at all", &r.send(addr).await, 403, "MissingAuthenticationTokenException");
    assert_eq!(signed_list_streams(addr).send(addr).await.status, 200);

    let log_bytes = assert_no_secret_logged();
    // Not vacuous: the server does log each refused request, with the verifier's detail.
    let logs = String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned();
    assert!(logs.contains("status=403") && logs.contains("status=400"), "auth failures are logged");
    println!("sigv4 attacks rejected: {n}; captured log {log_bytes} bytes, no secret in it");
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Stream-restricted keys.

fn camera_key(cfg: &mut Config) {
    cfg.auth.keys.push(KeyConfig {
        access_key_id: "camera".into(),
        secret_access_key: "camera-secret".into(),
        operations: None,
        streams: Some(vec!["cam-*".into()]),
    });
}

fn archived_as(srv: &TestServer, key: &str, secret: &str) -> aws_sdk_kinesisvideoarchivedmedia::Client {
    let conf = aws_sdk_kinesisvideoarchivedmedia::Config::builder()
        .http_client(openkvs::producer::control::sdk_http_client())
        .behavior_version(aws_sdk_kinesisvideoarchivedmedia::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesisvideoarchivedmedia::config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(key, secret, None, None, "test"))
        .endpoint_url(&srv.endpoint)
        .retry_config(aws_sdk_kinesisvideoarchivedmedia::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kinesisvideoarchivedmedia::Client::from_conf(conf)
}

fn media_as(srv: &TestServer, key: &str, secret: &str) -> aws_sdk_kinesisvideomedia::Client {
    let conf = aws_sdk_kinesisvideomedia::Config::builder()
        .http_client(openkvs::producer::control::sdk_http_client())
        .behavior_version(aws_sdk_kinesisvideomedia::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesisvideomedia::config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(key, secret, None, None, "test"))
        .endpoint_url(&srv.endpoint)
        .retry_config(aws_sdk_kinesisvideomedia::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kinesisvideomedia::Client::from_conf(conf)
}

fn recent_range() -> (DateTime, DateTime) {
    let now = now_ms() as i64;
    (DateTime::from_millis(now - 600_000), DateTime::from_millis(now + 5_000))
}

async fn restricted_key_cannot_touch_other_streams(backend: Backend) {
    capture_logs();
    let srv = TestServer::start_with(backend, camera_key).await;
    let mut n = 0usize;
    let admin = srv.kvs();
    admin.create_stream().stream_name("cam-1").data_retention_in_hours(24).send().await.unwrap();
    let lobby_arn = admin
        .create_stream()
        .stream_name("lobby")
        .data_retention_in_hours(24)
        .send()
        .await
        .unwrap()
        .stream_arn
        .unwrap();
    let one = Synth { tracks: vec![1] };
    let t0 = now_ms() - 10_000;
    let chunks = [one.header(), one.second(t0), one.second(t0 + 1000)];
    let r = put_media(srv.addr, &PutOptions::new("lobby"), &chunks).await;
    assert_eq!(r.of("PERSISTED").len(), 2, "admin writes lobby: {:?}", r.acks);

    // Writing: PutMedia into another stream is refused before any ACK; into its own it works.
    let mut opts = PutOptions::new("lobby");
    opts.key = "camera".into();
    opts.secret = "camera-secret".into();
    let r = put_media(srv.addr, &opts, &chunks).await;
    assert_eq!(
        (r.status, r.header("x-amzn-ErrorType")),
        (401, Some("NotAuthorizedException")),
        "{}",
        String::from_utf8_lossy(&r.error_body)
    );
    assert!(r.acks.is_empty());
    REJECTED.fetch_add(1, Ordering::SeqCst);
    n += 1;
    println!("rejected: {:<60} -> 401 NotAuthorizedException", "restricted key: PutMedia into lobby");
    opts.stream = "cam-1".into();
    let own = put_media(srv.addr, &opts, &chunks).await;
    assert_eq!(own.of("PERSISTED").len(), 2, "camera writes cam-1: {:?}", own.acks);

    // Reading.
    let media = media_as(&srv, "camera", "camera-secret");
    let start = aws_sdk_kinesisvideomedia::types::StartSelector::builder()
        .start_selector_type(aws_sdk_kinesisvideomedia::types::StartSelectorType::Earliest)
        .build()
        .unwrap();
    let e = media.get_media().stream_name("lobby").start_selector(start.clone()).send().await.unwrap_err();
    sdk_rejected(
        &mut n,
        "restricted key: GetMedia lobby (by name)",
        &e.into_service_error(),
        "NotAuthorizedException",
    );
    let e = media.get_media().stream_arn(&lobby_arn).start_selector(start.clone()).send().await.unwrap_err();
    sdk_rejected(
        &mut n,
        "restricted key: GetMedia lobby (by ARN)",
        &e.into_service_error(),
        "NotAuthorizedException",
    );
    let am = archived_as(&srv, "camera", "camera-secret");
    let (s, e) = recent_range();
    let selector = FragmentSelector::builder()
        .fragment_selector_type(FragmentSelectorType::ServerTimestamp)
        .timestamp_range(TimestampRange::builder().start_timestamp(s).end_timestamp(e).build().unwrap())
        .build()
        .unwrap();
    let err = am.list_fragments().stream_name("lobby").fragment_selector(selector.clone()).send().await;
    sdk_rejected(
        &mut n,
        "restricted key: ListFragments lobby",
        &err.unwrap_err().into_service_error(),
        "NotAuthorizedException",
    );
    let err = am.list_fragments().stream_arn(&lobby_arn).send().await;
    sdk_rejected(
        &mut n,
        "restricted key: ListFragments lobby (by ARN)",
        &err.unwrap_err().into_service_error(),
        "NotAuthorizedException",
    );
    let hls_selector = HlsFragmentSelector::builder()
        .fragment_selector_type(HlsFragmentSelectorType::ServerTimestamp)
        .timestamp_range(HlsTimestampRange::builder().start_timestamp(s).end_timestamp(e).build())
        .build();
    let err = am
        .get_hls_streaming_session_url()
        .stream_name("lobby")
        .playback_mode(HlsPlaybackMode::OnDemand)
        .hls_fragment_selector(hls_selector.clone())
        .send()
        .await;
    sdk_rejected(
        &mut n,
        "restricted key: GetHLSStreamingSessionURL lobby",
        &err.unwrap_err().into_service_error(),
        "NotAuthorizedException",
    );
    let err = am
        .get_dash_streaming_session_url()
        .stream_name("lobby")
        .playback_mode(DashPlaybackMode::OnDemand)
        .dash_fragment_selector(
            DashFragmentSelector::builder()
                .fragment_selector_type(DashFragmentSelectorType::ServerTimestamp)
                .timestamp_range(DashTimestampRange::builder().start_timestamp(s).end_timestamp(e).build())
                .build(),
        )
        .send()
        .await;
    sdk_rejected(
        &mut n,
        "restricted key: GetDASHStreamingSessionURL lobby",
        &err.unwrap_err().into_service_error(),
        "NotAuthorizedException",
    );
    // Its own stream is readable.
    let own = am.list_fragments().stream_name("cam-1").fragment_selector(selector).send().await.unwrap();
    assert_eq!(own.fragments().len(), 2);
    am.get_hls_streaming_session_url()
        .stream_name("cam-1")
        .playback_mode(HlsPlaybackMode::OnDemand)
        .hls_fragment_selector(hls_selector)
        .send()
        .await
        .unwrap();

    assert_no_secret_logged();
    println!("restricted-key attacks rejected ({backend:?}): {n}");
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------------
// DASH session tokens (HLS: tests/playback.rs).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_expired_dash_tokens_are_rejected() {
    capture_logs();
    let srv = TestServer::start(Backend::Sqlite).await;
    let mut n = 0usize;
    srv.kvs().create_stream().stream_name("dash").data_retention_in_hours(24).send().await.unwrap();
    let (header, items) = split_file(
        &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/h264_640x360_20s_2sgop.mkv"))
            .unwrap(),
    );
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().map(|(_, b)| b));
    let mut opts = PutOptions::new("dash");
    opts.timecode_type = "RELATIVE";
    assert!(!put_media(srv.addr, &opts, &chunks).await.of("PERSISTED").is_empty());
    let (s, e) = recent_range();
    let url = srv
        .archived()
        .get_dash_streaming_session_url()
        .stream_name("dash")
        .playback_mode(DashPlaybackMode::OnDemand)
        .dash_fragment_selector(
            DashFragmentSelector::builder()
                .fragment_selector_type(DashFragmentSelectorType::ServerTimestamp)
                .timestamp_range(DashTimestampRange::builder().start_timestamp(s).end_timestamp(e).build())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .dash_streaming_session_url
        .unwrap();
    let get = |u: String| {
        let addr = srv.addr;
        let endpoint = srv.endpoint.clone();
        async move {
            let path = u.strip_prefix(&endpoint).unwrap_or(&u).to_owned();
            raw_request(
                addr,
                format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
        }
    };
    assert_eq!(get(url.clone()).await.status, 200, "control: DASH manifest");
    let token = url.split("SessionToken=").nth(1).unwrap().to_owned();
    let (payload, mac) = token.split_once('.').unwrap();

    // Sealed with another server's key (a different first access key secret).
    let foreign = openkvs::auth::session_token::SessionTokenKey::from_secret(b"other-secret");
    let claims_raw = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()
    };
    let foreign_token = foreign.seal(&claims_raw);
    let r = get(url.replace(&token, &foreign_token)).await;
    rejected(&mut n, "DASH token sealed with another key", &r, 401, "NotAuthorizedException");
    // MAC of one token on another payload.
    let other_payload = {
        use base64::Engine;
        let text = String::from_utf8(claims_raw.clone()).unwrap();
        let changed = text.replacen("\"s\":", "\"s\":1", 1);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(changed)
    };
    let r = get(url.replace(&token, &format!("{other_payload}.{mac}"))).await;
    rejected(&mut n, "DASH token with a tampered payload", &r, 401, "NotAuthorizedException");
    let r = get(url.replace(&token, &"A".repeat(5000))).await;
    rejected(&mut n, "DASH token of 5000 characters", &r, 401, "NotAuthorizedException");
    // Expired, correctly sealed.
    let key = openkvs::auth::session_token::SessionTokenKey::from_secret(b"openkvs-secret");
    let mut claims: openkvs::playback::session::SessionClaims = serde_json::from_slice(&claims_raw).unwrap();
    claims.expires_ms = now_ms() as i64 - 1;
    let expired = key.seal(&serde_json::to_vec(&claims).unwrap());
    let r = get(url.replace(&token, &expired)).await;
    rejected(&mut n, "expired DASH token (manifest)", &r, 401, "NotAuthorizedException");
    assert!(String::from_utf8_lossy(&r.body).contains("expired"));
    let seg = format!("{}/dash/v1/getMP4InitFragment.mp4?SessionToken={expired}", srv.endpoint);
    let r = get(seg).await;
    rejected(&mut n, "expired DASH token (init fragment)", &r, 401, "NotAuthorizedException");
    // A DASH token does not open HLS resources.
    let hls = format!("{}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken={token}", srv.endpoint);
    let r = get(hls).await;
    rejected(&mut n, "DASH token on an HLS playlist", &r, 401, "NotAuthorizedException");

    assert_no_secret_logged();
    println!("DASH token attacks rejected: {n}");
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Disk full during ingest.

async fn disk_full_during_ingest_then_recovery(backend: Backend) {
    capture_logs();
    let switch = FaultSwitch::new();
    let sw = switch.clone();
    let srv =
        TestServer::start_with_store(backend, |_| {}, move |inner| Arc::new(FaultyStore::new(inner, sw)))
            .await;
    srv.kvs().create_stream().stream_name("full").data_retention_in_hours(24).send().await.unwrap();
    let one = Synth { tracks: vec![1] };
    let base = now_ms() - 60_000;

    // A good fragment first, then the disk fills up.
    let r = put_media(srv.addr, &PutOptions::new("full"), &[one.header(), one.second(base)]).await;
    assert_eq!(r.timecodes("PERSISTED"), [base]);
    switch.set(true);
    let chunks = [one.header(), one.second(base + 1000), one.second(base + 2000), one.second(base + 3000)];
    let r = put_media(srv.addr, &PutOptions::new("full"), &chunks).await;
    assert_eq!(r.status, 200);
    assert!(r.of("PERSISTED").is_empty(), "nothing PERSISTED while the disk is full: {:?}", r.acks);
    let errors = r.error_ids();
    assert!(!errors.is_empty() && errors.iter().all(|&e| e == 5001), "ErrorId 5001 expected: {:?}", r.acks);
    println!(
        "disk full: acks {:?}",
        r.acks.iter().map(|a| a["EventType"].as_str().unwrap_or("")).collect::<Vec<_>>()
    );
    assert!(switch.injected() > 0);

    // Space is back: a new session persists again; only the good fragments are listed.
    switch.set(false);
    let chunks = [one.header(), one.second(base + 4000), one.second(base + 5000)];
    let r = put_media(srv.addr, &PutOptions::new("full"), &chunks).await;
    assert_eq!(r.timecodes("PERSISTED"), [base + 4000, base + 5000], "{:?}", r.acks);
    let (s, e) = (DateTime::from_millis(0), DateTime::from_millis(now_ms() as i64 + 60_000));
    let listed = srv
        .archived()
        .list_fragments()
        .stream_name("full")
        .fragment_selector(
            FragmentSelector::builder()
                .fragment_selector_type(FragmentSelectorType::ServerTimestamp)
                .timestamp_range(
                    TimestampRange::builder().start_timestamp(s).end_timestamp(e).build().unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut tcs: Vec<i64> = listed
        .fragments()
        .iter()
        .filter_map(|f| f.producer_timestamp().map(|t| t.to_millis().unwrap()))
        .collect();
    tcs.sort();
    // Listed relative to the first one (the ms rounding of the session's start timestamp may shift
    // them all by 1 ms).
    let offsets: Vec<i64> = tcs.iter().map(|t| t - tcs[0]).collect();
    assert_eq!(offsets, [0, 4000, 5000], "failed fragments must not be listed: {tcs:?}");
    // The stored bytes of a listed fragment read back whole (GetMedia from the first one).
    let out = srv
        .media()
        .get_media()
        .stream_name("full")
        .start_selector(
            aws_sdk_kinesisvideomedia::types::StartSelector::builder()
                .start_selector_type(aws_sdk_kinesisvideomedia::types::StartSelectorType::Earliest)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // GetMedia tails the stream: read until the three stored fragments are through.
    let mut payload = out.payload;
    let mut got = 0;
    while got < 3 * 5000 {
        let next =
            tokio::time::timeout(Duration::from_secs(10), payload.next()).await.expect("GetMedia bytes");
        got += next.expect("GetMedia ended early").expect("GetMedia read").len();
    }
    assert_no_secret_logged();
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Connections that hold resources: idle, slow-loris, stalled bodies.

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn timed_list_streams(addr: SocketAddr) -> Duration {
    let t = Instant::now();
    let req = signed_json_post(
        addr,
        "/listStreams",
        "{}",
        "kinesisvideo",
        "openkvs",
        "openkvs-secret",
        SystemTime::now(),
    );
    let r = raw_request(addr, &req).await;
    assert_eq!(r.status, 200);
    t.elapsed()
}

/// Whether the server closed `tcp` (EOF or reset) within `within`.
async fn closed_by_server(tcp: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline.into(), tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // e.g. a 408 response before the close
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_connections_slow_loris_and_stalled_bodies_are_bounded() {
    capture_logs();
    let _heavy = HEAVY.lock().await;
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.header_read_timeout_secs = 2;
        c.ingest.idle_timeout_secs = 2;
    })
    .await;
    let addr = srv.addr;
    let baseline = timed_list_streams(addr).await;
    let rss0 = rss_kib();

    // 2000 connections that send nothing.
    const IDLE: usize = 2000;
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss1 = rss_kib();
    let during = timed_list_streams(addr).await;
    println!(
        "{IDLE} idle connections: RSS {rss0} -> {rss1} KiB (delta {} KiB, {:.1} KiB/conn incl. client side); \
         ListStreams {baseline:?} before, {during:?} during",
        rss1 as i64 - rss0 as i64,
        (rss1 as f64 - rss0 as f64) / IDLE as f64
    );
    assert!(rss1.saturating_sub(rss0) < 256 * 1024, "RSS grew by more than 256 MiB");
    assert!(during < Duration::from_secs(2), "server slow with idle connections: {during:?}");
    // The header-read timeout closes them.
    let t = Instant::now();
    let mut closed = 0;
    for tcp in idle.iter_mut() {
        if closed_by_server(tcp, Duration::from_secs(6).saturating_sub(t.elapsed())).await {
            closed += 1;
        }
    }
    println!("idle connections closed by the server: {closed}/{IDLE} after {:?}", t.elapsed());
    assert_eq!(closed, IDLE, "every idle connection is closed by the header read timeout");
    drop(idle);

    // Slow loris: request heads dribbled one byte every 100 ms.
    const LORIS: usize = 50;
    let head = format!(
        "GET /hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=x HTTP/1.1\r\nHost: {addr}\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(200)
    );
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..LORIS {
        let head = head.clone().into_bytes();
        tasks.push(tokio::spawn(async move {
            let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let start = Instant::now();
            for b in head {
                if tcp.write_all(&[b]).await.is_err() {
                    return Some(start.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                // Has the server given up on us?
                let mut buf = [0u8; 256];
                if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1), tcp.read(&mut buf)).await
                    && n == 0
                {
                    return Some(start.elapsed());
                }
                if start.elapsed() > Duration::from_secs(10) {
                    return None;
                }
            }
            None // the whole head got through
        }));
    }
    let loris_during = timed_list_streams(addr).await;
    let mut cut = Vec::new();
    for task in tasks {
        cut.push(task.await.unwrap().expect("slow-loris connection must be cut by the server"));
    }
    let max_cut = cut.iter().max().unwrap();
    println!(
        "{LORIS} slow-loris connections cut after at most {max_cut:?} (timeout 2 s); ListStreams during: {loris_during:?}; total {:?}",
        t.elapsed()
    );
    assert!(*max_cut < Duration::from_secs(5));
    assert!(loris_during < Duration::from_secs(2));

    // A PutMedia body that stalls after the Matroska header: the ingest idle timeout ends it.
    srv.kvs().create_stream().stream_name("stall").data_retention_in_hours(1).send().await.unwrap();
    let mut opts = PutOptions::new("stall");
    opts.finish_body = false;
    opts.wait_final = Duration::from_secs(15);
    let one = Synth { tracks: vec![1] };
    let t = Instant::now();
    let r = put_media(addr, &opts, &[one.header(), one.second(now_ms() - 5000)]).await;
    let ended = t.elapsed();
    println!(
        "stalled PutMedia body ended by the server after {ended:?} (idle timeout 2 s); acks {:?}",
        r.acks.iter().map(|a| a["EventType"].as_str().unwrap_or("")).collect::<Vec<_>>()
    );
    assert!(ended < Duration::from_secs(10));
    assert_eq!(r.status, 200);
    let after = timed_list_streams(addr).await;
    println!("ListStreams after everything: {after:?}; RSS now {} KiB", rss_kib());
    assert_no_secret_logged();
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Stalled readers next to a producer.

/// Streams `count` fragments (every `every`) into `stream` over one PutMedia session and returns,
/// per fragment, the time from its RECEIVED ACK to its PERSISTED ACK.
async fn produce_measuring(addr: SocketAddr, stream: &str, count: usize, every: Duration) -> Vec<Duration> {
    let opts = PutOptions::new(stream);
    let head = common::producer::put_media_head(addr, &opts);
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    let reader = tokio::spawn(async move {
        let mut received = std::collections::HashMap::new();
        let mut latencies = Vec::new();
        let mut buf = Vec::new();
        let mut tmp = vec![0u8; 16384];
        loop {
            let n = match rd.read(&mut tmp).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let now = Instant::now();
            buf.extend_from_slice(&tmp[..n]);
            while let Some(p) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=p).collect();
                let line = String::from_utf8_lossy(&line);
                let line = line.trim();
                if line == "0" {
                    return latencies; // the terminating chunk: the response is complete
                }
                if !line.starts_with('{') {
                    continue;
                }
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
                let tc = v["FragmentTimecode"].as_u64().unwrap_or(0);
                match v["EventType"].as_str() {
                    Some("RECEIVED") => {
                        received.insert(tc, now);
                    }
                    Some("PERSISTED") => {
                        if let Some(t) = received.get(&tc) {
                            latencies.push(now.duration_since(*t));
                        }
                    }
                    Some("ERROR") => panic!("producer got an ERROR ack: {v}"),
                    _ => {}
                }
            }
        }
        latencies
    });
    wr.write_all(head.as_bytes()).await.unwrap();
    let one = Synth { tracks: vec![1] };
    send(&mut wr, one.header()).await;
    let mut tick = tokio::time::interval(every);
    for _ in 0..count {
        tick.tick().await;
        let frames: Vec<(u64, i16, bool, usize)> = (0..5).map(|i| (1, i * 40, i == 0, 20_000)).collect();
        send(&mut wr, Synth::cluster(now_ms(), &frames)).await;
    }
    wr.write_all(b"0\r\n\r\n").await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), reader).await.unwrap().unwrap()
}

async fn send(wr: &mut tokio::net::tcp::OwnedWriteHalf, c: Bytes) {
    let mut framed = format!("{:x}\r\n", c.len()).into_bytes();
    framed.extend_from_slice(&c);
    framed.extend_from_slice(b"\r\n");
    wr.write_all(&framed).await.unwrap()
}

fn summary(mut v: Vec<Duration>) -> (Duration, Duration, Duration, usize) {
    v.sort();
    let n = v.len();
    (v[n / 2], v[(n * 99 / 100).min(n - 1)], v[n - 1], n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_readers_do_not_slow_ingest() {
    capture_logs();
    let _heavy = HEAVY.lock().await;
    let stall_secs: u64 = std::env::var("OPENKVS_STALL_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let srv = TestServer::start(Backend::Sqlite).await;
    let addr = srv.addr;
    // A stored stream to read from: 20 s of H.264.
    srv.kvs().create_stream().stream_name("vod").data_retention_in_hours(24).send().await.unwrap();
    let (header, items) = split_file(
        &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/h264_640x360_20s_2sgop.mkv"))
            .unwrap(),
    );
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().map(|(_, b)| b));
    let mut opts = PutOptions::new("vod");
    opts.timecode_type = "RELATIVE";
    assert!(!put_media(addr, &opts, &chunks).await.of("PERSISTED").is_empty());
    srv.kvs().create_stream().stream_name("live").data_retention_in_hours(24).send().await.unwrap();

    let every = Duration::from_millis(250);
    let base = produce_measuring(addr, "live", 12, every).await;

    // Stalled readers: GetMedia on both streams and an HLS segment download, never read, on
    // sockets with a tiny receive buffer.
    let stalled_conn = |bytes: Vec<u8>| async move {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        let mut tcp = sock.connect(addr).await.unwrap();
        tcp.write_all(&bytes).await.unwrap();
        tcp
    };
    let get_media = |stream: &str| {
        let body =
            format!(r#"{{"StreamName":"{stream}","StartSelector":{{"StartSelectorType":"EARLIEST"}}}}"#);
        signed_json_post(
            addr,
            "/getMedia",
            &body,
            "kinesisvideo",
            "openkvs",
            "openkvs-secret",
            SystemTime::now(),
        )
    };
    let (s, e) = recent_range();
    let url = srv
        .archived()
        .get_hls_streaming_session_url()
        .stream_name("vod")
        .playback_mode(HlsPlaybackMode::OnDemand)
        .hls_fragment_selector(
            HlsFragmentSelector::builder()
                .fragment_selector_type(HlsFragmentSelectorType::ServerTimestamp)
                .timestamp_range(HlsTimestampRange::builder().start_timestamp(s).end_timestamp(e).build())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .hls_streaming_session_url
        .unwrap();
    let path = url.strip_prefix(&srv.endpoint).unwrap().to_owned();
    let fetch = |p: String| async move {
        raw_request(addr, format!("GET {p} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
            .await
    };
    let dir = path[..path.split('?').next().unwrap().rfind('/').unwrap() + 1].to_owned();
    let master = String::from_utf8(fetch(path.clone()).await.body).unwrap();
    let media_uri = master.lines().find(|l| !l.is_empty() && !l.starts_with('#')).unwrap().to_owned();
    let media = String::from_utf8(fetch(format!("{dir}{media_uri}")).await.body).unwrap();
    let seg = media.lines().find(|l| !l.is_empty() && !l.starts_with('#')).unwrap().to_owned();
    let seg_req =
        format!("GET {dir}{seg} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").into_bytes();
    let mut stalled = Vec::new();
    for _ in 0..2 {
        stalled.push(stalled_conn(get_media("vod")).await);
    }
    stalled.push(stalled_conn(get_media("live")).await);
    for _ in 0..3 {
        stalled.push(stalled_conn(seg_req.clone()).await);
    }
    let count = (stall_secs * 1000 / every.as_millis() as u64) as usize;
    let during = produce_measuring(addr, "live", count, every).await;
    // The server still answers quickly with the stalled readers in place.
    let list = timed_list_streams(addr).await;
    drop(stalled);

    let (b50, b99, bmax, bn) = summary(base);
    let (d50, d99, dmax, dn) = summary(during);
    println!(
        "RECEIVED->PERSISTED latency: baseline n={bn} p50={b50:?} p99={b99:?} max={bmax:?}; \
         with 3 stalled GetMedia + 3 stalled HLS segment reads for {stall_secs} s: n={dn} p50={d50:?} p99={d99:?} max={dmax:?}; \
         ListStreams {list:?}"
    );
    assert_eq!(dn, count, "every fragment PERSISTED");
    assert!(dmax < Duration::from_secs(2), "PERSISTED latency with stalled readers: {dmax:?}");
    assert!(list < Duration::from_secs(2));
    assert_no_secret_logged();
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Postgres restarted under ingest (opt-in: it breaks every other Postgres test running meanwhile).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_restart_during_ingest() {
    if std::env::var("OPENKVS_PG_RESTART_TEST").ok().as_deref() != Some("1")
        || common::postgres_url().is_none()
    {
        eprintln!("OPENKVS_PG_RESTART_TEST=1 and TEST_DATABASE_URL not both set: not run");
        return;
    }
    capture_logs();
    let srv = TestServer::start(Backend::Postgres).await;
    let addr = srv.addr;
    srv.kvs().create_stream().stream_name("pg").data_retention_in_hours(24).send().await.unwrap();
    let one = Synth { tracks: vec![1] };
    let start = now_ms();
    let mut chunks = vec![one.header()];
    for i in 0..40u64 {
        chunks.push(Synth::cluster(start + i * 250, &[(1, 0, true, 5000), (1, 100, false, 5000)]));
    }
    let mut opts = PutOptions::new("pg");
    opts.pace = Some(Duration::from_millis(250));
    opts.wait_final = Duration::from_secs(60);
    let producer = tokio::spawn(async move { put_media(addr, &opts, &chunks).await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let t = Instant::now();
    let out = tokio::task::spawn_blocking(|| {
        let version = std::fs::read_dir("/etc/postgresql").unwrap().next().unwrap().unwrap().file_name();
        std::process::Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", version.to_str().unwrap(), "main", "restart"])
            .output()
            .expect("pg_ctlcluster")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "restart failed: {}", String::from_utf8_lossy(&out.stderr));
    println!("postgres restarted in {:?}", t.elapsed());
    let r = producer.await.unwrap();
    let kinds: Vec<&str> = r.acks.iter().map(|a| a["EventType"].as_str().unwrap_or("")).collect();
    let persisted: Vec<String> =
        r.of("PERSISTED").iter().map(|a| a["FragmentNumber"].as_str().unwrap().to_owned()).collect();
    println!(
        "session across the restart: status {}, {} PERSISTED, errors {:?}, last ack {:?}",
        r.status,
        persisted.len(),
        r.error_ids(),
        kinds.last()
    );
    assert_eq!(r.status, 200);
    assert!(r.error_ids().iter().all(|&e| e == 5000 || e == 5001), "clean failure codes only: {:?}", r.acks);

    // Every fragment acked PERSISTED is listed (retry while Postgres comes back).
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = loop {
        let (s, e) = (DateTime::from_millis(0), DateTime::from_millis(now_ms() as i64 + 60_000));
        let res = srv
            .archived()
            .list_fragments()
            .stream_name("pg")
            .fragment_selector(
                FragmentSelector::builder()
                    .fragment_selector_type(FragmentSelectorType::ServerTimestamp)
                    .timestamp_range(
                        TimestampRange::builder().start_timestamp(s).end_timestamp(e).build().unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await;
        match res {
            Ok(l) => break l,
            Err(e) if Instant::now() < deadline => {
                println!("ListFragments not yet: {e:?}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("ListFragments after restart: {e:?}"),
        }
    };
    let numbers: Vec<&str> = listed.fragments().iter().filter_map(|f| f.fragment_number()).collect();
    for n in &persisted {
        assert!(numbers.contains(&n.as_str()), "fragment {n} acked PERSISTED but not listed");
    }
    // A new session works.
    let t0 = now_ms();
    let r =
        put_media(addr, &PutOptions::new("pg"), &[one.header(), one.second(t0), one.second(t0 + 1000)]).await;
    assert_eq!(r.of("PERSISTED").len(), 2, "new session after restart: {:?}", r.acks);
    println!("after restart: {} fragments listed, new session PERSISTED 2", numbers.len());
    assert_no_secret_logged();
    let _ = std::io::stdout().flush();
    srv.stop().await;
}

/// The real binary's startup output (where the credentials mode is logged) names the development
/// key but never prints its secret.
#[tokio::test]
async fn startup_log_names_keys_without_secrets() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_openkvs"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut err = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !seen.contains("development key") && tokio::time::Instant::now() < deadline {
        tokio::select! {
            Ok(Some(l)) = out.next_line() => { seen.push_str(&l); seen.push('\n'); }
            Ok(Some(l)) = err.next_line() => { seen.push_str(&l); seen.push('\n'); }
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    let _ = child.kill().await;
    assert!(seen.contains("development key openkvs"), "startup line names the key: {seen}");
    assert!(!seen.contains("openkvs-secret"), "the secret is logged: {seen}");
}
