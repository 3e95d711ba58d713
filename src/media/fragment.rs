//! The KVS fragmenter: turns the demuxer's events for one PutMedia body into fragments, applying
//! the PutMedia fragment rules (KVS-API.md §2.2) and validations with their ErrorIds (§2.4).
//!
//! Owns fragment boundaries, which header set and which metadata belong to a fragment, fragment
//! timestamps and durations, and the per-fragment limits. It must not do I/O, read clocks, assign
//! fragment numbers or talk HTTP: the ingest session turns [`FragmentEvent`]s into ACKs, storage
//! and index writes.
//!
//! # Boundaries
//! One Cluster is one fragment. A fragment ends at the next Cluster, at a segment-level Tags
//! element containing a SimpleTag named `AWS_KINESISVIDEO_END_OF_FRAGMENT` (EoFR), at the end of
//! its Segment (a new EBML header ends an unknown-size Segment), or at the end of input. Other
//! segment-level Tags end the Cluster element (they are level-1 elements) but not the fragment.
//!
//! # Metadata
//! The top-level SimpleTags of segment-level Tags (EoFR excluded; tags whose `Targets` name a
//! track, edition, chapter or attachment excluded) are fragment metadata `(name, value)`:
//! * tags that arrive before a Cluster begins belong to the fragment that Cluster starts (the
//!   KVS producer writes metadata put during a fragment in front of the next fragment's Cluster);
//! * tags still pending when the open fragment is closed by an EoFR tag, by the end of its Segment
//!   or by the end of input belong to that closing fragment: the KVS producer packages its
//!   not-yet-sent metadata together with the EoFR tag (PIC `Stream.c`, END_OF_FRAGMENT frames), and
//!   `cproducer_1.6.4_putmedia_body.mkv` shows exactly this layout (`Cluster`, nine `TEST_KEY_n`
//!   Tags, EoFR Tags, next `Cluster`).
//!
//! # Timestamps
//! `ABSOLUTE`: a fragment's producer timestamp is its Cluster Timecode × TimecodeScale, in ms.
//! `RELATIVE`: `producer_start_ms` plus that. Frame timestamps add the block's relative timecode
//! (and, inside a laced block, `lace_index × DefaultDuration`).
//!
//! # Validation (ErrorIds)
//! * 4001: the payload exceeds `max_fragment_bytes` (checked as each element arrives).
//! * 4002: latest − earliest frame timestamp exceeds `max_fragment_duration_ms` (checked per
//!   frame), or [`Fragment::duration_ms`] does at the end.
//! * 4004: the fragment's producer timestamp (its Cluster Timecode) is not strictly after the
//!   previous completed fragment's. Frame ranges are deliberately not compared: in
//!   `h264_bframes_aac_640x360_10s.mkv` 26 of 27 fragments start (with audio, or with a
//!   reordered B-frame) before the previous fragment's latest frame.
//! * 4009: more than `max_metadata_per_fragment` metadata tags.
//! * 4010: a frame for a track number not declared in Tracks.
//! * 4011: a declared track has no frame at all in the fragment (every fixture with two tracks
//!   has frames of both in every Cluster, including the clusters cut by time).
//! * 4012: Tracks declares more than `max_tracks` tracks.
//! * 4006 / 4007: see below.
//!
//! # Errors
//! Fragment-level problems produce [`FragmentEvent::Error`]. Fatal ones (4006 invalid MKV, 4007
//! invalid producer timestamp, 4012 too many tracks) end the session: every later `pull` returns
//! the same error as `Err`. The others reject only the fragment at hand (it never appears as
//! [`FragmentEvent::FragmentCompleted`]; its remaining bytes are dropped) and the session goes
//! on with the next Cluster. Input that ends inside an element (a producer disconnecting
//! mid-frame) is 4006 and the fragment it cuts is not completed: the KVS producer resends
//! unacknowledged fragments on its next connection.
//!
//! Every fragment yields [`FragmentEvent::FragmentStarted`] once its Cluster Timecode is read,
//! then its frames, then exactly one of `FragmentCompleted` or `Error` (a fragment rejected before
//! its Timecode is known, only possible with a tiny size limit, and a fatal 4007 at the Timecode
//! yield just the `Error`).
//! Frames are reported as they are parsed and are provisional until `FragmentCompleted`.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use crate::media::error_id::ErrorId;
use crate::media::mkv::demux::{DemuxLimits, Frame, MkvDemuxer, MkvEvent};
use crate::media::mkv::error::{ElementPath, MkvError, MkvErrorKind};
use crate::media::mkv::ids;
use crate::media::mkv::tags::SimpleTag;
use crate::media::mkv::tracks::{TrackEntry, TrackKind};

const NS_PER_MS: i128 = 1_000_000;

/// Default [`FragmenterConfig::max_fragment_bytes`]: 50 MiB.
pub const DEFAULT_MAX_FRAGMENT_BYTES: u64 = 50 << 20;
/// Default [`FragmenterConfig::max_fragment_duration_ms`]: 20 s (current KVS limit).
pub const DEFAULT_MAX_FRAGMENT_DURATION_MS: u64 = 20_000;
/// Latest producer start time [`parse_producer_start_timestamp`] accepts: 2100-01-01T00:00:00Z.
pub const MAX_PRODUCER_START_SECONDS: u64 = 4_102_444_800;

/// `x-amzn-fragment-timecode-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimecodeType {
    /// Cluster timecodes are absolute (epoch-based); the producer SDKs' default.
    #[default]
    Absolute,
    /// Cluster timecodes are relative to `x-amzn-producer-start-timestamp`.
    Relative,
}

