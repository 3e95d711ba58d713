//! Parsing of the two places a SigV4 signature travels: the `Authorization` header
//! (`AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`) and the presigned query
//! parameters (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
//! `X-Amz-SignedHeaders`, `X-Amz-Signature`, optional `X-Amz-Security-Token`).
//!
//! Owns syntax only: every value is checked for form, nothing is checked against configuration (the
//! service name, the clock, the keys); that is the verifier's job. Never panics on any input.

use std::fmt;

use super::amz_date::AmzDate;
use super::error::SigV4Error;
use super::signing::ALGORITHM;

/// Query parameter carrying the algorithm of a presigned request.
pub const PARAM_ALGORITHM: &str = "X-Amz-Algorithm";
/// Query parameter carrying the credential scope.
pub const PARAM_CREDENTIAL: &str = "X-Amz-Credential";
/// Query parameter carrying the signing time.
pub const PARAM_DATE: &str = "X-Amz-Date";
/// Query parameter carrying the validity period in seconds.
pub const PARAM_EXPIRES: &str = "X-Amz-Expires";
/// Query parameter carrying the signed header list.
pub const PARAM_SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
/// Query parameter carrying the signature (the only one left out of the canonical query).
pub const PARAM_SIGNATURE: &str = "X-Amz-Signature";
/// Query parameter carrying an STS session token (kept in the canonical query).
pub const PARAM_SECURITY_TOKEN: &str = "X-Amz-Security-Token";

/// The longest validity a presigned request may declare: seven days.
pub const MAX_EXPIRES_SECS: u32 = 604_800;

const CREDENTIAL_FORM: &str =
    "Credential must have the form <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request.";
const SIGNED_HEADERS_FORM: &str =
    "SignedHeaders must be a non-empty, ';'-separated list of distinct lower-case header names.";
const SIGNATURE_FORM: &str = "Signature must be 64 hexadecimal characters.";

/// The credential of a signature: `AKID/YYYYMMDD/region/service/aws4_request`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id (printable ASCII, no `,` or `/`).
    pub access_key_id: String,
    /// The scope day, `YYYYMMDD` (a real calendar date).
    pub date: String,
    /// The scope region, as sent (checked by the verifier).
    pub region: String,
    /// The scope service, as sent (checked by the verifier).
    pub service: String,
    /// The scope terminator, as sent (must be `aws4_request`; checked by the verifier).
    pub terminator: String,
}

impl Credential {
    /// Parses the five `/`-separated, non-empty parts; the reason is fixed text on failure.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let mut parts = text.split('/');
        let mut next = || parts.next().filter(|p| !p.is_empty()).ok_or(CREDENTIAL_FORM);
        let access_key_id = next()?;
        let date = next()?;
        let region = next()?;
        let service = next()?;
        let terminator = next()?;
        if parts.next().is_some() || text.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return Err(CREDENTIAL_FORM);
        }
        if !access_key_id.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
            return Err(CREDENTIAL_FORM);
        }
        if AmzDate::parse_day(date).is_none() {
            return Err(CREDENTIAL_FORM);
        }
        Ok(Self {
            access_key_id: access_key_id.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            terminator: terminator.to_owned(),
        })
    }

    /// The credential scope, `YYYYMMDD/region/service/aws4_request`, as it enters the string to sign.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/{}", self.date, self.region, self.service, self.terminator)
    }
}

/// The validated `SignedHeaders` list, in the order the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    names: Vec<String>,
    list: String,
}

impl SignedHeaders {
    /// Parses `a;b;c`: non-empty, lower-case token characters, no empty item, no duplicate.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let mut names: Vec<String> = Vec::new();
        for name in text.split(';') {
            if name.is_empty() || !name.bytes().all(is_lower_tchar) || names.iter().any(|n| n == name) {
                return Err(SIGNED_HEADERS_FORM);
            }
            names.push(name.to_owned());
        }
        Ok(Self { names, list: text.to_owned() })
    }

    /// The header names, lower-case, in the client's order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether `name` (lower-case) is signed.
    pub fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The list as sent, `a;b;c` (the signed-headers line of the canonical request).
    pub fn as_str(&self) -> &str {
        &self.list
    }
}

