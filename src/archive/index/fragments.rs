//! The fragments aggregate, read side: listing and locating fragment rows, and the Matroska header
//! sets (`track_headers`) fragments are sent under. Committing and deleting rows, which point at
//! stored bytes, is [`super::ReferenceIndex`]'s.

use async_trait::async_trait;

use super::postgres::PostgresIndex;
use super::sqlite::SqliteIndex;
use super::{Dialect, IndexError};
use crate::model::{FragmentLocation, FragmentNumber, FragmentRecord, StorageTier};

/// Which of a fragment's timestamps a query is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampKind {
    /// Arrival time at the server.
    Server,
    /// The producer's timestamp.
    Producer,
}

/// How far before a position [`FragmentIndex::fragment_at`] looks for a fragment that still covers
/// it (longer than any fragment the ingest limits allow).
pub const LONGEST_FRAGMENT_MS: i64 = 120_000;

/// Fragment rows (reads) and header sets.
#[async_trait]
pub trait FragmentIndex: Send + Sync {
    /// Stores a Matroska header set once per (stream, content) and returns its id; `NotFound` if
    /// the stream is gone.
    async fn put_track_header(
        &self,
        stream_id: i64,
        sha256: &str,
        bytes: &[u8],
        now_ms: i64,
    ) -> Result<i64, IndexError>;

    /// The bytes of a header set of this stream (`NotFound` if the id is another stream's).
    async fn track_header(&self, stream_id: i64, id: i64) -> Result<Vec<u8>, IndexError>;

    /// The highest fragment number of a stream, if it has any fragment.
    async fn last_fragment_number(&self, stream_id: i64) -> Result<Option<FragmentNumber>, IndexError>;

    /// One fragment by number.
    async fn fragment(&self, stream_id: i64, number: &FragmentNumber) -> Result<FragmentRecord, IndexError>;

    /// Fragments whose `kind` timestamp lies in `start_ms..=end_ms`, ordered by (that timestamp,
    /// number), after the keyset position `after` = (timestamp, number), at most `limit`. Uses the
    /// (stream, timestamp) indexes: no scan of the stream.
    async fn fragments_in_range(
        &self,
        stream_id: i64,
        kind: TimestampKind,
        start_ms: i64,
        end_ms: i64,
        after: Option<(i64, &FragmentNumber)>,
        limit: u32,
    ) -> Result<Vec<FragmentRecord>, IndexError>;

    /// The newest fragments (by `kind` timestamp, then number) whose timestamp is at least
    /// `since_ms`, newest first, at most `limit` (HLS/DASH LIVE windows). Uses the
    /// (stream, timestamp) indexes backwards. With `since_ms = i64::MIN` and `limit = 1` it is the
    /// stream's newest fragment (what analysis workers measure their lag against).
    async fn latest_fragments(
        &self,
        stream_id: i64,
        kind: TimestampKind,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<FragmentRecord>, IndexError>;

    /// How many fragments sort at or after `since` and before `before`, both (`kind` timestamp,
    /// fragment number) keyset positions (an empty number means "from the start of that
    /// millisecond"): a fragment's position in a session (HLS MEDIA-SEQUENCE).
    async fn count_fragments_before(
        &self,
        stream_id: i64,
        kind: TimestampKind,
        since: (i64, &str),
        before: (i64, &FragmentNumber),
    ) -> Result<u64, IndexError>;

    /// The first fragment (by `kind` timestamp) that contains `ts_ms` or starts after it.
    async fn fragment_at(
        &self,
        stream_id: i64,
        kind: TimestampKind,
        ts_ms: i64,
    ) -> Result<Option<FragmentRecord>, IndexError>;

    /// Every fragment of a stream in ingest order, at most `limit`, after `after` if given.
    async fn fragments_after(
        &self,
        stream_id: i64,
        after: Option<&FragmentNumber>,
        limit: u32,
    ) -> Result<Vec<FragmentRecord>, IndexError>;
}

/// A `fragments` row.
#[derive(Debug, sqlx::FromRow)]
struct FragmentRow {
    stream_id: i64,
    fragment_number: String,
    cluster_timecode: i64,
    producer_ts_ms: i64,
    server_ts_ms: i64,
    duration_ms: i64,
    size_bytes: i64,
    header_id: i64,
    segment: i64,
    byte_offset: i64,
    byte_length: i64,
    key_frame: bool,
    tracks: String,
    frame_count: i64,
    metadata: String,
    key_version: i64,
    tier: String,
}

impl TryFrom<FragmentRow> for FragmentRecord {
    type Error = IndexError;

