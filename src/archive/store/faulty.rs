//! Fault injection for the fragment store: [`FaultyStore`] wraps any [`FragmentStore`] and, while
//! its [`FaultSwitch`] is on, fails every append, streamed write and sync with `ENOSPC` ("No space left on device")
//! as a full disk would (and the readiness probe reports it). Reads and deletes pass through. Used
//! by the resource-exhaustion tests (`tests/security.rs`, `tests/metrics.rs`) through
//! [`crate::app::Server::bind_with`], and by the PutMedia session's unit tests; it is never built
//! into the server by `app` itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use super::{
    FragmentBytes, FragmentStore, HighWater, Location, Reclaimed, Reconciliation, SegmentWriter, StoreError,
};
use crate::model::StorageTier;

/// Turns the injected fault on and off; clones share the switch.
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch {
    on: Arc<AtomicBool>,
    injected: Arc<AtomicU64>,
}

impl FaultSwitch {
    /// A switch, initially off.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts (true) or stops (false) failing writes.
    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
    }

    /// Whether writes fail now.
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    /// How many calls have been failed so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.is_on() {
            self.injected.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Io(std::io::Error::from_raw_os_error(28))); // ENOSPC
        }
        Ok(())
    }
}

/// A store whose writes fail with `ENOSPC` while its switch is on.
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn FragmentStore>,
    switch: FaultSwitch,
}

impl FaultyStore {
    /// Wraps `inner`, controlled by `switch`.
    pub fn new(inner: Arc<dyn FragmentStore>, switch: FaultSwitch) -> Self {
        Self { inner, switch }
    }
}

/// The inner store's writer, failing while the switch is on.
#[derive(Debug)]
struct FaultyWriter {
    inner: Box<dyn SegmentWriter>,
    switch: FaultSwitch,
}

impl SegmentWriter for FaultyWriter {
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.switch.check()?;
        self.inner.write_at(offset, bytes)
    }

    fn finish(self: Box<Self>, length: u64) -> Result<Location, StoreError> {
        self.switch.check()?;
        self.inner.finish(length)
    }
}

#[async_trait]
impl FragmentStore for FaultyStore {
    fn open_writer(
        &self,
        stream_id: i64,
        tier: StorageTier,
    ) -> Result<Option<Box<dyn SegmentWriter>>, StoreError> {
        self.switch.check()?;
        let switch = self.switch.clone();
        Ok(self
            .inner
            .open_writer(stream_id, tier)?
            .map(|inner| Box::new(FaultyWriter { inner, switch }) as Box<dyn SegmentWriter>))
    }

    async fn append(&self, items: Vec<FragmentBytes>) -> Vec<Result<Location, StoreError>> {
        if self.switch.check().is_err() {
            return items
                .iter()
                .map(|_| Err(StoreError::Io(std::io::Error::from_raw_os_error(28))))
                .collect();
        }
        self.inner.append(items).await
    }

    async fn sync(&self, stream_ids: Vec<i64>) -> Result<(), StoreError> {
        self.switch.check()?;
        self.inner.sync(stream_ids).await
    }

    async fn read(&self, stream_id: i64, location: Location) -> Result<Bytes, StoreError> {
        self.inner.read(stream_id, location).await
    }

    async fn delete_stream(&self, stream_id: i64) -> Result<Reclaimed, StoreError> {
        self.inner.delete_stream(stream_id).await
    }

    async fn remove_segments_below(
        &self,
        stream_id: i64,
        below: Option<i64>,
    ) -> Result<Reclaimed, StoreError> {
        self.inner.remove_segments_below(stream_id, below).await
    }

    async fn stream_ids(&self) -> Result<Vec<i64>, StoreError> {
        self.inner.stream_ids().await
    }

    async fn reconcile(&self, referenced: HashMap<i64, HighWater>) -> Result<Reconciliation, StoreError> {
        self.inner.reconcile(referenced).await
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        self.switch.check()?;
        self.inner.check_writable().await
    }

    fn number_segments_from(&self, stream_id: i64, floor: i64) {
        self.inner.number_segments_from(stream_id, floor)
    }

    fn bytes_stored(&self) -> u64 {
        self.inner.bytes_stored()
    }

    fn describe(&self) -> String {
        format!("faulty({})", self.inner.describe())
    }
}
