//! The SigV4 verifier: decides whether one request is authentically signed, and by whom.
//!
//! Owns the order of checks and the policy knobs (service name, allowed clock skew, enforce/open
//! mode). It does no I/O and never reads the clock: the caller passes `now`. Secrets come only from
//! the [`CredentialLookup`] the caller passes, and only in [`VerifierMode::Enforce`].

use std::time::Duration;

use super::amz_date::AmzDate;
use super::canonical::{CanonicalOptions, canonical_request, string_to_sign};
use super::error::SigV4Error;
use super::parse::{
    Credential, Signature, SignedHeaders, has_presigned_params, parse_authorization_header,
    parse_presigned_query,
};
use super::request::{PayloadHash, RequestParts};
use super::signing::{SCOPE_TERMINATOR, SecretKey, SigningKey};

/// Where the server finds the secret of an access key id. One method, no I/O expected.
pub trait CredentialLookup {
    /// The secret access key of `access_key_id`, or `None` if the key is unknown.
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey>;
}

/// Whether signatures are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifierMode {
    /// Every check, including key lookup, clock skew and the signature itself.
    #[default]
    Enforce,
    /// Local-testing mode: the request must still carry a well-formed SigV4 signature scoped to the
    /// right service (syntax, algorithm, scope terminator, region syntax, scope date = request day,
    /// `host` signed, every signed header present, `X-Amz-Expires` in range), but no key is looked up,
    /// no signature compared and no clock skew or expiry checked.
    Open,
}

/// Who signed a request that passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The access key id from the credential scope (unverified in [`VerifierMode::Open`]).
    pub access_key_id: String,
    /// The region of the credential scope (`[a-z0-9-]+`); streams live per region.
    pub region: String,
    /// The request timestamp (`X-Amz-Date`, or the `Date` header), Unix seconds.
    pub signed_at_unix: i64,
    /// `X-Amz-Security-Token` from the header or presigned query, if any (not validated).
    pub security_token: Option<String>,
    /// For a presigned request, the end of its validity (`X-Amz-Date + X-Amz-Expires`), Unix seconds.
    pub expires_at_unix: Option<i64>,
}

/// The SigV4 verifier. Cheap to clone; holds no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    /// The service the credential scope must name (`kinesisvideo` for every KVS API).
    pub service: String,
    /// Allowed difference between the request timestamp and `now`, both directions.
    pub max_skew: Duration,
    /// Enforce or open.
    pub mode: VerifierMode,
}

impl Default for Verifier {
    /// Enforcing, `kinesisvideo`, 15 minutes.
    fn default() -> Self {
        Self {
            service: Self::DEFAULT_SERVICE.to_owned(),
            max_skew: Self::DEFAULT_MAX_SKEW,
            mode: VerifierMode::Enforce,
        }
    }
}

/// What both signature forms yield once parsed.
struct Claim {
    credential: Credential,
    signed_headers: SignedHeaders,
    signature: Signature,
    date: AmzDate,
    security_token: Option<String>,
    expires_secs: Option<u32>,
}

impl Verifier {
    /// The signing service of every KVS API.
    pub const DEFAULT_SERVICE: &'static str = "kinesisvideo";
    /// AWS's usual allowance: 15 minutes.
    pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(15 * 60);

    /// A verifier for service `kinesisvideo` allowing `max_skew_secs` of clock skew (the
    /// `auth.max_skew_secs` setting; AWS uses 900). A negative value is treated as 0.
    pub fn new(mode: VerifierMode, max_skew_secs: i64) -> Self {
        let max_skew = Duration::from_secs(u64::try_from(max_skew_secs).unwrap_or(0));
        Self { service: Self::DEFAULT_SERVICE.to_owned(), max_skew, mode }
    }

    /// Verifies one request.
    ///
    /// `payload_hash` is what the signer must have put in the canonical request (see
    /// [`payload_hash_for`](super::payload_hash_for)); `now_unix_secs` is the server's current time.
    ///
    /// Order of checks: which form (header, presigned, neither, both); syntax of the chosen form
    /// and of the timestamp; scope service, terminator, region and date; `host` signed and every
    /// signed header present; then in [`VerifierMode::Enforce`] the clock (skew, presigned expiry), the
    /// key lookup and the signature. The first failure is returned.
    pub fn verify<L: CredentialLookup + ?Sized>(
        &self,
        parts: &RequestParts<'_>,
        payload_hash: PayloadHash<'_>,
        now_unix_secs: i64,
        lookup: &L,
    ) -> Result<VerifiedIdentity, SigV4Error> {
        let claim = self.claim(parts)?;
        self.check_scope(&claim)?;
        if !claim.signed_headers.contains("host") {
            return Err(SigV4Error::HostNotSigned);
        }
        if let Some(name) =
            claim.signed_headers.names().iter().find(|name| parts.header_values(name).next().is_none())
        {
            return Err(SigV4Error::SignedHeaderAbsent { name: name.clone() });
        }
        let signed_at = claim.date.unix_secs();
        let identity = VerifiedIdentity {
            access_key_id: claim.credential.access_key_id.clone(),
            region: claim.credential.region.clone(),
            signed_at_unix: signed_at,
            security_token: claim.security_token.clone(),
            expires_at_unix: claim.expires_secs.map(|e| signed_at + i64::from(e)),
        };
        if self.mode == VerifierMode::Open {
            return Ok(identity);
        }
        self.check_clock(&claim, now_unix_secs)?;
        let secret = lookup.secret_for(&claim.credential.access_key_id).ok_or_else(|| {
            SigV4Error::UnknownAccessKey { access_key_id: claim.credential.access_key_id.clone() }
        })?;
        let cred = &claim.credential;
        let key = SigningKey::derive(&secret, &cred.date, &cred.region, &cred.service);
        let scope = cred.scope();
        let mut first_hash = None;
        for options in CanonicalOptions::candidates(parts.path, parts.query) {
            let canonical = canonical_request(parts, &claim.signed_headers, payload_hash, options)?;
            let to_sign = string_to_sign(claim.date.as_str(), &scope, &canonical);
            if key.verify(to_sign.as_bytes(), claim.signature.as_bytes()) {
                return Ok(identity);
            }
            first_hash.get_or_insert_with(|| canonical.sha256_hex());
        }
        Err(SigV4Error::SignatureMismatch { canonical_request_sha256: first_hash.unwrap_or_default() })
    }

