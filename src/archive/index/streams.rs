//! The streams aggregate: `streams` and `stream_tags`. Deleting a stream is not here: it removes
//! the rows that point at stored bytes, so it belongs to [`super::ReferenceIndex`].

use async_trait::async_trait;

use super::data_keys::{INSERT_DATA_KEY, NewDataKey};
use super::postgres::PostgresIndex;
use super::sqlite::SqliteIndex;
use super::tags::{TagOwner, Tags};
use super::{Dialect, IndexError, page_of};
use crate::model::{
    DataRetention, Region, ResourceArn, StorageTier, Stream, StreamName, StreamStatus, TagSet, VersionToken,
};

/// The name of the unique constraint on (region, name); a violation means the stream exists.
pub const STREAM_NAME_CONSTRAINT: &str = "streams_region_name_key";

/// Everything needed to create a stream.
#[derive(Debug, Clone)]
pub struct NewStream {
    /// The ARN (carries region, name and creation time).
    pub arn: ResourceArn,
    /// Optional device name.
    pub device_name: Option<String>,
    /// Optional media type.
    pub media_type: Option<String>,
    /// Optional KMS key id, as given (what DescribeStream reports).
    pub kms_key_id: Option<String>,
    /// The stream's first data key (version 1), wrapped by the master key its `kms_key_id`
    /// selects; stored in the same transaction as the stream. `None`: generated at the stream's
    /// first write. `archive::Archive::create_stream` fills it in; other callers leave it `None`.
    pub data_key: Option<NewDataKey>,
    /// Retention.
    pub retention: DataRetention,
    /// Storage tier.
    pub storage_tier: StorageTier,
    /// The first version token.
    pub version: VersionToken,
    /// Initial tags (may be empty).
    pub tags: TagSet,
}

/// Metadata changes applied by one update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct StreamChanges {
    /// New device name.
    pub device_name: Option<String>,
    /// New media type.
    pub media_type: Option<String>,
    /// New retention.
    pub retention: Option<DataRetention>,
    /// New storage tier.
    pub storage_tier: Option<StorageTier>,
}

/// One page of a name-ordered stream listing.
#[derive(Debug, Clone)]
pub struct StreamPage {
    /// Streams in name order.
    pub streams: Vec<Stream>,
    /// Whether more streams follow the last one.
    pub more: bool,
}

/// Streams and their tags.
#[async_trait]
pub trait StreamIndex: Send + Sync {
    /// Creates a stream with its tags; `Conflict { constraint: STREAM_NAME_CONSTRAINT }` when the
    /// name is taken in that region.
    async fn create_stream(&self, new: NewStream) -> Result<Stream, IndexError>;

    /// Looks a stream up by region and name.
    async fn stream_by_name(&self, region: &Region, name: &StreamName) -> Result<Stream, IndexError>;

    /// Looks a stream up by its exact ARN.
    async fn stream_by_arn(&self, arn: &ResourceArn) -> Result<Stream, IndexError>;

    /// Looks a stream up by its index id.
    async fn stream_by_id(&self, id: i64) -> Result<Stream, IndexError>;

    /// The index ids of every stream (all regions), ascending.
    async fn stream_ids(&self) -> Result<Vec<i64>, IndexError>;

    /// Streams of a region in name (byte) order, optionally only names starting with `prefix`,
    /// starting after the name `after`, at most `limit`.
    async fn list_streams(
        &self,
        region: &Region,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<StreamPage, IndexError>;

    /// Applies `changes` if the stored version equals `expected` (or `expected` is `None`), and
    /// stores `new_version`. `VersionMismatch` otherwise; `NotFound` if the stream is gone.
    async fn update_stream(
        &self,
        id: i64,
        expected: Option<&VersionToken>,
        changes: &StreamChanges,
        new_version: &VersionToken,
    ) -> Result<Stream, IndexError>;

    /// Sets the stream's MediaType when it has none (what the first PutMedia's tracks hold, see
    /// `ingest`), leaving its version unchanged; `Ok(false)` when it already had one.
    /// `NotFound` if the stream is gone.
    async fn fill_media_type(&self, id: i64, media_type: &str) -> Result<bool, IndexError>;

    /// Adds or overwrites tags; `TagLimitExceeded` if the result would exceed [`TagSet::MAX`]
    /// (nothing is changed then); `NotFound` if the stream is gone.
    async fn tag_stream(&self, id: i64, tags: &TagSet) -> Result<(), IndexError>;

    /// Removes the given tag keys (absent keys are ignored).
    async fn untag_stream(&self, id: i64, keys: &[String]) -> Result<(), IndexError>;

    /// All tags of a stream.
    async fn stream_tags(&self, id: i64) -> Result<TagSet, IndexError>;
}

/// A `streams` row.
#[derive(Debug, sqlx::FromRow)]
struct StreamRow {
    id: i64,
    arn: String,
    device_name: Option<String>,
    media_type: Option<String>,
    kms_key_id: Option<String>,
    retention_hours: i64,
    version: String,
    status: String,
    storage_tier: String,
    created_at_ms: i64,
}

impl TryFrom<StreamRow> for Stream {
    type Error = IndexError;

