//! [`S3Store`]: fragment bytes in an S3-compatible bucket, one object per commit batch per stream
//! and tier (design/0017-object-store.md).
//!
//! Keys are `PREFIX/<stream id>/<segment, 16 digits>` — built from the numeric stream id, never
//! from a stream name. The WARM tier has a place of its own: its prefix (by default
//! `PREFIX/warm`), optionally its own bucket, and the storage class its objects are PUT with (by
//! default `STANDARD_IA`). A stream's segment numbers only grow and are unique across both places:
//! the next one is taken after the highest the index references ([`FragmentStore::reconcile`])
//! and the highest present in either place (listed once per stream the first time this process
//! appends to it), so no object is ever overwritten.
//!
//! `append` only buffers: each (stream, tier) touched by a batch gets ONE new segment number and
//! its fragments are laid out back to back in a buffer (offset = bytes buffered before). `sync`
//! PUTs every buffered object of the batch in parallel (at most `max_concurrent_puts` at once)
//! and returns Ok only when every PUT was acknowledged; the persister commits the rows after that,
//! which is the archive's durability rule for an object store. A failed PUT fails the batch (the
//! producer gets ERROR 5001); the object, should it have landed anyway, is deleted at once (best
//! effort) and is in any case above the high water or below the next referenced segment, where
//! recovery or the next retention sweep removes it.
//!
//! No fragment is streamed in: an object cannot be appended to, so [`FragmentStore::open_writer`]
//! answers `None` and the archive keeps each fragment in memory until its end, as before
//! (spooling it to a local file would add a disk write and a second failure domain for a gain in
//! memory only; design/0024-ingest-efficiency.md).
//!
//! Reads are ranged GETs in the place the location's tier names. `remove_segments_below` and
//! `delete_stream` list the stream's keys in both places and delete the objects (the caller
//! guarantees no row references them). No HTTP types leak out: the store speaks [`StoreError`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};

use super::config::S3Config;
use super::{
    FragmentBytes, FragmentStore, HighWater, Location, Reclaimed, Reconciliation, SegmentWriter, StoreError,
};
use crate::model::StorageTier;
use crate::s3_client::{self, S3Connection, S3Retry};

/// Both tiers, HOT first.
const TIERS: [StorageTier; 2] = [StorageTier::Hot, StorageTier::Warm];

/// One object being filled by the running batch: its tier, number, parts and length.
#[derive(Debug)]
struct PendingObject {
    tier: StorageTier,
    segment: i64,
    parts: Vec<Bytes>,
    len: u64,
}

/// Per-stream state: the next segment number and the objects buffered for the running batch.
#[derive(Debug, Default)]
struct StreamState {
    /// Whether the bucket has been listed for this stream (or reconcile set `next`).
    known: bool,
    /// The number the next batch's object gets.
    next: i64,
    /// The running batch's objects (at most one per tier).
    pending: Vec<PendingObject>,
}

/// Where one tier's objects live.
#[derive(Debug)]
struct Place {
    client: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    /// `x-amz-storage-class` of every PUT (`None`: the bucket's default, STANDARD).
    storage_class: Option<String>,
}

impl Place {
    fn root(&self) -> Path {
        Path::from(self.prefix.as_str())
    }

    fn stream_dir(&self, stream_id: i64) -> Path {
        self.root().join(stream_id.to_string())
    }

    fn key(&self, stream_id: i64, segment: i64) -> Path {
        self.stream_dir(stream_id).join(format!("{segment:016}"))
    }

    fn put_options(&self) -> PutOptions {
        let mut attributes = Attributes::new();
        if let Some(class) = &self.storage_class {
            attributes.insert(Attribute::StorageClass, class.clone().into());
        }
        PutOptions { attributes, ..PutOptions::default() }
    }

    fn describe(&self) -> String {
        let prefix = if self.prefix.is_empty() { String::new() } else { format!("/{}", self.prefix) };
        match &self.storage_class {
            Some(class) => format!("s3://{}{prefix} ({class})", self.bucket),
            None => format!("s3://{}{prefix}", self.bucket),
        }
    }
}

/// One object found in a place: (segment, size, key).
type Found = (i64, u64, Path);

