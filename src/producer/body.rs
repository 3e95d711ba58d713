//! The PutMedia body as `openkvs put` sends it: [`BodyPiece`]s made from a Matroska input by the
//! pure re-framer (`crate::media::mkv::rewrite`), which cuts one fragment per GOP (by a
//! [`FragmentPolicy`], whatever the input's own Clusters), with cluster timecodes chosen by a
//! [`Retimer`].
//!
//! Two sources produce the same pieces:
//! - [`reader_pieces`] reads any `AsyncRead` (a file, stdin) incrementally: 64 KiB at a time, at
//!   most one Cluster buffered, so `ffmpeg … -f matroska - | openkvs put -` never loads the stream.
//! - [`PreparedFile`] splits a whole file held in memory once, then hands out re-timed pieces for
//!   as many sessions as wanted, sharing the frame bytes (`openkvs bench ingest`).
//!
//! Re-timing (`x-amzn-fragment-timecode-type`):
//! - `ABSOLUTE`: cluster timecodes become epoch milliseconds, `base_ms + timecode`, where `base_ms`
//!   is the session's start; a file whose first cluster already carries epoch milliseconds
//!   (≥ 10^11, e.g. a captured producer body) is sent unchanged. TimecodeScale must be 1 ms (what
//!   every KVS producer and ffmpeg write): another scale is refused with a message suggesting
//!   RELATIVE, rather than rewriting every block's relative timecode.
//! - `RELATIVE`: timecodes are sent as they are; the server adds `x-amzn-producer-start-timestamp`.
//!
//! Pacing: a Cluster piece says when each of its chunks is due (the Cluster prefix, then every
//! block at its own timecode, see [`BodyPiece::chunk_offsets_ms`]); the session waits for them
//! with `--realtime`.
//!
//! Owns what goes into the body. It does no network I/O and reads no clock: the caller passes
//! `base_ms`.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::media::fragment::TimecodeType;
use crate::media::mkv::rewrite::{BodyItem, FragmentPolicy, ReframeError, ReframedCluster, Reframer};

/// Cluster timecodes at or above this many milliseconds are taken to be epoch-based already
/// (10^11 ms is March 1973).
pub const EPOCH_MS_THRESHOLD: u64 = 100_000_000_000;

/// How much is read from the input at a time.
const READ_SIZE: usize = 64 * 1024;

/// One piece of the body, sent in order; each `Bytes` becomes one HTTP chunk.
#[derive(Debug, Clone)]
pub struct BodyPiece {
    /// The bytes.
    pub chunks: Vec<Bytes>,
    /// Set when the piece is a whole Cluster, i.e. a fragment.
    pub cluster: Option<ClusterMark>,
    /// For a Cluster piece, one entry per chunk: milliseconds after the Cluster is due
    /// ([`ClusterMark::offset_ms`]) that the chunk is due, for `--realtime` pacing frame by frame.
    /// 0 for the Cluster prefix (with its Timecode), each block's own time for the children (see
    /// `ReframedCluster::child_offsets_ms`), the last child's for the end-of-fragment Tags. Empty
    /// for other pieces (sent as soon as the previous one).
    pub chunk_offsets_ms: Vec<u64>,
    /// Whether the piece ends with the end-of-fragment Tags (every Cluster piece does).
    pub end_of_fragment: bool,
}

impl BodyPiece {
    fn bytes(b: Bytes) -> Self {
        BodyPiece { chunks: vec![b], cluster: None, chunk_offsets_ms: Vec::new(), end_of_fragment: false }
    }
}

/// What the session needs to know about a Cluster piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterMark {
    /// The Cluster Timecode as sent (the ACKs' `FragmentTimecode`).
    pub timecode: u64,
    /// Milliseconds after the body's first Cluster (for `--realtime` pacing): when the Cluster
    /// prefix is due; its blocks follow at [`BodyPiece::chunk_offsets_ms`].
    pub offset_ms: u64,
    /// Encoded length, bytes.
    pub len: u64,
    /// Whether its video starts on a key frame (see `ReframedCluster::video_starts_on_key_frame`).
    pub video_starts_on_key_frame: bool,
    /// Video blocks dropped before it because no key frame had come yet.
    pub blocks_dropped: u64,
}

/// Why the input cannot be sent.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Reading the input failed.
    #[error("reading the input failed: {0}")]
    Io(#[from] std::io::Error),
    /// The input is not usable Matroska.
    #[error("{0}")]
    Reframe(#[from] ReframeError),
    /// ABSOLUTE mode with a TimecodeScale other than 1 ms.
    #[error(
        "the input's TimecodeScale is {0} ns; ABSOLUTE timecodes need 1 ms (1000000 ns): \
         use --timecode-type RELATIVE, or remux with ffmpeg -c copy -f matroska"
    )]
    TimecodeScale(u64),
    /// The input ended before any Cluster.
    #[error("the input holds no Cluster with frames (is it Matroska/WebM?)")]
    NoClusters,
}