/// Settings of one PutMedia session's fragmenter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmenterConfig {
    /// How cluster timecodes are interpreted.
    pub timecode_type: TimecodeType,
    /// The producer start time in ms since the epoch (required for `Relative`; see
    /// [`parse_producer_start_timestamp`]).
    pub producer_start_ms: Option<u64>,
    /// Largest fragment payload (the Cluster's children) in bytes; more is ErrorId 4001. So is a
    /// degenerate fragment of more than `max_fragment_bytes / 32` elements (their bookkeeping
    /// would cost more memory than the limit).
    pub max_fragment_bytes: u64,
    /// Longest fragment in ms; more is ErrorId 4002.
    pub max_fragment_duration_ms: u64,
    /// Most tracks a Tracks element may declare; more is ErrorId 4012.
    pub max_tracks: usize,
    /// Most metadata tags one fragment may carry; more is ErrorId 4009.
    pub max_metadata_per_fragment: usize,
    /// Hand the fragment's payload out as it arrives ([`FragmentEvent::Payload`]) instead of
    /// keeping it until the end: the completed [`Fragment`]'s `payload` is then empty (its
    /// `payload_size` still counts every byte), so the fragmenter holds no fragment bytes.
    pub stream_payload: bool,
    /// Limits of the underlying demuxer.
    pub demux: DemuxLimits,
}

impl Default for FragmenterConfig {
    fn default() -> Self {
        FragmenterConfig {
            timecode_type: TimecodeType::Absolute,
            producer_start_ms: None,
            max_fragment_bytes: DEFAULT_MAX_FRAGMENT_BYTES,
            max_fragment_duration_ms: DEFAULT_MAX_FRAGMENT_DURATION_MS,
            max_tracks: 3,
            max_metadata_per_fragment: 10,
            stream_payload: false,
            demux: DemuxLimits::default(),
        }
    }
}

/// Parses `x-amzn-producer-start-timestamp` the way the KVS C producer prints it
/// (`"%llu.%llu"` of seconds and milliseconds): the part after the dot is an integer number of
/// milliseconds, not a decimal fraction (`"1663277247.52"` is 52 ms past the second, `".152"` is
/// 152 ms). Without a dot the value is whole seconds.
///
/// Returns milliseconds since the epoch, or `None` for anything else: signs, empty parts, more
/// than three fraction digits, non-digits, or a time after [`MAX_PRODUCER_START_SECONDS`].
pub fn parse_producer_start_timestamp(value: &str) -> Option<u64> {
    let value = value.trim();
    let (secs, millis) = match value.split_once('.') {
        Some((s, m)) => (s, Some(m)),
        None => (value, None),
    };
    let digits = |s: &str, max_len: usize| {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit())).then_some(())
    };
    digits(secs, 20)?;
    let secs: u64 = secs.parse().ok()?;
    if secs > MAX_PRODUCER_START_SECONDS {
        return None;
    }
    let millis: u64 = match millis {
        Some(m) => {
            digits(m, 3)?;
            m.parse().ok()?
        }
        None => 0,
    };
    secs.checked_mul(1000)?.checked_add(millis)
}

/// The stream headers a fragment belongs to: the most recent EBML header, Info and Tracks.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderSet {
    /// Counts header sets within the session, from 1.
    pub generation: u32,
    /// The EBML header element, exactly as sent.
    pub ebml_header: Bytes,
    /// Its DocType.
    pub doc_type: String,
    /// The Info element, exactly as sent.
    pub info: Bytes,
    /// TimecodeScale from Info, in ns per timecode unit.
    pub timecode_scale_ns: u64,
    /// The Tracks element, exactly as sent.
    pub tracks: Bytes,
    /// The parsed TrackEntries.
    pub track_entries: Vec<TrackEntry>,
}

impl HeaderSet {
    /// The TrackEntry with this track number.
    pub fn track(&self, number: u64) -> Option<&TrackEntry> {
        self.track_entries.iter().find(|t| t.number == number)
    }
}

/// Why a fragment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentEnd {
    /// The next Cluster began.
    NextCluster,
    /// A segment-level Tags element with `AWS_KINESISVIDEO_END_OF_FRAGMENT` arrived.
    EndOfFragmentTag,
    /// Its Segment ended (known size reached, or a new EBML header ended an unknown-size one).
    SegmentEnd,
    /// The input ended.
    EndOfInput,
}

/// A complete, validated fragment (one Cluster).
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// The Cluster Timecode exactly as sent (TimecodeScale units): the ACKs' `FragmentTimecode`.
    pub cluster_timecode: u64,
    /// Absolute input offset of the Cluster element.
    pub offset: u64,
    /// Producer timestamp in ms since the epoch (see the module documentation).
    pub producer_timestamp_ms: u64,
    /// Earliest frame timestamp in ms (the producer timestamp if there are no frames).
    pub start_timestamp_ms: u64,
    /// Latest frame timestamp − earliest frame timestamp + the latest frame's duration, in ms.
    /// That duration is its BlockDuration, else its track's DefaultDuration, else the mean frame
    /// interval of its track in this fragment, else 0.
    pub duration_ms: u64,
    /// The Cluster's children exactly as sent, without the Cluster ID and size: zero-copy slices
    /// of the input, so a known-size Cluster can be re-emitted around them.
    pub payload: Vec<Bytes>,
    /// Total bytes in `payload`.
    pub payload_size: u64,
    /// Track numbers that had frames, ascending.
    pub tracks_with_frames: Vec<u64>,
    /// Per declared track, in Tracks order: frame count and whether its first frame is a key
    /// frame (e.g. for HLS, which needs each segment's video to start on one).
    pub track_summaries: Vec<TrackSummary>,
    /// Number of frames (laced frames counted individually).
    pub frame_count: u64,
    /// Whether the first frame is a key frame (false if there are no frames).
    pub starts_with_keyframe: bool,
    /// Producer metadata `(TagName, TagString)`, in arrival order.
    pub metadata: Vec<(String, String)>,
    /// The header set the fragment belongs to.
    pub headers: Arc<HeaderSet>,
    /// What ended it.
    pub end: FragmentEnd,
}

