//! The data keys aggregate: `stream_data_keys`, each stream's data keys as a master key of the
//! keyring wraps them (design/0018-encryption-at-rest.md). Only `archive` calls it (it is part of
//! [`super::Index`], not of the catalog everyone sees). The bytes here are wrapped keys: this layer
//! neither wraps nor unwraps, and never sees a key in the clear.

use async_trait::async_trait;

use super::postgres::PostgresIndex;
use super::sqlite::SqliteIndex;
use super::{IndexError, referent_gone};

/// A stream's data key as stored: wrapped by the master key `master_key_id` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedDataKey {
    /// The stream whose fragments it seals.
    pub stream_id: i64,
    /// Its version (1, 2, …): what `fragments.key_version` names.
    pub version: u32,
    /// The keyring id of the master key that wraps it.
    pub master_key_id: String,
    /// nonce || ciphertext || tag (design/0018-encryption-at-rest.md, "Formats").
    pub wrapped: Vec<u8>,
    /// When it was generated, epoch ms.
    pub created_at_ms: i64,
}

/// A stream's first data key, created with the stream (see [`super::NewStream::data_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDataKey {
    /// The keyring id of the master key that wraps it.
    pub master_key_id: String,
    /// The wrapped key.
    pub wrapped: Vec<u8>,
}

/// Streams' wrapped data keys.
#[async_trait]
pub trait DataKeyIndex: Send + Sync {
    /// The stream's data key `version`, if it exists.
    async fn data_key(&self, stream_id: i64, version: u32) -> Result<Option<WrappedDataKey>, IndexError>;

    /// The stream's newest data key (the one new fragments are sealed with), if it has one.
    async fn current_data_key(&self, stream_id: i64) -> Result<Option<WrappedDataKey>, IndexError>;

    /// Stores a data key unless the stream already has that version (`Ok(false)`: another writer
    /// won; read it back). `NotFound` when the stream is gone.
    async fn insert_data_key(&self, key: &WrappedDataKey) -> Result<bool, IndexError>;

    /// How many data keys each master key wraps, by keyring id (the startup check of the keyring).
    async fn data_keys_per_master_key(&self) -> Result<Vec<(String, u64)>, IndexError>;
}

/// A `stream_data_keys` row.
#[derive(Debug, sqlx::FromRow)]
struct DataKeyRow {
    stream_id: i64,
    version: i64,
    master_key_id: String,
    wrapped_key: Vec<u8>,
    created_at_ms: i64,
}

impl TryFrom<DataKeyRow> for WrappedDataKey {
    type Error = IndexError;

    fn try_from(r: DataKeyRow) -> Result<Self, IndexError> {
        let version = u32::try_from(r.version).map_err(|_| {
            IndexError::Other(format!(
                "corrupt data key row of stream {}: version {}",
                r.stream_id, r.version
            ))
        })?;
        Ok(WrappedDataKey {
            stream_id: r.stream_id,
            version,
            master_key_id: r.master_key_id,
            wrapped: r.wrapped_key,
            created_at_ms: r.created_at_ms,
        })
    }
}

/// `SELECT` of the columns [`DataKeyRow`] reads, as a literal for `concat!`.
macro_rules! select_data_keys {
    () => {
        "SELECT stream_id, version, master_key_id, wrapped_key, created_at_ms FROM stream_data_keys"
    };
}

/// Inserts a data key (`$1` stream, `$2` version, `$3` master key id, `$4` wrapped, `$5` created).
pub(super) const INSERT_DATA_KEY: &str = "INSERT INTO stream_data_keys \
     (stream_id, version, master_key_id, wrapped_key, created_at_ms) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (stream_id, version) DO NOTHING";

macro_rules! data_key_queries {
    ($backend:ident) => {
        #[async_trait]
        impl DataKeyIndex for $backend {
            async fn data_key(&self, stream_id: i64, version: u32) -> Result<Option<WrappedDataKey>, IndexError> {
                let row: Option<DataKeyRow> =
                    sqlx::query_as(concat!(select_data_keys!(), " WHERE stream_id = $1 AND version = $2"))
                        .bind(stream_id)
                        .bind(i64::from(version))
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(WrappedDataKey::try_from).transpose()
            }

            async fn current_data_key(&self, stream_id: i64) -> Result<Option<WrappedDataKey>, IndexError> {
                let row: Option<DataKeyRow> = sqlx::query_as(concat!(
                    select_data_keys!(),
                    " WHERE stream_id = $1 ORDER BY version DESC LIMIT 1"
                ))
                .bind(stream_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(WrappedDataKey::try_from).transpose()
            }

            async fn insert_data_key(&self, key: &WrappedDataKey) -> Result<bool, IndexError> {
                let done = sqlx::query(INSERT_DATA_KEY)
                    .bind(key.stream_id)
                    .bind(i64::from(key.version))
                    .bind(&key.master_key_id)
                    .bind(&key.wrapped)
                    .bind(key.created_at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(referent_gone)?;
                Ok(done.rows_affected() == 1)
            }

            async fn data_keys_per_master_key(&self) -> Result<Vec<(String, u64)>, IndexError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT master_key_id, COUNT(*) FROM stream_data_keys GROUP BY master_key_id ORDER BY master_key_id",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(id, n)| (id, u64::try_from(n).unwrap_or(0))).collect())
            }
        }
    };
}

data_key_queries!(SqliteIndex);
data_key_queries!(PostgresIndex);
