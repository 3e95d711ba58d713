//! SigV4 verification throughput (requests/s, one core).
//!
//! `cargo bench --bench sigv4` signs realistic requests once with the producer's own signer (the
//! aws-sigv4 crate, as the KVS SDKs sign) and then verifies them repeatedly with the server's
//! [`Verifier`] against a [`KeyStore`], exactly as the API layer does per request:
//! 1. a PutMedia request (the C producer's signed-header set, empty-payload hash);
//! 2. a `DescribeStream` JSON POST, including hashing the body as the API layer does;
//! 3. a PutMedia request with a wrong signature (the mismatch path; no second canonical form).
//!
//! Each case runs 1 s of warm-up, then 5 runs of 1 s; the median requests/s is printed with the
//! spread of the runs.

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_kinesisvideo::config::Credentials;
use openkvs::auth::KeyStore;
use openkvs::auth::sigv4::{EMPTY_PAYLOAD_SHA256, RequestParts, Verifier, payload_hash_for, sha256_hex};
use openkvs::auth::{AuthMode, KeyConfig};
use openkvs::producer::sign::{sign_json_post, sign_put_media};

const RUNS: usize = 5;
const RUN_TIME: Duration = Duration::from_secs(1);

/// Owned header list of one signed request.
struct SignedRequest {
    path: &'static str,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// Calls `f` for [`RUN_TIME`] and returns calls per second.
fn run_once(f: &mut dyn FnMut() -> bool) -> f64 {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < RUN_TIME {
        for _ in 0..64 {
            assert!(std::hint::black_box(f()));
        }
        calls += 64;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

/// Warm-up, then [`RUNS`] runs; prints the median and the min–max.
fn measure(name: &str, mut f: impl FnMut() -> bool) {
    run_once(&mut f);
    let mut rates: Vec<f64> = (0..RUNS).map(|_| run_once(&mut f)).collect();
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = rates[RUNS / 2];
    println!(
        "{name:<52} {median:>10.0} req/s  ({:.2} µs each; runs {:.0}–{:.0})",
        1e6 / median,
        rates[0],
        rates[RUNS - 1]
    );
}

fn put_media_request(credentials: &Credentials, time: SystemTime) -> SignedRequest {
    let headers = [
        ("host", "127.0.0.1:4567"),
        ("user-agent", "openkvs"),
        ("x-amzn-stream-name", "bench-0"),
        ("x-amzn-producer-start-timestamp", "1700000000.000"),
        ("x-amzn-fragment-acknowledgment-required", "1"),
        ("x-amzn-fragment-timecode-type", "ABSOLUTE"),
        ("transfer-encoding", "chunked"),
        ("connection", "keep-alive"),
    ];
    let added =
        sign_put_media("http://127.0.0.1:4567/putMedia", &headers, credentials, "us-east-1", time).unwrap();
    SignedRequest {
        path: "/putMedia",
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .chain(added.into_iter().map(|(k, v)| (k, v.into_bytes())))
            .collect(),
        body: Vec::new(),
    }
}

fn describe_stream_request(credentials: &Credentials, time: SystemTime) -> SignedRequest {
    let body = br#"{"StreamName":"bench-0"}"#.to_vec();
    let headers = [
        ("host", "127.0.0.1:4567"),
        ("content-type", "application/json"),
        ("user-agent", "aws-sdk-rust/1.3.9 os/linux lang/rust/1.94.0"),
    ];
    let added = sign_json_post(
        "http://127.0.0.1:4567/describeStream",
        &headers,
        &body,
        credentials,
        "us-east-1",
        time,
    )
    .unwrap();
    SignedRequest {
        path: "/describeStream",
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .chain(added.into_iter().map(|(k, v)| (k, v.into_bytes())))
            .collect(),
        body,
    }
}

/// Verifies `request` as the API layer does: header views, payload hash, verify.
fn verify(verifier: &Verifier, keys: &KeyStore, request: &SignedRequest, now: i64, hash_body: bool) -> bool {
    let headers: Vec<(&str, &[u8])> =
        request.headers.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
    let parts = RequestParts { method: "POST", path: request.path, query: "", headers: &headers };
    let body_hash = if hash_body { sha256_hex(&request.body) } else { EMPTY_PAYLOAD_SHA256.to_owned() };
    let payload = payload_hash_for(&headers, &body_hash);
    verifier.verify(&parts, payload, now, keys).is_ok()
}

fn main() {
    let credentials = Credentials::new("openkvs", "openkvs-secret", None, None, "bench");
    let keys = KeyStore::new(
        AuthMode::Keys,
        &[KeyConfig {
            access_key_id: "openkvs".to_owned(),
            secret_access_key: "openkvs-secret".to_owned(),
            operations: None,
            streams: None,
        }],
    );
    let verifier = Verifier::default();
    let now = 1_700_000_000i64;
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(now as u64);
    let put = put_media_request(&credentials, time);
    let describe = describe_stream_request(&credentials, time);
    let mut forged = put_media_request(&credentials, time);
    for (name, value) in &mut forged.headers {
        if name == "authorization" {
            let last = value.len() - 1;
            value[last] = if value[last] == b'0' { b'1' } else { b'0' };
        }
    }
    println!("SigV4 verification, one core, median of {RUNS} × {} s", RUN_TIME.as_secs());
    measure("PutMedia (C producer header set)", || verify(&verifier, &keys, &put, now, false));
    measure("DescribeStream JSON POST (body hashed)", || verify(&verifier, &keys, &describe, now, true));
    measure("PutMedia, wrong signature (rejected)", || !verify(&verifier, &keys, &forged, now, false));
}