/// The S3 [`FragmentStore`].
#[derive(Debug)]
pub struct S3Store {
    /// The HOT and WARM places, HOT first.
    places: [Place; 2],
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

fn tier_index(tier: StorageTier) -> usize {
    match tier {
        StorageTier::Hot => 0,
        StorageTier::Warm => 1,
    }
}

/// The object store client for one bucket (object_store retries within `retry_secs`).
fn client(config: &S3Config, bucket: &str) -> Result<AmazonS3, StoreError> {
    let connection = S3Connection {
        endpoint: config.endpoint.as_deref(),
        region: &config.region,
        credentials: config.access_key_id.as_deref().zip(config.secret_access_key.as_deref()),
        request_timeout: Duration::from_secs(config.request_timeout_secs),
    };
    s3_client::client(connection, bucket, S3Retry::For(Duration::from_secs(config.retry_secs))).map_err(io)
}

impl S3Store {
    /// Builds the clients (no request is made: the first reconcile or probe finds a wrong bucket).
    pub fn open(config: &S3Config) -> Result<Self, StoreError> {
        let hot_client = Arc::new(client(config, &config.bucket)?);
        let warm_bucket = config.warm_bucket();
        let warm_client = if warm_bucket == config.bucket {
            hot_client.clone()
        } else {
            Arc::new(client(config, warm_bucket)?)
        };
        let storage_class = Some(config.warm_storage_class.clone()).filter(|c| !c.is_empty());
        Ok(Self {
            places: [
                Place {
                    client: hot_client,
                    bucket: config.bucket.clone(),
                    prefix: config.prefix.trim_matches('/').to_owned(),
                    storage_class: None,
                },
                Place {
                    client: warm_client,
                    bucket: warm_bucket.to_owned(),
                    prefix: config.warm_prefix(),
                    storage_class,
                },
            ],
            max_puts: config.max_concurrent_puts.max(1),
            streams: Mutex::new(HashMap::new()),
            deleted: Mutex::new(HashSet::new()),
            bytes: AtomicU64::new(0),
        })
    }

    fn place(&self, tier: StorageTier) -> &Place {
        &self.places[tier_index(tier)]
    }

    /// Every (segment, size, key) of a stream in one place.
    async fn list_stream_in(&self, place: &Place, stream_id: i64) -> Result<Vec<Found>, StoreError> {
        let dir = place.stream_dir(stream_id);
        let metas: Vec<_> = place.client.list(Some(&dir)).try_collect().await.map_err(io)?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let seg = m.location.filename().and_then(segment_of)?;
                Some((seg, m.size, m.location))
            })
            .collect())
    }

    /// Makes sure the stream's next number is above every object in either place.
    async fn learn_stream(&self, stream_id: i64) -> Result<(), StoreError> {
        let known =
            self.streams.lock().unwrap_or_else(|p| p.into_inner()).get(&stream_id).is_some_and(|s| s.known);
        if known {
            return Ok(());
        }
        let mut highest = 0;
        for place in &self.places {
            let found = self.list_stream_in(place, stream_id).await?;
            highest = found.iter().map(|(s, _, _)| *s).fold(highest, i64::max);
        }
        let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let st = map.entry(stream_id).or_default();
        st.next = st.next.max(highest + 1);
        st.known = true;
        Ok(())
    }

    async fn delete_objects(&self, place: &Place, keys: Vec<Path>) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let locations = futures_util::stream::iter(keys.into_iter().map(Ok)).boxed();
        let mut results = place.client.delete_stream(locations);
        while let Some(r) = results.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(())
    }

    /// Removes the stream's objects numbered below `below` (`None`: all) in both places; keeps
    /// numbering above.
    async fn remove_below(&self, stream_id: i64, below: Option<i64>) -> Result<Reclaimed, StoreError> {
        let mut reclaimed = Reclaimed::default();
        let mut highest = 0;
        for place in &self.places {
            let mut doomed = Vec::new();
            for (seg, size, key) in self.list_stream_in(place, stream_id).await? {
                if below.is_some_and(|b| seg >= b) {
                    continue;
                }
                highest = highest.max(seg);
                reclaimed.segments += 1;
                reclaimed.bytes += size;
                doomed.push(key);
            }
            self.delete_objects(place, doomed).await?;
        }
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

    /// Startup: a server that refuses the WARM storage class (MinIO knows only STANDARD and
    /// REDUCED_REDUNDANCY) fails here, with a message naming the setting, rather than at the first
    /// WARM fragment.
    async fn check_storage_class(&self) -> Result<(), StoreError> {
        let warm = self.place(StorageTier::Warm);
        let Some(class) = &warm.storage_class else { return Ok(()) };
        let probe = warm.root().join(".storage-class-probe");
        if let Err(e) = warm.client.put_opts(&probe, PutPayload::from_static(b"ok"), warm.put_options()).await
        {
            return Err(StoreError::Io(std::io::Error::other(format!(
                "the WARM tier's place {} refuses a PUT with storage class {class} (store.s3.warm_storage_class; \
                 \"\" sends none): {e}",
                warm.describe()
            ))));
        }
        warm.client.delete(&probe).await.map_err(io)?;
        Ok(())
    }

    /// Every object directly under a place's prefix, by stream: (segment, size, key).
    async fn list_place(&self, place: &Place) -> Result<HashMap<i64, Vec<Found>>, StoreError> {
        let root = place.root();
        let metas: Vec<_> = place.client.list(Some(&root)).try_collect().await.map_err(io)?;
        let mut by_stream: HashMap<i64, Vec<Found>> = HashMap::new();
        for m in metas {
            let mut parts: Vec<_> = m.location.parts().collect();
            let (Some(file), Some(dir)) = (parts.pop(), parts.pop()) else { continue };
            let (Some(seg), Ok(id)) = (segment_of(file.as_ref()), dir.as_ref().parse::<i64>()) else {
                continue;
            };
            // Only direct children of the prefix count (a nested prefix, such as the WARM one
            // inside the HOT one, is another place's).
            if parts.len() != root.parts().count() {
                continue;
            }
            by_stream.entry(id).or_default().push((seg, m.size, m.location));
        }
        Ok(by_stream)
    }
}

