//! [`ImageUploads`]: generated images PUT into S3 buckets, off the analysis path
//! (design/0019-image-delivery.md).
//!
//! One uploader per bucket in use, created on first use and kept: an `object_store` S3 client,
//! a bounded queue (`queue_capacity` images) and a task that runs at most `max_concurrent_puts`
//! PUTs at once. [`ImageUploads::submit`] never waits: a full queue (S3 down or slow for long)
//! drops the image and counts it. A PUT that fails is retried with exponential backoff
//! (`retry_backoff_ms`, doubling, at most `max_backoff_ms`) up to `max_attempts` times, then
//! given up and counted; each retry is counted and the last failure's message kept for the worker
//! status. The image's `image` event is recorded (and notified) only once its PUT succeeded, so an
//! event always names an object that exists.
//!
//! The queue lives in memory: images queued or being retried when the server stops are lost (the
//! worker's cursor has moved past their fragment). Ingest never meets any of this: the analysis
//! workers only see fragments after they are persisted, through their own bounded queues.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{Attribute, Attributes, ObjectStore, PutOptions, PutPayload};
use tokio::sync::{Semaphore, mpsc};

use super::S3DestinationConfig;
use crate::clock::Clock;
use crate::s3_client::{self, S3Connection, S3Retry};
use crate::workers::analyzer::{DeliveryStatus, EventDraft, LateEvents};

/// One image to PUT.
#[derive(Debug)]
pub struct ImageUpload {
    /// The object key.
    pub key: String,
    /// The encoded image.
    pub bytes: Bytes,
    /// `image/jpeg` or `image/png`.
    pub content_type: &'static str,
    /// User metadata (`x-amz-meta-<name>`), e.g. `aws_kinesisvideo_fragment_number`.
    pub metadata: Vec<(&'static str, String)>,
    /// The event recorded once the object exists.
    pub event: Option<(LateEvents, EventDraft)>,
}

/// What one bucket's uploader has done.
#[derive(Debug, Default)]
struct Counters {
    /// PUTs (with their retries) running now.
    in_flight: AtomicU64,
    delivered: AtomicU64,
    retries: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    /// The last failure and when (epoch ms).
    last_error: Mutex<Option<(String, i64)>>,
}

/// One bucket's uploader.
#[derive(Debug)]
struct Bucket {
    tx: mpsc::Sender<ImageUpload>,
    counters: Arc<Counters>,
}

/// The S3 image uploads of one server.
#[derive(Debug)]
pub struct ImageUploads {
    config: S3DestinationConfig,
    clock: Arc<dyn Clock>,
    buckets: Mutex<HashMap<String, Arc<Bucket>>>,
}

impl ImageUploads {
    /// Uploads with these settings (connection keys already resolved; see `app::config`).
    pub fn new(config: S3DestinationConfig, clock: Arc<dyn Clock>) -> Self {
        Self { config, clock, buckets: Mutex::new(HashMap::new()) }
    }

    /// Queues an image for `bucket` (`region`: the configuration's DestinationRegion, used when
    /// `[destinations.s3]` names none). Never waits: returns `false` when the image was dropped
    /// (the bucket's queue is full, or no client could be built for it).
    pub fn submit(&self, bucket: &str, region: &str, upload: ImageUpload) -> bool {
        let Some(b) = self.bucket(bucket, region) else { return false };
        match b.tx.try_send(upload) {
            Ok(()) => true,
            Err(_) => {
                let n = b.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(bucket, dropped = n, "image upload queue full: image dropped");
                }
                false
            }
        }
    }

