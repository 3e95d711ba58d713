//! Reading streams back: GetMedia (archive then live tail, at frame level) and
//! GetMediaForFragmentList, as byte streams of KVS "chunks" (one complete Matroska document per
//! fragment, with the KVS tags); HLS/DASH streaming sessions (`session`: tokens and fragment
//! windows; `hls`, `dash`: playlists and manifests; `segments`: fMP4 and MPEG-TS segments),
//! GetClip (`clip`: progressive MP4) and GetImages (`images`: pictures decoded by `imaging`).
//!
//! This layer knows nothing of HTTP: it takes domain values (a stream, a start position, fragment
//! numbers) and returns channels of `Bytes`. It lists and reads fragments through the
//! [`Archive`] and subscribes to the ingest live feed; it never blocks ingest (live events come
//! through a bounded broadcast, and a reader that lags catches up from the archive).

pub mod clip;
pub mod dash;
pub mod get_media;
pub mod hls;
pub mod images;
pub mod segments;
pub mod session;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use crate::archive::{Archive, IndexError, KeyUnavailable, ReadError};
use crate::auth::session_token::SessionTokenKey;
use crate::clock::Clock;
use crate::ingest::Ingest;
use crate::media::codec::CodecError;
use crate::media::samples::SamplesError;
use crate::model::FragmentRecord;

pub use get_media::{GetMediaError, StartSelector};

/// `[playback]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlaybackConfig {
    /// Concurrent GetMedia readers per stream (AWS: 3); more get `ConnectionLimitExceededException`.
    pub max_get_media_readers: usize,
    /// A caught-up GetMedia response ends after this many seconds without new data while no
    /// producer is connected, seconds.
    pub get_media_idle_secs: u64,
    /// Secret that seals HLS/DASH session tokens; nodes serving the same sessions need the same
    /// one. Default: derived from the first configured access key's secret.
    pub session_token_secret: Option<String>,
    /// Most fragments in one GetClip (AWS: 200).
    pub max_clip_fragments: u32,
    /// Most stored fragment bytes in one GetClip (AWS: 100 MB).
    pub max_clip_bytes: u64,
}

impl Default for PlaybackConfig {
    fn default() -> Self {
        Self {
            max_get_media_readers: 3,
            get_media_idle_secs: 10,
            session_token_secret: None,
            max_clip_fragments: 200,
            max_clip_bytes: 100 * 1024 * 1024,
        }
    }
}

/// The playback service.
#[derive(Debug)]
pub struct Playback {
    archive: Arc<Archive>,
    /// For the live feed and whether a producer is connected.
    ingest: Arc<Ingest>,
    clock: Arc<dyn Clock>,
    config: PlaybackConfig,
    token_key: SessionTokenKey,
    readers: Mutex<HashMap<i64, usize>>,
}

/// Why an HLS/DASH/clip request failed (the API layer maps each to an AWS error code).
#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    /// The SessionToken is forged, malformed or of the other protocol.
    #[error("the session token is not valid")]
    InvalidToken,
    /// The SessionToken has expired.
    #[error("the session token has expired")]
    ExpiredToken,
    /// The requested fragment or header set is not part of the session (or is gone).
    #[error("the requested fragment is not part of this session")]
    FragmentNotInSession,
    /// The requested track number does not exist in the fragment.
    #[error("track {0} does not exist in this stream")]
    NoSuchTrack(u64),
    /// No fragments match (KVS: ResourceNotFoundException).
    #[error("{0}")]
    NoFragments(String),
    /// The stream keeps no data.
    #[error("the stream does not retain data")]
    NoDataRetention,
    /// A clip over the configured limits.
    #[error("{0}")]
    ClipLimit(String),
    /// The media cannot be packaged.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The stream's data key cannot be had: its media cannot be decrypted.
    #[error(transparent)]
    KeyUnavailable(#[from] KeyUnavailable),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Anything else (store I/O, a panicked task).
    #[error("internal error: {0}")]
    Internal(String),
}

impl PlaybackError {
    /// Why fragment `f`'s bytes could not be read, as a playback error.
    pub fn unreadable(f: &FragmentRecord, e: ReadError) -> Self {
        match e {
            ReadError::Missing => PlaybackError::FragmentNotInSession,
            ReadError::KeyUnavailable(k) => PlaybackError::KeyUnavailable(k),
            ReadError::Failed(e) | ReadError::Corrupt(e) => {
                PlaybackError::Internal(format!("reading fragment {}: {e}", f.number))
            }
        }
    }
}

impl From<SamplesError> for PlaybackError {
    fn from(e: SamplesError) -> Self {
        match e {
            SamplesError::Codec(c) => PlaybackError::Codec(c),
            SamplesError::Matroska(m) => PlaybackError::Codec(CodecError::InvalidFrame(m)),
        }
    }
}

/// Holds one reader slot of a stream; frees it when dropped.
#[derive(Debug)]
pub struct ReaderSlot {
    playback: Arc<Playback>,
    stream_id: i64,
}

impl Drop for ReaderSlot {
    fn drop(&mut self) {
        let mut readers = self.playback.readers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = readers.get_mut(&self.stream_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                readers.remove(&self.stream_id);
            }
        }
    }
}

impl Playback {
    /// Builds the service: fragments come from `archive`, live frames from `ingest`.
    pub fn new(
        archive: Arc<Archive>,
        ingest: Arc<Ingest>,
        clock: Arc<dyn Clock>,
        config: PlaybackConfig,
        token_key: SessionTokenKey,
    ) -> Arc<Self> {
        Arc::new(Self { archive, ingest, clock, config, token_key, readers: Mutex::new(HashMap::new()) })
    }

    /// Takes a reader slot of `stream_id`, or `None` when the stream has its maximum.
    pub fn reader_slot(self: &Arc<Self>, stream_id: i64) -> Option<ReaderSlot> {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        let n = readers.entry(stream_id).or_insert(0);
        if *n >= self.config.max_get_media_readers {
            return None;
        }
        *n += 1;
        Some(ReaderSlot { playback: self.clone(), stream_id })
    }
}
