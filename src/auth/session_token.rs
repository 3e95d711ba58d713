//! HMAC-sealed, self-contained session tokens for HLS/DASH session URLs.
//!
//! A token is `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`: any node with the
//! same key can open it without a lookup. This module owns the sealing format and the constant-time
//! check; it must not interpret the payload (the playback layer defines and validates the claims,
//! including expiry) and reads no clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Longest token accepted by [`SessionTokenKey::open`], characters.
pub const MAX_TOKEN_LEN: usize = 4096;

/// The key that seals and opens session tokens.
#[derive(Clone)]
pub struct SessionTokenKey {
    key: [u8; 32],
}

impl std::fmt::Debug for SessionTokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionTokenKey(***)")
    }
}

impl SessionTokenKey {
    /// A key derived from a configured secret (any length).
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"openkvs session token v1\0");
        h.update(secret);
        Self { key: h.finalize().into() }
    }

    /// Seals `payload` into a URL-safe token.
    pub fn seal(&self, payload: &[u8]) -> String {
        let mut out = URL_SAFE_NO_PAD.encode(payload);
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(self.mac(payload)));
        out
    }

    /// The payload of a token this key sealed; `None` for anything else (forged, truncated,
    /// re-encoded or oversize tokens).
    pub fn open(&self, token: &str) -> Option<Vec<u8>> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (payload, mac) = token.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.key).ok()?;
        m.update(&payload);
        m.verify_slice(&mac).ok()?;
        Some(payload)
    }

    fn mac(&self, payload: &[u8]) -> [u8; 32] {
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        m.update(payload);
        m.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_forgeries_fail() {
        let k = SessionTokenKey::from_secret(b"s3cret");
        let t = k.seal(br#"{"s":1}"#);
        assert_eq!(k.open(&t).as_deref(), Some(&br#"{"s":1}"#[..]));
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
        let other = SessionTokenKey::from_secret(b"other");
        assert!(other.open(&t).is_none());
        let (p, m) = t.split_once('.').unwrap();
        let forged = format!("{}.{m}", URL_SAFE_NO_PAD.encode(br#"{"s":2}"#));
        assert!(k.open(&forged).is_none());
        assert!(k.open(p).is_none());
        assert!(k.open("forged").is_none());
        assert!(k.open(&format!("{t}x")).is_none());
        assert!(k.open(&"a".repeat(MAX_TOKEN_LEN + 1)).is_none());
    }
}
