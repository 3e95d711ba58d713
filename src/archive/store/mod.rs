//! The fragment store: where fragment bytes live. Private to `archive`, which alone calls it.
//!
//! [`FragmentStore`] is the contract every store meets: a local directory ([`local::LocalStore`])
//! or an S3-compatible bucket ([`s3::S3Store`]). Its unit of space is the **segment**: a numbered
//! container of ONE stream's fragment bytes (a segment file of the local store; one object per
//! commit batch in S3). A fragment's [`Location`] is (segment, offset, length, tier); the store
//! chooses it at append, the index keeps it in the fragment's row, and nobody else interprets it.
//! Segment numbers of a stream only grow and are never reused, across both tiers, so "every
//! segment below N" and "every segment after N" are meaningful to every store.
//!
//! **Tiers.** Every append names the storage tier of its stream ([`StorageTier`]); each store keeps
//! the tiers apart (HOT and WARM directories; HOT and WARM prefixes, buckets and storage classes),
//! writes a fragment where its tier says and reads it where its location says, so a stream whose
//! tier changes keeps its older segments where they were (design/0017-object-store.md, "WARM
//! tier"). Every other method covers both tiers.
//!
//! The bytes are opaque here: the archive seals them before `append` and opens them after `read`
//! (design/0018-encryption-at-rest.md).
//!
//! What each method promises (the archive builds the durability rule on these, see `archive`):
//! - [`FragmentStore::append`] writes; nothing is durable until [`FragmentStore::sync`] returns Ok
//!   for the stream (an object store may do the PUT in either call).
//! - [`FragmentStore::open_writer`] lets the archive stream ONE fragment into the store while it
//!   arrives (the local store; an object store answers `None` and the fragment is appended whole
//!   at its end, as before). The writer's bytes are nobody's until [`SegmentWriter::finish`]
//!   gives their location, and durable only once a later `sync` covers the stream; a writer
//!   dropped unfinished cuts its bytes off again. Reclaim never removes a segment with an open
//!   writer.
//! - [`FragmentStore::reconcile`] (startup, before any append) makes the store agree with what the
//!   index references: bytes past the referenced end are dropped; segments of unindexed streams are
//!   reported, never deleted (a wrong database URL must not destroy data).
//! - [`FragmentStore::remove_segments_below`] and [`FragmentStore::delete_stream`] are called only
//!   for bytes no committed row references.
//! - [`FragmentStore::stream_ids`] enumerates the streams that hold bytes, and
//!   [`FragmentStore::check_writable`] is the readiness probe; every store answers both.
//!
//! All methods are async: [`local::LocalStore`] runs its file I/O on blocking threads;
//! [`s3::S3Store`] awaits its S3 client. This layer imports only `model`-level types; it knows nothing of
//! HTTP, the index or Matroska (it stores opaque bytes).

pub mod config;
pub mod faulty;
mod io_crew;
pub mod local;
pub mod s3;

use std::collections::HashMap;

use async_trait::async_trait;
use bytes::Bytes;

/// Where a fragment's bytes are (the index stores it with the fragment's row).
pub use crate::model::FragmentLocation as Location;
use crate::model::StorageTier;

/// One fragment to append: its stream, the tier its stream writes to, its bytes as parts to
/// concatenate.
#[derive(Debug, Clone)]
pub struct FragmentBytes {
    /// The stream's index id.
    pub stream_id: i64,
    /// Where the bytes go.
    pub tier: StorageTier,
    /// The bytes.
    pub parts: Vec<Bytes>,
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The requested bytes are not there (deleted by retention, or never written).
    #[error("fragment bytes not found")]
    NotFound,
    /// The filesystem (or object store) refused (ENOSPC, EIO, permissions); fatal for the
    /// fragments involved.
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// The end of what the index references of one stream: its highest referenced segment and the end
/// (offset + length) of the last referenced byte in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HighWater {
    /// The highest segment any row of the stream references.
    pub segment: i64,
    /// `max(offset + length)` over the rows in that segment.
    pub end: u64,
}

/// What [`FragmentStore::reconcile`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    /// Segments cut back to the end of their last indexed fragment.
    pub truncated_segments: usize,
    /// Segments after a stream's last indexed segment (never acknowledged), deleted.
    pub removed_segments: usize,
    /// Bytes dropped by both.
    pub bytes_dropped: u64,
    /// Streams holding bytes that the index has no fragments for, left untouched.
    pub unindexed_streams: Vec<i64>,
    /// Streams whose indexed bytes are NOT all there: (stream, segment, indexed end, stored length).
    /// This is data loss outside this process's control (e.g. a restored or foreign data dir).
    pub short_segments: Vec<(i64, i64, u64, u64)>,
}

