//! The per-input checks behind every hostile-input harness: each function takes arbitrary bytes,
//! drives one untrusted-input entry point of `openkvs` with them and asserts its invariants (no
//! panic, `check_invariants`, buffer bounds, error-protocol rules). The cargo-fuzz targets under
//! `fuzz_targets/` and the stable-toolchain property tests (`tests/hostile_input.rs`) both include
//! this file with `#[path]`, so the fuzzers and CI check exactly the same things.

#![allow(dead_code)]

use bytes::Bytes;
use openkvs::api::Operation;
use openkvs::api::aws::{AwsErrorCode, parse_json_body};
use openkvs::auth::session_token::SessionTokenKey;
use openkvs::auth::sigv4::{
    Credential, Signature, SignedHeaders, has_presigned_params, parse_authorization_header,
    parse_presigned_query,
};
use openkvs::media::fragment::{FragmentEvent, Fragmenter, FragmenterConfig, TimecodeType};
use openkvs::media::mkv::rewrite::{BodyItem, FragmentPolicy, Reframer};
use openkvs::media::mkv::{DemuxLimits, MkvDemuxer, MkvEvent};
use openkvs::playback::PlaybackError;
use openkvs::playback::session::{SessionKind, open_claims};

/// Small limits so that the size checks are reachable with small inputs.
fn small_limits() -> DemuxLimits {
    DemuxLimits { max_header_element_size: 64 << 10, max_block_size: 1 << 20, ..DemuxLimits::default() }
}

/// Splits `body` into the pieces the streaming checks push: bytes 0-1 of the input pick a split
/// point, bits 2-7 of byte 2 the chunk size after it (0: one piece). Returns (mode byte, pieces).
fn pieces(input: &[u8]) -> Option<(u8, Vec<Bytes>)> {
    let (&[lo, hi, mode], body) = input.split_first_chunk::<3>()?;
    let body = Bytes::copy_from_slice(body);
    let split = usize::from(u16::from_le_bytes([lo, hi])) % (body.len() + 1);
    let chunk = usize::from(mode >> 2);
    let mut out = vec![body.slice(..split)];
    let rest = body.slice(split..);
    if chunk == 0 {
        out.push(rest);
    } else {
        out.extend(rest.chunks(chunk).map(|c| rest.slice_ref(c)));
    }
    Some((mode, out))
}

/// The Matroska demuxer: input layout as [`pieces`]; bit 0 of the mode byte picks the default
/// limits instead of the small ones. Invariants checked after every push and pull; the buffer stays
/// within `max_buffered` plus one push; offsets never go back; errors are sticky.
pub fn mkv_demuxer(input: &[u8]) {
    let Some((mode, pieces)) = pieces(input) else { return };
    let limits = if mode & 1 == 0 { small_limits() } else { DemuxLimits::default() };
    let mut demuxer = MkvDemuxer::new(limits);
    let bound = limits.max_buffered();
    let mut last_offset = 0;
    let mut pull_all = |demuxer: &mut MkvDemuxer| -> bool {
        loop {
            let pulled = demuxer.pull();
            demuxer.check_invariants();
            assert!(demuxer.offset() >= last_offset, "demuxer offset went back");
            last_offset = demuxer.offset();
            match pulled {
                Ok(Some(_)) => {}
                Ok(None) => return true,
                Err(e) => {
                    assert!(demuxer.is_poisoned());
                    assert_eq!(demuxer.pull().err(), Some(e), "poisoned demuxer changed its error");
                    assert_eq!(demuxer.buffered_len(), 0, "poisoned demuxer buffers input");
                    return false;
                }
            }
        }
    };
    for piece in pieces {
        let len = piece.len() as u64;
        demuxer.push(piece);
        demuxer.check_invariants();
        assert!(demuxer.buffered_len() as u64 <= bound + len, "buffer above the limit plus one push");
        if !pull_all(&mut demuxer) {
            return;
        }
    }
    demuxer.finish();
    demuxer.check_invariants();
    if pull_all(&mut demuxer) {
        assert_eq!(demuxer.buffered_len(), 0, "finished demuxer still buffers input");
    }
}

/// The PutMedia fragmenter (and the demuxer under it): input layout as [`pieces`]; mode bit 0
/// picks RELATIVE timecodes, bit 1 a producer start time. `check_invariants` after every push and
/// pull, the buffer bound after every push, and the event protocol (see [`Order`]).
pub fn mkv_fragmenter(input: &[u8]) {
    let Some((mode, pieces)) = pieces(input) else { return };
    let config = FragmenterConfig {
        timecode_type: if mode & 1 == 0 { TimecodeType::Absolute } else { TimecodeType::Relative },
        producer_start_ms: (mode & 2 != 0).then_some(1_663_277_247_152),
        max_fragment_bytes: 4 << 20,
        max_metadata_per_fragment: 10,
        demux: small_limits(),
        ..FragmenterConfig::default()
    };
    let mut fragmenter = Fragmenter::new(config);
    let bound = fragmenter.max_buffered();
    let mut order = Order::default();
    for piece in pieces {
        let len = piece.len() as u64;
        fragmenter.push(piece);
        fragmenter.check_invariants();
        assert!(fragmenter.buffered_len() as u64 <= bound + len, "buffer above the limit plus one push");
        if !drain(&mut fragmenter, &mut order) {
            return;
        }
    }
    fragmenter.finish();
    fragmenter.check_invariants();
    drain(&mut fragmenter, &mut order);
}

