//! The AES-256-GCM formats of encryption at rest (design/0018-encryption-at-rest.md), on `ring`:
//! a fragment sealed under its stream's [`DataKey`], and a data key wrapped under a
//! [`MasterKey`] of the keyring.
//!
//! A wrapped data key and a v1 fragment are `nonce (12) || ciphertext || tag (16)`. Every nonce is 96 bits from the
//! operating system's random source, drawn afresh for each seal and each wrap; a data key seals
//! one stream's fragments only, so the number of nonces drawn under one key stays far below the
//! 2^32 random-nonce limit of NIST SP 800-38D (see the design record for the arithmetic). The
//! additional authenticated data binds each ciphertext to where it belongs (the stream, the
//! fragment number, the key version; for a wrapped key the stream's ARN and the master key id), so
//! bytes moved to another fragment, stream or key version fail to open instead of decrypting.
//!
//! **Chunked fragments (v2).** A fragment streamed into the store as it arrives is sealed in
//! chunks ([`ChunkSealer`]): a header (the 12-byte constant [`V2_MARKER`], a random 32-byte salt
//! and the head's length, big-endian u16), then per chunk `ciphertext || tag`. Chunk 0 is the
//! fragment's *head*, its first bytes that are only known at its end (the Cluster header with the
//! Cluster's size; possibly empty); chunks 1… hold the rest in [`CHUNK_LEN`] plaintext bytes each,
//! the last one possibly shorter. So a writer holds the head and one chunk, whatever the fragment's
//! size. Each fragment has its own AES-256-GCM key, `HKDF-SHA256(salt, data key, fragment context
//! and head length)`; chunk *i*'s nonce is the big-endian counter *i* followed by a last-chunk flag
//! byte, and its additional data binds the counter, the flag and the fragment context, so chunks
//! reordered, dropped or cut off at a chunk boundary, or a changed head length, fail to open.
//! [`DataKey::open`] reads both formats: a v1 value starts with a random nonce, equal to the
//! marker with probability 2⁻⁹⁶ (design/0024-ingest-efficiency.md).
//!
//! Pure computation: no I/O except the random source, no logging, no key bytes in `Debug`.

use bytes::{Bytes, BytesMut};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

/// Length of every key (AES-256).
pub const KEY_LEN: usize = 32;
/// Length of the nonce that starts every sealed value.
pub const NONCE_LEN: usize = 12;
/// Length of the authentication tag that ends every sealed value.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed value has beyond its plaintext.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Plaintext bytes per chunk after the head of a chunked (v2) fragment; the last chunk may be
/// shorter. Also the largest head.
pub const CHUNK_LEN: usize = 16 * 1024;
/// The constant that starts every chunked (v2) fragment.
pub const V2_MARKER: [u8; 12] = *b"openkvs\0frv2";
/// Length of the random salt after the marker.
pub const SALT_LEN: usize = 32;
/// Length of a chunked fragment's header (marker, salt, head length).
pub const V2_HEADER_LEN: usize = HEAD_LEN_AT + 2;
/// Where the salt is in a chunked fragment's header.
const SALT_AT: std::ops::Range<usize> = V2_MARKER.len()..V2_MARKER.len() + SALT_LEN;
/// Where the head's length (big-endian u16) is in a chunked fragment's header.
const HEAD_LEN_AT: usize = SALT_AT.end;

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
        let key = DataKey::from_material(context.version, &material).expect("KEY_LEN bytes");
        material.fill(0);
        (key, wrapped)
    }

    /// Unwraps a data key stored by [`MasterKey::new_data_key`] under the same context.
    pub fn open_data_key(&self, wrapped: &[u8], context: WrapContext<'_>) -> Result<DataKey, Unauthentic> {
        let mut buf = wrapped.to_vec();
        let len = open_in_place(&self.key, &context.aad(), &mut buf)?;
        let material = &mut buf[NONCE_LEN..NONCE_LEN + len];
        let key = DataKey::from_material(context.version, material).map_err(|_| Unauthentic);
        material.fill(0);
        key
    }
}

