//! Why a request failed SigV4 authentication, and how that failure looks on the wire.
//!
//! Owns [`SigV4Error`] and its one table of AWS error code and HTTP status per kind. It never builds
//! HTTP responses: the API layer turns `aws_code()`, `http_status()` and `message()` into its own AWS
//! error response. `message()` is the text a client may see; it never contains a secret, a signing
//! key, the signature the server expected or a security token. `Display` adds internal detail for
//! logs (the access key id, the hash of the canonical request), still without secrets.

use std::fmt;

/// `IncompleteSignatureException`: the request does not carry a well-formed signature.
const INCOMPLETE_SIGNATURE: (&str, u16) = ("IncompleteSignatureException", 400);
/// `InvalidSignatureException`: a well-formed signature that is wrong, stale or badly scoped.
const INVALID_SIGNATURE: (&str, u16) = ("InvalidSignatureException", 403);
/// `MissingAuthenticationTokenException`: no signature at all.
const MISSING_AUTHENTICATION_TOKEN: (&str, u16) = ("MissingAuthenticationTokenException", 403);
/// `UnrecognizedClientException`: the access key id is unknown.
const UNRECOGNIZED_CLIENT: (&str, u16) = ("UnrecognizedClientException", 403);

/// A SigV4 authentication failure.
///
/// Every variant maps to one AWS error code and HTTP status ([`aws_code`](Self::aws_code),
/// [`http_status`](Self::http_status)); see the module documentation for the reasoning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor presigned `X-Amz-*` query parameters.
    MissingAuthentication,
    /// Both an `Authorization` header and presigned query parameters.
    ConflictingAuthentication,
    /// The algorithm is not `AWS4-HMAC-SHA256` (e.g. SigV4a or SigV2).
    UnsupportedAlgorithm,
    /// The `Authorization` header is not of the SigV4 form; the reason is fixed text.
    MalformedAuthorization(&'static str),
    /// The presigned query parameters are incomplete or malformed; the reason is fixed text.
    MalformedQuery(&'static str),
    /// Header form without an `X-Amz-Date` or `Date` header.
    MissingDate,
    /// The request timestamp is not `YYYYMMDD'T'HHMMSS'Z'` (or, for `Date`, RFC 1123), or repeated.
    MalformedDate,
    /// `X-Amz-Expires` is not an integer in 1..=604800 (seven days).
    InvalidExpires,
    /// `host` is not among the signed headers.
    HostNotSigned,
    /// A header named in `SignedHeaders` is absent from the request.
    SignedHeaderAbsent {
        /// The (lower-case) header name.
        name: String,
    },
    /// The credential scope names another service.
    WrongService {
        /// The service this server signs for (`kinesisvideo`).
        expected: String,
    },
    /// The credential scope region is not a non-empty `[a-z0-9-]+`.
    InvalidRegion,
    /// The credential scope does not end in `aws4_request`.
    InvalidTerminator,
    /// The credential scope date is not the day of the request timestamp.
    ScopeDateMismatch {
        /// `YYYYMMDD` from the credential scope.
        scope_date: String,
        /// The request timestamp, `YYYYMMDD'T'HHMMSS'Z'`.
        request_date: String,
    },
    /// The request timestamp is older than the allowed clock skew.
    SignatureExpired {
        /// The request timestamp (Unix seconds).
        signed_at: i64,
        /// The server time the check used (Unix seconds).
        now: i64,
        /// The allowed skew in seconds.
        max_skew_secs: i64,
    },
    /// The request timestamp is further in the future than the allowed clock skew.
    SignatureNotYetCurrent {
        /// The request timestamp (Unix seconds).
        signed_at: i64,
        /// The server time the check used (Unix seconds).
        now: i64,
        /// The allowed skew in seconds.
        max_skew_secs: i64,
    },
    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires`.
    PresignedExpired {
        /// `X-Amz-Date` (Unix seconds).
        signed_at: i64,
        /// `X-Amz-Expires` in seconds.
        expires_secs: u32,
        /// The server time the check used (Unix seconds).
        now: i64,
    },
    /// The access key id is not known to the credential lookup.
    UnknownAccessKey {
        /// The access key id from the credential scope (not a secret; for logs).
        access_key_id: String,
    },
    /// The signature does not match the one computed with the stored secret.
    SignatureMismatch {
        /// SHA-256 (hex) of the canonical request the server built; lets an operator compare with
        /// the client's own log without exposing anything secret.
        canonical_request_sha256: String,
    },
}

impl SigV4Error {
    /// The single table of (AWS error code, HTTP status) per kind.
    fn code_and_status(&self) -> (&'static str, u16) {
        match self {
            SigV4Error::MissingAuthentication => MISSING_AUTHENTICATION_TOKEN,
            SigV4Error::ConflictingAuthentication
            | SigV4Error::UnsupportedAlgorithm
            | SigV4Error::MalformedAuthorization(_)
            | SigV4Error::MalformedQuery(_)
            | SigV4Error::MissingDate
            | SigV4Error::MalformedDate
            | SigV4Error::InvalidExpires
            | SigV4Error::HostNotSigned
            | SigV4Error::SignedHeaderAbsent { .. } => INCOMPLETE_SIGNATURE,
            SigV4Error::WrongService { .. }
            | SigV4Error::InvalidRegion
            | SigV4Error::InvalidTerminator
            | SigV4Error::ScopeDateMismatch { .. }
            | SigV4Error::SignatureExpired { .. }
            | SigV4Error::SignatureNotYetCurrent { .. }
            | SigV4Error::PresignedExpired { .. }
            | SigV4Error::SignatureMismatch { .. } => INVALID_SIGNATURE,
            SigV4Error::UnknownAccessKey { .. } => UNRECOGNIZED_CLIENT,
        }
    }

    /// The error code AWS JSON services send for this failure (`x-amzn-ErrorType` / `__type`).
    pub fn aws_code(&self) -> &'static str {
        self.code_and_status().0
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        self.code_and_status().1
    }

    /// Text safe to send to the client: no secret, no expected signature, no security token.
    pub fn message(&self) -> String {
        match self {
            SigV4Error::MissingAuthentication => "Missing Authentication Token".to_owned(),
            SigV4Error::ConflictingAuthentication => "Only one authentication mechanism is allowed: \
                 either the Authorization header or the X-Amz-Algorithm query parameters."
                .to_owned(),
            SigV4Error::UnsupportedAlgorithm => {
                "Unsupported AWS 'algorithm': only 'AWS4-HMAC-SHA256' is accepted.".to_owned()
            }
            SigV4Error::MalformedAuthorization(reason) | SigV4Error::MalformedQuery(reason) => {
                (*reason).to_owned()
            }
            SigV4Error::MissingDate => "Authorization header requires existence of either a \
                 'X-Amz-Date' or a 'Date' header."
                .to_owned(),
            SigV4Error::MalformedDate => {
                "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".".to_owned()
            }
            SigV4Error::InvalidExpires => "X-Amz-Expires must be an integer number of seconds \
                 between 1 and 604800 (seven days)."
                .to_owned(),
            SigV4Error::HostNotSigned => {
                "'Host' must be a 'SignedHeader' in the AWS Authorization.".to_owned()
            }
            SigV4Error::SignedHeaderAbsent { name } => {
                format!("Header '{name}' is listed in SignedHeaders but is not present in the request.")
            }
            SigV4Error::WrongService { expected } => {
                format!("Credential should be scoped to correct service: '{expected}'.")
            }
            SigV4Error::InvalidRegion => "Credential should be scoped to a valid region.".to_owned(),
            SigV4Error::InvalidTerminator => {
                "Credential should be scoped with a valid terminator: 'aws4_request'.".to_owned()
            }
            SigV4Error::ScopeDateMismatch { scope_date, request_date } => {
                let day = request_date.get(..8).unwrap_or(request_date);
                format!(
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                     from HTTP: '{scope_date}' != '{day}', from '{request_date}'."
                )
            }
            SigV4Error::SignatureExpired { signed_at, now, max_skew_secs } => format!(
                "Signature expired: {} is now earlier than {} ({} - {}.)",
                iso(*signed_at),
                iso(now.saturating_sub(*max_skew_secs)),
                iso(*now),
                skew_text(*max_skew_secs)
            ),
            SigV4Error::SignatureNotYetCurrent { signed_at, now, max_skew_secs } => format!(
                "Signature not yet current: {} is still later than {} ({} + {}.)",
                iso(*signed_at),
                iso(now.saturating_add(*max_skew_secs)),
                iso(*now),
                skew_text(*max_skew_secs)
            ),
            SigV4Error::PresignedExpired { signed_at, expires_secs, now } => format!(
                "Signature expired: {} is now earlier than {} ({} - {} sec.)",
                iso(*signed_at),
                iso(now.saturating_sub(i64::from(*expires_secs))),
                iso(*now),
                expires_secs
            ),
            SigV4Error::UnknownAccessKey { .. } => {
                "The security token included in the request is invalid.".to_owned()
            }
            SigV4Error::SignatureMismatch { .. } => "The request signature we calculated does not match \
                 the signature you provided. Check your AWS Secret Access Key and signing method. \
                 Consult the service documentation for details."
                .to_owned(),
        }
    }
}

/// `20150830T123600Z` for a Unix time (for messages).
fn iso(unix: i64) -> String {
    super::amz_date::AmzDate::from_unix(unix).as_str().to_owned()
}

/// `15 min` when the skew is whole minutes (as AWS prints it), else `N sec`.
fn skew_text(secs: i64) -> String {
    if secs % 60 == 0 { format!("{} min", secs / 60) } else { format!("{secs} sec") }
}

impl fmt::Display for SigV4Error {
    /// The client-safe message plus internal detail for logs (never a secret).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.aws_code(), self.message())?;
        match self {
            SigV4Error::UnknownAccessKey { access_key_id } => {
                write!(f, " (access key id {access_key_id:?})")
            }
            SigV4Error::SignatureMismatch { canonical_request_sha256 } => {
                write!(f, " (server canonical request sha256 {canonical_request_sha256})")
            }
            _ => Ok(()),
        }
    }
}

impl std::error::Error for SigV4Error {}
