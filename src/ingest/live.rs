//! The in-process live feed: what ingest is receiving right now, per stream, at frame level.
//!
//! Sessions publish [`LiveEvent`]s as the fragmenter produces them; GetMedia live tails (and later
//! HLS LIVE) subscribe. Each stream has a bounded `tokio::sync::broadcast` channel: publishing never
//! waits and never fails because of a reader, and a reader that falls more than
//! [`LIVE_CAPACITY`] events behind is told it lagged and catches up from the store instead. The index
//! stays the source of truth; this is only a low-latency notification path. No I/O.
//!
//! In cluster mode the hub also has a remote side, which `cluster::feeds` drives
//! (design/0021-cluster-feeds.md): other nodes' interest in a stream ([`LiveHub::note_remote_interest`],
//! which expires unless renewed) makes the stream's events go to the [`LiveHub::remote_outbox`]
//! as well as to local readers, and events of a stream ingested elsewhere arrive through
//! [`LiveHub::publish_from_remote`] (to local readers only). The hub reports when a stream gains
//! its first local reader ([`LiveHub::watch_first_readers`]) so the feed can start listening. On
//! a single node none of that is set up and the hub behaves exactly as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};

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
    /// Events of a stream ingested on another node were lost on the way (cluster mode): readers
    /// treat it as having lagged (the fragment in progress comes from the store once persisted).
    Gap,
}

/// Events queued for other nodes before the newest are dropped (the NATS publisher is behind).
pub const REMOTE_OUTBOX_CAPACITY: usize = 8192;

/// Per-stream live channels.
#[derive(Debug, Default)]
pub struct LiveHub {
    streams: Mutex<HashMap<i64, broadcast::Sender<Arc<LiveEvent>>>>,
    /// Streams other nodes read live, until when (cluster mode only).
    remote_interest: Mutex<HashMap<i64, Instant>>,
    /// Where events for other nodes go (cluster mode only).
    outbox: OnceLock<mpsc::Sender<(i64, Arc<LiveEvent>)>>,
    /// Streams some of whose events the full outbox dropped since the publisher last looked.
    dropped: Mutex<std::collections::HashSet<i64>>,
    /// Told the stream id whenever a stream gains its first local reader (cluster mode only).
    first_readers: OnceLock<mpsc::UnboundedSender<i64>>,
}

impl LiveHub {
    /// Subscribes to a stream's events from now on.
    pub fn subscribe(&self, stream_id: i64) -> broadcast::Receiver<Arc<LiveEvent>> {
        let (rx, first) = {
            let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            let sender = map.entry(stream_id).or_insert_with(|| broadcast::channel(LIVE_CAPACITY).0);
            (sender.subscribe(), sender.receiver_count() == 1)
        };
        if first && let Some(tx) = self.first_readers.get() {
            let _ = tx.send(stream_id);
        }
        rx
    }

    /// Publishes an event of a stream this node ingests; never blocks. Events with no local
    /// subscriber and no remote interest are dropped at once.
    pub fn publish(&self, stream_id: i64, event: LiveEvent) {
        let remote = self.remote_wants(stream_id);
        let local = self.local_sender(stream_id);
        if !remote && local.is_none() {
            return;
        }
        let event = Arc::new(event);
        if remote && let Some(outbox) = self.outbox.get() {
            // A full outbox drops the event for other nodes; their readers see a gap (the fragment
            // then comes from the store), local readers are not affected.
            if outbox.try_send((stream_id, event.clone())).is_err() {
                self.dropped.lock().unwrap_or_else(|p| p.into_inner()).insert(stream_id);
            }
        }
        if let Some(sender) = local {
            let _ = sender.send(event);
        }
    }

    /// Publishes an event another node's ingest produced, to this node's readers only.
    pub fn publish_from_remote(&self, stream_id: i64, event: Arc<LiveEvent>) {
        if let Some(sender) = self.local_sender(stream_id) {
            let _ = sender.send(event);
        }
    }

    fn local_sender(&self, stream_id: i64) -> Option<broadcast::Sender<Arc<LiveEvent>>> {
        let map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&stream_id).filter(|s| s.receiver_count() > 0).cloned()
    }

    fn remote_wants(&self, stream_id: i64) -> bool {
        if self.outbox.get().is_none() {
            return false;
        }
        let mut map = self.remote_interest.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&stream_id) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                map.remove(&stream_id);
                false
            }
            None => false,
        }
    }

    /// Whether anyone listens to this stream, here or on another node (lets ingest skip
    /// building events).
    pub fn has_subscribers(&self, stream_id: i64) -> bool {
        self.has_local_subscribers(stream_id) || self.remote_wants(stream_id)
    }

    /// Whether a reader of this node listens to this stream.
    pub fn has_local_subscribers(&self, stream_id: i64) -> bool {
        self.local_sender(stream_id).is_some()
    }

    /// Another node reads this stream live for `ttl` from now (renewed while it does).
    pub fn note_remote_interest(&self, stream_id: i64, ttl: Duration) {
        let mut map = self.remote_interest.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(stream_id, Instant::now() + ttl);
    }

    /// Whether the outbox dropped events of this stream since the last call (the publisher then
    /// tells the other nodes there is a gap).
    pub fn take_dropped(&self, stream_id: i64) -> bool {
        self.dropped.lock().unwrap_or_else(|p| p.into_inner()).remove(&stream_id)
    }

    /// Turns the remote side on: from now on events of streams other nodes are interested in
    /// are also queued on the returned receiver (at most [`REMOTE_OUTBOX_CAPACITY`]). `None` if
    /// it was on already.
    pub fn remote_outbox(&self) -> Option<mpsc::Receiver<(i64, Arc<LiveEvent>)>> {
        let (tx, rx) = mpsc::channel(REMOTE_OUTBOX_CAPACITY);
        self.outbox.set(tx).ok().map(|()| rx)
    }

    /// The ids of streams as they gain their first local reader (from now on). `None` if
    /// someone watches already.
    pub fn watch_first_readers(&self) -> Option<mpsc::UnboundedReceiver<i64>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.first_readers.set(tx).ok().map(|()| rx)
    }

    /// Drops channels nobody listens to (called when a session ends).
    pub fn prune(&self, stream_id: i64) {
        let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&stream_id).is_some_and(|s| s.receiver_count() == 0) {
            map.remove(&stream_id);
        }
    }
}
