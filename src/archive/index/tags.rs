//! Tags, written once for both owners (streams and signaling channels) and both backends: at
//! most [`TagSet::MAX`] per resource, upserted and removed in one statement each, counted under a
//! lock on the owner row so concurrent taggers cannot pass the limit together.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, QueryBuilder};

use super::postgres::PostgresIndex;
use super::sqlite::SqliteIndex;
use super::{Dialect, IndexError};
use crate::model::TagSet;

/// Which resource's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TagOwner {
    /// `stream_tags`, keyed by `stream_id`.
    Stream,
    /// `signaling_channel_tags`, keyed by `channel_id`.
    Channel,
}

impl TagOwner {
    fn table(self) -> &'static str {
        match self {
            TagOwner::Stream => "stream_tags",
            TagOwner::Channel => "signaling_channel_tags",
        }
    }

    fn column(self) -> &'static str {
        match self {
            TagOwner::Stream => "stream_id",
            TagOwner::Channel => "channel_id",
        }
    }

    fn lock<D: Dialect>(self) -> &'static str {
        match self {
            TagOwner::Stream => D::LOCK_STREAM,
            TagOwner::Channel => D::LOCK_CHANNEL,
        }
    }
}

/// Tag queries, for each backend.
#[async_trait]
pub(super) trait Tags: Dialect {
    /// Adds or overwrites `tags` of `owner` `id` inside `tx` (its owner row is the caller's to
    /// have locked or created in it).
    async fn upsert_tags(
        tx: &mut sqlx::Transaction<'static, <Self as Dialect>::Db>,
        owner: TagOwner,
        id: i64,
        tags: &TagSet,
    ) -> Result<(), IndexError>;

    /// Adds or overwrites tags; `TagLimitExceeded` (nothing changed) past [`TagSet::MAX`],
    /// `NotFound` when the owner is gone.
    async fn tag(&self, owner: TagOwner, id: i64, tags: &TagSet) -> Result<(), IndexError>;

    /// Removes the given keys (absent keys are ignored).
    async fn untag(&self, owner: TagOwner, id: i64, keys: &[String]) -> Result<(), IndexError>;

    /// Every tag of the owner.
    async fn tags(&self, owner: TagOwner, id: i64) -> Result<TagSet, IndexError>;
}

macro_rules! tag_queries {
    ($backend:ident) => {
        #[async_trait]
        impl Tags for $backend {
            async fn upsert_tags(
                tx: &mut sqlx::Transaction<'static, <Self as Dialect>::Db>,
                owner: TagOwner,
                id: i64,
                tags: &TagSet,
            ) -> Result<(), IndexError> {
                if tags.is_empty() {
                    return Ok(());
                }
                let (table, column) = (owner.table(), owner.column());
                let mut q = QueryBuilder::<<Self as Dialect>::Db>::new(format!(
                    "INSERT INTO {table} ({column}, key, value) "
                ));
                q.push_values(&tags.0, |mut row, (k, v)| {
                    row.push_bind(id).push_bind(k.clone()).push_bind(v.clone());
                });
                q.push(format!(" ON CONFLICT ({column}, key) DO UPDATE SET value = excluded.value"));
                q.build().execute(&mut **tx).await?;
                Ok(())
            }

            async fn tag(&self, owner: TagOwner, id: i64, tags: &TagSet) -> Result<(), IndexError> {
                let mut tx = self.pool.begin().await?;
                let locked: Option<i64> =
                    sqlx::query_scalar(owner.lock::<Self>()).bind(id).fetch_optional(&mut *tx).await?;
                if locked.is_none() {
                    return Err(IndexError::NotFound);
                }
                Self::upsert_tags(&mut tx, owner, id, tags).await?;
                let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM {} WHERE {} = $1",
                    owner.table(),
                    owner.column()
                )))
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

            async fn untag(&self, owner: TagOwner, id: i64, keys: &[String]) -> Result<(), IndexError> {
                if keys.is_empty() {
                    return Ok(());
                }
                let mut q = QueryBuilder::<<Self as Dialect>::Db>::new(format!(
                    "DELETE FROM {} WHERE {} = ",
                    owner.table(),
                    owner.column()
                ));
                q.push_bind(id).push(" AND key IN (");
                let mut list = q.separated(", ");
                for k in keys {
                    list.push_bind(k.clone());
                }
                list.push_unseparated(")");
                q.build().execute(&self.pool).await?;
                Ok(())
            }

            async fn tags(&self, owner: TagOwner, id: i64) -> Result<TagSet, IndexError> {
                let rows: Vec<(String, String)> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT key, value FROM {} WHERE {} = $1",
                    owner.table(),
                    owner.column()
                )))
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                Ok(TagSet(rows.into_iter().collect()))
            }
        }
    };
}

tag_queries!(SqliteIndex);
tag_queries!(PostgresIndex);
