//! AWS's published SigV4 signing test suite (the CRT suite, see `aws_signing_test_suite/README.md`):
//! for each case, the canonical request, string to sign and signature this module computes must equal
//! the published ones, and the verifier must accept the signed request in both forms.
//!
//! Test-only; the vectors are data files included at compile time.

use super::super::{
    AmzDate, CanonicalOptions, EMPTY_PAYLOAD_SHA256, PayloadHash, SecretKey, SigningKey, Verifier,
    VerifierMode, canonical_request, parse_authorization_header, parse_presigned_query, payload_hash_for,
    sha256_hex, string_to_sign,
};
use super::{Keys, OwnedRequest};

struct Case {
    name: &'static str,
    header_signed: &'static str,
    header_canonical: &'static str,
    header_sts: &'static str,
    header_signature: &'static str,
    /// `None` for cases whose presigned form this server does not support by design.
    query: Option<QueryCase>,
}

struct QueryCase {
    signed: &'static str,
    canonical: &'static str,
    sts: &'static str,
    signature: &'static str,
}

macro_rules! suite_file {
    ($name:literal, $file:literal) => {
        include_str!(concat!("aws_signing_test_suite/", $name, "/", $file))
    };
}

macro_rules! case {
    ($name:literal) => {
        case!(
            $name,
            Some(QueryCase {
                signed: suite_file!($name, "query-signed-request.txt"),
                canonical: suite_file!($name, "query-canonical-request.txt"),
                sts: suite_file!($name, "query-string-to-sign.txt"),
                signature: suite_file!($name, "query-signature.txt"),
            })
        )
    };
    ($name:literal, $query:expr) => {
        Case {
            name: $name,
            header_signed: suite_file!($name, "header-signed-request.txt"),
            header_canonical: suite_file!($name, "header-canonical-request.txt"),
            header_sts: suite_file!($name, "header-string-to-sign.txt"),
            header_signature: suite_file!($name, "header-signature.txt"),
            query: $query,
        }
    };
}

fn cases() -> Vec<Case> {
    vec![
        case!("get-header-key-duplicate"),
        case!("get-header-value-multiline"),
        case!("get-header-value-order"),
        case!("get-header-value-trim"),
        case!("get-relative-normalized"),
        case!("get-relative-relative-normalized"),
        case!("get-slash-dot-slash-normalized"),
        case!("get-slash-normalized"),
        case!("get-slash-pointless-dot-normalized"),
        case!("get-slashes-normalized"),
        case!("get-space-normalized"),
        case!("get-unreserved"),
        case!("get-utf8"),
        case!("get-vanilla"),
        case!("get-vanilla-empty-query-key"),
        case!("get-vanilla-query"),
        case!("get-vanilla-query-order-encoded"),
        case!("get-vanilla-query-order-key-case"),
        case!("get-vanilla-query-unreserved"),
        case!("get-vanilla-utf8-query"),
        case!("get-vanilla-with-session-token"),
        case!("post-header-key-case"),
        case!("post-header-key-sort"),
        case!("post-header-value-case"),
        // The token is added to the URL after signing: KVS signs it (it stays in the canonical query).
        case!("post-sts-header-after", None),
        case!("post-sts-header-before"),
        case!("post-vanilla"),
        case!("post-vanilla-empty-query-value"),
        case!("post-vanilla-query"),
        case!("post-x-www-form-urlencoded"),
        case!("post-x-www-form-urlencoded-parameters"),
    ]
}

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SIGNED_AT: &str = "20150830T123600Z";

fn keys() -> Keys {
    Keys(vec![("AKIDEXAMPLE", SECRET)])
}

fn verifier() -> Verifier {
    Verifier { service: "service".to_owned(), ..Verifier::new(VerifierMode::Enforce, 900) }
}

fn now() -> i64 {
    AmzDate::parse_iso8601_basic(SIGNED_AT).expect("date").unix_secs() + 7
}

/// The published files end with or without a newline; canonical text never ends with one.
fn text(file: &str) -> &str {
    file.strip_suffix('\n').unwrap_or(file)
}

