//! Re-framing a Matroska file as a KVS producer's PutMedia body: the byte rewriting `openkvs put`
//! needs to send a muxer's output (ffmpeg, GStreamer `matroskamux`, a file or a pipe) the way the KVS
//! C producer frames its own.
//!
//! [`Reframer`] sits on the demuxer (`push` / `pull`, same alternation rule) and yields
//! [`BodyItem`]s: the EBML header, an unknown-size Segment header, Info and Tracks verbatim, then one
//! [`ReframedCluster`] per Cluster, holding the Cluster's children to re-emit (blocks) as zero-copy
//! slices of the input. [`ReframedCluster::encode`] writes the Cluster again with an 8-byte size
//! and an 8-byte Timecode of the caller's choosing ([`cluster_prefix`]), so the receiver knows
//! where the fragment ends as soon as its last byte arrives and the timecode can be rewritten
//! (epoch milliseconds) without touching the blocks. [`ReframedCluster::child_offsets_ms`] reads
//! when each block is due after the Cluster's Timecode, for a producer that paces frames.
//!
//! What is dropped: SeekHead, Cues, Chapters, Attachments and Void at Segment level (the demuxer
//! discards them); segment-level Tags before a Segment's first Cluster (a muxer's file metadata
//! such as `ENCODER` or per-track `DURATION`, which a KVS producer never sends); and, inside
//! Clusters, the Timecode (rewritten), CRC-32 (it would no longer match), Position and PrevSize
//! (offsets in the original file) and Void. Segment-level Tags after a Cluster (producer metadata,
//! end-of-fragment markers in a captured PutMedia body) are kept in place.
//!
//! Owns the byte layout only: no I/O, no clocks, no choice of timecodes (the caller decides how
//! to re-time, see `crate::producer`). A Cluster is buffered whole (its children are slices of the
//! input, never copies), bounded by `max_cluster_bytes`.

use bytes::Bytes;

use super::demux::{DemuxLimits, MkvDemuxer, MkvEvent};
use super::error::MkvError;
use super::ids;
use super::tags;
use crate::media::ebml::reader::{Children, Parse, parse_header};
use crate::media::ebml::vint;
use crate::media::ebml::writer::EbmlWriter;

/// Length of [`cluster_prefix`]: Cluster ID (4) + 8-byte size + Timecode ID (1) + its size (1) +
/// 8 data bytes.
pub const CLUSTER_PREFIX_LEN: usize = 22;

/// Default [`Reframer`] bound on one Cluster's re-emitted children: 50 MiB, the KVS fragment limit.
pub const DEFAULT_MAX_CLUSTER_BYTES: u64 = 50 << 20;

/// The Segment header of a live body: Segment ID and a one-byte unknown size (`0xFF`), as the KVS
/// producer writes it.
pub fn unknown_size_segment_header() -> Bytes {
    let mut w = EbmlWriter::new();
    w.unknown_size_header(ids::SEGMENT, 1);
    w.finish()
}

/// The start of a known-size Cluster whose children after the Timecode take `children_len`
/// bytes: Cluster ID, 8-byte size, and the Timecode element with 8 data bytes (as the KVS
/// producer writes it). The children must follow verbatim.
pub fn cluster_prefix(timecode: u64, children_len: u64) -> Bytes {
    let mut w = EbmlWriter::new();
    let timecode_len = 1 + 1 + 8;
    w.raw(&ids::CLUSTER.to_be_bytes());
    let mut size = [0u8; 8];
    vint::write_size_8(&mut &mut size[..], children_len.saturating_add(timecode_len));
    w.raw(&size).uint8(ids::TIMECODE, timecode);
    w.finish()
}

/// Whether a Cluster child is re-emitted by [`ReframedCluster::encode`]. Timecode is written anew;
/// CRC-32, Position and PrevSize describe the original bytes and would be wrong; Void is padding.
pub fn keeps_cluster_child(id: u32) -> bool {
    !matches!(id, ids::TIMECODE | ids::CRC32 | ids::POSITION | ids::PREV_SIZE | ids::VOID)
}