/// The event protocol: FragmentStarted, its Frames, then FragmentCompleted or Error for the same
/// timecode; nothing after a fatal error.
#[derive(Default)]
struct Order {
    open: Option<u64>,
    dead: bool,
}

impl Order {
    fn check(&mut self, event: &FragmentEvent) {
        assert!(!self.dead, "event after a fatal error");
        match event {
            FragmentEvent::HeadersChanged(_) => {}
            FragmentEvent::FragmentStarted { cluster_timecode, .. } => {
                assert!(self.open.is_none(), "fragment started while another is open");
                self.open = Some(*cluster_timecode);
            }
            FragmentEvent::Frame(f) => {
                assert_eq!(self.open, Some(f.cluster_timecode), "frame outside its fragment")
            }
            FragmentEvent::Payload(_) => assert!(self.open.is_some(), "payload outside a fragment"),
            FragmentEvent::FragmentCompleted(f) => {
                assert_eq!(self.open.take(), Some(f.cluster_timecode), "completion without start");
                assert_eq!(f.payload_size, f.payload.iter().map(|b| b.len() as u64).sum::<u64>());
            }
            FragmentEvent::Error(e) => {
                if let Some(tc) = self.open.take() {
                    assert_eq!(e.cluster_timecode, Some(tc), "error for another fragment");
                }
                self.dead = e.fatal;
            }
        }
    }
}

/// Pulls until more input is needed (true) or the session failed (false).
fn drain(fragmenter: &mut Fragmenter, order: &mut Order) -> bool {
    loop {
        let pulled = fragmenter.pull();
        fragmenter.check_invariants();
        match pulled {
            Ok(Some(event)) => order.check(&event),
            Ok(None) => return true,
            Err(e) => {
                assert!(e.fatal, "pull returned a non-fatal error");
                assert_eq!(fragmenter.pull().err(), Some(e), "poisoned fragmenter changed its error");
                return false;
            }
        }
    }
}

/// The re-framer behind `openkvs put` (and the demuxer under it): input layout as [`pieces`]; mode
/// bit 0 picks the default limits instead of the small ones, bit 1 a tight fragment policy (2 key
/// frames, at least 300 ms, at most 500 ms). `check_invariants` after every push and pull; every
/// Cluster it yields holds a block and its children add up; errors are sticky and come after the
/// items already gathered; and what it yields is valid Matroska again: the body it makes demuxes
/// without an error, with one Cluster per fragment at the fragment's Timecode.
pub fn mkv_reframer(input: &[u8]) {
    let Some((mode, pieces)) = pieces(input) else { return };
    let limits = if mode & 1 == 0 { small_limits() } else { DemuxLimits::default() };
    let policy = if mode & 2 == 0 {
        FragmentPolicy::default()
    } else {
        FragmentPolicy { key_frames_per_fragment: 2, min_duration_ms: Some(300), max_duration_ms: 500 }
    };
    let mut reframer = Reframer::new(limits, 4 << 20, policy);
    let mut body = Vec::new();
    let mut timecodes = Vec::new();
    let mut drain = |reframer: &mut Reframer| -> bool {
        loop {
            let pulled = reframer.pull();
            reframer.check_invariants();
            match pulled {
                Ok(Some(BodyItem::Cluster(c))) => {
                    assert!(c.blocks >= 1 && c.blocks <= c.children.len(), "Cluster without a block");
                    assert_eq!(c.children_len, c.children.iter().map(|b| b.len() as u64).sum::<u64>());
                    assert!(c.children_len <= 4 << 20, "Cluster above the size bound");
                    timecodes.push(c.timecode);
                    for piece in c.encode(c.timecode) {
                        body.extend_from_slice(&piece);
                    }
                }
                Ok(Some(BodyItem::Header(b) | BodyItem::Info { raw: b, .. } | BodyItem::Tags { raw: b })) => {
                    body.extend_from_slice(&b)
                }
                Ok(None) => return true,
                Err(e) => {
                    assert_eq!(reframer.pull().err(), Some(e), "failed re-framer changed its error");
                    return false;
                }
            }
        }
    };
    let mut ok = true;
    for piece in pieces {
        reframer.push(piece);
        reframer.check_invariants();
        if !drain(&mut reframer) {
            ok = false;
            break;
        }
    }
    if ok {
        reframer.finish();
        reframer.check_invariants();
        drain(&mut reframer);
    }
    let mut demuxer = MkvDemuxer::default();
    demuxer.push(Bytes::from(body));
    demuxer.finish();
    let mut seen = Vec::new();
    loop {
        match demuxer.pull() {
            Ok(Some(MkvEvent::ClusterTimecode { timecode })) => seen.push(timecode),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("the re-framed body is not valid Matroska: {e}"),
        }
    }
    assert_eq!(seen, timecodes, "one Cluster per fragment, at its Timecode");
}

