//! GetMedia and GetMediaForFragmentList as streams of KVS chunks.
//!
//! A chunk is one fragment as a complete Matroska document: the stored header set (EBML header,
//! unknown-size Segment, Info, Tracks), a Tags element with `AWS_KINESISVIDEO_FRAGMENT_NUMBER`,
//! `_SERVER_TIMESTAMP` and `_PRODUCER_TIMESTAMP`, the Cluster, then Tags with
//! `AWS_KINESISVIDEO_MILLIS_BEHIND_NOW` and `AWS_KINESISVIDEO_CONTINUATION_TOKEN` (the fragment
//! number, which resumes *after* it).
//!
//! A GetMedia reader subscribes to the live feed first, then reads archived fragments from the
//! index and store from its start position, then follows the live feed: a live fragment is sent
//! frame by frame as ingest parses it (unknown-size Cluster; the closing Tags end it). A fragment
//! the reader did not see start live (it lagged, or the fragment began before it subscribed) is
//! read from the store once it is persisted, so a slow reader loses nothing within retention; it
//! may see a fragment it had partly received live again in full (same fragment number). The
//! response ends when the stream is deleted, the client goes away, or nothing new arrived for
//! `get_media_idle_secs` while no producer is connected.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::{Playback, ReaderSlot};
use crate::archive::{IndexError, KeyUnavailable, ReadError, TimestampKind};
use crate::ingest::LiveEvent;
use crate::media::error_id::ErrorId;
use crate::media::mkv::kvs_chunk::{live_cluster_start, seconds_text, simple_block_header, tag_names, tags};
use crate::metrics::GetMediaStreamMetrics;
use crate::model::{FragmentNumber, FragmentRecord, Stream};

/// Where a GetMedia response starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartSelector {
    /// With the next fragment that starts (live tail).
    Now,
    /// With the oldest retained fragment.
    Earliest,
    /// After the given fragment.
    AfterFragment(FragmentNumber),
    /// With the fragment containing this server timestamp (epoch ms).
    ServerTimestamp(i64),
    /// With the fragment containing this producer timestamp (epoch ms).
    ProducerTimestamp(i64),
    /// After the fragment a previous response's continuation token names.
    ContinuationToken(FragmentNumber),
}

/// Why a read could not start.
#[derive(Debug, thiserror::Error)]
pub enum GetMediaError {
    /// The stream already has its maximum of concurrent readers.
    #[error("too many concurrent readers")]
    ConnectionLimit,
    /// A requested fragment does not exist.
    #[error("fragment {0} not found")]
    FragmentNotFound(String),
    /// The index failed.
    #[error("index: {0}")]
    Index(#[from] IndexError),
}

/// Chunks travel to the response through a small bounded channel: a stalled client stalls only
/// its own reader.
const CHANNEL_CHUNKS: usize = 32;
/// Fragments read from the index per query while catching up.
const PAGE: u32 = 64;

impl Playback {
    /// Starts a GetMedia reader.
    pub fn get_media(
        self: &Arc<Self>,
        stream: Stream,
        selector: StartSelector,
    ) -> Result<mpsc::Receiver<Bytes>, GetMediaError> {
        let slot = self.reader_slot(stream.id).ok_or(GetMediaError::ConnectionLimit)?;
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let mut reader = Reader::new(self.clone(), stream, tx);
        reader.metrics =
            Some(self.ingest.metrics().get_media_reader(reader.stream.id, reader.stream.name.as_str()));
        tokio::spawn(async move {
            let _slot: ReaderSlot = slot;
            if let Err(e) = reader.run(selector).await {
                tracing::debug!(stream = %reader.stream.name, "GetMedia ended: {e}");
            }
        });
        Ok(rx)
    }

