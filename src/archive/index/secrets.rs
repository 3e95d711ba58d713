//! The secrets aggregate: `secrets`, the Secrets Manager-compatible store of camera URIs the edge
//! configurations name by ARN. One current version per secret; a deletion is scheduled (the secret
//! is unusable from then on) and takes effect at its purge time, when the row is removed lazily
//! ([`SecretIndex::purge_secrets`]). Secret values are read only by [`SecretIndex::secret_value`];
//! nothing here logs.

use async_trait::async_trait;

use super::IndexError;
use super::postgres::PostgresIndex;
use super::sqlite::SqliteIndex;
use crate::model::{SecretRecord, SecretValue};

/// The unique constraint on a secret's (region, name).
pub const SECRET_NAME_CONSTRAINT: &str = "secrets_region_name_key";

/// A new secret.
#[derive(Debug, Clone)]
pub struct NewSecret {
    /// Its metadata (`deleted_ms`/`purge_ms` are ignored).
    pub record: SecretRecord,
    /// Its region.
    pub region: String,
    /// Its first value, if given.
    pub value: Option<SecretValue>,
}

/// Secrets by ARN, or by name within a region.
#[async_trait]
pub trait SecretIndex: Send + Sync {
    /// Creates a secret; `Conflict { constraint: SECRET_NAME_CONSTRAINT }` when the name exists in
    /// the region (scheduled for deletion or not).
    async fn create_secret(&self, secret: &NewSecret) -> Result<(), IndexError>;

    /// A secret's metadata by ARN, or by name in `region`; secrets whose deletion took effect are
    /// absent.
    async fn secret(&self, id: &str, region: &str, now_ms: i64) -> Result<Option<SecretRecord>, IndexError>;

    /// A secret's metadata and current value by ARN (or by name in `region`).
    async fn secret_value(
        &self,
        id: &str,
        region: &str,
        now_ms: i64,
    ) -> Result<Option<(SecretRecord, Option<SecretValue>)>, IndexError>;

    /// Replaces the current value (new version id); `NotFound` if the secret is gone.
    async fn put_secret_value(
        &self,
        arn: &str,
        value: &SecretValue,
        version_id: &str,
        now_ms: i64,
    ) -> Result<(), IndexError>;

    /// Schedules the deletion (`purge_ms` = when it takes effect; now for a forced deletion).
    async fn schedule_secret_deletion(&self, arn: &str, now_ms: i64, purge_ms: i64)
    -> Result<(), IndexError>;

    /// Removes secrets whose deletion took effect at or before `now_ms`; how many.
    async fn purge_secrets(&self, now_ms: i64) -> Result<u64, IndexError>;
}

/// A `secrets` row.
#[derive(sqlx::FromRow)]
struct SecretRow {
    arn: String,
    name: String,
    description: Option<String>,
    kms_key_id: Option<String>,
    version_id: String,
    created_at_ms: i64,
    changed_at_ms: i64,
    deleted_at_ms: Option<i64>,
    purge_at_ms: Option<i64>,
    secret_string: Option<String>,
    secret_binary: Option<Vec<u8>>,
}

impl SecretRow {
    fn into_parts(self) -> (SecretRecord, Option<SecretValue>) {
        let value = self.secret_string.map(SecretValue::Text).or(self.secret_binary.map(SecretValue::Binary));
        let record = SecretRecord {
            arn: self.arn,
            name: self.name,
            description: self.description,
            kms_key_id: self.kms_key_id,
            version_id: self.version_id,
            created_ms: self.created_at_ms,
            changed_ms: self.changed_at_ms,
            deleted_ms: self.deleted_at_ms,
            purge_ms: self.purge_at_ms,
        };
        (record, value)
    }
}

