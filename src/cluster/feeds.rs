//! The live feeds between nodes (design/0021-cluster-feeds.md): what one node's ingest produces,
//! other nodes' readers see, through NATS.
//!
//! - **Frames, core NATS.** `<prefix>.live.<stream id>` carries a stream's [`LiveEvent`]s
//!   ([`super::live_wire`]) from the node that ingests it. A node that has a local live reader of a
//!   stream subscribes to that subject and says so on `<prefix>.interest.<stream id>` every
//!   [`INTEREST_EVERY`]; the ingesting node publishes a stream's events only while some other
//!   node's interest is fresh ([`INTEREST_TTL`]), so a stream nobody reads elsewhere costs NATS
//!   nothing. Received events go to the node's own [`crate::ingest::LiveHub`], which its GetMedia
//!   readers, WebRTC feeds and console already read: they cannot tell a remote stream from a local one.
//! - **"Fragment persisted"** records go through JetStream in [`super::persisted_feed`]. HLS and
//!   DASH need neither: they read the shared index.
//!
//! It owns no state that matters: losing NATS loses live frames for other nodes' readers (they
//! fall back to the store through the index), never a fragment. It must not block ingest: events
//! leave through the hub's bounded outbox, which drops when NATS is behind.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{Cluster, live_wire};
use crate::ingest::{Ingest, LiveEvent};

/// How often a node with a local reader of a remote stream renews its interest.
pub const INTEREST_EVERY: Duration = Duration::from_millis(1_000);
/// How long the ingesting node keeps publishing after the last interest.
pub const INTEREST_TTL: Duration = Duration::from_millis(3_000);
/// The subject of a stream's live events.
pub fn live_subject(prefix: &str, stream_id: i64) -> String {
    format!("{prefix}.live.{stream_id}")
}

/// The subject on which nodes declare interest in a stream's live events.
pub fn interest_subject(prefix: &str, stream_id: i64) -> String {
    format!("{prefix}.interest.{stream_id}")
}

struct Shared {
    cluster: Arc<Cluster>,
    ingest: Arc<Ingest>,
    /// Streams this node listens to (it has local readers).
    listening: Mutex<HashSet<i64>>,
}

/// Starts the feeds of a node that joined `cluster`: they run until the node leaves.
pub fn start(cluster: &Arc<Cluster>, ingest: Arc<Ingest>) {
    let shared = Arc::new(Shared { cluster: cluster.clone(), ingest, listening: Mutex::new(HashSet::new()) });
    let hub = shared.ingest.live();
    if let Some(outbox) = hub.remote_outbox() {
        tokio::spawn(publish_outbox(shared.clone(), outbox));
    }
    tokio::spawn(serve_interest(shared.clone()));
    if let Some(first) = hub.watch_first_readers() {
        tokio::spawn(listen_for_readers(shared.clone(), first));
    }
}

impl Shared {
    fn prefix(&self) -> &str {
        &self.cluster.config.subject_prefix
    }

    fn stopped(&self) -> tokio::sync::watch::Receiver<bool> {
        self.cluster.stop.subscribe()
    }
}

/// Sends the events other nodes want, in order, numbered per stream; a number is skipped where
/// the hub's outbox dropped events, so receivers see the gap.
async fn publish_outbox(shared: Arc<Shared>, mut outbox: mpsc::Receiver<(i64, Arc<LiveEvent>)>) {
    let nats = shared.cluster.nats().clone();
    let me = shared.cluster.node_id().to_owned();
    let mut seqs: HashMap<i64, u64> = HashMap::new();
    while let Some((stream_id, event)) = outbox.recv().await {
        let subject = live_subject(shared.prefix(), stream_id);
        let seq = seqs.entry(stream_id).or_insert(0);
        *seq += if shared.ingest.live().take_dropped(stream_id) { 2 } else { 1 };
        if let Err(e) = nats.publish(subject, live_wire::encode(&me, *seq, &event)).await {
            tracing::debug!("live event of stream {stream_id} not sent to NATS: {e}");
        }
    }
}

/// Records other nodes' interest in the streams this node may ingest.
async fn serve_interest(shared: Arc<Shared>) {
    let nats = shared.cluster.nats().clone();
    let mut stopped = shared.stopped();
    let mut sub = match nats.subscribe(format!("{}.interest.*", shared.prefix())).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot subscribe to live interest on NATS: {e}; other nodes get no live frames");
            return;
        }
    };
    let me = shared.cluster.node_id().as_bytes().to_vec();
    loop {
        let msg = tokio::select! {
            _ = stopped.changed() => return,
            msg = sub.next() => match msg { Some(m) => m, None => return },
        };
        if msg.payload[..] == me[..] {
            continue;
        }
        if let Some(id) = msg.subject.rsplit('.').next().and_then(|s| s.parse::<i64>().ok()) {
            shared.ingest.live().note_remote_interest(id, INTEREST_TTL);
        }
    }
}

/// Starts listening to a stream's subject when it gains its first local reader.
async fn listen_for_readers(shared: Arc<Shared>, mut first: mpsc::UnboundedReceiver<i64>) {
    while let Some(stream_id) = first.recv().await {
        let new = shared.listening.lock().unwrap_or_else(|p| p.into_inner()).insert(stream_id);
        if new {
            tokio::spawn(listen(shared.clone(), stream_id));
        }
    }
}

/// Feeds one stream's remote events to the local readers while there are any.
async fn listen(shared: Arc<Shared>, stream_id: i64) {
    let nats = shared.cluster.nats().clone();
    let hub = shared.ingest.live();
    let mut stopped = shared.stopped();
    let sub = nats.subscribe(live_subject(shared.prefix(), stream_id)).await;
    let mut sub = match sub {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("cannot subscribe to stream {stream_id}'s live events on NATS: {e}");
            None
        }
    };
    let me = shared.cluster.node_id().to_owned();
    let interest = interest_subject(shared.prefix(), stream_id);
    let mut tick = tokio::time::interval(INTEREST_EVERY);
    // The last sequence number seen, per publishing node.
    let mut last: HashMap<String, u64> = HashMap::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            _ = tick.tick() => {
                {
                    let mut listening = shared.listening.lock().unwrap_or_else(|p| p.into_inner());
                    if !hub.has_local_subscribers(stream_id) {
                        listening.remove(&stream_id);
                        break;
                    }
                }
                if sub.is_some() {
                    let _ = nats.publish(interest.clone(), me.clone().into()).await;
                }
            }
            msg = async { sub.as_mut()?.next().await }, if sub.is_some() => {
                let Some(msg) = msg else { sub = None; continue };
                match live_wire::decode(&msg.payload) {
                    Some(d) if d.origin == me => {}
                    Some(d) => {
                        let previous = last.insert(d.origin, d.seq);
                        if previous.is_some_and(|p| d.seq != p + 1) {
                            hub.publish_from_remote(stream_id, Arc::new(LiveEvent::Gap));
                        }
                        hub.publish_from_remote(stream_id, Arc::new(d.event));
                    }
                    None => tracing::debug!("unreadable live event on {}", msg.subject),
                }
            }
        }
    }
    if let Some(mut s) = sub {
        let _ = s.unsubscribe().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_stream_name() {
        assert_eq!(live_subject("openkvs", 42), "openkvs.live.42");
        assert_eq!(interest_subject("openkvs", 42), "openkvs.interest.42");
    }
}
