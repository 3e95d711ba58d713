//! The media storage aggregate (`media_storage_configurations`): which stream a signaling channel
//! records its WebRTC sessions into (UpdateMediaStorageConfiguration,
//! DescribeMediaStorageConfiguration, DescribeMappedResourceConfiguration, JoinStorageSession).
//! No policy here: callers validate the status, the stream's retention and whether the stream is
//! already mapped; the unique constraint on the stream is the last word on the latter.

use async_trait::async_trait;

use super::postgres::PostgresIndex;
use super::sqlite::SqliteIndex;
use super::{IndexError, referent_gone};
use crate::model::ConfigurationStatus;

/// The unique constraint on a configuration's stream: a stream is recorded from one channel.
pub const MEDIA_STORAGE_STREAM_CONSTRAINT: &str = "media_storage_configurations_stream_key";

/// A channel's media storage configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaStorage {
    /// The stream it records into, if one was given.
    pub stream_id: Option<i64>,
    /// That stream's ARN.
    pub stream_arn: Option<String>,
    /// `Status`.
    pub status: ConfigurationStatus,
}

/// Media storage configurations of signaling channels.
#[async_trait]
pub trait MediaStorageIndex: Send + Sync {
    /// Sets a channel's configuration (insert or replace). `Conflict { constraint:
    /// MEDIA_STORAGE_STREAM_CONSTRAINT }` when another channel maps the stream; `NotFound` when
    /// the channel or the stream is gone.
    async fn set_media_storage(
        &self,
        channel_id: i64,
        stream_id: Option<i64>,
        status: ConfigurationStatus,
        now_ms: i64,
    ) -> Result<(), IndexError>;

    /// A channel's configuration, if one was ever set.
    async fn media_storage_of_channel(&self, channel_id: i64) -> Result<Option<MediaStorage>, IndexError>;

    /// The ARN of the channel that maps `stream_id` (any status), if any.
    async fn channel_mapped_to_stream(&self, stream_id: i64) -> Result<Option<String>, IndexError>;
}

/// A `media_storage_configurations` row joined with its stream's ARN.
#[derive(Debug, sqlx::FromRow)]
struct MediaStorageRow {
    channel_id: i64,
    stream_id: Option<i64>,
    stream_arn: Option<String>,
    status: String,
}

impl TryFrom<MediaStorageRow> for MediaStorage {
    type Error = IndexError;

    fn try_from(r: MediaStorageRow) -> Result<Self, IndexError> {
        let status = ConfigurationStatus::parse(&r.status).ok_or_else(|| {
            IndexError::Other(format!(
                "corrupt media storage configuration of channel {}: status",
                r.channel_id
            ))
        })?;
        Ok(MediaStorage { stream_id: r.stream_id, stream_arn: r.stream_arn, status })
    }
}

/// Maps a write's error: the stream already mapped (SQLite names columns, Postgres the
/// constraint), a gone channel or stream.
fn set_error(e: sqlx::Error) -> IndexError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return IndexError::Conflict { constraint: MEDIA_STORAGE_STREAM_CONSTRAINT.to_owned() };
    }
    referent_gone(e)
}

macro_rules! media_storage_queries {
    ($backend:ident) => {
        #[async_trait]
        impl MediaStorageIndex for $backend {
            async fn set_media_storage(
                &self,
                channel_id: i64,
                stream_id: Option<i64>,
                status: ConfigurationStatus,
                now_ms: i64,
            ) -> Result<(), IndexError> {
                sqlx::query(
                    "INSERT INTO media_storage_configurations (channel_id, stream_id, status, updated_at_ms) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (channel_id) DO UPDATE SET \
                     stream_id = excluded.stream_id, status = excluded.status, \
                     updated_at_ms = excluded.updated_at_ms",
                )
                .bind(channel_id)
                .bind(stream_id)
                .bind(status.as_str())
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(set_error)?;
                Ok(())
            }

            async fn media_storage_of_channel(
                &self,
                channel_id: i64,
            ) -> Result<Option<MediaStorage>, IndexError> {
                let row: Option<MediaStorageRow> = sqlx::query_as(
                    "SELECT m.channel_id, m.stream_id, s.arn AS stream_arn, m.status \
                     FROM media_storage_configurations m LEFT JOIN streams s ON s.id = m.stream_id \
                     WHERE m.channel_id = $1",
                )
                .bind(channel_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(MediaStorage::try_from).transpose()
            }

            async fn channel_mapped_to_stream(&self, stream_id: i64) -> Result<Option<String>, IndexError> {
                let arn: Option<(String,)> = sqlx::query_as(
                    "SELECT c.arn FROM media_storage_configurations m \
                     JOIN signaling_channels c ON c.id = m.channel_id WHERE m.stream_id = $1",
                )
                .bind(stream_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(arn.map(|(a,)| a))
            }
        }
    };
}

media_storage_queries!(SqliteIndex);
media_storage_queries!(PostgresIndex);