/// The value's two columns: text or binary.
fn value_columns(value: Option<&SecretValue>) -> (Option<&str>, Option<&[u8]>) {
    match value {
        Some(SecretValue::Text(t)) => (Some(t.as_str()), None),
        Some(SecretValue::Binary(b)) => (None, Some(b.as_slice())),
        None => (None, None),
    }
}

macro_rules! secret_queries {
    ($backend:ident) => {
        #[async_trait]
        impl SecretIndex for $backend {
            async fn create_secret(&self, secret: &NewSecret) -> Result<(), IndexError> {
                let r = &secret.record;
                let (text, binary) = value_columns(secret.value.as_ref());
                sqlx::query(
                    "INSERT INTO secrets (arn, region, name, description, kms_key_id, secret_string, \
                     secret_binary, version_id, created_at_ms, changed_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                )
                .bind(&r.arn)
                .bind(&secret.region)
                .bind(&r.name)
                .bind(r.description.as_deref())
                .bind(r.kms_key_id.as_deref())
                .bind(text)
                .bind(binary)
                .bind(&r.version_id)
                .bind(r.created_ms)
                .execute(&self.pool)
                .await
                .map_err(|e| match IndexError::from(e) {
                    // The ARN is made of region and name: either unique key means the name is taken
                    // (SQLite does not name the violated constraint).
                    IndexError::Conflict { .. } => {
                        IndexError::Conflict { constraint: SECRET_NAME_CONSTRAINT.to_owned() }
                    }
                    other => other,
                })?;
                Ok(())
            }

            async fn secret(
                &self,
                id: &str,
                region: &str,
                now_ms: i64,
            ) -> Result<Option<SecretRecord>, IndexError> {
                Ok(self.secret_value(id, region, now_ms).await?.map(|(r, _)| r))
            }

            async fn secret_value(
                &self,
                id: &str,
                region: &str,
                now_ms: i64,
            ) -> Result<Option<(SecretRecord, Option<SecretValue>)>, IndexError> {
                let row: Option<SecretRow> = sqlx::query_as(
                    "SELECT arn, name, description, kms_key_id, version_id, created_at_ms, changed_at_ms, \
                     deleted_at_ms, purge_at_ms, secret_string, secret_binary FROM secrets \
                     WHERE (arn = $1 OR (region = $2 AND name = $1)) \
                     AND (purge_at_ms IS NULL OR purge_at_ms > $3) LIMIT 1",
                )
                .bind(id)
                .bind(region)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(SecretRow::into_parts))
            }

            async fn put_secret_value(
                &self,
                arn: &str,
                value: &SecretValue,
                version_id: &str,
                now_ms: i64,
            ) -> Result<(), IndexError> {
                let (text, binary) = value_columns(Some(value));
                let done = sqlx::query(
                    "UPDATE secrets SET secret_string = $1, secret_binary = $2, version_id = $3, \
                     changed_at_ms = $4 WHERE arn = $5",
                )
                .bind(text)
                .bind(binary)
                .bind(version_id)
                .bind(now_ms)
                .bind(arn)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 { Err(IndexError::NotFound) } else { Ok(()) }
            }

            async fn schedule_secret_deletion(
                &self,
                arn: &str,
                now_ms: i64,
                purge_ms: i64,
            ) -> Result<(), IndexError> {
                let done = sqlx::query(
                    "UPDATE secrets SET deleted_at_ms = $1, purge_at_ms = $2, changed_at_ms = $1 WHERE arn = $3",
                )
                .bind(now_ms)
                .bind(purge_ms)
                .bind(arn)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 { Err(IndexError::NotFound) } else { Ok(()) }
            }

            async fn purge_secrets(&self, now_ms: i64) -> Result<u64, IndexError> {
                let done =
                    sqlx::query("DELETE FROM secrets WHERE purge_at_ms IS NOT NULL AND purge_at_ms <= $1")
                        .bind(now_ms)
                        .execute(&self.pool)
                        .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

secret_queries!(SqliteIndex);
secret_queries!(PostgresIndex);