/// The segment-level Tags element with which a KVS producer closes its last fragment:
/// `Tags{Tag{SimpleTag{TagName=AWS_KINESISVIDEO_END_OF_FRAGMENT, TagString=""}}}`.
pub fn end_of_fragment_tags() -> Bytes {
    tags::build_end_of_fragment_tags()
}

/// One Cluster of the input, ready to be written again with a new Timecode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReframedCluster {
    /// Absolute input offset of the Cluster.
    pub offset: u64,
    /// The Cluster Timecode as read, in TimecodeScale units.
    pub timecode: u64,
    /// The Segment's TimecodeScale in nanoseconds.
    pub timecode_scale_ns: u64,
    /// The children to re-emit, in order, each a whole element (zero-copy slices of the input).
    pub children: Vec<Bytes>,
    /// Total length of `children`.
    pub children_len: u64,
    /// Number of SimpleBlocks and BlockGroups among the children.
    pub blocks: usize,
}

impl ReframedCluster {
    /// The Timecode in milliseconds (rounded down), saturating.
    pub fn timecode_ms(&self) -> u64 {
        let ns = u128::from(self.timecode) * u128::from(self.timecode_scale_ns);
        u64::try_from(ns / 1_000_000).unwrap_or(u64::MAX)
    }

    /// Length of the encoded Cluster.
    pub fn encoded_len(&self) -> u64 {
        self.children_len.saturating_add(CLUSTER_PREFIX_LEN as u64)
    }

    /// The Cluster as pieces to send in order: [`cluster_prefix`] with `timecode`, then the
    /// children. Concatenated, they are one known-size Cluster element.
    pub fn encode(&self, timecode: u64) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(self.children.len() + 1);
        out.push(cluster_prefix(timecode, self.children_len));
        out.extend(self.children.iter().cloned());
        out
    }

    /// For each of `children`, in order, how many milliseconds after the Cluster's Timecode it is
    /// due (what a live producer's frame-by-frame pacing needs): a SimpleBlock's, or a BlockGroup's
    /// Block's, relative timecode × TimecodeScale, rounded down; a negative relative timecode
    /// counts as 0. A child without a relative timecode (neither kind of block, e.g. an
    /// EncryptedBlock) or one too malformed to read it from gets the previous child's value (0
    /// for the first). The values follow the blocks' (presentation) timecodes, so with B-frames
    /// they need not increase. Never panics.
    pub fn child_offsets_ms(&self) -> Vec<u64> {
        let mut previous = 0;
        self.children
            .iter()
            .map(|child| {
                if let Some(relative) = block_relative_timecode(child) {
                    let ns = u128::try_from(relative).unwrap_or(0) * u128::from(self.timecode_scale_ns);
                    previous = u64::try_from(ns / 1_000_000).unwrap_or(u64::MAX);
                }
                previous
            })
            .collect()
    }
}

/// The relative timecode of a whole SimpleBlock or BlockGroup element (from the BlockGroup's
/// first Block), `None` for another element or a malformed one.
fn block_relative_timecode(element: &[u8]) -> Option<i16> {
    let Ok(Parse::Complete(header)) = parse_header(element, 0) else { return None };
    let len = usize::try_from(header.size.known()?).ok()?;
    let data = element.get(header.header_len..)?.get(..len)?;
    match header.id {
        ids::SIMPLE_BLOCK => block_payload_timecode(data),
        ids::BLOCK_GROUP => Children::new(data, 0)
            .map_while(Result::ok)
            .find(|c| c.id == ids::BLOCK)
            .and_then(|block| block_payload_timecode(block.data)),
        _ => None,
    }
}

