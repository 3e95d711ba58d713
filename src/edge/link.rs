//! How an agent reaches the server: its configurations, the camera secrets, where to upload, and
//! where its status goes. [`AgentLink`] has two implementations:
//!
//! - inside `openkvs serve`, `app`'s link on the archive (its edge and secret aggregates), which
//!   uploads to the server's own listener;
//! - [`RemoteLink`], for `openkvs edge` on the camera's network: SigV4-signed calls to the server,
//!   `ListEdgeAgentConfigurations` (kinesisvideo), `GetSecretValue` (secretsmanager, JSON 1.1),
//!   `GetDataEndpoint`, and openkvs's own `PutEdgeAgentStatus` for the status that AWS's agent
//!   sends through IoT.
//!
//! Both check the `[edge.secrets]` / environment secrets first. Nothing here logs a secret.

use std::fmt::Debug;

use async_trait::async_trait;
use aws_sdk_kinesisvideo::config::Credentials;
use serde::{Deserialize, Serialize};

use super::secrets::StaticSecrets;
use crate::model::{EdgeConfig, EdgeConfigRecord, JobReport, JobStatus, SecretValue, SyncStatus};
use crate::producer::data_client::{DataConnection, read_ok};

/// One configuration assigned to this agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Assigned {
    /// The stream's ARN (the job's identity).
    pub stream_arn: String,
    /// The stream's name (`x-amzn-stream-name` of the uploads).
    pub stream_name: String,
    /// The configuration.
    pub config: EdgeConfig,
    /// Its sync status as the server has it.
    pub sync_status: SyncStatus,
    /// The index's generation (local link only): reports about an older generation are ignored.
    pub generation: i64,
    /// The index's stream id (local link only).
    pub stream_id: i64,
}

impl Assigned {
    /// The assignment of a stored configuration (the server-side link's view).
    pub fn from_record(r: EdgeConfigRecord) -> Self {
        Assigned {
            stream_arn: r.stream_arn,
            stream_name: r.stream_name,
            config: r.config,
            sync_status: r.sync_status,
            generation: r.generation,
            stream_id: r.stream_id,
        }
    }
}

/// Where and as whom to upload.
#[derive(Debug, Clone)]
pub struct UploadTarget {
    /// The PutMedia data endpoint.
    pub data_endpoint: String,
    /// SigV4 region.
    pub region: String,
    /// SigV4 credentials.
    pub credentials: Credentials,
}

/// Why a secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// It does not exist, is being deleted, or is not a text URI: the user must fix it.
    Unusable(String),
    /// The server could not be asked.
    Unreachable(String),
}

/// What the agent needs from the server. See the module documentation.
#[async_trait]
pub trait AgentLink: Debug + Send + Sync {
    /// The configurations of this agent's hub devices (deleting ones included).
    async fn assigned(&self) -> Result<Vec<Assigned>, String>;
    /// The value of the secret `arn` (the camera URI).
    async fn secret(&self, arn: &str) -> Result<String, SecretError>;
    /// Sets the sync status of `c`.
    async fn report_sync(
        &self,
        c: &Assigned,
        status: SyncStatus,
        details: Option<&str>,
    ) -> Result<(), String>;
    /// Records the last recorder and/or uploader status of `c`.
    async fn report_jobs(
        &self,
        c: &Assigned,
        recorder: Option<&JobReport>,
        uploader: Option<&JobReport>,
    ) -> Result<(), String>;
    /// The agent stopped `c`'s jobs and deleted its local media: the configuration is gone.
    async fn deleted(&self, c: &Assigned) -> Result<(), String>;
    /// Where to upload `c`'s stream.
    async fn upload_target(&self, c: &Assigned) -> Result<UploadTarget, String>;
}

/// The region in a stream ARN (`arn:aws:kinesisvideo:REGION:…`).
pub fn arn_region(arn: &str) -> String {
    arn.split(':').nth(3).unwrap_or("us-east-1").to_owned()
}

