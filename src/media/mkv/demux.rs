//! The incremental Matroska demuxer for live PutMedia bodies: bytes are pushed in whatever pieces
//! the network delivers, [`MkvEvent`]s are pulled out (headers, cluster boundaries, frames,
//! segment-level Tags) as soon as each element is complete.
//!
//! Owns element framing and the Matroska structure of a live stream: EBML header, Segments and
//! Clusters of known or unknown size, level-1 elements, blocks and lacing. It must not do I/O,
//! apply KVS fragment policy (that is `crate::media::fragment`), copy frame data, or buffer more
//! than one element at a time (bounded by [`DemuxLimits`]).
//!
//! # What is buffered
//! Only the element currently being read. Elements the demuxer does not need (SeekHead, Cues,
//! Chapters, Attachments, Void, CRC-32 outside Clusters, unknown elements inside a known-size
//! Segment) are discarded as they arrive, whatever their size. Header elements (EBML header, Info,
//! Tracks, Tags) are buffered whole up to [`DemuxLimits::max_header_element_size`]; every child of
//! a Cluster up to [`DemuxLimits::max_block_size`]. A larger declared size is an error as soon as
//! the element header is seen, never an allocation.
//!
//! # Unknown sizes
//! Only Segment and Cluster may have unknown size. An unknown-size Cluster ends where an element
//! that cannot be its child begins (a level-1 element, a Segment or an EBML header) or at the end
//! of input; an unknown-size Segment ends at a new EBML header or at the end of input.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::error::{ElementPath, MkvError, MkvErrorKind};
use super::ids;
use super::tags::{self, SimpleTag, TagLimits};
use super::tracks::{self, TrackEntry};
use crate::media::ebml::reader::{self, Children, ElementHeader, Parse};
use crate::media::ebml::vint::{self, ElementSize};

/// Default [`DemuxLimits::max_header_element_size`]: 1 MiB.
pub const DEFAULT_MAX_HEADER_ELEMENT_SIZE: u64 = 1 << 20;
/// Default [`DemuxLimits::max_block_size`]: 50 MiB (the KVS fragment size limit).
pub const DEFAULT_MAX_BLOCK_SIZE: u64 = 50 << 20;

/// Bounds on what the demuxer buffers and parses. Exceeding one is an [`MkvError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemuxLimits {
    /// Largest data size of an EBML header, Info, Tracks or Tags element (buffered whole).
    pub max_header_element_size: u64,
    /// Largest data size of any child of a Cluster (SimpleBlock, BlockGroup, ...).
    pub max_block_size: u64,
    /// Deepest nesting of SimpleTags inside SimpleTags.
    pub max_nesting: usize,
    /// Most TrackEntries in one Tracks element.
    pub max_track_entries: usize,
    /// Most SimpleTags (nested ones included) in one Tags element.
    pub max_simple_tags: usize,
}

impl Default for DemuxLimits {
    fn default() -> Self {
        DemuxLimits {
            max_header_element_size: DEFAULT_MAX_HEADER_ELEMENT_SIZE,
            max_block_size: DEFAULT_MAX_BLOCK_SIZE,
            max_nesting: 16,
            max_track_entries: 64,
            max_simple_tags: 1024,
        }
    }
}

impl DemuxLimits {
    /// The most bytes the demuxer holds after a pull returned `Ok(None)`: the largest element it
    /// buffers whole plus the longest possible element header (12 bytes).
    pub fn max_buffered(&self) -> u64 {
        self.max_header_element_size.max(self.max_block_size).saturating_add(12)
    }
}

/// One frame of a block (a laced block yields one `Frame` per laced frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Track number from the block header.
    pub track: u64,
    /// Block timecode relative to the Cluster Timecode, in TimecodeScale units.
    pub timecode_rel: i16,
    /// SimpleBlock key flag; for a BlockGroup, the absence of ReferenceBlock.
    pub keyframe: bool,
    /// Invisible flag (decode, don't show).
    pub invisible: bool,
    /// SimpleBlock discardable flag (always false for BlockGroup).
    pub discardable: bool,
    /// BlockDuration in TimecodeScale units, if the block is in a BlockGroup that has one (for a
    /// laced block, the BlockDuration divided by the number of frames).
    pub duration: Option<u64>,
    /// Index of this frame inside its laced block (0 for unlaced blocks).
    pub lace_index: u8,
    /// The frame bytes: a zero-copy slice of the input.
    pub data: Bytes,
}

