//! Re-framing a Matroska file as a KVS producer's PutMedia body: the byte rewriting `openkvs put`
//! needs to send a muxer's output (ffmpeg, GStreamer `matroskamux`, a file or a pipe) the way the KVS
//! producer SDK frames its own, one fragment per group of pictures.
//!
//! [`Reframer`] sits on the demuxer (`push` / `pull`, same alternation rule) and yields
//! [`BodyItem`]s: the EBML header, an unknown-size Segment header, Info and Tracks verbatim, then one
//! [`ReframedCluster`] per fragment, holding the blocks to re-emit. [`ReframedCluster::encode`]
//! writes it as a Cluster with an 8-byte size and an 8-byte Timecode of the caller's choosing
//! ([`cluster_prefix`]), so the receiver knows where the fragment ends as soon as its last byte
//! arrives and the timecode can be rewritten (epoch milliseconds) without touching the blocks.
//! [`ReframedCluster::child_offsets_ms`] reads when each block is due after the Cluster's Timecode,
//! for a producer that paces frames.
//!
//! # Fragments
//! The input's Clusters are not fragment boundaries (ffmpeg cuts them every second or 32 KiB when
//! writing to a pipe, wherever that falls). Blocks are re-clustered as the producer SDK does (PIC
//! `mkvgenGetStreamState`), by the [`FragmentPolicy`]:
//! * The video track is the first TrackEntry with TrackType 1. One of its key frames (a SimpleBlock
//!   with the key flag, a BlockGroup without ReferenceBlock) starts a new fragment once the open
//!   fragment holds [`FragmentPolicy::key_frames_per_fragment`] key frames and has lasted
//!   [`FragmentPolicy::min_duration_ms`] (from its first block to this key frame).
//! * Without a video track (audio only), a key block starts a new fragment once the open one has
//!   lasted `min_duration_ms`, [`DEFAULT_AUDIO_ONLY_FRAGMENT_MS`] when unset.
//! * Whatever the input, a block starts a new fragment if adding it would make the open one span
//!   [`FragmentPolicy::max_duration_ms`] or more (latest − earliest block timecode), put its
//!   relative timecode outside the 16-bit block field, or take the fragment past
//!   `max_cluster_bytes`. Such a cut can fall on a frame that is not a key frame (a GOP longer
//!   than the maximum): [`ReframedCluster::video_starts_on_key_frame`] says so.
//! * Video blocks before a Segment's first video key frame are dropped (no decoder can use them;
//!   the producer SDK drops frames until a key frame after a reset too) and counted in
//!   [`ReframedCluster::blocks_dropped`], for at most `max_duration_ms` (video whose blocks never
//!   carry the key flag is then sent as it is); audio blocks before it are kept and open the first
//!   fragment, whose video then starts on the key frame.
//! * Blocks keep their input order (decode order with B-frames, audio interleaved as muxed) and
//!   their absolute timecodes: a fragment's Cluster Timecode is its first block's absolute
//!   timecode, and every block's relative timecode is rewritten against it. A block whose relative
//!   timecode changes is copied (2 bytes differ); the others stay zero-copy slices of the input.
//!
//! What is dropped: SeekHead, Cues, Chapters, Attachments and Void at Segment level (the demuxer
//! discards them); segment-level Tags before a Segment's first Cluster (a muxer's file metadata
//! such as `ENCODER` or per-track `DURATION`, which a KVS producer never sends); the input's own
//! end-of-fragment Tags (fragments now end where the re-framer cuts them; the caller closes each
//! with [`end_of_fragment_tags`]); and, inside Clusters, the Timecode (rewritten), CRC-32 (it
//! would no longer match), Position and PrevSize (offsets in the original file) and Void. Other
//! segment-level Tags after a Cluster (producer metadata) are kept, right after the fragment that
//! was open when they arrived.
//!
//! Owns the byte layout and the fragment boundaries only: no I/O, no clocks, no choice of
//! timecodes sent (the caller decides how to re-time, see `crate::producer`). One fragment is
//! buffered whole (its blocks are slices of the input, or copies of the blocks re-timed), bounded
//! by `max_cluster_bytes`.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::demux::{DemuxLimits, MkvDemuxer, MkvEvent};
use super::error::MkvError;
use super::ids;
use super::tags;
use super::tracks::TrackKind;
use crate::media::ebml::reader::{Children, Parse, parse_header};
use crate::media::ebml::vint;
use crate::media::ebml::writer::EbmlWriter;

/// Length of [`cluster_prefix`]: Cluster ID (4) + 8-byte size + Timecode ID (1) + its size (1) +
/// 8 data bytes.
pub const CLUSTER_PREFIX_LEN: usize = 22;

/// Default [`Reframer`] bound on one Cluster's re-emitted children: 50 MiB, the KVS fragment limit.
pub const DEFAULT_MAX_CLUSTER_BYTES: u64 = 50 << 20;

/// Default [`FragmentPolicy::max_duration_ms`]: 10 s, the fragment duration limit of the KVS
/// documentation's limits page (newer pages say 20 s, the openkvs server's default), so a body
/// cut this way is accepted by either.
pub const DEFAULT_MAX_FRAGMENT_DURATION_MS: u64 = 10_000;