/// The `Authorization` header parser (and the component parsers under it), on the input as text.
/// An accepted header has a 32-byte signature, a non-empty signed-header list and a credential
/// whose scope round-trips through `Credential::parse`.
pub fn sigv4_header(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    if let Ok(h) = parse_authorization_header(&text) {
        assert!(!h.signed_headers.names().is_empty(), "accepted an empty SignedHeaders");
        assert_eq!(SignedHeaders::parse(h.signed_headers.as_str()).as_ref(), Ok(&h.signed_headers));
        let _ = h.credential.scope();
    }
    let _ = Credential::parse(&text);
    let _ = SignedHeaders::parse(&text);
    let _ = Signature::parse_hex(&text);
}

/// The presigned-query parser: `Ok(Some)` only when `has_presigned_params` says so, and an
/// accepted `X-Amz-Expires` is in range.
pub fn sigv4_presigned(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let has = has_presigned_params(&text);
    match parse_presigned_query(&text) {
        Ok(None) => assert!(!has, "presigned parameters present but the query parsed as unsigned"),
        Ok(Some(p)) => {
            assert!(has, "parsed presigned parameters the presence test missed");
            assert!((1..=openkvs::auth::sigv4::MAX_EXPIRES_SECS).contains(&p.expires_secs));
            assert!(!p.signed_headers.names().is_empty());
        }
        Err(_) => assert!(has, "a query without presigned parameters was rejected"),
    }
}

/// Every operation's input, deserialised from the body and validated (`Operation::check_input`,
/// the same code the router runs before a handler): no input panics; a body that is not JSON of
/// the operation's shape is `SerializationException`, a JSON body that breaks a rule is one of the
/// validation errors, with AWS's message shape when it is a model constraint.
pub fn json_inputs(input: &[u8]) {
    let parses = parse_json_body::<serde::de::IgnoredAny>(input).is_ok();
    for op in Operation::ALL {
        let Err(e) = op.check_input(input) else { continue };
        match e.code {
            AwsErrorCode::SerializationException => {}
            AwsErrorCode::InvalidArgumentException
            | AwsErrorCode::InvalidResourceFormatException
            // secretsmanager's validation error
            | AwsErrorCode::InvalidParameterException => {
                assert!(
                    parses,
                    "{op}: a body that is not JSON failed validation, not deserialisation: {}",
                    e.message
                );
                assert!(!e.message.is_empty(), "{op}: a validation error without a message");
                if e.message.starts_with("1 validation error detected") {
                    assert!(e.message.contains(" failed to satisfy constraint: "), "{op}: {}", e.message);
                }
            }
            other => panic!("{op}: input check answered {other:?}: {}", e.message),
        }
    }
}

/// The key the session-token checks seal with (harnesses seal their seeds with it too).
pub fn session_key() -> SessionTokenKey {
    SessionTokenKey::from_secret(b"openkvs hostile-input key")
}

/// The session token opener and the claims decoder. The input as a token opens only if it is
/// exactly what sealing its payload gives (no re-encoded, padded or truncated variant opens); the
/// input sealed as a payload opens to itself; claims decode or fail as `InvalidToken` /
/// `ExpiredToken` only.
pub fn session_token(input: &[u8]) {
    let key = session_key();
    let text = String::from_utf8_lossy(input);
    if let Some(payload) = key.open(&text) {
        assert_eq!(key.seal(&payload), text, "a non-canonical token opened");
    }
    for kind in [SessionKind::Hls, SessionKind::Dash] {
        match open_claims(&key, &text, kind, 0) {
            Ok(c) => assert_eq!(c.kind, kind),
            Err(PlaybackError::InvalidToken | PlaybackError::ExpiredToken) => {}
            Err(e) => panic!("unexpected session error {e}"),
        }
    }
    let token = key.seal(input);
    if token.len() <= openkvs::auth::session_token::MAX_TOKEN_LEN {
        assert_eq!(key.open(&token).as_deref(), Some(input), "sealed payload did not round-trip");
    }
    for kind in [SessionKind::Hls, SessionKind::Dash] {
        match open_claims(&key, &token, kind, 1_700_000_000_000) {
            Ok(c) => assert_eq!(c.kind, kind),
            Err(PlaybackError::InvalidToken | PlaybackError::ExpiredToken) => {}
            Err(e) => panic!("unexpected session error {e}"),
        }
    }
}