/// A stream's data key, unwrapped: it seals and opens that stream's fragments.
pub struct DataKey {
    version: u32,
    key: LessSafeKey,
    /// The key bytes, for deriving chunked fragments' keys (zeroed on drop).
    material: [u8; KEY_LEN],
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.material.fill(0);
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey(version {}, <redacted>)", self.version)
    }
}

impl DataKey {
    fn from_material(version: u32, material: &[u8]) -> Result<Self, BadKeyLength> {
        let key = aes_key(material)?;
        let material: [u8; KEY_LEN] = material.try_into().map_err(|_| BadKeyLength(material.len()))?;
        Ok(Self { version, key, material })
    }

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

    /// The fragment context as the chunked format binds it (HKDF info, and part of every chunk's
    /// additional data).
    fn v2_context(&self, context: FragmentContext<'_>, head_len: u16) -> Vec<u8> {
        let mut info = b"openkvs/fragment/v2\0".to_vec();
        info.extend_from_slice(&context.stream_id.to_be_bytes());
        info.extend_from_slice(&self.version.to_be_bytes());
        info.extend_from_slice(&head_len.to_be_bytes());
        info.extend_from_slice(context.fragment_number.as_bytes());
        info
    }

    /// The fragment's own AES key: HKDF-SHA256 of the data key under the salt, for the context.
    fn fragment_key(&self, salt: &[u8], info: &[u8]) -> LessSafeKey {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(&self.material);
        let info = [info];
        let okm = prk.expand(&info, &AES_256_GCM).expect("HKDF-SHA256 expands to 32 bytes");
        LessSafeKey::new(UnboundKey::from(okm))
    }

    /// A sealer for one fragment in the chunked format whose head (chunk 0) is `head_len` bytes
    /// (at most [`CHUNK_LEN`]), with the header that starts it.
    pub fn chunk_sealer(
        &self,
        context: FragmentContext<'_>,
        head_len: usize,
    ) -> (ChunkSealer, [u8; V2_HEADER_LEN]) {
        assert!(head_len <= CHUNK_LEN, "a head is at most one chunk");
        let head_len = head_len as u16;
        let salt = random::<SALT_LEN>();
        let info = self.v2_context(context, head_len);
        let key = self.fragment_key(&salt, &info);
        let mut header = [0u8; V2_HEADER_LEN];
        header[..V2_MARKER.len()].copy_from_slice(&V2_MARKER);
        header[SALT_AT].copy_from_slice(&salt);
        header[HEAD_LEN_AT..].copy_from_slice(&head_len.to_be_bytes());
        (ChunkSealer { key, info }, header)
    }

    /// Opens a sealed fragment of either format (in place when the buffer is not shared, as a
    /// store read gives it).
    pub fn open(&self, context: FragmentContext<'_>, sealed: Bytes) -> Result<Bytes, Unauthentic> {
        let mut buf = sealed.try_into_mut().unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        if buf.len() >= V2_HEADER_LEN && buf[..V2_MARKER.len()] == V2_MARKER {
            let head_len = u16::from_be_bytes([buf[HEAD_LEN_AT], buf[HEAD_LEN_AT + 1]]);
            let info = self.v2_context(context, head_len);
            let key = self.fragment_key(&buf[SALT_AT], &info);
            let len = open_chunks_in_place(&key, &info, usize::from(head_len), &mut buf[V2_HEADER_LEN..])?;
            return Ok(buf.freeze().slice(V2_HEADER_LEN..V2_HEADER_LEN + len));
        }
        let len = open_in_place(&self.key, &self.aad(context), &mut buf)?;
        Ok(buf.freeze().slice(NONCE_LEN..NONCE_LEN + len))
    }
}

