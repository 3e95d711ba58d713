//! The shapes the edge operations share: the configuration members StartEdgeConfigurationUpdate,
//! DescribeEdgeConfiguration and each `ListEdgeAgentConfigurationsEdgeConfig` return
//! ([`EdgeConfigurationShape`]), the agent's last job statuses ([`JobStatusOutput`]), and the error
//! for a stream without a configuration. The camera secret appears by ARN only, never its value.
//! Handlers live in `api::edge`; this module does no I/O.

use serde::Serialize;

use super::aws::{AwsError, AwsErrorCode, EpochSeconds};
use crate::model::{EdgeConfig, EdgeConfigRecord, JobReport};

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