#[test]
fn header_form_matches_published_canonical_requests_and_signatures() {
    let verifier = verifier();
    for case in cases() {
        let req = OwnedRequest::parse_http(case.header_signed);
        let refs = req.header_refs();
        let parts = req.parts(&refs);
        let auth = parse_authorization_header(req.header("authorization").expect("signed"))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let body_hash = sha256_hex(&req.body);
        let payload = payload_hash_for(&refs, &body_hash);
        let canonical = canonical_request(&parts, &auth.signed_headers, payload, CanonicalOptions::STANDARD)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(canonical.to_string(), text(case.header_canonical), "{}", case.name);
        let sts = string_to_sign(SIGNED_AT, &auth.credential.scope(), &canonical);
        assert_eq!(sts, text(case.header_sts), "{}", case.name);
        let key = SigningKey::derive(&SecretKey::new(SECRET), "20150830", "us-east-1", "service");
        assert_eq!(key.sign_hex(sts.as_bytes()), text(case.header_signature), "{}", case.name);

        let id =
            verifier.verify(&parts, payload, now(), &keys()).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!((id.access_key_id.as_str(), id.region.as_str()), ("AKIDEXAMPLE", "us-east-1"));
        assert_eq!(id.signed_at_unix, now() - 7);
        assert_eq!(id.expires_at_unix, None);
        assert_eq!(id.security_token.as_deref(), req.header("x-amz-security-token"), "{}", case.name);
    }
}

#[test]
fn presigned_form_matches_published_canonical_requests_and_signatures() {
    let verifier = verifier();
    for case in cases() {
        let Some(q) = case.query else { continue };
        let req = OwnedRequest::parse_http(q.signed);
        let refs = req.header_refs();
        let parts = req.parts(&refs);
        let params = parse_presigned_query(&req.query)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name))
            .expect("presigned");
        assert_eq!(params.expires_secs, 3600);
        let body_hash = sha256_hex(&req.body);
        let payload = PayloadHash::Sha256Hex(&body_hash);
        let canonical =
            canonical_request(&parts, &params.signed_headers, payload, CanonicalOptions::STANDARD)
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(canonical.to_string(), text(q.canonical), "{}", case.name);
        let sts = string_to_sign(params.date.as_str(), &params.credential.scope(), &canonical);
        assert_eq!(sts, text(q.sts), "{}", case.name);
        assert_eq!(hex::encode(params.signature.as_bytes()), text(q.signature), "{}", case.name);

        let id =
            verifier.verify(&parts, payload, now(), &keys()).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(id.expires_at_unix, Some(now() - 7 + 3600), "{}", case.name);
        let token = parse_presigned_query(&req.query).ok().flatten().and_then(|p| p.security_token);
        assert_eq!(id.security_token, token, "{}", case.name);
        // Valid for its whole hour, not a second more.
        assert!(verifier.verify(&parts, payload, now() - 7 + 3600, &keys()).is_ok(), "{}", case.name);
        assert!(verifier.verify(&parts, payload, now() - 7 + 3601, &keys()).is_err(), "{}", case.name);
    }
}

#[test]
fn double_encoding_cases_match_published_canonical_requests() {
    // `double-encode-path` (API Gateway WebSocket connection id with `%3D`).
    let req = OwnedRequest::parse_http(suite_file!("double-encode-path", "header-signed-request.txt"));
    let refs = req.header_refs();
    let auth = parse_authorization_header(req.header("authorization").expect("signed")).expect("valid");
    let mut canonical = canonical_request(
        &req.parts(&refs),
        &auth.signed_headers,
        PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256),
        CanonicalOptions::STANDARD,
    )
    .expect("canonical")
    .to_string();
    // The published canonical request was made at another time than its signed request shows.
    canonical = canonical.replace("x-amz-date:20150830T123600Z", "x-amz-date:20210511T154045Z");
    assert_eq!(canonical, text(suite_file!("double-encode-path", "header-canonical-request.txt")));

    // `double-url-encode` (Lambda function ARN in the path), including its signature.
    let req = OwnedRequest::parse_http(suite_file!("double-url-encode", "header-signed-request.txt"));
    let refs = req.header_refs();
    let parts = req.parts(&refs);
    let auth = parse_authorization_header(req.header("authorization").expect("signed")).expect("valid");
    let payload = PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256);
    let canonical = canonical_request(&parts, &auth.signed_headers, payload, CanonicalOptions::STANDARD)
        .expect("canonical");
    assert_eq!(canonical.to_string(), text(suite_file!("double-url-encode", "header-canonical-request.txt")));
    let sts = string_to_sign("20210511T154045Z", &auth.credential.scope(), &canonical);
    assert_eq!(sts, text(suite_file!("double-url-encode", "header-string-to-sign.txt")));
    let lambda = Verifier { service: "lambda".to_owned(), ..Verifier::new(VerifierMode::Enforce, 900) };
    let at = AmzDate::parse_iso8601_basic("20210511T154045Z").expect("date").unix_secs();
    let id = lambda.verify(&parts, payload, at, &keys()).expect("double-encoded path verifies");
    assert_eq!(id.region, "us-east-2");
}