/// Fragment duration of an input without a video track when [`FragmentPolicy::min_duration_ms`]
/// is unset: 2 s, the producer SDK's default fragment duration.
pub const DEFAULT_AUDIO_ONLY_FRAGMENT_MS: u64 = 2_000;

/// Where the [`Reframer`] cuts fragments; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentPolicy {
    /// A fragment holds at least this many video key frames before the next one starts a new
    /// fragment (`0` is taken as 1).
    pub key_frames_per_fragment: u32,
    /// A key frame starts a new fragment only this long (ms) after the fragment's first block.
    /// For an input without video, the fragment duration ([`DEFAULT_AUDIO_ONLY_FRAGMENT_MS`]
    /// when unset).
    pub min_duration_ms: Option<u64>,
    /// No fragment spans this long (ms) or longer, key frame or not.
    pub max_duration_ms: u64,
}

impl Default for FragmentPolicy {
    fn default() -> Self {
        FragmentPolicy {
            key_frames_per_fragment: 1,
            min_duration_ms: None,
            max_duration_ms: DEFAULT_MAX_FRAGMENT_DURATION_MS,
        }
    }
}

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

/// One fragment, ready to be written as a Cluster with a new Timecode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReframedCluster {
    /// Absolute input offset of its first block.
    pub offset: u64,
    /// The Cluster Timecode in TimecodeScale units: its first block's absolute timecode (0 if
    /// that is negative), against which every block's relative timecode is written.
    pub timecode: u64,
    /// The Segment's TimecodeScale in nanoseconds.
    pub timecode_scale_ns: u64,
    /// The children to re-emit, in order, each a whole element.
    pub children: Vec<Bytes>,
    /// Total length of `children`.
    pub children_len: u64,
    /// Number of SimpleBlocks and BlockGroups among the children.
    pub blocks: usize,
    /// Whether the video track's first block in the fragment is a key frame (true when the input
    /// has no video track or the fragment no video block).
    pub video_starts_on_key_frame: bool,
    /// Video blocks dropped since the previous fragment because no key frame had come yet.
    pub blocks_dropped: u64,
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
                if let Some(block) = BlockInfo::read(child) {
                    let relative = block.relative_timecode;
                    let ns = u128::try_from(relative).unwrap_or(0) * u128::from(self.timecode_scale_ns);
                    previous = u64::try_from(ns / 1_000_000).unwrap_or(u64::MAX);
                }
                previous
            })
            .collect()
    }
}

/// What the re-framer reads from a whole SimpleBlock or BlockGroup element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BlockInfo {
    /// Track number.
    track: u64,
    /// The 16-bit signed timecode relative to the Cluster's.
    relative_timecode: i16,
    /// Where those two bytes are inside the element.
    timecode_at: usize,
    /// SimpleBlock key flag; for a BlockGroup, the absence of ReferenceBlock.
    key_frame: bool,
}

impl BlockInfo {
    /// Reads a whole SimpleBlock or BlockGroup (from the BlockGroup's first Block); `None` for
    /// another element or a malformed one.
    fn read(element: &[u8]) -> Option<BlockInfo> {
        let Ok(Parse::Complete(header)) = parse_header(element, 0) else { return None };
        let len = usize::try_from(header.size.known()?).ok()?;
        let data = element.get(header.header_len..)?.get(..len)?;
        match header.id {
            ids::SIMPLE_BLOCK => {
                let (track, relative_timecode, at) = block_payload_header(data)?;
                let flags = *data.get(at + 2)?;
                Some(BlockInfo {
                    track,
                    relative_timecode,
                    timecode_at: header.header_len + at,
                    key_frame: flags & 0x80 != 0,
                })
            }
            ids::BLOCK_GROUP => {
                let mut block = None;
                let mut referenced = false;
                for child in Children::new(data, header.header_len as u64).map_while(Result::ok) {
                    match child.id {
                        ids::BLOCK if block.is_none() => block = Some(child),
                        ids::REFERENCE_BLOCK => referenced = true,
                        _ => {}
                    }
                }
                let block = block?;
                let (track, relative_timecode, at) = block_payload_header(block.data)?;
                Some(BlockInfo {
                    track,
                    relative_timecode,
                    timecode_at: usize::try_from(block.data_offset).ok()?.checked_add(at)?,
                    key_frame: !referenced,
                })
            }
            _ => None,
        }
    }
}

/// The track number and 16-bit signed timecode of a (Simple)Block payload, and where the
/// timecode is in it.
fn block_payload_header(payload: &[u8]) -> Option<(u64, i16, usize)> {
    let (track, len) = vint::read_unsigned(payload).ok()??;
    match payload.get(len..len.checked_add(2)?)? {
        [hi, lo] => Some((track, i16::from_be_bytes([*hi, *lo]), len)),
        _ => None,
    }
}

