//! [`S3Store`]: fragment bytes in an S3-compatible bucket, one object per commit batch per stream
//! (design/0017-object-store.md).
//!
//! Keys are `PREFIX/<stream id>/<segment, 16 digits>` — built from the numeric stream id, never
//! from a stream name. A stream's segment numbers only grow: the next one is taken after the highest
//! the index references ([`FragmentStore::reconcile`]) and the highest present in the bucket (listed
//! once per stream the first time this process appends to it), so no object is ever overwritten.
//!
//! `append` only buffers: each stream touched by a batch gets ONE new segment number and its
//! fragments are laid out back to back in a buffer (offset = bytes buffered before). `sync` PUTs
//! every buffered stream of the batch in parallel (at most `max_concurrent_puts` at once) and
//! returns Ok only when every PUT was acknowledged; the persister commits the rows after that,
//! which is the archive's durability rule for an object store. A failed PUT fails the batch (the
//! producer gets ERROR 5001); the object, should it have landed anyway, is deleted at once (best
//! effort) and is in any case above the high water or below the next referenced segment, where
//! recovery or the next retention sweep removes it.
//!
//! Reads are ranged GETs. `remove_segments_below` and `delete_stream` list the stream's keys and
//! delete the objects (the caller guarantees no row references them). No HTTP types leak out: the
//! store speaks [`StoreError`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use super::config::S3Config;
use super::{FragmentStore, HighWater, Location, Reclaimed, Reconciliation, StoreError};

/// Per-stream state: the next segment number and the bytes buffered for the running batch.
#[derive(Debug, Default)]
struct StreamState {
    /// Whether the bucket has been listed for this stream (or reconcile set `next`).
    known: bool,
    /// The number the next batch's object gets.
    next: i64,
    /// The running batch's object: its number and the fragments' parts, in order.
    pending: Option<(i64, Vec<Bytes>, u64)>,
}

/// The S3 [`FragmentStore`].
#[derive(Debug)]
pub struct S3Store {
    client: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    max_puts: usize,
    streams: Mutex<HashMap<i64, StreamState>>,
    deleted: Mutex<HashSet<i64>>,
    bytes: AtomicU64,
}

fn io(e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound,
        other => StoreError::Io(std::io::Error::other(other.to_string())),
    }
}

/// The segment number in an object key's last part.
fn segment_of(name: &str) -> Option<i64> {
    (name.len() == 16 && name.bytes().all(|b| b.is_ascii_digit())).then(|| name.parse().ok()).flatten()
}

impl S3Store {
    /// Builds the client (no request is made: the first reconcile or probe finds a wrong bucket).
    pub fn open(config: &S3Config) -> Result<Self, StoreError> {
        // reqwest's rustls has no built-in provider here: ring is the process default (no aws-lc).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(50),
                    max_backoff: Duration::from_secs(1),
                    base: 2.0,
                },
                max_retries: 10,
                retry_timeout: Duration::from_secs(config.retry_secs),
            })
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(Duration::from_secs(config.request_timeout_secs))
                    .with_connect_timeout(Duration::from_secs(config.request_timeout_secs.min(3)))
                    .with_pool_idle_timeout(Duration::from_secs(30)),
            );
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret);
        }
        let client = builder.build().map_err(io)?;
        Ok(Self {
            client: Arc::new(client),
            bucket: config.bucket.clone(),
            prefix: config.prefix.trim_matches('/').to_owned(),
            max_puts: config.max_concurrent_puts.max(1),
            streams: Mutex::new(HashMap::new()),
            deleted: Mutex::new(HashSet::new()),
            bytes: AtomicU64::new(0),
        })
    }

    fn root(&self) -> Path {
        Path::from(self.prefix.as_str())
    }

    fn stream_dir(&self, stream_id: i64) -> Path {
        self.root().join(stream_id.to_string())
    }

    fn key(&self, stream_id: i64, segment: i64) -> Path {
        self.stream_dir(stream_id).join(format!("{segment:016}"))
    }

    /// Every (segment, size) of a stream in the bucket.
    async fn list_stream(&self, stream_id: i64) -> Result<Vec<(i64, u64, Path)>, StoreError> {
        let dir = self.stream_dir(stream_id);
        let metas: Vec<_> = self.client.list(Some(&dir)).try_collect().await.map_err(io)?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let seg = m.location.filename().and_then(segment_of)?;
                Some((seg, m.size, m.location))
            })
            .collect())
    }

    /// Makes sure the stream's next number is above every object in the bucket.
    async fn learn_stream(&self, stream_id: i64) -> Result<(), StoreError> {
        let known =
            self.streams.lock().unwrap_or_else(|p| p.into_inner()).get(&stream_id).is_some_and(|s| s.known);
        if known {
            return Ok(());
        }
        let highest = self.list_stream(stream_id).await?.iter().map(|(s, _, _)| *s).max().unwrap_or(0);
        let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let st = map.entry(stream_id).or_default();
        st.next = st.next.max(highest + 1);
        st.known = true;
        Ok(())
    }

    async fn delete_objects(&self, keys: Vec<Path>) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let locations = futures_util::stream::iter(keys.into_iter().map(Ok)).boxed();
        let mut results = self.client.delete_stream(locations);
        while let Some(r) = results.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(())
    }

    /// Removes the stream's objects numbered below `below` (`None`: all); keeps numbering above.
    async fn remove_below(&self, stream_id: i64, below: Option<i64>) -> Result<Reclaimed, StoreError> {
        let objects = self.list_stream(stream_id).await?;
        let mut doomed = Vec::new();
        let mut reclaimed = Reclaimed::default();
        let mut highest = 0;
        for (seg, size, key) in objects {
            if below.is_some_and(|b| seg >= b) {
                continue;
            }
            highest = highest.max(seg);
            reclaimed.segments += 1;
            reclaimed.bytes += size;
            doomed.push(key);
        }
        self.delete_objects(doomed).await?;
        {
            let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            let st = map.entry(stream_id).or_default();
            st.next = st.next.max(highest + 1);
        }
        let freed = reclaimed.bytes;
        let _ =
            self.bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some(b.saturating_sub(freed)));
        Ok(reclaimed)
    }
}

