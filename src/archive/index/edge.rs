//! The edge configurations aggregate: `edge_configurations`, one KVS Edge Agent configuration per
//! stream (its row goes with the stream's: `ON DELETE CASCADE`). The `EdgeConfig` itself is kept
//! as JSON with the botocore member names; the columns beside it are what the queries select on
//! (hub device) or change (sync status, the agent's last recorder and uploader status, the
//! generation that reports must name).

use async_trait::async_trait;

use super::postgres::PostgresIndex;
use super::sqlite::SqliteIndex;
use super::{IndexError, referent_gone};
use crate::model::{EdgeConfig, EdgeConfigRecord, JobReport, JobStatus, SyncStatus};

/// Edge configurations and the status their agents report.
#[async_trait]
pub trait EdgeIndex: Send + Sync {
    /// Creates or replaces the stream's configuration: SYNCING, generation + 1, agent reports
    /// kept (they describe the agent, not the configuration). Returns the stored record;
    /// `NotFound` if the stream is gone.
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

    /// Sets the sync status if the stored generation is still `generation` and something
    /// changes; whether it did.
    async fn set_edge_sync_status(
        &self,
        stream_id: i64,
        generation: i64,
        status: SyncStatus,
        details: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, IndexError>;

    /// Records the agent's last recorder and/or uploader status (for `generation`); whether a
    /// row changed.
    async fn set_edge_job_reports(
        &self,
        stream_id: i64,
        generation: i64,
        recorder: Option<&JobReport>,
        uploader: Option<&JobReport>,
    ) -> Result<bool, IndexError>;

    /// DeleteEdgeConfiguration: DELETING, generation + 1. `NotFound` without a configuration.
    async fn mark_edge_config_deleting(&self, stream_id: i64, now_ms: i64) -> Result<(), IndexError>;

    /// Removes the configuration if it is still at `generation` (the agent finished deleting);
    /// whether it did.
    async fn remove_edge_config(&self, stream_id: i64, generation: i64) -> Result<bool, IndexError>;
}

/// An `edge_configurations` row joined with its stream's ARN and name.
#[derive(Debug, sqlx::FromRow)]
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
    recorder_status: Option<String>,
    recorder_details: Option<String>,
    recorder_collected_ms: Option<i64>,
    recorder_updated_ms: Option<i64>,
    uploader_status: Option<String>,
    uploader_details: Option<String>,
    uploader_collected_ms: Option<i64>,
    uploader_updated_ms: Option<i64>,
}

/// A job report from its four columns; none before the agent's first report.
fn job(
    status: Option<String>,
    details: Option<String>,
    collected: Option<i64>,
    updated: Option<i64>,
) -> Option<JobReport> {
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
            recorder: job(
                r.recorder_status,
                r.recorder_details,
                r.recorder_collected_ms,
                r.recorder_updated_ms,
            ),
            uploader: job(
                r.uploader_status,
                r.uploader_details,
                r.uploader_collected_ms,
                r.uploader_updated_ms,
            ),
        })
    }
}

/// `SELECT` of the columns [`EdgeRow`] reads, as a literal for `concat!`.
macro_rules! select_edge {
    () => {
        "SELECT e.stream_id, s.arn AS stream_arn, s.name AS stream_name, e.config_json, e.sync_status, \
         e.failed_details, e.created_at_ms, e.updated_at_ms, e.generation, e.recorder_status, \
         e.recorder_details, e.recorder_collected_ms, e.recorder_updated_ms, e.uploader_status, \
         e.uploader_details, e.uploader_collected_ms, e.uploader_updated_ms \
         FROM edge_configurations e JOIN streams s ON s.id = e.stream_id "
    };
}

