//! Rejections: every failure kind the verifier reports, its AWS code and status, and what open mode
//! still refuses. Requests are signed with this module's own signer, which the AWS suite and the
//! aws-sigv4 tests check independently.
//!
//! Test-only.

use super::super::{
    AmzDate, CanonicalOptions, EMPTY_PAYLOAD_SHA256, PayloadHash, SecretKey, SigV4Error, SignedHeaders,
    SigningKey, VerifiedIdentity, Verifier, VerifierMode, canonical_request, string_to_sign,
};
use super::{Keys, OwnedRequest};

const AKID: &str = "AKIDNEG";
const SECRET: &str = "neg-secret/1+2";
const DATE: &str = "20150830T123600Z";
const PAYLOAD: PayloadHash<'static> = PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256);

fn keys() -> Keys {
    Keys(vec![(AKID, SECRET)])
}

fn t(iso: &str) -> i64 {
    AmzDate::parse_iso8601_basic(iso).expect("date").unix_secs()
}

/// What to sign; defaults describe a valid boto3-style `POST /describeStream`.
struct Spec {
    secret: &'static str,
    akid: &'static str,
    amz_date: &'static str,
    scope: String,
    signed_headers: &'static str,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            secret: SECRET,
            akid: AKID,
            amz_date: DATE,
            scope: "20150830/us-west-2/kinesisvideo/aws4_request".to_owned(),
            signed_headers: "content-type;host;x-amz-date",
        }
    }
}

fn base_request(amz_date: &str) -> OwnedRequest {
    OwnedRequest::new(
        "POST",
        "/describeStream",
        &[("Host", "127.0.0.1:8080"), ("Content-Type", "application/json"), ("X-Amz-Date", amz_date)],
    )
}

/// Signs `req` in the header form with this module's signer.
fn sign(req: &mut OwnedRequest, spec: &Spec) {
    let signed = SignedHeaders::parse(spec.signed_headers).expect("list");
    let mut parts_scope = spec.scope.split('/');
    let (day, region, service) = (
        parts_scope.next().unwrap_or_default(),
        parts_scope.next().unwrap_or_default(),
        parts_scope.next().unwrap_or_default(),
    );
    let sig = {
        let refs = req.header_refs();
        let canonical = canonical_request(&req.parts(&refs), &signed, PAYLOAD, CanonicalOptions::STANDARD)
            .expect("canonical");
        let sts = string_to_sign(spec.amz_date, &spec.scope, &canonical);
        SigningKey::derive(&SecretKey::new(spec.secret), day, region, service).sign_hex(sts.as_bytes())
    };
    req.set_header(
        "Authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={sig}",
            spec.akid, spec.scope, spec.signed_headers
        ),
    );
}

fn signed(spec: &Spec) -> OwnedRequest {
    let mut req = base_request(spec.amz_date);
    sign(&mut req, spec);
    req
}

fn run(req: &OwnedRequest, mode: VerifierMode, now: i64) -> Result<VerifiedIdentity, SigV4Error> {
    let refs = req.header_refs();
    Verifier::new(mode, 900).verify(&req.parts(&refs), PAYLOAD, now, &keys())
}

fn enforce(req: &OwnedRequest) -> Result<VerifiedIdentity, SigV4Error> {
    run(req, VerifierMode::Enforce, t(DATE) + 5)
}

fn code(r: Result<VerifiedIdentity, SigV4Error>) -> (&'static str, u16) {
    let e = r.expect_err("must fail");
    (e.aws_code(), e.http_status())
}

const INCOMPLETE: (&str, u16) = ("IncompleteSignatureException", 400);
const INVALID: (&str, u16) = ("InvalidSignatureException", 403);

#[test]
fn the_valid_request_passes() {
    let id = enforce(&signed(&Spec::default())).expect("valid");
    assert_eq!(id.region, "us-west-2");
    assert_eq!(id.access_key_id, AKID);
}

#[test]
fn wrong_secret_is_a_mismatch_and_says_nothing_secret() {
    let req = signed(&Spec { secret: "not-the-secret", ..Spec::default() });
    let err = enforce(&req).expect_err("mismatch");
    assert!(matches!(err, SigV4Error::SignatureMismatch { .. }));
    assert_eq!((err.aws_code(), err.http_status()), INVALID);
    assert!(err.message().starts_with("The request signature we calculated does not match"));
    // The signature the server expected never appears in what is sent or logged.
    let expected = signed(&Spec::default());
    let expected_sig =
        expected.header("authorization").and_then(|a| a.split("Signature=").nth(1)).expect("sig").to_owned();
    for text in [err.message(), err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(&expected_sig), "{text}");
        assert!(!text.contains(SECRET), "{text}");
    }
}