/// Chunk `index`'s nonce: the counter, big-endian, then the last-chunk flag.
fn chunk_nonce(index: u64, last: bool) -> Nonce {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[3..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    Nonce::assume_unique_for_key(nonce)
}

/// Chunk `index`'s additional data: counter, flag, fragment context.
fn chunk_aad(info: &[u8], index: u64, last: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(9 + info.len());
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad.extend_from_slice(info);
    aad
}

/// Opens the chunks after a v2 header (a head of `head_len` plaintext bytes, then full chunks)
/// in place; the plaintext is moved to the front of `chunks` and its length returned.
fn open_chunks_in_place(
    key: &LessSafeKey,
    info: &[u8],
    head_len: usize,
    chunks: &mut [u8],
) -> Result<usize, Unauthentic> {
    const SEALED: usize = CHUNK_LEN + TAG_LEN;
    let total = chunks.len();
    let head = head_len + TAG_LEN;
    if total < head {
        return Err(Unauthentic);
    }
    let count = 1 + (total - head).div_ceil(SEALED);
    let mut plain_len = 0;
    for index in 0..count {
        let start = if index == 0 { 0 } else { head + (index - 1) * SEALED };
        let end = if index == 0 { head } else { (start + SEALED).min(total) };
        if end - start < TAG_LEN {
            return Err(Unauthentic);
        }
        let last = index + 1 == count;
        let aad = chunk_aad(info, index as u64, last);
        let n = key
            .open_in_place(chunk_nonce(index as u64, last), Aad::from(&aad), &mut chunks[start..end])
            .map_err(|_| Unauthentic)?
            .len();
        chunks.copy_within(start..start + n, plain_len);
        plain_len += n;
    }
    Ok(plain_len)
}

/// Seals the chunks of one fragment in the chunked (v2) format ([`DataKey::chunk_sealer`]). Each
/// chunk index must be sealed once; chunks may be sealed in any order (the first is sealed last
/// when its bytes are only complete at the fragment's end).
pub struct ChunkSealer {
    key: LessSafeKey,
    info: Vec<u8>,
}

impl std::fmt::Debug for ChunkSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkSealer(<redacted>)")
    }
}

