//! The references aggregate (retention bookkeeping): fragment rows as pointers at stored bytes —
//! their commit, their removal (expiry, stream deletion and the `deleted_streams` record), and what
//! crash recovery and reclaim ask of them. Only `archive` calls it: each of these is a step of the
//! durability rule's order (see `archive`).

use async_trait::async_trait;

use super::fragments::fragment_list_columns;
use super::postgres::PostgresIndex;
use super::sqlite::SqliteIndex;
use super::{Dialect, IndexError, referent_gone};
use crate::model::{FragmentNumber, FragmentRecord, VersionToken};

/// What the group commit did with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowCommit {
    /// The row is in.
    Inserted,
    /// Its stream (or header set) no longer exists: not inserted.
    StreamGone,
    /// The stream already has a fragment with this producer timestamp (a producer resent it):
    /// not inserted; that fragment's number.
    Duplicate(FragmentNumber),
    /// Its writer epoch is not the stream's current one (cluster mode: another node claimed the
    /// stream since); nothing was written for it.
    Fenced,
}

/// The last byte the index references in a stream's newest referenced segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentEnd {
    /// The stream's index id.
    pub stream_id: i64,
    /// The highest segment number any of its rows references.
    pub segment: i64,
    /// `max(byte_offset + byte_length)` over the rows in that segment.
    pub end: u64,
}

/// Fragment rows as references to stored bytes.
#[async_trait]
pub trait ReferenceIndex: Send + Sync {
    /// Inserts fragment rows in one transaction (the group commit). Returns, per row, what became
    /// of it: inserted, refused because its stream no longer exists, or not inserted because the
    /// stream already holds a fragment with the same producer timestamp (the unique
    /// `fragments_producer_ts_key`; design/0022-producer-failover.md). The call returns only after
    /// commit.
    async fn insert_fragments(&self, rows: &[FragmentRecord]) -> Result<Vec<RowCommit>, IndexError>;

    /// As [`ReferenceIndex::insert_fragments`], each row under a writer epoch (`fences[i]`, or
    /// `None` on a single node): in the same transaction, a row whose epoch is not its stream's
    /// current `stream_writers` epoch is refused ([`RowCommit::Fenced`]). The epoch row is read
    /// with a share lock, so a claim that raises it waits for this commit, and this commit, if it
    /// comes second, sees the raised epoch (design/0020-cluster.md, "Fencing").
    async fn insert_fragments_fenced(
        &self,
        rows: &[FragmentRecord],
        fences: &[Option<i64>],
    ) -> Result<Vec<RowCommit>, IndexError>;

    /// Deletes the stream row and everything that references it, if the version matches (`None`:
    /// any version), and records its id in the deleted-streams list
    /// ([`ReferenceIndex::deleted_stream_ids`]) in the same transaction. `VersionMismatch` or
    /// `NotFound` otherwise.
    async fn delete_stream(&self, id: i64, expected: Option<&VersionToken>) -> Result<(), IndexError>;

    /// Ids of streams [`ReferenceIndex::delete_stream`] removed: their stored bytes, if any are
    /// left, may be removed.
    async fn deleted_stream_ids(&self) -> Result<Vec<i64>, IndexError>;

    /// For every stream with fragments, the highest store segment its rows reference and the end
    /// (offset + length) of the last referenced byte in it: what crash recovery at startup trims
    /// each stream's segments back to (design/0006-crash-safety.md). It must see every fragment
    /// row that can still commit: Postgres first waits out in-flight fragment transactions, which a
    /// killed previous process may have left committing.
    async fn segment_high_water(&self) -> Result<Vec<SegmentEnd>, IndexError>;

    /// Deletes at most `limit` of the stream's fragment rows whose server timestamp is before
    /// `before_ms` (the oldest first), in one transaction; returns how many went. Retention calls
    /// it until it returns less than `limit` (design/0010-retention.md).
    async fn delete_fragments_before(
        &self,
        stream_id: i64,
        before_ms: i64,
        limit: u32,
    ) -> Result<u64, IndexError>;

    /// The lowest store segment any of the stream's rows references (`None`: it has no rows).
    /// Segments numbered below it hold no referenced byte. Uses the (stream, segment) index.
    async fn lowest_referenced_segment(&self, stream_id: i64) -> Result<Option<i64>, IndexError>;
}

/// The high water of every stream: the end of the last referenced byte in its highest referenced
/// segment.
const SEGMENT_HIGH_WATER_SQL: &str = "SELECT f.stream_id, f.segment, MAX(f.byte_offset + f.byte_length) \
     FROM fragments f \
     JOIN (SELECT stream_id, MAX(segment) AS seg FROM fragments GROUP BY stream_id) m \
       ON f.stream_id = m.stream_id AND f.segment = m.seg \
     GROUP BY f.stream_id, f.segment";