/// `element` with the two bytes at `at` replaced by `timecode` (a copy).
fn with_relative_timecode(element: &Bytes, at: usize, timecode: i16) -> Bytes {
    let mut copy = BytesMut::from(&element[..]);
    if let Some(field) = copy.get_mut(at..at + 2) {
        field.copy_from_slice(&timecode.to_be_bytes());
    }
    copy.freeze()
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
    /// A fragment, with at least one block.
    Cluster(ReframedCluster),
    /// A segment-level Tags element (producer metadata) that followed a Cluster, verbatim.
    Tags {
        /// The whole element.
        raw: Bytes,
    },
}

/// Why the input cannot be re-framed.
#[derive(Debug, Clone, PartialEq)]
pub enum ReframeError {
    /// The input is not valid Matroska.
    Mkv(MkvError),
    /// One block alone exceeds the fragment size bound.
    ClusterTooLarge {
        /// Input offset of the block.
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
                write!(f, "the block at byte {offset} is larger than {limit} bytes (the fragment size limit)")
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

/// The fragment being gathered. Timecodes are absolute, in TimecodeScale units.
#[derive(Debug)]
struct OpenFragment {
    offset: u64,
    timecode: u64,
    first: i128,
    earliest: i128,
    latest: i128,
    /// Cut points seen in it (video key frames; key blocks without video).
    key_frames: u32,
    first_video_key_frame: Option<bool>,
    children: Vec<Bytes>,
    children_len: u64,
    blocks: usize,
}

/// Turns a Matroska byte stream into [`BodyItem`]s. See the module documentation.
#[derive(Debug)]
pub struct Reframer {
    demux: MkvDemuxer,
    max_cluster_bytes: u64,
    policy: FragmentPolicy,
    timecode_scale_ns: u64,
    /// Track number of the current Tracks' first video track.
    video_track: Option<u64>,
    /// The current input Cluster's Timecode.
    cluster_timecode: Option<u64>,
    open: Option<OpenFragment>,
    /// Items ready to be pulled, in order.
    ready: VecDeque<BodyItem>,
    /// Tags that arrived while a fragment was open: they follow it.
    deferred: Vec<BodyItem>,
    /// A Cluster was seen in the current Segment (later Tags are kept).
    seen_cluster: bool,
    /// A video key frame was seen in the current Segment.
    seen_video_key_frame: bool,
    /// Video blocks dropped since the last fragment was closed.
    dropped: u64,
    /// Absolute timecode of the first video block dropped while waiting for a key frame.
    dropping_since: Option<i128>,
    /// The error to return once `ready` is drained.
    error: Option<ReframeError>,
}

impl Default for Reframer {
    fn default() -> Self {
        Self::new(DemuxLimits::default(), DEFAULT_MAX_CLUSTER_BYTES, FragmentPolicy::default())
    }
}

impl Reframer {
    /// A re-framer expecting the start of a Matroska stream.
    pub fn new(limits: DemuxLimits, max_cluster_bytes: u64, policy: FragmentPolicy) -> Self {
        Reframer {
            demux: MkvDemuxer::new(limits),
            max_cluster_bytes,
            policy,
            timecode_scale_ns: 1_000_000,
            video_track: None,
            cluster_timecode: None,
            open: None,
            ready: VecDeque::new(),
            deferred: Vec::new(),
            seen_cluster: false,
            seen_video_key_frame: false,
            dropped: 0,
            dropping_since: None,
            error: None,
        }
    }

    /// A re-framer with the default limits and `policy`.
    pub fn with_policy(policy: FragmentPolicy) -> Self {
        Self::new(DemuxLimits::default(), DEFAULT_MAX_CLUSTER_BYTES, policy)
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
    /// end), or the error that makes the rest of the input unusable. The fragment open when the
    /// input turns out invalid (or cut short) is still yielded, before the error: its blocks are
    /// whole.
    pub fn pull(&mut self) -> Result<Option<BodyItem>, ReframeError> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Ok(Some(item));
            }
            if let Some(e) = &self.error {
                return Err(e.clone());
            }
            let event = match self.demux.pull() {
                Ok(Some(event)) => event,
                Ok(None) => {
                    if self.demux.is_finished() {
                        self.close_fragment();
                        if !self.ready.is_empty() {
                            continue;
                        }
                    }
                    return Ok(None);
                }
                Err(e) => {
                    self.close_fragment();
                    self.error = Some(e.into());
                    continue;
                }
            };
            if let Err(e) = self.on_event(event) {
                self.close_fragment();
                self.error = Some(e);
            }
        }
    }

    /// Asserts the internal invariants; panics if one is broken. Meant for tests and fuzz targets,
    /// which call it after every push and pull.
    pub fn check_invariants(&self) {
        self.demux.check_invariants();
        if let Some(f) = &self.open {
            assert!(f.blocks >= 1, "open fragment without a block");
            assert!(f.blocks <= f.children.len());
            assert_eq!(f.children_len, f.children.iter().map(|c| c.len() as u64).sum::<u64>());
            assert!(f.children_len <= self.max_cluster_bytes, "fragment above the size bound");
            assert!(f.earliest <= f.first && f.first <= f.latest);
            assert!(
                f.blocks == 1
                    || self.units_to_ms(f.latest - f.earliest) < i128::from(self.policy.max_duration_ms),
                "fragment spans the maximum duration"
            );
        } else {
            assert!(self.deferred.is_empty(), "Tags deferred without an open fragment");
        }
        if self.error.is_some() {
            assert!(self.open.is_none(), "fragment still open after an error");
        }
    }

