//! The cryptographic half of SigV4: the secret access key type, signing-key derivation (the HMAC
//! chain over date, region, service and `aws4_request`), the signature of a string to sign, SHA-256
//! hex digests and the well-known payload-hash constants.
//!
//! Owns every place a secret or a derived key is held. Nothing here may print, log or compare a
//! secret in variable time, and nothing here parses requests.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The only algorithm accepted: `AWS4-HMAC-SHA256`.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The last element of every SigV4 credential scope.
pub const SCOPE_TERMINATOR: &str = "aws4_request";

/// SHA-256 of the empty string: the payload hash of bodiless requests and of PutMedia as the KVS C
/// producer signs it (its streaming body is not hashed).
pub const EMPTY_PAYLOAD_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The payload hash a client uses when it declares, with `x-amz-content-sha256: UNSIGNED-PAYLOAD`,
/// that the body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC-SHA256 accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A secret access key. `Debug` and `Display` print `SecretKey(***)`; equality is constant-time.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a secret access key.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for key derivation only.
    fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether `candidate` is this secret (a password-style check, e.g. the web console's sign-in).
    /// Both sides are hashed first, so the time taken depends on neither content nor length.
    pub fn matches(&self, candidate: &str) -> bool {
        let mine = Sha256::digest(self.expose());
        let theirs = Sha256::digest(candidate.as_bytes());
        mine.as_slice().ct_eq(theirs.as_slice()).into()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl PartialEq for SecretKey {
    /// Constant-time in the content (the length may leak).
    fn eq(&self, other: &Self) -> bool {
        self.expose().ct_eq(other.expose()).into()
    }
}

impl Eq for SecretKey {}

/// A derived SigV4 signing key, valid for one (day, region, service).
///
/// Deriving costs four HMACs; a caller that verifies many requests may cache the key per access key
/// and day. `Debug` prints `SigningKey(***)`.
#[derive(Clone)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Derives the key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`
    /// where `date` is the credential scope day `YYYYMMDD`.
    pub fn derive(secret: &SecretKey, date: &str, region: &str, service: &str) -> Self {
        let mut seed = Vec::with_capacity(4 + secret.expose().len());
        seed.extend_from_slice(b"AWS4");
        seed.extend_from_slice(secret.expose());
        let k_date = hmac_sha256(&seed, date.as_bytes());
        seed.iter_mut().for_each(|b| *b = 0);
        let k_region = hmac_sha256(&k_date, region.as_bytes());
        let k_service = hmac_sha256(&k_region, service.as_bytes());
        Self(hmac_sha256(&k_service, SCOPE_TERMINATOR.as_bytes()))
    }

    /// The raw signature (`HMAC(key, string_to_sign)`) of a string to sign.
    pub fn sign(&self, string_to_sign: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.0, string_to_sign)
    }

    /// The signature as the lower-case hex a client sends.
    pub fn sign_hex(&self, string_to_sign: &[u8]) -> String {
        hex::encode(self.sign(string_to_sign))
    }

    /// Whether `provided` is the signature of `string_to_sign`, compared in constant time.
    pub fn verify(&self, string_to_sign: &[u8], provided: &[u8; 32]) -> bool {
        self.sign(string_to_sign).ct_eq(provided).into()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn empty_hash_constant_is_right() {
        assert_eq!(sha256_hex(b""), EMPTY_PAYLOAD_SHA256);
    }

    #[test]
    fn secrets_never_print() {
        let s = SecretKey::new(SECRET);
        assert_eq!(format!("{s:?}"), "SecretKey(***)");
        assert_eq!(format!("{s}"), "SecretKey(***)");
        assert_eq!(format!("{s:#?}"), "SecretKey(***)");
        assert!(!format!("{:?}", Some(s.clone())).contains("EXAMPLE"));
        let k = SigningKey::derive(&s, "20150830", "us-east-1", "iam");
        assert_eq!(format!("{k:?}"), "SigningKey(***)");
        assert_eq!(s, SecretKey::new(SECRET));
        assert_ne!(s, SecretKey::new("other"));
    }

    #[test]
    fn signing_key_matches_the_published_example() {
        // AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
        let k = SigningKey::derive(&SecretKey::new(SECRET), "20150830", "us-east-1", "iam");
        assert_eq!(hex::encode(k.0), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    }
}
