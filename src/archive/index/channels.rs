//! The signaling channels aggregate: `signaling_channels` and `signaling_channel_tags`. Channel
//! names are a namespace of their own, separate from stream names.

use async_trait::async_trait;

use super::postgres::PostgresIndex;
use super::sqlite::SqliteIndex;
use super::tags::{TagOwner, Tags};
use super::{Dialect, IndexError, page_of};
use crate::model::{
    ChannelType, Region, ResourceArn, SignalingChannel, StreamName, StreamStatus, TagSet, VersionToken,
};

/// The unique constraint on a signaling channel's (region, name); a violation means the channel
/// exists.
pub const CHANNEL_NAME_CONSTRAINT: &str = "signaling_channels_region_name_key";

/// Everything needed to create a signaling channel (created ACTIVE).
#[derive(Debug, Clone)]
pub struct NewChannel {
    /// The ARN (carries region, name and creation time).
    pub arn: ResourceArn,
    /// Channel type.
    pub channel_type: ChannelType,
    /// `MessageTtlSeconds`, already validated.
    pub message_ttl_seconds: u32,
    /// The first version token.
    pub version: VersionToken,
    /// Initial tags (may be empty).
    pub tags: TagSet,
}

/// Channel changes applied by one update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ChannelChanges {
    /// New `MessageTtlSeconds`.
    pub message_ttl_seconds: Option<u32>,
}

/// One page of a name-ordered channel listing.
#[derive(Debug, Clone)]
pub struct ChannelPage {
    /// Channels in name order.
    pub channels: Vec<SignalingChannel>,
    /// Whether more channels follow the last one.
    pub more: bool,
}

/// Signaling channels and their tags.
#[async_trait]
pub trait ChannelIndex: Send + Sync {
    /// Creates a signaling channel with its tags; `Conflict { constraint: CHANNEL_NAME_CONSTRAINT }`
    /// when the name is taken in that region (channel and stream names are separate namespaces).
    async fn create_channel(&self, new: NewChannel) -> Result<SignalingChannel, IndexError>;

    /// Looks a channel up by region and name.
    async fn channel_by_name(
        &self,
        region: &Region,
        name: &StreamName,
    ) -> Result<SignalingChannel, IndexError>;

    /// Looks a channel up by its exact ARN (`NotFound` if the creation millis differ).
    async fn channel_by_arn(&self, arn: &ResourceArn) -> Result<SignalingChannel, IndexError>;

    /// How many signaling channels exist, in every region.
    async fn channel_count(&self) -> Result<u64, IndexError>;

    /// Channels of a region in name (byte) order, optionally only names starting with `prefix`,
    /// starting after the name `after`, at most `limit`.
    async fn list_channels(
        &self,
        region: &Region,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ChannelPage, IndexError>;

    /// Applies `changes` if the stored version equals `expected` (or `expected` is `None`) and
    /// stores `new_version`. `VersionMismatch` otherwise; `NotFound` if the channel is gone.
    async fn update_channel(
        &self,
        id: i64,
        expected: Option<&VersionToken>,
        changes: &ChannelChanges,
        new_version: &VersionToken,
    ) -> Result<SignalingChannel, IndexError>;

    /// Deletes the channel row and its tags if the version matches (`None`: any version);
    /// `VersionMismatch` or `NotFound` otherwise.
    async fn delete_channel(&self, id: i64, expected: Option<&VersionToken>) -> Result<(), IndexError>;

    /// Adds or overwrites channel tags; `TagLimitExceeded` if the result would exceed
    /// [`TagSet::MAX`] (nothing is changed then); `NotFound` if the channel is gone.
    async fn tag_channel(&self, id: i64, tags: &TagSet) -> Result<(), IndexError>;

    /// Removes the given tag keys from a channel (absent keys are ignored).
    async fn untag_channel(&self, id: i64, keys: &[String]) -> Result<(), IndexError>;

    /// All tags of a channel.
    async fn channel_tags(&self, id: i64) -> Result<TagSet, IndexError>;
}

/// A `signaling_channels` row.
#[derive(Debug, sqlx::FromRow)]
struct ChannelRow {
    id: i64,
    arn: String,
    channel_type: String,
    status: String,
    message_ttl_seconds: i64,
    version: String,
    created_at_ms: i64,
}

impl TryFrom<ChannelRow> for SignalingChannel {
    type Error = IndexError;