impl Fragment {
    /// Whether the video track (the header set's first TrackEntry with TrackType 1) starts on a
    /// key frame in this fragment: `None` without a video track or without video frames. `Some(false)`
    /// is a fragment no player can decode from its start (a producer that does not cut fragments
    /// at key frames); KVS itself accepts such fragments.
    pub fn video_starts_with_keyframe(&self) -> Option<bool> {
        let video = self.headers.track_entries.iter().find(|t| t.kind == TrackKind::Video)?;
        let summary = self.track_summaries.iter().find(|s| s.track == video.number)?;
        (summary.frame_count > 0).then_some(summary.starts_with_keyframe)
    }
}

/// How one declared track fared in a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackSummary {
    /// Track number.
    pub track: u64,
    /// Frames of this track in the fragment.
    pub frame_count: u64,
    /// Whether the track's first frame in the fragment is a key frame (false without frames).
    pub starts_with_keyframe: bool,
}

/// A frame, as soon as it is parsed (for live tails). Frames are provisional: their fragment can
/// still be rejected; only [`FragmentEvent::FragmentCompleted`] confirms them.
#[derive(Debug, Clone, PartialEq)]
pub struct FragmentFrame {
    /// The demuxed frame (track, flags, zero-copy data).
    pub frame: Frame,
    /// Its timestamp in ms since the epoch (negative values clamp to 0).
    pub timestamp_ms: u64,
    /// The Timecode of the Cluster it is in, as sent.
    pub cluster_timecode: u64,
}

/// What is wrong with a fragment or the session; each maps to a PutMedia ErrorId.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FragmentErrorKind {
    /// 4001: the fragment's payload exceeds the configured size.
    FragmentTooLarge {
        /// The configured limit in bytes.
        limit_bytes: u64,
    },
    /// 4002: the fragment lasts longer than the configured duration.
    FragmentTooLong {
        /// The duration reached (ms).
        duration_ms: u64,
        /// The configured limit (ms).
        limit_ms: u64,
    },
    /// 4004: the fragment's timestamp is not after the previous accepted fragment's.
    TimecodeNotMonotonic {
        /// This fragment's producer timestamp (ms).
        timestamp_ms: u64,
        /// The previous accepted fragment's producer timestamp (ms).
        previous_ms: u64,
    },
    /// 4006: the body is not valid Matroska (or breaks a demuxer limit).
    InvalidMkv(MkvError),
    /// 4007: RELATIVE timecodes without a valid producer start time, or a timestamp that does not
    /// fit.
    InvalidProducerTimestamp(&'static str),
    /// 4009: more metadata tags for one fragment than allowed.
    TooManyMetadataTags {
        /// Tags that were to be attached.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// 4010: a frame for a track number not declared in Tracks.
    UnknownTrack {
        /// The block's track number.
        track: u64,
    },
    /// 4011: a declared track has no frame in the fragment.
    FramesMissingForTrack {
        /// The first declared track without frames.
        track: u64,
    },
    /// 4012: Tracks declares more tracks than allowed.
    TooManyTracks {
        /// Tracks declared.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
}

impl FragmentErrorKind {
    /// The KVS PutMedia ErrorId.
    pub fn error_id(&self) -> ErrorId {
        match self {
            FragmentErrorKind::FragmentTooLarge { .. } => ErrorId::FragmentSizeReached,
            FragmentErrorKind::FragmentTooLong { .. } => ErrorId::FragmentDurationReached,
            FragmentErrorKind::TimecodeNotMonotonic { .. } => ErrorId::FragmentTimecodeNotMonotonic,
            FragmentErrorKind::InvalidMkv(_) => ErrorId::InvalidMkvData,
            FragmentErrorKind::InvalidProducerTimestamp(_) => ErrorId::InvalidProducerTimestamp,
            FragmentErrorKind::TooManyMetadataTags { .. } => ErrorId::FragmentMetadataLimitReached,
            FragmentErrorKind::UnknownTrack { .. } => ErrorId::TrackNumberMismatch,
            FragmentErrorKind::FramesMissingForTrack { .. } => ErrorId::FramesMissingForTrack,
            FragmentErrorKind::TooManyTracks { .. } => ErrorId::MoreThanAllowedTracksFound,
        }
    }

    /// Whether this error ends the session (4006, 4007, 4012) rather than only its fragment.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            FragmentErrorKind::InvalidMkv(_)
                | FragmentErrorKind::InvalidProducerTimestamp(_)
                | FragmentErrorKind::TooManyTracks { .. }
        )
    }
}

impl std::fmt::Display for FragmentErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FragmentErrorKind::FragmentTooLarge { limit_bytes } => {
                write!(f, "fragment larger than {limit_bytes} bytes")
            }
            FragmentErrorKind::FragmentTooLong { duration_ms, limit_ms } => {
                write!(f, "fragment lasts {duration_ms} ms, more than {limit_ms} ms")
            }
            FragmentErrorKind::TimecodeNotMonotonic { timestamp_ms, previous_ms } => {
                write!(
                    f,
                    "fragment timestamp {timestamp_ms} ms is not after the previous fragment's {previous_ms} ms"
                )
            }
            FragmentErrorKind::InvalidMkv(e) => e.fmt(f),
            FragmentErrorKind::InvalidProducerTimestamp(why) => {
                write!(f, "invalid producer timestamp: {why}")
            }
            FragmentErrorKind::TooManyMetadataTags { count, limit } => {
                write!(f, "{count} metadata tags for one fragment, more than {limit}")
            }
            FragmentErrorKind::UnknownTrack { track } => write!(f, "frame for undeclared track {track}"),
            FragmentErrorKind::FramesMissingForTrack { track } => {
                write!(f, "declared track {track} has no frames in the fragment")
            }
            FragmentErrorKind::TooManyTracks { count, limit } => {
                write!(f, "{count} tracks declared, more than {limit}")
            }
        }
    }
}

