//! The in-process live feed: what ingest is receiving right now, per stream, at frame level.
//!
//! Sessions publish [`LiveEvent`]s as the fragmenter produces them; GetMedia live tails (and later
//! HLS LIVE) subscribe. Each stream has a bounded `tokio::sync::broadcast` channel: publishing never
//! waits and never fails because of a reader, and a reader that falls more than
//! [`LIVE_CAPACITY`] events behind is told it lagged and catches up from the store instead. The index
//! stays the source of truth; this is only a low-latency notification path. No I/O.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::media::mkv::Frame;
use crate::model::FragmentNumber;

/// Events buffered per stream for slow readers before they lag.
pub const LIVE_CAPACITY: usize = 1024;

/// Something that happened on a stream's ingest.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    /// A fragment began.
    FragmentStarted {
        /// Its number.
        number: FragmentNumber,
        /// Its Cluster Timecode as sent.
        cluster_timecode: u64,
        /// Producer timestamp of its start, epoch ms.
        producer_ts_ms: i64,
        /// Server timestamp (arrival of its first byte), epoch ms.
        server_ts_ms: i64,
        /// The header set bytes (EBML header, Segment, Info, Tracks) it is sent under.
        header: Bytes,
    },
    /// A frame of the fragment in progress.
    Frame {
        /// The fragment it belongs to.
        number: FragmentNumber,
        /// The frame.
        frame: Frame,
    },
    /// The fragment in progress ended: `complete` (RECEIVED) or rejected.
    FragmentEnded {
        /// Its number.
        number: FragmentNumber,
        /// Whether it was complete and valid.
        complete: bool,
    },
    /// A fragment is durable and indexed.
    FragmentPersisted {
        /// Its number.
        number: FragmentNumber,
    },
    /// The stream was deleted.
    StreamDeleted,
}

/// Per-stream live channels.
#[derive(Debug, Default)]
pub struct LiveHub {
    streams: Mutex<HashMap<i64, broadcast::Sender<Arc<LiveEvent>>>>,
}

impl LiveHub {
    fn sender(&self, stream_id: i64) -> broadcast::Sender<Arc<LiveEvent>> {
        let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(stream_id).or_insert_with(|| broadcast::channel(LIVE_CAPACITY).0).clone()
    }

    /// Subscribes to a stream's events from now on.
    pub fn subscribe(&self, stream_id: i64) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.sender(stream_id).subscribe()
    }

    /// Publishes an event; never blocks. Events with no subscriber are dropped at once.
    pub fn publish(&self, stream_id: i64, event: LiveEvent) {
        let sender = {
            let map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(&stream_id) {
                Some(s) if s.receiver_count() > 0 => s.clone(),
                _ => return,
            }
        };
        let _ = sender.send(Arc::new(event));
    }

    /// Whether anyone listens to this stream (lets ingest skip building events).
    pub fn has_subscribers(&self, stream_id: i64) -> bool {
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&stream_id)
            .is_some_and(|s| s.receiver_count() > 0)
    }

    /// Drops channels nobody listens to (called when a session ends).
    pub fn prune(&self, stream_id: i64) {
        let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&stream_id).is_some_and(|s| s.receiver_count() == 0) {
            map.remove(&stream_id);
        }
    }
}
