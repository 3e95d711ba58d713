//! The archive: THE persistence boundary. It owns the metadata index (SQLite | Postgres), the
//! fragment store (a local directory, or an S3-compatible bucket), the group-commit persister,
//! crash recovery, retention reclaim and stream deletion. Everyone who reads or writes fragments
//! holds one [`Archive`]; nothing else in the crate imports `index` or `store`.
//!
//! # The durability rule
//!
//! **An index row only ever points at durable bytes, and bytes are removed only after no row
//! points at them.** Every operation below is ordered to keep it at every instant, so a crash at
//! any point leaves at worst unreferenced bytes (which recovery or the next reclaim removes), never
//! a row that points at nothing.
//!
//! # Order of operations
//!
//! - **append** ([`Archive::append`], or [`Archive::begin_fragment`] … [`Archive::commit_fragment`]
//!   → [`Receipt`]): with the local store the bytes are written into the stream's segment while
//!   the fragment arrives ([`FragmentSink`]; unreferenced, and cut off again if the fragment is
//!   abandoned); the persister batches fragments of every stream; per batch it appends the bytes
//!   still in memory (S3) to the store, syncs every touched stream (fsync, or the
//!   acknowledged PUT), THEN commits all rows in one index transaction, and only then answers each
//!   receipt ([`PersistOutcome::Persisted`]) and publishes the record on the persisted feed. A row
//!   whose stream was deleted meanwhile is refused by the commit ([`PersistOutcome::StreamGone`]);
//!   a row whose producer timestamp its stream already has (a producer resent a fragment after a
//!   reconnect) is not inserted either ([`PersistOutcome::Duplicate`], with the existing number):
//!   each fragment is stored once, its resent bytes stay unreferenced until their segment expires
//!   (design/0022-producer-failover.md).
//! - **delete a stream** ([`Archive::delete_stream`]): one index transaction removes the stream
//!   row with everything that references it and records the id as deleted; THEN the deletion
//!   observers run (ingest ends the stream's PutMedia with 4008); THEN the store drops the stream's
//!   bytes (and refuses later appends to it). A crash in between leaves a directory the next
//!   retention pass removes ([`Archive::remove_deleted_leftovers`]).
//! - **expire by retention** ([`Archive::expire`]): rows older than the cutoff go first, in bounded
//!   transactions; THEN, holding the persister's gate (so no fragment is between "appended" and
//!   "committed"), the archive asks the index for the lowest segment the stream still references
//!   and removes the segments below it (design/0010-retention.md).
//! - **recover at startup** ([`open`]): before the persister exists, the index reports each
//!   stream's high water (highest referenced segment, end of its last referenced byte) — on
//!   Postgres after waiting out fragment transactions a killed process left committing — and the
//!   store reconciles against it: unreferenced tails and newer segments go, unindexed streams are
//!   reported and left alone (design/0006-crash-safety.md).
//!
//! # What callers may do
//!
//! - Ingest appends fragments and stores header sets; it learns of deleted streams through
//!   [`Archive::on_stream_deleted`].
//! - Playback and workers list, locate and read fragments ([`Archive::read_fragment`] and the
//!   catalog's queries); workers keep their cursors and events in it.
//! - The API resolves and changes streams, channels and configurations (edge configurations and
//!   camera secrets included) through the catalog, and deletes a stream with the one operation
//!   [`Archive::delete_stream`].
//! - `app`'s link for the in-process edge agent reads its configurations and secrets and writes
//!   the status it reports through the catalog.
//! - Retention decides each stream's cutoff and calls [`Archive::expire`]; it never deletes bytes.
//! - `app` opens it ([`open`]), flushes and closes it at shutdown.
//!
//! The catalog's queries are callable on the handle itself (`archive.stream_by_name(...)`): the
//! handle dereferences to the index's [`Catalog`] view, which leaves out what only the archive may
//! do (commit fragment rows, delete rows, read data keys, close the pool). Creating, updating and
//! deleting a stream go through the handle's own methods of those names, which keep the data keys
//! and the tier cache in step.
//!
//! # Encryption at rest
//!
//! Every fragment is sealed (AES-256-GCM) under its stream's data key before the persister sees
//! it (in chunks as it is streamed into the local store, whole when it is buffered for S3), and opened in [`Archive::read_fragment`]: the store keeps opaque
//! sealed bytes (local files and S3 alike), and a row's location describes the sealed bytes while
//! its `size_bytes` stays the media size. Data keys are generated per stream, stored wrapped by a
//! master key of the keyring (`keyring`, `[encryption]`) that CreateStream's `KmsKeyId` selects,
//! and cached unwrapped (`stream_keys`). A row's `key_version` says which key sealed it; 0 marks
//! bytes persisted before encryption existed, read as they are. A key that cannot be had fails
//! the append ([`PersistOutcome::KeyUnavailable`]) or the read ([`ReadError::KeyUnavailable`]),
//! never falls back to plaintext or to another key (design/0018-encryption-at-rest.md).
//!
//! # Storage tiers
//!
//! [`Archive::append`] also stamps each fragment with its stream's current storage tier; the store
//! writes it to that tier's place and the row remembers it, so a tier change applies to new
//! fragments and older ones stay readable where they are (design/0017-object-store.md).