/// An HTTP token character (RFC 9110 `tchar`) other than an upper-case letter.
fn is_lower_tchar(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A signature as the client sent it: 32 bytes, hex on the wire. Not secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature([u8; 32]);

impl Signature {
    /// Parses exactly 64 hex digits (either case).
    pub fn parse_hex(text: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Self(out))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

/// A parsed `Authorization` header (the algorithm is always [`ALGORITHM`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// `Credential=`.
    pub credential: Credential,
    /// `SignedHeaders=`.
    pub signed_headers: SignedHeaders,
    /// `Signature=`.
    pub signature: Signature,
}

/// Parses an `Authorization` header value.
///
/// Accepted form: `AWS4-HMAC-SHA256`, one or more spaces, then the three components `Credential=`,
/// `SignedHeaders=` and `Signature=` in any order, separated by `,` with optional spaces after each
/// comma. Anything else (unknown or repeated component, a missing `=`, empty values, spaces before a
/// comma) is rejected. Leading and trailing spaces and tabs of the whole value are ignored.
pub fn parse_authorization_header(value: &str) -> Result<AuthorizationHeader, SigV4Error> {
    use SigV4Error::MalformedAuthorization as Malformed;
    let value = value.trim_matches([' ', '\t']);
    let Some((algorithm, rest)) = value.split_once(' ') else {
        return Err(if value == ALGORITHM {
            Malformed("Authorization header requires 'Credential' parameter.")
        } else {
            SigV4Error::UnsupportedAlgorithm
        });
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm);
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.trim_start_matches(' ').split(',') {
        let component = component.trim_start_matches(' ');
        if component.is_empty() {
            return Err(Malformed("Authorization header contains an empty component."));
        }
        let Some((key, val)) = component.split_once('=') else {
            return Err(Malformed(
                "Authorization header contains a component that is not a valid key=value pair \
                 (missing equal-sign).",
            ));
        };
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(Malformed(
                    "Authorization header contains an unknown component; only Credential, \
                     SignedHeaders and Signature are allowed.",
                ));
            }
        };
        if slot.replace(val).is_some() {
            return Err(Malformed("Authorization header repeats a component."));
        }
    }
    let credential = credential.ok_or(Malformed("Authorization header requires 'Credential' parameter."))?;
    let signed_headers =
        signed_headers.ok_or(Malformed("Authorization header requires 'SignedHeaders' parameter."))?;
    let signature = signature.ok_or(Malformed("Authorization header requires 'Signature' parameter."))?;
    Ok(AuthorizationHeader {
        credential: Credential::parse(credential).map_err(Malformed)?,
        signed_headers: SignedHeaders::parse(signed_headers).map_err(Malformed)?,
        signature: Signature::parse_hex(signature).ok_or(Malformed(SIGNATURE_FORM))?,
    })
}

/// The access key id a request claims, for logs: from the `Authorization` header's `Credential=`
/// or the `X-Amz-Credential` query parameter, whatever else is wrong with the signature. `None` when
/// neither names one. Not a proof of anything: the signature may not verify.
pub fn claimed_access_key_id(authorization: Option<&str>, query: &str) -> Option<String> {
    let from_header = authorization.and_then(|v| {
        let (_, rest) = v.split_once("Credential=")?;
        let key = rest.split(['/', ',']).next()?.trim();
        Some(key.to_owned())
    });
    let key = from_header.or_else(|| {
        query_pairs(query).find_map(|(k, v)| {
            (decode_component(k).as_deref() == Some(PARAM_CREDENTIAL))
                .then(|| decode_component(v))
                .flatten()
                .and_then(|c| c.split('/').next().map(str::to_owned))
        })
    })?;
    // Printable ASCII only, bounded: this text goes into a log line.
    let key: String = key.chars().filter(|c| c.is_ascii_graphic()).take(128).collect();
    (!key.is_empty()).then_some(key)
}