#[async_trait]
impl FragmentStore for S3Store {
    /// Objects are not appended to: the archive buffers the fragment and appends it whole.
    fn open_writer(
        &self,
        _stream_id: i64,
        _tier: StorageTier,
    ) -> Result<Option<Box<dyn SegmentWriter>>, StoreError> {
        Ok(None)
    }

    async fn append(&self, items: Vec<FragmentBytes>) -> Vec<Result<Location, StoreError>> {
        // Learn the numbering of streams new to this process first (a LIST each, once).
        let mut fresh: Vec<i64> = items.iter().map(|f| f.stream_id).collect();
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
            .map(|FragmentBytes { stream_id: id, tier, parts }| {
                if deleted.contains(&id) {
                    return Err(StoreError::Io(std::io::Error::other("the stream was deleted")));
                }
                if let Some(e) = failed.get(&id) {
                    return Err(StoreError::Io(std::io::Error::other(e.clone())));
                }
                let st = map.entry(id).or_default();
                let slot = match st.pending.iter().position(|p| p.tier == tier) {
                    Some(i) => i,
                    None => {
                        let segment = st.next.max(1);
                        st.next = segment + 1;
                        st.pending.push(PendingObject { tier, segment, parts: Vec::new(), len: 0 });
                        st.pending.len() - 1
                    }
                };
                let object = &mut st.pending[slot];
                let length: u64 = parts.iter().map(|p| p.len() as u64).sum();
                let offset = object.len;
                object.parts.extend(parts.into_iter().filter(|p| !p.is_empty()));
                object.len += length;
                Ok(Location { segment: object.segment, offset, length, tier })
            })
            .collect()
    }

