//! A PutMedia request as the KVS C producer sends it (CLIENTS.md §6): nine signed headers, `Host`
//! without the port, payload hash of the empty string, unsigned `content-type`/`accept`/`expect`.
//!
//! The expected signature was computed independently with Python's `hashlib`/`hmac`, mirroring
//! `shared/acceptance/kvsclient.py` `sigv4_headers` restricted to the C producer's header set:
//!
//! ```text
//! canonical = "\n".join(["POST", quote("/putMedia", safe="/~"), "",
//!     "".join(f"{n}:{' '.join(h[n].split())}\n" for n in sorted(h)), ";".join(sorted(h)), sha256(b"")])
//! key = HMAC chain("AWS4" + "secretlab", "20261124", "us-west-2", "kinesisvideo", "aws4_request")
//! signature = HMAC(key, "AWS4-HMAC-SHA256\n20261124T101500Z\n<scope>\n" + sha256(canonical)).hex()
//! ```
//!
//! Test-only.

use super::super::{
    AmzDate, EMPTY_PAYLOAD_SHA256, PayloadHash, SigV4Error, Verifier, VerifierMode, payload_hash_for,
};
use super::{Keys, OwnedRequest};

const SIGNED_HEADERS: &str = "connection;host;transfer-encoding;user-agent;x-amz-date;\
    x-amzn-fragment-acknowledgment-required;x-amzn-fragment-timecode-type;x-amzn-producer-start-timestamp;\
    x-amzn-stream-name";
/// From the Python computation above.
const CANONICAL_SHA256: &str = "6657c2bcb40b0eba9c697c30070ee1eb2f4a77c0a10cbcb6e4f9c9bb23949ceb";
/// From the Python computation above.
const SIGNATURE: &str = "99414b9bba37834784a00d7344e94c14f6dd96dff12a0523edcca311d68411ab";
const AMZ_DATE: &str = "20261124T101500Z";

fn put_media() -> OwnedRequest {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDLAB/20261124/us-west-2/kinesisvideo/aws4_request, \
         SignedHeaders={SIGNED_HEADERS}, Signature={SIGNATURE}"
    );
    // Wire order and spelling as the C sample sends them.
    OwnedRequest::new(
        "POST",
        "/putMedia",
        &[
            ("Host", "127.0.0.1"),
            ("Accept", "*/*"),
            ("Authorization", &auth),
            ("connection", "keep-alive"),
            ("content-type", "application/json"),
            ("transfer-encoding", "chunked"),
            ("user-agent", "AWS-PRODUCER-SDK-KVS/1.6.4 GCC/12.2.0 Linux/6.1.0-13-amd64 x86_64"),
            ("X-Amz-Date", AMZ_DATE),
            ("x-amzn-fragment-acknowledgment-required", "1"),
            ("x-amzn-fragment-timecode-type", "ABSOLUTE"),
            ("x-amzn-producer-start-timestamp", "1795510755.684"),
            ("x-amzn-stream-name", "lab-stream"),
            ("Expect", "100-continue"),
        ],
    )
}

fn keys() -> Keys {
    Keys(vec![("AKIDLAB", "secretlab"), ("other", "x")])
}

fn now() -> i64 {
    AmzDate::parse_iso8601_basic(AMZ_DATE).expect("date").unix_secs() + 2
}

fn verify(
    req: &OwnedRequest,
    payload: PayloadHash<'_>,
) -> Result<super::super::VerifiedIdentity, SigV4Error> {
    let refs = req.header_refs();
    Verifier::new(VerifierMode::Enforce, 900).verify(&req.parts(&refs), payload, now(), &keys())
}

fn empty_payload(req: &OwnedRequest) -> PayloadHash<'static> {
    payload_hash_for(&req.header_refs(), EMPTY_PAYLOAD_SHA256)
}

#[test]
fn accepts_the_c_producer_put_media() {
    let req = put_media();
    let id = verify(&req, empty_payload(&req)).expect("accepted");
    assert_eq!(id.access_key_id, "AKIDLAB");
    assert_eq!(id.region, "us-west-2");
    assert_eq!(id.signed_at_unix, 1_795_515_300);
    assert_eq!(id.security_token, None);
}

#[test]
fn mismatch_reports_the_server_canonical_request_hash() {
    let mut req = put_media();
    req.set_header(
        "authorization",
        &req.header("authorization").expect("auth").replace("Signature=9", "Signature=0"),
    );
    match verify(&req, empty_payload(&req)) {
        Err(SigV4Error::SignatureMismatch { canonical_request_sha256 }) => {
            assert_eq!(canonical_request_sha256, CANONICAL_SHA256);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsigned_headers_may_change() {
    let mut req = put_media();
    req.set_header("content-type", "video/webm");
    req.set_header("accept", "application/json");
    req.remove_header("expect");
    req.headers.push(("x-forwarded-for".to_owned(), b"10.0.0.1".to_vec()));
    assert!(verify(&req, empty_payload(&req)).is_ok());
}

#[test]
fn any_change_to_what_was_signed_is_rejected() {
    let base = put_media();
    let mismatch = |req: &OwnedRequest, payload: PayloadHash<'_>, what: &str| {
        let got = verify(req, payload);
        assert!(matches!(got, Err(SigV4Error::SignatureMismatch { .. })), "{what}: {got:?}");
    };
    for name in SIGNED_HEADERS.split(';') {
        let mut req = base.clone();
        let value = req.header(name).expect("present").to_owned();
        // Change one character (x-amz-date: the seconds, so that date checks still pass).
        let changed = match name {
            "x-amz-date" => value.replace("00Z", "01Z"),
            _ => format!("{value}x"),
        };
        req.set_header(name, &changed);
        mismatch(&req, empty_payload(&req), name);
    }
    // Host with the port added (what a proxy might do) is a different signed value.
    let mut req = base.clone();
    req.set_header("host", "127.0.0.1:8080");
    mismatch(&req, empty_payload(&req), "host:port");
    // A second value for a signed header changes its canonical form.
    let mut req = base.clone();
    req.headers.push(("X-Amzn-Stream-Name".to_owned(), b"other".to_vec()));
    mismatch(&req, empty_payload(&req), "repeated signed header");

    let mut req = base.clone();
    req.method = "PUT".to_owned();
    mismatch(&req, empty_payload(&req), "method");
    let mut req = base.clone();
    req.path = "/putmedia".to_owned();
    mismatch(&req, empty_payload(&req), "path");
    let mut req = base.clone();
    req.query = "a=1".to_owned();
    mismatch(&req, empty_payload(&req), "query");
    let body_hash = super::super::sha256_hex(b"\x1a\x45\xdf\xa3");
    mismatch(&base, PayloadHash::Sha256Hex(&body_hash), "payload hash");
    mismatch(&base, PayloadHash::Unsigned, "unsigned payload");
}

#[test]
fn whitespace_in_values_is_canonicalised_not_signed() {
    // Extra spaces around and inside a value canonicalise to the signed text.
    let mut req = put_media();
    req.set_header("user-agent", "  AWS-PRODUCER-SDK-KVS/1.6.4   GCC/12.2.0 Linux/6.1.0-13-amd64  x86_64 ");
    assert!(verify(&req, empty_payload(&req)).is_ok());
}
