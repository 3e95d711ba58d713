//! The analysis aggregate: a stream's KVS image-generation and notification configurations
//! (`image_generation_configurations`, `notification_configurations`), where each analysis worker
//! has got to (`worker_cursors`), and what the analyzers found (`analyzer_events`).

use async_trait::async_trait;

use super::postgres::PostgresIndex;
use super::sqlite::SqliteIndex;
use super::{Dialect, IndexError, referent_gone};
use crate::model::{
    AnalyzerEvent, ConfigurationStatus, DestinationUri, FragmentNumber, ImageFormat, ImageGenerationConfig,
    ImageSelectorType, NewAnalyzerEvent, NotificationConfig, Region, WorkerCursor,
};

/// Analysis configuration, cursors and events.
#[async_trait]
pub trait AnalysisIndex: Send + Sync {
    /// The stream's image-generation configuration, if one is set.
    async fn image_generation_config(
        &self,
        stream_id: i64,
    ) -> Result<Option<ImageGenerationConfig>, IndexError>;

    /// Stores (`Some`, replacing any previous one) or deletes (`None`) the stream's image-generation
    /// configuration; `NotFound` if the stream is gone.
    async fn set_image_generation_config(
        &self,
        stream_id: i64,
        config: Option<&ImageGenerationConfig>,
        now_ms: i64,
    ) -> Result<(), IndexError>;

    /// The stream's notification configuration, if one is set.
    async fn notification_config(&self, stream_id: i64) -> Result<Option<NotificationConfig>, IndexError>;

    /// Stores (`Some`, replacing any previous one) or deletes (`None`) the stream's notification
    /// configuration; `NotFound` if the stream is gone.
    async fn set_notification_config(
        &self,
        stream_id: i64,
        config: Option<&NotificationConfig>,
        now_ms: i64,
    ) -> Result<(), IndexError>;

    /// The last fragment `worker` finished in the stream, if it has finished any.
    async fn worker_cursor(&self, worker: &str, stream_id: i64)
    -> Result<Option<FragmentNumber>, IndexError>;

    /// Every cursor of `worker`, by stream id (for status and lag reporting).
    async fn worker_cursors(&self, worker: &str) -> Result<Vec<WorkerCursor>, IndexError>;

    /// Moves `worker`'s cursor in the stream to `fragment` if that is past the stored one (or none
    /// is stored); a number at or before the stored one changes nothing, so a cursor never moves
    /// backwards. Numbers compare numerically (a longer digit string is the greater one).
    /// `NotFound` if the stream is gone.
    async fn set_worker_cursor(
        &self,
        worker: &str,
        stream_id: i64,
        fragment: &FragmentNumber,
        now_ms: i64,
    ) -> Result<(), IndexError>;

    /// Inserts events in one transaction, stamped `created_at_ms = now_ms`. Returns, per event and
    /// in input order, its new id, or `None` when its stream no longer exists (such events are
    /// skipped; the others are still inserted).
    async fn insert_analyzer_events(
        &self,
        events: &[NewAnalyzerEvent],
        now_ms: i64,
    ) -> Result<Vec<Option<i64>>, IndexError>;

    /// A stream's events whose `producer_ts_ms` lies in `from_ms..=to_ms`, optionally only of
    /// `kind`, ordered by (`producer_ts_ms`, id), after the keyset position `after` =
    /// (`producer_ts_ms`, id) of the last event of the previous page, at most `limit`. Uses the
    /// (stream, producer_ts_ms, id) index: no scan of the stream.
    async fn analyzer_events(
        &self,
        stream_id: i64,
        from_ms: i64,
        to_ms: i64,
        kind: Option<&str>,
        after: Option<(i64, i64)>,
        limit: u32,
    ) -> Result<Vec<AnalyzerEvent>, IndexError>;
}

/// An `image_generation_configurations` row.
#[derive(Debug, sqlx::FromRow)]
struct ImageGenerationConfigRow {
    stream_id: i64,
    status: String,
    image_selector_type: String,
    destination_uri: String,
    destination_region: String,
    sampling_interval_ms: i64,
    format: String,
    jpeg_quality: Option<i64>,
    width_pixels: Option<i64>,
    height_pixels: Option<i64>,
}