/// Chooses the timecode each Cluster is sent with. See the module documentation.
#[derive(Debug, Clone)]
pub struct Retimer {
    mode: TimecodeType,
    base_ms: u64,
    /// First cluster's timecode in ms, and whether timecodes are kept as they are.
    first: Option<(u64, bool)>,
}

impl Retimer {
    /// A re-timer for one session starting at `base_ms` (epoch milliseconds).
    pub fn new(mode: TimecodeType, base_ms: u64) -> Self {
        Retimer { mode, base_ms, first: None }
    }

    /// Checks an Info element's TimecodeScale against the mode.
    pub fn check_scale(&self, timecode_scale_ns: u64) -> Result<(), BodyError> {
        if self.mode == TimecodeType::Absolute && timecode_scale_ns != 1_000_000 {
            return Err(BodyError::TimecodeScale(timecode_scale_ns));
        }
        Ok(())
    }

    /// The timecode to send for `c` and its offset from the first Cluster in ms.
    pub fn place(&mut self, c: &ReframedCluster) -> (u64, u64) {
        let ms = c.timecode_ms();
        let (first_ms, keep) = *self
            .first
            .get_or_insert_with(|| (ms, self.mode == TimecodeType::Relative || ms >= EPOCH_MS_THRESHOLD));
        let timecode = if keep { c.timecode } else { self.base_ms.saturating_add(c.timecode) };
        (timecode, ms.saturating_sub(first_ms))
    }

    /// The piece for one re-framer item.
    pub fn piece(&mut self, item: BodyItem) -> Result<BodyPiece, BodyError> {
        Ok(match item {
            BodyItem::Header(b) => BodyPiece::bytes(b),
            BodyItem::Info { raw, timecode_scale_ns } => {
                self.check_scale(timecode_scale_ns)?;
                BodyPiece::bytes(raw)
            }
            BodyItem::Tags { raw } => BodyPiece::bytes(raw),
            BodyItem::Cluster(c) => {
                let (timecode, offset_ms) = self.place(&c);
                // Close every fragment explicitly, as the C producer does: the server cannot know a
                // fragment ended until the next element arrives, and that would hold RECEIVED and
                // PERSISTED back by one fragment duration in real-time streaming.
                let mut chunks = c.encode(timecode);
                chunks.push(crate::media::mkv::rewrite::end_of_fragment_tags());
                let children = c.child_offsets_ms();
                let last = children.last().copied().unwrap_or(0);
                let mut chunk_offsets_ms = Vec::with_capacity(chunks.len());
                chunk_offsets_ms.push(0);
                chunk_offsets_ms.extend(children);
                chunk_offsets_ms.push(last);
                debug_assert_eq!(chunk_offsets_ms.len(), chunks.len());
                BodyPiece {
                    chunks,
                    cluster: Some(ClusterMark {
                        timecode,
                        offset_ms,
                        len: c.encoded_len(),
                        video_starts_on_key_frame: c.video_starts_on_key_frame,
                        blocks_dropped: c.blocks_dropped,
                    }),
                    chunk_offsets_ms,
                    end_of_fragment: true,
                }
            }
        })
    }
}

struct ReaderState<R> {
    input: R,
    reframer: Reframer,
    retimer: Retimer,
    eof: bool,
    failed: bool,
    clusters: u64,
}

/// Pieces read incrementally from `input`, fragments cut by `policy`. The stream ends after the
/// input does, or after the first error (which is its last item).
pub fn reader_pieces<R>(
    input: R,
    retimer: Retimer,
    policy: FragmentPolicy,
) -> impl Stream<Item = Result<BodyPiece, BodyError>> + Send
where
    R: AsyncRead + Send + Unpin + 'static,
{
    let reframer = Reframer::with_policy(policy);
    let state = ReaderState { input, reframer, retimer, eof: false, failed: false, clusters: 0 };
    futures_util::stream::unfold(state, |mut s| async move {
        if s.failed {
            return None;
        }
        let item = next_piece(&mut s).await;
        match item {
            Ok(Some(piece)) => Some((Ok(piece), s)),
            Ok(None) => None,
            Err(e) => {
                s.failed = true;
                Some((Err(e), s))
            }
        }
    })
}

async fn next_piece<R: AsyncRead + Unpin>(s: &mut ReaderState<R>) -> Result<Option<BodyPiece>, BodyError> {
    loop {
        if let Some(item) = s.reframer.pull()? {
            if matches!(item, BodyItem::Cluster(_)) {
                s.clusters += 1;
            }
            return s.retimer.piece(item).map(Some);
        }
        if s.eof {
            if s.clusters == 0 {
                return Err(BodyError::NoClusters);
            }
            return Ok(None);
        }
        let mut buf = Vec::with_capacity(READ_SIZE);
        let n = (&mut s.input).take(READ_SIZE as u64).read_to_end(&mut buf).await?;
        if n == 0 {
            s.eof = true;
            s.reframer.finish();
        } else {
            s.reframer.push(Bytes::from(buf));
        }
    }
}

/// A Matroska file split once into re-framer items, shared by many sessions.
#[derive(Debug)]
pub struct PreparedFile {
    items: Vec<BodyItem>,
    clusters: usize,
    bytes: u64,
}