    async fn sync(&self, stream_ids: Vec<i64>) -> Result<(), StoreError> {
        let uploads: Vec<(i64, PendingObject)> = {
            let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            stream_ids
                .iter()
                .filter_map(|id| Some((*id, std::mem::take(&mut map.get_mut(id)?.pending))))
                .flat_map(|(id, objects)| objects.into_iter().map(move |o| (id, o)))
                .collect()
        };
        let results: Vec<(StorageTier, Path, u64, Result<(), StoreError>)> =
            futures_util::stream::iter(uploads)
                .map(|(id, object)| {
                    let place = self.place(object.tier);
                    let (client, key, options) =
                        (place.client.clone(), place.key(id, object.segment), place.put_options());
                    async move {
                        let put = client.put_opts(&key, PutPayload::from_iter(object.parts), options).await;
                        (object.tier, key, object.len, put.map(|_| ()).map_err(io))
                    }
                })
                .buffer_unordered(self.max_puts)
                .collect()
                .await;
        let mut first_error = None;
        let mut stored = 0;
        for (tier, key, len, r) in results {
            match r {
                Ok(()) => stored += len,
                Err(e) => {
                    // It may have landed despite the error: nobody will reference it.
                    let client = self.place(tier).client.clone();
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
        let place = self.place(location.tier);
        let key = place.key(stream_id, location.segment);
        let range = location.offset..location.offset + location.length;
        let bytes = place.client.get_range(&key, range).await.map_err(io)?;
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
        let mut ids = std::collections::BTreeSet::new();
        for place in &self.places {
            let listed = place.client.list_with_delimiter(Some(&place.root())).await.map_err(io)?;
            for dir in &listed.common_prefixes {
                let Some(id) = dir.filename().and_then(|n| n.parse::<i64>().ok()) else { continue };
                // Some servers (SeaweedFS) keep a "directory" after its last object went: a stream
                // holds bytes only if one object is left (the first page of its listing says).
                if !ids.contains(&id)
                    && place.client.list(Some(dir)).next().await.transpose().map_err(io)?.is_some()
                {
                    ids.insert(id);
                }
            }
        }
        Ok(ids.into_iter().collect())
    }

    async fn reconcile(&self, referenced: HashMap<i64, HighWater>) -> Result<Reconciliation, StoreError> {
        self.check_storage_class().await?;
        let mut listed = Vec::with_capacity(TIERS.len());
        for place in &self.places {
            listed.push(self.list_place(place).await?);
        }
        let mut report = Reconciliation::default();
        let mut total = 0u64;
        let mut ids: Vec<i64> = listed.iter().flat_map(|l| l.keys().copied()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut doomed: [Vec<Path>; 2] = [Vec::new(), Vec::new()];
        let mut highest: HashMap<i64, i64> = HashMap::new();
        for id in &ids {
            let objects: Vec<(usize, &Found)> = listed
                .iter()
                .enumerate()
                .flat_map(|(t, l)| l.get(id).into_iter().flatten().map(move |o| (t, o)))
                .collect();
            total += objects.iter().map(|(_, (_, size, _))| size).sum::<u64>();
            highest.insert(*id, objects.iter().map(|(_, (s, _, _))| *s).max().unwrap_or(0));
            let Some(&HighWater { segment: last, end }) = referenced.get(id) else {
                report.unindexed_streams.push(*id);
                continue;
            };
            let mut last_len = None;
            for (t, (seg, size, key)) in objects {
                if *seg > last {
                    report.removed_segments += 1;
                    report.bytes_dropped += size;
                    doomed[t].push(key.clone());
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
            if !highest.contains_key(id) {
                report.short_segments.push((*id, hw.segment, hw.end, 0));
            }
        }
        report.short_segments.sort_unstable();
        for (place, keys) in self.places.iter().zip(doomed) {
            self.delete_objects(place, keys).await?;
        }
        let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        for (id, top) in &highest {
            let floor = referenced.get(id).map_or(*top, |hw| hw.segment.max(*top));
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
        // Without the storage class: a probe PUT every few seconds must not be billed as a
        // Standard-IA object (128 KB for 30 days each); reconcile checked the class at startup.
        for place in &self.places {
            let probe = place.root().join(".ready-probe");
            place.client.put(&probe, PutPayload::from_static(b"ok")).await.map_err(io)?;
            place.client.delete(&probe).await.map_err(io)?;
        }
        Ok(())
    }

    fn number_segments_from(&self, stream_id: i64, floor: i64) {
        let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let st = map.entry(stream_id).or_default();
        st.next = st.next.max(floor);
    }

    fn bytes_stored(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn describe(&self) -> String {
        format!("S3 objects in {} (WARM tier: {})", self.places[0].describe(), self.places[1].describe())
    }
}