    fn try_from(r: StreamRow) -> Result<Self, IndexError> {
        let corrupt = |what: &str| IndexError::Other(format!("corrupt stream row {}: {what}", r.id));
        let arn = ResourceArn::parse_member(&r.arn, "arn").map_err(|_| corrupt("arn"))?;
        Ok(Stream {
            id: r.id,
            name: arn.name.clone(),
            arn,
            device_name: r.device_name,
            media_type: r.media_type,
            kms_key_id: r.kms_key_id,
            retention: DataRetention::from_hours(r.retention_hours).map_err(|_| corrupt("retention"))?,
            version: VersionToken::from_stored(r.version),
            status: StreamStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            storage_tier: StorageTier::parse(&r.storage_tier).ok_or_else(|| corrupt("storage tier"))?,
            created_at_ms: r.created_at_ms,
        })
    }
}

/// `SELECT` of the `streams` columns [`StreamRow`] reads, as a literal for `concat!`.
macro_rules! select_streams {
    () => {
        "SELECT id, arn, device_name, media_type, kms_key_id, retention_hours, version, status, storage_tier, \
         created_at_ms FROM streams"
    };
}

macro_rules! stream_queries {
    ($backend:ident) => {
        impl $backend {
            /// One stream by id; also what tells `NotFound` from `VersionMismatch` after a
            /// versioned write touched no row.
            pub(super) async fn fetch_stream(&self, id: i64) -> Result<Stream, IndexError> {
                let row: StreamRow = sqlx::query_as(concat!(select_streams!(), " WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await?;
                row.try_into()
            }
        }

        #[async_trait]
        impl StreamIndex for $backend {
            async fn create_stream(&self, new: NewStream) -> Result<Stream, IndexError> {
                let mut tx = self.pool.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO streams (region, name, arn, device_name, media_type, kms_key_id, \
                     retention_hours, version, status, storage_tier, created_at_ms) \
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
                .await
                .map_err(<Self as Dialect>::name_constraints)?;
                Self::upsert_tags(&mut tx, TagOwner::Stream, id, &new.tags).await?;
                if let Some(key) = &new.data_key {
                    sqlx::query(INSERT_DATA_KEY)
                        .bind(id)
                        .bind(1_i64)
                        .bind(&key.master_key_id)
                        .bind(&key.wrapped)
                        .bind(new.arn.creation_millis)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                self.fetch_stream(id).await
            }

            async fn stream_by_name(&self, region: &Region, name: &StreamName) -> Result<Stream, IndexError> {
                let row: StreamRow = sqlx::query_as(concat!(select_streams!(), " WHERE region = $1 AND name = $2"))
                    .bind(region.as_str())
                    .bind(name.as_str())
                    .fetch_one(&self.pool)
                    .await?;
                row.try_into()
            }

            async fn stream_by_arn(&self, arn: &ResourceArn) -> Result<Stream, IndexError> {
                let row: StreamRow = sqlx::query_as(concat!(select_streams!(), " WHERE arn = $1"))
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
                // substr() compares bytes exactly in both (LIKE is case-insensitive in SQLite).
                let rows: Vec<StreamRow> = sqlx::query_as(concat!(
                    select_streams!(),
                    " WHERE region = $1 AND (CAST($2 AS TEXT) IS NULL OR substr(name, 1, length($2)) = $2) \
                     AND (CAST($3 AS TEXT) IS NULL OR name > $3) ORDER BY name LIMIT $4"
                ))
                .bind(region.as_str())
                .bind(prefix)
                .bind(after)
                .bind(i64::from(limit) + 1)
                .fetch_all(&self.pool)
                .await?;
                let (streams, more) = page_of(rows, limit)?;
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
                    "UPDATE streams SET device_name = COALESCE($1, device_name), \
                     media_type = COALESCE($2, media_type), retention_hours = COALESCE($3, retention_hours), \
                     storage_tier = COALESCE($4, storage_tier), version = $5 \
                     WHERE id = $6 AND (CAST($7 AS TEXT) IS NULL OR version = $7)",
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
                    // Either gone or a different version: tell which.
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

            async fn tag_stream(&self, id: i64, tags: &TagSet) -> Result<(), IndexError> {
                self.tag(TagOwner::Stream, id, tags).await
            }

            async fn untag_stream(&self, id: i64, keys: &[String]) -> Result<(), IndexError> {
                self.untag(TagOwner::Stream, id, keys).await
            }

            async fn stream_tags(&self, id: i64) -> Result<TagSet, IndexError> {
                self.tags(TagOwner::Stream, id).await
            }
        }
    };
}

stream_queries!(SqliteIndex);
stream_queries!(PostgresIndex);
