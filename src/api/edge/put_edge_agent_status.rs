//! `POST /openkvs/putEdgeAgentStatus` (openkvs's own): an `openkvs edge` agent reports the sync
//! status, the last recorder/uploader status of a configuration it runs, or that it finished
//! deleting one. AWS's Edge Agent sends the same facts through AWS IoT; openkvs has no IoT, so the
//! agent signs this call with its key like every other.
//!
//! The report names the `EdgeConfig` it is about; a report about another configuration than the
//! stored one (the operator updated it meanwhile) or from another hub device is dropped and
//! answered `{"Applied": false}`. An agent may move the status only along the model's path:
//! ACKNOWLEDGED, IN_SYNC or SYNC_FAILED for a live configuration, DELETING_ACKNOWLEDGED or
//! DELETE_FAILED (or `DeletionComplete`) for one being deleted. A sync or job status outside the
//! model's enums is refused (`InvalidArgumentException`). The agent's side of this shape is
//! `crate::edge::link`.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::edge_configurations::no_edge_configuration;
use crate::api::streams::StreamRef;
use crate::model::{EdgeConfig, JobReport, JobStatus, SyncStatus, required, validate_hub_device_arn};

/// `PutEdgeAgentStatusInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEdgeAgentStatusInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    hub_device_arn: Option<String>,
    edge_config: Option<EdgeConfig>,
    sync_status: Option<String>,
    failed_status_details: Option<String>,
    last_recorder_status: Option<JobStatusInput>,
    last_uploader_status: Option<JobStatusInput>,
    deletion_complete: Option<bool>,
}

/// A job status as the agent reports it (the recorder's and the uploader's share the shape).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobStatusInput {
    status: Option<String>,
    job_status_details: Option<String>,
    last_collected_time_ms: Option<i64>,
}

/// A job report, stamped with the server's clock when applied.
#[derive(Debug)]
pub struct ReportedJob {
    status: JobStatus,
    details: String,
    collected_ms: Option<i64>,
}

impl ReportedJob {
    fn parse(input: Option<JobStatusInput>, member: &str) -> Result<Option<Self>, AwsError> {
        let Some(j) = input else { return Ok(None) };
        let Some(status) = j.status else { return Ok(None) };
        let status = JobStatus::parse(&status).ok_or_else(|| {
            AwsError::invalid_argument(format!(
                "1 validation error detected: Value '{status}' at '{member}.status' failed to satisfy constraint: Member must satisfy enum value set: [SUCCESS, USER_ERROR, SYSTEM_ERROR]"
            ))
        })?;
        Ok(Some(ReportedJob {
            status,
            details: j.job_status_details.unwrap_or_default().chars().take(1024).collect(),
            collected_ms: j.last_collected_time_ms,
        }))
    }

    fn at(&self, now_ms: i64) -> JobReport {
        JobReport {
            status: self.status,
            details: self.details.clone(),
            collected_ms: self.collected_ms.unwrap_or(now_ms),
            updated_ms: now_ms,
        }
    }
}

/// A validated report.
#[derive(Debug)]
pub struct AgentReport {
    stream: StreamRef,
    hub: String,
    config: EdgeConfig,
    sync: Option<(SyncStatus, Option<String>)>,
    recorder: Option<ReportedJob>,
    uploader: Option<ReportedJob>,
    deletion_complete: bool,
}

impl OperationInput for PutEdgeAgentStatusInput {
    type Valid = AgentReport;

    fn validate(self) -> Result<AgentReport, AwsError> {
        let arn = required(self.stream_arn.as_deref(), "streamARN")?;
        let stream = StreamRef::from_input(None, Some(arn))?;
        let hub = required(self.hub_device_arn, "hubDeviceArn")?;
        validate_hub_device_arn(&hub, "hubDeviceArn")?;
        let config = required(self.edge_config, "edgeConfig")?;
        let sync = match self.sync_status.as_deref() {
            None => None,
            Some(s) => {
                let status = SyncStatus::parse(s).ok_or_else(|| {
                    AwsError::invalid_argument(format!(
                        "1 validation error detected: Value '{s}' at 'syncStatus' failed to satisfy constraint: Member must satisfy enum value set: [SYNCING, ACKNOWLEDGED, IN_SYNC, SYNC_FAILED, DELETING, DELETE_FAILED, DELETING_ACKNOWLEDGED]"
                    ))
                })?;
                let details = self.failed_status_details.map(|d| d.chars().take(1024).collect());
                Some((status, details))
            }
        };
        Ok(AgentReport {
            stream,
            hub,
            config,
            sync,
            recorder: ReportedJob::parse(self.last_recorder_status, "lastRecorderStatus")?,
            uploader: ReportedJob::parse(self.last_uploader_status, "lastUploaderStatus")?,
            deletion_complete: self.deletion_complete == Some(true),
        })
    }
}

/// `PutEdgeAgentStatusOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEdgeAgentStatusOutput {
    /// Whether the report was about the stored configuration (and so was applied).
    applied: bool,
}

/// Applies the report.
pub async fn handle(
    call: Call,
    Valid(report): Valid<PutEdgeAgentStatusInput>,
) -> Result<PutEdgeAgentStatusOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&report.stream).await?;
    let record = state.archive.edge_config(stream.id).await?.ok_or_else(no_edge_configuration)?;
    let not_applied = PutEdgeAgentStatusOutput { applied: false };
    if record.config.hub() != report.hub || record.config != report.config {
        return Ok(not_applied);
    }
    let now = state.clock.now_millis();
    let deleting = record.sync_status.is_deleting();
    if report.deletion_complete {
        if !deleting {
            return Ok(not_applied);
        }
        let removed = state.archive.remove_edge_config(stream.id, record.generation).await?;
        return Ok(PutEdgeAgentStatusOutput { applied: removed });
    }
    if let Some((status, details)) = &report.sync {
        let allowed = if deleting {
            matches!(status, SyncStatus::DeletingAcknowledged | SyncStatus::DeleteFailed)
        } else {
            matches!(status, SyncStatus::Acknowledged | SyncStatus::InSync | SyncStatus::SyncFailed)
        };
        if !allowed {
            return Ok(not_applied);
        }
        state
            .archive
            .set_edge_sync_status(stream.id, record.generation, *status, details.as_deref(), now)
            .await?;
    }
    let recorder = report.recorder.as_ref().map(|r| r.at(now));
    let uploader = report.uploader.as_ref().map(|u| u.at(now));
    if recorder.is_some() || uploader.is_some() {
        state
            .archive
            .set_edge_job_reports(stream.id, record.generation, recorder.as_ref(), uploader.as_ref())
            .await?;
    }
    Ok(PutEdgeAgentStatusOutput { applied: true })
}
