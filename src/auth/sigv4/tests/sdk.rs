//! Requests signed by the official `aws-sigv4` signer (the one aws-sdk-rust uses), verified here:
//! a control-plane JSON call signed the way aws-sdk-kinesisvideo signs it, and a presigned WebSocket
//! URL with `X-Amz-ChannelARN` / `X-Amz-ClientId` like the WebRTC SDKs build.
//!
//! Test-only.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use super::super::{
    EMPTY_PAYLOAD_SHA256, PayloadHash, SigV4Error, Verifier, VerifierMode, payload_hash_for, sha256_hex,
};
use super::{Keys, OwnedRequest};

const AKID: &str = "AKIDRUST";
const SECRET: &str = "rust/secret+key";
const SIGNED_AT: u64 = 1_795_510_516;

fn keys() -> Keys {
    Keys(vec![(AKID, SECRET)])
}

/// Signs `req` (whose `path`/`query` form the URI on `authority`) with aws-sigv4, then, like hyper,
/// adds the `Host` header from the URI authority when the request has none.
fn sign_with_sdk(
    req: &mut OwnedRequest,
    authority: &str,
    settings: SigningSettings,
    token: Option<&str>,
    at: SystemTime,
) {
    let target = if req.query.is_empty() { req.path.clone() } else { format!("{}?{}", req.path, req.query) };
    let uri = format!("https://{authority}{target}");
    let mut http_req = http::Request::builder().method(req.method.as_str()).uri(&uri);
    for (name, value) in &req.headers {
        http_req = http_req.header(name.as_str(), value.as_slice());
    }
    let mut http_req = http_req.body(req.body.clone()).expect("valid request");
    let identity: Identity = Credentials::new(AKID, SECRET, token.map(str::to_owned), None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-west-2")
        .name("kinesisvideo")
        .time(at)
        .settings(settings)
        .build()
        .expect("params")
        .into();
    let header_strings: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), String::from_utf8(v.clone()).expect("ascii header")))
        .collect();
    let signable = SignableRequest::new(
        &req.method,
        uri.clone(),
        header_strings.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(&req.body),
    )
    .expect("signable");
    let (instructions, _signature) = sign(signable, &params).expect("signed").into_parts();
    instructions.apply_to_request_http1x(&mut http_req);
    if !http_req.headers().contains_key(http::header::HOST) {
        let host = http_req.uri().authority().expect("authority").as_str().to_owned();
        http_req.headers_mut().insert(http::header::HOST, host.parse().expect("host value"));
    }
    req.path = http_req.uri().path().to_owned();
    req.query = http_req.uri().query().unwrap_or_default().to_owned();
    req.headers =
        http_req.headers().iter().map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec())).collect();
}

fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(SIGNED_AT)
}

fn now() -> i64 {
    i64::try_from(SIGNED_AT).expect("fits") + 30
}

fn verify(
    req: &OwnedRequest,
    payload: PayloadHash<'_>,
) -> Result<super::super::VerifiedIdentity, SigV4Error> {
    let refs = req.header_refs();
    Verifier::new(VerifierMode::Enforce, 900).verify(&req.parts(&refs), payload, now(), &keys())
}

/// `POST /describeStream` as aws-sdk-kinesisvideo builds it before signing; the SDK adds
/// `user-agent` and the `amz-sdk-*` headers after signing, and hyper adds `Host` from the URI.
fn describe_stream() -> OwnedRequest {
    let body = br#"{"StreamName":"cam-1"}"#;
    let mut req = OwnedRequest::new(
        "POST",
        "/describeStream",
        &[
            ("content-type", "application/json"),
            ("content-length", &body.len().to_string()),
            ("x-amz-user-agent", "aws-sdk-rust/1.7.0 api/kinesisvideo/1.122.0 os/linux lang/rust/1.95.0"),
        ],
    );
    req.body = body.to_vec();
    req
}

fn add_unsigned_sdk_headers(req: &mut OwnedRequest) {
    req.set_header("user-agent", "aws-sdk-rust/1.7.0 os/linux lang/rust/1.95.0");
    req.set_header("amz-sdk-invocation-id", "6c5d1b52-3b4e-4c0e-9a57-5d8f2c1e0a11");
    req.set_header("amz-sdk-request", "attempt=1; max=3");
}

