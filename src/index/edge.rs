//! The edge aggregate: KVS Edge Agent configurations (`edge_configurations`) and the Secrets
//! Manager-compatible secret store (`secrets`), behind [`EdgeStore`].
//!
//! Every query text here is written once with `$n` placeholders, which SQLite and Postgres both
//! bind; the `edge_store_impl!` macro instantiates the same method bodies for the SQLite and the
//! Postgres pool (migrations `0119_edge.sql` in each dialect folder). Like the rest of `index`, it
//! imports only `model` and knows nothing of HTTP or AWS error codes. Secret values are read only
//! by [`EdgeStore::secret_value`]; nothing here logs.

use std::fmt::Debug;

use async_trait::async_trait;

use super::IndexError;
use crate::model::{
    EdgeConfig, EdgeConfigRecord, JobReport, JobStatus, SecretRecord, SecretValue, SyncStatus,
};

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

/// Queries on edge configurations and secrets. Each method is one statement or transaction.
#[async_trait]
pub trait EdgeStore: Debug + Send + Sync {
    /// Creates or replaces the stream's configuration: SYNCING, generation + 1, agent reports
    /// kept (they describe the agent, not the configuration). Returns the stored record.
    async fn put_edge_config(
        &self,
        stream_id: i64,
        config: &EdgeConfig,
        now_ms: i64,
    ) -> Result<EdgeConfigRecord, IndexError>;

    /// The stream's configuration.
    async fn edge_config(&self, stream_id: i64) -> Result<Option<EdgeConfigRecord>, IndexError>;

    /// Configurations of one hub, in stream id order, after `after_stream_id`, at most `limit`.
    async fn edge_configs_for_hub(
        &self,
        hub_device_arn: &str,
        after_stream_id: i64,
        limit: i64,
    ) -> Result<Vec<EdgeConfigRecord>, IndexError>;

    /// Every configuration (the in-process agent picks those of its hubs).
    async fn all_edge_configs(&self) -> Result<Vec<EdgeConfigRecord>, IndexError>;

    /// Sets the sync status if the stored generation is still `generation`; false otherwise.
    async fn set_edge_sync_status(
        &self,
        stream_id: i64,
        generation: i64,
        status: SyncStatus,
        details: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, IndexError>;

    /// Records the agent's last recorder and/or uploader status (for `generation`).
    async fn set_edge_job_reports(
        &self,
        stream_id: i64,
        generation: i64,
        recorder: Option<&JobReport>,
        uploader: Option<&JobReport>,
    ) -> Result<bool, IndexError>;

    /// DeleteEdgeConfiguration: DELETING, generation + 1. NotFound without a configuration.
    async fn mark_edge_config_deleting(&self, stream_id: i64, now_ms: i64) -> Result<(), IndexError>;

    /// Removes the configuration if it is still at `generation` (the agent finished deleting).
    async fn remove_edge_config(&self, stream_id: i64, generation: i64) -> Result<bool, IndexError>;

    /// Creates a secret; `Conflict { SECRET_NAME_CONSTRAINT }` when the name exists in the region
    /// (scheduled for deletion or not).
    async fn create_secret(&self, secret: &NewSecret) -> Result<(), IndexError>;

    /// A secret's metadata by ARN, or by name in `region`; deleted-and-purged secrets are absent.
    async fn secret(&self, id: &str, region: &str, now_ms: i64) -> Result<Option<SecretRecord>, IndexError>;

    /// A secret's metadata and current value by ARN (or by name in `region`).
    async fn secret_value(
        &self,
        id: &str,
        region: &str,
        now_ms: i64,
    ) -> Result<Option<(SecretRecord, Option<SecretValue>)>, IndexError>;

    /// Replaces the current value (new version id).
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

    /// Removes secrets whose deletion took effect before `now_ms` (lazily, before a create).
    async fn purge_secrets(&self, now_ms: i64) -> Result<u64, IndexError>;
}

macro_rules! select_edge {
    ($tail:literal) => {
        concat!(
            "SELECT e.stream_id, s.arn AS stream_arn, s.name AS stream_name, e.config_json, e.sync_status, ",
            "e.failed_details, e.created_at_ms, e.updated_at_ms, e.generation, e.recorder_status, e.recorder_details, ",
            "e.recorder_collected_ms, e.recorder_updated_ms, e.uploader_status, e.uploader_details, ",
            "e.uploader_collected_ms, e.uploader_updated_ms ",
            "FROM edge_configurations e JOIN streams s ON s.id = e.stream_id ",
            $tail
        )
    };
}

macro_rules! select_secret {
    ($tail:literal) => {
        concat!(
            "SELECT arn, name, description, kms_key_id, version_id, created_at_ms, changed_at_ms, deleted_at_ms, ",
            "purge_at_ms, secret_string, secret_binary FROM secrets WHERE (arn = $1 OR (region = $2 AND name = $1)) ",
            "AND (purge_at_ms IS NULL OR purge_at_ms > $3) ",
            $tail
        )
    };
}

/// The raw columns of one edge configuration row.
struct EdgeRow {
    stream_id: i64,
    stream_arn: String,
    stream_name: String,
    config_json: String,
    sync_status: String,
    failed_details: Option<String>,
    created_at_ms: i64,
    updated_at_ms: i64,
    generation: i64,
    recorder: (Option<String>, Option<String>, Option<i64>, Option<i64>),
    uploader: (Option<String>, Option<String>, Option<i64>, Option<i64>),
}

fn job(raw: (Option<String>, Option<String>, Option<i64>, Option<i64>)) -> Option<JobReport> {
    let (status, details, collected, updated) = raw;
    Some(JobReport {
        status: JobStatus::parse(&status?)?,
        details: details.unwrap_or_default(),
        collected_ms: collected.unwrap_or(0),
        updated_ms: updated.unwrap_or(0),
    })
}

impl TryFrom<EdgeRow> for EdgeConfigRecord {
    type Error = IndexError;