#[test]
fn unknown_access_key() {
    let req = signed(&Spec { akid: "AKIDUNKNOWN", ..Spec::default() });
    let err = enforce(&req).expect_err("unknown");
    assert_eq!(err, SigV4Error::UnknownAccessKey { access_key_id: "AKIDUNKNOWN".to_owned() });
    assert_eq!((err.aws_code(), err.http_status()), ("UnrecognizedClientException", 403));
    assert_eq!(err.message(), "The security token included in the request is invalid.");
}

#[test]
fn clock_skew_both_directions() {
    let req = signed(&Spec::default());
    let at = t(DATE);
    assert!(run(&req, VerifierMode::Enforce, at + 14 * 60).is_ok());
    assert!(run(&req, VerifierMode::Enforce, at - 14 * 60).is_ok());
    assert!(run(&req, VerifierMode::Enforce, at + 15 * 60).is_ok());

    let late = run(&req, VerifierMode::Enforce, at + 16 * 60).expect_err("expired");
    assert_eq!(late, SigV4Error::SignatureExpired { signed_at: at, now: at + 960, max_skew_secs: 900 });
    assert_eq!((late.aws_code(), late.http_status()), INVALID);
    assert_eq!(
        late.message(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)"
    );
    let early = run(&req, VerifierMode::Enforce, at - 16 * 60).expect_err("future");
    assert!(matches!(early, SigV4Error::SignatureNotYetCurrent { .. }));
    assert_eq!((early.aws_code(), early.http_status()), INVALID);
    assert_eq!(
        early.message(),
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z (20150830T122000Z + 15 min.)"
    );
    // Open mode does not look at the clock; extreme `now` values never overflow.
    assert!(run(&req, VerifierMode::Open, at + 86_400 * 365).is_ok());
    assert!(run(&req, VerifierMode::Enforce, i64::MAX).is_err());
    assert!(run(&req, VerifierMode::Enforce, i64::MIN).is_err());
    let tight = Verifier::new(VerifierMode::Enforce, 90);
    let refs = req.header_refs();
    let e = tight.verify(&req.parts(&refs), PAYLOAD, at + 91, &keys()).expect_err("expired");
    assert!(e.message().ends_with("- 90 sec.)"), "{}", e.message());
}

#[test]
fn scope_date_must_be_the_request_day() {
    let req =
        signed(&Spec { scope: "20150831/us-west-2/kinesisvideo/aws4_request".to_owned(), ..Spec::default() });
    let err = enforce(&req).expect_err("scope date");
    assert!(matches!(err, SigV4Error::ScopeDateMismatch { .. }));
    assert_eq!((err.aws_code(), err.http_status()), INVALID);
    assert!(err.message().contains("'20150831' != '20150830', from '20150830T123600Z'"), "{}", err.message());
    assert!(matches!(run(&req, VerifierMode::Open, 0), Err(SigV4Error::ScopeDateMismatch { .. })));
}

#[test]
fn scope_service_terminator_and_region() {
    let req =
        signed(&Spec { scope: "20150830/us-west-2/kinesis/aws4_request".to_owned(), ..Spec::default() });
    for mode in [VerifierMode::Enforce, VerifierMode::Open] {
        let err = run(&req, mode, t(DATE)).expect_err("service");
        assert_eq!(err.message(), "Credential should be scoped to correct service: 'kinesisvideo'.");
        assert_eq!((err.aws_code(), err.http_status()), INVALID);
    }
    let req =
        signed(&Spec { scope: "20150830/us-west-2/kinesisvideo/aws5_request".to_owned(), ..Spec::default() });
    assert_eq!(enforce(&req), Err(SigV4Error::InvalidTerminator));
    for region in ["US-WEST-2", "us_west_2", "us-west-2.", "ü"] {
        let req = signed(&Spec {
            scope: format!("20150830/{region}/kinesisvideo/aws4_request"),
            ..Spec::default()
        });
        assert_eq!(enforce(&req), Err(SigV4Error::InvalidRegion), "{region}");
    }
    // Any well-formed region is accepted and returned.
    let req =
        signed(&Spec { scope: "20150830/local-1/kinesisvideo/aws4_request".to_owned(), ..Spec::default() });
    assert_eq!(enforce(&req).map(|id| id.region), Ok("local-1".to_owned()));
}

