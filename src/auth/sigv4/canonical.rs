//! Canonicalisation: the canonical URI, query and headers, the canonical request and the string to
//! sign, built from a request exactly as received.
//!
//! Owns the byte-exact text that gets hashed. It must not decide whether a request is acceptable
//! (that is the verifier's job) and must not drop or reorder anything the signer signed: header values
//! are raw bytes, `Host` is used exactly as received (the KVS C producer sends `127.0.0.1` without the
//! port and signs that), and only the `X-Amz-Signature` query parameter is left out.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};

use super::error::SigV4Error;
use super::parse::{PARAM_SIGNATURE, SignedHeaders, query_pairs};
use super::request::{PayloadHash, RequestParts};
use super::signing::{ALGORITHM, sha256_hex};

/// Everything but the RFC 3986 unreserved characters `A-Z a-z 0-9 - . _ ~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// As [`UNRESERVED`], but `/` stays (path separators).
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// How the canonical URI treats the percent-escapes already in the raw path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathEncoding {
    /// Every non-unreserved byte of the raw path except `/` is encoded, including the `%` of existing
    /// escapes (`%3D` becomes `%253D`). The rule for every service but S3, used by botocore,
    /// aws-sdk-rust (`PercentEncodingMode::Double`) and the C producer.
    Double,
    /// Each segment is percent-decoded, then encoded once (`%3D` stays `%3D`). The S3 rule; only ever
    /// differs from [`Double`](Self::Double) when the raw path contains `%`.
    Single,
}

/// How a literal `+` in the raw query is read before re-encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlusInQuery {
    /// `+` is a plus sign (RFC 3986): it canonicalises to `%2B`.
    Literal,
    /// `+` is a space (HTML form decoding, as aws-sigv4 parses queries): it canonicalises to `%20`.
    Space,
}

/// The two ambiguous canonicalisation choices, fixed for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanonicalOptions {
    /// Path escape handling.
    pub path: PathEncoding,
    /// `+` handling in the query.
    pub plus: PlusInQuery,
}

impl CanonicalOptions {
    /// `Double` path encoding and literal `+`: what every KVS client produces for its requests.
    pub const STANDARD: Self = Self { path: PathEncoding::Double, plus: PlusInQuery::Literal };

    /// The option sets worth trying for this request, [`STANDARD`](Self::STANDARD) first. Alternatives
    /// are only listed when they can change the result (a `%` in the path, a `+` in the query).
    pub fn candidates(path: &str, query: &str) -> Vec<Self> {
        let mut out = vec![Self::STANDARD];
        let paths: &[PathEncoding] = if path.contains('%') {
            &[PathEncoding::Double, PathEncoding::Single]
        } else {
            &[PathEncoding::Double]
        };
        let pluses: &[PlusInQuery] = if query.contains('+') {
            &[PlusInQuery::Literal, PlusInQuery::Space]
        } else {
            &[PlusInQuery::Literal]
        };
        for &path in paths {
            for &plus in pluses {
                let o = Self { path, plus };
                if !out.contains(&o) {
                    out.push(o);
                }
            }
        }
        out
    }
}

/// A canonical request: the exact bytes whose SHA-256 enters the string to sign.
#[derive(Clone, PartialEq, Eq)]
pub struct CanonicalRequest(Vec<u8>);

impl CanonicalRequest {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Lower-case hex SHA-256 of the bytes (the last line of the string to sign).
    pub fn sha256_hex(&self) -> String {
        sha256_hex(&self.0)
    }
}