/// The 16-bit signed timecode after the track-number vint of a (Simple)Block payload.
fn block_payload_timecode(payload: &[u8]) -> Option<i16> {
    let (_track, len) = vint::read_unsigned(payload).ok()??;
    match payload.get(len..len.checked_add(2)?)? {
        [hi, lo] => Some(i16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

/// What the [`Reframer`] yields, in body order.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyItem {
    /// Bytes to send verbatim: an EBML header, a Segment header ([`unknown_size_segment_header`])
    /// or a Tracks element.
    Header(Bytes),
    /// An Info element, verbatim.
    Info {
        /// The whole element.
        raw: Bytes,
        /// Its TimecodeScale in nanoseconds.
        timecode_scale_ns: u64,
    },
    /// A Cluster with at least one block.
    Cluster(ReframedCluster),
    /// A segment-level Tags element that followed a Cluster, verbatim.
    Tags {
        /// The whole element.
        raw: Bytes,
        /// Whether it holds the `AWS_KINESISVIDEO_END_OF_FRAGMENT` tag.
        end_of_fragment: bool,
    },
}

/// Why the input cannot be re-framed.
#[derive(Debug, Clone, PartialEq)]
pub enum ReframeError {
    /// The input is not valid Matroska.
    Mkv(MkvError),
    /// A Cluster's children exceed the bound.
    ClusterTooLarge {
        /// Input offset of the Cluster.
        offset: u64,
        /// The bound, bytes.
        limit: u64,
    },
}

impl std::fmt::Display for ReframeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReframeError::Mkv(e) => write!(f, "invalid Matroska input: {e}"),
            ReframeError::ClusterTooLarge { offset, limit } => {
                write!(
                    f,
                    "the Cluster at byte {offset} holds more than {limit} bytes (the fragment size limit)"
                )
            }
        }
    }
}

impl std::error::Error for ReframeError {}

impl From<MkvError> for ReframeError {
    fn from(e: MkvError) -> Self {
        ReframeError::Mkv(e)
    }
}

#[derive(Debug)]
struct Building {
    offset: u64,
    timecode: Option<u64>,
    children: Vec<Bytes>,
    children_len: u64,
    blocks: usize,
}

/// Turns a Matroska byte stream into [`BodyItem`]s. See the module documentation.
#[derive(Debug)]
pub struct Reframer {
    demux: MkvDemuxer,
    max_cluster_bytes: u64,
    timecode_scale_ns: u64,
    cluster: Option<Building>,
    /// A Cluster was seen in the current Segment (later Tags are kept).
    seen_cluster: bool,
}

impl Default for Reframer {
    fn default() -> Self {
        Self::new(DemuxLimits::default(), DEFAULT_MAX_CLUSTER_BYTES)
    }
}

impl Reframer {
    /// A re-framer expecting the start of a Matroska stream.
    pub fn new(limits: DemuxLimits, max_cluster_bytes: u64) -> Self {
        Reframer {
            demux: MkvDemuxer::new(limits),
            max_cluster_bytes,
            timecode_scale_ns: 1_000_000,
            cluster: None,
            seen_cluster: false,
        }
    }

    /// Appends input. Same alternation rule as [`MkvDemuxer::push`]: pull until `Ok(None)` between
    /// pushes.
    pub fn push(&mut self, chunk: Bytes) {
        self.demux.push(chunk);
    }

    /// Marks the end of input; pull afterwards until `Ok(None)`.
    pub fn finish(&mut self) {
        self.demux.finish();
    }

    /// The next item, `Ok(None)` when more input is needed (or, after [`Self::finish`], at the
    /// end), or the error that makes the rest of the input unusable.
    pub fn pull(&mut self) -> Result<Option<BodyItem>, ReframeError> {
        while let Some(event) = self.demux.pull()? {
            if let Some(item) = self.on_event(event)? {
                return Ok(Some(item));
            }
        }
        Ok(None)
    }