    fn units_to_ms(&self, units: i128) -> i128 {
        units.saturating_mul(i128::from(self.timecode_scale_ns)) / 1_000_000
    }

    /// Closes the open fragment (if any): it, then the Tags that arrived during it, become ready.
    fn close_fragment(&mut self) {
        if let Some(f) = self.open.take() {
            self.ready.push_back(BodyItem::Cluster(ReframedCluster {
                offset: f.offset,
                timecode: f.timecode,
                timecode_scale_ns: self.timecode_scale_ns,
                children: f.children,
                children_len: f.children_len,
                blocks: f.blocks,
                video_starts_on_key_frame: f.first_video_key_frame.unwrap_or(true),
                blocks_dropped: std::mem::take(&mut self.dropped),
            }));
        }
        self.ready.extend(self.deferred.drain(..));
    }

    fn on_event(&mut self, event: MkvEvent) -> Result<(), ReframeError> {
        match event {
            MkvEvent::EbmlHeader { raw, .. } => {
                self.close_fragment();
                self.ready.push_back(BodyItem::Header(raw));
            }
            MkvEvent::SegmentStart { .. } => {
                self.close_fragment();
                self.seen_cluster = false;
                self.seen_video_key_frame = false;
                self.dropping_since = None;
                self.video_track = None;
                self.ready.push_back(BodyItem::Header(unknown_size_segment_header()));
            }
            MkvEvent::Info { raw, timecode_scale_ns, .. } => {
                self.close_fragment();
                self.timecode_scale_ns = timecode_scale_ns;
                self.ready.push_back(BodyItem::Info { raw, timecode_scale_ns });
            }
            MkvEvent::Tracks { raw, tracks, .. } => {
                self.close_fragment();
                self.video_track = tracks.iter().find(|t| t.kind == TrackKind::Video).map(|t| t.number);
                self.ready.push_back(BodyItem::Header(raw));
            }
            MkvEvent::Tags { raw, tags, .. } => {
                let end_of_fragment = tags.iter().any(|t| t.is_end_of_fragment());
                if self.seen_cluster && !end_of_fragment {
                    let item = BodyItem::Tags { raw };
                    if self.open.is_some() {
                        self.deferred.push(item);
                    } else {
                        self.ready.push_back(item);
                    }
                }
            }
            MkvEvent::ClusterStart { .. } => {
                self.seen_cluster = true;
                self.cluster_timecode = None;
            }
            MkvEvent::ClusterTimecode { timecode } => self.cluster_timecode = Some(timecode),
            MkvEvent::ClusterChild { offset, id, raw } if keeps_cluster_child(id) => {
                self.on_cluster_child(offset, raw)?;
            }
            MkvEvent::SegmentEnd { .. } => self.close_fragment(),
            MkvEvent::ClusterChild { .. } | MkvEvent::Frame(_) | MkvEvent::ClusterEnd { .. } => {}
        }
        Ok(())
    }