impl ChunkSealer {
    /// Seals `buf[from..]` (at most [`CHUNK_LEN`] bytes of plaintext: for chunk 0 the head, of the
    /// length given to [`DataKey::chunk_sealer`]) as chunk `index` in place and appends its tag;
    /// `last` marks the fragment's final chunk.
    pub fn seal_chunk(&self, index: u64, last: bool, buf: &mut Vec<u8>, from: usize) {
        debug_assert!(buf.len() - from <= CHUNK_LEN);
        let aad = chunk_aad(&self.info, index, last);
        let tag = self
            .key
            .seal_in_place_separate_tag(chunk_nonce(index, last), Aad::from(&aad), &mut buf[from..])
            .expect("AES-GCM seals any chunk");
        buf.extend_from_slice(tag.as_ref());
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

    /// Seals `plain` in the chunked format with a head of `head_len` bytes (or all of `plain`,
    /// if shorter), sealing chunk 0 last as a streamed fragment does.
    fn seal_v2_head(key: &DataKey, number: &str, plain: &[u8], head_len: usize) -> Vec<u8> {
        let head_len = head_len.min(plain.len());
        let (sealer, header) = key.chunk_sealer(fragment(number), head_len);
        let mut pieces: Vec<&[u8]> = vec![&plain[..head_len]];
        pieces.extend(plain[head_len..].chunks(CHUNK_LEN));
        let mut sealed: Vec<Vec<u8>> = vec![Vec::new(); pieces.len()];
        for (i, piece) in pieces.iter().enumerate().rev() {
            let mut buf = piece.to_vec();
            sealer.seal_chunk(i as u64, i + 1 == pieces.len(), &mut buf, 0);
            sealed[i] = buf;
        }
        let mut out = header.to_vec();
        sealed.iter().for_each(|c| out.extend_from_slice(c));
        out
    }

    fn seal_v2(key: &DataKey, number: &str, plain: &[u8]) -> Vec<u8> {
        seal_v2_head(key, number, plain, 0)
    }

    #[test]
    fn a_chunked_fragment_round_trips_at_every_size() {
        let master = MasterKey::from_bytes(&MasterKey::generate_bytes()).unwrap();
        let (key, _) = master.new_data_key(context(1));
        for head in [0, 12] {
            for len in
                [0, 1, 12, CHUNK_LEN - 1, CHUNK_LEN, CHUNK_LEN + 13, 3 * CHUNK_LEN + 12, 5 * CHUNK_LEN + 77]
            {
                let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let sealed = seal_v2_head(&key, "4", &plain, head);
                let data = len - head.min(len);
                assert_eq!(sealed.len(), V2_HEADER_LEN + len + (1 + data.div_ceil(CHUNK_LEN)) * TAG_LEN);
                assert_eq!(&sealed[..12], &V2_MARKER);
                assert_eq!(
                    &key.open(fragment("4"), Bytes::from(sealed.clone())).unwrap()[..],
                    &plain[..],
                    "{head} {len}"
                );
                assert_eq!(
                    key.open(fragment("5"), Bytes::from(sealed)),
                    Err(Unauthentic),
                    "another fragment"
                );
            }
        }
    }

    #[test]
    fn a_chunked_fragment_cut_reordered_or_altered_does_not_open() {
        let master = MasterKey::from_bytes(&[9u8; KEY_LEN]).unwrap();
        let (key, _) = master.new_data_key(context(1));
        let plain: Vec<u8> = (0..3 * CHUNK_LEN + 100).map(|i| (i % 13) as u8).collect();
        let sealed = seal_v2(&key, "1", &plain);
        let chunk = CHUNK_LEN + TAG_LEN;
        // The (empty) head, then data chunks 1...
        let data = V2_HEADER_LEN + TAG_LEN;
        // Cut at each chunk boundary: the new last chunk was not sealed as the last one.
        for kept in 0..=3 {
            let cut = Bytes::from(sealed[..data + kept * chunk].to_vec());
            assert_eq!(key.open(fragment("1"), cut), Err(Unauthentic), "cut after {kept} data chunks");
        }
        // Another head length in the header.
        let with_head = seal_v2_head(&key, "1", &plain, 12);
        assert!(key.open(fragment("1"), Bytes::from(with_head.clone())).is_ok());
        let mut longer_head = with_head.clone();
        longer_head[V2_HEADER_LEN - 1] = 13;
        assert_eq!(key.open(fragment("1"), Bytes::from(longer_head)), Err(Unauthentic));
        // Two full chunks swapped.
        let mut swapped = sealed.clone();
        let (a, b) = (data, data + chunk);
        let first = swapped[a..a + chunk].to_vec();
        swapped.copy_within(b..b + chunk, a);
        swapped[b..b + chunk].copy_from_slice(&first);
        assert_eq!(key.open(fragment("1"), Bytes::from(swapped)), Err(Unauthentic));
        // A chunk dropped from the middle.
        let mut dropped = sealed[..data + chunk].to_vec();
        dropped.extend_from_slice(&sealed[data + 2 * chunk..]);
        assert_eq!(key.open(fragment("1"), Bytes::from(dropped)), Err(Unauthentic));
        // Another salt, a flipped bit.
        let mut salted = sealed.clone();
        salted[V2_MARKER.len()] ^= 1;
        assert_eq!(key.open(fragment("1"), Bytes::from(salted)), Err(Unauthentic));
        let mut flipped = sealed.clone();
        flipped[data + chunk + 5] ^= 1;
        assert_eq!(key.open(fragment("1"), Bytes::from(flipped)), Err(Unauthentic));
        // The header alone, and a tail shorter than a tag.
        assert_eq!(key.open(fragment("1"), Bytes::from(sealed[..V2_HEADER_LEN].to_vec())), Err(Unauthentic));
        let short = Bytes::from(sealed[..data + chunk + 3].to_vec());
        assert_eq!(key.open(fragment("1"), short), Err(Unauthentic));
    }

    /// Values sealed whole (v1) by earlier versions still open beside chunked ones.
    #[test]
    fn a_whole_v1_fragment_still_opens() {
        let master = MasterKey::from_bytes(&MasterKey::generate_bytes()).unwrap();
        let (key, wrapped) = master.new_data_key(context(1));
        let v1 = key.seal(fragment("2"), &[Bytes::from_static(b"old "), Bytes::from_static(b"cluster")]);
        let reopened = master.open_data_key(&wrapped, context(1)).unwrap();
        assert_eq!(&reopened.open(fragment("2"), v1).unwrap()[..], b"old cluster");
        let v2 = seal_v2(&key, "3", b"new cluster");
        assert_eq!(&reopened.open(fragment("3"), Bytes::from(v2)).unwrap()[..], b"new cluster");
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