impl TryFrom<ImageGenerationConfigRow> for ImageGenerationConfig {
    type Error = IndexError;

    fn try_from(r: ImageGenerationConfigRow) -> Result<Self, IndexError> {
        let corrupt = |what: &str| {
            IndexError::Other(format!(
                "corrupt image generation configuration of stream {}: {what}",
                r.stream_id
            ))
        };
        let pixels =
            |v: Option<i64>, what: &str| v.map(|v| u32::try_from(v).map_err(|_| corrupt(what))).transpose();
        Ok(ImageGenerationConfig {
            status: ConfigurationStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            selector: ImageSelectorType::parse(&r.image_selector_type).ok_or_else(|| corrupt("selector"))?,
            destination_uri: DestinationUri::parse_member(&r.destination_uri, "uri")
                .map_err(|_| corrupt("uri"))?,
            destination_region: Region::parse(&r.destination_region).map_err(|_| corrupt("region"))?,
            sampling_interval_ms: u32::try_from(r.sampling_interval_ms)
                .map_err(|_| corrupt("sampling interval"))?,
            format: ImageFormat::parse(&r.format).ok_or_else(|| corrupt("format"))?,
            jpeg_quality: r
                .jpeg_quality
                .map(|q| u8::try_from(q).map_err(|_| corrupt("jpeg quality")))
                .transpose()?,
            width: pixels(r.width_pixels, "width")?,
            height: pixels(r.height_pixels, "height")?,
        })
    }
}

/// A `notification_configurations` row.
#[derive(Debug, sqlx::FromRow)]
struct NotificationConfigRow {
    stream_id: i64,
    status: String,
    destination_uri: String,
}

impl TryFrom<NotificationConfigRow> for NotificationConfig {
    type Error = IndexError;

    fn try_from(r: NotificationConfigRow) -> Result<Self, IndexError> {
        let corrupt = |what: &str| {
            IndexError::Other(format!("corrupt notification configuration of stream {}: {what}", r.stream_id))
        };
        Ok(NotificationConfig {
            status: ConfigurationStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            destination_uri: DestinationUri::parse_member(&r.destination_uri, "uri")
                .map_err(|_| corrupt("uri"))?,
        })
    }
}

/// A cursor's stored fragment number, parsed.
fn cursor_number(stream_id: i64, number: String) -> Result<FragmentNumber, IndexError> {
    FragmentNumber::parse(&number)
        .ok_or_else(|| IndexError::Other(format!("corrupt worker cursor of stream {stream_id}: {number}")))
}

/// An `analyzer_events` row.
#[derive(Debug, sqlx::FromRow)]
struct AnalyzerEventRow {
    id: i64,
    stream_id: i64,
    worker: String,
    kind: String,
    fragment_number: Option<String>,
    producer_ts_ms: i64,
    server_ts_ms: i64,
    end_ts_ms: Option<i64>,
    score: Option<f64>,
    detail: String,
    created_at_ms: i64,
}

impl TryFrom<AnalyzerEventRow> for AnalyzerEvent {
    type Error = IndexError;

    fn try_from(r: AnalyzerEventRow) -> Result<Self, IndexError> {
        let corrupt = |what: &str| IndexError::Other(format!("corrupt analyzer event {}: {what}", r.id));
        let fragment_number = match r.fragment_number.as_deref() {
            Some(n) => Some(FragmentNumber::parse(n).ok_or_else(|| corrupt("fragment number"))?),
            None => None,
        };
        Ok(AnalyzerEvent {
            id: r.id,
            stream_id: r.stream_id,
            worker: r.worker,
            kind: r.kind,
            fragment_number,
            producer_ts_ms: r.producer_ts_ms,
            server_ts_ms: r.server_ts_ms,
            end_ts_ms: r.end_ts_ms,
            score: r.score,
            detail: serde_json::from_str(&r.detail).map_err(|_| corrupt("detail"))?,
            created_at_ms: r.created_at_ms,
        })
    }
}