    fn on_cluster_child(&mut self, offset: u64, raw: Bytes) -> Result<(), ReframeError> {
        let len = raw.len() as u64;
        if len > self.max_cluster_bytes {
            return Err(ReframeError::ClusterTooLarge { offset, limit: self.max_cluster_bytes });
        }
        // The demuxer refuses a block before its Cluster's Timecode, so a block always has one.
        let (Some(block), Some(cluster_timecode)) = (BlockInfo::read(&raw), self.cluster_timecode) else {
            // Not a block: it stays with the blocks around it (nothing to attach it to before
            // the first block).
            if let Some(f) = self.open.as_mut() {
                if f.children_len + len > self.max_cluster_bytes {
                    return Err(ReframeError::ClusterTooLarge { offset, limit: self.max_cluster_bytes });
                }
                f.children_len += len;
                f.children.push(raw);
            }
            return Ok(());
        };
        let at = i128::from(cluster_timecode) + i128::from(block.relative_timecode);
        let is_video = self.video_track == Some(block.track);
        if self.video_track.is_some() && !self.seen_video_key_frame && is_video {
            // Waiting for the first key frame, but not forever: video whose blocks never carry
            // the key flag is sent after all once it has been dropped for the maximum duration.
            let since = *self.dropping_since.get_or_insert(at);
            let waited = self.units_to_ms(at - since) >= i128::from(self.policy.max_duration_ms);
            if !block.key_frame && !waited {
                self.dropped += 1;
                return Ok(());
            }
            self.seen_video_key_frame = true;
        }
        let cut_point = block.key_frame && (is_video || self.video_track.is_none());
        let starts_fragment = match &self.open {
            None => true,
            Some(f) => {
                let (key_frames, min_ms) = match self.video_track {
                    Some(_) => {
                        (self.policy.key_frames_per_fragment.max(1), self.policy.min_duration_ms.unwrap_or(0))
                    }
                    None => (1, self.policy.min_duration_ms.unwrap_or(DEFAULT_AUDIO_ONLY_FRAGMENT_MS)),
                };
                // A fragment cut mid-GOP ends at the next key frame, whatever the policy. A key
                // frame at the instant the fragment began never starts another (the two would
                // share a Timecode, which KVS refuses with 4004): RTSP captures write a camera's
                // in-band SPS/PPS as a key block of its own, at the key frame's time.
                let on_key_frame = cut_point
                    && at > f.first
                    && (f.first_video_key_frame == Some(false)
                        || (f.key_frames >= key_frames
                            && self.units_to_ms(at - f.first) >= i128::from(min_ms)));
                let span = f.latest.max(at) - f.earliest.min(at);
                let too_long = self.units_to_ms(span) >= i128::from(self.policy.max_duration_ms);
                let relative_overflows = i16::try_from(at - i128::from(f.timecode)).is_err();
                let too_large = f.children_len + len > self.max_cluster_bytes;
                on_key_frame || too_long || relative_overflows || too_large
            }
        };
        if starts_fragment {
            self.close_fragment();
        }
        let f = self.open.get_or_insert_with(|| OpenFragment {
            offset,
            timecode: u64::try_from(at.max(0)).unwrap_or(u64::MAX),
            first: at,
            earliest: at,
            latest: at,
            key_frames: 0,
            first_video_key_frame: None,
            children: Vec::new(),
            children_len: 0,
            blocks: 0,
        });
        // A fragment's Timecode is its first block's, so the first block always fits (a negative
        // one against Timecode 0 keeps its own relative value).
        let relative = i16::try_from(at - i128::from(f.timecode)).unwrap_or(block.relative_timecode);
        let child = if relative == block.relative_timecode {
            raw
        } else {
            with_relative_timecode(&raw, block.timecode_at, relative)
        };
        f.earliest = f.earliest.min(at);
        f.latest = f.latest.max(at);
        if cut_point {
            f.key_frames = f.key_frames.saturating_add(1);
        }
        if is_video && f.first_video_key_frame.is_none() {
            f.first_video_key_frame = Some(block.key_frame);
        }
        f.children_len += len;
        f.children.push(child);
        f.blocks += 1;
        Ok(())
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
        reframe_with(input, piece, FragmentPolicy::default())
    }