#[async_trait]
impl FragmentStore for S3Store {
    async fn append(&self, items: Vec<(i64, Vec<Bytes>)>) -> Vec<Result<Location, StoreError>> {
        // Learn the numbering of streams new to this process first (a LIST each, once).
        let mut fresh: Vec<i64> = items.iter().map(|(id, _)| *id).collect();
        fresh.sort_unstable();
        fresh.dedup();
        let failed: HashMap<i64, String> = futures_util::stream::iter(fresh)
            .map(|id| async move { (id, self.learn_stream(id).await) })
            .buffer_unordered(self.max_puts)
            .filter_map(|(id, r)| async move { r.err().map(|e| (id, e.to_string())) })
            .collect()
            .await;
        let deleted = self.deleted.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        items
            .into_iter()
            .map(|(id, parts)| {
                if deleted.contains(&id) {
                    return Err(StoreError::Io(std::io::Error::other("the stream was deleted")));
                }
                if let Some(e) = failed.get(&id) {
                    return Err(StoreError::Io(std::io::Error::other(e.clone())));
                }
                let st = map.entry(id).or_default();
                if st.pending.is_none() {
                    let number = st.next.max(1);
                    st.next = number + 1;
                    st.pending = Some((number, Vec::new(), 0));
                }
                let (segment, buffered, len) = st.pending.as_mut().expect("set above");
                let length: u64 = parts.iter().map(|p| p.len() as u64).sum();
                let offset = *len;
                buffered.extend(parts.into_iter().filter(|p| !p.is_empty()));
                *len += length;
                Ok(Location { segment: *segment, offset, length })
            })
            .collect()
    }

    async fn sync(&self, stream_ids: Vec<i64>) -> Result<(), StoreError> {
        let uploads: Vec<(i64, i64, Vec<Bytes>, u64)> = {
            let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            stream_ids
                .iter()
                .filter_map(|id| {
                    let (seg, parts, len) = map.get_mut(id)?.pending.take()?;
                    Some((*id, seg, parts, len))
                })
                .collect()
        };
        let results: Vec<(Path, u64, Result<(), StoreError>)> = futures_util::stream::iter(uploads)
            .map(|(id, seg, parts, len)| {
                let client = self.client.clone();
                let key = self.key(id, seg);
                async move {
                    let put = client.put(&key, PutPayload::from_iter(parts)).await;
                    (key, len, put.map(|_| ()).map_err(io))
                }
            })
            .buffer_unordered(self.max_puts)
            .collect()
            .await;
        let mut first_error = None;
        let mut stored = 0;
        for (key, len, r) in results {
            match r {
                Ok(()) => stored += len,
                Err(e) => {
                    // It may have landed despite the error: nobody will reference it.
                    let client = self.client.clone();
                    tokio::spawn(async move {
                        let _ = client.delete(&key).await;
                    });
                    first_error.get_or_insert(e);
                }
            }
        }
        self.bytes.fetch_add(stored, Ordering::Relaxed);
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    async fn read(&self, stream_id: i64, location: Location) -> Result<Bytes, StoreError> {
        if location.length == 0 {
            return Ok(Bytes::new());
        }
        let key = self.key(stream_id, location.segment);
        let range = location.offset..location.offset + location.length;
        let bytes = self.client.get_range(&key, range).await.map_err(io)?;
        if bytes.len() as u64 != location.length {
            return Err(StoreError::NotFound);
        }
        Ok(bytes)
    }

    async fn delete_stream(&self, stream_id: i64) -> Result<Reclaimed, StoreError> {
        self.deleted.lock().unwrap_or_else(|p| p.into_inner()).insert(stream_id);
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).remove(&stream_id);
        self.remove_below(stream_id, None).await
    }