    fn try_from(r: EdgeRow) -> Result<Self, IndexError> {
        let config: EdgeConfig = serde_json::from_str(&r.config_json).map_err(|e| {
            IndexError::Other(format!("corrupt edge configuration of stream {}: {e}", r.stream_id))
        })?;
        let sync_status = SyncStatus::parse(&r.sync_status)
            .ok_or_else(|| IndexError::Other(format!("unknown sync status {:?}", r.sync_status)))?;
        Ok(EdgeConfigRecord {
            stream_id: r.stream_id,
            stream_arn: r.stream_arn,
            stream_name: r.stream_name,
            config,
            sync_status,
            failed_details: r.failed_details,
            created_ms: r.created_at_ms,
            updated_ms: r.updated_at_ms,
            generation: r.generation,
            recorder: job(r.recorder),
            uploader: job(r.uploader),
        })
    }
}

/// A write refused by the `REFERENCES streams` foreign key means the stream is gone.
fn stream_gone(e: sqlx::Error) -> IndexError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => IndexError::NotFound,
        other => other.into(),
    }
}

fn config_json(config: &EdgeConfig) -> Result<String, IndexError> {
    serde_json::to_string(config)
        .map_err(|e| IndexError::Other(format!("cannot encode edge configuration: {e}")))
}

