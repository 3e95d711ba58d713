//! The Postgres index (production): a connection pool to the database `--database-url` names.
//!
//! Migrations in `migrations/postgres` run at connect. Postgres commits are durable when they return
//! (`synchronous_commit` as the operator configured it; the default `on` is what the PERSISTED
//! acknowledgement relies on). SQL here is Postgres dialect only; the SQLite twin is `sqlite.rs`.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};

use super::{
    AnalyzerEventRow, ChannelChanges, ChannelPage, ChannelRow, FragmentRow, ImageGenerationConfigRow, Index,
    IndexError, LONGEST_FRAGMENT_MS, NewChannel, NewStream, NotificationConfigRow, StreamChanges, StreamPage,
    StreamRow, TimestampKind, fragment_list_columns, image_generation_numbers, worker_cursor_from_row,
};
use crate::model::{
    AnalyzerEvent, FragmentNumber, FragmentRecord, ImageGenerationConfig, NewAnalyzerEvent,
    NotificationConfig, Region, ResourceArn, SignalingChannel, Stream, StreamName, TagSet, VersionToken,
    WorkerCursor,
};

/// Advisory lock key ("okvsfrag") fencing fragment inserts against startup recovery: inserts hold
/// it shared, [`Index::segment_high_water`] exclusively (design/0006-crash-safety.md).
const FRAGMENT_WRITER_LOCK: i64 = 0x6f6b_7673_6672_6167;

/// The `fragments` columns [`FragmentRow`] reads, as a literal for `concat!`.
macro_rules! fragment_columns {
    () => {
        "stream_id, fragment_number, cluster_timecode, producer_ts_ms, server_ts_ms, duration_ms, size_bytes, \
         header_id, segment, byte_offset, byte_length, key_frame, tracks, frame_count, metadata"
    };
}

/// The `streams` columns [`StreamRow`] reads, as a literal for `concat!`.
macro_rules! stream_columns {
    () => {
        "id, arn, device_name, media_type, kms_key_id, retention_hours, version, status, storage_tier, created_at_ms"
    };
}

/// The `signaling_channels` columns [`ChannelRow`] reads, as a literal for `concat!`.
macro_rules! channel_columns {
    () => {
        "id, arn, channel_type, status, message_ttl_seconds, version, created_at_ms"
    };
}

/// The Postgres implementation of [`Index`].
#[derive(Debug, Clone)]
pub struct PostgresIndex {
    pub(super) pool: PgPool,
}

