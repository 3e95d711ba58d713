//! AWS Signature Version 4 verification (server side), for the header form and the presigned-query
//! form, as the KVS clients sign: boto3/botocore, aws-sdk-rust, the KVS C/C++ producers (PutMedia
//! included) and the WebRTC SDKs' presigned WebSocket URLs.
//!
//! Pure code: no I/O, no HTTP library types, no clock reads. The API layer builds a
//! [`RequestParts`] from the request exactly as received, picks the [`PayloadHash`]
//! ([`payload_hash_for`]), passes the current time and a [`CredentialLookup`], and maps a
//! [`SigV4Error`] to its AWS error response with [`SigV4Error::aws_code`],
//! [`SigV4Error::http_status`] and [`SigV4Error::message`]. It must not log secrets; nothing here
//! can print one ([`SecretKey`] and [`SigningKey`] redact themselves).
//!
//! # Layout
//!
//! - `request`: [`RequestParts`], [`PayloadHash`], [`payload_hash_for`].
//! - `parse`: the `Authorization` header ([`parse_authorization_header`]) and presigned query
//!   ([`parse_presigned_query`]) syntax.
//! - `amz_date`: `X-Amz-Date` / `Date` timestamps ([`AmzDate`]).
//! - `canonical`: canonical URI, query, headers, request and string to sign.
//! - `signing`: [`SecretKey`], [`SigningKey`] (the HMAC chain), [`sha256_hex`] and payload constants.
//! - `verifier`: [`Verifier`], [`VerifierMode`], [`CredentialLookup`], [`VerifiedIdentity`].
//! - `error`: [`SigV4Error`] and its single code/status table.
//!
//! # Canonicalisation choices
//!
//! - **Canonical URI**: the raw path (as sent, percent-encoded) is normalised (`.`/`..` and empty
//!   segments removed, trailing slash kept, `""` → `/`) and then every byte except the unreserved
//!   characters and `/` is percent-encoded, including the `%` of existing escapes: the *double*
//!   encoding of all non-S3 services, which botocore (`quote(remove_dot_segments(path), '/~')`) and
//!   aws-sdk-rust (`PercentEncodingMode::Double`) apply and AWS's `double-encode-path` vector shows.
//!   When the raw path contains `%` the verifier also tries the *single* (S3) encoding, decoding each
//!   segment before encoding it once, and accepts either. KVS paths (`/putMedia`, `/`, `/hls/v1/...`)
//!   never contain `%`, so both give the same text.
//! - **Canonical query**: each pair is percent-decoded and re-encoded (RFC 3986, upper-case hex),
//!   sorted by key then value, `k=` for empty values; only `X-Amz-Signature` is left out, so
//!   `X-Amz-Security-Token` stays in (the WebRTC JS SDK notes that KVS requires it). A raw `+` is read
//!   as a literal plus (`%2B`); when the query contains `+` the verifier also tries the form reading
//!   (`+` = space, `%20`, as aws-sigv4 parses queries) and accepts either.
//! - **Canonical headers**: exactly the `SignedHeaders` list, in the client's order; each value
//!   trimmed of spaces/tabs with inner runs of spaces collapsed, repeated headers joined by `,`. `Host`
//!   is used exactly as received (the C producer sends `Host: 127.0.0.1` without the port and signs
//!   it). `host` must be signed; a signed header the request lacks is an error.
//! - **Timestamp**: `x-amz-date` (`YYYYMMDD'T'HHMMSS'Z'`), else an RFC 1123 `Date` header; the credential
//!   scope date must equal its day. Header form: within ±`max_skew` (default 15 min) of `now`.
//!   Presigned: `X-Amz-Expires` in 1..=604800, not more than `max_skew` in the future, and
//!   `now <= X-Amz-Date + X-Amz-Expires`.
//!
//! # Error codes
//!
//! Chosen from what AWS JSON services are seen to send (public SDK issue threads quoting KVS and other
//! JSON services' responses); KVS itself answers signature problems with 403 and a JSON `message`:
//!
//! | kind | code | status |
//! | --- | --- | --- |
//! | no signature | `MissingAuthenticationTokenException` ("Missing Authentication Token") | 403 |
//! | malformed header or query, unsupported algorithm, both forms, bad/missing date, bad `X-Amz-Expires`, `host` unsigned, signed header absent | `IncompleteSignatureException` | 400 |
//! | unknown access key | `UnrecognizedClientException` ("The security token included in the request is invalid.", as KVS sends it) | 403 |
//! | signature mismatch | `InvalidSignatureException` ("The request signature we calculated does not match ...", as KVS sends it) | 403 |
//! | skew exceeded, either way | `InvalidSignatureException` ("Signature expired: ... is now earlier than ... (... - 15 min.)" / "Signature not yet current: ...") | 403 |
//! | presigned URL expired | `InvalidSignatureException` ("Signature expired: ..."), the JSON-service form; S3's `AccessDenied` "Request has expired" is S3-only | 403 |
//! | wrong service, bad terminator, bad region, scope date ≠ request day | `InvalidSignatureException` ("Credential should be scoped to correct service: 'kinesisvideo'.", ...) | 403 |
//!
//! Note: real KVS reports a 5-minute skew window in its "Signature expired" messages; the default
//! here is AWS's general 15 minutes and is configurable.

mod amz_date;
mod canonical;
mod error;
mod parse;
mod request;
mod signing;
mod verifier;

#[cfg(test)]
mod tests;

pub use amz_date::AmzDate;
pub use canonical::{
    CanonicalOptions, CanonicalRequest, PathEncoding, PlusInQuery, canonical_header_value, canonical_headers,
    canonical_query, canonical_request, canonical_uri, normalize_path, string_to_sign,
};
pub use error::SigV4Error;
pub use parse::{
    AuthorizationHeader, Credential, MAX_EXPIRES_SECS, PARAM_ALGORITHM, PARAM_CREDENTIAL, PARAM_DATE,
    PARAM_EXPIRES, PARAM_SECURITY_TOKEN, PARAM_SIGNATURE, PARAM_SIGNED_HEADERS, PresignedParams, Signature,
    SignedHeaders, claimed_access_key_id, has_presigned_params, parse_authorization_header,
    parse_presigned_query,
};
pub use request::{PayloadHash, RequestParts, payload_hash_for};
pub use signing::{
    ALGORITHM, EMPTY_PAYLOAD_SHA256, SCOPE_TERMINATOR, SecretKey, SigningKey, UNSIGNED_PAYLOAD, sha256_hex,
};
pub use verifier::{CredentialLookup, VerifiedIdentity, Verifier, VerifierMode};