    /// Same, with `policy`, checking the invariants after every push and pull.
    fn reframe_with(input: &[u8], piece: usize, policy: FragmentPolicy) -> Vec<BodyItem> {
        let mut r = Reframer::with_policy(policy);
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            r.push(Bytes::copy_from_slice(chunk));
            r.check_invariants();
            while let Some(item) = r.pull().unwrap() {
                r.check_invariants();
                out.push(item);
            }
            r.check_invariants();
        }
        r.finish();
        while let Some(item) = r.pull().unwrap() {
            r.check_invariants();
            out.push(item);
        }
        r.check_invariants();
        out
    }

    fn clusters(items: &[BodyItem]) -> Vec<&ReframedCluster> {
        items
            .iter()
            .filter_map(|i| match i {
                BodyItem::Cluster(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// One frame as a player sees it: track, absolute timecode (TimecodeScale units), key flag,
    /// lace index, bytes.
    type AbsoluteFrame = (u64, i128, bool, u8, Bytes);

    /// Every frame of a body with its absolute timecode, and per Cluster the index of its first
    /// frame.
    fn absolute_frames(body: &[u8]) -> (Vec<AbsoluteFrame>, Vec<usize>) {
        let mut frames = Vec::new();
        let mut starts = Vec::new();
        let mut cluster = 0i128;
        for e in demux_all(body) {
            match e {
                MkvEvent::ClusterTimecode { timecode } => {
                    cluster = i128::from(timecode);
                    starts.push(frames.len());
                }
                MkvEvent::Frame(f) => frames.push((
                    f.track,
                    cluster + i128::from(f.timecode_rel),
                    f.keyframe,
                    f.lace_index,
                    f.data,
                )),
                _ => {}
            }
        }
        (frames, starts)
    }

    /// The frames of each Cluster of a body.
    fn frames_by_cluster(body: &[u8]) -> Vec<Vec<AbsoluteFrame>> {
        let (frames, starts) = absolute_frames(body);
        let mut out = Vec::new();
        for (i, &s) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(frames.len());
            out.push(frames[s..end].to_vec());
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
                BodyItem::Header(b) | BodyItem::Info { raw: b, .. } | BodyItem::Tags { raw: b } => {
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
        // A re-framer drops it: its fragments end where it cuts them (the caller closes each).
        let again = reframe(&out, 4096);
        assert!(again.iter().all(|i| !matches!(i, BodyItem::Tags { .. })));
        assert_eq!(body(&again, |tc| tc), body(&items, |tc| tc));
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
        assert_eq!(items[5], BodyItem::Tags { raw: meta });
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
            video_starts_on_key_frame: true,
            blocks_dropped: 0,
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
            video_starts_on_key_frame: true,
            blocks_dropped: 0,
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
        let mut r = Reframer::new(DemuxLimits::default(), 1000, FragmentPolicy::default());
        r.push(Bytes::from_static(FIXTURE));
        let err = loop {
            match r.pull() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error"),
                Err(e) => break e,
            }
        };
        assert!(matches!(err, ReframeError::ClusterTooLarge { limit: 1000, .. }));
        assert!(err.to_string().contains("larger than 1000 bytes"));
    }

    const BFRAMES: &[u8] = include_bytes!("../../../tests/fixtures/h264_bframes_aac_640x360_10s.mkv");
    const STREAMABLE: &[u8] =
        include_bytes!("../../../tests/fixtures/gst_matroskamux_streamable_h264_10s.mkv");
    const CPRODUCER: &[u8] = include_bytes!("../../../tests/fixtures/cproducer_1.6.4_putmedia_body.mkv");

    /// Re-frames `input` (in two chunkings, which must agree) and checks the result against it:
    /// the same frames (track, absolute timecode, key flag, bytes) in the same order, every
    /// Cluster's Timecode its first frame's, and every Cluster's `video` frames starting with the
    /// one key frame it holds. Returns the frames of each Cluster.
    fn assert_one_fragment_per_gop(input: &[u8], video: u64) -> Vec<Vec<AbsoluteFrame>> {
        let items = reframe(input, 64 * 1024);
        assert_eq!(reframe(input, 997), items, "chunking changes nothing");
        let out = body(&items, |tc| tc);
        assert_eq!(absolute_frames(&out).0, absolute_frames(input).0, "frames and their times unchanged");
        let by_cluster = frames_by_cluster(&out);
        let cs = clusters(&items);
        assert_eq!(by_cluster.len(), cs.len());
        for (c, frames) in cs.iter().zip(&by_cluster) {
            let first_video = frames.iter().find(|f| f.0 == video).expect("video in every fragment");
            assert!(first_video.2, "the Cluster at {} starts on a frame that is not a key frame", c.timecode);
            assert_eq!(frames.iter().filter(|f| f.0 == video && f.2).count(), 1, "one GOP");
            assert!(c.video_starts_on_key_frame);
            assert_eq!(c.blocks_dropped, 0);
            assert_eq!(i128::from(c.timecode), frames[0].1);
        }
        by_cluster
    }

    #[test]
    fn ffmpeg_clusters_cut_by_time_become_one_fragment_per_gop() {
        // The file's 27 Clusters are cut by time, most of them in the middle of a GOP.
        let input = frames_by_cluster(BFRAMES);
        assert_eq!(input.len(), 27);
        let mid_gop = input.iter().filter(|c| c.iter().find(|f| f.0 == 1).is_some_and(|f| !f.2)).count();
        assert!(mid_gop >= 20, "{mid_gop} input Clusters start mid-GOP");
        let out = assert_one_fragment_per_gop(BFRAMES, 1);
        // Five 2 s GOPs, each fragment starting on its key frame, B-frames and audio following in
        // input order. The audio at 0 ms, muxed after the first key frame (21 ms), keeps its time
        // with a negative relative timecode.
        assert_eq!(out.len(), 5);
        let starts: Vec<(u64, i128, bool)> = out.iter().map(|c| (c[0].0, c[0].1, c[0].2)).collect();
        assert_eq!(
            starts,
            [(1, 21, true), (1, 2021, true), (1, 4021, true), (1, 6021, true), (1, 8021, true)]
        );
        assert_eq!(out[0].iter().map(|f| f.1).min(), Some(0));
        // B-frames: decode order is kept, so timecodes inside a fragment are not monotonic.
        let video: Vec<i128> = out[1].iter().filter(|f| f.0 == 1).map(|f| f.1).collect();
        assert!(video.windows(2).any(|w| w[1] < w[0]));
    }

    #[test]
    fn gstreamer_and_producer_bodies_keep_their_key_frame_clusters() {
        let out = assert_one_fragment_per_gop(STREAMABLE, 1);
        assert_eq!(out.len(), 7);
        // A captured C producer body: one Cluster per GOP already; its end-of-fragment Tags go,
        // its metadata Tags stay, in order.
        let items = reframe(CPRODUCER, 4096);
        let mut seen_cluster = false;
        let metadata_in: Vec<Bytes> = demux_all(CPRODUCER)
            .into_iter()
            .filter_map(|e| match e {
                MkvEvent::ClusterStart { .. } => {
                    seen_cluster = true;
                    None
                }
                MkvEvent::Tags { raw, tags, .. }
                    if seen_cluster && !tags.iter().any(|t| t.is_end_of_fragment()) =>
                {
                    Some(raw)
                }
                _ => None,
            })
            .collect();
        let metadata_out: Vec<Bytes> = items
            .iter()
            .filter_map(|i| match i {
                BodyItem::Tags { raw } => Some(raw.clone()),
                _ => None,
            })
            .collect();
        assert!(!metadata_in.is_empty());
        assert_eq!(metadata_out, metadata_in);
        let input: Vec<u64> = demux_all(CPRODUCER)
            .iter()
            .filter_map(|e| match e {
                MkvEvent::ClusterTimecode { timecode } => Some(*timecode),
                _ => None,
            })
            .collect();
        let output: Vec<u64> = clusters(&items).iter().map(|c| c.timecode).collect();
        assert_eq!(output, input);
        assert_one_fragment_per_gop(CPRODUCER, 1);
    }

    #[test]
    fn policy_groups_key_frames_and_caps_the_duration() {
        let starts = |policy| {
            let items = reframe_with(FIXTURE, 64 * 1024, policy);
            let out = body(&items, |tc| tc);
            assert_eq!(absolute_frames(&out).0, absolute_frames(FIXTURE).0);
            clusters(&items).iter().map(|c| (c.timecode, c.video_starts_on_key_frame)).collect::<Vec<_>>()
        };
        let every = |ms: u64, n: u64| (0..n).map(|i| (i * ms, true)).collect::<Vec<_>>();
        let policy = FragmentPolicy::default();
        assert_eq!(starts(policy), every(2000, 10));
        assert_eq!(starts(FragmentPolicy { key_frames_per_fragment: 2, ..policy }), every(4000, 5));
        assert_eq!(starts(FragmentPolicy { key_frames_per_fragment: 0, ..policy }), every(2000, 10));
        assert_eq!(starts(FragmentPolicy { min_duration_ms: Some(3000), ..policy }), every(4000, 5));
        assert_eq!(starts(FragmentPolicy { min_duration_ms: Some(2000), ..policy }), every(2000, 10));
        // 4 key frames but at most 5 s: cut at the 5 s mark, then again at the next key frame.
        let capped = FragmentPolicy { key_frames_per_fragment: 4, max_duration_ms: 5000, ..policy };
        assert_eq!(
            starts(capped),
            [
                (0, true),
                (5000, false),
                (6000, true),
                (11_000, false),
                (12_000, true),
                (17_000, false),
                (18_000, true)
            ]
        );
        // GOPs (2 s) longer than the maximum: every other fragment starts mid-GOP.
        let capped = starts(FragmentPolicy { max_duration_ms: 1000, ..policy });
        assert_eq!(capped, (0..20).map(|i| (i * 1000, i % 2 == 0)).collect::<Vec<_>>());
    }

    /// An input Cluster for [`document`]: its Timecode and SimpleBlocks of (track, relative
    /// timecode, key flag).
    type InputCluster = (u64, Vec<(u64, i16, bool)>);

    /// A Matroska document built by hand: TimecodeScale, tracks (number, TrackType), then known-size
    /// Clusters of (Timecode, SimpleBlocks of (track, relative timecode, key flag)).
    fn document(scale_ns: u64, tracks: &[(u64, u64)], clusters: &[InputCluster]) -> Vec<u8> {
        let mut w = EbmlWriter::with_size_form(SizeForm::Minimal);
        let h = w.start_master(ids::EBML);
        w.string(ids::DOC_TYPE, "matroska");
        w.end_master(h);
        w.unknown_size_header(ids::SEGMENT, 1);
        let info = w.start_master(ids::INFO);
        w.uint(ids::TIMECODE_SCALE, scale_ns);
        w.end_master(info);
        let t = w.start_master(ids::TRACKS);
        for &(number, kind) in tracks {
            let entry = w.start_master(ids::TRACK_ENTRY);
            let codec = if kind == 1 { "V_MPEG4/ISO/AVC" } else { "A_AAC" };
            w.uint(ids::TRACK_NUMBER, number).uint(ids::TRACK_TYPE, kind).string(ids::CODEC_ID, codec);
            w.end_master(entry);
        }
        w.end_master(t);
        for (timecode, blocks) in clusters {
            let c = w.start_master(ids::CLUSTER);
            w.uint(ids::TIMECODE, *timecode);
            for (i, &(track, relative, key)) in blocks.iter().enumerate() {
                let [hi, lo] = relative.to_be_bytes();
                let flags = if key { 0x80 } else { 0 };
                w.binary(ids::SIMPLE_BLOCK, &[0x80 | track as u8, hi, lo, flags, i as u8, 0xEE]);
            }
            w.end_master(c);
        }
        w.finish().to_vec()
    }

    fn summary(frames: &[AbsoluteFrame]) -> Vec<(u64, i128, bool)> {
        frames.iter().map(|f| (f.0, f.1, f.2)).collect()
    }

    #[test]
    fn key_blocks_sharing_a_timecode_stay_in_one_fragment() {
        // An RTSP capture: every GOP starts with two key blocks at the same time (the in-band
        // SPS/PPS, then the IDR picture).
        let gop = |t: i16| vec![(1, t, true), (1, t, true), (1, t + 40, false), (1, t + 80, false)];
        let doc = document(1_000_000, &[(1, 1)], &[(0, [gop(0), gop(1000), gop(2000)].concat())]);
        let items = reframe_with(&doc, 64 * 1024, FragmentPolicy::default());
        let starts: Vec<u64> = clusters(&items).iter().map(|c| c.timecode).collect();
        assert_eq!(starts, [0, 1000, 2000]);
    }

    #[test]
    fn video_before_the_first_key_frame_is_dropped_and_audio_kept() {
        // Video (track 1) joins mid-GOP: two P-frames, then a key frame at 80 ms; audio (track 2)
        // from 0. The second input Cluster has audio before its key frame.
        let doc = document(
            1_000_000,
            &[(1, 1), (2, 2)],
            &[
                (
                    0,
                    vec![
                        (2, 0, true),
                        (1, 0, false),
                        (1, 40, false),
                        (2, 21, true),
                        (1, 80, true),
                        (2, 42, true),
                        (1, 120, false),
                    ],
                ),
                (1000, vec![(2, 0, true), (1, 0, true), (1, 40, false)]),
            ],
        );
        let items = reframe(&doc, 7);
        let cs = clusters(&items);
        assert_eq!(cs.len(), 2);
        assert_eq!(
            (cs[0].timecode, cs[0].blocks, cs[0].blocks_dropped, cs[0].video_starts_on_key_frame),
            (0, 6, 2, true)
        );
        assert_eq!((cs[1].timecode, cs[1].blocks, cs[1].blocks_dropped), (1000, 2, 0));
        let by = frames_by_cluster(&body(&items, |tc| tc));
        assert_eq!(
            summary(&by[0]),
            [(2, 0, true), (2, 21, true), (1, 80, true), (2, 42, true), (1, 120, false), (2, 1000, true)]
        );
        assert_eq!(summary(&by[1]), [(1, 1000, true), (1, 1040, false)]);

        // Video without a single key flag is not dropped forever: after the maximum duration
        // (10 s) it is sent as it is, and said to start without a key frame.
        let input: Vec<InputCluster> =
            (0..15).map(|s| (s * 1000, (0..25).map(|i| (1, i * 40, false)).collect())).collect();
        let items = reframe(&document(1_000_000, &[(1, 1)], &input), 4096);
        let cs = clusters(&items);
        assert_eq!(cs.len(), 1);
        assert_eq!((cs[0].timecode, cs[0].blocks, cs[0].blocks_dropped), (10_000, 125, 250));
        assert!(!cs[0].video_starts_on_key_frame);
    }

    #[test]
    fn audio_only_input_is_cut_by_duration() {
        // 5 s of audio, a frame every 20 ms, in input Clusters of 1 s.
        let input: Vec<InputCluster> =
            (0..5).map(|s| (s * 1000, (0..50).map(|i| (1, i * 20, true)).collect())).collect();
        let doc = document(1_000_000, &[(1, 2)], &input);
        let starts = |policy| {
            clusters(&reframe_with(&doc, 4096, policy)).iter().map(|c| c.timecode).collect::<Vec<_>>()
        };
        assert_eq!(starts(FragmentPolicy::default()), [0, 2000, 4000]);
        assert_eq!(
            starts(FragmentPolicy { min_duration_ms: Some(1500), ..FragmentPolicy::default() }),
            [0, 1500, 3000, 4500]
        );
    }

    #[test]
    fn relative_timecodes_stay_in_16_bits() {
        // TimecodeScale 0.1 ms: a relative timecode reaches at most 3.2767 s. Key frames every
        // 5 s, a frame every 40 ms, input Clusters of 1 s.
        let input: Vec<InputCluster> = (0..10u64)
            .map(|s| {
                (
                    s * 10_000,
                    (0..25i16).map(|i| (1, i * 400, (s * 25 + i as u64).is_multiple_of(125))).collect(),
                )
            })
            .collect();
        let doc = document(100_000, &[(1, 1)], &input);
        let items = reframe(&doc, 4096);
        assert_eq!(absolute_frames(&body(&items, |tc| tc)).0, absolute_frames(&doc).0);
        let starts: Vec<(u64, bool)> =
            clusters(&items).iter().map(|c| (c.timecode, c.video_starts_on_key_frame)).collect();
        // 3.24 s is the last frame that fits after 0; 3.28 s starts a fragment mid-GOP, which
        // ends at the next key frame (5 s).
        assert_eq!(starts, [(0, true), (32_800, false), (50_000, true), (82_800, false)]);
    }

    #[test]
    fn truncated_input_yields_the_open_fragment_then_the_error() {
        // Cut 3 bytes into the 26th block of the sixth GOP (blocks 250..300).
        let blocks: Vec<u64> = demux_all(FIXTURE)
            .iter()
            .filter_map(|e| match e {
                MkvEvent::ClusterChild { offset, id: ids::SIMPLE_BLOCK, .. } => Some(*offset),
                _ => None,
            })
            .collect();
        let cut = &FIXTURE[..blocks[275] as usize + 3];
        let mut r = Reframer::default();
        r.push(Bytes::copy_from_slice(cut));
        r.finish();
        let mut items = Vec::new();
        let err = loop {
            match r.pull() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => panic!("no error"),
                Err(e) => break e,
            }
        };
        r.check_invariants();
        assert!(err.to_string().contains("invalid Matroska input"), "{err}");
        let cs = clusters(&items);
        // Five whole GOPs, then the 25 blocks of the sixth that arrived whole.
        assert_eq!(cs.iter().map(|c| c.blocks).collect::<Vec<_>>(), [50, 50, 50, 50, 50, 25]);
        assert_eq!(r.pull(), Err(err));
    }
}