    /// Checks that every fragment exists, then streams them in the order given.
    pub async fn get_media_for_fragment_list(
        self: &Arc<Self>,
        stream: Stream,
        numbers: Vec<FragmentNumber>,
    ) -> Result<mpsc::Receiver<Bytes>, GetMediaError> {
        let mut records = Vec::with_capacity(numbers.len());
        for n in &numbers {
            match self.archive.fragment(stream.id, n).await {
                Ok(r) => records.push(r),
                Err(IndexError::NotFound) => return Err(GetMediaError::FragmentNotFound(n.to_string())),
                Err(e) => return Err(e.into()),
            }
        }
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let mut reader = Reader::new(self.clone(), stream, tx);
        tokio::spawn(async move {
            for r in records {
                match reader.send_stored(&r).await {
                    Ok(()) => {}
                    Err(Stop::Index(e)) => {
                        // Like unreadable bytes: end the response with KVS error tags, not silently.
                        tracing::warn!(
                            stream = %reader.stream.name,
                            "GetMediaForFragmentList: index failed at fragment {}: {e}",
                            r.number
                        );
                        let _ = reader
                            .send(tags(&[
                                (tag_names::ERROR_CODE, "INTERNAL_ERROR"),
                                (tag_names::ERROR_ID, "5000"),
                            ]))
                            .await;
                        return;
                    }
                    Err(_) => return,
                }
            }
        });
        Ok(rx)
    }
}

/// Why a reader stopped.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error("client gone")]
    ClientGone,
    #[error("index: {0}")]
    Index(#[from] IndexError),
    #[error("fragment bytes unreadable")]
    Store,
}

struct Reader {
    playback: Arc<Playback>,
    stream: Stream,
    tx: mpsc::Sender<Bytes>,
    headers: HashMap<i64, Bytes>,
    /// The last fragment fully sent.
    last: Option<FragmentNumber>,
    /// GetMedia's per-stream series (GetMediaForFragmentList has none).
    metrics: Option<GetMediaStreamMetrics>,
}

impl Reader {
    fn new(playback: Arc<Playback>, stream: Stream, tx: mpsc::Sender<Bytes>) -> Self {
        Self { playback, stream, tx, headers: HashMap::new(), last: None, metrics: None }
    }

    async fn send(&self, b: Bytes) -> Result<(), Stop> {
        let n = b.len() as u64;
        self.tx.send(b).await.map_err(|_| Stop::ClientGone)?;
        if let Some(m) = &self.metrics {
            m.bytes_sent(n);
        }
        Ok(())
    }

    async fn run(&mut self, selector: StartSelector) -> Result<(), Stop> {
        let ingest = self.playback.ingest.clone();
        let mut live = ingest.live().subscribe(self.stream.id);
        let index = self.playback.archive.clone();
        match selector {
            StartSelector::Now => {
                self.last = index.last_fragment_number(self.stream.id).await?;
            }
            StartSelector::Earliest => {
                self.catch_up().await?;
            }
            StartSelector::AfterFragment(n) | StartSelector::ContinuationToken(n) => {
                self.last = Some(n);
                self.catch_up().await?;
            }
            StartSelector::ServerTimestamp(ts) | StartSelector::ProducerTimestamp(ts) => {
                let kind = if matches!(selector, StartSelector::ServerTimestamp(_)) {
                    TimestampKind::Server
                } else {
                    TimestampKind::Producer
                };
                match index.fragment_at(self.stream.id, kind, ts).await? {
                    Some(first) => {
                        self.send_stored(&first).await?;
                        self.catch_up().await?;
                    }
                    None => self.last = index.last_fragment_number(self.stream.id).await?,
                }
            }
        }
        // Live phase.
        let idle = Duration::from_secs(self.playback.config.get_media_idle_secs.max(1));
        let mut in_progress: Option<FragmentNumber> = None;
        loop {
            let next = tokio::select! {
                _ = self.tx.closed() => return Err(Stop::ClientGone),
                next = tokio::time::timeout(idle, live.recv()) => next,
            };
            let event = match next {
                Err(_) => {
                    if ingest.is_ingesting(self.stream.id) {
                        continue;
                    }
                    return Ok(());
                }
                Ok(Err(RecvError::Closed)) => return Ok(()),
                Ok(Err(RecvError::Lagged(_))) => {
                    // Too slow for the live feed: close the partial chunk; the fragment comes again
                    // from the store once persisted.
                    if in_progress.take().is_some() {
                        self.send(tags(&[])).await?;
                    }
                    continue;
                }
                Ok(Ok(event)) if matches!(*event, LiveEvent::Gap) => {
                    // Events lost between nodes: the same as lagging.
                    if in_progress.take().is_some() {
                        self.send(tags(&[])).await?;
                    }
                    continue;
                }
                Ok(Ok(event)) => event,
            };
            match &*event {
                LiveEvent::FragmentStarted {
                    number,
                    cluster_timecode,
                    producer_ts_ms,
                    server_ts_ms,
                    header,
                } => {
                    if self.last.as_ref().is_some_and(|l| number <= l) || header.is_empty() {
                        continue;
                    }
                    let mut prefix = Vec::with_capacity(header.len() + 256);
                    prefix.extend_from_slice(header);
                    prefix.extend_from_slice(&tags(&[
                        (tag_names::FRAGMENT_NUMBER, number.as_str()),
                        (tag_names::SERVER_TIMESTAMP, &seconds_text(*server_ts_ms)),
                        (tag_names::PRODUCER_TIMESTAMP, &seconds_text(*producer_ts_ms)),
                    ]));
                    prefix.extend_from_slice(&live_cluster_start(*cluster_timecode));
                    self.send(Bytes::from(prefix)).await?;
                    in_progress = Some(number.clone());
                }
                LiveEvent::Frame { number, frame } => {
                    if in_progress.as_ref() == Some(number) {
                        self.send(simple_block_header(frame)).await?;
                        self.send(frame.data.clone()).await?;
                    }
                }
                LiveEvent::FragmentEnded { number, complete } => {
                    if in_progress.as_ref() == Some(number) {
                        in_progress = None;
                        if *complete {
                            self.send(tags(&[
                                (tag_names::MILLIS_BEHIND_NOW, "0"),
                                (tag_names::CONTINUATION_TOKEN, number.as_str()),
                            ]))
                            .await?;
                            if let Some(m) = &self.metrics {
                                m.fragment_sent(0);
                            }
                            self.last = Some(number.clone());
                        } else {
                            self.send(tags(&[(tag_names::ERROR_CODE, "FRAGMENT_REJECTED")])).await?;
                        }
                    }
                }
                LiveEvent::FragmentPersisted { number } => {
                    if in_progress.is_none() && self.last.as_ref().is_none_or(|l| number > l) {
                        self.catch_up().await?;
                    }
                }
                LiveEvent::StreamDeleted => return Ok(()),
                LiveEvent::Gap => {}
            }
        }
    }