/// Rows per multi-row fragment insert, largest first: a batch is cut greedily into these. (sqlx
/// looks up every parameter's name, linear in the statement's parameters in SQLite: ~1 % of the
/// server's CPU at 64 rows × 18 parameters, less than the round trips larger chunks save.)
const INSERT_CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// Columns of one fragment row, in bind order.
const FRAGMENT_INSERT_COLUMNS: &str = "stream_id, fragment_number, cluster_timecode, producer_ts_ms, \
     server_ts_ms, duration_ms, size_bytes, header_id, segment, byte_offset, byte_length, key_frame, tracks, \
     frame_count, metadata, key_version, tier, writer_epoch";

/// The insert of `rows` rows (one of [`INSERT_CHUNKS`]), built once.
fn insert_fragments_sql(rows: usize) -> &'static str {
    static SQL: std::sync::LazyLock<Vec<(usize, String)>> = std::sync::LazyLock::new(|| {
        INSERT_CHUNKS.iter().map(|&n| (n, build_insert_fragments_sql(n))).collect()
    });
    SQL.iter().find(|(n, _)| *n == rows).map(|(_, sql)| sql.as_str()).expect("rows is one of INSERT_CHUNKS")
}

/// The insert of `rows` fragment rows (18 parameters each, `$1`-numbered for both dialects): a row
/// whose stream or header set no longer exists is skipped; the inserted rows' keys come back.
fn build_insert_fragments_sql(rows: usize) -> String {
    const COLUMNS: usize = 18;
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=COLUMNS).map(|c| format!("${}", r * COLUMNS + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!(
        "WITH v ({FRAGMENT_INSERT_COLUMNS}) AS (VALUES {}) \
         INSERT INTO fragments ({FRAGMENT_INSERT_COLUMNS}) SELECT {FRAGMENT_INSERT_COLUMNS} FROM v \
         WHERE EXISTS (SELECT 1 FROM streams WHERE id = v.stream_id) \
         AND EXISTS (SELECT 1 FROM track_headers WHERE id = v.header_id) \
         ON CONFLICT (stream_id, producer_ts_ms) DO NOTHING \
         RETURNING stream_id, fragment_number",
        values.join(", ")
    )
}

macro_rules! reference_queries {
    ($backend:ident) => {
        impl $backend {
            /// One transaction inserting `rows` (rows whose stream or header set is gone are
            /// skipped); a foreign-key refusal (the stream deleted while the batch ran) is
            /// `NotFound`; a row whose producer timestamp the stream
            /// already has is skipped too (a resend: [`RowCommit::Duplicate`]). Rows go in multi-row statements of [`INSERT_CHUNKS`] rows (a handful of
            /// round trips per batch instead of one per row; a few fixed statement texts, so
            /// every one stays prepared).
            async fn insert_fragment_batch(
                &self,
                rows: &[FragmentRecord],
                fences: &[Option<i64>],
            ) -> Result<Vec<RowCommit>, IndexError> {
                let mut tx = self.pool.begin().await?;
                if let Some(fence) = <Self as Dialect>::FRAGMENT_WRITER_FENCE {
                    sqlx::query(fence).execute(&mut *tx).await?;
                }
                // Fencing: the (stream, epoch) pairs that are not their stream's current writer
                // epoch, read under a share lock on each stream's epoch row.
                let mut pairs: Vec<(i64, i64)> =
                    rows.iter().zip(fences).filter_map(|(r, f)| f.map(|e| (r.stream_id, e))).collect();
                pairs.sort_unstable();
                pairs.dedup();
                let mut stale = Vec::new();
                for (stream_id, epoch) in pairs {
                    let current: Option<i64> = sqlx::query_scalar(<Self as Dialect>::SHARE_WRITER_EPOCH)
                        .bind(stream_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if current != Some(epoch) {
                        stale.push((stream_id, epoch));
                    }
                }
                let epoch_of = |i: usize| fences.get(i).copied().flatten();
                let is_fenced = |i: usize, f: &FragmentRecord| epoch_of(i).is_some_and(|e| stale.contains(&(f.stream_id, e)));
                let writable: Vec<(usize, &FragmentRecord)> =
                    rows.iter().enumerate().filter(|&(i, f)| !is_fenced(i, f)).collect();
                let mut inserted = std::collections::HashSet::with_capacity(rows.len());
                let mut rest = writable.as_slice();
                while !rest.is_empty() {
                    let size = INSERT_CHUNKS.iter().copied().find(|&c| c <= rest.len()).unwrap_or(1);
                    let (chunk, tail) = rest.split_at(size);
                    rest = tail;
                    let mut q = sqlx::query_as::<_, (i64, String)>(insert_fragments_sql(size));
                    for &(i, f) in chunk {
                        let (tracks, metadata) = fragment_list_columns(f);
                        q = q
                            .bind(f.stream_id)
                            .bind(f.number.as_str())
                            .bind(f.cluster_timecode)
                            .bind(f.producer_ts_ms)
                            .bind(f.server_ts_ms)
                            .bind(f.duration_ms)
                            .bind(f.size_bytes)
                            .bind(f.header_id)
                            .bind(f.location.segment)
                            .bind(f.location.offset as i64)
                            .bind(f.location.length as i64)
                            .bind(f.key_frame)
                            .bind(tracks)
                            .bind(f.frame_count)
                            .bind(metadata)
                            .bind(i64::from(f.key_version))
                            .bind(f.location.tier.as_str())
                            .bind(epoch_of(i));
                    }
                    for key in q.fetch_all(&mut *tx).await.map_err(referent_gone)? {
                        inserted.insert(key);
                    }
                }
                let mut done = Vec::with_capacity(rows.len());
                for (i, f) in rows.iter().enumerate() {
                    if is_fenced(i, f) {
                        done.push(RowCommit::Fenced);
                    } else if inserted.contains(&(f.stream_id, f.number.as_str().to_owned())) {
                        done.push(RowCommit::Inserted);
                    } else {
                        // Not inserted: a resent fragment (the stream has this producer
                        // timestamp), or its stream is gone.
                        let existing: Option<String> = sqlx::query_scalar(
                            "SELECT fragment_number FROM fragments WHERE stream_id = $1 AND producer_ts_ms = $2",
                        )
                        .bind(f.stream_id)
                        .bind(f.producer_ts_ms)
                        .fetch_optional(&mut *tx)
                        .await?;
                        done.push(match existing.as_deref().and_then(FragmentNumber::parse) {
                            Some(number) => RowCommit::Duplicate(number),
                            None => RowCommit::StreamGone,
                        });
                    }
                }
                tx.commit().await?;
                Ok(done)
            }
        }

        #[async_trait]
        impl ReferenceIndex for $backend {
            async fn insert_fragments(&self, rows: &[FragmentRecord]) -> Result<Vec<RowCommit>, IndexError> {
                self.insert_fragments_fenced(rows, &[]).await
            }

            async fn insert_fragments_fenced(
                &self,
                rows: &[FragmentRecord],
                fences: &[Option<i64>],
            ) -> Result<Vec<RowCommit>, IndexError> {
                match self.insert_fragment_batch(rows, fences).await {
                    // A stream deleted between a row's existence check and its insert (Postgres)
                    // fails the whole batch; redo the rows one by one so only that stream's are
                    // refused. Any other failure fails the batch.
                    Err(IndexError::NotFound) => {
                        let mut out = Vec::with_capacity(rows.len());
                        for (i, row) in rows.iter().enumerate() {
                            let fence = [fences.get(i).copied().flatten()];
                            match self.insert_fragment_batch(std::slice::from_ref(row), &fence).await {
                                Ok(one) => out.extend(one),
                                Err(IndexError::NotFound) => out.push(RowCommit::StreamGone),
                                Err(e) => return Err(e),
                            }
                        }
                        Ok(out)
                    }
                    other => other,
                }
            }

            async fn delete_stream(&self, id: i64, expected: Option<&VersionToken>) -> Result<(), IndexError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "DELETE FROM streams WHERE id = $1 AND (CAST($2 AS TEXT) IS NULL OR version = $2)",
                )
                .bind(id)
                .bind(expected.map(|v| v.as_str()))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    self.fetch_stream(id).await?;
                    return Err(IndexError::VersionMismatch);
                }
                sqlx::query("INSERT INTO deleted_streams (stream_id) VALUES ($1) ON CONFLICT (stream_id) DO NOTHING")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn deleted_stream_ids(&self) -> Result<Vec<i64>, IndexError> {
                Ok(sqlx::query_scalar("SELECT stream_id FROM deleted_streams ORDER BY stream_id")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn segment_high_water(&self) -> Result<Vec<SegmentEnd>, IndexError> {
                let mut tx = self.pool.begin().await?;
                if let Some(barrier) = <Self as Dialect>::FRAGMENT_WRITER_BARRIER {
                    sqlx::query(barrier).execute(&mut *tx).await?;
                }
                let rows: Vec<(i64, i64, i64)> = sqlx::query_as(SEGMENT_HIGH_WATER_SQL).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                Ok(rows
                    .into_iter()
                    .map(|(stream_id, segment, end)| SegmentEnd { stream_id, segment, end: end.max(0) as u64 })
                    .collect())
            }

            async fn delete_fragments_before(
                &self,
                stream_id: i64,
                before_ms: i64,
                limit: u32,
            ) -> Result<u64, IndexError> {
                let done = sqlx::query(
                    "DELETE FROM fragments WHERE stream_id = $1 AND fragment_number IN (SELECT fragment_number \
                     FROM fragments WHERE stream_id = $1 AND server_ts_ms < $2 ORDER BY server_ts_ms LIMIT $3)",
                )
                .bind(stream_id)
                .bind(before_ms)
                .bind(i64::from(limit))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn lowest_referenced_segment(&self, stream_id: i64) -> Result<Option<i64>, IndexError> {
                Ok(sqlx::query_scalar("SELECT MIN(segment) FROM fragments WHERE stream_id = $1")
                    .bind(stream_id)
                    .fetch_one(&self.pool)
                    .await?)
            }
        }
    };
}

reference_queries!(SqliteIndex);
reference_queries!(PostgresIndex);