mod fragment_sink;
mod index;
mod keyring;
mod persisted;
mod persister;
mod reclaim;
mod recovery;
pub mod sealing;
mod store;
mod stream_keys;

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::metrics::Metrics;
use crate::model::{FragmentNumber, FragmentRecord, StorageTier, Stream, VersionToken};

pub use fragment_sink::FragmentSink;
pub use index::{
    AnalysisIndex, Backend, CHANNEL_NAME_CONSTRAINT, Catalog, ChannelChanges, ChannelIndex, ChannelPage,
    ClusterIndex, ClusterMember, DataKeyIndex, EdgeIndex, FragmentIndex, Index, IndexError,
    LONGEST_FRAGMENT_MS, MEDIA_STORAGE_STREAM_CONSTRAINT, MediaStorage, MediaStorageIndex, NewChannel,
    NewDataKey, NewSecret, NewStream, RowCommit, SECRET_NAME_CONSTRAINT, STREAM_NAME_CONSTRAINT, SecretIndex,
    StreamChanges, StreamIndex, StreamPage, TimestampKind, WrappedDataKey, WriterClaim, open as open_index,
    redact_url,
};
pub use keyring::{
    AWS_MANAGED_ALIAS, EncryptionConfig, GENERATED_KEY_FILE, GENERATED_KEY_ID, KeyringError, MasterKeyConfig,
    UnknownKmsKey,
};
pub use persisted::{PERSISTED_CAPACITY, PersistedFeed};
pub use persister::{MAX_BATCH, PersistOutcome};
pub use reclaim::{Expired, ReclaimError};
pub use store::config::{LocalConfig, S3Config, StoreConfig, StoreKind};
pub use store::faulty::{FaultSwitch, FaultyStore};
pub use store::local::{DEFAULT_SEGMENT_BYTES, LocalStore};
pub use store::s3::S3Store;
pub use store::{
    FragmentBytes, FragmentStore, HighWater, Reclaimed, Reconciliation, SegmentWriter, StoreError,
};
pub use stream_keys::KeyUnavailable;

use fragment_sink::{Chunks, SinkState};
use keyring::Keyring;
use persister::{JobBytes, PersistJob, Persister};
use sealing::FragmentContext;
use stream_keys::{KeyError, StreamKeys};

/// Where the archive keeps things.
#[derive(Debug, Clone)]
pub struct ArchiveConfig {
    /// The index database: `sqlite://PATH`, `sqlite::memory:` or `postgres://…`.
    pub database_url: String,
    /// The local store's root directory (`DATA_DIR/fragments`).
    pub store_root: PathBuf,
    /// The local store's WARM-tier directory (`[store.local] warm_dir`, by default
    /// `DATA_DIR/fragments-warm`).
    pub warm_root: PathBuf,
    /// Size after which a local segment file is closed and a new one started.
    pub segment_bytes: u64,
    /// Which store to open (`[store]`); the local one by default.
    pub store: StoreConfig,
    /// The keyring (`[encryption]`).
    pub encryption: EncryptionConfig,
    /// The data directory: where the generated master key lives when no key is configured.
    pub data_dir: PathBuf,
    /// Other nodes of a cluster write to the same index and store (design/0020-cluster.md): crash
    /// recovery then trims nothing at startup, since bytes above a stream's high water may be
    /// another node's batch between its PUT and its commit.
    pub shared_store: bool,
}