/// A rejected fragment or a failed session, with its KVS ErrorId.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentError {
    /// The Timecode of the affected Cluster as sent, when known (the ACK's `FragmentTimecode`).
    pub cluster_timecode: Option<u64>,
    /// What is wrong.
    pub kind: FragmentErrorKind,
    /// Whether the session is over (see [`FragmentErrorKind::is_fatal`]).
    pub fatal: bool,
}

impl FragmentError {
    /// The KVS PutMedia ErrorId.
    pub fn error_id(&self) -> ErrorId {
        self.kind.error_id()
    }
}

impl std::fmt::Display for FragmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PutMedia error {} ({})", self.error_id().id(), self.error_id().name())?;
        if let Some(tc) = self.cluster_timecode {
            write!(f, " for fragment timecode {tc}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for FragmentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            FragmentErrorKind::InvalidMkv(e) => Some(e),
            _ => None,
        }
    }
}

/// What the fragmenter reports, in input order.
#[derive(Debug, Clone, PartialEq)]
pub enum FragmentEvent {
    /// A new complete header set (EBML header + Info + Tracks); the fragments after it use it.
    /// Not repeated when a restarted stream sends byte-identical headers.
    HeadersChanged(Arc<HeaderSet>),
    /// A fragment began and its Cluster Timecode is known (send BUFFERING).
    FragmentStarted {
        /// The Cluster Timecode as sent.
        cluster_timecode: u64,
        /// Absolute input offset of the Cluster element.
        offset: u64,
    },
    /// A frame of the current fragment (provisional until the fragment completes).
    Frame(FragmentFrame),
    /// With [`FragmenterConfig::stream_payload`]: the current fragment's next payload bytes (the
    /// Cluster's children exactly as sent, in order; provisional until it completes). The first
    /// comes right after [`FragmentEvent::FragmentStarted`].
    Payload(Bytes),
    /// The fragment is complete and valid (send RECEIVED, then store it).
    FragmentCompleted(Fragment),
    /// A fragment was rejected or the session failed (send an ERROR ack with `error_id()`).
    Error(FragmentError),
}

#[derive(Debug, Clone, Copy)]
struct TrackStats {
    number: u64,
    default_duration_ns: Option<u64>,
    count: u64,
    first_keyframe: bool,
    min_ns: i128,
    max_ns: i128,
}

#[derive(Debug)]
struct OpenFragment {
    offset: u64,
    headers: Arc<HeaderSet>,
    timecode: Option<u64>,
    /// Producer timestamp of the cluster start, ns since the epoch.
    start_ns: i128,
    rejected: bool,
    payload: Vec<Bytes>,
    size: u64,
    /// Payload elements so far (held or handed out).
    elements: u64,
    frames: u64,
    first_keyframe: Option<bool>,
    tracks: Vec<TrackStats>,
    min_ns: i128,
    max_ns: i128,
    /// Duration (ns) of the frame with the latest timestamp, if it had a BlockDuration.
    last_block_duration_ns: Option<i128>,
    /// Track of the frame with the latest timestamp.
    last_track: u64,
    metadata: Vec<(String, String)>,
    /// Metadata tags not kept because more than the limit arrived.
    metadata_overflow: usize,
}

/// The PutMedia fragmenter: an [`MkvDemuxer`] plus the KVS fragment rules.
///
/// Same calling convention as the demuxer: [`Self::push`] a chunk, [`Self::pull`] until
/// `Ok(None)`, repeat; at the end [`Self::finish`] and pull until `Ok(None)`.
#[derive(Debug)]
pub struct Fragmenter {
    demux: MkvDemuxer,
    config: FragmenterConfig,
    out: VecDeque<FragmentEvent>,
    ebml: Option<(Bytes, String)>,
    info: Option<(Bytes, u64)>,
    tracks: Option<(Bytes, Vec<TrackEntry>)>,
    headers: Option<Arc<HeaderSet>>,
    generation: u32,
    open: Option<OpenFragment>,
    pending_metadata: Vec<(String, String)>,
    pending_overflow: usize,
    /// Producer timestamp (ns) of the last completed fragment.
    last_start_ns: Option<i128>,
    fatal: Option<FragmentError>,
}