impl fmt::Display for CanonicalRequest {
    /// The text, with any non-UTF-8 header bytes replaced (for debugging only).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Debug for CanonicalRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CanonicalRequest({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// Removes `.` and `..` segments and empty segments (`//`), keeping a trailing slash; `""` is `/`.
///
/// This is what botocore (`remove_dot_segments`) and aws-sigv4 (`UriPathNormalizationMode::Enabled`)
/// do before encoding. It works on the raw path, so an encoded `%2E%2E` is not a dot segment.
pub fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing =
        path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..") || path == "." || path == "..";
    let mut out = String::with_capacity(path.len() + 1);
    out.push('/');
    out.push_str(&segments.join("/"));
    if trailing && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// The canonical URI of a raw path: [`normalize_path`], then encoded per `encoding`.
pub fn canonical_uri(path: &str, encoding: PathEncoding) -> String {
    let normalized = normalize_path(path);
    match encoding {
        PathEncoding::Double => percent_encode(normalized.as_bytes(), UNRESERVED_AND_SLASH).to_string(),
        PathEncoding::Single => normalized
            .split('/')
            .map(|segment| {
                let decoded: Vec<u8> = percent_decode(segment.as_bytes()).collect();
                percent_encode(&decoded, UNRESERVED).to_string()
            })
            .collect::<Vec<_>>()
            .join("/"),
    }
}

/// The canonical query string of a raw query.
///
/// Each `key=value` pair (a missing `=` means an empty value) is percent-decoded (`+` per `plus`),
/// then re-encoded with RFC 3986 rules (only unreserved characters stay literal, hex upper-case);
/// pairs are sorted by encoded key, then encoded value, and written `k=v` joined by `&`. The
/// `X-Amz-Signature` parameter is left out: it cannot sign itself.
pub fn canonical_query(query: &str, plus: PlusInQuery) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(query)
        .map(|(k, v)| (encode_query_component(k, plus), encode_query_component(v, plus)))
        .filter(|(k, _)| k != PARAM_SIGNATURE)
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(query.len());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

fn encode_query_component(raw: &str, plus: PlusInQuery) -> String {
    let bytes: Vec<u8> = match plus {
        PlusInQuery::Literal => raw.as_bytes().to_vec(),
        PlusInQuery::Space => raw.bytes().map(|b| if b == b'+' { b' ' } else { b }).collect(),
    };
    let decoded: Vec<u8> = percent_decode(&bytes).collect();
    percent_encode(&decoded, UNRESERVED).to_string()
}

/// The canonical value of one header: leading and trailing spaces and tabs removed, each run of
/// spaces inside collapsed to one space (the AWS "trimall" rule, as aws-sigv4 applies it).
pub fn canonical_header_value(raw: &[u8]) -> Vec<u8> {
    let trimmed = trim_ows(raw);
    let mut out = Vec::with_capacity(trimmed.len());
    for &b in trimmed {
        if b == b' ' && out.last() == Some(&b' ') {
            continue;
        }
        out.push(b);
    }
    out
}

fn trim_ows(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

/// The canonical headers block: one `name:value\n` line per signed header, in `SignedHeaders` order.
///
/// Several occurrences of one header are joined with `,` in arrival order (each value trimmed first).
/// A signed header that the request lacks is an error ([`SigV4Error::SignedHeaderAbsent`]).
pub fn canonical_headers(headers: &[(&str, &[u8])], signed: &SignedHeaders) -> Result<Vec<u8>, SigV4Error> {
    let mut out = Vec::new();
    for name in signed.names() {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut seen = false;
        for (_, value) in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
            if seen {
                out.push(b',');
            }
            out.extend_from_slice(&canonical_header_value(value));
            seen = true;
        }
        if !seen {
            return Err(SigV4Error::SignedHeaderAbsent { name: name.clone() });
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// The canonical request:
/// `method \n uri \n query \n headers \n signed-headers \n payload-hash` (the headers block ends with
/// its own newline, hence the blank line before the signed-header list).
pub fn canonical_request(
    parts: &RequestParts<'_>,
    signed: &SignedHeaders,
    payload_hash: PayloadHash<'_>,
    options: CanonicalOptions,
) -> Result<CanonicalRequest, SigV4Error> {
    let headers = canonical_headers(parts.headers, signed)?;
    let uri = canonical_uri(parts.path, options.path);
    let query = canonical_query(parts.query, options.plus);
    let mut out = Vec::with_capacity(parts.method.len() + uri.len() + query.len() + headers.len() + 160);
    for line in [parts.method, &uri, &query] {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(&headers);
    out.push(b'\n');
    out.extend_from_slice(signed.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_str().as_bytes());
    Ok(CanonicalRequest(out))
}

/// The string to sign: `AWS4-HMAC-SHA256 \n timestamp \n scope \n hex(sha256(canonical request))`.
pub fn string_to_sign(timestamp: &str, scope: &str, canonical: &CanonicalRequest) -> String {
    format!("{ALGORITHM}\n{timestamp}\n{scope}\n{}", canonical.sha256_hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_like_the_sdks() {
        for (raw, want) in [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/a/./b/../c/", "/a/c/"),
            ("/../../x", "/x"),
            ("/a/b/.", "/a/b/"),
            ("relative", "/relative"),
            ("/describeStream", "/describeStream"),
            ("/hls/v1/getHLSMediaPlaylist.m3u8", "/hls/v1/getHLSMediaPlaylist.m3u8"),
        ] {
            assert_eq!(normalize_path(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn path_encoding_modes() {
        let raw = "/test/@connections/JBDvjfGEIAMCERw%3D";
        assert_eq!(canonical_uri(raw, PathEncoding::Double), "/test/%40connections/JBDvjfGEIAMCERw%253D");
        assert_eq!(canonical_uri(raw, PathEncoding::Single), "/test/%40connections/JBDvjfGEIAMCERw%3D");
        assert_eq!(canonical_uri("/example space/", PathEncoding::Double), "/example%20space/");
        assert_eq!(canonical_uri("/\u{1234}", PathEncoding::Double), "/%E1%88%B4");
        assert_eq!(canonical_uri("/a%2Fb", PathEncoding::Single), "/a%2Fb");
        assert_eq!(canonical_uri("/%7e", PathEncoding::Single), "/~");
        assert_eq!(canonical_uri("/%zz", PathEncoding::Single), "/%25zz");
    }

    #[test]
    fn queries_sort_and_reencode() {
        assert_eq!(canonical_query("", PlusInQuery::Literal), "");
        assert_eq!(
            canonical_query("Param2=value2&Param1=value1", PlusInQuery::Literal),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(canonical_query("b=2&a&a=1&&c=", PlusInQuery::Literal), "a=&a=1&b=2&c=");
        assert_eq!(
            canonical_query("Param-3=Value3&Param=Value2&%E1%88%B4=Value1", PlusInQuery::Literal),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
        );
        assert_eq!(canonical_query("k=a+b%2bc%7E", PlusInQuery::Literal), "k=a%2Bb%2Bc~");
        assert_eq!(canonical_query("k=a+b%2bc%7E", PlusInQuery::Space), "k=a%20b%2Bc~");
        assert_eq!(canonical_query("x=%3a&x=%3A&x=:", PlusInQuery::Literal), "x=%3A&x=%3A&x=%3A");
        assert_eq!(canonical_query("X-Amz-Signature=abc&a=1", PlusInQuery::Literal), "a=1");
        assert_eq!(
            canonical_query(
                "X-Amz-ChannelARN=arn:aws:kinesisvideo:us-west-2:1:channel/c/1",
                PlusInQuery::Literal
            ),
            "X-Amz-ChannelARN=arn%3Aaws%3Akinesisvideo%3Aus-west-2%3A1%3Achannel%2Fc%2F1"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        assert_eq!(canonical_header_value(b"  value1 "), b"value1");
        assert_eq!(canonical_header_value(b"\"a   b   c\""), b"\"a b c\"");
        assert_eq!(canonical_header_value(b"\t x \t"), b"x");
        assert_eq!(canonical_header_value(b""), b"");
        assert_eq!(canonical_header_value(b"   "), b"");
    }

    #[test]
    fn candidates_only_when_they_matter() {
        assert_eq!(CanonicalOptions::candidates("/putMedia", ""), vec![CanonicalOptions::STANDARD]);
        assert_eq!(CanonicalOptions::candidates("/a%20b", "").len(), 2);
        assert_eq!(CanonicalOptions::candidates("/", "a=b+c").len(), 2);
        assert_eq!(CanonicalOptions::candidates("/%41", "a=+").len(), 4);
    }
}