impl ArchiveConfig {
    /// The configuration for a data directory and database URL, with default segment size, the
    /// local store and the generated master key.
    pub fn new(database_url: impl Into<String>, data_dir: &std::path::Path) -> Self {
        Self {
            database_url: database_url.into(),
            store_root: data_dir.join("fragments"),
            warm_root: data_dir.join("fragments-warm"),
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            store: StoreConfig::default(),
            encryption: EncryptionConfig::default(),
            data_dir: data_dir.to_owned(),
            shared_store: false,
        }
    }
}

/// Why the archive could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The index could not be opened, migrated or asked for its high water.
    #[error("index: {0}")]
    Index(#[from] IndexError),
    /// The store could not be opened or reconciled.
    #[error("{what}: {source}")]
    Store {
        /// What was being done.
        what: String,
        /// The store's error.
        source: StoreError,
    },
    /// The keyring could not be loaded.
    #[error("encryption keyring: {0}")]
    Keyring(#[from] KeyringError),
}

/// Why a fragment's bytes could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadError {
    /// The bytes are gone (expired or deleted since the caller read the row).
    #[error("fragment bytes not found")]
    Missing,
    /// The store failed; the text is for logs.
    #[error("store I/O error: {0}")]
    Failed(String),
    /// The stream's data key cannot be had (its master key is not in the keyring, or does not
    /// open it): the bytes are kept, unread.
    #[error(transparent)]
    KeyUnavailable(#[from] KeyUnavailable),
    /// The sealed bytes do not authenticate under the stream's key (altered or misplaced bytes);
    /// the text is for logs. Never answered with the bytes.
    #[error("fragment bytes fail authentication: {0}")]
    Corrupt(String),
}

/// Why CreateStream could not create a stream.
#[derive(Debug, thiserror::Error)]
pub enum CreateStreamError {
    /// `KmsKeyId` names no key of the keyring.
    #[error(transparent)]
    UnknownKmsKey(#[from] UnknownKmsKey),
    /// The index refused (a name conflict is `Conflict`) or failed.
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// The archive was closed (server shutdown): nothing more can be appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the archive is closed")]
pub struct Closed;

/// The durable receipt of one [`Archive::append`]: resolves once the fragment is durable and
/// indexed, or failed.
#[derive(Debug)]
pub struct Receipt(oneshot::Receiver<PersistOutcome>);

impl Receipt {
    /// A receipt answered before the persister saw the fragment.
    fn answered(outcome: PersistOutcome) -> Self {
        let (done, receipt) = oneshot::channel();
        let _ = done.send(outcome);
        Self(receipt)
    }
}

impl std::future::Future for Receipt {
    type Output = PersistOutcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<PersistOutcome> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| PersistOutcome::IndexFailed("the persister stopped".into())))
    }
}

type DeletionObserver = Box<dyn Fn(i64) + Send + Sync>;

/// The one handle on stored fragments and their metadata (see the module doc for its contract).
pub struct Archive {
    index: Arc<dyn Index>,
    store: Arc<dyn FragmentStore>,
    persister: Persister,
    persisted: PersistedFeed,
    metrics: Arc<Metrics>,
    deletion_observers: Mutex<Vec<DeletionObserver>>,
    keys: StreamKeys,
    /// Each stream's current tier, as this process last read or set it.
    tiers: Mutex<HashMap<i64, StorageTier>>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("index", &self.index.backend())
            .field("store", &self.store.describe())
            .finish_non_exhaustive()
    }
}