#[test]
fn signed_headers_must_cover_host_and_exist() {
    let req = signed(&Spec { signed_headers: "content-type;x-amz-date", ..Spec::default() });
    assert_eq!(enforce(&req), Err(SigV4Error::HostNotSigned));
    assert_eq!(code(enforce(&req)), INCOMPLETE);
    assert_eq!(run(&req, VerifierMode::Open, 0), Err(SigV4Error::HostNotSigned));

    let mut req = signed(&Spec::default());
    req.remove_header("content-type");
    let err = enforce(&req).expect_err("absent");
    assert_eq!(err, SigV4Error::SignedHeaderAbsent { name: "content-type".to_owned() });
    assert_eq!((err.aws_code(), err.http_status()), INCOMPLETE);
    assert_eq!(
        run(&req, VerifierMode::Open, 0),
        Err(SigV4Error::SignedHeaderAbsent { name: "content-type".to_owned() })
    );
}

#[test]
fn malformed_authorization_headers() {
    let good = signed(&Spec::default());
    let auth = good.header("authorization").expect("auth").to_owned();
    let sig = auth.split("Signature=").nth(1).expect("sig").to_owned();
    let cases = [
        auth.replace("Credential=", "Credential "),
        auth.replace(", SignedHeaders=content-type;host;x-amz-date", ""),
        auth.replace(&format!(", Signature={sig}"), ""),
        auth.replace("Credential=AKIDNEG/", "Credential="),
        auth.replace("content-type;host;x-amz-date", ""),
        auth.replace("content-type;host;x-amz-date", "content-type;;host"),
        auth.replace(&sig, &sig[..40]),
        auth.replace(&sig, &format!("{}zz", &sig[..62])),
        format!("{auth},"),
        format!("{auth}, Foo=bar"),
        "AWS4-HMAC-SHA256".to_owned(),
        "AWS4-HMAC-SHA256 garbage".to_owned(),
        "AWS4-HMAC-SHA256 ,,,".to_owned(),
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00".to_owned(),
    ];
    for case in cases {
        let mut req = good.clone();
        req.set_header("authorization", &case);
        for mode in [VerifierMode::Enforce, VerifierMode::Open] {
            assert_eq!(code(run(&req, mode, t(DATE))), INCOMPLETE, "{case}");
        }
    }
    for case in ["Bearer abc", "AWS AKID:sig", "garbage", "", "AWS4-HMAC-SHA1 Credential=x"] {
        let mut req = good.clone();
        req.set_header("authorization", case);
        assert_eq!(enforce(&req), Err(SigV4Error::UnsupportedAlgorithm), "{case}");
    }
    // Two Authorization headers; a non-UTF-8 one.
    let mut req = good.clone();
    req.headers.push(("authorization".to_owned(), auth.as_bytes().to_vec()));
    assert_eq!(code(enforce(&req)), INCOMPLETE);
    let mut req = good.clone();
    req.remove_header("authorization");
    req.headers.push(("Authorization".to_owned(), b"AWS4-HMAC-SHA256 \xff\xfe".to_vec()));
    assert_eq!(code(enforce(&req)), INCOMPLETE);
}

#[test]
fn dates() {
    // No date at all.
    let mut req = signed(&Spec { signed_headers: "content-type;host", ..Spec::default() });
    req.remove_header("x-amz-date");
    assert_eq!(enforce(&req), Err(SigV4Error::MissingDate));
    assert_eq!(code(enforce(&req)), INCOMPLETE);
    // A malformed or repeated X-Amz-Date.
    for bad in ["2015-08-30T12:36:00Z", "20150830T123600", "Sun, 30 Aug 2015 12:36:00 GMT"] {
        let mut req = signed(&Spec::default());
        req.set_header("x-amz-date", bad);
        assert_eq!(enforce(&req), Err(SigV4Error::MalformedDate), "{bad}");
        assert_eq!(run(&req, VerifierMode::Open, 0), Err(SigV4Error::MalformedDate), "{bad}");
    }
    let mut req = signed(&Spec::default());
    req.headers.push(("x-amz-date".to_owned(), DATE.as_bytes().to_vec()));
    assert_eq!(enforce(&req), Err(SigV4Error::MalformedDate));
    // The RFC 1123 Date header stands in for X-Amz-Date.
    let mut req = OwnedRequest::new(
        "POST",
        "/describeStream",
        &[
            ("Host", "127.0.0.1:8080"),
            ("Content-Type", "application/json"),
            ("Date", "Sun, 30 Aug 2015 12:36:00 GMT"),
        ],
    );
    sign(&mut req, &Spec { signed_headers: "content-type;date;host", ..Spec::default() });
    assert_eq!(enforce(&req).map(|id| id.signed_at_unix), Ok(t(DATE)));
    req.set_header("date", "Sunday, 30-Aug-15 12:36:00 GMT");
    assert_eq!(enforce(&req), Err(SigV4Error::MalformedDate));
}