    fn try_from(r: FragmentRow) -> Result<Self, IndexError> {
        let corrupt =
            |what: &str| IndexError::Other(format!("corrupt fragment row {}: {what}", r.fragment_number));
        let tracks = if r.tracks.is_empty() {
            Vec::new()
        } else {
            r.tracks
                .split(',')
                .map(|t| t.parse::<u64>().map_err(|_| corrupt("tracks")))
                .collect::<Result<_, _>>()?
        };
        let metadata: Vec<(String, String)> =
            serde_json::from_str(&r.metadata).map_err(|_| corrupt("metadata"))?;
        Ok(FragmentRecord {
            stream_id: r.stream_id,
            number: FragmentNumber::parse(&r.fragment_number).ok_or_else(|| corrupt("number"))?,
            cluster_timecode: r.cluster_timecode,
            producer_ts_ms: r.producer_ts_ms,
            server_ts_ms: r.server_ts_ms,
            duration_ms: r.duration_ms,
            size_bytes: r.size_bytes,
            header_id: r.header_id,
            location: FragmentLocation {
                segment: r.segment,
                offset: u64::try_from(r.byte_offset).map_err(|_| corrupt("offset"))?,
                length: u64::try_from(r.byte_length).map_err(|_| corrupt("length"))?,
                tier: StorageTier::parse(&r.tier).ok_or_else(|| corrupt("tier"))?,
            },
            key_version: u32::try_from(r.key_version).map_err(|_| corrupt("key version"))?,
            key_frame: r.key_frame,
            tracks,
            frame_count: r.frame_count,
            metadata,
        })
    }
}

/// The text forms of a record's list columns: (tracks, metadata JSON).
pub(super) fn fragment_list_columns(f: &FragmentRecord) -> (String, String) {
    let tracks = f.tracks.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let metadata = serde_json::to_string(&f.metadata).unwrap_or_else(|_| "[]".to_owned());
    (tracks, metadata)
}

/// `SELECT` of the `fragments` columns [`FragmentRow`] reads, as a literal for `concat!`.
macro_rules! select_fragments {
    () => {
        "SELECT stream_id, fragment_number, cluster_timecode, producer_ts_ms, server_ts_ms, duration_ms, \
         size_bytes, header_id, segment, byte_offset, byte_length, key_frame, tracks, frame_count, metadata, \
         key_version, tier FROM fragments"
    };
}

/// The statement `$sql!` builds for the timestamp column `kind` names: one literal per kind.
macro_rules! by_kind {
    ($kind:expr, $sql:ident) => {
        match $kind {
            TimestampKind::Server => $sql!("server_ts_ms"),
            TimestampKind::Producer => $sql!("producer_ts_ms"),
        }
    };
}

macro_rules! in_range {
    ($ts:literal) => {
        concat!(
            select_fragments!(),
            " WHERE stream_id = $1 AND ",
            $ts,
            " BETWEEN $2 AND $3 \
             AND (CAST($4 AS BIGINT) IS NULL OR (",
            $ts,
            ", fragment_number) > (CAST($4 AS BIGINT), CAST($5 AS TEXT))) \
             ORDER BY ",
            $ts,
            ", fragment_number LIMIT $6"
        )
    };
}

macro_rules! latest {
    ($ts:literal) => {
        concat!(
            select_fragments!(),
            " WHERE stream_id = $1 AND ",
            $ts,
            " >= $2 ORDER BY ",
            $ts,
            " DESC, fragment_number DESC LIMIT $3"
        )
    };
}

macro_rules! count_before {
    ($ts:literal) => {
        concat!(
            "SELECT COUNT(*) FROM fragments WHERE stream_id = $1 \
             AND (",
            $ts,
            ", fragment_number) >= ($2, CAST($5 AS TEXT)) \
             AND (",
            $ts,
            ", fragment_number) < ($3, CAST($4 AS TEXT))"
        )
    };
}

macro_rules! covering {
    ($ts:literal) => {
        concat!(
            select_fragments!(),
            " WHERE stream_id = $1 AND ",
            $ts,
            " >= $2 - $3 AND ",
            $ts,
            " + duration_ms > $2 \
             ORDER BY ",
            $ts,
            ", fragment_number LIMIT 1"
        )
    };
}

macro_rules! fragment_queries {
    ($backend:ident) => {
        #[async_trait]
        impl FragmentIndex for $backend {
            async fn put_track_header(
                &self,
                stream_id: i64,
                sha256: &str,
                bytes: &[u8],
                now_ms: i64,
            ) -> Result<i64, IndexError> {
                let mut tx = self.pool.begin().await?;
                // Holds the stream against deletion until commit.
                let live: Option<i64> = sqlx::query_scalar(<Self as Dialect>::SHARE_STREAM)
                    .bind(stream_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if live.is_none() {
                    return Err(IndexError::NotFound);
                }
                sqlx::query(
                    "INSERT INTO track_headers (stream_id, sha256, bytes, created_at_ms) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (stream_id, sha256) DO NOTHING",
                )
                .bind(stream_id)
                .bind(sha256)
                .bind(bytes)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                let id: i64 =
                    sqlx::query_scalar("SELECT id FROM track_headers WHERE stream_id = $1 AND sha256 = $2")
                        .bind(stream_id)
                        .bind(sha256)
                        .fetch_one(&mut *tx)
                        .await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn track_header(&self, stream_id: i64, id: i64) -> Result<Vec<u8>, IndexError> {
                Ok(sqlx::query_scalar("SELECT bytes FROM track_headers WHERE id = $1 AND stream_id = $2")
                    .bind(id)
                    .bind(stream_id)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn last_fragment_number(&self, stream_id: i64) -> Result<Option<FragmentNumber>, IndexError> {
                let n: Option<String> =
                    sqlx::query_scalar("SELECT MAX(fragment_number) FROM fragments WHERE stream_id = $1")
                        .bind(stream_id)
                        .fetch_one(&self.pool)
                        .await?;
                Ok(n.as_deref().and_then(FragmentNumber::parse))
            }

            async fn fragment(&self, stream_id: i64, number: &FragmentNumber) -> Result<FragmentRecord, IndexError> {
                let row: FragmentRow =
                    sqlx::query_as(concat!(select_fragments!(), " WHERE stream_id = $1 AND fragment_number = $2"))
                        .bind(stream_id)
                        .bind(number.as_str())
                        .fetch_one(&self.pool)
                        .await?;
                row.try_into()
            }

            async fn fragments_in_range(
                &self,
                stream_id: i64,
                kind: TimestampKind,
                start_ms: i64,
                end_ms: i64,
                after: Option<(i64, &FragmentNumber)>,
                limit: u32,
            ) -> Result<Vec<FragmentRecord>, IndexError> {
                let rows: Vec<FragmentRow> = sqlx::query_as(by_kind!(kind, in_range))
                    .bind(stream_id)
                    .bind(start_ms)
                    .bind(end_ms)
                    .bind(after.map(|(ts, _)| ts))
                    .bind(after.map(|(_, n)| n.as_str()))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(FragmentRecord::try_from).collect()
            }

            async fn latest_fragments(
                &self,
                stream_id: i64,
                kind: TimestampKind,
                since_ms: i64,
                limit: u32,
            ) -> Result<Vec<FragmentRecord>, IndexError> {
                let rows: Vec<FragmentRow> = sqlx::query_as(by_kind!(kind, latest))
                    .bind(stream_id)
                    .bind(since_ms)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(FragmentRecord::try_from).collect()
            }

            async fn count_fragments_before(
                &self,
                stream_id: i64,
                kind: TimestampKind,
                since: (i64, &str),
                before: (i64, &FragmentNumber),
            ) -> Result<u64, IndexError> {
                let n: i64 = sqlx::query_scalar(by_kind!(kind, count_before))
                    .bind(stream_id)
                    .bind(since.0)
                    .bind(before.0)
                    .bind(before.1.as_str())
                    .bind(since.1)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn fragment_at(
                &self,
                stream_id: i64,
                kind: TimestampKind,
                ts_ms: i64,
            ) -> Result<Option<FragmentRecord>, IndexError> {
                let row: Option<FragmentRow> = sqlx::query_as(by_kind!(kind, covering))
                    .bind(stream_id)
                    .bind(ts_ms)
                    .bind(LONGEST_FRAGMENT_MS)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(FragmentRecord::try_from).transpose()
            }

            async fn fragments_after(
                &self,
                stream_id: i64,
                after: Option<&FragmentNumber>,
                limit: u32,
            ) -> Result<Vec<FragmentRecord>, IndexError> {
                let rows: Vec<FragmentRow> = sqlx::query_as(concat!(
                    select_fragments!(),
                    " WHERE stream_id = $1 AND (CAST($2 AS TEXT) IS NULL OR fragment_number > $2) \
                     ORDER BY fragment_number LIMIT $3"
                ))
                .bind(stream_id)
                .bind(after.map(FragmentNumber::as_str))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(FragmentRecord::try_from).collect()
            }
        }
    };
}

fragment_queries!(SqliteIndex);
fragment_queries!(PostgresIndex);