impl PostgresIndex {
    /// Connects to `url` and runs migrations.
    pub async fn connect(url: &str) -> Result<Self, IndexError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    async fn insert_fragment_batch(&self, rows: &[FragmentRecord]) -> Result<Vec<bool>, IndexError> {
        let mut tx = self.pool.begin().await?;
        // Fence for crash recovery (see `segment_high_water`): hold the shared side of the
        // fragment-writer lock before any row is sent. The timeout bounds how long a transaction
        // whose client vanished (host lost) can keep the next server's recovery waiting.
        sqlx::query("SELECT pg_advisory_xact_lock_shared($1), set_config('idle_in_transaction_session_timeout', '60000', true)")
            .bind(FRAGMENT_WRITER_LOCK)
            .execute(&mut *tx)
            .await?;
        let mut inserted = Vec::with_capacity(rows.len());
        for f in rows {
            let (tracks, metadata) = fragment_list_columns(f);
            let done = sqlx::query(
                "INSERT INTO fragments (stream_id, fragment_number, cluster_timecode, producer_ts_ms, server_ts_ms, \
                 duration_ms, size_bytes, header_id, segment, byte_offset, byte_length, key_frame, tracks, \
                 frame_count, metadata) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 \
                 WHERE EXISTS (SELECT 1 FROM streams WHERE id = $1) \
                 AND EXISTS (SELECT 1 FROM track_headers WHERE id = $8)",
            )
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
            .execute(&mut *tx)
            .await?;
            inserted.push(done.rows_affected() == 1);
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn fetch_stream(&self, id: i64) -> Result<Stream, IndexError> {
        let row: StreamRow =
            sqlx::query_as(concat!("SELECT ", stream_columns!(), " FROM streams WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        row.try_into()
    }

    async fn fetch_channel(&self, id: i64) -> Result<SignalingChannel, IndexError> {
        let row: ChannelRow =
            sqlx::query_as(concat!("SELECT ", channel_columns!(), " FROM signaling_channels WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        row.try_into()
    }
}

/// Maps a write refused by a `REFERENCES streams` foreign key (the stream is gone) to `NotFound`.
fn stream_gone(e: sqlx::Error) -> IndexError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => IndexError::NotFound,
        other => other.into(),
    }
}

#[async_trait]
impl Index for PostgresIndex {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn create_stream(&self, new: NewStream) -> Result<Stream, IndexError> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO streams (region, name, arn, device_name, media_type, kms_key_id, retention_hours, \
             version, status, storage_tier, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'ACTIVE', $9, $10) RETURNING id",
        )
        .bind(new.arn.region.as_str())
        .bind(new.arn.name.as_str())
        .bind(new.arn.to_string())
        .bind(&new.device_name)
        .bind(&new.media_type)
        .bind(&new.kms_key_id)
        .bind(i64::from(new.retention.hours()))
        .bind(new.version.as_str())
        .bind(new.storage_tier.as_str())
        .bind(new.arn.creation_millis)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if !new.tags.is_empty() {
            let (keys, values): (Vec<String>, Vec<String>) = new.tags.0.into_iter().unzip();
            sqlx::query("INSERT INTO stream_tags (stream_id, key, value) SELECT $1, * FROM UNNEST($2::text[], $3::text[])")
                .bind(id)
                .bind(keys)
                .bind(values)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.fetch_stream(id).await
    }

    async fn stream_by_name(&self, region: &Region, name: &StreamName) -> Result<Stream, IndexError> {
        let row: StreamRow = sqlx::query_as(concat!(
            "SELECT ",
            stream_columns!(),
            " FROM streams WHERE region = $1 AND name = $2"
        ))
        .bind(region.as_str())
        .bind(name.as_str())
        .fetch_one(&self.pool)
        .await?;
        row.try_into()
    }

    async fn stream_by_arn(&self, arn: &ResourceArn) -> Result<Stream, IndexError> {
        let row: StreamRow =
            sqlx::query_as(concat!("SELECT ", stream_columns!(), " FROM streams WHERE arn = $1"))
                .bind(arn.to_string())
                .fetch_one(&self.pool)
                .await?;
        row.try_into()
    }

    async fn stream_by_id(&self, id: i64) -> Result<Stream, IndexError> {
        self.fetch_stream(id).await
    }

    async fn stream_ids(&self) -> Result<Vec<i64>, IndexError> {
        Ok(sqlx::query_scalar("SELECT id FROM streams ORDER BY id").fetch_all(&self.pool).await?)
    }

    async fn list_streams(
        &self,
        region: &Region,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<StreamPage, IndexError> {
        let rows: Vec<StreamRow> = sqlx::query_as(concat!(
            "SELECT ",
            stream_columns!(),
            " FROM streams WHERE region = $1 \
             AND ($2::text IS NULL OR starts_with(name, $2)) \
             AND ($3::text IS NULL OR name > $3) ORDER BY name LIMIT $4"
        ))
        .bind(region.as_str())
        .bind(prefix)
        .bind(after)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let more = rows.len() > limit as usize;
        let streams =
            rows.into_iter().take(limit as usize).map(Stream::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(StreamPage { streams, more })
    }

    async fn update_stream(
        &self,
        id: i64,
        expected: Option<&VersionToken>,
        changes: &StreamChanges,
        new_version: &VersionToken,
    ) -> Result<Stream, IndexError> {
        let done = sqlx::query(
            "UPDATE streams SET device_name = COALESCE($1, device_name), media_type = COALESCE($2, media_type), \
             retention_hours = COALESCE($3, retention_hours), storage_tier = COALESCE($4, storage_tier), \
             version = $5 WHERE id = $6 AND ($7::text IS NULL OR version = $7)",
        )
        .bind(&changes.device_name)
        .bind(&changes.media_type)
        .bind(changes.retention.map(|r| i64::from(r.hours())))
        .bind(changes.storage_tier.map(|t| t.as_str()))
        .bind(new_version.as_str())
        .bind(id)
        .bind(expected.map(|v| v.as_str()))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            self.fetch_stream(id).await?;
            return Err(IndexError::VersionMismatch);
        }
        self.fetch_stream(id).await
    }

    async fn fill_media_type(&self, id: i64, media_type: &str) -> Result<bool, IndexError> {
        let done = sqlx::query("UPDATE streams SET media_type = $1 WHERE id = $2 AND media_type IS NULL")
            .bind(media_type)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            self.fetch_stream(id).await?;
            return Ok(false);
        }
        Ok(true)
    }

    async fn delete_stream(&self, id: i64, expected: Option<&VersionToken>) -> Result<(), IndexError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM streams WHERE id = $1 AND ($2::text IS NULL OR version = $2)")
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

    async fn tag_stream(&self, id: i64, tags: &TagSet) -> Result<(), IndexError> {
        let mut tx = self.pool.begin().await?;
        // Serialise concurrent taggers of one stream so the count check below is exact.
        sqlx::query("SELECT id FROM streams WHERE id = $1 FOR UPDATE").bind(id).fetch_one(&mut *tx).await?;
        let (keys, values): (Vec<String>, Vec<String>) =
            tags.0.iter().map(|(k, v)| (k.clone(), v.clone())).unzip();
        sqlx::query(
            "INSERT INTO stream_tags (stream_id, key, value) SELECT $1, * FROM UNNEST($2::text[], $3::text[]) \
             ON CONFLICT (stream_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(id)
        .bind(keys)
        .bind(values)
        .execute(&mut *tx)
        .await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stream_tags WHERE stream_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if count as usize > TagSet::MAX {
            tx.rollback().await?;
            return Err(IndexError::TagLimitExceeded);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn untag_stream(&self, id: i64, keys: &[String]) -> Result<(), IndexError> {
        sqlx::query("DELETE FROM stream_tags WHERE stream_id = $1 AND key = ANY($2)")
            .bind(id)
            .bind(keys)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn stream_tags(&self, id: i64) -> Result<TagSet, IndexError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, value FROM stream_tags WHERE stream_id = $1 ORDER BY key COLLATE \"C\"",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(TagSet(rows.into_iter().collect()))
    }

    async fn create_channel(&self, new: NewChannel) -> Result<SignalingChannel, IndexError> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO signaling_channels (region, name, arn, channel_type, status, message_ttl_seconds, \
             version, created_at_ms) VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6, $7) RETURNING id",
        )
        .bind(new.arn.region.as_str())
        .bind(new.arn.name.as_str())
        .bind(new.arn.to_string())
        .bind(new.channel_type.as_str())
        .bind(i64::from(new.message_ttl_seconds))
        .bind(new.version.as_str())
        .bind(new.arn.creation_millis)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if !new.tags.is_empty() {
            let (keys, values): (Vec<String>, Vec<String>) = new.tags.0.into_iter().unzip();
            sqlx::query(
                "INSERT INTO signaling_channel_tags (channel_id, key, value) \
                 SELECT $1, * FROM UNNEST($2::text[], $3::text[])",
            )
            .bind(id)
            .bind(keys)
            .bind(values)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.fetch_channel(id).await
    }

    async fn channel_by_name(
        &self,
        region: &Region,
        name: &StreamName,
    ) -> Result<SignalingChannel, IndexError> {
        let row: ChannelRow = sqlx::query_as(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM signaling_channels WHERE region = $1 AND name = $2"
        ))
        .bind(region.as_str())
        .bind(name.as_str())
        .fetch_one(&self.pool)
        .await?;
        row.try_into()
    }

    async fn channel_by_arn(&self, arn: &ResourceArn) -> Result<SignalingChannel, IndexError> {
        let row: ChannelRow =
            sqlx::query_as(concat!("SELECT ", channel_columns!(), " FROM signaling_channels WHERE arn = $1"))
                .bind(arn.to_string())
                .fetch_one(&self.pool)
                .await?;
        row.try_into()
    }

    async fn channel_count(&self) -> Result<u64, IndexError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM signaling_channels").fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn list_channels(
        &self,
        region: &Region,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ChannelPage, IndexError> {
        let rows: Vec<ChannelRow> = sqlx::query_as(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM signaling_channels WHERE region = $1 \
             AND ($2::text IS NULL OR starts_with(name, $2)) \
             AND ($3::text IS NULL OR name > $3) ORDER BY name LIMIT $4"
        ))
        .bind(region.as_str())
        .bind(prefix)
        .bind(after)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let more = rows.len() > limit as usize;
        let channels = rows
            .into_iter()
            .take(limit as usize)
            .map(SignalingChannel::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ChannelPage { channels, more })
    }

    async fn update_channel(
        &self,
        id: i64,
        expected: Option<&VersionToken>,
        changes: &ChannelChanges,
        new_version: &VersionToken,
    ) -> Result<SignalingChannel, IndexError> {
        let done = sqlx::query(
            "UPDATE signaling_channels SET message_ttl_seconds = COALESCE($1, message_ttl_seconds), \
             version = $2 WHERE id = $3 AND ($4::text IS NULL OR version = $4)",
        )
        .bind(changes.message_ttl_seconds.map(i64::from))
        .bind(new_version.as_str())
        .bind(id)
        .bind(expected.map(|v| v.as_str()))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            self.fetch_channel(id).await?;
            return Err(IndexError::VersionMismatch);
        }
        self.fetch_channel(id).await
    }

    async fn delete_channel(&self, id: i64, expected: Option<&VersionToken>) -> Result<(), IndexError> {
        let done = sqlx::query(
            "DELETE FROM signaling_channels WHERE id = $1 AND ($2::text IS NULL OR version = $2)",
        )
        .bind(id)
        .bind(expected.map(|v| v.as_str()))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            self.fetch_channel(id).await?;
            return Err(IndexError::VersionMismatch);
        }
        Ok(())
    }

