//! Reading streams back: GetMedia (archive then live tail, at frame level) and
//! GetMediaForFragmentList, as byte streams of KVS "chunks" (one complete Matroska document per
//! fragment, with the KVS tags). Later: HLS/DASH playlists and segments, clips, images.
//!
//! This layer knows nothing of HTTP: it takes domain values (a stream, a start position, fragment
//! numbers) and returns channels of `Bytes`. It reads the index and the store and subscribes to the
//! ingest live feed; it never blocks ingest (live events come through a bounded broadcast, and a
//! reader that lags catches up from the store).

pub mod get_media;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use crate::ingest::Ingest;

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
}

impl Default for PlaybackConfig {
    fn default() -> Self {
        Self { max_get_media_readers: 3, get_media_idle_secs: 10 }
    }
}

/// The playback service.
#[derive(Debug)]
pub struct Playback {
    ingest: Arc<Ingest>,
    config: PlaybackConfig,
    readers: Mutex<HashMap<i64, usize>>,
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
    /// Builds the service on top of ingest (for its index, store, clock and live feed).
    pub fn new(ingest: Arc<Ingest>, config: PlaybackConfig) -> Arc<Self> {
        Arc::new(Self { ingest, config, readers: Mutex::new(HashMap::new()) })
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
