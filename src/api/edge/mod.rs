//! The KVS Edge Agent operations of `kinesisvideo` (StartEdgeConfigurationUpdate,
//! DescribeEdgeConfiguration, ListEdgeAgentConfigurations, DeleteEdgeConfiguration) and openkvs's
//! own PutEdgeAgentStatus, by which an agent reports back. One file per operation, each with its
//! typed input and output; [`router`] registers them by [`Operation::path`]. The configurations
//! live in the index's edge aggregate; the agent itself is `crate::edge`.

pub mod delete_edge_configuration;
pub mod describe_edge_configuration;
pub mod list_edge_agent_configurations;
pub mod put_edge_agent_status;
pub mod start_edge_configuration_update;

use axum::Router;
use axum::routing::post;
use serde::Serialize;

use super::AppState;
use super::aws::{AwsError, AwsErrorCode, EpochSeconds, Operation};
use crate::model::{EdgeConfig, EdgeConfigRecord, JobReport};

/// The edge routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            start_edge_configuration_update::OPERATION.path(),
            post(start_edge_configuration_update::handle),
        )
        .route(describe_edge_configuration::OPERATION.path(), post(describe_edge_configuration::handle))
        .route(list_edge_agent_configurations::OPERATION.path(), post(list_edge_agent_configurations::handle))
        .route(delete_edge_configuration::OPERATION.path(), post(delete_edge_configuration::handle))
        .route(put_edge_agent_status::OPERATION.path(), post(put_edge_agent_status::handle))
}

/// The members StartEdgeConfigurationUpdate, DescribeEdgeConfiguration and each
/// `ListEdgeAgentConfigurationsEdgeConfig` share.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EdgeConfigurationShape {
    /// `StreamName`.
    pub stream_name: String,
    /// `StreamARN`.
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    /// `CreationTime`.
    pub creation_time: EpochSeconds,
    /// `LastUpdatedTime`.
    pub last_updated_time: EpochSeconds,
    /// `SyncStatus`.
    pub sync_status: &'static str,
    /// `FailedStatusDetails`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_status_details: Option<String>,
    /// `EdgeConfig` as given (it names the secret by ARN; the secret's value is never here).
    pub edge_config: EdgeConfig,
}

impl EdgeConfigurationShape {
    /// The shape of a stored record as of `now_ms`.
    pub fn from_record(r: &EdgeConfigRecord, now_ms: i64) -> Self {
        let (status, details) = r.status_at(now_ms);
        EdgeConfigurationShape {
            stream_name: r.stream_name.clone(),
            stream_arn: r.stream_arn.clone(),
            creation_time: EpochSeconds(r.created_ms),
            last_updated_time: EpochSeconds(r.updated_ms),
            sync_status: status.as_str(),
            failed_status_details: details,
            edge_config: r.config.clone(),
        }
    }
}

/// `LastRecorderStatus` / `LastUploaderStatus` (the status member's name differs).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobStatusOutput {
    /// `JobStatusDetails`.
    pub job_status_details: String,
    /// `LastCollectedTime`.
    pub last_collected_time: EpochSeconds,
    /// `LastUpdatedTime`.
    pub last_updated_time: EpochSeconds,
    /// `RecorderStatus`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorder_status: Option<&'static str>,
    /// `UploaderStatus`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploader_status: Option<&'static str>,
}

impl JobStatusOutput {
    /// A recorder report.
    pub fn recorder(r: &JobReport) -> Self {
        JobStatusOutput { recorder_status: Some(r.status.as_str()), ..Self::common(r) }
    }

    /// An uploader report.
    pub fn uploader(r: &JobReport) -> Self {
        JobStatusOutput { uploader_status: Some(r.status.as_str()), ..Self::common(r) }
    }

    fn common(r: &JobReport) -> Self {
        JobStatusOutput {
            job_status_details: r.details.clone(),
            last_collected_time: EpochSeconds(r.collected_ms),
            last_updated_time: EpochSeconds(r.updated_ms),
            recorder_status: None,
            uploader_status: None,
        }
    }
}

/// `StreamEdgeConfigurationNotFoundException`.
pub fn no_edge_configuration() -> AwsError {
    AwsError::new(
        AwsErrorCode::StreamEdgeConfigurationNotFoundException,
        "The stream has no edge configuration. Call StartEdgeConfigurationUpdate first.",
    )
}

/// The operations of this family (for the module map and tests).
pub const OPERATIONS: [Operation; 5] = [
    Operation::StartEdgeConfigurationUpdate,
    Operation::DescribeEdgeConfiguration,
    Operation::ListEdgeAgentConfigurations,
    Operation::DeleteEdgeConfiguration,
    Operation::PutEdgeAgentStatus,
];