    async fn tag_channel(&self, id: i64, tags: &TagSet) -> Result<(), IndexError> {
        let mut tx = self.pool.begin().await?;
        // Serialise concurrent taggers of one channel so the count check below is exact.
        sqlx::query("SELECT id FROM signaling_channels WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let (keys, values): (Vec<String>, Vec<String>) =
            tags.0.iter().map(|(k, v)| (k.clone(), v.clone())).unzip();
        sqlx::query(
            "INSERT INTO signaling_channel_tags (channel_id, key, value) \
             SELECT $1, * FROM UNNEST($2::text[], $3::text[]) \
             ON CONFLICT (channel_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(id)
        .bind(keys)
        .bind(values)
        .execute(&mut *tx)
        .await?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM signaling_channel_tags WHERE channel_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if count as usize > TagSet::MAX {
            tx.rollback().await?;
            return Err(IndexError::TagLimitExceeded);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn untag_channel(&self, id: i64, keys: &[String]) -> Result<(), IndexError> {
        sqlx::query("DELETE FROM signaling_channel_tags WHERE channel_id = $1 AND key = ANY($2)")
            .bind(id)
            .bind(keys)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn channel_tags(&self, id: i64) -> Result<TagSet, IndexError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, value FROM signaling_channel_tags WHERE channel_id = $1 ORDER BY key",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(TagSet(rows.into_iter().collect()))
    }

    async fn put_track_header(
        &self,
        stream_id: i64,
        sha256: &str,
        bytes: &[u8],
        now_ms: i64,
    ) -> Result<i64, IndexError> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM streams WHERE id = $1 FOR KEY SHARE")
            .bind(stream_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
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
        let id: i64 = sqlx::query_scalar("SELECT id FROM track_headers WHERE stream_id = $1 AND sha256 = $2")
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

    async fn insert_fragments(&self, rows: &[FragmentRecord]) -> Result<Vec<bool>, IndexError> {
        match self.insert_fragment_batch(rows).await {
            // A stream deleted concurrently makes the batch's foreign-key check fail; redo the rows
            // one by one so only that stream's rows are refused.
            Err(IndexError::Other(_)) if rows.len() > 1 => {
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let one = self.insert_fragment_batch(std::slice::from_ref(row)).await;
                    out.push(one.map(|v| v[0]).unwrap_or(false));
                }
                Ok(out)
            }
            other => other,
        }
    }

    async fn segment_high_water(&self) -> Result<Vec<super::SegmentEnd>, IndexError> {
        // A `kill -9`ed server's last fragment transaction can still commit AFTER it died: its
        // COMMIT is already in the Postgres backend's socket buffer, and the backend finishes it.
        // Read before that, the high water misses rows whose (synced) bytes recovery would then
        // cut away. Every fragment insert holds the shared side of this lock from before its first
        // row until it ends, so taking it exclusively waits out every such transaction; one that
        // had not got its shared lock yet has not sent (and never will send) a row.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(FRAGMENT_WRITER_LOCK).execute(&mut *tx).await?;
        let rows: Vec<(i64, i64, i64)> =
            sqlx::query_as(super::SEGMENT_HIGH_WATER_SQL).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(super::segment_ends(rows))
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

    async fn deleted_stream_ids(&self) -> Result<Vec<i64>, IndexError> {
        Ok(sqlx::query_scalar("SELECT stream_id FROM deleted_streams ORDER BY stream_id")
            .fetch_all(&self.pool)
            .await?)
    }

    async fn ping(&self) -> Result<(), IndexError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
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
        let row: FragmentRow = sqlx::query_as(concat!(
            "SELECT ",
            fragment_columns!(),
            " FROM fragments WHERE stream_id = $1 AND fragment_number = $2"
        ))
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
        let (after_ts, after_n) = match after {
            Some((ts, n)) => (Some(ts), Some(n.as_str())),
            None => (None, None),
        };
        let query = match kind {
            TimestampKind::Server => sqlx::query_as::<_, FragmentRow>(concat!(
                "SELECT ",
                fragment_columns!(),
                " FROM fragments WHERE stream_id = $1 AND server_ts_ms BETWEEN $2 AND $3 \
                 AND ($4::bigint IS NULL OR (server_ts_ms, fragment_number) > ($4, $5::text)) \
                 ORDER BY server_ts_ms, fragment_number LIMIT $6"
            )),
            TimestampKind::Producer => sqlx::query_as::<_, FragmentRow>(concat!(
                "SELECT ",
                fragment_columns!(),
                " FROM fragments WHERE stream_id = $1 AND producer_ts_ms BETWEEN $2 AND $3 \
                 AND ($4::bigint IS NULL OR (producer_ts_ms, fragment_number) > ($4, $5::text)) \
                 ORDER BY producer_ts_ms, fragment_number LIMIT $6"
            )),
        };
        let rows = query
            .bind(stream_id)
            .bind(start_ms)
            .bind(end_ms)
            .bind(after_ts)
            .bind(after_n)
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
        let query = match kind {
            TimestampKind::Server => sqlx::query_as::<_, FragmentRow>(concat!(
                "SELECT ",
                fragment_columns!(),
                " FROM fragments WHERE stream_id = $1 AND server_ts_ms >= $2 ORDER BY server_ts_ms DESC, fragment_number DESC LIMIT $3"
            )),
            TimestampKind::Producer => sqlx::query_as::<_, FragmentRow>(concat!(
                "SELECT ",
                fragment_columns!(),
                " FROM fragments WHERE stream_id = $1 AND producer_ts_ms >= $2 ORDER BY producer_ts_ms DESC, fragment_number DESC LIMIT $3"
            )),
        };
        let rows = query.bind(stream_id).bind(since_ms).bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.into_iter().map(FragmentRecord::try_from).collect()
    }

    async fn count_fragments_before(
        &self,
        stream_id: i64,
        kind: TimestampKind,
        since: (i64, &str),
        before: (i64, &FragmentNumber),
    ) -> Result<u64, IndexError> {
        let sql = match kind {
            TimestampKind::Server => {
                "SELECT COUNT(*) FROM fragments WHERE stream_id = $1 AND (server_ts_ms, fragment_number) >= ($2, $5::text) AND (server_ts_ms, fragment_number) < ($3, $4::text)"
            }
            TimestampKind::Producer => {
                "SELECT COUNT(*) FROM fragments WHERE stream_id = $1 AND (producer_ts_ms, fragment_number) >= ($2, $5::text) AND (producer_ts_ms, fragment_number) < ($3, $4::text)"
            }
        };
        let n: i64 = sqlx::query_scalar(sql)
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
        let query = match kind {
            TimestampKind::Server => sqlx::query_as::<_, FragmentRow>(concat!(
                "SELECT ",
                fragment_columns!(),
                " FROM fragments WHERE stream_id = $1 AND server_ts_ms >= $2 - $3 AND server_ts_ms + duration_ms > $2 \
                 ORDER BY server_ts_ms, fragment_number LIMIT 1"
            )),
            TimestampKind::Producer => sqlx::query_as::<_, FragmentRow>(concat!(
                "SELECT ",
                fragment_columns!(),
                " FROM fragments WHERE stream_id = $1 AND producer_ts_ms >= $2 - $3 AND producer_ts_ms + duration_ms > $2 \
                 ORDER BY producer_ts_ms, fragment_number LIMIT 1"
            )),
        };
        let row =
            query.bind(stream_id).bind(ts_ms).bind(LONGEST_FRAGMENT_MS).fetch_optional(&self.pool).await?;
        row.map(FragmentRecord::try_from).transpose()
    }

    async fn fragments_after(
        &self,
        stream_id: i64,
        after: Option<&FragmentNumber>,
        limit: u32,
    ) -> Result<Vec<FragmentRecord>, IndexError> {
        let rows: Vec<FragmentRow> = sqlx::query_as(concat!(
            "SELECT ",
            fragment_columns!(),
            " FROM fragments WHERE stream_id = $1 AND ($2::text IS NULL OR fragment_number > $2) \
             ORDER BY fragment_number LIMIT $3"
        ))
        .bind(stream_id)
        .bind(after.map(FragmentNumber::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(FragmentRecord::try_from).collect()
    }

    async fn image_generation_config(
        &self,
        stream_id: i64,
    ) -> Result<Option<ImageGenerationConfig>, IndexError> {
        let row: Option<ImageGenerationConfigRow> = sqlx::query_as(
            "SELECT stream_id, status, image_selector_type, destination_uri, destination_region, \
             sampling_interval_ms, format, jpeg_quality, width_pixels, height_pixels \
             FROM image_generation_configurations WHERE stream_id = $1",
        )
        .bind(stream_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(ImageGenerationConfig::try_from).transpose()
    }

    async fn set_image_generation_config(
        &self,
        stream_id: i64,
        config: Option<&ImageGenerationConfig>,
        now_ms: i64,
    ) -> Result<(), IndexError> {
        match config {
            Some(c) => {
                // One statement; the foreign key refuses a deleted stream.
                let (sampling, quality, width, height) = image_generation_numbers(c);
                sqlx::query(
                    "INSERT INTO image_generation_configurations (stream_id, status, image_selector_type, \
                     destination_uri, destination_region, sampling_interval_ms, format, jpeg_quality, \
                     width_pixels, height_pixels, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (stream_id) DO UPDATE SET status = excluded.status, \
                     image_selector_type = excluded.image_selector_type, destination_uri = excluded.destination_uri, \
                     destination_region = excluded.destination_region, \
                     sampling_interval_ms = excluded.sampling_interval_ms, format = excluded.format, \
                     jpeg_quality = excluded.jpeg_quality, width_pixels = excluded.width_pixels, \
                     height_pixels = excluded.height_pixels, updated_at_ms = excluded.updated_at_ms",
                )
                .bind(stream_id)
                .bind(c.status.as_str())
                .bind(c.selector.as_str())
                .bind(c.destination_uri.as_str())
                .bind(c.destination_region.as_str())
                .bind(sampling)
                .bind(c.format.as_str())
                .bind(quality)
                .bind(width)
                .bind(height)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(stream_gone)?;
            }
            None => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM image_generation_configurations WHERE stream_id = $1")
                    .bind(stream_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("SELECT 1 FROM streams WHERE id = $1")
                    .bind(stream_id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    async fn notification_config(&self, stream_id: i64) -> Result<Option<NotificationConfig>, IndexError> {
        let row: Option<NotificationConfigRow> = sqlx::query_as(
            "SELECT stream_id, status, destination_uri FROM notification_configurations WHERE stream_id = $1",
        )
        .bind(stream_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(NotificationConfig::try_from).transpose()
    }

    async fn set_notification_config(
        &self,
        stream_id: i64,
        config: Option<&NotificationConfig>,
        now_ms: i64,
    ) -> Result<(), IndexError> {
        match config {
            Some(c) => {
                // One statement; the foreign key refuses a deleted stream.
                sqlx::query(
                    "INSERT INTO notification_configurations (stream_id, status, destination_uri, updated_at_ms) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (stream_id) DO UPDATE SET status = excluded.status, \
                     destination_uri = excluded.destination_uri, updated_at_ms = excluded.updated_at_ms",
                )
                .bind(stream_id)
                .bind(c.status.as_str())
                .bind(c.destination_uri.as_str())
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(stream_gone)?;
            }
            None => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM notification_configurations WHERE stream_id = $1")
                    .bind(stream_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("SELECT 1 FROM streams WHERE id = $1")
                    .bind(stream_id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    async fn worker_cursor(
        &self,
        worker: &str,
        stream_id: i64,
    ) -> Result<Option<FragmentNumber>, IndexError> {
        let n: Option<String> = sqlx::query_scalar(
            "SELECT fragment_number FROM worker_cursors WHERE worker = $1 AND stream_id = $2",
        )
        .bind(worker)
        .bind(stream_id)
        .fetch_optional(&self.pool)
        .await?;
        n.map(|n| {
            FragmentNumber::parse(&n)
                .ok_or_else(|| IndexError::Other(format!("corrupt worker cursor of stream {stream_id}: {n}")))
        })
        .transpose()
    }

    async fn worker_cursors(&self, worker: &str) -> Result<Vec<WorkerCursor>, IndexError> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT stream_id, fragment_number, updated_at_ms FROM worker_cursors WHERE worker = $1 \
             ORDER BY stream_id",
        )
        .bind(worker)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(worker_cursor_from_row).collect()
    }

    async fn set_worker_cursor(
        &self,
        worker: &str,
        stream_id: i64,
        fragment: &FragmentNumber,
        now_ms: i64,
    ) -> Result<(), IndexError> {
        // Numeric order of decimal strings: the longer one is greater, equal lengths compare as
        // text (the column's "C" collation compares bytes).
        sqlx::query(
            "INSERT INTO worker_cursors (worker, stream_id, fragment_number, updated_at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (worker, stream_id) DO UPDATE SET fragment_number = excluded.fragment_number, \
             updated_at_ms = excluded.updated_at_ms \
             WHERE length(excluded.fragment_number) > length(worker_cursors.fragment_number) \
             OR (length(excluded.fragment_number) = length(worker_cursors.fragment_number) \
                 AND excluded.fragment_number > worker_cursors.fragment_number)",
        )
        .bind(worker)
        .bind(stream_id)
        .bind(fragment.as_str())
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(stream_gone)?;
        Ok(())
    }

    async fn insert_analyzer_events(
        &self,
        events: &[NewAnalyzerEvent],
        now_ms: i64,
    ) -> Result<Vec<Option<i64>>, IndexError> {
        let mut tx = self.pool.begin().await?;
        // Lock the streams that still exist against deletion until commit (DeleteStream's row lock
        // conflicts with KEY SHARE), so no insert below can fail its foreign key.
        let mut wanted: Vec<i64> = events.iter().map(|e| e.stream_id).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let live: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM streams WHERE id = ANY($1) ORDER BY id FOR KEY SHARE")
                .bind(&wanted)
                .fetch_all(&mut *tx)
                .await?;
        let mut ids = Vec::with_capacity(events.len());
        for e in events {
            if live.binary_search(&e.stream_id).is_err() {
                ids.push(None);
                continue;
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO analyzer_events (stream_id, worker, kind, fragment_number, producer_ts_ms, \
                 server_ts_ms, end_ts_ms, score, detail, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            )
            .bind(e.stream_id)
            .bind(&e.worker)
            .bind(&e.kind)
            .bind(e.fragment_number.as_ref().map(FragmentNumber::as_str))
            .bind(e.producer_ts_ms)
            .bind(e.server_ts_ms)
            .bind(e.end_ts_ms)
            .bind(e.score)
            .bind(e.detail.to_string())
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(Some(id));
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn analyzer_events(
        &self,
        stream_id: i64,
        from_ms: i64,
        to_ms: i64,
        kind: Option<&str>,
        after: Option<(i64, i64)>,
        limit: u32,
    ) -> Result<Vec<AnalyzerEvent>, IndexError> {
        let rows: Vec<AnalyzerEventRow> = sqlx::query_as(
            "SELECT id, stream_id, worker, kind, fragment_number, producer_ts_ms, server_ts_ms, end_ts_ms, score, \
             detail, created_at_ms FROM analyzer_events \
             WHERE stream_id = $1 AND producer_ts_ms BETWEEN $2 AND $3 AND ($4::text IS NULL OR kind = $4) \
             AND ($5::bigint IS NULL OR (producer_ts_ms, id) > ($5, $6::bigint)) \
             ORDER BY producer_ts_ms, id LIMIT $7",
        )
        .bind(stream_id)
        .bind(from_ms)
        .bind(to_ms)
        .bind(kind)
        .bind(after.map(|(ts, _)| ts))
        .bind(after.map(|(_, id)| id))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(AnalyzerEvent::try_from).collect()
    }
}