    fn try_from(r: ChannelRow) -> Result<Self, IndexError> {
        let corrupt =
            |what: &str| IndexError::Other(format!("corrupt signaling channel row {}: {what}", r.id));
        let arn = ResourceArn::parse_member(&r.arn, "arn").map_err(|_| corrupt("arn"))?;
        Ok(SignalingChannel {
            id: r.id,
            name: arn.name.clone(),
            arn,
            channel_type: ChannelType::parse(&r.channel_type).ok_or_else(|| corrupt("channel type"))?,
            status: StreamStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            message_ttl_seconds: u32::try_from(r.message_ttl_seconds).map_err(|_| corrupt("message ttl"))?,
            version: VersionToken::from_stored(r.version),
            created_at_ms: r.created_at_ms,
        })
    }
}

/// `SELECT` of the `signaling_channels` columns [`ChannelRow`] reads, as a literal for `concat!`.
macro_rules! select_channels {
    () => {
        "SELECT id, arn, channel_type, status, message_ttl_seconds, version, created_at_ms FROM signaling_channels"
    };
}

macro_rules! channel_queries {
    ($backend:ident) => {
        impl $backend {
            /// One channel by id; also what tells `NotFound` from `VersionMismatch`.
            async fn fetch_channel(&self, id: i64) -> Result<SignalingChannel, IndexError> {
                let row: ChannelRow = sqlx::query_as(concat!(select_channels!(), " WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await?;
                row.try_into()
            }
        }

        #[async_trait]
        impl ChannelIndex for $backend {
            async fn create_channel(&self, new: NewChannel) -> Result<SignalingChannel, IndexError> {
                let mut tx = self.pool.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO signaling_channels (region, name, arn, channel_type, status, \
                     message_ttl_seconds, version, created_at_ms) \
                     VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6, $7) RETURNING id",
                )
                .bind(new.arn.region.as_str())
                .bind(new.arn.name.as_str())
                .bind(new.arn.to_string())
                .bind(new.channel_type.as_str())
                .bind(i64::from(new.message_ttl_seconds))
                .bind(new.version.as_str())
                .bind(new.arn.creation_millis)
                .fetch_one(&mut *tx)
                .await
                .map_err(<Self as Dialect>::name_constraints)?;
                Self::upsert_tags(&mut tx, TagOwner::Channel, id, &new.tags).await?;
                tx.commit().await?;
                self.fetch_channel(id).await
            }

            async fn channel_by_name(
                &self,
                region: &Region,
                name: &StreamName,
            ) -> Result<SignalingChannel, IndexError> {
                let row: ChannelRow =
                    sqlx::query_as(concat!(select_channels!(), " WHERE region = $1 AND name = $2"))
                        .bind(region.as_str())
                        .bind(name.as_str())
                        .fetch_one(&self.pool)
                        .await?;
                row.try_into()
            }

            async fn channel_by_arn(&self, arn: &ResourceArn) -> Result<SignalingChannel, IndexError> {
                let row: ChannelRow = sqlx::query_as(concat!(select_channels!(), " WHERE arn = $1"))
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
                // substr() compares bytes exactly in both (LIKE is case-insensitive in SQLite).
                let rows: Vec<ChannelRow> = sqlx::query_as(concat!(
                    select_channels!(),
                    " WHERE region = $1 AND (CAST($2 AS TEXT) IS NULL OR substr(name, 1, length($2)) = $2) \
                     AND (CAST($3 AS TEXT) IS NULL OR name > $3) ORDER BY name LIMIT $4"
                ))
                .bind(region.as_str())
                .bind(prefix)
                .bind(after)
                .bind(i64::from(limit) + 1)
                .fetch_all(&self.pool)
                .await?;
                let (channels, more) = page_of(rows, limit)?;
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
                     version = $2 WHERE id = $3 AND (CAST($4 AS TEXT) IS NULL OR version = $4)",
                )
                .bind(changes.message_ttl_seconds.map(i64::from))
                .bind(new_version.as_str())
                .bind(id)
                .bind(expected.map(|v| v.as_str()))
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    // Either gone or a different version: tell which.
                    self.fetch_channel(id).await?;
                    return Err(IndexError::VersionMismatch);
                }
                self.fetch_channel(id).await
            }

            async fn delete_channel(&self, id: i64, expected: Option<&VersionToken>) -> Result<(), IndexError> {
                let done = sqlx::query(
                    "DELETE FROM signaling_channels WHERE id = $1 AND (CAST($2 AS TEXT) IS NULL OR version = $2)",
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
                self.tag(TagOwner::Channel, id, tags).await
            }

            async fn untag_channel(&self, id: i64, keys: &[String]) -> Result<(), IndexError> {
                self.untag(TagOwner::Channel, id, keys).await
            }

            async fn channel_tags(&self, id: i64) -> Result<TagSet, IndexError> {
                self.tags(TagOwner::Channel, id).await
            }
        }
    };
}

channel_queries!(SqliteIndex);
channel_queries!(PostgresIndex);