impl Reconciliation {
    /// Whether reconciliation found nothing to do.
    pub fn is_clean(&self) -> bool {
        *self == Self::default()
    }
}

/// Space returned by a removal.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    /// Segments removed.
    pub segments: u64,
    /// Bytes freed.
    pub bytes: u64,
}

/// One fragment being written into a store as it arrives ([`FragmentStore::open_writer`]).
///
/// The fragment occupies `[start, start + length)` of a segment no other writer or append uses
/// while it is open. Writes are positional and may come in any order (the archive writes the
/// fragment's first chunk last); each is a blocking `pwrite` into the page cache on the caller's
/// thread. Dropping the writer without [`SegmentWriter::finish`] abandons the fragment: its
/// bytes are cut off (the segment truncated back to `start`).
pub trait SegmentWriter: Send + std::fmt::Debug {
    /// Writes `bytes` at `offset` bytes past the fragment's start.
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> Result<(), StoreError>;

    /// The fragment is complete at `length` bytes (every byte of it written): its location. The
    /// bytes become durable with the next [`FragmentStore::sync`] of the stream.
    fn finish(self: Box<Self>, length: u64) -> Result<Location, StoreError>;
}

/// Storage for fragment bytes. Every method is required: a store that cannot do one of these
/// cannot back the archive.
#[async_trait]
pub trait FragmentStore: Send + Sync + std::fmt::Debug {
    /// Appends fragments (of any streams, each to its tier), per stream in the order given, and
    /// returns one result per item, in order. The bytes are not necessarily durable until
    /// [`FragmentStore::sync`] covers their stream. A stream deleted in this process
    /// ([`FragmentStore::delete_stream`]) is refused.
    async fn append(&self, items: Vec<FragmentBytes>) -> Vec<Result<Location, StoreError>>;

    /// Opens a writer for one fragment of the stream in `tier`, at the end of its current segment
    /// (a new one when that one is full, in another tier, or has a writer already), or `None` when
    /// the store cannot append in place (an object store: the fragment is then appended whole with
    /// [`FragmentStore::append`]). A stream deleted in this process is refused. Called on the
    /// ingest task: it may open a file, never waits for the network.
    fn open_writer(
        &self,
        stream_id: i64,
        tier: StorageTier,
    ) -> Result<Option<Box<dyn SegmentWriter>>, StoreError>;

    /// Makes every append so far to the given streams durable (fsync, or the acknowledged PUT).
    async fn sync(&self, stream_ids: Vec<i64>) -> Result<(), StoreError>;

    /// Reads a fragment back from its location's tier; `NotFound` when its bytes are gone.
    async fn read(&self, stream_id: i64, location: Location) -> Result<Bytes, StoreError>;

    /// Deletes every byte of a stream (no row references any) and refuses later appends to it.
    async fn delete_stream(&self, stream_id: i64) -> Result<Reclaimed, StoreError>;

    /// Removes the stream's segments numbered below `below` (`None`: every segment). The caller
    /// guarantees no byte in them is referenced and none is being appended (the archive holds the
    /// persister's gate); a segment with an open [`SegmentWriter`] is in use and kept. A removed current segment is closed: the next append starts a new
    /// segment, numbered after it.
    async fn remove_segments_below(
        &self,
        stream_id: i64,
        below: Option<i64>,
    ) -> Result<Reclaimed, StoreError>;

    /// Ids of the streams that hold bytes (have segments) in the store, ascending.
    async fn stream_ids(&self) -> Result<Vec<i64>, StoreError>;

    /// Crash recovery, once at startup before any append: `referenced` maps every stream the index
    /// has fragments for to its [`HighWater`]. Bytes past it (a torn or never-acknowledged tail, a
    /// segment or object written but never committed) are dropped; older segments are left alone;
    /// streams the index has no fragments for are reported, not touched.
    async fn reconcile(&self, referenced: HashMap<i64, HighWater>) -> Result<Reconciliation, StoreError>;

    /// Numbers the stream's next segments from at least `floor` on (never lowers the numbering).
    /// A cluster's writers of one stream use disjoint ranges this way, one per writer epoch, so an
    /// old writer that has not yet learnt it was fenced can never overwrite a newer writer's
    /// segment (design/0020-cluster.md, "Fencing").
    fn number_segments_from(&self, stream_id: i64, floor: i64);

    /// Whether the store can create, write and remove something now (`/ready`).
    async fn check_writable(&self) -> Result<(), StoreError>;

    /// Total bytes currently held, for metrics.
    fn bytes_stored(&self) -> u64;

    /// A description for the startup log line.
    fn describe(&self) -> String;
}
