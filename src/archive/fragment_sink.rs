//! [`FragmentSink`]: one fragment on its way into the archive while it arrives
//! (design/0024-ingest-efficiency.md, "Streaming the fragment being received").
//!
//! It owns the sealing of a fragment that is written out as it arrives: bytes are copied into a
//! buffer of one chunk ([`CHUNK_LEN`] plaintext bytes), and each full chunk is sealed (the chunked
//! v2 format of `sealing`) and written at its place in the store through the store's
//! [`SegmentWriter`], on the caller's task (one `pwrite` into the page cache; its time goes to the
//! `openkvs_store_write_seconds` metric). The fragment's head (the Cluster header, whose size is
//! only known at the end) is chunk 0 of its own, sealed and written last together with the v2
//! header; so a sink holds one chunk and a few dozen bytes of memory whatever the fragment's size.
//! With a store that cannot append in place (S3) the sink keeps the fragment's parts in memory and
//! the archive seals it whole at the end, as before.
//!
//! It does not persist anything: the bytes are unreferenced until the archive's persister syncs
//! them and commits the row ([`super::Archive::commit_fragment`]). Dropping a sink unfinished
//! drops its writer, which cuts the bytes off again. No I/O other than the writer's, no index.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::persister::PersistOutcome;
use super::sealing::{CHUNK_LEN, ChunkSealer, DataKey, FragmentContext, TAG_LEN, V2_HEADER_LEN};
use super::store::{Location, SegmentWriter, StoreError};
use crate::metrics::Metrics;
use crate::model::StorageTier;

/// One fragment being received, for [`super::Archive::commit_fragment`] at its end (see the
/// module documentation). Obtained from [`super::Archive::begin_fragment`].
#[derive(Debug)]
pub struct FragmentSink {
    pub(super) state: SinkState,
}

#[derive(Debug)]
pub(super) enum SinkState {
    /// Nothing will be stored; the receipt's answer at the end (e.g. the key is unavailable,
    /// the store refused a write).
    Failed(PersistOutcome),
    /// Kept in memory until the end (a store that cannot append in place); `parts[0]` is the
    /// reserved head.
    Buffered { key: Arc<DataKey>, tier: StorageTier, parts: Vec<Bytes> },
    /// Written out chunk by chunk.
    Streaming(Box<Chunks>),
}

impl FragmentSink {
    pub(super) fn failed(outcome: PersistOutcome) -> Self {
        Self { state: SinkState::Failed(outcome) }
    }

    /// Adds the fragment's next bytes. A failed write is remembered (the fragment's receipt will
    /// answer [`PersistOutcome::StoreFailed`]) and its bytes are cut off at once.
    pub fn push(&mut self, bytes: &Bytes) {
        match &mut self.state {
            SinkState::Failed(_) => {}
            SinkState::Buffered { parts, .. } => parts.push(bytes.clone()),
            SinkState::Streaming(chunks) => {
                if let Err(e) = chunks.push(bytes) {
                    self.state = SinkState::Failed(PersistOutcome::StoreFailed(e.to_string()));
                }
            }
        }
    }
}

/// The chunked writing of one fragment.
#[derive(Debug)]
pub(super) struct Chunks {
    writer: Box<dyn SegmentWriter>,
    sealer: ChunkSealer,
    pub(super) key_version: u32,
    /// The v2 header, then the head's place (chunk 0, `head_len` bytes): held until the end.
    first: Vec<u8>,
    /// Chunk `index`'s plaintext (`index` ≥ 1; 0 before the first byte after the head), written
    /// once full and followed by more bytes.
    buf: Vec<u8>,
    index: u64,
    head_len: usize,
    /// Plaintext bytes so far, the reserved head included.
    pub(super) plain_len: u64,
    metrics: Arc<Metrics>,
}

impl Chunks {
    pub(super) fn new(
        writer: Box<dyn SegmentWriter>,
        key: &DataKey,
        context: FragmentContext<'_>,
        head_len: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        let head_len = head_len.min(CHUNK_LEN);
        let (sealer, header) = key.chunk_sealer(context, head_len);
        let mut first = Vec::with_capacity(V2_HEADER_LEN + head_len + TAG_LEN);
        first.extend_from_slice(&header);
        first.resize(V2_HEADER_LEN + head_len, 0);
        Self {
            writer,
            sealer,
            key_version: key.version(),
            first,
            buf: Vec::new(),
            index: 0,
            head_len,
            plain_len: head_len as u64,
            metrics,
        }
    }

    /// Where chunk `index` (≥ 1) starts, from the fragment's start.
    fn chunk_offset(&self, index: u64) -> u64 {
        (V2_HEADER_LEN + self.head_len + TAG_LEN) as u64 + (index - 1) * (CHUNK_LEN + TAG_LEN) as u64
    }

    fn write(&mut self, offset: u64, which: Which) -> Result<(), StoreError> {
        let bytes = match which {
            Which::First => &self.first,
            Which::Current => &self.buf,
        };
        let started = Instant::now();
        let written = self.writer.write_at(offset, bytes);
        self.metrics.store_write(started.elapsed());
        written
    }

    /// Seals and writes chunk `index` from `buf`.
    fn write_current(&mut self, last: bool) -> Result<(), StoreError> {
        self.sealer.seal_chunk(self.index, last, &mut self.buf, 0);
        self.write(self.chunk_offset(self.index), Which::Current)?;
        self.buf.clear();
        Ok(())
    }

    fn push(&mut self, mut data: &[u8]) -> Result<(), StoreError> {
        self.plain_len += data.len() as u64;
        if self.index == 0 && !data.is_empty() {
            // Bytes after the head: the head is not the last chunk.
            self.index = 1;
            self.buf.reserve_exact(CHUNK_LEN + TAG_LEN);
        }
        while !data.is_empty() {
            if self.buf.len() == CHUNK_LEN {
                self.write_current(false)?;
                self.index += 1;
            }
            let take = (CHUNK_LEN - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(())
    }

    /// Writes the last chunk, then the header and chunk 0 with `head` in its place; the
    /// fragment's location.
    pub(super) fn finish(mut self, head: &[u8]) -> Result<Location, StoreError> {
        let n = head.len().min(self.head_len);
        self.first[V2_HEADER_LEN..V2_HEADER_LEN + n].copy_from_slice(&head[..n]);
        let first_is_last = self.index == 0;
        if !first_is_last {
            self.write_current(true)?;
        }
        self.sealer.seal_chunk(0, first_is_last, &mut self.first, V2_HEADER_LEN);
        self.write(0, Which::First)?;
        let length = V2_HEADER_LEN as u64 + self.plain_len + (self.index + 1) * TAG_LEN as u64;
        self.writer.finish(length)
    }
}

#[derive(Clone, Copy)]
enum Which {
    First,
    Current,
}