macro_rules! edge_queries {
    ($backend:ident) => {
        #[async_trait]
        impl EdgeIndex for $backend {
            async fn put_edge_config(
                &self,
                stream_id: i64,
                config: &EdgeConfig,
                now_ms: i64,
            ) -> Result<EdgeConfigRecord, IndexError> {
                let json = serde_json::to_string(config)
                    .map_err(|e| IndexError::Other(format!("cannot encode edge configuration: {e}")))?;
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
                .map_err(referent_gone)?;
                self.edge_config(stream_id).await?.ok_or(IndexError::NotFound)
            }

            async fn edge_config(&self, stream_id: i64) -> Result<Option<EdgeConfigRecord>, IndexError> {
                let row: Option<EdgeRow> = sqlx::query_as(concat!(select_edge!(), "WHERE e.stream_id = $1"))
                    .bind(stream_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(EdgeConfigRecord::try_from).transpose()
            }

            async fn edge_configs_for_hub(
                &self,
                hub_device_arn: &str,
                after_stream_id: i64,
                limit: i64,
            ) -> Result<Vec<EdgeConfigRecord>, IndexError> {
                let rows: Vec<EdgeRow> = sqlx::query_as(concat!(
                    select_edge!(),
                    "WHERE e.hub_device_arn = $1 AND e.stream_id > $2 ORDER BY e.stream_id LIMIT $3"
                ))
                .bind(hub_device_arn)
                .bind(after_stream_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(EdgeConfigRecord::try_from).collect()
            }

            async fn all_edge_configs(&self) -> Result<Vec<EdgeConfigRecord>, IndexError> {
                let rows: Vec<EdgeRow> = sqlx::query_as(concat!(select_edge!(), "ORDER BY e.stream_id"))
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(EdgeConfigRecord::try_from).collect()
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
                     COALESCE(failed_details, '') <> COALESCE(CAST($2 AS TEXT), ''))",
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
                // One statement: a job whose report is absent keeps its columns (a NULL status
                // parameter selects the stored value).
                let status = |r: Option<&JobReport>| r.map(|r| r.status.as_str());
                let done = sqlx::query(
                    "UPDATE edge_configurations SET \
                     recorder_status = COALESCE(CAST($1 AS TEXT), recorder_status), \
                     recorder_details = CASE WHEN CAST($1 AS TEXT) IS NULL THEN recorder_details ELSE $2 END, \
                     recorder_collected_ms = CASE WHEN CAST($1 AS TEXT) IS NULL THEN recorder_collected_ms ELSE $3 END, \
                     recorder_updated_ms = CASE WHEN CAST($1 AS TEXT) IS NULL THEN recorder_updated_ms ELSE $4 END, \
                     uploader_status = COALESCE(CAST($5 AS TEXT), uploader_status), \
                     uploader_details = CASE WHEN CAST($5 AS TEXT) IS NULL THEN uploader_details ELSE $6 END, \
                     uploader_collected_ms = CASE WHEN CAST($5 AS TEXT) IS NULL THEN uploader_collected_ms ELSE $7 END, \
                     uploader_updated_ms = CASE WHEN CAST($5 AS TEXT) IS NULL THEN uploader_updated_ms ELSE $8 END \
                     WHERE stream_id = $9 AND generation = $10 \
                     AND (CAST($1 AS TEXT) IS NOT NULL OR CAST($5 AS TEXT) IS NOT NULL)",
                )
                .bind(status(recorder))
                .bind(recorder.map(|r| r.details.as_str()))
                .bind(recorder.map(|r| r.collected_ms))
                .bind(recorder.map(|r| r.updated_ms))
                .bind(status(uploader))
                .bind(uploader.map(|u| u.details.as_str()))
                .bind(uploader.map(|u| u.collected_ms))
                .bind(uploader.map(|u| u.updated_ms))
                .bind(stream_id)
                .bind(generation)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
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
                let done =
                    sqlx::query("DELETE FROM edge_configurations WHERE stream_id = $1 AND generation = $2")
                        .bind(stream_id)
                        .bind(generation)
                        .execute(&self.pool)
                        .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

edge_queries!(SqliteIndex);
edge_queries!(PostgresIndex);
