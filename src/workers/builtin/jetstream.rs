//! The `jetstream` worker: publishes every persisted fragment to a NATS JetStream stream, so
//! external workers in any language can subscribe (durable consumers) and fetch the bytes with
//! GetMediaForFragmentList.
//!
//! Subject `<jetstream_subject_prefix>.<stream>`; the JetStream stream (`jetstream_stream`,
//! subjects `<prefix>.>`) is created if missing. Each message carries the fragment as ListFragments
//! shapes it (`FragmentNumber`, `ProducerTimestamp`, `ServerTimestamp` in epoch seconds,
//! `FragmentLengthInMilliseconds`, `FragmentSizeInBytes`) plus `StreamName` and `StreamARN`, and a
//! `Nats-Msg-Id` of `<StreamARN>/<FragmentNumber>`: JetStream drops the duplicates that
//! at-least-once redelivery after a restart would send (within its duplicate window). The
//! publish waits for JetStream's acknowledgement before the cursor moves; while NATS is down the
//! worker waits ([`AnalyzerError::Unavailable`]) instead of skipping fragments.

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::workers::analyzer::{AnalysisOutput, Analyzer, AnalyzerError, FragmentInput, StreamInfo};
use crate::workers::notify::{NatsLink, NotificationsConfig, subject_token};

/// The worker's name.
pub const NAME: &str = "jetstream";

/// Publishes fragments to JetStream.
#[derive(Debug)]
pub struct FragmentPublisher {
    link: NatsLink,
    config: NotificationsConfig,
    ready: OnceCell<async_nats::jetstream::Context>,
}

impl FragmentPublisher {
    /// A publisher to the NATS server at `url`.
    pub fn new(url: String, config: NotificationsConfig) -> Self {
        Self { link: NatsLink::new(url), config, ready: OnceCell::new() }
    }

    async fn context(&self) -> Result<&async_nats::jetstream::Context, AnalyzerError> {
        self.ready
            .get_or_try_init(|| async {
                let client =
                    self.link.client().await.map_err(|e| AnalyzerError::Unavailable(e.to_string()))?;
                let js = async_nats::jetstream::new(client);
                js.get_or_create_stream(async_nats::jetstream::stream::Config {
                    name: self.config.jetstream_stream.clone(),
                    subjects: vec![format!("{}.>", self.config.jetstream_subject_prefix)],
                    ..Default::default()
                })
                .await
                .map_err(|e| AnalyzerError::Unavailable(format!("cannot create JetStream stream: {e}")))?;
                Ok(js)
            })
            .await
    }
}

/// The message body for one fragment.
pub fn fragment_message(input: &FragmentInput) -> serde_json::Value {
    let r = &input.record;
    serde_json::json!({
        "StreamName": input.stream.stream.name.as_str(),
        "StreamARN": input.stream.stream.arn.to_string(),
        "FragmentNumber": r.number.as_str(),
        "ProducerTimestamp": r.producer_ts_ms as f64 / 1000.0,
        "ServerTimestamp": r.server_ts_ms as f64 / 1000.0,
        "FragmentLengthInMilliseconds": r.duration_ms,
        "FragmentSizeInBytes": r.size_bytes,
    })
}

#[async_trait]
impl Analyzer for FragmentPublisher {
    fn name(&self) -> &str {
        NAME
    }

    fn required_for(&self, _stream: &StreamInfo) -> bool {
        true
    }

    async fn analyze(&self, input: FragmentInput) -> Result<AnalysisOutput, AnalyzerError> {
        let js = self.context().await?;
        let subject = format!(
            "{}.{}",
            self.config.jetstream_subject_prefix,
            subject_token(input.stream.stream.name.as_str())
        );
        let mut headers = async_nats::HeaderMap::new();
        let id = format!("{}/{}", input.stream.stream.arn, input.record.number);
        headers.insert("Nats-Msg-Id", id.as_str());
        let body = Bytes::from(fragment_message(&input).to_string());
        let ack = js
            .publish_with_headers(subject, headers, body)
            .await
            .map_err(|e| AnalyzerError::Unavailable(e.to_string()))?;
        ack.await.map_err(|e| AnalyzerError::Unavailable(e.to_string()))?;
        Ok(AnalysisOutput::default())
    }
}
