//! Test harness shared by the integration tests: fixture loading, a tiny xorshift PRNG, drivers
//! that feed a demuxer or fragmenter in given pieces (checking invariants and the buffer bound
//! after every push and pull), and a builder for crafted PutMedia bodies.

#![allow(dead_code)]

use bytes::Bytes;
use openkvs::media::ebml::{EbmlWriter, SizeForm};
use openkvs::media::fragment::{FragmentError, FragmentEvent, Fragmenter, FragmenterConfig};
use openkvs::media::mkv::{DemuxLimits, MkvDemuxer, MkvError, MkvEvent, ids};

/// Reads `tests/fixtures/<name>`.
#[macro_export]
macro_rules! fixture {
    ($name:literal) => {
        bytes::Bytes::from(
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/", $name))
                .expect(concat!("fixture ", $name)),
        )
    };
}

/// xorshift64* — deterministic, no dependencies.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn range(&mut self, lo: usize, hi_inclusive: usize) -> usize {
        lo + self.below((hi_inclusive - lo + 1) as u64) as usize
    }
}

/// Cuts `data` at the given ascending offsets.
pub fn split_at(data: &Bytes, cuts: &[usize]) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut prev = 0;
    for &c in cuts {
        let c = c.clamp(prev, data.len());
        out.push(data.slice(prev..c));
        prev = c;
    }
    out.push(data.slice(prev..));
    out
}

/// Cuts `data` into random chunks of 1..=max bytes.
pub fn random_chunks(data: &Bytes, rng: &mut XorShift, max: usize) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let n = rng.range(1, max).min(data.len() - at);
        out.push(data.slice(at..at + n));
        at += n;
    }
    out
}

/// Feeds a demuxer chunk by chunk (pulling to `Ok(None)` in between), then finishes.
/// Returns the events and the error that ended it, if any.
pub fn demux_chunks(chunks: &[Bytes], limits: DemuxLimits) -> (Vec<MkvEvent>, Option<MkvError>) {
    let mut d = MkvDemuxer::new(limits);
    let mut events = Vec::new();
    let bound = limits.max_buffered();
    let drain = |d: &mut MkvDemuxer, events: &mut Vec<MkvEvent>| -> Result<(), MkvError> {
        loop {
            let r = d.pull();
            d.check_invariants();
            match r {
                Ok(Some(ev)) => events.push(ev),
                Ok(None) => return Ok(()),
                Err(e) => {
                    // Poisoned: the same error again.
                    assert_eq!(d.pull().unwrap_err(), e);
                    return Err(e);
                }
            }
        }
    };
    for chunk in chunks {
        d.push(chunk.clone());
        d.check_invariants();
        assert!(
            (d.buffered_len() as u64) <= bound + chunk.len() as u64,
            "buffer {} > bound {} + chunk {}",
            d.buffered_len(),
            bound,
            chunk.len()
        );
        if let Err(e) = drain(&mut d, &mut events) {
            return (events, Some(e));
        }
    }
    d.finish();
    d.check_invariants();
    match drain(&mut d, &mut events) {
        Ok(()) => {
            // End is sticky.
            assert_eq!(d.pull(), Ok(None));
            (events, None)
        }
        Err(e) => (events, Some(e)),
    }
}

/// The outcome of feeding a fragmenter.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub events: Vec<FragmentEvent>,
    /// The `Err` that pull returned after a fatal error event.
    pub fatal: Option<FragmentError>,
}