/// The SigV4 parameters of a presigned request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedParams {
    /// `X-Amz-Credential` (decoded).
    pub credential: Credential,
    /// `X-Amz-Date`.
    pub date: AmzDate,
    /// `X-Amz-Expires`, 1..=604800.
    pub expires_secs: u32,
    /// `X-Amz-SignedHeaders` (decoded).
    pub signed_headers: SignedHeaders,
    /// `X-Amz-Signature`.
    pub signature: Signature,
    /// `X-Amz-Security-Token` (decoded), if present. It is part of the canonical query.
    pub security_token: Option<String>,
}

/// Whether the query carries any of the parameters that make a request presigned
/// (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-SignedHeaders`, `X-Amz-Signature`).
pub fn has_presigned_params(query: &str) -> bool {
    query_pairs(query).any(|(key, _)| {
        decode_component(key).is_some_and(|k| {
            [PARAM_ALGORITHM, PARAM_CREDENTIAL, PARAM_SIGNED_HEADERS, PARAM_SIGNATURE].contains(&k.as_str())
        })
    })
}

/// Parses the presigned SigV4 parameters of a raw query string.
///
/// `Ok(None)` when none of `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-SignedHeaders` and
/// `X-Amz-Signature` is present (other parameters such as `X-Amz-ChannelARN` do not count). Once one
/// is present all six of algorithm, credential, date, expires, signed headers and signature are
/// required, each exactly once. Names are case-sensitive; values are percent-decoded (`+` stays `+`).
pub fn parse_presigned_query(query: &str) -> Result<Option<PresignedParams>, SigV4Error> {
    use SigV4Error::MalformedQuery as Malformed;
    const REQUIRED: &str = "AWS query-string parameters must include 'X-Amz-Algorithm', \
        'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders' and 'X-Amz-Expires'.";
    if !has_presigned_params(query) {
        return Ok(None);
    }
    let mut found: [Option<String>; 7] = Default::default();
    let names = [
        PARAM_ALGORITHM,
        PARAM_CREDENTIAL,
        PARAM_DATE,
        PARAM_EXPIRES,
        PARAM_SIGNED_HEADERS,
        PARAM_SIGNATURE,
        PARAM_SECURITY_TOKEN,
    ];
    for (raw_key, raw_value) in query_pairs(query) {
        let Some(key) = decode_component(raw_key) else { continue };
        let Some(index) = names.iter().position(|n| *n == key) else { continue };
        let value = decode_component(raw_value)
            .ok_or(Malformed("A presigned query parameter is not valid percent-encoded UTF-8."))?;
        if found[index].replace(value).is_some() {
            return Err(Malformed("A presigned query parameter is repeated."));
        }
    }
    let [algorithm, credential, date, expires, signed_headers, signature, security_token] = found;
    let (Some(algorithm), Some(credential), Some(date), Some(expires), Some(signed_headers), Some(signature)) =
        (algorithm, credential, date, expires, signed_headers, signature)
    else {
        return Err(Malformed(REQUIRED));
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm);
    }
    let expires_secs = parse_expires(&expires).ok_or(SigV4Error::InvalidExpires)?;
    Ok(Some(PresignedParams {
        credential: Credential::parse(&credential).map_err(Malformed)?,
        date: AmzDate::parse_iso8601_basic(&date).ok_or(SigV4Error::MalformedDate)?,
        expires_secs,
        signed_headers: SignedHeaders::parse(&signed_headers).map_err(Malformed)?,
        signature: Signature::parse_hex(&signature).ok_or(Malformed(SIGNATURE_FORM))?,
        security_token,
    }))
}

/// `1..=604800` written as plain decimal digits.
fn parse_expires(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|n| (1..=MAX_EXPIRES_SECS).contains(n))
}