    /// Finds and parses the one signature the request carries.
    fn claim(&self, parts: &RequestParts<'_>) -> Result<Claim, SigV4Error> {
        let mut authorization = parts.header_values("authorization");
        let header = authorization.next();
        let presigned = has_presigned_params(parts.query);
        match (header, presigned) {
            (None, false) => Err(SigV4Error::MissingAuthentication),
            (Some(_), true) => Err(SigV4Error::ConflictingAuthentication),
            (Some(value), false) => {
                if authorization.next().is_some() {
                    return Err(SigV4Error::MalformedAuthorization(
                        "Only one Authorization header is allowed.",
                    ));
                }
                Self::header_claim(parts, value)
            }
            (None, true) => {
                let Some(p) = parse_presigned_query(parts.query)? else {
                    return Err(SigV4Error::MissingAuthentication);
                };
                Ok(Claim {
                    credential: p.credential,
                    signed_headers: p.signed_headers,
                    signature: p.signature,
                    date: p.date,
                    security_token: p.security_token,
                    expires_secs: Some(p.expires_secs),
                })
            }
        }
    }

    fn header_claim(parts: &RequestParts<'_>, value: &[u8]) -> Result<Claim, SigV4Error> {
        let value = std::str::from_utf8(value).map_err(|_| {
            SigV4Error::MalformedAuthorization("The Authorization header is not valid UTF-8.")
        })?;
        let auth = parse_authorization_header(value)?;
        let date = match parts.single_header("x-amz-date").map_err(|()| SigV4Error::MalformedDate)? {
            Some(v) => std::str::from_utf8(v.trim_ascii())
                .ok()
                .and_then(AmzDate::parse_iso8601_basic)
                .ok_or(SigV4Error::MalformedDate)?,
            None => match parts.single_header("date").map_err(|()| SigV4Error::MalformedDate)? {
                Some(v) => std::str::from_utf8(v.trim_ascii())
                    .ok()
                    .and_then(AmzDate::parse_rfc1123)
                    .ok_or(SigV4Error::MalformedDate)?,
                None => return Err(SigV4Error::MissingDate),
            },
        };
        let security_token = match parts.single_header("x-amz-security-token") {
            Ok(None) => None,
            Ok(Some(v)) => Some(
                std::str::from_utf8(v.trim_ascii())
                    .map_err(|_| {
                        SigV4Error::MalformedAuthorization(
                            "The X-Amz-Security-Token header is not valid UTF-8.",
                        )
                    })?
                    .to_owned(),
            ),
            Err(()) => {
                return Err(SigV4Error::MalformedAuthorization(
                    "Only one X-Amz-Security-Token header is allowed.",
                ));
            }
        };
        Ok(Claim {
            credential: auth.credential,
            signed_headers: auth.signed_headers,
            signature: auth.signature,
            date,
            security_token,
            expires_secs: None,
        })
    }

    /// Service, terminator, region syntax and scope date.
    fn check_scope(&self, claim: &Claim) -> Result<(), SigV4Error> {
        let cred = &claim.credential;
        if cred.service != self.service {
            return Err(SigV4Error::WrongService { expected: self.service.clone() });
        }
        if cred.terminator != SCOPE_TERMINATOR {
            return Err(SigV4Error::InvalidTerminator);
        }
        if !cred.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(SigV4Error::InvalidRegion);
        }
        if cred.date != claim.date.day() {
            return Err(SigV4Error::ScopeDateMismatch {
                scope_date: cred.date.clone(),
                request_date: claim.date.as_str().to_owned(),
            });
        }
        Ok(())
    }

    /// Header form: `|now - date| <= max_skew`. Presigned: `date - now <= max_skew` and
    /// `now <= date + expires` (a presigned URL may be used for its whole validity, whatever its age).
    fn check_clock(&self, claim: &Claim, now: i64) -> Result<(), SigV4Error> {
        let skew = i64::try_from(self.max_skew.as_secs()).unwrap_or(i64::MAX);
        let signed_at = claim.date.unix_secs();
        if signed_at > now.saturating_add(skew) {
            return Err(SigV4Error::SignatureNotYetCurrent { signed_at, now, max_skew_secs: skew });
        }
        match claim.expires_secs {
            None if signed_at < now.saturating_sub(skew) => {
                Err(SigV4Error::SignatureExpired { signed_at, now, max_skew_secs: skew })
            }
            Some(expires_secs) if now > signed_at + i64::from(expires_secs) => {
                Err(SigV4Error::PresignedExpired { signed_at, expires_secs, now })
            }
            _ => Ok(()),
        }
    }
}