/// A presigned `GET /` signed with this module's signer, with `extra` raw query parameters.
fn presigned(extra: &str, expires: &str, amz_date: &str) -> OwnedRequest {
    let day = &amz_date[..8];
    let query = format!(
        "{extra}X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AKID}%2F{day}%2Fus-west-2%2Fkinesisvideo%2Faws4_request\
         &X-Amz-Date={amz_date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
    );
    let mut req = OwnedRequest::new("GET", &format!("/?{query}"), &[("Host", "m-1.kinesisvideo.local:8443")]);
    let refs = req.header_refs();
    let signed = SignedHeaders::parse("host").expect("list");
    let canonical = canonical_request(&req.parts(&refs), &signed, PAYLOAD, CanonicalOptions::STANDARD)
        .expect("canonical");
    let sts = string_to_sign(amz_date, &format!("{day}/us-west-2/kinesisvideo/aws4_request"), &canonical);
    let sig = SigningKey::derive(&SecretKey::new(SECRET), day, "us-west-2", "kinesisvideo")
        .sign_hex(sts.as_bytes());
    req.query.push_str(&format!("&X-Amz-Signature={sig}"));
    req
}

#[test]
fn presigned_limits() {
    let at = t(DATE);
    let req = presigned("X-Amz-ClientId=v1&", "300", DATE);
    assert!(run(&req, VerifierMode::Enforce, at + 300).is_ok());
    let err = run(&req, VerifierMode::Enforce, at + 301).expect_err("expired");
    assert_eq!(err, SigV4Error::PresignedExpired { signed_at: at, expires_secs: 300, now: at + 301 });
    assert_eq!((err.aws_code(), err.http_status()), INVALID);
    assert!(run(&req, VerifierMode::Open, at + 301).is_ok());
    // Signed in the future beyond the skew.
    assert!(matches!(
        run(&req, VerifierMode::Enforce, at - 16 * 60),
        Err(SigV4Error::SignatureNotYetCurrent { .. })
    ));
    // A week is the limit, and it is honoured even past the header-form skew.
    let week = presigned("", "604800", DATE);
    assert!(run(&week, VerifierMode::Enforce, at + 604_800).is_ok());
    for bad in ["604801", "0", "-1", "1.5", ""] {
        let req = presigned("", bad, DATE);
        for mode in [VerifierMode::Enforce, VerifierMode::Open] {
            assert_eq!(run(&req, mode, at), Err(SigV4Error::InvalidExpires), "{bad}");
        }
        assert_eq!(code(run(&req, VerifierMode::Enforce, at)), INCOMPLETE);
    }
    // Wrong secret / tampered parameter.
    let mut req = presigned("X-Amz-ClientId=v1&", "300", DATE);
    req.query = req.query.replace("v1", "v2");
    assert!(matches!(run(&req, VerifierMode::Enforce, at), Err(SigV4Error::SignatureMismatch { .. })));
    assert!(run(&req, VerifierMode::Open, at).is_ok());
    // Missing X-Amz-Signature.
    let mut req = presigned("", "300", DATE);
    req.query = req.query.split("&X-Amz-Signature").next().unwrap_or_default().to_owned();
    assert_eq!(code(run(&req, VerifierMode::Enforce, at)), INCOMPLETE);
}

#[test]
fn one_form_exactly() {
    let mut none = signed(&Spec::default());
    none.remove_header("authorization");
    let err = enforce(&none).expect_err("missing");
    assert_eq!(err, SigV4Error::MissingAuthentication);
    assert_eq!((err.aws_code(), err.http_status()), ("MissingAuthenticationTokenException", 403));
    assert_eq!(err.message(), "Missing Authentication Token");
    assert_eq!(run(&none, VerifierMode::Open, 0), Err(SigV4Error::MissingAuthentication));
    // Non-auth X-Amz-* parameters do not make a request presigned.
    none.query = "X-Amz-ChannelARN=arn&X-Amz-Date=20150830T123600Z".to_owned();
    assert_eq!(enforce(&none), Err(SigV4Error::MissingAuthentication));

    let mut both = presigned("", "300", DATE);
    let header = signed(&Spec::default());
    both.set_header("authorization", header.header("authorization").expect("auth"));
    for mode in [VerifierMode::Enforce, VerifierMode::Open] {
        assert_eq!(run(&both, mode, t(DATE)), Err(SigV4Error::ConflictingAuthentication));
    }
    assert_eq!(code(run(&both, VerifierMode::Enforce, t(DATE))), INCOMPLETE);
}