/// Instantiates [`EdgeStore`] for one sqlx pool type; the bodies (and the SQL) are the same for
/// both backends.
macro_rules! edge_store_impl {
    ($name:ident, $pool:ty, $row:ty) => {
        /// [`EdgeStore`] on this backend's pool (shares the index's connections).
        #[derive(Debug, Clone)]
        pub struct $name {
            pool: $pool,
        }

        impl $name {
            /// Wraps the index's pool.
            pub fn new(pool: $pool) -> Self {
                Self { pool }
            }

            fn edge_row(row: &$row) -> Result<EdgeConfigRecord, IndexError> {
                use sqlx::Row;
                EdgeRow {
                    stream_id: row.try_get("stream_id")?,
                    stream_arn: row.try_get("stream_arn")?,
                    stream_name: row.try_get("stream_name")?,
                    config_json: row.try_get("config_json")?,
                    sync_status: row.try_get("sync_status")?,
                    failed_details: row.try_get("failed_details")?,
                    created_at_ms: row.try_get("created_at_ms")?,
                    updated_at_ms: row.try_get("updated_at_ms")?,
                    generation: row.try_get("generation")?,
                    recorder: (
                        row.try_get("recorder_status")?,
                        row.try_get("recorder_details")?,
                        row.try_get("recorder_collected_ms")?,
                        row.try_get("recorder_updated_ms")?,
                    ),
                    uploader: (
                        row.try_get("uploader_status")?,
                        row.try_get("uploader_details")?,
                        row.try_get("uploader_collected_ms")?,
                        row.try_get("uploader_updated_ms")?,
                    ),
                }
                .try_into()
            }

            fn secret_row(row: &$row) -> Result<(SecretRecord, Option<SecretValue>), IndexError> {
                use sqlx::Row;
                let record = SecretRecord {
                    arn: row.try_get("arn")?,
                    name: row.try_get("name")?,
                    description: row.try_get("description")?,
                    kms_key_id: row.try_get("kms_key_id")?,
                    version_id: row.try_get("version_id")?,
                    created_ms: row.try_get("created_at_ms")?,
                    changed_ms: row.try_get("changed_at_ms")?,
                    deleted_ms: row.try_get("deleted_at_ms")?,
                    purge_ms: row.try_get("purge_at_ms")?,
                };
                let text: Option<String> = row.try_get("secret_string")?;
                let binary: Option<Vec<u8>> = row.try_get("secret_binary")?;
                let value = text.map(SecretValue::Text).or(binary.map(SecretValue::Binary));
                Ok((record, value))
            }
        }

        #[async_trait]
        impl EdgeStore for $name {
            async fn put_edge_config(
                &self,
                stream_id: i64,
                config: &EdgeConfig,
                now_ms: i64,
            ) -> Result<EdgeConfigRecord, IndexError> {
                let json = config_json(config)?;
                sqlx::query(
                    "INSERT INTO edge_configurations (stream_id, hub_device_arn, config_json, sync_status, \
                     failed_details, created_at_ms, updated_at_ms, generation) \
                     VALUES ($1, $2, $3, 'SYNCING', NULL, $4, $4, 1) \
                     ON CONFLICT (stream_id) DO UPDATE SET hub_device_arn = excluded.hub_device_arn, \
                     config_json = excluded.config_json, sync_status = 'SYNCING', failed_details = NULL, \
                     updated_at_ms = excluded.updated_at_ms, generation = edge_configurations.generation + 1",
                )
                .bind(stream_id)
                .bind(config.hub())
                .bind(&json)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(stream_gone)?;
                self.edge_config(stream_id).await?.ok_or(IndexError::NotFound)
            }

            async fn edge_config(&self, stream_id: i64) -> Result<Option<EdgeConfigRecord>, IndexError> {
                let row = sqlx::query(select_edge!("WHERE e.stream_id = $1"))
                    .bind(stream_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(Self::edge_row).transpose()
            }

            async fn edge_configs_for_hub(
                &self,
                hub_device_arn: &str,
                after_stream_id: i64,
                limit: i64,
            ) -> Result<Vec<EdgeConfigRecord>, IndexError> {
                let rows = sqlx::query(select_edge!(
                    "WHERE e.hub_device_arn = $1 AND e.stream_id > $2 ORDER BY e.stream_id LIMIT $3"
                ))
                .bind(hub_device_arn)
                .bind(after_stream_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::edge_row).collect()
            }

            async fn all_edge_configs(&self) -> Result<Vec<EdgeConfigRecord>, IndexError> {
                let rows = sqlx::query(select_edge!("ORDER BY e.stream_id")).fetch_all(&self.pool).await?;
                rows.iter().map(Self::edge_row).collect()
            }

            async fn set_edge_sync_status(
                &self,
                stream_id: i64,
                generation: i64,
                status: SyncStatus,
                details: Option<&str>,
                now_ms: i64,
            ) -> Result<bool, IndexError> {
                let done = sqlx::query(
                    "UPDATE edge_configurations SET sync_status = $1, failed_details = $2, updated_at_ms = $3 \
                     WHERE stream_id = $4 AND generation = $5 AND (sync_status <> $1 OR \
                     COALESCE(failed_details, '') <> COALESCE($2, ''))",
                )
                .bind(status.as_str())
                .bind(details)
                .bind(now_ms)
                .bind(stream_id)
                .bind(generation)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_edge_job_reports(
                &self,
                stream_id: i64,
                generation: i64,
                recorder: Option<&JobReport>,
                uploader: Option<&JobReport>,
            ) -> Result<bool, IndexError> {
                let mut any = false;
                if let Some(r) = recorder {
                    let done = sqlx::query(
                        "UPDATE edge_configurations SET recorder_status = $1, recorder_details = $2, \
                         recorder_collected_ms = $3, recorder_updated_ms = $4 WHERE stream_id = $5 AND generation = $6",
                    )
                    .bind(r.status.as_str())
                    .bind(&r.details)
                    .bind(r.collected_ms)
                    .bind(r.updated_ms)
                    .bind(stream_id)
                    .bind(generation)
                    .execute(&self.pool)
                    .await?;
                    any |= done.rows_affected() == 1;
                }
                if let Some(u) = uploader {
                    let done = sqlx::query(
                        "UPDATE edge_configurations SET uploader_status = $1, uploader_details = $2, \
                         uploader_collected_ms = $3, uploader_updated_ms = $4 WHERE stream_id = $5 AND generation = $6",
                    )
                    .bind(u.status.as_str())
                    .bind(&u.details)
                    .bind(u.collected_ms)
                    .bind(u.updated_ms)
                    .bind(stream_id)
                    .bind(generation)
                    .execute(&self.pool)
                    .await?;
                    any |= done.rows_affected() == 1;
                }
                Ok(any)
            }

            async fn mark_edge_config_deleting(&self, stream_id: i64, now_ms: i64) -> Result<(), IndexError> {
                let done = sqlx::query(
                    "UPDATE edge_configurations SET sync_status = 'DELETING', failed_details = NULL, \
                     updated_at_ms = $1, generation = generation + 1 WHERE stream_id = $2",
                )
                .bind(now_ms)
                .bind(stream_id)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 { Err(IndexError::NotFound) } else { Ok(()) }
            }

            async fn remove_edge_config(&self, stream_id: i64, generation: i64) -> Result<bool, IndexError> {
                let done = sqlx::query("DELETE FROM edge_configurations WHERE stream_id = $1 AND generation = $2")
                    .bind(stream_id)
                    .bind(generation)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_secret(&self, secret: &NewSecret) -> Result<(), IndexError> {
                let r = &secret.record;
                let (text, binary) = match &secret.value {
                    Some(SecretValue::Text(t)) => (Some(t.as_str()), None),
                    Some(SecretValue::Binary(b)) => (None, Some(b.as_slice())),
                    None => (None, None),
                };
                sqlx::query(
                    "INSERT INTO secrets (arn, region, name, description, kms_key_id, secret_string, secret_binary, \
                     version_id, created_at_ms, changed_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
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

            async fn secret(&self, id: &str, region: &str, now_ms: i64) -> Result<Option<SecretRecord>, IndexError> {
                Ok(self.secret_value(id, region, now_ms).await?.map(|(r, _)| r))
            }

            async fn secret_value(
                &self,
                id: &str,
                region: &str,
                now_ms: i64,
            ) -> Result<Option<(SecretRecord, Option<SecretValue>)>, IndexError> {
                let row = sqlx::query(select_secret!("LIMIT 1"))
                    .bind(id)
                    .bind(region)
                    .bind(now_ms)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(Self::secret_row).transpose()
            }

            async fn put_secret_value(
                &self,
                arn: &str,
                value: &SecretValue,
                version_id: &str,
                now_ms: i64,
            ) -> Result<(), IndexError> {
                let (text, binary) = match value {
                    SecretValue::Text(t) => (Some(t.as_str()), None),
                    SecretValue::Binary(b) => (None, Some(b.as_slice())),
                };
                let done = sqlx::query(
                    "UPDATE secrets SET secret_string = $1, secret_binary = $2, version_id = $3, changed_at_ms = $4 \
                     WHERE arn = $5",
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

            async fn schedule_secret_deletion(&self, arn: &str, now_ms: i64, purge_ms: i64) -> Result<(), IndexError> {
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
                let done = sqlx::query("DELETE FROM secrets WHERE purge_at_ms IS NOT NULL AND purge_at_ms <= $1")
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

edge_store_impl!(SqliteEdgeStore, sqlx::SqlitePool, sqlx::sqlite::SqliteRow);
edge_store_impl!(PostgresEdgeStore, sqlx::PgPool, sqlx::postgres::PgRow);