    fn on_event(&mut self, event: MkvEvent) -> Result<Option<BodyItem>, ReframeError> {
        Ok(match event {
            MkvEvent::EbmlHeader { raw, .. } => Some(BodyItem::Header(raw)),
            MkvEvent::SegmentStart { .. } => {
                self.seen_cluster = false;
                Some(BodyItem::Header(unknown_size_segment_header()))
            }
            MkvEvent::Info { raw, timecode_scale_ns, .. } => {
                self.timecode_scale_ns = timecode_scale_ns;
                Some(BodyItem::Info { raw, timecode_scale_ns })
            }
            MkvEvent::Tracks { raw, .. } => Some(BodyItem::Header(raw)),
            MkvEvent::Tags { raw, tags, .. } => self.seen_cluster.then(|| BodyItem::Tags {
                raw,
                end_of_fragment: tags.iter().any(|t| t.is_end_of_fragment()),
            }),
            MkvEvent::ClusterStart { offset, .. } => {
                self.seen_cluster = true;
                self.cluster = Some(Building {
                    offset,
                    timecode: None,
                    children: Vec::new(),
                    children_len: 0,
                    blocks: 0,
                });
                None
            }
            MkvEvent::ClusterChild { id, raw, .. } => {
                if let Some(c) = self.cluster.as_mut()
                    && keeps_cluster_child(id)
                {
                    c.children_len = c.children_len.saturating_add(raw.len() as u64);
                    if c.children_len > self.max_cluster_bytes {
                        return Err(ReframeError::ClusterTooLarge {
                            offset: c.offset,
                            limit: self.max_cluster_bytes,
                        });
                    }
                    if id == ids::SIMPLE_BLOCK || id == ids::BLOCK_GROUP {
                        c.blocks += 1;
                    }
                    c.children.push(raw);
                }
                None
            }
            MkvEvent::ClusterTimecode { timecode } => {
                if let Some(c) = self.cluster.as_mut() {
                    c.timecode = Some(timecode);
                }
                None
            }
            MkvEvent::ClusterEnd { .. } => match self.cluster.take() {
                Some(Building { offset, timecode: Some(timecode), children, children_len, blocks })
                    if blocks > 0 =>
                {
                    Some(BodyItem::Cluster(ReframedCluster {
                        offset,
                        timecode,
                        timecode_scale_ns: self.timecode_scale_ns,
                        children,
                        children_len,
                        blocks,
                    }))
                }
                // A Cluster without blocks carries no fragment.
                _ => None,
            },
            MkvEvent::Frame(_) | MkvEvent::SegmentEnd { .. } => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ebml::writer::SizeForm;
    use crate::media::mkv::demux::MkvEvent;

    const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/h264_640x360_20s_2sgop.mkv");

    /// Runs the whole input through a re-framer in `piece`-sized chunks.
    fn reframe(input: &[u8], piece: usize) -> Vec<BodyItem> {
        let mut r = Reframer::default();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            r.push(Bytes::copy_from_slice(chunk));
            while let Some(item) = r.pull().unwrap() {
                out.push(item);
            }
        }
        r.finish();
        while let Some(item) = r.pull().unwrap() {
            out.push(item);
        }
        out
    }

    /// Demuxes a whole body, returning every event.
    fn demux_all(body: &[u8]) -> Vec<MkvEvent> {
        let mut d = MkvDemuxer::default();
        d.push(Bytes::copy_from_slice(body));
        let mut out = Vec::new();
        while let Some(e) = d.pull().unwrap() {
            out.push(e);
        }
        d.finish();
        while let Some(e) = d.pull().unwrap() {
            out.push(e);
        }
        out
    }

    /// The body a producer would send: items in order, clusters re-timed by `retime`.
    fn body(items: &[BodyItem], retime: impl Fn(u64) -> u64) -> Vec<u8> {
        let mut out = Vec::new();
        for item in items {
            match item {
                BodyItem::Header(b) | BodyItem::Info { raw: b, .. } | BodyItem::Tags { raw: b, .. } => {
                    out.extend_from_slice(b)
                }
                BodyItem::Cluster(c) => {
                    for piece in c.encode(retime(c.timecode)) {
                        out.extend_from_slice(&piece);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn cluster_prefix_layout() {
        let p = cluster_prefix(0x0102_0304_0506_0708, 100);
        assert_eq!(p.len(), CLUSTER_PREFIX_LEN);
        assert_eq!(&p[..4], &[0x1F, 0x43, 0xB6, 0x75]);
        // 8-byte size: marker 0x01 then 7 bytes of 110 (100 + the 10-byte Timecode element).
        assert_eq!(&p[4..12], &[0x01, 0, 0, 0, 0, 0, 0, 110]);
        assert_eq!(&p[12..14], &[0xE7, 0x88]);
        assert_eq!(&p[14..], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&unknown_size_segment_header()[..], &[0x18, 0x53, 0x80, 0x67, 0xFF]);
    }

    #[test]
    fn fixture_reframes_to_ten_clusters_with_file_timecodes() {
        let items = reframe(FIXTURE, 64 * 1024);
        // EBML header, Segment header, Info, Tracks, then ten clusters (ffmpeg's Tags before the
        // first Cluster and the Cues after the last are gone).
        assert!(matches!(&items[0], BodyItem::Header(b) if b[..4] == [0x1A, 0x45, 0xDF, 0xA3]));
        assert!(matches!(&items[1], BodyItem::Header(b) if b[..] == [0x18, 0x53, 0x80, 0x67, 0xFF]));
        assert!(matches!(&items[2], BodyItem::Info { timecode_scale_ns: 1_000_000, .. }));
        assert!(matches!(&items[3], BodyItem::Header(b) if b[..4] == [0x16, 0x54, 0xAE, 0x6B]));
        let clusters: Vec<&ReframedCluster> = items
            .iter()
            .filter_map(|i| match i {
                BodyItem::Cluster(c) => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(items.len(), 4 + clusters.len());
        assert_eq!(clusters.len(), 10);
        let codes: Vec<u64> = clusters.iter().map(|c| c.timecode_ms()).collect();
        assert_eq!(codes, (0..10).map(|i| i * 2000).collect::<Vec<_>>());
        assert_eq!(clusters.iter().map(|c| c.blocks).sum::<usize>(), 500);
        for c in &clusters {
            assert_eq!(c.children_len, c.children.iter().map(|b| b.len() as u64).sum::<u64>());
            assert!(c.children.iter().all(|b| b[0] == 0xA3), "only SimpleBlocks are re-emitted");
        }
        // Chunking does not change the result.
        assert_eq!(reframe(FIXTURE, 997), items);
    }

    #[test]
    fn retimed_body_demuxes_with_new_timecodes_and_known_sizes() {
        let items = reframe(FIXTURE, 1 << 20);
        let base = 1_700_000_000_000u64;
        let out = body(&items, |tc| base + tc);
        let events = demux_all(&out);
        let timecodes: Vec<u64> = events
            .iter()
            .filter_map(|e| match e {
                MkvEvent::ClusterTimecode { timecode } => Some(*timecode),
                _ => None,
            })
            .collect();
        assert_eq!(timecodes, (0..10).map(|i| base + i * 2000).collect::<Vec<_>>());
        // Every Cluster has a known size that ends exactly where the next element begins.
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        for e in &events {
            match e {
                MkvEvent::ClusterStart { offset, size } => {
                    let size = size.expect("known-size cluster");
                    starts.push(*offset);
                    ends.push(offset + 12 + size);
                }
                MkvEvent::ClusterEnd { end_offset } => assert_eq!(Some(end_offset), ends.last()),
                _ => {}
            }
        }
        assert_eq!(starts.len(), 10);
        assert_eq!(*ends.last().unwrap(), out.len() as u64);
        // Frames keep their relative timecodes and their bytes.
        let frames_in = demux_all(FIXTURE).into_iter().filter(|e| matches!(e, MkvEvent::Frame(_)));
        let frames_out = events.iter().filter(|e| matches!(e, MkvEvent::Frame(_)));
        assert!(frames_in.eq(frames_out.cloned()));
    }

    #[test]
    fn end_of_fragment_tags_parse_back() {
        let items = reframe(FIXTURE, 1 << 20);
        let mut out = body(&items, |tc| tc);
        let eofr = end_of_fragment_tags();
        out.extend_from_slice(&eofr);
        let events = demux_all(&out);
        let tags: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                MkvEvent::Tags { tags, raw, .. } => Some((tags.clone(), raw.len())),
                _ => None,
            })
            .collect();
        assert_eq!(tags.len(), 1);
        assert_eq!(tags[0].1, eofr.len());
        assert_eq!(tags[0].0.len(), 1);
        assert!(tags[0].0[0].is_end_of_fragment());
        assert_eq!(tags[0].0[0].value, "");
        // And a re-framer passes it through, flagged.
        let again = reframe(&out, 4096);
        assert!(matches!(again.last(), Some(BodyItem::Tags { end_of_fragment: true, raw }) if *raw == eofr));
    }

    /// A tiny document built by hand: unknown-size Segment and Cluster, a CRC-32 and a Position
    /// in the Cluster, a metadata Tags between Clusters, a block-less Cluster.
    #[test]
    fn drops_stale_children_and_keeps_tags_between_clusters() {
        let mut w = EbmlWriter::with_size_form(SizeForm::Minimal);
        let h = w.start_master(ids::EBML);
        w.string(ids::DOC_TYPE, "matroska");
        w.end_master(h);
        w.unknown_size_header(ids::SEGMENT, 1);
        let info = w.start_master(ids::INFO);
        w.uint(ids::TIMECODE_SCALE, 1_000_000);
        w.end_master(info);
        let tracks = w.start_master(ids::TRACKS);
        let entry = w.start_master(ids::TRACK_ENTRY);
        w.uint(ids::TRACK_NUMBER, 1).uint(ids::TRACK_TYPE, 1).string(ids::CODEC_ID, "V_MPEG4/ISO/AVC");
        w.end_master(entry);
        w.end_master(tracks);
        w.raw(&tags::build_tags(&[("ENCODER", "test")]));
        w.unknown_size_header(ids::CLUSTER, 1);
        w.binary(ids::CRC32, &[1, 2, 3, 4]).uint(ids::TIMECODE, 40).uint(ids::POSITION, 99);
        w.binary(ids::SIMPLE_BLOCK, &[0x81, 0, 0, 0x80, 9, 9]);
        w.binary(ids::VOID, &[0; 3]);
        w.binary(ids::SIMPLE_BLOCK, &[0x81, 0, 33, 0x00, 8]);
        let meta = tags::build_tags(&[("K", "V")]);
        w.raw(&meta);
        w.unknown_size_header(ids::CLUSTER, 1);
        w.uint(ids::TIMECODE, 80);
        let doc = w.finish();

        let items = reframe(&doc, 7);
        // EBML, Segment, Info, Tracks (the pre-cluster ENCODER Tags dropped), Cluster, Tags; the
        // block-less last Cluster yields nothing.
        assert_eq!(items.len(), 6, "{items:?}");
        let BodyItem::Cluster(c) = &items[4] else { panic!("{:?}", items[4]) };
        assert_eq!(c.timecode, 40);
        assert_eq!(c.blocks, 2);
        assert_eq!(c.children.iter().map(|b| b[0]).collect::<Vec<_>>(), vec![0xA3, 0xA3]);
        assert_eq!(c.encoded_len(), CLUSTER_PREFIX_LEN as u64 + 8 + 7);
        assert_eq!(c.encode(5).iter().map(|b| b.len() as u64).sum::<u64>(), c.encoded_len());
        assert_eq!(items[5], BodyItem::Tags { raw: meta, end_of_fragment: false });
    }

    #[test]
    fn timecode_ms_uses_the_scale() {
        let c = ReframedCluster {
            offset: 0,
            timecode: 90_000,
            timecode_scale_ns: 100_000,
            children: Vec::new(),
            children_len: 0,
            blocks: 0,
        };
        assert_eq!(c.timecode_ms(), 9_000);
    }

    #[test]
    fn fixture_children_are_due_every_40_ms() {
        let items = reframe(FIXTURE, 1 << 20);
        let clusters: Vec<&ReframedCluster> = items
            .iter()
            .filter_map(|i| match i {
                BodyItem::Cluster(c) => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(clusters.len(), 10);
        // 25 fps, no B-frames, a 2 s GOP per Cluster: 50 SimpleBlocks at 0, 40, …, 1960 ms.
        let expected: Vec<u64> = (0..50).map(|i| i * 40).collect();
        for c in clusters {
            assert_eq!(c.child_offsets_ms(), expected, "cluster at {}", c.timecode);
        }
    }

    #[test]
    fn child_offsets_read_blocks_and_block_groups_and_never_panic() {
        let element = |f: &dyn Fn(&mut EbmlWriter)| {
            let mut w = EbmlWriter::with_size_form(SizeForm::Minimal);
            f(&mut w);
            w.finish()
        };
        let simple = |tc: i16| {
            let [hi, lo] = tc.to_be_bytes();
            element(&|w| {
                w.binary(ids::SIMPLE_BLOCK, &[0x81, hi, lo, 0x80, 1, 2]);
            })
        };
        // A BlockGroup whose Block comes after a BlockDuration, on track 200 (2-byte vint).
        let group = element(&|w| {
            let g = w.start_master(ids::BLOCK_GROUP);
            w.uint(ids::BLOCK_DURATION, 40);
            w.binary(ids::BLOCK, &[0x40, 200, 0, 120, 0, 7]);
            w.end_master(g);
        });
        let group_without_block = element(&|w| {
            let g = w.start_master(ids::BLOCK_GROUP);
            w.uint(ids::BLOCK_DURATION, 40);
            w.end_master(g);
        });
        let encrypted = element(&|w| {
            w.binary(ids::ENCRYPTED_BLOCK, &[1, 2, 3]);
        });
        let children = vec![
            encrypted.clone(),                       // nothing before it: 0
            simple(40),                              // 40
            encrypted,                               // as the previous: 40
            group,                                   // 120
            Bytes::from_static(&[0xA3, 0x85, 0x81]), // size overruns: as the previous
            Bytes::from_static(&[0xA3, 0x81, 0x81]), // no timecode bytes: as the previous
            Bytes::from_static(&[0x00, 0x01]),       // no ID: as the previous
            Bytes::new(),                            // empty: as the previous
            group_without_block,                     // as the previous
            simple(-5),                              // before the Cluster: 0
            simple(i16::MAX),                        // 32767
        ];
        let mut c = ReframedCluster {
            offset: 0,
            timecode: 1000,
            timecode_scale_ns: 1_000_000,
            children_len: children.iter().map(|b| b.len() as u64).sum(),
            children,
            blocks: 4,
        };
        assert_eq!(c.child_offsets_ms(), vec![0, 40, 40, 120, 120, 120, 120, 120, 120, 0, 32767]);
        // TimecodeScale 0.1 ms: 40 → 4 ms, 120 → 12 ms, 32767 → 3276 ms (rounded down).
        c.timecode_scale_ns = 100_000;
        assert_eq!(c.child_offsets_ms(), vec![0, 4, 4, 12, 12, 12, 12, 12, 12, 0, 3276]);
        c.timecode_scale_ns = u64::MAX;
        assert_eq!(c.child_offsets_ms()[10], (32767 * u128::from(u64::MAX) / 1_000_000) as u64);
        c.children.clear();
        assert!(c.child_offsets_ms().is_empty());
    }

    #[test]
    fn oversized_cluster_is_an_error() {
        let mut r = Reframer::new(DemuxLimits::default(), 1000);
        r.push(Bytes::from_static(FIXTURE));
        let err = loop {
            match r.pull() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error"),
                Err(e) => break e,
            }
        };
        assert!(matches!(err, ReframeError::ClusterTooLarge { limit: 1000, .. }));
        assert!(err.to_string().contains("more than 1000 bytes"));
    }
}
