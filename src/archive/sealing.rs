//! The AES-256-GCM formats of encryption at rest (design/0018-encryption-at-rest.md), on `ring`:
//! a fragment sealed under its stream's [`DataKey`], and a data key wrapped under a
//! [`MasterKey`] of the keyring.
//!
//! Both formats are `nonce (12) || ciphertext || tag (16)`. Every nonce is 96 bits from the
//! operating system's random source, drawn afresh for each seal and each wrap; a data key seals
//! one stream's fragments only, so the number of nonces drawn under one key stays far below the
//! 2^32 random-nonce limit of NIST SP 800-38D (see the design record for the arithmetic). The
//! additional authenticated data binds each ciphertext to where it belongs (the stream, the
//! fragment number, the key version; for a wrapped key the stream's ARN and the master key id), so
//! bytes moved to another fragment, stream or key version fail to open instead of decrypting.
//!
//! Pure computation: no I/O except the random source, no logging, no key bytes in `Debug`.

use bytes::{Bytes, BytesMut};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Length of every key (AES-256).
pub const KEY_LEN: usize = 32;
/// Length of the nonce that starts every sealed value.
pub const NONCE_LEN: usize = 12;
/// Length of the authentication tag that ends every sealed value.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed value has beyond its plaintext.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Sealed bytes did not open: the key is not the one that sealed them, or the bytes (or the
/// context they were bound to) changed. Never a partial result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sealed bytes do not open with this key in this context (wrong key or altered bytes)")]
pub struct Unauthentic;

/// Key material that is not 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a key must be {KEY_LEN} bytes, got {0}")]
pub struct BadKeyLength(pub usize);

fn aes_key(bytes: &[u8]) -> Result<LessSafeKey, BadKeyLength> {
    if bytes.len() != KEY_LEN {
        return Err(BadKeyLength(bytes.len()));
    }
    let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| BadKeyLength(bytes.len()))?;
    Ok(LessSafeKey::new(unbound))
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The OS random source failing is not recoverable (ring documents it as a fatal condition).
    SystemRandom::new().fill(&mut out).expect("the operating system's random source failed");
    out
}

/// Seals `plaintext` (given as parts to concatenate) into `nonce || ciphertext || tag`.
fn seal(key: &LessSafeKey, aad: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let nonce = random::<NONCE_LEN>();
    let mut out = Vec::with_capacity(len + SEAL_OVERHEAD);
    out.extend_from_slice(&nonce);
    for p in parts {
        out.extend_from_slice(p);
    }
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[NONCE_LEN..],
        )
        .expect("AES-GCM seals any input under 64 GiB");
    out.extend_from_slice(tag.as_ref());
    out
}

/// Opens `nonce || ciphertext || tag` in place; returns the plaintext's length (it starts at
/// `NONCE_LEN`).
fn open_in_place(key: &LessSafeKey, aad: &[u8], sealed: &mut [u8]) -> Result<usize, Unauthentic> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(Unauthentic);
    }
    let nonce: [u8; NONCE_LEN] = sealed[..NONCE_LEN].try_into().expect("NONCE_LEN bytes");
    let plain = key
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut sealed[NONCE_LEN..])
        .map_err(|_| Unauthentic)?;
    Ok(plain.len())
}

/// What a wrapped data key is bound to.
#[derive(Debug, Clone, Copy)]
pub struct WrapContext<'a> {
    /// The stream's ARN (immutable for the stream's life, unique across deletions).
    pub stream_arn: &'a str,
    /// The data key's version.
    pub version: u32,
    /// The keyring id of the wrapping master key.
    pub master_key_id: &'a str,
}

impl WrapContext<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = b"openkvs/data-key/v1\0".to_vec();
        aad.extend_from_slice(&self.version.to_be_bytes());
        aad.extend_from_slice(&(self.master_key_id.len() as u32).to_be_bytes());
        aad.extend_from_slice(self.master_key_id.as_bytes());
        aad.extend_from_slice(self.stream_arn.as_bytes());
        aad
    }
}

/// What a sealed fragment is bound to.
#[derive(Debug, Clone, Copy)]
pub struct FragmentContext<'a> {
    /// The stream's index id.
    pub stream_id: i64,
    /// The fragment number (its decimal text).
    pub fragment_number: &'a str,
}

/// A master key of the keyring: it wraps and unwraps data keys, nothing else.
pub struct MasterKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A master key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BadKeyLength> {
        Ok(Self { key: aes_key(bytes)? })
    }

    /// 32 fresh random bytes for a new master key.
    pub fn generate_bytes() -> [u8; KEY_LEN] {
        random()
    }

    /// Generates a data key and returns it with its wrapped form (what the index stores).
    pub fn new_data_key(&self, context: WrapContext<'_>) -> (DataKey, Vec<u8>) {
        let mut material = random::<KEY_LEN>();
        let wrapped = seal(&self.key, &context.aad(), &[&material]);
        let key = DataKey { version: context.version, key: aes_key(&material).expect("KEY_LEN bytes") };
        material.fill(0);
        (key, wrapped)
    }

    /// Unwraps a data key stored by [`MasterKey::new_data_key`] under the same context.
    pub fn open_data_key(&self, wrapped: &[u8], context: WrapContext<'_>) -> Result<DataKey, Unauthentic> {
        let mut buf = wrapped.to_vec();
        let len = open_in_place(&self.key, &context.aad(), &mut buf)?;
        let material = &mut buf[NONCE_LEN..NONCE_LEN + len];
        let key = aes_key(material).map_err(|_| Unauthentic);
        material.fill(0);
        Ok(DataKey { version: context.version, key: key? })
    }
}