/// The raw `key=value` pairs of a query string (empty pieces skipped, a missing `=` means `""`).
pub(super) fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// Percent-decodes one query component into UTF-8 (`+` is kept as `+`).
fn decode_component(raw: &str) -> Option<String> {
    percent_encoding::percent_decode_str(raw).decode_utf8().ok().map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    fn header(rest: &str) -> String {
        format!("AWS4-HMAC-SHA256 {rest}")
    }

    #[test]
    fn parses_the_canonical_form() {
        let v = header(&format!(
            "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={SIG}"
        ));
        let a = parse_authorization_header(&v).expect("valid");
        assert_eq!(a.credential.access_key_id, "AKIDEXAMPLE");
        assert_eq!(a.credential.scope(), "20150830/us-east-1/service/aws4_request");
        assert_eq!(a.signed_headers.as_str(), "host;x-amz-date");
        assert_eq!(hex::encode(a.signature.as_bytes()), SIG);
    }

    #[test]
    fn tolerates_spacing_and_order() {
        for rest in [
            format!("Credential=A/20150830/r/s/aws4_request,SignedHeaders=host,Signature={SIG}"),
            format!("Signature={SIG},   SignedHeaders=host, Credential=A/20150830/r/s/aws4_request"),
            format!("  Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature={SIG}  "),
        ] {
            assert!(parse_authorization_header(&header(&rest)).is_ok(), "{rest}");
        }
        let upper = SIG.to_ascii_uppercase();
        let v =
            header(&format!("Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature={upper}"));
        assert!(parse_authorization_header(&v).is_ok());
    }

    #[test]
    fn rejects_malformed_headers() {
        let cred = "Credential=A/20150830/r/s/aws4_request";
        let cases = [
            String::new(),
            "AWS4-HMAC-SHA256".to_owned(),
            "AWS4-HMAC-SHA256 ".to_owned(),
            "garbage".to_owned(),
            header(&format!("SignedHeaders=host, Signature={SIG}")),
            header(&format!("{cred}, Signature={SIG}")),
            header(&format!("{cred}, SignedHeaders=host")),
            header(&format!("{cred}, SignedHeaders=, Signature={SIG}")),
            header(&format!("{cred}, SignedHeaders=host;;x, Signature={SIG}")),
            header(&format!("{cred}, SignedHeaders=Host, Signature={SIG}")),
            header(&format!("{cred}, SignedHeaders=host;host, Signature={SIG}")),
            header(&format!("{cred}, SignedHeaders=host, Signature=xyz")),
            header(&format!("{cred}, SignedHeaders=host, Signature={}", &SIG[..63])),
            header(&format!("{cred}, SignedHeaders=host, Signature={SIG}0")),
            header(&format!("{cred}, SignedHeaders=host, Signature=g{}", &SIG[1..])),
            header(&format!("{cred}, SignedHeaders=host, Signature={SIG},")),
            header(&format!("{cred} , SignedHeaders=host, Signature={SIG}")),
            header(&format!("{cred}, SignedHeaders=host, Signature={SIG}, Extra=1")),
            header(&format!("{cred}, {cred}, SignedHeaders=host, Signature={SIG}")),
            header(&format!("{cred}, SignedHeaders host, Signature={SIG}")),
            header(&format!("credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature={SIG}")),
            header(&format!("Credential=A/20150830/r/s, SignedHeaders=host, Signature={SIG}")),
            header(&format!("Credential=A/20150830/r/s/aws4_request/x, SignedHeaders=host, Signature={SIG}")),
            header(&format!("Credential=A//r/s/aws4_request, SignedHeaders=host, Signature={SIG}")),
            header(&format!("Credential=A/2015083/r/s/aws4_request, SignedHeaders=host, Signature={SIG}")),
            header(&format!("Credential=A/20151330/r/s/aws4_request, SignedHeaders=host, Signature={SIG}")),
            header(&format!("Credential=A B/20150830/r/s/aws4_request, SignedHeaders=host, Signature={SIG}")),
        ];
        for case in cases {
            let err = parse_authorization_header(&case).expect_err(&case);
            assert_eq!(err.aws_code(), "IncompleteSignatureException", "{case}: {err}");
            assert_eq!(err.http_status(), 400);
        }
        let sigv2 = "AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=";
        assert_eq!(parse_authorization_header(sigv2), Err(SigV4Error::UnsupportedAlgorithm));
        let v4a = header("Credential=A/20150830/s/aws4_request").replace("HMAC", "ECDSA-P256");
        assert_eq!(parse_authorization_header(&v4a), Err(SigV4Error::UnsupportedAlgorithm));
    }

    fn presigned(extra: &str) -> String {
        format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fkinesisvideo%2Faws4_request\
             &X-Amz-Date=20150830T123600Z&X-Amz-Expires=299&X-Amz-SignedHeaders=host&X-Amz-Signature={SIG}{extra}"
        )
    }

    #[test]
    fn parses_presigned_parameters() {
        assert_eq!(parse_presigned_query(""), Ok(None));
        assert_eq!(parse_presigned_query("X-Amz-ChannelARN=arn%3Aaws&X-Amz-Date=20150830T123600Z"), Ok(None));
        let p = parse_presigned_query(&presigned("&X-Amz-Security-Token=ab%2Bc%2F%3D+d"))
            .expect("valid")
            .expect("presigned");
        assert_eq!(p.credential.access_key_id, "AKID");
        assert_eq!(p.credential.service, "kinesisvideo");
        assert_eq!(p.expires_secs, 299);
        assert_eq!(p.date.as_str(), "20150830T123600Z");
        assert_eq!(p.security_token.as_deref(), Some("ab+c/=+d"));
    }

    #[test]
    fn rejects_malformed_presigned_parameters() {
        let full = presigned("");
        let drop =
            |name: &str| full.split('&').filter(|p| !p.starts_with(name)).collect::<Vec<_>>().join("&");
        for name in [
            PARAM_ALGORITHM,
            PARAM_CREDENTIAL,
            PARAM_DATE,
            PARAM_EXPIRES,
            PARAM_SIGNED_HEADERS,
            PARAM_SIGNATURE,
        ] {
            let q = drop(name);
            let err = parse_presigned_query(&q).expect_err(name);
            assert_eq!(err.aws_code(), "IncompleteSignatureException", "{name}");
        }
        let cases = [
            (full.replace("X-Amz-Expires=299", "X-Amz-Expires=0"), SigV4Error::InvalidExpires),
            (full.replace("X-Amz-Expires=299", "X-Amz-Expires=604801"), SigV4Error::InvalidExpires),
            (full.replace("X-Amz-Expires=299", "X-Amz-Expires=-5"), SigV4Error::InvalidExpires),
            (
                full.replace("X-Amz-Expires=299", "X-Amz-Expires=99999999999999999999"),
                SigV4Error::InvalidExpires,
            ),
            (full.replace("X-Amz-Date=20150830T123600Z", "X-Amz-Date=2015"), SigV4Error::MalformedDate),
            (full.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"), SigV4Error::UnsupportedAlgorithm),
        ];
        for (q, want) in cases {
            assert_eq!(parse_presigned_query(&q), Err(want), "{q}");
        }
        assert!(parse_presigned_query(&format!("{full}&X-Amz-Date=20150830T123600Z")).is_err());
        assert!(parse_presigned_query(&full.replace("%2F", "/x/")).is_err());
        assert!(parse_presigned_query(&full.replace("SignedHeaders=host", "SignedHeaders=")).is_err());
        assert!(parse_presigned_query(&format!("{full}&X-Amz-Security-Token=%FF")).is_err());
        assert_eq!(
            parse_presigned_query(&full.replace("X-Amz-Expires=299", "X-Amz-Expires=604800"))
                .map(|p| p.map(|p| p.expires_secs)),
            Ok(Some(604_800))
        );
    }

    #[test]
    fn names_the_claimed_access_key_even_when_the_rest_is_wrong() {
        let h = header("Credential=camera-7/20150830/us-east-1/kinesisvideo/aws4_request, Signature=zz");
        assert_eq!(claimed_access_key_id(Some(&h), ""), Some("camera-7".to_owned()));
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fkinesisvideo%2Faws4_request";
        assert_eq!(claimed_access_key_id(None, q), Some("AKID".to_owned()));
        assert_eq!(claimed_access_key_id(Some("Bearer x"), "a=b"), None);
        assert_eq!(claimed_access_key_id(Some("Credential=\n\t/x"), ""), None);
    }
}