impl PreparedFile {
    /// Splits `data` (the whole file) into fragments cut by `policy`.
    pub fn new(data: Bytes, policy: FragmentPolicy) -> Result<Arc<Self>, BodyError> {
        let mut r = Reframer::with_policy(policy);
        let bytes = data.len() as u64;
        r.push(data);
        let mut items = Vec::new();
        while let Some(item) = r.pull()? {
            items.push(item);
        }
        r.finish();
        while let Some(item) = r.pull()? {
            items.push(item);
        }
        let clusters = items.iter().filter(|i| matches!(i, BodyItem::Cluster(_))).count();
        if clusters == 0 {
            return Err(BodyError::NoClusters);
        }
        Ok(Arc::new(PreparedFile { items, clusters, bytes }))
    }

    /// Number of Clusters (fragments).
    pub fn clusters(&self) -> usize {
        self.clusters
    }

    /// Size of the original file.
    pub fn file_bytes(&self) -> u64 {
        self.bytes
    }

    /// The pieces of one session re-timed by `retimer`; only the Cluster prefixes are new bytes.
    pub fn pieces(&self, mut retimer: Retimer) -> Result<Vec<BodyPiece>, BodyError> {
        self.items.iter().map(|item| retimer.piece(item.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    const FIXTURE: &[u8] = include_bytes!("../../tests/fixtures/h264_640x360_20s_2sgop.mkv");

    #[tokio::test]
    async fn reader_and_prepared_agree() {
        let base = 1_700_000_000_000;
        let retimer = Retimer::new(TimecodeType::Absolute, base);
        let policy = FragmentPolicy::default();
        let read: Vec<BodyPiece> =
            reader_pieces(FIXTURE, retimer.clone(), policy).map(|p| p.unwrap()).collect().await;
        let prepared =
            PreparedFile::new(Bytes::from_static(FIXTURE), policy).unwrap().pieces(retimer).unwrap();
        assert_eq!(read.len(), prepared.len());
        let marks: Vec<ClusterMark> = read.iter().filter_map(|p| p.cluster).collect();
        assert_eq!(marks.len(), 10);
        for (i, m) in marks.iter().enumerate() {
            assert_eq!(m.timecode, base + 2000 * i as u64);
            assert_eq!(m.offset_ms, 2000 * i as u64);
        }
        // Frame pacing: the prefix at the Cluster's time, 50 frames 40 ms apart, then the
        // end-of-fragment Tags with the last frame; nothing to pace in other pieces.
        let mut expected = vec![0];
        expected.extend((0..50).map(|i| i * 40));
        expected.push(1960);
        for p in read.iter().chain(&prepared) {
            if p.cluster.is_some() {
                assert_eq!(p.chunk_offsets_ms, expected);
                assert_eq!(p.chunks.len(), expected.len());
            } else {
                assert!(p.chunk_offsets_ms.is_empty());
            }
        }
        let flat = |v: &[BodyPiece]| {
            v.iter().flat_map(|p| p.chunks.iter().flat_map(|c| c.to_vec())).collect::<Vec<u8>>()
        };
        assert_eq!(flat(&read), flat(&prepared));
    }

    #[test]
    fn epoch_timecodes_and_relative_are_kept() {
        let c = |timecode| ReframedCluster {
            offset: 0,
            timecode,
            timecode_scale_ns: 1_000_000,
            children: Vec::new(),
            children_len: 0,
            blocks: 1,
            video_starts_on_key_frame: true,
            blocks_dropped: 0,
        };
        let mut r = Retimer::new(TimecodeType::Absolute, 5);
        assert_eq!(r.place(&c(1_663_277_247_152)), (1_663_277_247_152, 0));
        assert_eq!(r.place(&c(1_663_277_249_152)), (1_663_277_249_152, 2000));
        let mut r = Retimer::new(TimecodeType::Absolute, 1_000_000_000_000);
        assert_eq!(r.place(&c(500)), (1_000_000_000_500, 0));
        let mut r = Retimer::new(TimecodeType::Relative, 1_000_000_000_000);
        assert_eq!(r.place(&c(500)), (500, 0));
        assert_eq!(r.place(&c(2500)), (2500, 2000));
        assert!(Retimer::new(TimecodeType::Absolute, 0).check_scale(1000).is_err());
        assert!(Retimer::new(TimecodeType::Relative, 0).check_scale(1000).is_ok());
    }

    #[tokio::test]
    async fn not_matroska() {
        let policy = FragmentPolicy::default();
        let pieces: Vec<_> =
            reader_pieces(&b"hello world"[..], Retimer::new(TimecodeType::Absolute, 0), policy)
                .collect()
                .await;
        assert_eq!(pieces.len(), 1);
        assert!(pieces[0].as_ref().unwrap_err().to_string().contains("invalid Matroska"));
        let pieces: Vec<_> =
            reader_pieces(&b""[..], Retimer::new(TimecodeType::Absolute, 0), policy).collect().await;
        assert!(matches!(pieces[..], [Err(BodyError::NoClusters)]));
    }
}