#[test]
fn rust_sdk_control_plane_call_verifies() {
    let mut req = describe_stream();
    sign_with_sdk(&mut req, "127.0.0.1:4566", SigningSettings::default(), None, at());
    add_unsigned_sdk_headers(&mut req);
    let auth = req.header("authorization").expect("signed").to_owned();
    assert!(auth.contains("/us-west-2/kinesisvideo/aws4_request"), "{auth}");
    // Exactly what CLIENTS.md §1 saw aws-sdk-rust sign.
    assert!(
        auth.contains("SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-user-agent,"),
        "{auth}"
    );
    assert_eq!(req.header("host"), Some("127.0.0.1:4566"));

    let body_hash = sha256_hex(&req.body);
    let id = verify(&req, payload_hash_for(&req.header_refs(), &body_hash)).expect("verifies");
    assert_eq!(id.access_key_id, AKID);
    assert_eq!(id.region, "us-west-2");
    assert_eq!(id.signed_at_unix, i64::try_from(SIGNED_AT).expect("fits"));

    // The same request with another body (same length) no longer matches.
    let other = sha256_hex(br#"{"StreamName":"cam-2"}"#);
    assert!(matches!(
        verify(&req, PayloadHash::Sha256Hex(&other)),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
    // Unsigned headers may change (a retry changes amz-sdk-request); signed ones may not.
    let mut changed = req.clone();
    changed.set_header("user-agent", "proxy/1.0");
    changed.set_header("amz-sdk-request", "attempt=2; max=3");
    assert!(verify(&changed, PayloadHash::Sha256Hex(&body_hash)).is_ok());
    changed.set_header("x-amz-user-agent", "other");
    assert!(verify(&changed, PayloadHash::Sha256Hex(&body_hash)).is_err());
}

#[test]
fn rust_sdk_call_with_session_token_verifies() {
    let mut req = describe_stream();
    sign_with_sdk(
        &mut req,
        "127.0.0.1:4566",
        SigningSettings::default(),
        Some("FwoGZXIvYXdzE+token/="),
        at(),
    );
    add_unsigned_sdk_headers(&mut req);
    assert!(req.header("authorization").expect("signed").contains("x-amz-security-token"));
    let body_hash = sha256_hex(&req.body);
    let id = verify(&req, PayloadHash::Sha256Hex(&body_hash)).expect("verifies");
    assert_eq!(id.security_token.as_deref(), Some("FwoGZXIvYXdzE+token/="));
}

#[test]
fn rust_sdk_empty_body_get_with_query_and_odd_path_verifies() {
    // Exercises the canonical URI (double encoding of `%`) and query re-encoding against the SDK.
    let mut req = OwnedRequest::new(
        "GET",
        "/hls/v1/getHLSMediaPlaylist.m3u8?TrackNumber=1&SessionToken=CiA%2Fab~c%3D&Empty=",
        &[],
    );
    sign_with_sdk(&mut req, "localhost:8080", SigningSettings::default(), None, at());
    assert!(verify(&req, PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256)).is_ok());

    let mut req = OwnedRequest::new("GET", "/a%20b/c%3Dd/./e", &[]);
    sign_with_sdk(&mut req, "localhost:8080", SigningSettings::default(), None, at());
    assert!(verify(&req, PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256)).is_ok());
}

#[test]
fn single_encoded_path_verifies_too() {
    // An S3-style signer encodes the path once; the verifier's `PathEncoding::Single` candidate covers it.
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
    let mut req = OwnedRequest::new("GET", "/clips/a%3Db%20c", &[]);
    sign_with_sdk(&mut req, "localhost:8080", settings, None, at());
    assert!(verify(&req, PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256)).is_ok());
}

#[test]
fn raw_plus_in_query_verifies_via_the_form_reading() {
    // aws-sigv4 reads a raw `+` as a space (`%20` in its canonical query) and leaves the URL as is;
    // only the `PlusInQuery::Space` candidate reproduces that.
    let mut req = OwnedRequest::new("GET", "/?q=a+b&r=c%2Bd", &[]);
    sign_with_sdk(&mut req, "localhost:8080", SigningSettings::default(), None, at());
    assert!(req.query.contains("q=a+b"), "{}", req.query);
    assert!(verify(&req, PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256)).is_ok());
}

fn presign(query: &str, token: Option<&str>, expires: Duration) -> OwnedRequest {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let mut req = OwnedRequest::new("GET", &format!("/?{query}"), &[]);
    sign_with_sdk(&mut req, "m-1a2b3c4d.kinesisvideo.us-west-2.amazonaws.com", settings, token, at());
    req
}

const CHANNEL_QUERY: &str = "X-Amz-ChannelARN=arn%3Aaws%3Akinesisvideo%3Aus-west-2%3A123456789012%3Achannel%2Fdemo%2F1700000000000&X-Amz-ClientId=viewer-1";

#[test]
fn presigned_websocket_url_verifies() {
    let req = presign(CHANNEL_QUERY, Some("IQoJb3JpZ2luX2VjE+/token=="), Duration::from_secs(299));
    for name in ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Security-Token"] {
        assert!(req.query.contains(name), "{name} in {}", req.query);
    }
    assert!(req.query.contains("X-Amz-ChannelARN=arn%3Aaws"), "{}", req.query);
    assert!(req.header("authorization").is_none());
    let id = verify(&req, PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256)).expect("verifies");
    assert_eq!(id.security_token.as_deref(), Some("IQoJb3JpZ2luX2VjE+/token=="));
    assert_eq!(id.expires_at_unix, Some(id.signed_at_unix + 299));

    // The client id is signed.
    let mut other = req.clone();
    other.query = other.query.replace("viewer-1", "viewer-2");
    assert!(matches!(
        verify(&other, PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256)),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
    // The security token is signed (it stays in the canonical query).
    let mut other = req.clone();
    other.query = other.query.replace("token", "tokem");
    assert!(matches!(
        verify(&other, PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256)),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
    // Parameter order on the wire does not matter.
    let mut other = req.clone();
    let mut pieces: Vec<&str> = req.query.split('&').collect();
    pieces.reverse();
    other.query = pieces.join("&");
    assert!(verify(&other, PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256)).is_ok());
}

#[test]
fn presigned_url_expires() {
    let req = presign(
        "X-Amz-ChannelARN=arn%3Aaws%3Akinesisvideo%3Aus-west-2%3A1%3Achannel%2Fc%2F1",
        None,
        Duration::from_secs(60),
    );
    let refs = req.header_refs();
    let v = Verifier::new(VerifierMode::Enforce, 900);
    let signed = i64::try_from(SIGNED_AT).expect("fits");
    let payload = PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256);
    assert!(v.verify(&req.parts(&refs), payload, signed + 60, &keys()).is_ok());
    let err = v.verify(&req.parts(&refs), payload, signed + 61, &keys()).expect_err("expired");
    assert_eq!(err, SigV4Error::PresignedExpired { signed_at: signed, expires_secs: 60, now: signed + 61 });
    assert_eq!((err.aws_code(), err.http_status()), ("InvalidSignatureException", 403));
    assert!(err.message().starts_with("Signature expired: "), "{}", err.message());
}