/// A stream's data key, unwrapped: it seals and opens that stream's fragments.
pub struct DataKey {
    version: u32,
    key: LessSafeKey,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey(version {}, <redacted>)", self.version)
    }
}

impl DataKey {
    /// Its version (what fragment rows record as `key_version`).
    pub fn version(&self) -> u32 {
        self.version
    }

    fn aad(&self, context: FragmentContext<'_>) -> Vec<u8> {
        let mut aad = b"openkvs/fragment/v1\0".to_vec();
        aad.extend_from_slice(&context.stream_id.to_be_bytes());
        aad.extend_from_slice(&self.version.to_be_bytes());
        aad.extend_from_slice(context.fragment_number.as_bytes());
        aad
    }

    /// Seals a fragment given as parts to concatenate: `nonce || ciphertext || tag`, one copy of
    /// the bytes.
    pub fn seal(&self, context: FragmentContext<'_>, parts: &[Bytes]) -> Bytes {
        let parts: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
        Bytes::from(seal(&self.key, &self.aad(context), &parts))
    }

    /// Opens a sealed fragment (in place when the buffer is not shared, as a store read gives it).
    pub fn open(&self, context: FragmentContext<'_>, sealed: Bytes) -> Result<Bytes, Unauthentic> {
        let mut buf = sealed.try_into_mut().unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        let len = open_in_place(&self.key, &self.aad(context), &mut buf)?;
        Ok(buf.freeze().slice(NONCE_LEN..NONCE_LEN + len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam/1";

    fn context(version: u32) -> WrapContext<'static> {
        WrapContext { stream_arn: ARN, version, master_key_id: "main" }
    }

    fn fragment(number: &str) -> FragmentContext<'_> {
        FragmentContext { stream_id: 7, fragment_number: number }
    }

    #[test]
    fn a_fragment_round_trips_and_hides_its_bytes() {
        let master = MasterKey::from_bytes(&MasterKey::generate_bytes()).unwrap();
        let (key, _) = master.new_data_key(context(1));
        let parts = [Bytes::from_static(b"\x1f\x43\xb6\x75cluster "), Bytes::from_static(b"payload")];
        let sealed = key.seal(fragment("1"), &parts);
        assert_eq!(sealed.len(), 12 + 7 + SEAL_OVERHEAD);
        assert!(!sealed.windows(4).any(|w| w == b"\x1f\x43\xb6\x75"), "the Cluster ID is not visible");
        assert_eq!(&key.open(fragment("1"), sealed.clone()).unwrap()[..], b"\x1f\x43\xb6\x75cluster payload");
        // A second seal of the same bytes draws another nonce: another ciphertext.
        assert_ne!(key.seal(fragment("1"), &parts), sealed);
    }

    #[test]
    fn altered_or_misplaced_bytes_do_not_open() {
        let master = MasterKey::from_bytes(&[7u8; KEY_LEN]).unwrap();
        let (key, _) = master.new_data_key(context(1));
        let sealed = key.seal(fragment("1"), &[Bytes::from_static(b"frames")]);
        let mut flipped = sealed.to_vec();
        flipped[NONCE_LEN + 2] ^= 1;
        assert_eq!(key.open(fragment("1"), Bytes::from(flipped)), Err(Unauthentic));
        assert_eq!(key.open(fragment("2"), sealed.clone()), Err(Unauthentic), "another fragment's bytes");
        let other = FragmentContext { stream_id: 8, fragment_number: "1" };
        assert_eq!(key.open(other, sealed.clone()), Err(Unauthentic), "another stream's bytes");
        let (another_key, _) = master.new_data_key(context(1));
        assert_eq!(another_key.open(fragment("1"), sealed.clone()), Err(Unauthentic));
        assert_eq!(key.open(fragment("1"), sealed.slice(..SEAL_OVERHEAD - 1)), Err(Unauthentic));
    }

    #[test]
    fn a_wrapped_data_key_opens_only_under_its_master_key_and_context() {
        let master = MasterKey::from_bytes(&MasterKey::generate_bytes()).unwrap();
        let (key, wrapped) = master.new_data_key(context(1));
        assert_eq!(wrapped.len(), KEY_LEN + SEAL_OVERHEAD);
        let sealed = key.seal(fragment("9"), &[Bytes::from_static(b"abc")]);
        let unwrapped = master.open_data_key(&wrapped, context(1)).unwrap();
        assert_eq!(unwrapped.version(), 1);
        assert_eq!(&unwrapped.open(fragment("9"), sealed).unwrap()[..], b"abc");
        let other_master = MasterKey::from_bytes(&MasterKey::generate_bytes()).unwrap();
        assert!(other_master.open_data_key(&wrapped, context(1)).is_err());
        assert!(master.open_data_key(&wrapped, context(2)).is_err(), "another version");
        let moved = WrapContext {
            stream_arn: "arn:aws:kinesisvideo:us-east-1:000000000000:stream/x/2",
            ..context(1)
        };
        assert!(master.open_data_key(&wrapped, moved).is_err(), "another stream");
        let renamed = WrapContext { master_key_id: "other", ..context(1) };
        assert!(master.open_data_key(&wrapped, renamed).is_err(), "another keyring id");
        assert_eq!(MasterKey::from_bytes(&[0u8; 16]).unwrap_err(), BadKeyLength(16));
    }
}