    /// Every bucket's counters, by destination (`s3://bucket`), sorted.
    pub fn status(&self) -> Vec<DeliveryStatus> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<DeliveryStatus> = buckets
            .iter()
            .map(|(name, b)| {
                let c = &b.counters;
                let queued = (b.tx.max_capacity() - b.tx.capacity()) as u64;
                let last = c.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
                DeliveryStatus {
                    destination: format!("s3://{name}"),
                    pending: queued + c.in_flight.load(Ordering::Relaxed),
                    delivered: c.delivered.load(Ordering::Relaxed),
                    retries: c.retries.load(Ordering::Relaxed),
                    failed: c.failed.load(Ordering::Relaxed),
                    dropped: c.dropped.load(Ordering::Relaxed),
                    last_error: last.as_ref().map(|(m, _)| m.clone()),
                    last_error_at_ms: last.map(|(_, at)| at),
                }
            })
            .collect();
        out.sort_by(|a, b| a.destination.cmp(&b.destination));
        out
    }

    /// The bucket's uploader, started on first use.
    fn bucket(&self, name: &str, region: &str) -> Option<Arc<Bucket>> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = buckets.get(name) {
            return Some(b.clone());
        }
        let client = match self.client(name, region) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::warn!(bucket = name, "cannot build an S3 client for image delivery: {e}");
                return None;
            }
        };
        let (tx, rx) = mpsc::channel(self.config.queue_capacity.max(1));
        let bucket = Arc::new(Bucket { tx, counters: Arc::default() });
        let in_flight = Arc::new(Semaphore::new(self.config.max_concurrent_puts.max(1)));
        let retry = Retry::from(&self.config);
        tokio::spawn(run(client, in_flight, bucket.counters.clone(), retry, self.clock.clone(), rx));
        buckets.insert(name.to_owned(), bucket.clone());
        Some(bucket)
    }

    /// A client for one bucket. Its own retries are off: [`run`] retries, so every failure is
    /// counted and shown.
    fn client(&self, bucket: &str, region: &str) -> Result<AmazonS3, object_store::Error> {
        let c = &self.config;
        let connection = S3Connection {
            endpoint: c.endpoint.as_deref(),
            region: c.region.as_deref().unwrap_or(region),
            credentials: c.access_key_id.as_deref().zip(c.secret_access_key.as_deref()),
            request_timeout: Duration::from_secs(c.request_timeout_secs.max(1)),
        };
        s3_client::client(connection, bucket, S3Retry::Never)
    }
}

/// The retry rule of one image.
#[derive(Debug, Clone, Copy)]
struct Retry {
    attempts: u32,
    first: Duration,
    max: Duration,
}

impl From<&S3DestinationConfig> for Retry {
    fn from(c: &S3DestinationConfig) -> Self {
        Self {
            attempts: c.max_attempts.max(1),
            first: Duration::from_millis(c.retry_backoff_ms.max(1)),
            max: Duration::from_millis(c.max_backoff_ms.max(c.retry_backoff_ms).max(1)),
        }
    }
}

/// One bucket's task: PUTs queued images, each (with its retries) in its own task, at most
/// `in_flight`'s permits at once. A permit is taken before an image leaves the queue, so while
/// every PUT is busy the images wait in the queue (where they are counted, and where a full queue
/// drops new ones), never in this loop.
async fn run(
    client: Arc<AmazonS3>,
    in_flight: Arc<Semaphore>,
    counters: Arc<Counters>,
    retry: Retry,
    clock: Arc<dyn Clock>,
    mut rx: mpsc::Receiver<ImageUpload>,
) {
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
        let Some(upload) = rx.recv().await else { return };
        counters.in_flight.fetch_add(1, Ordering::Relaxed);
        let (client, counters, clock) = (client.clone(), counters.clone(), clock.clone());
        tokio::spawn(async move {
            let _permit = permit;
            put_with_retries(&client, &counters, retry, clock.as_ref(), upload).await;
            counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn put_with_retries(
    client: &AmazonS3,
    counters: &Counters,
    retry: Retry,
    clock: &dyn Clock,
    upload: ImageUpload,
) {
    let location = Path::from(upload.key.as_str());
    let payload = PutPayload::from(upload.bytes);
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::ContentType, upload.content_type.into());
    for (name, value) in upload.metadata {
        attributes.insert(Attribute::Metadata(name.into()), value.into());
    }
    let options = PutOptions::from(attributes);
    let mut backoff = retry.first;
    for attempt in 1..=retry.attempts {
        match client.put_opts(&location, payload.clone(), options.clone()).await {
            Ok(_) => {
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                if let Some((events, draft)) = upload.event {
                    events.record(vec![draft]).await;
                }
                return;
            }
            Err(e) => {
                let mut message = e.to_string();
                message.truncate(500);
                *counters.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((message.clone(), clock.now_millis()));
                if attempt == retry.attempts {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(key = %location, attempts = attempt, "image upload given up: {message}");
                    return;
                }
                counters.retries.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(key = %location, attempt, "image upload failed, retrying: {message}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(retry.max);
            }
        }
    }
}