/// The camera URI a secret's value holds: its text (or UTF-8 binary); a user error otherwise.
pub fn secret_uri(value: Option<SecretValue>, arn: &str) -> Result<String, SecretError> {
    match value {
        Some(SecretValue::Text(t)) => Ok(t),
        Some(SecretValue::Binary(b)) => String::from_utf8(b)
            .map_err(|_| SecretError::Unusable(format!("The secret {arn} holds binary data, not a URI."))),
        None => Err(SecretError::Unusable(format!("The secret {arn} has no value."))),
    }
}

/// `ListEdgeAgentConfigurations` output as the remote agent reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListOutput {
    #[serde(default)]
    edge_configs: Vec<ListedConfig>,
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedConfig {
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_name: String,
    sync_status: Option<String>,
    edge_config: EdgeConfig,
}

/// The body of openkvs's `PutEdgeAgentStatus` (`POST /openkvs/putEdgeAgentStatus`): what AWS's
/// Edge Agent reports through IoT. The server applies it only if `EdgeConfig` is the stored
/// configuration (a report about an older one is dropped).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AgentStatusReport {
    /// The stream.
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    /// The reporting agent's hub device.
    pub hub_device_arn: Option<String>,
    /// The configuration the report is about.
    pub edge_config: Option<EdgeConfig>,
    /// A new sync status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_status: Option<String>,
    /// Failure details with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_status_details: Option<String>,
    /// The recorder's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_recorder_status: Option<JobStatusShape>,
    /// The uploader's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_uploader_status: Option<JobStatusShape>,
    /// The agent deleted the configuration's media: remove it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_complete: Option<bool>,
}

/// A job status on the wire (the recorder's and the uploader's share the shape; the status
/// member is `Status` here).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct JobStatusShape {
    /// SUCCESS | USER_ERROR | SYSTEM_ERROR.
    pub status: Option<String>,
    /// What happened.
    pub job_status_details: Option<String>,
    /// When the agent observed it, epoch ms.
    pub last_collected_time_ms: Option<i64>,
}

impl JobStatusShape {
    /// From a report.
    pub fn from_report(r: &JobReport) -> Self {
        JobStatusShape {
            status: Some(r.status.as_str().to_owned()),
            job_status_details: Some(r.details.clone()),
            last_collected_time_ms: Some(r.collected_ms),
        }
    }

    /// To a report stored at `now_ms`; `None` when the status is missing or unknown.
    pub fn to_report(&self, now_ms: i64) -> Option<JobReport> {
        Some(JobReport {
            status: JobStatus::parse(self.status.as_deref()?)?,
            details: self.job_status_details.clone().unwrap_or_default().chars().take(1024).collect(),
            collected_ms: self.last_collected_time_ms.unwrap_or(now_ms),
            updated_ms: now_ms,
        })
    }
}

/// The agent of `openkvs edge`, talking to the server over HTTP.
pub struct RemoteLink {
    hub_device_arn: String,
    region: String,
    credentials: Credentials,
    conn: tokio::sync::Mutex<DataConnection>,
    secrets: StaticSecrets,
}

