//! The verifier's view of an HTTP request ([`RequestParts`]) and of its payload hash
//! ([`PayloadHash`], [`payload_hash_for`]).
//!
//! Owns only borrowed views: no HTTP library types, no normalisation, no body reading. The caller
//! fills `RequestParts` with the request exactly as received; for HTTP/2 (no `Host` header) it adds a
//! `host` entry carrying the `:authority`.

use super::signing::UNSIGNED_PAYLOAD;

/// A request as received, before any normalisation.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method, as sent (`POST`, `GET`).
    pub method: &'a str,
    /// The raw path as on the request line, percent-encoded as sent, without the query
    /// (`/describeStream`, `/`, `/hls/v1/getHLSMasterPlaylist.m3u8`).
    pub path: &'a str,
    /// The raw query string without the `?`; `""` when there is none.
    pub query: &'a str,
    /// Every header in arrival order: names in any case, values as raw bytes; duplicates allowed.
    pub headers: &'a [(&'a str, &'a [u8])],
}

impl<'a> RequestParts<'a> {
    /// Values of every header called `name` (ASCII case-insensitive), in arrival order.
    pub fn header_values<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        let headers: &'a [(&'a str, &'a [u8])] = self.headers;
        headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    /// The value of header `name` when it occurs at most once; `Err(())` when it is repeated.
    pub(super) fn single_header(&self, name: &str) -> Result<Option<&'a [u8]>, ()> {
        let mut values = self.header_values(name);
        let first = values.next();
        if values.next().is_some() { Err(()) } else { Ok(first) }
    }
}

/// The payload hash that goes into the canonical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadHash<'a> {
    /// Lower-case hex SHA-256 the caller computed from the body (or [`EMPTY_PAYLOAD_SHA256`] for a
    /// bodiless or streaming request).
    ///
    /// [`EMPTY_PAYLOAD_SHA256`]: super::EMPTY_PAYLOAD_SHA256
    Sha256Hex(&'a str),
    /// The literal `UNSIGNED-PAYLOAD`.
    Unsigned,
}

impl<'a> PayloadHash<'a> {
    /// The text of the last canonical-request line.
    pub fn as_str(&self) -> &'a str {
        match self {
            PayloadHash::Sha256Hex(hex) => hex,
            PayloadHash::Unsigned => UNSIGNED_PAYLOAD,
        }
    }
}

/// The payload hash to verify a request with.
///
/// Rule: when the request carries `x-amz-content-sha256: UNSIGNED-PAYLOAD` the payload is unsigned;
/// otherwise the hash is `body_sha256_hex`, which the caller computes from the body it received, or
/// passes as [`EMPTY_PAYLOAD_SHA256`] for a streaming PutMedia body (the KVS C producer signs PutMedia
/// with the hash of the empty string and sends no `x-amz-content-sha256`). No KVS client sends
/// `x-amz-content-sha256` with a real hash; when one does, its value is not trusted: the body hash is.
///
/// [`EMPTY_PAYLOAD_SHA256`]: super::EMPTY_PAYLOAD_SHA256
pub fn payload_hash_for<'a>(headers: &[(&str, &[u8])], body_sha256_hex: &'a str) -> PayloadHash<'a> {
    let unsigned = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("x-amz-content-sha256") && value.trim_ascii() == UNSIGNED_PAYLOAD.as_bytes()
    });
    if unsigned { PayloadHash::Unsigned } else { PayloadHash::Sha256Hex(body_sha256_hex) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sigv4::EMPTY_PAYLOAD_SHA256;

    #[test]
    fn unsigned_payload_only_with_the_header() {
        let h: [(&str, &[u8]); 1] = [("X-Amz-Content-Sha256", b"UNSIGNED-PAYLOAD")];
        assert_eq!(payload_hash_for(&h, EMPTY_PAYLOAD_SHA256), PayloadHash::Unsigned);
        assert_eq!(PayloadHash::Unsigned.as_str(), "UNSIGNED-PAYLOAD");
        let h: [(&str, &[u8]); 1] = [("content-type", b"UNSIGNED-PAYLOAD")];
        assert_eq!(payload_hash_for(&h, "ab"), PayloadHash::Sha256Hex("ab"));
    }

    #[test]
    fn header_lookup_is_case_insensitive_and_sees_duplicates() {
        let h: [(&str, &[u8]); 3] = [("Host", b"a"), ("X-A", b"1"), ("x-a", b"2")];
        let p = RequestParts { method: "GET", path: "/", query: "", headers: &h };
        assert_eq!(p.header_values("x-a").collect::<Vec<_>>(), vec![b"1".as_slice(), b"2".as_slice()]);
        assert_eq!(p.single_header("HOST"), Ok(Some(b"a".as_slice())));
        assert_eq!(p.single_header("x-a"), Err(()));
        assert_eq!(p.single_header("nope"), Ok(None));
    }
}
