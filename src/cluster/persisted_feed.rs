//! "Fragment persisted" across nodes (design/0025-cluster-coordination.md): every fragment this
//! node commits is published on `<prefix>.persisted.<stream id>`, a subject the JetStream stream
//! `<PREFIX>_PERSISTED` keeps (one hour, duplicates dropped by `Nats-Msg-Id` = `<stream
//! id>/<fragment number>`), and this node listens to the other nodes' messages, so its analysis
//! workers that hold a stream's lease catch up from their cursor as soon as another node
//! persisted a fragment of it.
//!
//! The messages are hints: the index stays the truth. A lost message (NATS down, a slow
//! subscriber) delays a worker until the lease task's periodic catch-up, never loses a fragment.
//! Owns the subject, the JetStream stream's definition and the message body; nothing here waits
//! on NATS in the commit path (the publisher reads the archive's in-process feed).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::broadcast::error::RecvError;

use crate::archive::PersistedFeed;
use crate::workers::Workers;

use super::Cluster;

/// The header naming the node that persisted the fragment.
const NODE_HEADER: &str = "Openkvs-Node";

/// How long the JetStream stream keeps a message.
const KEEP: Duration = Duration::from_secs(3600);

/// The JetStream stream of a subject prefix: `openkvs` → `OPENKVS_PERSISTED`.
pub fn stream_name(prefix: &str) -> String {
    format!("{}_PERSISTED", prefix.replace('.', "_").to_uppercase())
}

/// The subject of a stream's messages.
pub fn subject(prefix: &str, stream_id: i64) -> String {
    format!("{prefix}.persisted.{stream_id}")
}

/// Creates the JetStream stream if missing, then publishes this node's committed fragments and
/// hands the other nodes' to `workers`.
pub async fn start(
    cluster: &Arc<Cluster>,
    feed: &PersistedFeed,
    workers: Arc<Workers>,
) -> Result<(), async_nats::Error> {
    let prefix = cluster.config().subject_prefix.clone();
    let nats = cluster.nats().clone();
    let js = async_nats::jetstream::new(nats.clone());
    if let Err(e) = js
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: stream_name(&prefix),
            subjects: vec![format!("{prefix}.persisted.>")],
            max_age: KEEP,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
    {
        // The core subjects still work without it; only consumers that replay lose.
        tracing::warn!("cannot create the JetStream stream {}: {e}", stream_name(&prefix));
    }
    let node = cluster.node_id().to_owned();
    let mut sub = nats.subscribe(format!("{prefix}.persisted.>")).await?;
    let me = node.clone();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let from_me =
                msg.headers.as_ref().and_then(|h| h.get(NODE_HEADER)).is_some_and(|n| n.as_str() == me);
            if from_me {
                continue; // the local feed already has it
            }
            if let Some(id) = msg.subject.rsplit('.').next().and_then(|t| t.parse::<i64>().ok()) {
                workers.persisted_elsewhere(id);
            }
        }
    });
    let mut rx = feed.subscribe();
    tokio::spawn(async move {
        loop {
            let record = match rx.recv().await {
                Ok(r) => r,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(
                        "{n} fragment-persisted messages were not published (the others catch up later)"
                    );
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("{}/{}", record.stream_id, record.number).as_str());
            headers.insert(NODE_HEADER, node.as_str());
            let body = serde_json::json!({
                "StreamId": record.stream_id,
                "FragmentNumber": record.number.as_str(),
                "ProducerTimestampMs": record.producer_ts_ms,
                "ServerTimestampMs": record.server_ts_ms,
                "FragmentLengthInMilliseconds": record.duration_ms,
                "FragmentSizeInBytes": record.size_bytes,
                "Node": node,
            });
            let body = Bytes::from(body.to_string());
            if let Err(e) = nats.publish_with_headers(subject(&prefix, record.stream_id), headers, body).await
            {
                tracing::debug!("cannot publish a fragment-persisted message: {e}");
            }
        }
    });
    Ok(())
}