impl std::fmt::Debug for RemoteLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteLink")
            .field("hub_device_arn", &self.hub_device_arn)
            .field("region", &self.region)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl RemoteLink {
    /// A link to the server at `endpoint` for the hub `hub_device_arn`.
    pub fn new(
        endpoint: &str,
        hub_device_arn: &str,
        region: &str,
        credentials: Credentials,
        secrets: StaticSecrets,
    ) -> Result<Self, String> {
        let conn = DataConnection::new(endpoint).map_err(|e| e.to_string())?;
        Ok(RemoteLink {
            hub_device_arn: hub_device_arn.to_owned(),
            region: region.to_owned(),
            credentials,
            conn: tokio::sync::Mutex::new(conn),
            secrets,
        })
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> Result<bytes::Bytes, String> {
        let mut conn = self.conn.lock().await;
        let response = conn
            .post_json(path, body.to_string().into_bytes(), &self.credentials, &self.region)
            .await
            .map_err(|e| e.to_string())?;
        read_ok(response).await.map_err(|e| e.to_string())
    }

    async fn report(&self, c: &Assigned, mut r: AgentStatusReport) -> Result<(), String> {
        r.stream_arn = Some(c.stream_arn.clone());
        r.hub_device_arn = Some(self.hub_device_arn.clone());
        r.edge_config = Some(c.config.clone());
        let body = serde_json::to_value(&r).map_err(|e| e.to_string())?;
        self.post("/openkvs/putEdgeAgentStatus", body).await.map(|_| ())
    }
}

#[async_trait]
impl AgentLink for RemoteLink {
    async fn assigned(&self) -> Result<Vec<Assigned>, String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = serde_json::json!({ "HubDeviceArn": self.hub_device_arn, "MaxResults": 10 });
            if let Some(t) = &token {
                body["NextToken"] = serde_json::Value::String(t.clone());
            }
            let bytes = self.post("/listEdgeAgentConfigurations", body).await?;
            let page: ListOutput = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
            for c in page.edge_configs {
                out.push(Assigned {
                    stream_arn: c.stream_arn,
                    stream_name: c.stream_name,
                    config: c.edge_config,
                    sync_status: c
                        .sync_status
                        .as_deref()
                        .and_then(SyncStatus::parse)
                        .unwrap_or(SyncStatus::Syncing),
                    generation: 0,
                    stream_id: 0,
                });
            }
            match page.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    async fn secret(&self, arn: &str) -> Result<String, SecretError> {
        if let Some(v) = self.secrets.get(arn) {
            return Ok(v.to_owned());
        }
        let body = serde_json::json!({ "SecretId": arn }).to_string().into_bytes();
        let response = {
            let mut conn = self.conn.lock().await;
            conn.post_json_target(
                "secretsmanager",
                "secretsmanager.GetSecretValue",
                body,
                &self.credentials,
                &self.region,
            )
            .await
            .map_err(|e| SecretError::Unreachable(e.to_string()))?
        };
        let status = response.status();
        let bytes = read_ok(response).await.map_err(|e| {
            if status.is_client_error() {
                SecretError::Unusable(e.to_string())
            } else {
                SecretError::Unreachable(e.to_string())
            }
        })?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| SecretError::Unreachable(e.to_string()))?;
        match v.get("SecretString").and_then(|s| s.as_str()) {
            Some(s) => Ok(s.to_owned()),
            None => Err(SecretError::Unusable(format!("The secret {arn} holds no SecretString."))),
        }
    }

    async fn report_sync(
        &self,
        c: &Assigned,
        status: SyncStatus,
        details: Option<&str>,
    ) -> Result<(), String> {
        let r = AgentStatusReport {
            sync_status: Some(status.as_str().to_owned()),
            failed_status_details: details.map(str::to_owned),
            ..AgentStatusReport::default()
        };
        self.report(c, r).await
    }

    async fn report_jobs(
        &self,
        c: &Assigned,
        recorder: Option<&JobReport>,
        uploader: Option<&JobReport>,
    ) -> Result<(), String> {
        let r = AgentStatusReport {
            last_recorder_status: recorder.map(JobStatusShape::from_report),
            last_uploader_status: uploader.map(JobStatusShape::from_report),
            ..AgentStatusReport::default()
        };
        self.report(c, r).await
    }

    async fn deleted(&self, c: &Assigned) -> Result<(), String> {
        self.report(c, AgentStatusReport { deletion_complete: Some(true), ..AgentStatusReport::default() })
            .await
    }

    async fn upload_target(&self, c: &Assigned) -> Result<UploadTarget, String> {
        let body = serde_json::json!({ "StreamARN": c.stream_arn, "APIName": "PUT_MEDIA" });
        let bytes = self.post("/getDataEndpoint", body).await?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let endpoint = v
            .get("DataEndpoint")
            .and_then(|e| e.as_str())
            .ok_or("GetDataEndpoint returned no DataEndpoint")?;
        Ok(UploadTarget {
            data_endpoint: endpoint.to_owned(),
            region: self.region.clone(),
            credentials: self.credentials.clone(),
        })
    }
}