macro_rules! analysis_queries {
    ($backend:ident) => {
        impl $backend {
            /// Deletes a stream's configuration row with `delete` (`$1`: the stream), then checks the
            /// stream still exists: `NotFound` otherwise.
            async fn clear_stream_config(&self, delete: &'static str, stream_id: i64) -> Result<(), IndexError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(delete).bind(stream_id).execute(&mut *tx).await?;
                sqlx::query("SELECT 1 FROM streams WHERE id = $1").bind(stream_id).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait]
        impl AnalysisIndex for $backend {
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
                let Some(c) = config else {
                    return self
                        .clear_stream_config("DELETE FROM image_generation_configurations WHERE stream_id = $1", stream_id)
                        .await;
                };
                // One statement; the foreign key refuses a deleted stream.
                sqlx::query(
                    "INSERT INTO image_generation_configurations (stream_id, status, image_selector_type, \
                     destination_uri, destination_region, sampling_interval_ms, format, jpeg_quality, \
                     width_pixels, height_pixels, updated_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
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
                .bind(i64::from(c.sampling_interval_ms))
                .bind(c.format.as_str())
                .bind(c.jpeg_quality.map(i64::from))
                .bind(c.width.map(i64::from))
                .bind(c.height.map(i64::from))
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(referent_gone)?;
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
                let Some(c) = config else {
                    return self
                        .clear_stream_config("DELETE FROM notification_configurations WHERE stream_id = $1", stream_id)
                        .await;
                };
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
                .map_err(referent_gone)?;
                Ok(())
            }

            async fn worker_cursor(&self, worker: &str, stream_id: i64) -> Result<Option<FragmentNumber>, IndexError> {
                let n: Option<String> = sqlx::query_scalar(
                    "SELECT fragment_number FROM worker_cursors WHERE worker = $1 AND stream_id = $2",
                )
                .bind(worker)
                .bind(stream_id)
                .fetch_optional(&self.pool)
                .await?;
                n.map(|n| cursor_number(stream_id, n)).transpose()
            }

            async fn worker_cursors(&self, worker: &str) -> Result<Vec<WorkerCursor>, IndexError> {
                let rows: Vec<(i64, String, i64)> = sqlx::query_as(
                    "SELECT stream_id, fragment_number, updated_at_ms FROM worker_cursors WHERE worker = $1 \
                     ORDER BY stream_id",
                )
                .bind(worker)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(stream_id, n, updated_at_ms)| {
                        Ok(WorkerCursor { stream_id, fragment_number: cursor_number(stream_id, n)?, updated_at_ms })
                    })
                    .collect()
            }

            async fn set_worker_cursor(
                &self,
                worker: &str,
                stream_id: i64,
                fragment: &FragmentNumber,
                now_ms: i64,
            ) -> Result<(), IndexError> {
                // Numeric order of decimal strings: the longer one is greater, equal lengths compare
                // as text (bytes: SQLite's default collation, the Postgres column's "C" collation).
                sqlx::query(
                    "INSERT INTO worker_cursors (worker, stream_id, fragment_number, updated_at_ms) \
                     VALUES ($1, $2, $3, $4) \
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
                .map_err(referent_gone)?;
                Ok(())
            }

            async fn insert_analyzer_events(
                &self,
                events: &[NewAnalyzerEvent],
                now_ms: i64,
            ) -> Result<Vec<Option<i64>>, IndexError> {
                let mut tx = self.pool.begin().await?;
                // Hold the streams that still exist against deletion until commit, so no insert
                // below can fail its foreign key.
                let mut wanted: Vec<i64> = events.iter().map(|e| e.stream_id).collect();
                wanted.sort_unstable();
                wanted.dedup();
                let mut live = Vec::with_capacity(wanted.len());
                for id in wanted {
                    let held: Option<i64> = sqlx::query_scalar(<Self as Dialect>::SHARE_STREAM)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    live.extend(held);
                }
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
                    "SELECT id, stream_id, worker, kind, fragment_number, producer_ts_ms, server_ts_ms, end_ts_ms, \
                     score, detail, created_at_ms FROM analyzer_events \
                     WHERE stream_id = $1 AND producer_ts_ms BETWEEN $2 AND $3 \
                     AND (CAST($4 AS TEXT) IS NULL OR kind = $4) \
                     AND (CAST($5 AS BIGINT) IS NULL OR (producer_ts_ms, id) > (CAST($5 AS BIGINT), CAST($6 AS BIGINT))) \
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
    };
}

analysis_queries!(SqliteIndex);
analysis_queries!(PostgresIndex);
