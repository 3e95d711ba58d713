//! What the workers know about streams: a cache of [`StreamInfo`] (stream row, tags,
//! image-generation and notification configuration) and the rule that decides which analyzers run
//! on which stream.
//!
//! Selection, in order: an analyzer that is [`Analyzer::required_for`] the stream runs; else the
//! stream's `openkvs:analyzers` tag (comma-separated worker names; an empty value means none)
//! decides; else the worker's configured `streams` name globs. The four index reads are
//! not paid per fragment: the API drops a stream's entry when it changes the stream's tags,
//! metadata or configurations, so on a single node (where every change goes through this
//! process's API) an entry lives until then; in a cluster it also expires after
//! [`StreamDirectory::ttl`] (15 s by default), which bounds how long a change made through another
//! node takes to apply here. Reads the index only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::archive::{Archive, IndexError};
use crate::model::glob_match;

use super::analyzer::{Analyzer, StreamInfo};

/// The stream tag that lists the analyzers of a stream.
pub const ANALYZERS_TAG: &str = "openkvs:analyzers";

/// A cached lookup: when it was made, and the stream (`None`: the stream does not exist).
type CacheEntry = (Instant, Option<Arc<StreamInfo>>);

/// A cache of stream information for the workers.
#[derive(Debug)]
pub struct StreamDirectory {
    archive: Arc<Archive>,
    /// `None`: entries live until invalidated (a single node).
    ttl: Option<Duration>,
    cache: Mutex<HashMap<i64, CacheEntry>>,
    /// Bumped by every [`StreamDirectory::invalidate`]: a lookup that was under way when the
    /// stream changed is not cached (it may have read the rows from before the change).
    generation: AtomicU64,
}

impl StreamDirectory {
    /// A directory over `index` whose entries live `ttl` (`None`: until invalidated).
    pub fn new(archive: Arc<Archive>, ttl: Option<Duration>) -> Self {
        Self { archive, ttl, cache: Mutex::new(HashMap::new()), generation: AtomicU64::new(0) }
    }

    /// How long an entry is trusted (`None`: until invalidated).
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// The stream's information; `None` if the stream no longer exists.
    pub async fn get(&self, stream_id: i64) -> Result<Option<Arc<StreamInfo>>, IndexError> {
        if let Some((at, info)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&stream_id)
            && self.ttl.is_none_or(|ttl| at.elapsed() < ttl)
        {
            return Ok(info.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let info = self.load(stream_id).await?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::Acquire) == generation {
            cache.insert(stream_id, (Instant::now(), info.clone()));
        }
        Ok(info)
    }

    /// Drops a cached entry (the stream changed or was deleted).
    pub fn invalidate(&self, stream_id: i64) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        cache.remove(&stream_id);
    }

    async fn load(&self, stream_id: i64) -> Result<Option<Arc<StreamInfo>>, IndexError> {
        let stream = match self.archive.stream_by_id(stream_id).await {
            Ok(s) => s,
            Err(IndexError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let tags = self.archive.stream_tags(stream_id).await?;
        let image_generation = self.archive.image_generation_config(stream_id).await?;
        let notification = self.archive.notification_config(stream_id).await?;
        Ok(Some(Arc::new(StreamInfo { stream, tags, image_generation, notification })))
    }
}

/// Whether `analyzer` runs on `stream`, given the worker's configured name globs.
pub fn selects(analyzer: &dyn Analyzer, globs: &[String], stream: &StreamInfo) -> bool {
    if analyzer.required_for(stream) {
        return true;
    }
    if let Some(list) = stream.tags.0.get(ANALYZERS_TAG) {
        return list.split(',').map(str::trim).any(|n| n == analyzer.name());
    }
    globs.iter().any(|g| glob_match(g, stream.stream.name.as_str()))
}