    /// Sends every indexed fragment after `self.last`.
    async fn catch_up(&mut self) -> Result<(), Stop> {
        let index = self.playback.archive.clone();
        loop {
            let page = index.fragments_after(self.stream.id, self.last.as_ref(), PAGE).await?;
            if page.is_empty() {
                return Ok(());
            }
            for f in &page {
                self.send_stored(f).await?;
            }
        }
    }

    async fn header(&mut self, id: i64) -> Result<Bytes, Stop> {
        if let Some(h) = self.headers.get(&id) {
            return Ok(h.clone());
        }
        let bytes = Bytes::from(self.playback.archive.track_header(self.stream.id, id).await?);
        self.headers.insert(id, bytes.clone());
        Ok(bytes)
    }

    /// Sends one stored fragment as a chunk; on unreadable bytes sends a chunk of KVS error tags
    /// (4000 gone, 4506/4502 key unavailable, 5000 otherwise) and stops.
    async fn send_stored(&mut self, f: &FragmentRecord) -> Result<(), Stop> {
        let header = self.header(f.header_id).await?;
        let cluster = match self.playback.archive.read_fragment(f).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(stream = %self.stream.name, "fragment {} unreadable: {e}", f.number);
                let (code, id) = match e {
                    ReadError::Missing => ("FRAGMENT_NOT_FOUND", 4000),
                    ReadError::KeyUnavailable(KeyUnavailable::WrongKey { .. }) => {
                        (ErrorId::KmsKeyValidationError.name(), ErrorId::KmsKeyValidationError.id())
                    }
                    ReadError::KeyUnavailable(_) => {
                        (ErrorId::KmsKeyNotFound.name(), ErrorId::KmsKeyNotFound.id())
                    }
                    ReadError::Failed(_) | ReadError::Corrupt(_) => ("INTERNAL_ERROR", 5000),
                };
                // A chunk of its own, like every other: the header set, then the error tags (so a
                // reader that parses each chunk as a Matroska document can read them).
                let id = id.to_string();
                let mut chunk = header.to_vec();
                chunk.extend_from_slice(&tags(&[(tag_names::ERROR_CODE, code), (tag_names::ERROR_ID, &id)]));
                self.send(Bytes::from(chunk)).await?;
                return Err(Stop::Store);
            }
        };
        let now = self.playback.clock.now_millis();
        let behind = (now - f.server_ts_ms).max(0).to_string();
        let mut prefix = Vec::with_capacity(header.len() + 256);
        prefix.extend_from_slice(&header);
        prefix.extend_from_slice(&tags(&[
            (tag_names::FRAGMENT_NUMBER, f.number.as_str()),
            (tag_names::SERVER_TIMESTAMP, &seconds_text(f.server_ts_ms)),
            (tag_names::PRODUCER_TIMESTAMP, &seconds_text(f.producer_ts_ms)),
        ]));
        self.send(Bytes::from(prefix)).await?;
        self.send(cluster).await?;
        self.send(tags(&[
            (tag_names::MILLIS_BEHIND_NOW, &behind),
            (tag_names::CONTINUATION_TOKEN, f.number.as_str()),
        ]))
        .await?;
        if let Some(m) = &self.metrics {
            m.fragment_sent(now - f.server_ts_ms);
        }
        self.last = Some(f.number.clone());
        Ok(())
    }
}