/// Opens the index (running migrations) and the configured store, recovers the store against the index,
/// lets `wrap_store` wrap the store (fault injection in tests), and starts the persister.
pub async fn open(
    config: &ArchiveConfig,
    metrics: Arc<Metrics>,
    wrap_store: impl FnOnce(Arc<dyn FragmentStore>) -> Arc<dyn FragmentStore>,
) -> Result<Arc<Archive>, OpenError> {
    let index = open_index(&config.database_url).await?;
    let in_use = index.data_keys_per_master_key().await?;
    let keyring =
        Keyring::load(&config.encryption, &config.data_dir, &in_use, |var| std::env::var(var).ok())?;
    if let (StoreKind::S3, Some(file)) = (config.store.kind, keyring.generated_key_file()) {
        tracing::warn!(
            "fragments in S3 are sealed with the master key generated in {}: it exists on this machine only;              back it up, or configure [encryption.keys] from a secret store (design/0018-encryption-at-rest.md)",
            file.display()
        );
    }
    let store: Arc<dyn FragmentStore> = match config.store.kind {
        StoreKind::Local => {
            Arc::new(LocalStore::open(&config.store_root, &config.warm_root, config.segment_bytes).map_err(
                |source| OpenError::Store {
                    what: format!("cannot open fragment store {}", config.store_root.display()),
                    source,
                },
            )?)
        }
        StoreKind::S3 => Arc::new(S3Store::open(&config.store.s3).map_err(|source| OpenError::Store {
            what: format!("cannot configure the S3 store (bucket {})", config.store.s3.bucket),
            source,
        })?),
    };
    if config.shared_store {
        tracing::info!(
            "store recovery skipped: other cluster nodes write to this store (objects of batches whose \
             commit was lost stay unreferenced in the bucket)"
        );
    } else {
        recovery::recover(index.as_ref(), store.as_ref()).await?;
    }
    Ok(Archive::start(index, wrap_store(store), metrics, StreamKeys::new(keyring)))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Archive {
    /// Starts the persister over an opened (and recovered) index and store.
    fn start(
        index: Arc<dyn Index>,
        store: Arc<dyn FragmentStore>,
        metrics: Arc<Metrics>,
        keys: StreamKeys,
    ) -> Arc<Self> {
        let persisted = PersistedFeed::default();
        let persister = Persister::start(store.clone(), index.clone(), persisted.clone(), metrics.clone());
        Arc::new(Self {
            index,
            store,
            persister,
            persisted,
            metrics,
            deletion_observers: Mutex::new(Vec::new()),
            keys,
            tiers: Mutex::new(HashMap::new()),
        })
    }

    /// Creates a stream with its first data key, wrapped by the master key its `KmsKeyId`
    /// selects (the default key without one), in one index transaction.
    pub async fn create_stream(&self, mut new: NewStream) -> Result<Stream, CreateStreamError> {
        new.data_key = Some(self.keys.first_key(new.kms_key_id.as_deref(), &new.arn)?);
        let stream = self.index.create_stream(new).await?;
        self.tiers.lock().unwrap_or_else(|p| p.into_inner()).insert(stream.id, stream.storage_tier);
        Ok(stream)
    }

    /// Applies `changes` to a stream (see [`StreamIndex::update_stream`]); a new storage tier
    /// applies to the stream's next fragments.
    pub async fn update_stream(
        &self,
        id: i64,
        expected: Option<&VersionToken>,
        changes: &StreamChanges,
        new_version: &VersionToken,
    ) -> Result<Stream, IndexError> {
        let stream = self.index.update_stream(id, expected, changes, new_version).await?;
        self.tiers.lock().unwrap_or_else(|p| p.into_inner()).insert(stream.id, stream.storage_tier);
        Ok(stream)
    }

    /// The stream's current storage tier (cached after the first look).
    async fn tier_of(&self, stream_id: i64) -> Result<StorageTier, IndexError> {
        if let Some(tier) = self.tiers.lock().unwrap_or_else(|p| p.into_inner()).get(&stream_id) {
            return Ok(*tier);
        }
        let tier = self.index.stream_by_id(stream_id).await?.storage_tier;
        self.tiers.lock().unwrap_or_else(|p| p.into_inner()).entry(stream_id).or_insert(tier);
        Ok(tier)
    }

    /// Seals a fragment (its row, with the location left for the store to fill in, and its bytes as
    /// parts to concatenate) under its stream's data key, stamps it with the stream's tier and
    /// hands it to the persister. Waits only while the persister's queue is full (back-pressure to
    /// the producer); the returned [`Receipt`] resolves when the fragment is durable and indexed,
    /// or failed (at once when the stream's key cannot be had). The whole-fragment form of
    /// [`Archive::begin_fragment`] and [`Archive::commit_fragment`].
    pub async fn append(&self, record: FragmentRecord, parts: Vec<Bytes>) -> Result<Receipt, Closed> {
        self.append_fenced(record, parts, None).await
    }

    /// As [`Archive::append`], committed only under the stream's writer epoch `fence` (cluster
    /// mode; `None` is a single node's unfenced commit): if another node has claimed the stream
    /// since, the receipt answers [`PersistOutcome::Fenced`] and no row is written.
    pub async fn append_fenced(
        &self,
        record: FragmentRecord,
        parts: Vec<Bytes>,
        fence: Option<i64>,
    ) -> Result<Receipt, Closed> {
        let mut sink = self.begin_fragment(record.stream_id, &record.number, 0).await;
        for part in &parts {
            sink.push(part);
        }
        drop(parts);
        self.commit_fragment(sink, &[], record, fence).await
    }

    /// Starts receiving fragment `number` of a stream: a [`FragmentSink`] the fragment's bytes are
    /// pushed into as they arrive, with its first `head_len` bytes reserved for the head given at
    /// [`Archive::commit_fragment`] (the Cluster header, whose size is known only at the end).
    /// With the local store the bytes are sealed in chunks and written out as they come (bounded
    /// memory per fragment); with S3 they are kept until the end. Nothing is durable or referenced
    /// before the commit's receipt says PERSISTED; a sink dropped unfinished (a rejected or
    /// abandoned fragment) leaves nothing behind. A key or store failure here is not returned: it
    /// is the receipt's answer at the end, as with [`Archive::append`].
    pub async fn begin_fragment(
        &self,
        stream_id: i64,
        number: &FragmentNumber,
        head_len: usize,
    ) -> FragmentSink {
        let gone_or_failed = |e: IndexError| match e {
            IndexError::NotFound => PersistOutcome::StreamGone,
            other => PersistOutcome::IndexFailed(other.to_string()),
        };
        let tier = match self.tier_of(stream_id).await {
            Ok(tier) => tier,
            Err(e) => return FragmentSink::failed(gone_or_failed(e)),
        };
        let key = match self.keys.current(self.index.as_ref(), stream_id, now_ms()).await {
            Ok(key) => key,
            Err(KeyError::Unavailable(e)) => return FragmentSink::failed(PersistOutcome::KeyUnavailable(e)),
            Err(KeyError::Index(e)) => return FragmentSink::failed(gone_or_failed(e)),
        };
        let state = match self.store.open_writer(stream_id, tier) {
            Ok(Some(writer)) => {
                let context = FragmentContext { stream_id, fragment_number: number.as_str() };
                SinkState::Streaming(Box::new(Chunks::new(
                    writer,
                    &key,
                    context,
                    head_len,
                    self.metrics.clone(),
                )))
            }
            Ok(None) => SinkState::Buffered { key, tier, parts: vec![Bytes::from(vec![0u8; head_len])] },
            Err(e) => SinkState::Failed(PersistOutcome::StoreFailed(e.to_string())),
        };
        FragmentSink { state }
    }

    /// Completes a fragment received through `sink`: `head` replaces its reserved first bytes,
    /// the rest is written (or, buffered, sealed whole), and the persister gets the row (its
    /// `size_bytes`, `key_version` and location are filled in here). Waits only while the
    /// persister's queue is full; the [`Receipt`] resolves when the fragment is durable and
    /// indexed, or failed.
    pub async fn commit_fragment(
        &self,
        sink: FragmentSink,
        head: &[u8],
        mut record: FragmentRecord,
        fence: Option<i64>,
    ) -> Result<Receipt, Closed> {
        let bytes = match sink.state {
            SinkState::Failed(outcome) => return Ok(Receipt::answered(outcome)),
            SinkState::Buffered { key, tier, mut parts } => {
                parts[0] = Bytes::copy_from_slice(head);
                record.size_bytes = parts.iter().map(|p| p.len() as i64).sum();
                record.key_version = key.version();
                record.location.tier = tier;
                let context =
                    FragmentContext { stream_id: record.stream_id, fragment_number: record.number.as_str() };
                let sealed = key.seal(context, &parts);
                drop(parts);
                JobBytes::Parts(vec![sealed])
            }
            SinkState::Streaming(chunks) => {
                record.size_bytes = chunks.plain_len as i64;
                record.key_version = chunks.key_version;
                match chunks.finish(head) {
                    Ok(location) => record.location = location,
                    Err(e) => return Ok(Receipt::answered(PersistOutcome::StoreFailed(e.to_string()))),
                }
                JobBytes::Written
            }
        };
        let (done, receipt) = oneshot::channel();
        self.persister.submit(PersistJob { record, bytes, done, fence }).await.map_err(|_| Closed)?;
        Ok(Receipt(receipt))
    }

    /// Reads a fragment's bytes (the stored Cluster) by its row, opening them with the data key
    /// that sealed them.
    pub async fn read_fragment(&self, record: &FragmentRecord) -> Result<Bytes, ReadError> {
        let stored = self.store.read(record.stream_id, record.location).await.map_err(|e| match e {
            StoreError::NotFound => ReadError::Missing,
            StoreError::Io(e) => ReadError::Failed(e.to_string()),
        })?;
        if record.key_version == 0 {
            return Ok(stored);
        }
        let key = match self.keys.version(self.index.as_ref(), record.stream_id, record.key_version).await {
            Ok(key) => key,
            Err(KeyError::Unavailable(e)) => return Err(ReadError::KeyUnavailable(e)),
            Err(KeyError::Index(IndexError::NotFound)) => return Err(ReadError::Missing),
            Err(KeyError::Index(e)) => return Err(ReadError::Failed(e.to_string())),
        };
        let context =
            FragmentContext { stream_id: record.stream_id, fragment_number: record.number.as_str() };
        key.open(context, stored).map_err(|e| {
            ReadError::Corrupt(format!("stream {} fragment {}: {e}", record.stream_id, record.number))
        })
    }

    /// Deletes a stream if its version matches (`None`: any version): rows first, then the
    /// deletion observers, then its bytes (see the module doc). `NotFound` or `VersionMismatch`
    /// change nothing. A failure to remove the bytes is logged, not returned: the stream is gone
    /// for every client, and the retention janitor removes what is left.
    pub async fn delete_stream(
        &self,
        stream_id: i64,
        expected: Option<&VersionToken>,
    ) -> Result<(), IndexError> {
        self.index.delete_stream(stream_id, expected).await?;
        self.keys.forget(stream_id);
        self.tiers.lock().unwrap_or_else(|p| p.into_inner()).remove(&stream_id);
        for observe in self.deletion_observers.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            observe(stream_id);
        }
        if let Err(e) = self.store.delete_stream(stream_id).await {
            tracing::warn!("stream {stream_id} deleted, but removing its fragment bytes failed: {e}");
        }
        Ok(())
    }

    /// Registers `observer` to run (synchronously, right after the index commit) whenever
    /// [`Archive::delete_stream`] deletes a stream.
    pub fn on_stream_deleted(&self, observer: impl Fn(i64) + Send + Sync + 'static) {
        self.deletion_observers.lock().unwrap_or_else(|p| p.into_inner()).push(Box::new(observer));
    }

    /// The feed of fragments made durable and indexed, in commit order.
    pub fn persisted(&self) -> &PersistedFeed {
        &self.persisted
    }

    /// Bytes the store holds (metrics).
    pub fn bytes_stored(&self) -> u64 {
        self.store.bytes_stored()
    }

    /// Whether the store can write now (`/ready`).
    pub async fn check_store_writable(&self) -> Result<(), StoreError> {
        self.store.check_writable().await
    }

    /// A description of the store, for the startup log line.
    pub fn describe_store(&self) -> String {
        self.store.describe()
    }

    /// A description of encryption at rest, for the startup log line.
    pub fn describe_encryption(&self) -> String {
        self.keys.describe()
    }

    /// Waits until the persister holds no fragment (every receipt answered), at most `deadline`;
    /// returns whether it drained. Part of graceful shutdown, after ingest stopped appending.
    pub async fn flush(&self, deadline: Duration) -> bool {
        self.persister.flush(deadline).await
    }

    /// Closes the index pool, waiting for connections in use (graceful shutdown's last step).
    pub async fn close(&self) {
        self.index.close().await;
    }
}

