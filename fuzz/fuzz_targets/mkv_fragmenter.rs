//! Fuzzes the PutMedia path of `openkvs::media`: a fragmenter (and the demuxer under it) fed the
//! input in pieces, with `check_invariants` after every push and pull and the buffer bound
//! asserted after every push.
//!
//! Input layout: bytes 0-1 pick the split point (little-endian, modulo the body length), byte 2
//! picks the configuration (bit 0: RELATIVE timecodes, bit 1: producer start time given) and the
//! chunk size used after the split point (bits 2-7: 0 means one piece); the rest is the body.
//! Run with `cargo fuzz run mkv_fragmenter` from the crate root.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use openkvs::media::fragment::{FragmentEvent, Fragmenter, FragmenterConfig, TimecodeType};
use openkvs::media::mkv::DemuxLimits;

fuzz_target!(|input: &[u8]| {
    let Some((&[lo, hi, mode], body)) = input.split_first_chunk::<3>() else { return };
    let body = Bytes::copy_from_slice(body);
    let split = usize::from(u16::from_le_bytes([lo, hi])) % (body.len() + 1);
    let chunk = usize::from(mode >> 2);
    let config = FragmenterConfig {
        timecode_type: if mode & 1 == 0 { TimecodeType::Absolute } else { TimecodeType::Relative },
        producer_start_ms: (mode & 2 != 0).then_some(1_663_277_247_152),
        max_fragment_bytes: 4 << 20,
        max_metadata_per_fragment: 10,
        demux: DemuxLimits {
            max_header_element_size: 64 << 10,
            max_block_size: 1 << 20,
            ..DemuxLimits::default()
        },
        ..FragmenterConfig::default()
    };
    let mut fragmenter = Fragmenter::new(config);
    let bound = fragmenter.max_buffered();
    let mut order = Order::default();

    let mut pieces = vec![body.slice(..split)];
    let rest = body.slice(split..);
    if chunk == 0 {
        pieces.push(rest);
    } else {
        pieces.extend(rest.chunks(chunk).map(|c| rest.slice_ref(c)));
    }
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
});

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