    async fn remove_segments_below(
        &self,
        stream_id: i64,
        below: Option<i64>,
    ) -> Result<Reclaimed, StoreError> {
        self.remove_below(stream_id, below).await
    }

    async fn stream_ids(&self) -> Result<Vec<i64>, StoreError> {
        let root = self.root();
        let listed = self.client.list_with_delimiter(Some(&root)).await.map_err(io)?;
        let mut ids = Vec::new();
        for dir in &listed.common_prefixes {
            let Some(id) = dir.filename().and_then(|n| n.parse::<i64>().ok()) else { continue };
            // Some servers (SeaweedFS) keep a "directory" after its last object went: a stream
            // holds bytes only if one object is left (the first page of its listing says).
            if self.client.list(Some(dir)).next().await.transpose().map_err(io)?.is_some() {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    async fn reconcile(&self, referenced: HashMap<i64, HighWater>) -> Result<Reconciliation, StoreError> {
        let root = self.root();
        let metas: Vec<_> = self.client.list(Some(&root)).try_collect().await.map_err(io)?;
        let mut by_stream: HashMap<i64, Vec<(i64, u64, Path)>> = HashMap::new();
        let mut total = 0u64;
        for m in metas {
            let mut parts: Vec<_> = m.location.parts().collect();
            let (Some(file), Some(dir)) = (parts.pop(), parts.pop()) else { continue };
            let (Some(seg), Ok(id)) = (segment_of(file.as_ref()), dir.as_ref().parse::<i64>()) else {
                continue;
            };
            // Only direct children of the prefix count (a nested prefix is someone else's).
            if parts.len() != root.parts().count() {
                continue;
            }
            total += m.size;
            by_stream.entry(id).or_default().push((seg, m.size, m.location));
        }
        let mut report = Reconciliation::default();
        let mut doomed = Vec::new();
        let mut ids: Vec<i64> = by_stream.keys().copied().collect();
        ids.sort_unstable();
        for id in &ids {
            let objects = &by_stream[id];
            let Some(&HighWater { segment: last, end }) = referenced.get(id) else {
                report.unindexed_streams.push(*id);
                continue;
            };
            let mut last_len = None;
            for (seg, size, key) in objects {
                if *seg > last {
                    report.removed_segments += 1;
                    report.bytes_dropped += size;
                    doomed.push(key.clone());
                } else if *seg == last {
                    last_len = Some(*size);
                }
            }
            // An object is written whole or not at all: there is no torn tail to truncate.
            match last_len {
                Some(len) if len < end => report.short_segments.push((*id, last, end, len)),
                None => report.short_segments.push((*id, last, end, 0)),
                _ => {}
            }
        }
        for (id, hw) in &referenced {
            if !by_stream.contains_key(id) {
                report.short_segments.push((*id, hw.segment, hw.end, 0));
            }
        }
        report.short_segments.sort_unstable();
        self.delete_objects(doomed).await?;
        let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        for (id, objects) in &by_stream {
            let highest = objects.iter().map(|(s, _, _)| *s).max().unwrap_or(0);
            let floor = referenced.get(id).map_or(highest, |hw| hw.segment.max(highest));
            let st = map.entry(*id).or_default();
            st.next = st.next.max(floor + 1);
            st.known = true;
        }
        for (id, hw) in &referenced {
            let st = map.entry(*id).or_default();
            st.next = st.next.max(hw.segment + 1);
        }
        self.bytes.store(total.saturating_sub(report.bytes_dropped), Ordering::Relaxed);
        Ok(report)
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        let probe = self.root().join(".ready-probe");
        self.client.put(&probe, PutPayload::from_static(b"ok")).await.map_err(io)?;
        self.client.delete(&probe).await.map_err(io)?;
        Ok(())
    }

    fn bytes_stored(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn describe(&self) -> String {
        let prefix = if self.prefix.is_empty() { String::new() } else { format!("/{}", self.prefix) };
        format!("S3 objects in s3://{}{prefix}", self.bucket)
    }
}