impl std::ops::Deref for Archive {
    type Target = dyn Catalog;

    fn deref(&self) -> &Self::Target {
        &*self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        AccountId, DataRetention, FragmentLocation, FragmentNumber, Region, ResourceArn, StreamName, TagSet,
    };

    fn record(stream_id: i64, header_id: i64, ordinal: u128) -> FragmentRecord {
        FragmentRecord {
            stream_id,
            number: FragmentNumber::from_ordinal(ordinal),
            cluster_timecode: 0,
            producer_ts_ms: 1_000 * ordinal as i64,
            server_ts_ms: 1_000 * ordinal as i64,
            duration_ms: 1_000,
            size_bytes: 0,
            header_id,
            location: FragmentLocation { segment: 0, offset: 0, length: 0, tier: StorageTier::Hot },
            key_version: 0,
            key_frame: true,
            tracks: vec![1],
            frame_count: 1,
            metadata: Vec::new(),
        }
    }

    /// A stream from before encryption at rest: its plaintext fragment (key version 0) reads as it
    /// is; its next fragment gets the stream a first data key (under the default master key) and is
    /// stored sealed — 28 bytes longer, not the plaintext — and reads back as the plaintext.
    #[tokio::test]
    async fn rows_from_before_encryption_read_as_they_are_and_new_ones_are_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let archive =
            open(&ArchiveConfig::new("sqlite::memory:", dir.path()), Metrics::new(), |s| s).await.unwrap();
        let name = StreamName::parse("old").unwrap();
        let arn = ResourceArn::stream(&Region::parse("us-east-1").unwrap(), &AccountId::default(), &name, 1);
        let new = NewStream {
            arn,
            device_name: None,
            media_type: None,
            kms_key_id: None,
            data_key: None,
            retention: DataRetention::from_hours(24).unwrap(),
            storage_tier: StorageTier::Hot,
            version: VersionToken::generate(),
            tags: TagSet::default(),
        };
        // Created through the index alone, as a stream of an older version was: no data key.
        let stream = archive.index.create_stream(new).await.unwrap();
        let header = archive.put_track_header(stream.id, "00", b"header", 1).await.unwrap();
        let plaintext = Bytes::from_static(b"\x1f\x43\xb6\x75 a cluster from before encryption");
        let bytes =
            FragmentBytes { stream_id: stream.id, tier: StorageTier::Hot, parts: vec![plaintext.clone()] };
        let location = archive.store.append(vec![bytes]).await.remove(0).unwrap();
        archive.store.sync(vec![stream.id]).await.unwrap();
        let old =
            FragmentRecord { location, size_bytes: plaintext.len() as i64, ..record(stream.id, header, 1) };
        assert_eq!(
            archive.index.insert_fragments(std::slice::from_ref(&old)).await.unwrap(),
            vec![RowCommit::Inserted]
        );
        assert_eq!(archive.read_fragment(&old).await.unwrap(), plaintext);
        assert_eq!(archive.index.current_data_key(stream.id).await.unwrap(), None);

        let media = Bytes::from_static(b"\x1f\x43\xb6\x75 a cluster after");
        let receipt = archive.append(record(stream.id, header, 2), vec![media.clone()]).await.unwrap();
        assert_eq!(receipt.await, PersistOutcome::Persisted);
        let new = archive.fragment(stream.id, &FragmentNumber::from_ordinal(2)).await.unwrap();
        assert_eq!((new.key_version, new.size_bytes), (1, media.len() as i64));
        let stored = archive.store.read(stream.id, new.location).await.unwrap();
        assert_eq!(
            stored.len(),
            sealing::V2_HEADER_LEN + media.len() + 2 * sealing::TAG_LEN,
            "an empty head, one chunk"
        );
        assert!(!stored.windows(media.len()).any(|w| w == media));
        assert_eq!(archive.read_fragment(&new).await.unwrap(), media);
        assert_eq!(archive.read_fragment(&old).await.unwrap(), plaintext, "the old one still reads");
        let key = archive.index.current_data_key(stream.id).await.unwrap().unwrap();
        assert_eq!((key.version, key.master_key_id.as_str()), (1, GENERATED_KEY_ID));
    }
}