impl Fragmenter {
    /// A fragmenter for one PutMedia body.
    pub fn new(config: FragmenterConfig) -> Self {
        Fragmenter {
            demux: MkvDemuxer::new(config.demux),
            config,
            out: VecDeque::new(),
            ebml: None,
            info: None,
            tracks: None,
            headers: None,
            generation: 0,
            open: None,
            pending_metadata: Vec::new(),
            pending_overflow: 0,
            last_start_ns: None,
            fatal: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FragmenterConfig {
        &self.config
    }

    /// Appends input. The alternation rule of [`MkvDemuxer::push`] applies: pull until
    /// `Ok(None)` before pushing again. Ignored after a fatal error or after [`Self::finish`].
    pub fn push(&mut self, chunk: Bytes) {
        if self.fatal.is_none() {
            self.demux.push(chunk);
        }
    }

    /// Marks the end of input; pull until `Ok(None)` to get the last fragment.
    pub fn finish(&mut self) {
        self.demux.finish();
    }

    /// Returns the next event; `Ok(None)` when more input is needed (after [`Self::finish`]: the
    /// end). A fatal problem is first reported as `Ok(Some(FragmentEvent::Error(e)))` with
    /// `e.fatal`; from then on every call returns `Err(e)`.
    pub fn pull(&mut self) -> Result<Option<FragmentEvent>, FragmentError> {
        loop {
            if let Some(ev) = self.out.pop_front() {
                return Ok(Some(ev));
            }
            if let Some(e) = &self.fatal {
                return Err(e.clone());
            }
            match self.demux.pull() {
                Ok(Some(ev)) => self.handle(ev),
                Ok(None) => {
                    if self.demux.is_finished() {
                        self.close_open(FragmentEnd::EndOfInput, true);
                        if self.out.is_empty() {
                            return Ok(None);
                        }
                    } else {
                        return Ok(None);
                    }
                }
                Err(e) => self.fail(FragmentErrorKind::InvalidMkv(e)),
            }
        }
    }

    /// Input bytes buffered by the demuxer.
    pub fn buffered_len(&self) -> usize {
        self.demux.buffered_len()
    }

    /// The most bytes buffered after a pull returned `Ok(None)` (see [`DemuxLimits::max_buffered`]).
    pub fn max_buffered(&self) -> u64 {
        self.config.demux.max_buffered()
    }

    /// Asserts the internal invariants (and the demuxer's); panics if one is broken. Meant for
    /// tests and fuzz targets, which call it after every push and pull.
    pub fn check_invariants(&self) {
        self.demux.check_invariants();
        if self.fatal.is_some() {
            assert!(self.open.is_none(), "fragment open after a fatal error");
        }
        if let Some(f) = &self.open {
            let sum: u64 = f.payload.iter().map(|b| b.len() as u64).sum();
            if f.rejected {
                assert!(f.payload.is_empty(), "rejected fragment still holds payload");
            } else {
                if self.config.stream_payload && f.timecode.is_some() {
                    assert!(f.payload.is_empty(), "streamed payload held");
                } else {
                    assert_eq!(sum, f.size, "payload size bookkeeping");
                }
                assert!(f.size <= self.config.max_fragment_bytes, "fragment above the size limit kept");
                assert!(f.metadata.len() <= self.config.max_metadata_per_fragment.saturating_add(1));
            }
            let counted: u64 = f.tracks.iter().map(|t| t.count).sum();
            assert_eq!(counted, f.frames, "per-track frame counts");
            if f.frames > 0 {
                assert!(f.min_ns <= f.max_ns);
                assert!(f.first_keyframe.is_some());
            }
            if f.timecode.is_none() {
                assert_eq!(f.frames, 0, "frames before the Cluster Timecode");
            }
        }
        assert!(self.pending_metadata.len() <= self.config.max_metadata_per_fragment.saturating_add(1));
        assert!(self.out.len() <= 8, "fragmenter queued too many events");
    }

    fn emit_error(&mut self, kind: FragmentErrorKind, cluster_timecode: Option<u64>) {
        let fatal = kind.is_fatal();
        self.out.push_back(FragmentEvent::Error(FragmentError { cluster_timecode, kind, fatal }));
    }

    /// Ends the session with a fatal error.
    fn fail(&mut self, kind: FragmentErrorKind) {
        let cluster_timecode = self.open.as_ref().and_then(|f| f.timecode);
        let err = FragmentError { cluster_timecode, kind, fatal: true };
        self.open = None;
        self.pending_metadata.clear();
        // Nothing more will be parsed: release the buffered input.
        self.demux = MkvDemuxer::new(self.config.demux);
        self.out.push_back(FragmentEvent::Error(err.clone()));
        self.fatal = Some(err);
    }

    /// Rejects the open fragment: reports the error, drops what it holds, ignores the rest of it.
    fn reject(&mut self, kind: FragmentErrorKind) {
        let Some(f) = self.open.as_mut() else { return };
        if f.rejected {
            return;
        }
        f.rejected = true;
        f.payload = Vec::new();
        f.metadata = Vec::new();
        let tc = f.timecode;
        self.emit_error(kind, tc);
    }

    fn handle(&mut self, ev: MkvEvent) {
        if self.fatal.is_some() {
            return;
        }
        match ev {
            MkvEvent::EbmlHeader { raw, doc_type, .. } => {
                self.close_open(FragmentEnd::SegmentEnd, true);
                self.ebml = Some((raw, doc_type));
                self.info = None;
                self.tracks = None;
            }
            MkvEvent::SegmentStart { .. } => {
                self.info = None;
                self.tracks = None;
            }
            MkvEvent::Info { raw, timecode_scale_ns, .. } => {
                self.info = Some((raw, timecode_scale_ns));
                self.update_headers();
            }
            MkvEvent::Tracks { raw, tracks, .. } => {
                self.tracks = Some((raw, tracks));
                self.update_headers();
            }
            MkvEvent::Tags { tags, .. } => self.on_tags(&tags),
            MkvEvent::ClusterStart { offset, .. } => self.start_fragment(offset),
            MkvEvent::ClusterChild { raw, .. } => self.on_cluster_child(raw),
            MkvEvent::ClusterTimecode { timecode } => self.on_timecode(timecode),
            MkvEvent::Frame(frame) => self.on_frame(frame),
            MkvEvent::ClusterEnd { .. } => {}
            MkvEvent::SegmentEnd { .. } => self.close_open(FragmentEnd::SegmentEnd, true),
        }
    }

    fn update_headers(&mut self) {
        let (Some((ebml, doc_type)), Some((info, scale)), Some((tracks, entries))) =
            (&self.ebml, &self.info, &self.tracks)
        else {
            return;
        };
        if entries.len() > self.config.max_tracks {
            let kind =
                FragmentErrorKind::TooManyTracks { count: entries.len(), limit: self.config.max_tracks };
            self.fail(kind);
            return;
        }
        if let Some(current) = &self.headers
            && current.ebml_header == *ebml
            && current.info == *info
            && current.tracks == *tracks
        {
            // Byte-identical to the set in use (e.g. a producer restart repeating its headers).
            return;
        }
        self.generation = self.generation.saturating_add(1);
        let set = Arc::new(HeaderSet {
            generation: self.generation,
            ebml_header: ebml.clone(),
            doc_type: doc_type.clone(),
            info: info.clone(),
            timecode_scale_ns: *scale,
            tracks: tracks.clone(),
            track_entries: entries.clone(),
        });
        self.headers = Some(set.clone());
        self.out.push_back(FragmentEvent::HeadersChanged(set));
    }

    fn push_metadata(
        list: &mut Vec<(String, String)>,
        overflow: &mut usize,
        limit: usize,
        tag: (String, String),
    ) {
        // Keep one more than the limit so that "too many" stays visible; count the rest.
        if list.len() <= limit {
            list.push(tag);
        } else {
            *overflow = overflow.saturating_add(1);
        }
    }

    fn on_tags(&mut self, tags: &[SimpleTag]) {
        let limit = self.config.max_metadata_per_fragment;
        let mut end_of_fragment = false;
        for t in tags {
            if t.is_end_of_fragment() {
                end_of_fragment = true;
            } else if !t.targeted {
                let pair = (t.name.clone(), t.value.clone());
                Self::push_metadata(&mut self.pending_metadata, &mut self.pending_overflow, limit, pair);
            }
        }
        if end_of_fragment {
            self.close_open(FragmentEnd::EndOfFragmentTag, true);
        }
    }

    fn start_fragment(&mut self, offset: u64) {
        self.close_open(FragmentEnd::NextCluster, false);
        if self.fatal.is_some() {
            return;
        }
        let Some(headers) = self.headers.clone() else {
            // The demuxer refuses a Cluster before Info and Tracks, so this is unreachable.
            let err = MkvError::new(
                MkvErrorKind::Invalid("Cluster before a complete header set"),
                offset,
                ElementPath::root().child(ids::SEGMENT).child(ids::CLUSTER),
            );
            self.fail(FragmentErrorKind::InvalidMkv(err));
            return;
        };
        let tracks = headers
            .track_entries
            .iter()
            .map(|t| TrackStats {
                number: t.number,
                default_duration_ns: t.default_duration_ns,
                count: 0,
                first_keyframe: false,
                min_ns: 0,
                max_ns: 0,
            })
            .collect();
        self.open = Some(OpenFragment {
            offset,
            headers,
            timecode: None,
            start_ns: 0,
            rejected: false,
            payload: Vec::new(),
            size: 0,
            elements: 0,
            frames: 0,
            first_keyframe: None,
            tracks,
            min_ns: 0,
            max_ns: 0,
            last_block_duration_ns: None,
            last_track: 0,
            metadata: std::mem::take(&mut self.pending_metadata),
            metadata_overflow: std::mem::take(&mut self.pending_overflow),
        });
    }

    fn on_cluster_child(&mut self, raw: Bytes) {
        let limit = self.config.max_fragment_bytes;
        let Some(f) = self.open.as_mut() else { return };
        if f.rejected {
            return;
        }
        f.size = f.size.saturating_add(raw.len() as u64);
        // A fragment of millions of tiny elements would cost far more memory in bookkeeping than
        // its bytes: the per-element `Bytes` counts against the same limit.
        f.elements += 1;
        let bookkeeping = f.elements.saturating_mul(std::mem::size_of::<Bytes>() as u64);
        if f.size > limit || bookkeeping > limit {
            self.reject(FragmentErrorKind::FragmentTooLarge { limit_bytes: limit });
            return;
        }
        if self.config.stream_payload && f.timecode.is_some() {
            self.out.push_back(FragmentEvent::Payload(raw));
        } else {
            f.payload.push(raw);
        }
    }

    fn on_timecode(&mut self, timecode: u64) {
        let base_ns = match (self.config.timecode_type, self.config.producer_start_ms) {
            (TimecodeType::Absolute, _) => 0,
            (TimecodeType::Relative, Some(ms)) => i128::from(ms) * NS_PER_MS,
            (TimecodeType::Relative, None) => {
                self.fail_at(
                    timecode,
                    FragmentErrorKind::InvalidProducerTimestamp(
                        "RELATIVE timecodes without a producer start timestamp",
                    ),
                );
                return;
            }
        };
        let Some(f) = self.open.as_mut() else { return };
        f.timecode = Some(timecode);
        let scale = i128::from(f.headers.timecode_scale_ns);
        let start_ns = i128::from(timecode).checked_mul(scale).and_then(|n| n.checked_add(base_ns));
        let Some(start_ns) = start_ns.filter(|n| u64::try_from(n / NS_PER_MS).is_ok()) else {
            self.fail_at(
                timecode,
                FragmentErrorKind::InvalidProducerTimestamp("fragment timestamp out of range"),
            );
            return;
        };
        f.start_ns = start_ns;
        if f.rejected {
            return;
        }
        let offset = f.offset;
        let metadata_count = f.metadata.len().saturating_add(f.metadata_overflow);
        self.out.push_back(FragmentEvent::FragmentStarted { cluster_timecode: timecode, offset });
        if self.config.stream_payload && !f.payload.is_empty() {
            // The children before and including the Timecode, as one piece (a few bytes).
            let held: Vec<u8> =
                std::mem::take(&mut f.payload).iter().flat_map(|b| b.iter().copied()).collect();
            self.out.push_back(FragmentEvent::Payload(Bytes::from(held)));
        }
        if let Some(prev) = self.last_start_ns
            && start_ns <= prev
        {
            self.reject(FragmentErrorKind::TimecodeNotMonotonic {
                timestamp_ms: ns_to_ms(start_ns),
                previous_ms: ns_to_ms(prev),
            });
            return;
        }
        let limit = self.config.max_metadata_per_fragment;
        if metadata_count > limit {
            self.reject(FragmentErrorKind::TooManyMetadataTags { count: metadata_count, limit });
        }
    }

    fn fail_at(&mut self, timecode: u64, kind: FragmentErrorKind) {
        if let Some(f) = self.open.as_mut() {
            f.timecode = Some(timecode);
        }
        self.fail(kind);
    }

    fn on_frame(&mut self, frame: Frame) {
        let max_duration_ns = i128::from(self.config.max_fragment_duration_ms) * NS_PER_MS;
        let Some(f) = self.open.as_mut() else { return };
        let Some(cluster_timecode) = f.timecode else { return };
        if f.rejected {
            return;
        }
        let scale = i128::from(f.headers.timecode_scale_ns);
        let Some(stats) = f.tracks.iter_mut().find(|t| t.number == frame.track) else {
            let track = frame.track;
            self.reject(FragmentErrorKind::UnknownTrack { track });
            return;
        };
        // Offsets from the cluster start cannot overflow an i128: |rel| < 2^15, scale < 2^64.
        let lace_ns = i128::from(frame.lace_index) * i128::from(stats.default_duration_ns.unwrap_or(0));
        let ts_ns = f.start_ns.saturating_add(i128::from(frame.timecode_rel) * scale + lace_ns);
        if stats.count == 0 {
            stats.min_ns = ts_ns;
            stats.max_ns = ts_ns;
            stats.first_keyframe = frame.keyframe;
        } else {
            stats.min_ns = stats.min_ns.min(ts_ns);
            stats.max_ns = stats.max_ns.max(ts_ns);
        }
        stats.count += 1;
        if f.frames == 0 {
            f.min_ns = ts_ns;
            f.max_ns = ts_ns;
            f.first_keyframe = Some(frame.keyframe);
        } else {
            f.min_ns = f.min_ns.min(ts_ns);
        }
        if f.frames == 0 || ts_ns >= f.max_ns {
            f.max_ns = ts_ns;
            f.last_block_duration_ns = frame.duration.map(|d| i128::from(d).saturating_mul(scale));
            f.last_track = frame.track;
        }
        f.frames += 1;
        if f.max_ns - f.min_ns > max_duration_ns {
            let duration_ms = ns_to_ms(f.max_ns - f.min_ns);
            self.reject(FragmentErrorKind::FragmentTooLong {
                duration_ms,
                limit_ms: self.config.max_fragment_duration_ms,
            });
            return;
        }
        let timestamp_ms = ns_to_ms(ts_ns);
        self.out.push_back(FragmentEvent::Frame(FragmentFrame { frame, timestamp_ms, cluster_timecode }));
    }

    /// Closes the open fragment (if any): validates it and reports it completed or rejected.
    /// With `take_pending`, metadata still pending goes to this fragment.
    fn close_open(&mut self, end: FragmentEnd, take_pending: bool) {
        let Some(mut f) = self.open.take() else { return };
        if take_pending {
            let limit = self.config.max_metadata_per_fragment;
            f.metadata_overflow =
                f.metadata_overflow.saturating_add(std::mem::take(&mut self.pending_overflow));
            for tag in std::mem::take(&mut self.pending_metadata) {
                Self::push_metadata(&mut f.metadata, &mut f.metadata_overflow, limit, tag);
            }
        }
        if f.rejected {
            return;
        }
        let Some(cluster_timecode) = f.timecode else {
            let err = MkvError::new(
                MkvErrorKind::Invalid("Cluster without a Timecode"),
                f.offset,
                ElementPath::root().child(ids::SEGMENT).child(ids::CLUSTER),
            );
            self.fail(FragmentErrorKind::InvalidMkv(err));
            return;
        };
        let error = |kind| FragmentError { cluster_timecode: Some(cluster_timecode), kind, fatal: false };
        let metadata_count = f.metadata.len().saturating_add(f.metadata_overflow);
        if metadata_count > self.config.max_metadata_per_fragment {
            let limit = self.config.max_metadata_per_fragment;
            let e = error(FragmentErrorKind::TooManyMetadataTags { count: metadata_count, limit });
            self.out.push_back(FragmentEvent::Error(e));
            return;
        }
        let duration_ms = fragment_duration_ms(&f);
        if duration_ms > self.config.max_fragment_duration_ms {
            let limit_ms = self.config.max_fragment_duration_ms;
            let e = error(FragmentErrorKind::FragmentTooLong { duration_ms, limit_ms });
            self.out.push_back(FragmentEvent::Error(e));
            return;
        }
        if let Some(missing) = f.tracks.iter().find(|t| t.count == 0) {
            let e = error(FragmentErrorKind::FramesMissingForTrack { track: missing.number });
            self.out.push_back(FragmentEvent::Error(e));
            return;
        }
        self.last_start_ns = Some(f.start_ns);
        let mut tracks_with_frames: Vec<u64> =
            f.tracks.iter().filter(|t| t.count > 0).map(|t| t.number).collect();
        tracks_with_frames.sort_unstable();
        let track_summaries = f
            .tracks
            .iter()
            .map(|t| TrackSummary {
                track: t.number,
                frame_count: t.count,
                starts_with_keyframe: t.first_keyframe,
            })
            .collect();
        let fragment = Fragment {
            cluster_timecode,
            offset: f.offset,
            producer_timestamp_ms: ns_to_ms(f.start_ns),
            start_timestamp_ms: if f.frames > 0 { ns_to_ms(f.min_ns) } else { ns_to_ms(f.start_ns) },
            duration_ms,
            payload: f.payload,
            payload_size: f.size,
            tracks_with_frames,
            track_summaries,
            frame_count: f.frames,
            starts_with_keyframe: f.first_keyframe.unwrap_or(false),
            metadata: f.metadata,
            headers: f.headers,
            end,
        };
        self.out.push_back(FragmentEvent::FragmentCompleted(fragment));
    }
}

/// Latest − earliest frame timestamp + the latest frame's duration (see [`Fragment::duration_ms`]).
fn fragment_duration_ms(f: &OpenFragment) -> u64 {
    if f.frames == 0 {
        return 0;
    }
    let last_duration_ns = f.last_block_duration_ns.unwrap_or_else(|| {
        let Some(t) = f.tracks.iter().find(|t| t.number == f.last_track) else { return 0 };
        match t.default_duration_ns {
            Some(d) => i128::from(d),
            None if t.count >= 2 => (t.max_ns - t.min_ns) / i128::from(t.count - 1),
            None => 0,
        }
    });
    ns_to_ms((f.max_ns - f.min_ns).saturating_add(last_duration_ns))
}

/// Nanoseconds to whole milliseconds, clamped to `0..=u64::MAX`.
fn ns_to_ms(ns: i128) -> u64 {
    u64::try_from(ns.div_euclid(NS_PER_MS).max(0)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_start_timestamp() {
        assert_eq!(parse_producer_start_timestamp("1663277247.52"), Some(1_663_277_247_052));
        assert_eq!(parse_producer_start_timestamp("1663277247.152"), Some(1_663_277_247_152));
        assert_eq!(parse_producer_start_timestamp("1663277247.5"), Some(1_663_277_247_005));
        assert_eq!(parse_producer_start_timestamp("1663277247.052"), Some(1_663_277_247_052));
        assert_eq!(parse_producer_start_timestamp("1663277247"), Some(1_663_277_247_000));
        assert_eq!(parse_producer_start_timestamp(" 1795510755.684 "), Some(1_795_510_755_684));
        assert_eq!(parse_producer_start_timestamp("0"), Some(0));
        for bad in [
            "",
            ".",
            "1.",
            ".5",
            "-1",
            "-1.5",
            "+5",
            "1.1234",
            "abc",
            "1e9",
            "1663277247.x",
            "1.2.3",
            "99999999999999999999999",
            "5000000000",
            "1663277247,152",
            "0x10",
        ] {
            assert_eq!(parse_producer_start_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn error_ids_and_fatality() {
        let e = MkvError::new(MkvErrorKind::NotEbml, 0, ElementPath::root());
        let cases: [(FragmentErrorKind, u32, bool); 9] = [
            (FragmentErrorKind::FragmentTooLarge { limit_bytes: 1 }, 4001, false),
            (FragmentErrorKind::FragmentTooLong { duration_ms: 2, limit_ms: 1 }, 4002, false),
            (FragmentErrorKind::TimecodeNotMonotonic { timestamp_ms: 1, previous_ms: 2 }, 4004, false),
            (FragmentErrorKind::InvalidMkv(e), 4006, true),
            (FragmentErrorKind::InvalidProducerTimestamp("x"), 4007, true),
            (FragmentErrorKind::TooManyMetadataTags { count: 11, limit: 10 }, 4009, false),
            (FragmentErrorKind::UnknownTrack { track: 9 }, 4010, false),
            (FragmentErrorKind::FramesMissingForTrack { track: 2 }, 4011, false),
            (FragmentErrorKind::TooManyTracks { count: 4, limit: 3 }, 4012, true),
        ];
        for (kind, id, fatal) in cases {
            assert_eq!(kind.error_id().id(), id);
            assert_eq!(kind.is_fatal(), fatal, "{id}");
            assert!(!kind.error_id().name().is_empty());
            let err = FragmentError { cluster_timecode: Some(5), kind, fatal };
            assert!(err.to_string().contains(&id.to_string()));
        }
    }

    /// `video_starts_with_keyframe` over every fragment of a fixture, in order.
    fn video_starts(file: &'static [u8]) -> Vec<Option<bool>> {
        let mut f = Fragmenter::new(FragmenterConfig::default());
        f.push(Bytes::from_static(file));
        f.finish();
        let mut out = Vec::new();
        while let Some(e) = f.pull().unwrap() {
            if let FragmentEvent::FragmentCompleted(fragment) = e {
                out.push(fragment.video_starts_with_keyframe());
            }
        }
        out
    }

    #[test]
    fn video_key_frame_at_the_start_of_each_fragment() {
        // ffmpeg's Clusters cut by time: only those that happen to begin a GOP start on a key
        // frame (the first one's first frame is audio, its first video frame the key frame).
        let bframes = video_starts(include_bytes!("../../tests/fixtures/h264_bframes_aac_640x360_10s.mkv"));
        assert_eq!(bframes.len(), 27);
        assert_eq!(bframes[0], Some(true));
        assert_eq!(bframes.iter().filter(|v| **v == Some(true)).count(), 5);
        assert!(bframes.iter().all(Option::is_some));
        let gop = video_starts(include_bytes!("../../tests/fixtures/h264_640x360_20s_2sgop.mkv"));
        assert_eq!(gop, vec![Some(true); 10]);
    }

    /// With `stream_payload`, the Payload events of each fragment are exactly the payload the
    /// buffering fragmenter keeps, byte for byte and in order, however the input is cut.
    #[test]
    fn streamed_payload_equals_the_kept_payload() {
        let file: &'static [u8] = include_bytes!("../../tests/fixtures/h264_bframes_aac_640x360_10s.mkv");
        let mut kept = Fragmenter::new(FragmenterConfig::default());
        kept.push(Bytes::from_static(file));
        kept.finish();
        let mut expected = Vec::new();
        while let Some(e) = kept.pull().unwrap() {
            if let FragmentEvent::FragmentCompleted(f) = e {
                expected.push((f.payload.concat(), f.payload_size));
            }
        }
        for cut in [7usize, 1000, 65_536] {
            let config = FragmenterConfig { stream_payload: true, ..FragmenterConfig::default() };
            let mut streamed = Fragmenter::new(config);
            let (mut got, mut current) = (Vec::new(), Vec::new());
            let drain = |f: &mut Fragmenter, got: &mut Vec<(Vec<u8>, u64)>, current: &mut Vec<u8>| {
                while let Some(e) = f.pull().unwrap() {
                    f.check_invariants();
                    match e {
                        FragmentEvent::FragmentStarted { .. } => current.clear(),
                        FragmentEvent::Payload(b) => current.extend_from_slice(&b),
                        FragmentEvent::FragmentCompleted(f) => {
                            assert!(f.payload.is_empty());
                            got.push((std::mem::take(current), f.payload_size));
                        }
                        _ => {}
                    }
                }
            };
            for chunk in file.chunks(cut) {
                streamed.push(Bytes::copy_from_slice(chunk));
                drain(&mut streamed, &mut got, &mut current);
            }
            streamed.finish();
            drain(&mut streamed, &mut got, &mut current);
            assert_eq!(got, expected, "cut every {cut} bytes");
        }
    }
}
