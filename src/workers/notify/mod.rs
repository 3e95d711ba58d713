//! Delivering recorded analyzer events: to webhooks (HTTP POST of JSON, HMAC-signed, retried with
//! backoff) and to NATS subjects.
//!
//! Targets of an event batch: the configured `webhook_url` and NATS (`nats_url`, subject
//! `<nats_subject_prefix>.<stream>.<kind>`), plus the stream's own NotificationConfiguration when
//! ENABLED (`http(s)://…` → a webhook, `nats://SUBJECT` → that subject on the configured NATS
//! server; other URIs, e.g. SNS ARNs, go to the configured targets only). Events are already in
//! the index when they get here; delivery is best effort with retries, in memory: a webhook that
//! stays down past its attempts, or a restart, loses the notification but not the event (the
//! events API still lists it). [`Notifier::deliver`] never waits.

pub mod nats;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::{Semaphore, mpsc};

use crate::clock::Clock;
use crate::model::NewAnalyzerEvent;

use super::analyzer::StreamInfo;
pub use nats::NatsLink;

/// `[workers.notifications]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// Every event batch is POSTed here (JSON), if set.
    pub webhook_url: Option<String>,
    /// HMAC-SHA256 key of the `X-Openkvs-Signature` header. Default: derived from the first access
    /// key's secret.
    pub webhook_secret: Option<String>,
    /// Attempts per webhook delivery (non-2xx answers and connection errors are retried).
    pub webhook_max_attempts: u32,
    /// First retry delay, ms (doubles per attempt).
    pub webhook_backoff_ms: u64,
    /// Time limit of one attempt, ms.
    pub webhook_timeout_ms: u64,
    /// NATS server (`nats://127.0.0.1:4222`): events are published to it, and the `jetstream`
    /// worker publishes every persisted fragment to a JetStream stream.
    pub nats_url: Option<String>,
    /// Events go to `<prefix>.<stream>.<kind>`.
    pub nats_subject_prefix: String,
    /// The JetStream stream that holds "fragment persisted" messages (created if missing).
    pub jetstream_stream: String,
    /// Fragment messages go to `<prefix>.<stream>`.
    pub jetstream_subject_prefix: String,
    /// Event batches waiting for delivery before new ones are dropped (and logged).
    pub queue_capacity: usize,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            webhook_url: None,
            webhook_secret: None,
            webhook_max_attempts: 5,
            webhook_backoff_ms: 500,
            webhook_timeout_ms: 5000,
            nats_url: None,
            nats_subject_prefix: "openkvs.events".to_owned(),
            jetstream_stream: "OPENKVS_FRAGMENTS".to_owned(),
            jetstream_subject_prefix: "openkvs.fragments".to_owned(),
            queue_capacity: 10_000,
        }
    }
}

/// A NATS subject token for a stream name: characters outside `[A-Za-z0-9_-]` become `_`.
pub fn subject_token(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

#[derive(Debug)]
struct Batch {
    stream: Arc<StreamInfo>,
    events: Vec<NewAnalyzerEvent>,
}

/// The event delivery service.
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Batch>,
}

impl Notifier {
    /// Starts the delivery task. `webhook_key` signs webhook bodies.
    pub fn start(config: NotificationsConfig, webhook_key: Vec<u8>, clock: Arc<dyn Clock>) -> Self {
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        tokio::spawn(run(config, webhook_key, clock, rx));
        Self { tx }
    }

    /// Queues a batch of recorded events of one stream; drops it (with a warning) when the queue
    /// is full.
    pub fn deliver(&self, stream: &Arc<StreamInfo>, events: Vec<NewAnalyzerEvent>) {
        if self.tx.try_send(Batch { stream: stream.clone(), events }).is_err() {
            tracing::warn!(
                stream = stream.stream.name.as_str(),
                "notification queue full: events not delivered"
            );
        }
    }
}

/// The JSON body of a webhook delivery (also the payload of each NATS event message, with one
/// event).
pub fn batch_json(stream: &StreamInfo, events: &[NewAnalyzerEvent]) -> serde_json::Value {
    serde_json::json!({
        "StreamName": stream.stream.name.as_str(),
        "StreamARN": stream.stream.arn.to_string(),
        "Events": events.iter().map(event_json).collect::<Vec<_>>(),
    })
}

fn event_json(e: &NewAnalyzerEvent) -> serde_json::Value {
    serde_json::json!({
        "Worker": e.worker,
        "Kind": e.kind,
        "FragmentNumber": e.fragment_number.as_ref().map(|n| n.as_str().to_owned()),
        "ProducerTimestamp": e.producer_ts_ms as f64 / 1000.0,
        "ServerTimestamp": e.server_ts_ms as f64 / 1000.0,
        "EndTimestamp": e.end_ts_ms.map(|t| t as f64 / 1000.0),
        "Score": e.score,
        "Detail": e.detail,
    })
}

async fn run(
    config: NotificationsConfig,
    webhook_key: Vec<u8>,
    clock: Arc<dyn Clock>,
    mut rx: mpsc::Receiver<Batch>,
) {
    let nats = config.nats_url.as_ref().map(|u| NatsLink::new(u.clone()));
    let in_flight = Arc::new(Semaphore::new(64));
    let key: Arc<[u8]> = webhook_key.into();
    while let Some(batch) = rx.recv().await {
        let stream_config = batch.stream.notification.as_ref().filter(|n| n.is_enabled());
        let mut webhooks: Vec<String> = config.webhook_url.iter().cloned().collect();
        let mut subjects: Vec<String> = Vec::new();
        if let Some(n) = stream_config {
            let uri = n.destination_uri.as_str();
            if uri.starts_with("http://") || uri.starts_with("https://") {
                webhooks.push(uri.to_owned());
            } else if let Some(subject) = uri.strip_prefix("nats://") {
                subjects.push(subject.trim_matches('/').to_owned());
            }
        }
        webhooks.dedup();
        if !webhooks.is_empty() {
            let body = Bytes::from(batch_json(&batch.stream, &batch.events).to_string());
            for url in webhooks {
                let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
                let (body, key, clock) = (body.clone(), key.clone(), clock.clone());
                let attempts = config.webhook_max_attempts.max(1);
                let backoff = Duration::from_millis(config.webhook_backoff_ms);
                let timeout = Duration::from_millis(config.webhook_timeout_ms.max(1));
                tokio::spawn(async move {
                    let _permit = permit;
                    webhook::deliver(&url, body, &key, clock.as_ref(), attempts, backoff, timeout).await;
                });
            }
        }
        if let Some(nats) = &nats {
            let token = subject_token(batch.stream.stream.name.as_str());
            for e in &batch.events {
                let payload = Bytes::from(batch_json(&batch.stream, std::slice::from_ref(e)).to_string());
                let mut targets =
                    vec![format!("{}.{}.{}", config.nats_subject_prefix, token, subject_token(&e.kind))];
                targets.extend(subjects.iter().cloned());
                for subject in targets {
                    if let Err(err) = nats.publish(subject.clone(), payload.clone()).await {
                        tracing::warn!(subject, "NATS publish failed: {err}");
                    }
                }
            }
        }
    }
}