/// What the demuxer reports, in input order.
#[derive(Debug, Clone, PartialEq)]
pub enum MkvEvent {
    /// A complete EBML header element. A second one later in the input starts a new stream.
    EbmlHeader {
        /// Absolute offset of its first byte.
        offset: u64,
        /// The whole element, header included, exactly as sent.
        raw: Bytes,
        /// DocType (`matroska` or `webm`).
        doc_type: String,
    },
    /// A Segment element began.
    SegmentStart {
        /// Absolute offset of the Segment ID.
        offset: u64,
        /// Absolute offset of the Segment's first child.
        data_offset: u64,
        /// Declared data size, `None` for unknown size (live streams).
        size: Option<u64>,
    },
    /// A complete Info element.
    Info {
        /// Absolute offset of its first byte.
        offset: u64,
        /// The whole element, exactly as sent.
        raw: Bytes,
        /// TimecodeScale in nanoseconds per timecode unit (default 1,000,000).
        timecode_scale_ns: u64,
    },
    /// A complete Tracks element.
    Tracks {
        /// Absolute offset of its first byte.
        offset: u64,
        /// The whole element, exactly as sent.
        raw: Bytes,
        /// Parsed TrackEntries, in order.
        tracks: Vec<TrackEntry>,
    },
    /// A complete segment-level Tags element.
    Tags {
        /// Absolute offset of its first byte.
        offset: u64,
        /// The whole element, exactly as sent.
        raw: Bytes,
        /// The top-level SimpleTags of all its Tag elements, in order.
        tags: Vec<SimpleTag>,
    },
    /// A Cluster element began (its header is complete; nothing of its data need be).
    ClusterStart {
        /// Absolute offset of the Cluster ID's first byte.
        offset: u64,
        /// Declared data size, `None` for unknown size.
        size: Option<u64>,
    },
    /// One complete child element of the current Cluster, exactly as sent. Emitted for every
    /// child, before the events derived from it (ClusterTimecode, Frame).
    ClusterChild {
        /// Absolute offset of its first byte.
        offset: u64,
        /// Element ID.
        id: u32,
        /// The whole child element, header included (zero-copy).
        raw: Bytes,
    },
    /// The Cluster's Timecode.
    ClusterTimecode {
        /// The value as sent, in TimecodeScale units.
        timecode: u64,
    },
    /// A frame from a SimpleBlock or BlockGroup.
    Frame(Frame),
    /// The current Cluster ended.
    ClusterEnd {
        /// Absolute offset one past its last byte.
        end_offset: u64,
    },
    /// The current Segment ended.
    SegmentEnd {
        /// Absolute offset one past its last byte.
        end_offset: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Segment,
    Cluster,
}

impl Container {
    fn id(self) -> u32 {
        match self {
            Container::Segment => ids::SEGMENT,
            Container::Cluster => ids::CLUSTER,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Open {
    kind: Container,
    /// Absolute offset of the element's first byte.
    start: u64,
    /// Absolute offset one past its end, for a known size.
    end: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing read yet: only an EBML header may come.
    Start,
    /// After an EBML header: a Segment (or Void) is expected.
    AfterHeader,
    /// Inside a Segment (the stack is not empty).
    InSegment,
    /// After a Segment ended: a new EBML header, Void, or the end of input.
    AfterSegment,
}

enum Step {
    /// Progress was made (bytes consumed, an event queued, or a container closed).
    Continue,
    /// Nothing more can be done until more input arrives (or, after `finish`, ever).
    NeedMore,
}

/// The incremental Matroska demuxer. See the module documentation for what it accepts.
///
/// ```text
/// demuxer.push(chunk);                       // bytes in
/// while let Some(event) = demuxer.pull()? {  // events out, until Ok(None)
///     ...
/// }
/// ```
#[derive(Debug)]
pub struct MkvDemuxer {
    limits: DemuxLimits,
    /// Unconsumed input; `buf[0]` is at absolute offset `offset`.
    buf: BytesMut,
    offset: u64,
    /// Bytes of an ignored element still to discard.
    skip: u64,
    /// ID and start offset of the element being discarded (for truncation errors).
    skip_elem: (u32, u64),
    phase: Phase,
    stack: Vec<Open>,
    out: VecDeque<MkvEvent>,
    finished: bool,
    /// The last pull returned `Ok(None)` and no push happened since.
    waiting: bool,
    error: Option<MkvError>,
    have_info: bool,
    have_tracks: bool,
    cluster_timecode: Option<u64>,
    /// Scratch space for the frame sizes of the block being split (reused; at most 256 entries).
    lace_sizes: Vec<usize>,
}

impl Default for MkvDemuxer {
    fn default() -> Self {
        Self::new(DemuxLimits::default())
    }
}

impl MkvDemuxer {
    /// A demuxer expecting the start of a Matroska stream (an EBML header).
    pub fn new(limits: DemuxLimits) -> Self {
        MkvDemuxer {
            limits,
            buf: BytesMut::new(),
            offset: 0,
            skip: 0,
            skip_elem: (0, 0),
            phase: Phase::Start,
            stack: Vec::with_capacity(2),
            out: VecDeque::new(),
            finished: false,
            waiting: false,
            error: None,
            have_info: false,
            have_tracks: false,
            cluster_timecode: None,
            lace_sizes: Vec::new(),
        }
    }

    /// The limits this demuxer enforces.
    pub fn limits(&self) -> &DemuxLimits {
        &self.limits
    }

    /// Appends input.
    ///
    /// **Alternation rule:** push a chunk, then call [`Self::pull`] until it returns `Ok(None)`
    /// ("need more input"), then push the next chunk. Pulling to `Ok(None)` between pushes is what
    /// keeps the buffer bounded by [`DemuxLimits::max_buffered`] plus one chunk. When the input
    /// ends, call [`Self::finish`] and pull until `Ok(None)`, which then means "end of stream".
    ///
    /// After an error (see [`Self::pull`]) or after `finish`, pushed bytes are ignored.
    pub fn push(&mut self, mut chunk: Bytes) {
        if self.error.is_some() || self.finished {
            return;
        }
        self.waiting = false;
        if chunk.is_empty() {
            return;
        }
        if self.buf.is_empty() {
            // Discard ignored bytes straight from the chunk, without copying them.
            if self.skip > 0 {
                let n = usize::try_from(self.skip).unwrap_or(usize::MAX).min(chunk.len());
                chunk.advance(n);
                self.offset = self.offset.saturating_add(n as u64);
                self.skip -= n as u64;
                if chunk.is_empty() {
                    return;
                }
            }
            // Take ownership of the chunk's allocation when it is not shared (no copy).
            self.buf = BytesMut::from(chunk);
        } else {
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Marks the end of input. Pull afterwards until `Ok(None)`: the open Cluster and Segment (if
    /// of unknown size) are closed; an element cut short, or a known-size Segment or Cluster that
    /// did not reach its declared end, is a [`MkvErrorKind::Truncated`] error.
    pub fn finish(&mut self) {
        self.finished = true;
        self.waiting = false;
    }

    /// Returns the next event, `Ok(None)` if more input is needed (or, after [`Self::finish`], if
    /// the stream ended), or the error that makes the rest of the input unusable.
    ///
    /// Errors are fatal: once `pull` returned `Err`, it returns the same error on every later call
    /// and the buffered input is dropped. Events queued before the error are all delivered first.
    pub fn pull(&mut self) -> Result<Option<MkvEvent>, MkvError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        loop {
            if let Some(ev) = self.out.pop_front() {
                return Ok(Some(ev));
            }
            match self.step() {
                Ok(Step::Continue) => {}
                Ok(Step::NeedMore) => {
                    self.waiting = true;
                    return Ok(None);
                }
                Err(e) => {
                    self.error = Some(e.clone());
                    self.buf = BytesMut::new();
                    self.skip = 0;
                    return Err(e);
                }
            }
        }
    }

    /// Absolute offset of the first input byte not yet consumed.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Number of input bytes currently buffered.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Whether [`Self::finish`] was called.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether the demuxer failed (every pull returns the error).
    pub fn is_poisoned(&self) -> bool {
        self.error.is_some()
    }

    /// Asserts the internal invariants; panics if one is broken. Meant for tests and fuzz targets,
    /// which call it after every push and pull.
    pub fn check_invariants(&self) {
        if self.error.is_some() {
            assert!(self.buf.is_empty(), "poisoned demuxer still buffers input");
            assert!(self.out.is_empty(), "poisoned demuxer still has events");
            return;
        }
        match self.stack.as_slice() {
            [] => assert!(self.phase != Phase::InSegment, "in segment without a Segment open"),
            [s] => {
                assert_eq!(s.kind, Container::Segment);
                assert_eq!(self.phase, Phase::InSegment);
            }
            [s, c] => {
                assert_eq!(s.kind, Container::Segment);
                assert_eq!(c.kind, Container::Cluster);
                assert_eq!(self.phase, Phase::InSegment);
                assert!(c.start >= s.start);
            }
            _ => panic!("container stack deeper than Segment/Cluster"),
        }
        for o in &self.stack {
            assert!(o.start <= self.offset, "open container starts after the read position");
            if let Some(end) = o.end {
                assert!(self.offset.saturating_add(self.skip) <= end, "read position beyond a container end");
            }
        }
        if self.cluster_timecode.is_some() {
            assert!(self.in_cluster(), "cluster timecode outside a Cluster");
        }
        if self.in_cluster() {
            assert!(self.have_info && self.have_tracks, "Cluster open without Info and Tracks");
        }
        if self.skip > 0 {
            assert!(self.buf.is_empty(), "skipping with input still buffered");
        }
        if self.waiting && !self.finished {
            assert!(
                (self.buf.len() as u64) < self.limits.max_buffered(),
                "buffer of {} bytes while waiting exceeds the limit {}",
                self.buf.len(),
                self.limits.max_buffered()
            );
        }
        assert!(self.out.len() <= 258, "more queued events than one laced block can produce");
    }

    fn in_cluster(&self) -> bool {
        self.stack.last().is_some_and(|o| o.kind == Container::Cluster)
    }

    fn path(&self) -> ElementPath {
        self.stack.iter().fold(ElementPath::root(), |p, o| p.child(o.kind.id()))
    }

    fn err(&self, kind: MkvErrorKind, offset: u64, id: u32) -> MkvError {
        MkvError::new(kind, offset, self.path().child(id))
    }

    /// Smallest known end among open containers: nothing may extend beyond it.
    fn limit_end(&self) -> Option<u64> {
        self.stack.iter().filter_map(|o| o.end).min()
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.advance(n);
        self.offset = self.offset.saturating_add(n as u64);
    }

    fn step(&mut self) -> Result<Step, MkvError> {
        if self.skip > 0 {
            let n = usize::try_from(self.skip).unwrap_or(usize::MAX).min(self.buf.len());
            self.consume(n);
            self.skip -= n as u64;
            if self.skip > 0 {
                if self.finished {
                    let (id, at) = self.skip_elem;
                    return Err(self.err(MkvErrorKind::Truncated, at, id));
                }
                return Ok(Step::NeedMore);
            }
        }
        if self.close_ended_containers() {
            return Ok(Step::Continue);
        }
        if self.buf.is_empty() {
            return if self.finished { self.end_of_input() } else { Ok(Step::NeedMore) };
        }
        let header = match reader::parse_header(&self.buf, self.offset) {
            Ok(Parse::Complete(h)) => h,
            Ok(Parse::Incomplete) => {
                if self.finished {
                    return Err(self.err(MkvErrorKind::Truncated, self.offset, 0));
                }
                return Ok(Step::NeedMore);
            }
            Err(e) => {
                if self.phase == Phase::Start {
                    return Err(self.err(MkvErrorKind::NotEbml, self.offset, e.id));
                }
                return Err(MkvError::from_ebml(e, self.path()));
            }
        };
        match self.stack.last().map(|o| (o.kind, o.end.is_none())) {
            None => self.top_level(header),
            Some((Container::Segment, unknown)) => self.in_segment(header, unknown),
            Some((Container::Cluster, unknown)) => self.in_cluster_child(header, unknown),
        }
    }

    /// Pops every container whose known end has been reached (and those inside it).
    fn close_ended_containers(&mut self) -> bool {
        let offset = self.offset;
        let Some(idx) = self.stack.iter().position(|o| o.end.is_some_and(|e| offset >= e)) else {
            return false;
        };
        while self.stack.len() > idx {
            if let Some(open) = self.stack.pop() {
                self.emit_end(open.kind, open.end.unwrap_or(offset));
            }
        }
        true
    }

    fn emit_end(&mut self, kind: Container, end_offset: u64) {
        match kind {
            Container::Cluster => {
                self.cluster_timecode = None;
                self.out.push_back(MkvEvent::ClusterEnd { end_offset });
            }
            Container::Segment => {
                self.phase = Phase::AfterSegment;
                self.have_info = false;
                self.have_tracks = false;
                self.out.push_back(MkvEvent::SegmentEnd { end_offset });
            }
        }
    }

    fn end_of_input(&mut self) -> Result<Step, MkvError> {
        let Some(top) = self.stack.last().copied() else { return Ok(Step::NeedMore) };
        if top.end.is_some() {
            let path = self.stack.iter().fold(ElementPath::root(), |p, o| p.child(o.kind.id()));
            return Err(MkvError::new(MkvErrorKind::Truncated, top.start, path));
        }
        self.stack.pop();
        self.emit_end(top.kind, self.offset);
        Ok(Step::Continue)
    }

    /// Buffers a whole element of known size up to `limit` and takes it out of the buffer.
    /// `Ok(None)` means not all of it is here yet.
    fn take_whole(&mut self, h: &ElementHeader, limit: u64) -> Result<Option<Bytes>, MkvError> {
        let total = self.check_known_fits(h, Some(limit))?;
        if (self.buf.len() as u64) < total {
            if self.finished {
                return Err(self.err(MkvErrorKind::Truncated, self.offset, h.id));
            }
            return Ok(None);
        }
        let at = self.offset;
        // `total <= buf.len()`, so it fits a usize.
        let raw = self.buf.split_to(total as usize).freeze();
        self.offset = at.saturating_add(total);
        Ok(Some(raw))
    }

    /// Checks that `h` has a known size within `limit` that fits inside the open containers;
    /// returns the element's total length.
    fn check_known_fits(&self, h: &ElementHeader, limit: Option<u64>) -> Result<u64, MkvError> {
        let ElementSize::Known(size) = h.size else {
            return Err(self.err(MkvErrorKind::UnknownSize, self.offset, h.id));
        };
        if let Some(limit) = limit
            && size > limit
        {
            return Err(self.err(MkvErrorKind::TooLarge { size, limit }, self.offset, h.id));
        }
        let total = size.saturating_add(h.header_len as u64);
        if let Some(end) = self.limit_end()
            && self.offset.saturating_add(total) > end
        {
            return Err(self.err(MkvErrorKind::OverrunsParent, self.offset, h.id));
        }
        Ok(total)
    }

    /// Starts discarding an element of known size (any size) without buffering it.
    fn skip_element(&mut self, h: &ElementHeader) -> Result<Step, MkvError> {
        let total = self.check_known_fits(h, None)?;
        self.skip_elem = (h.id, self.offset);
        self.skip = total;
        Ok(Step::Continue)
    }

    fn top_level(&mut self, h: ElementHeader) -> Result<Step, MkvError> {
        match (self.phase, h.id) {
            (_, ids::EBML) => {
                let at = self.offset;
                let Some(raw) = self.take_whole(&h, self.limits.max_header_element_size)? else {
                    return Ok(Step::NeedMore);
                };
                let doc_type = parse_ebml_header(&raw, h.header_len, at)?;
                self.phase = Phase::AfterHeader;
                self.out.push_back(MkvEvent::EbmlHeader { offset: at, raw, doc_type });
                Ok(Step::Continue)
            }
            (Phase::Start, _) => Err(self.err(MkvErrorKind::NotEbml, self.offset, h.id)),
            (Phase::AfterHeader, ids::SEGMENT) => {
                let offset = self.offset;
                let data_offset = offset.saturating_add(h.header_len as u64);
                let size = h.size.known();
                self.consume(h.header_len);
                self.stack.push(Open {
                    kind: Container::Segment,
                    start: offset,
                    end: size.map(|s| data_offset.saturating_add(s)),
                });
                self.phase = Phase::InSegment;
                self.have_info = false;
                self.have_tracks = false;
                self.out.push_back(MkvEvent::SegmentStart { offset, data_offset, size });
                Ok(Step::Continue)
            }
            (_, ids::VOID | ids::CRC32) => self.skip_element(&h),
            _ => Err(self.err(MkvErrorKind::UnexpectedElement, self.offset, h.id)),
        }
    }

    fn in_segment(&mut self, h: ElementHeader, unknown_size: bool) -> Result<Step, MkvError> {
        let at = self.offset;
        match h.id {
            ids::EBML if unknown_size => {
                // A new stream starts: the unknown-size Segment ends here.
                if let Some(open) = self.stack.pop() {
                    self.emit_end(open.kind, at);
                }
                Ok(Step::Continue)
            }
            ids::CLUSTER => {
                if !(self.have_info && self.have_tracks) {
                    return Err(self.err(MkvErrorKind::Invalid("Cluster before Info and Tracks"), at, h.id));
                }
                let end = match h.size {
                    ElementSize::Known(_) => Some(at.saturating_add(self.check_known_fits(&h, None)?)),
                    ElementSize::Unknown => None,
                };
                self.consume(h.header_len);
                self.stack.push(Open { kind: Container::Cluster, start: at, end });
                self.cluster_timecode = None;
                self.out.push_back(MkvEvent::ClusterStart { offset: at, size: h.size.known() });
                Ok(Step::Continue)
            }
            ids::INFO | ids::TRACKS | ids::TAGS => {
                let Some(raw) = self.take_whole(&h, self.limits.max_header_element_size)? else {
                    return Ok(Step::NeedMore);
                };
                let path = self.path().child(h.id);
                let event = match h.id {
                    ids::INFO => {
                        let timecode_scale_ns = parse_info(&raw, h.header_len, at, path)?;
                        self.have_info = true;
                        MkvEvent::Info { offset: at, raw, timecode_scale_ns }
                    }
                    ids::TRACKS => {
                        let tracks = tracks::parse_tracks(
                            &raw,
                            h.header_len,
                            at,
                            path,
                            self.limits.max_track_entries,
                        )?;
                        self.have_tracks = true;
                        MkvEvent::Tracks { offset: at, raw, tracks }
                    }
                    _ => {
                        let limits = TagLimits {
                            max_simple_tags: self.limits.max_simple_tags,
                            max_nesting: self.limits.max_nesting,
                        };
                        let tags = tags::parse_tags(&raw, h.header_len, at, path, limits)?;
                        MkvEvent::Tags { offset: at, raw, tags }
                    }
                };
                self.out.push_back(event);
                Ok(Step::Continue)
            }
            ids::SEEK_HEAD | ids::CUES | ids::CHAPTERS | ids::ATTACHMENTS | ids::VOID | ids::CRC32 => {
                self.skip_element(&h)
            }
            ids::EBML | ids::SEGMENT => Err(self.err(MkvErrorKind::UnexpectedElement, at, h.id)),
            _ if !unknown_size => self.skip_element(&h),
            _ => Err(self.err(MkvErrorKind::UnexpectedElement, at, h.id)),
        }
    }

    fn in_cluster_child(&mut self, h: ElementHeader, unknown_size: bool) -> Result<Step, MkvError> {
        let at = self.offset;
        if h.id == ids::EBML || h.id == ids::SEGMENT || ids::is_level1(h.id) {
            if !unknown_size {
                return Err(self.err(MkvErrorKind::UnexpectedElement, at, h.id));
            }
            if let Some(open) = self.stack.pop() {
                self.emit_end(open.kind, at);
            }
            return Ok(Step::Continue);
        }
        if unknown_size && !ids::is_cluster_child(h.id) {
            return Err(self.err(MkvErrorKind::UnexpectedElement, at, h.id));
        }
        // Validate the element completely before queueing anything for it.
        let limit = self.limits.max_block_size;
        let total = self.check_known_fits(&h, Some(limit))?;
        if (self.buf.len() as u64) < total {
            if self.finished {
                return Err(self.err(MkvErrorKind::Truncated, at, h.id));
            }
            return Ok(Step::NeedMore);
        }
        let data = self.buf.get(h.header_len..total as usize).unwrap_or(&[]);
        let data_offset = at.saturating_add(h.header_len as u64);
        let derived = match h.id {
            ids::TIMECODE => {
                if self.cluster_timecode.is_some() {
                    return Err(self.err(MkvErrorKind::Invalid("second Timecode in a Cluster"), at, h.id));
                }
                let tc = reader::read_uint(data).map_err(|k| self.err(MkvErrorKind::Ebml(k), at, h.id))?;
                Derived::Timecode(tc)
            }
            ids::SIMPLE_BLOCK => {
                self.require_timecode(at, h.id)?;
                let b = parse_block(data, &mut self.lace_sizes)
                    .map_err(|why| MkvError::new(MkvErrorKind::Invalid(why), at, self.path().child(h.id)))?;
                Derived::Block {
                    header: b,
                    // Position of the block data inside the raw element.
                    data_at: h.header_len,
                    keyframe: b.flags & 0x80 != 0,
                    discardable: b.flags & 0x01 != 0,
                    duration: None,
                }
            }
            ids::BLOCK_GROUP => {
                self.require_timecode(at, h.id)?;
                let path = self.path().child(h.id);
                let group = parse_block_group(data, data_offset, path, &mut self.lace_sizes)?;
                Derived::Block {
                    header: group.header,
                    data_at: usize::try_from(group.block_data_offset.saturating_sub(at))
                        .unwrap_or(usize::MAX),
                    keyframe: !group.has_reference,
                    discardable: false,
                    duration: group.duration,
                }
            }
            _ => Derived::Nothing,
        };
        let raw = self.buf.split_to(total as usize).freeze();
        self.offset = at.saturating_add(total);
        match derived {
            Derived::Nothing => self.out.push_back(MkvEvent::ClusterChild { offset: at, id: h.id, raw }),
            Derived::Timecode(timecode) => {
                self.cluster_timecode = Some(timecode);
                self.out.push_back(MkvEvent::ClusterChild { offset: at, id: h.id, raw });
                self.out.push_back(MkvEvent::ClusterTimecode { timecode });
            }
            Derived::Block { header, data_at, keyframe, discardable, duration } => {
                self.out.push_back(MkvEvent::ClusterChild { offset: at, id: h.id, raw: raw.clone() });
                self.queue_frames(&raw, header, data_at, keyframe, discardable, duration);
            }
        }
        Ok(Step::Continue)
    }

    fn require_timecode(&self, at: u64, id: u32) -> Result<(), MkvError> {
        if self.cluster_timecode.is_none() {
            return Err(self.err(MkvErrorKind::Invalid("block before the Cluster Timecode"), at, id));
        }
        Ok(())
    }

    /// Queues one Frame per laced frame. `parse_block` guaranteed that the sizes in `lace_sizes`
    /// exactly cover the block data after the block header.
    fn queue_frames(
        &mut self,
        raw: &Bytes,
        header: BlockHeader,
        data_at: usize,
        keyframe: bool,
        discardable: bool,
        duration: Option<u64>,
    ) {
        let count = self.lace_sizes.len() as u64;
        let duration = match duration {
            Some(d) if count > 1 => Some(d / count),
            other => other,
        };
        let mut at = data_at.saturating_add(header.frames_at);
        for (i, &size) in self.lace_sizes.iter().enumerate() {
            let end = at.saturating_add(size);
            if end > raw.len() {
                // Unreachable: parse_block checked the sizes against the block length.
                break;
            }
            self.out.push_back(MkvEvent::Frame(Frame {
                track: header.track,
                timecode_rel: header.timecode,
                keyframe,
                invisible: header.flags & 0x08 != 0,
                discardable,
                duration,
                lace_index: u8::try_from(i).unwrap_or(u8::MAX),
                data: raw.slice(at..end),
            }));
            at = end;
        }
    }
}

enum Derived {
    Nothing,
    Timecode(u64),
    Block { header: BlockHeader, data_at: usize, keyframe: bool, discardable: bool, duration: Option<u64> },
}

/// The fixed part of a Block/SimpleBlock.
#[derive(Debug, Clone, Copy)]
struct BlockHeader {
    track: u64,
    timecode: i16,
    flags: u8,
    /// Offset of the first frame byte inside the block data (after the lacing header).
    frames_at: usize,
}

/// Parses a block's header and lacing; fills `sizes` with the frame sizes, which add up exactly
/// to the data after the header.
fn parse_block(data: &[u8], sizes: &mut Vec<usize>) -> Result<BlockHeader, &'static str> {
    const TRUNCATED: &str = "block header truncated";
    let (track, tlen) = match vint::read_unsigned(data) {
        Ok(Some(x)) => x,
        Ok(None) => return Err(TRUNCATED),
        Err(_) => return Err("invalid block track number"),
    };
    if track == 0 {
        return Err("block track number 0");
    }
    let fixed = data.get(tlen..tlen + 3).ok_or(TRUNCATED)?;
    let (tc_hi, tc_lo, flags) = match fixed {
        [a, b, c] => (*a, *b, *c),
        _ => return Err(TRUNCATED),
    };
    let timecode = i16::from_be_bytes([tc_hi, tc_lo]);
    let mut pos = tlen + 3;
    sizes.clear();
    let lacing = (flags >> 1) & 0x03;
    if lacing == 0 {
        sizes.push(data.len().saturating_sub(pos));
        return Ok(BlockHeader { track, timecode, flags, frames_at: pos });
    }
    let count = usize::from(*data.get(pos).ok_or(TRUNCATED)?) + 1;
    pos += 1;
    match lacing {
        // Xiph lacing: each size but the last as a run of 255s plus a final byte < 255.
        1 => {
            for _ in 1..count {
                let mut size = 0usize;
                loop {
                    let b = *data.get(pos).ok_or("Xiph lace sizes truncated")?;
                    pos += 1;
                    size += usize::from(b);
                    if b != 255 {
                        break;
                    }
                }
                sizes.push(size);
            }
        }
        // EBML lacing: first size as a vint, the following as signed differences.
        3 => {
            if count > 1 {
                let rest = data.get(pos..).unwrap_or(&[]);
                let (first, len) = match vint::read_unsigned(rest) {
                    Ok(Some(x)) => x,
                    _ => return Err("invalid EBML lace size"),
                };
                pos += len;
                let mut prev = i64::try_from(first).map_err(|_| "EBML lace size too large")?;
                sizes.push(usize::try_from(prev).map_err(|_| "EBML lace size too large")?);
                for _ in 2..count {
                    let rest = data.get(pos..).unwrap_or(&[]);
                    let (diff, len) = match vint::read_signed(rest) {
                        Ok(Some(x)) => x,
                        _ => return Err("invalid EBML lace size difference"),
                    };
                    pos += len;
                    prev = prev.checked_add(diff).filter(|s| *s >= 0).ok_or("negative EBML lace size")?;
                    sizes.push(usize::try_from(prev).map_err(|_| "EBML lace size too large")?);
                }
            }
        }
        // Fixed-size lacing: the data splits evenly.
        _ => {
            let remaining = data.len().checked_sub(pos).ok_or(TRUNCATED)?;
            if remaining % count != 0 {
                return Err("fixed-size lacing does not divide the block evenly");
            }
            sizes.extend(std::iter::repeat_n(remaining / count, count));
            return Ok(BlockHeader { track, timecode, flags, frames_at: pos });
        }
    }
    let remaining = data.len().checked_sub(pos).ok_or("lace sizes overrun the block")?;
    let sum = sizes.iter().try_fold(0usize, |acc, &s| acc.checked_add(s)).ok_or("lace sizes overflow")?;
    let last = remaining.checked_sub(sum).ok_or("lace sizes overrun the block")?;
    sizes.push(last);
    Ok(BlockHeader { track, timecode, flags, frames_at: pos })
}

struct BlockGroup {
    header: BlockHeader,
    /// Absolute offset of the Block element's data.
    block_data_offset: u64,
    duration: Option<u64>,
    has_reference: bool,
}

fn parse_block_group(
    data: &[u8],
    data_offset: u64,
    path: ElementPath,
    sizes: &mut Vec<usize>,
) -> Result<BlockGroup, MkvError> {
    let mut block = None;
    let mut duration = None;
    let mut has_reference = false;
    for child in Children::new(data, data_offset) {
        let c = child.map_err(|e| MkvError::from_ebml(e, path))?;
        match c.id {
            ids::BLOCK => {
                if block.is_some() {
                    return Err(MkvError::new(
                        MkvErrorKind::Invalid("BlockGroup with two Blocks"),
                        c.offset,
                        path.child(c.id),
                    ));
                }
                block = Some(c);
            }
            ids::BLOCK_DURATION => {
                let d = reader::read_uint(c.data)
                    .map_err(|k| MkvError::new(MkvErrorKind::Ebml(k), c.offset, path.child(c.id)))?;
                duration = Some(d);
            }
            ids::REFERENCE_BLOCK => has_reference = true,
            _ => {}
        }
    }
    let Some(block) = block else {
        return Err(MkvError::new(MkvErrorKind::Invalid("BlockGroup without a Block"), data_offset, path));
    };
    let header = parse_block(block.data, sizes)
        .map_err(|why| MkvError::new(MkvErrorKind::Invalid(why), block.offset, path.child(ids::BLOCK)))?;
    Ok(BlockGroup { header, block_data_offset: block.data_offset, duration, has_reference })
}

/// Parses the EBML header's children; returns the DocType.
fn parse_ebml_header(raw: &Bytes, header_len: usize, offset: u64) -> Result<String, MkvError> {
    let path = ElementPath::root().child(ids::EBML);
    let data = raw.get(header_len..).unwrap_or(&[]);
    let mut doc_type = String::from("matroska");
    for child in Children::new(data, offset.saturating_add(header_len as u64)) {
        let c = child.map_err(|e| MkvError::from_ebml(e, path))?;
        let bad = |why| MkvError::new(MkvErrorKind::Invalid(why), c.offset, path.child(c.id));
        let uint = || {
            reader::read_uint(c.data)
                .map_err(|k| MkvError::new(MkvErrorKind::Ebml(k), c.offset, path.child(c.id)))
        };
        match c.id {
            ids::DOC_TYPE => doc_type = reader::read_string(c.data),
            ids::EBML_READ_VERSION if uint()? > 1 => return Err(bad("EBMLReadVersion above 1")),
            ids::EBML_MAX_ID_LENGTH if uint()? > vint::MAX_ID_LEN as u64 => {
                return Err(bad("EBMLMaxIDLength above 4"));
            }
            ids::EBML_MAX_SIZE_LENGTH if uint()? > vint::MAX_SIZE_LEN as u64 => {
                return Err(bad("EBMLMaxSizeLength above 8"));
            }
            _ => {}
        }
    }
    if doc_type != "matroska" && doc_type != "webm" {
        return Err(MkvError::new(
            MkvErrorKind::Invalid("DocType is neither matroska nor webm"),
            offset,
            path,
        ));
    }
    Ok(doc_type)
}

/// Parses Info's children; returns TimecodeScale.
fn parse_info(raw: &Bytes, header_len: usize, offset: u64, path: ElementPath) -> Result<u64, MkvError> {
    let data = raw.get(header_len..).unwrap_or(&[]);
    let mut scale = 1_000_000;
    for child in Children::new(data, offset.saturating_add(header_len as u64)) {
        let c = child.map_err(|e| MkvError::from_ebml(e, path))?;
        if c.id == ids::TIMECODE_SCALE {
            scale = reader::read_uint(c.data)
                .map_err(|k| MkvError::new(MkvErrorKind::Ebml(k), c.offset, path.child(c.id)))?;
            if scale == 0 {
                return Err(MkvError::new(
                    MkvErrorKind::Invalid("TimecodeScale is 0"),
                    c.offset,
                    path.child(c.id),
                ));
            }
        }
    }
    Ok(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xiph_ebml_fixed_lacing() {
        let mut sizes = Vec::new();
        // track 1, tc 0, flags lacing=Xiph, 3 frames: sizes 300 (255+45), 2, rest 1
        let mut data = vec![0x81, 0, 0, 0b0000_0010, 2, 255, 45, 2];
        data.extend(std::iter::repeat_n(7u8, 303));
        let h = parse_block(&data, &mut sizes).unwrap();
        assert_eq!(sizes, vec![300, 2, 1]);
        assert_eq!(h.frames_at, 8);
        // EBML lacing: 3 frames: 10, 10+(-2)=8, rest
        let mut data = vec![0x81, 0, 5, 0b0000_0110, 2, 0x8A, 0x80 | (63 - 2)];
        data.extend(std::iter::repeat_n(1u8, 25));
        parse_block(&data, &mut sizes).unwrap();
        assert_eq!(sizes, vec![10, 8, 7]);
        // Fixed lacing: 4 frames of 3.
        let mut data = vec![0x82, 0xFF, 0xFE, 0b0000_0100, 3];
        data.extend(std::iter::repeat_n(1u8, 12));
        let h = parse_block(&data, &mut sizes).unwrap();
        assert_eq!(sizes, vec![3, 3, 3, 3]);
        assert_eq!(h.track, 2);
        assert_eq!(h.timecode, -2);
        // Bad: fixed lacing not dividing evenly; Xiph overrun; EBML negative.
        assert!(parse_block(&[0x81, 0, 0, 0b100, 1, 1, 2, 3], &mut sizes).is_err());
        assert!(parse_block(&[0x81, 0, 0, 0b010, 1, 200, 1], &mut sizes).is_err());
        assert!(parse_block(&[0x81, 0, 0, 0b110, 2, 0x81, 0x80, 1], &mut sizes).is_err());
        assert!(parse_block(&[0x81, 0], &mut sizes).is_err());
        assert!(parse_block(&[0x80, 0, 0, 0], &mut sizes).is_err());
    }
}
