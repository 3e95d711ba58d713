//! The fragment store: where fragment bytes live.
//!
//! [`FragmentStore`] is the contract: append a fragment's bytes for a stream (buffered, not yet
//! durable), make a set of appends durable in one call (group commit: the ingest persister calls it
//! once per batch across all streams), read a fragment back by its [`Location`], and drop a stream's
//! bytes. [`local::LocalStore`] implements it with per-stream append-only segment files under
//! `DATA_DIR/fragments` (see `design/0002-fragment-store.md` for the layout decision and its
//! numbers). This layer imports only `model`-level types; it knows nothing of HTTP, the index or
//! Matroska (it stores opaque bytes). All methods are blocking file I/O: async callers run them on a
//! blocking thread.

pub mod faulty;
pub mod local;

use bytes::Bytes;

/// Where a fragment's bytes are (the index stores it with the fragment's row).
pub use crate::model::FragmentLocation as Location;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The requested bytes are not there (deleted by retention, or never written).
    #[error("fragment bytes not found")]
    NotFound,
    /// The filesystem refused (ENOSPC, EIO, permissions); fatal for the fragments involved.
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Storage for fragment bytes.
pub trait FragmentStore: Send + Sync + std::fmt::Debug {
    /// Appends `parts` (concatenated) as one fragment of `stream_id`. The bytes are written but not
    /// necessarily durable until [`FragmentStore::sync`] covers this stream.
    fn append(&self, stream_id: i64, parts: &[Bytes]) -> Result<Location, StoreError>;

    /// Appends several fragments (of any streams) at once; per stream, in the order given. Returns
    /// one result per item, in order. Implementations may write different streams in parallel.
    fn append_many(&self, items: &[(i64, &[Bytes])]) -> Vec<Result<Location, StoreError>> {
        items.iter().map(|(id, parts)| self.append(*id, parts)).collect()
    }

    /// Makes every append so far to the given streams durable (fsync), in parallel where it helps.
    fn sync(&self, stream_ids: &[i64]) -> Result<(), StoreError>;

    /// Reads a fragment back.
    fn read(&self, stream_id: i64, location: &Location) -> Result<Bytes, StoreError>;

    /// Deletes every byte of a stream (after its index rows are gone).
    fn delete_stream(&self, stream_id: i64) -> Result<(), StoreError>;

    /// Total bytes currently held, for metrics.
    fn bytes_stored(&self) -> u64;

    /// Removes the stream's segment files numbered below `below` (`None`: every segment), and
    /// returns (files removed, bytes freed). The caller guarantees no byte in them is referenced
    /// and none is being appended (the retention janitor holds the persister's gate). A removed
    /// current segment is closed: the next append starts a new segment, numbered after it.
    fn remove_segments_below(&self, _stream_id: i64, _below: Option<i64>) -> Result<(u64, u64), StoreError> {
        Ok((0, 0))
    }

    /// Ids of the streams that have a directory (bytes) in the store.
    fn stream_ids_on_disk(&self) -> Result<Vec<i64>, StoreError> {
        Ok(Vec::new())
    }

    /// Whether the store can create, write and remove a file now (`/ready`).
    fn check_writable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// A description for the startup log line.
    fn describe(&self) -> String;
}
