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
//! - **append** ([`Archive::append`] → [`Receipt`]): the persister batches fragments of every
//!   stream; per batch it appends the bytes to the store, syncs every touched stream (fsync, or the
//!   acknowledged PUT), THEN commits all rows in one index transaction, and only then answers each
//!   receipt ([`PersistOutcome::Persisted`]) and publishes the record on the persisted feed. A row
//!   whose stream was deleted meanwhile is refused by the commit ([`PersistOutcome::StreamGone`]).
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
//! do (commit fragment rows, delete rows, close the pool).

mod index;
mod persisted;
mod persister;
mod reclaim;
mod recovery;
mod store;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::metrics::Metrics;
use crate::model::{FragmentRecord, VersionToken};

pub use index::{
    AnalysisIndex, Backend, CHANNEL_NAME_CONSTRAINT, Catalog, ChannelChanges, ChannelIndex, ChannelPage,
    EdgeIndex, FragmentIndex, Index, IndexError, LONGEST_FRAGMENT_MS, MEDIA_STORAGE_STREAM_CONSTRAINT,
    MediaStorage, MediaStorageIndex, NewChannel, NewSecret, NewStream, SECRET_NAME_CONSTRAINT,
    STREAM_NAME_CONSTRAINT, SecretIndex, StreamChanges, StreamIndex, StreamPage, TimestampKind,
    open as open_index, redact_url,
};
pub use persisted::{PERSISTED_CAPACITY, PersistedFeed};
pub use persister::{MAX_BATCH, PersistOutcome};
pub use reclaim::{Expired, ReclaimError};
pub use store::config::{S3Config, StoreConfig, StoreKind};
pub use store::faulty::{FaultSwitch, FaultyStore};
pub use store::local::{DEFAULT_SEGMENT_BYTES, LocalStore};
pub use store::s3::S3Store;
pub use store::{FragmentStore, HighWater, Reclaimed, Reconciliation, StoreError};

use persister::{PersistJob, Persister};

/// Where the archive keeps things.
#[derive(Debug, Clone)]
pub struct ArchiveConfig {
    /// The index database: `sqlite://PATH`, `sqlite::memory:` or `postgres://…`.
    pub database_url: String,
    /// The local store's root directory (`DATA_DIR/fragments`).
    pub store_root: PathBuf,
    /// Size after which a local segment file is closed and a new one started.
    pub segment_bytes: u64,
    /// Which store to open (`[store]`); the local one by default.
    pub store: StoreConfig,
}

impl ArchiveConfig {
    /// The configuration for a data directory and database URL, with default segment size.
    pub fn new(database_url: impl Into<String>, data_dir: &std::path::Path) -> Self {
        Self {
            database_url: database_url.into(),
            store_root: data_dir.join("fragments"),
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            store: StoreConfig::default(),
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
}

/// The archive was closed (server shutdown): nothing more can be appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the archive is closed")]
pub struct Closed;

/// The durable receipt of one [`Archive::append`]: resolves once the fragment is durable and
/// indexed, or failed.
#[derive(Debug)]
pub struct Receipt(oneshot::Receiver<PersistOutcome>);

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
    let store: Arc<dyn FragmentStore> = match config.store.kind {
        StoreKind::Local => {
            Arc::new(LocalStore::open(&config.store_root, config.segment_bytes).map_err(|source| {
                OpenError::Store {
                    what: format!("cannot open fragment store {}", config.store_root.display()),
                    source,
                }
            })?)
        }
        StoreKind::S3 => Arc::new(S3Store::open(&config.store.s3).map_err(|source| OpenError::Store {
            what: format!("cannot configure the S3 store (bucket {})", config.store.s3.bucket),
            source,
        })?),
    };
    recovery::recover(index.as_ref(), store.as_ref()).await?;
    Ok(Archive::start(index, wrap_store(store), metrics))
}

impl Archive {
    /// Starts the persister over an opened (and recovered) index and store.
    fn start(index: Arc<dyn Index>, store: Arc<dyn FragmentStore>, metrics: Arc<Metrics>) -> Arc<Self> {
        let persisted = PersistedFeed::default();
        let persister = Persister::start(store.clone(), index.clone(), persisted.clone(), metrics.clone());
        Arc::new(Self {
            index,
            store,
            persister,
            persisted,
            metrics,
            deletion_observers: Mutex::new(Vec::new()),
        })
    }

    /// Hands a fragment (its row, with the location left for the store to fill in, and its bytes as
    /// parts to concatenate) to the persister. Waits only while the persister's queue is full
    /// (back-pressure to the producer); the returned [`Receipt`] resolves when the fragment is
    /// durable and indexed, or failed.
    pub async fn append(&self, record: FragmentRecord, parts: Vec<Bytes>) -> Result<Receipt, Closed> {
        let (done, receipt) = oneshot::channel();
        self.persister.submit(PersistJob { record, parts, done }).await.map_err(|_| Closed)?;
        Ok(Receipt(receipt))
    }

    /// Reads a fragment's bytes (the stored Cluster) by its row.
    pub async fn read_fragment(&self, record: &FragmentRecord) -> Result<Bytes, ReadError> {
        self.store.read(record.stream_id, record.location).await.map_err(|e| match e {
            StoreError::NotFound => ReadError::Missing,
            StoreError::Io(e) => ReadError::Failed(e.to_string()),
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