#[test]
fn open_mode_accepts_bad_signatures_but_not_malformed_ones() {
    let req = signed(&Spec { secret: "wrong", akid: "anyone", ..Spec::default() });
    let id = run(&req, VerifierMode::Open, t(DATE)).expect("open accepts");
    assert_eq!(id.access_key_id, "anyone");
    assert!(enforce(&req).is_err());
    let mut bad = req.clone();
    bad.set_header("authorization", "AWS4-HMAC-SHA256 Credential=anyone");
    assert_eq!(code(run(&bad, VerifierMode::Open, t(DATE))), INCOMPLETE);
}

#[test]
fn every_kind_has_one_code_and_status() {
    let table: Vec<(SigV4Error, &str, u16)> = vec![
        (SigV4Error::MissingAuthentication, "MissingAuthenticationTokenException", 403),
        (SigV4Error::ConflictingAuthentication, "IncompleteSignatureException", 400),
        (SigV4Error::UnsupportedAlgorithm, "IncompleteSignatureException", 400),
        (SigV4Error::MalformedAuthorization("x"), "IncompleteSignatureException", 400),
        (SigV4Error::MalformedQuery("x"), "IncompleteSignatureException", 400),
        (SigV4Error::MissingDate, "IncompleteSignatureException", 400),
        (SigV4Error::MalformedDate, "IncompleteSignatureException", 400),
        (SigV4Error::InvalidExpires, "IncompleteSignatureException", 400),
        (SigV4Error::HostNotSigned, "IncompleteSignatureException", 400),
        (SigV4Error::SignedHeaderAbsent { name: "a".into() }, "IncompleteSignatureException", 400),
        (SigV4Error::WrongService { expected: "kinesisvideo".into() }, "InvalidSignatureException", 403),
        (SigV4Error::InvalidRegion, "InvalidSignatureException", 403),
        (SigV4Error::InvalidTerminator, "InvalidSignatureException", 403),
        (
            SigV4Error::ScopeDateMismatch { scope_date: "a".into(), request_date: "b".into() },
            "InvalidSignatureException",
            403,
        ),
        (
            SigV4Error::SignatureExpired { signed_at: 0, now: 0, max_skew_secs: 0 },
            "InvalidSignatureException",
            403,
        ),
        (
            SigV4Error::SignatureNotYetCurrent { signed_at: 0, now: 0, max_skew_secs: 0 },
            "InvalidSignatureException",
            403,
        ),
        (
            SigV4Error::PresignedExpired { signed_at: 0, expires_secs: 1, now: 2 },
            "InvalidSignatureException",
            403,
        ),
        (SigV4Error::UnknownAccessKey { access_key_id: "k".into() }, "UnrecognizedClientException", 403),
        (
            SigV4Error::SignatureMismatch { canonical_request_sha256: String::new() },
            "InvalidSignatureException",
            403,
        ),
    ];
    for (err, code, status) in table {
        assert_eq!((err.aws_code(), err.http_status()), (code, status), "{err:?}");
        assert!(!err.message().is_empty());
        assert!(err.to_string().starts_with(code));
    }
}

#[test]
fn debug_output_never_contains_the_secret() {
    let secret = SecretKey::new(SECRET);
    assert!(!format!("{secret:?}").contains(SECRET));
    assert!(!format!("{secret}").contains(SECRET));
    assert!(
        !format!("{:?}", keys().0.iter().map(|(_, s)| SecretKey::new(*s)).collect::<Vec<_>>())
            .contains(SECRET)
    );
    let key = SigningKey::derive(&secret, "20150830", "us-west-2", "kinesisvideo");
    assert_eq!(format!("{key:?}"), "SigningKey(***)");
}

#[test]
fn constructor_and_defaults() {
    let v = Verifier::default();
    assert_eq!(
        (v.service.as_str(), v.max_skew.as_secs(), v.mode),
        ("kinesisvideo", 900, VerifierMode::Enforce)
    );
    assert_eq!(Verifier::new(VerifierMode::Open, 300).max_skew.as_secs(), 300);
    assert_eq!(Verifier::new(VerifierMode::Enforce, -5).max_skew.as_secs(), 0);
}
