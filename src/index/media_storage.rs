//! WebRTC ingestion's media storage configurations: which stream a signaling channel records into
//! (UpdateMediaStorageConfiguration, DescribeMediaStorageConfiguration,
//! DescribeMappedResourceConfiguration). One small trait, one query text per query shared by both
//! backends (sqlx binds `$n` on SQLite and Postgres alike), implemented here for both. No policy:
//! callers validate (status values, one channel per stream, retention).

use async_trait::async_trait;
use sqlx::Row;

use super::IndexError;
use super::postgres::PostgresIndex;
use super::sqlite::SqliteIndex;

/// A channel's media storage configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaStorage {
    /// The stream it records into, if one was given.
    pub stream_id: Option<i64>,
    /// That stream's ARN.
    pub stream_arn: Option<String>,
    /// `Status` is `ENABLED`.
    pub enabled: bool,
}

/// The queries of media storage configurations.
#[async_trait]
pub trait MediaStorageConfigs: Send + Sync {
    /// Sets a channel's configuration (insert or replace).
    async fn put_media_storage(
        &self,
        channel_id: i64,
        stream_id: Option<i64>,
        enabled: bool,
        now_ms: i64,
    ) -> Result<(), IndexError>;

    /// A channel's configuration, if one was ever set.
    async fn media_storage_of_channel(&self, channel_id: i64) -> Result<Option<MediaStorage>, IndexError>;

    /// The ARN of the channel that maps `stream_id` (any status), if any.
    async fn channel_mapped_to_stream(&self, stream_id: i64) -> Result<Option<String>, IndexError>;
}

const PUT: &str = "INSERT INTO media_storage_configurations (channel_id, stream_id, status, updated_at_ms) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (channel_id) DO UPDATE SET stream_id = excluded.stream_id, \
     status = excluded.status, updated_at_ms = excluded.updated_at_ms";
const OF_CHANNEL: &str = "SELECT m.stream_id, s.arn, m.status FROM media_storage_configurations m \
     LEFT JOIN streams s ON s.id = m.stream_id WHERE m.channel_id = $1";
const OF_STREAM: &str = "SELECT c.arn FROM media_storage_configurations m \
     JOIN signaling_channels c ON c.id = m.channel_id WHERE m.stream_id = $1";

fn status(enabled: bool) -> &'static str {
    if enabled { "ENABLED" } else { "DISABLED" }
}

/// Implements the trait for a backend whose pool is `$self.pool`.
macro_rules! media_storage_impl {
    ($index:ty) => {
        #[async_trait]
        impl MediaStorageConfigs for $index {
            async fn put_media_storage(
                &self,
                channel_id: i64,
                stream_id: Option<i64>,
                enabled: bool,
                now_ms: i64,
            ) -> Result<(), IndexError> {
                sqlx::query(PUT)
                    .bind(channel_id)
                    .bind(stream_id)
                    .bind(status(enabled))
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| match e {
                        sqlx::Error::Database(db) if db.is_unique_violation() => IndexError::Conflict {
                            constraint: "media_storage_configurations_stream_key".into(),
                        },
                        sqlx::Error::Database(db) if db.is_foreign_key_violation() => IndexError::NotFound,
                        other => other.into(),
                    })?;
                Ok(())
            }

            async fn media_storage_of_channel(&self, channel_id: i64) -> Result<Option<MediaStorage>, IndexError> {
                let row = sqlx::query(OF_CHANNEL).bind(channel_id).fetch_optional(&self.pool).await?;
                Ok(match row {
                    None => None,
                    Some(r) => Some(MediaStorage {
                        stream_id: r.try_get(0)?,
                        stream_arn: r.try_get(1)?,
                        enabled: r.try_get::<String, _>(2)? == "ENABLED",
                    }),
                })
            }

            async fn channel_mapped_to_stream(&self, stream_id: i64) -> Result<Option<String>, IndexError> {
                let row = sqlx::query(OF_STREAM).bind(stream_id).fetch_optional(&self.pool).await?;
                Ok(match row {
                    None => None,
                    Some(r) => Some(r.try_get(0)?),
                })
            }
        }
    };
}

media_storage_impl!(SqliteIndex);
media_storage_impl!(PostgresIndex);