impl Run {
    pub fn completed(&self) -> Vec<&openkvs::media::fragment::Fragment> {
        self.events
            .iter()
            .filter_map(|e| match e {
                FragmentEvent::FragmentCompleted(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    pub fn errors(&self) -> Vec<&FragmentError> {
        self.events
            .iter()
            .filter_map(|e| match e {
                FragmentEvent::Error(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    pub fn error_ids(&self) -> Vec<u32> {
        self.errors().iter().map(|e| e.error_id().id()).collect()
    }
}

/// Checks the event protocol: FragmentStarted, its Frames, then FragmentCompleted or Error for
/// the same timecode; nothing after a fatal error.
pub fn assert_event_order(events: &[FragmentEvent]) {
    let mut open: Option<u64> = None;
    let mut dead = false;
    for (i, e) in events.iter().enumerate() {
        assert!(!dead, "event {i} after a fatal error: {e:?}");
        match e {
            FragmentEvent::HeadersChanged(_) => {}
            FragmentEvent::FragmentStarted { cluster_timecode, .. } => {
                assert_eq!(open, None, "event {i}: fragment started while another is open");
                open = Some(*cluster_timecode);
            }
            FragmentEvent::Frame(f) => {
                assert_eq!(open, Some(f.cluster_timecode), "event {i}: frame outside its fragment")
            }
            FragmentEvent::Payload(_) => assert!(open.is_some(), "event {i}: payload outside a fragment"),
            FragmentEvent::FragmentCompleted(f) => {
                assert_eq!(open.take(), Some(f.cluster_timecode), "event {i}: completion without start");
            }
            FragmentEvent::Error(err) => {
                if let Some(tc) = open.take() {
                    assert_eq!(err.cluster_timecode, Some(tc), "event {i}: error for another fragment");
                }
                dead = err.fatal;
            }
        }
    }
}

/// Feeds a fragmenter chunk by chunk, checking invariants and the buffer bound throughout.
pub fn fragment_chunks(chunks: &[Bytes], config: FragmenterConfig) -> Run {
    let mut f = Fragmenter::new(config);
    let mut events = Vec::new();
    let bound = f.max_buffered();
    let drain = |f: &mut Fragmenter, events: &mut Vec<FragmentEvent>| -> Result<(), FragmentError> {
        loop {
            let r = f.pull();
            f.check_invariants();
            match r {
                Ok(Some(ev)) => events.push(ev),
                Ok(None) => return Ok(()),
                Err(e) => {
                    assert!(e.fatal);
                    assert_eq!(f.pull().unwrap_err(), e);
                    return Err(e);
                }
            }
        }
    };
    for chunk in chunks {
        f.push(chunk.clone());
        f.check_invariants();
        assert!((f.buffered_len() as u64) <= bound + chunk.len() as u64);
        if let Err(e) = drain(&mut f, &mut events) {
            assert_event_order(&events);
            return Run { events, fatal: Some(e) };
        }
    }
    f.finish();
    f.check_invariants();
    let run = match drain(&mut f, &mut events) {
        Ok(()) => {
            assert_eq!(f.pull(), Ok(None));
            Run { events, fatal: None }
        }
        Err(e) => Run { events, fatal: Some(e) },
    };
    assert_event_order(&run.events);
    run
}

/// One frame for [`BodyBuilder::cluster`].
#[derive(Debug, Clone, Copy)]
pub struct TestFrame {
    pub track: u64,
    pub rel: i16,
    pub key: bool,
    pub size: usize,
    /// Written as a BlockGroup with this BlockDuration instead of a SimpleBlock.
    pub block_duration: Option<u64>,
}

impl TestFrame {
    pub fn new(track: u64, rel: i16, key: bool, size: usize) -> Self {
        TestFrame { track, rel, key, size, block_duration: None }
    }
}

/// Builds a PutMedia body the way the KVS producer lays it out (unknown-size Segment and
/// Clusters, 8-byte sizes for blocks), with the crate's own writer.
pub struct BodyBuilder {
    w: EbmlWriter,
}

impl BodyBuilder {
    /// EBML header, unknown-size Segment, Info (1 ms scale) and Tracks with `tracks` video/audio
    /// tracks numbered 1.., the first with DefaultDuration 40 ms if `default_duration`.
    pub fn new(tracks: usize, default_duration: bool) -> Self {
        let mut b = BodyBuilder { w: EbmlWriter::with_size_form(SizeForm::Eight) };
        b.header(tracks, default_duration);
        b
    }

    pub fn header(&mut self, tracks: usize, default_duration: bool) -> &mut Self {
        let w = &mut self.w;
        let ebml = w.start_master(ids::EBML);
        w.uint(ids::EBML_VERSION, 1)
            .uint(ids::EBML_READ_VERSION, 1)
            .uint(ids::EBML_MAX_ID_LENGTH, 4)
            .uint(ids::EBML_MAX_SIZE_LENGTH, 8)
            .string(ids::DOC_TYPE, "matroska")
            .uint(ids::DOC_TYPE_VERSION, 2)
            .uint(ids::DOC_TYPE_READ_VERSION, 2);
        w.end_master(ebml);
        w.unknown_size_header(ids::SEGMENT, 1);
        let info = w.start_master(ids::INFO);
        w.uint(ids::TIMECODE_SCALE, 1_000_000).string(ids::TITLE, "test");
        w.end_master(info);
        let tr = w.start_master(ids::TRACKS);
        for n in 1..=tracks as u64 {
            let e = w.start_master(ids::TRACK_ENTRY);
            w.uint(ids::TRACK_NUMBER, n)
                .uint(ids::TRACK_UID, n)
                .uint(ids::TRACK_TYPE, if n == 1 { 1 } else { 2 });
            w.string(ids::CODEC_ID, if n == 1 { "V_MPEG4/ISO/AVC" } else { "A_AAC" });
            if n == 1 && default_duration {
                w.uint(ids::DEFAULT_DURATION, 40_000_000);
            }
            w.end_master(e);
        }
        w.end_master(tr);
        self
    }

    pub fn cluster(&mut self, timecode: u64, frames: &[TestFrame]) -> &mut Self {
        let w = &mut self.w;
        w.unknown_size_header(ids::CLUSTER, 1);
        w.uint8(ids::TIMECODE, timecode).uint(ids::POSITION, 0);
        for f in frames {
            let mut block = Vec::with_capacity(4 + f.size);
            block.push(0x80 | f.track as u8);
            block.extend_from_slice(&f.rel.to_be_bytes());
            match f.block_duration {
                None => {
                    block.push(if f.key { 0x80 } else { 0 });
                    block.resize(4 + f.size, 0xAB);
                    w.binary(ids::SIMPLE_BLOCK, &block);
                }
                Some(d) => {
                    block.push(0);
                    block.resize(4 + f.size, 0xAB);
                    let g = w.start_master(ids::BLOCK_GROUP);
                    w.binary(ids::BLOCK, &block).uint(ids::BLOCK_DURATION, d);
                    if !f.key {
                        w.int(ids::REFERENCE_BLOCK, -40);
                    }
                    w.end_master(g);
                }
            }
        }
        self
    }

    /// A segment-level Tags element with one SimpleTag.
    pub fn tag(&mut self, name: &str, value: &str) -> &mut Self {
        let t = openkvs::media::mkv::tags::build_tags(&[(name, value)]);
        self.w.raw(&t);
        self
    }

    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.w.raw(bytes);
        self
    }

    pub fn build(&self) -> Bytes {
        Bytes::copy_from_slice(self.w.as_slice())
    }
}
