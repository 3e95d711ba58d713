//! Hosting the edge agent inside `openkvs serve`: which agent runs (`[edge]`, a key that may
//! upload), and its link to this server's own archive ([`ArchiveLink`]): the configurations of the
//! server's hub devices, the secrets created with CreateSecret, and the status the agent reports,
//! read and written through the archive's edge and secret aggregates. The agent itself (recorder,
//! buffer, uploader) is `crate::edge`, a client that imports no server module; its media reaches
//! the archive through PutMedia on the main listener like any camera's. Nothing here logs a secret.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kinesisvideo::config::Credentials;

use super::config::Config;
use crate::api::ListenerInfo;
use crate::archive::Archive;
use crate::auth::AuthMode;
use crate::edge::agent::{Agent, AgentOptions};
use crate::edge::link::{AgentLink, Assigned, SecretError, UploadTarget, arn_region, secret_uri};
use crate::edge::now_ms;
use crate::edge::recorder::JobTiming;
use crate::edge::secrets::StaticSecrets;
use crate::model::{JobReport, SecretArn, SyncStatus, hub_thing_name};

/// The agent inside `openkvs serve`, on the archive.
#[derive(Debug)]
pub struct ArchiveLink {
    archive: Arc<Archive>,
    thing_names: Vec<String>,
    secrets: StaticSecrets,
    self_url: String,
    credentials: Credentials,
}

#[async_trait]
impl AgentLink for ArchiveLink {
    async fn assigned(&self) -> Result<Vec<Assigned>, String> {
        let all = self.archive.all_edge_configs().await.map_err(|e| e.to_string())?;
        Ok(all
            .into_iter()
            .filter(|r| self.thing_names.iter().any(|t| t == hub_thing_name(r.config.hub())))
            .map(Assigned::from_record)
            .collect())
    }

    async fn secret(&self, arn: &str) -> Result<String, SecretError> {
        if let Some(v) = self.secrets.get(arn) {
            return Ok(v.to_owned());
        }
        let region = SecretArn::parse_member(arn, "mediaUriSecretArn")
            .map(|a| a.region)
            .map_err(|e| SecretError::Unusable(e.0))?;
        let found = self
            .archive
            .secret_value(arn, &region, now_ms())
            .await
            .map_err(|e| SecretError::Unreachable(e.to_string()))?;
        match found {
            None => {
                Err(SecretError::Unusable(format!("Secrets Manager can't find the specified secret {arn}.")))
            }
            Some((record, _)) if record.deleted_ms.is_some() => {
                Err(SecretError::Unusable(format!("The secret {arn} is scheduled for deletion.")))
            }
            Some((_, value)) => secret_uri(value, arn),
        }
    }

    async fn report_sync(
        &self,
        c: &Assigned,
        status: SyncStatus,
        details: Option<&str>,
    ) -> Result<(), String> {
        self.archive
            .set_edge_sync_status(c.stream_id, c.generation, status, details, now_ms())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn report_jobs(
        &self,
        c: &Assigned,
        recorder: Option<&JobReport>,
        uploader: Option<&JobReport>,
    ) -> Result<(), String> {
        self.archive
            .set_edge_job_reports(c.stream_id, c.generation, recorder, uploader)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn deleted(&self, c: &Assigned) -> Result<(), String> {
        self.archive
            .remove_edge_config(c.stream_id, c.generation)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn upload_target(&self, c: &Assigned) -> Result<UploadTarget, String> {
        Ok(UploadTarget {
            data_endpoint: self.self_url.clone(),
            region: arn_region(&c.stream_arn),
            credentials: self.credentials.clone(),
        })
    }
}

/// The edge agent for this server's own hub devices (`[edge]`): it uploads to the main listener
/// (127.0.0.1 for a wildcard address) with the first configured key that may call PutMedia on any
/// stream. Without such a key (and not in open mode) it does not run, and says so.
pub fn local_agent(config: &Config, archive: Arc<Archive>, main: &ListenerInfo) -> Option<Agent> {
    let edge = &config.edge;
    if !edge.enabled || edge.hub_thing_names.is_empty() {
        return None;
    }
    let key = config.auth.keys.iter().find(|k| {
        k.operations.as_ref().is_none_or(|ops| ops.iter().any(|o| o == "PutMedia")) && k.streams.is_none()
    });
    let credentials = match (key, config.auth.mode) {
        (Some(k), _) => Credentials::new(&k.access_key_id, &k.secret_access_key, None, None, "openkvs-edge"),
        (None, AuthMode::Open) => Credentials::new("openkvs-edge", "open", None, None, "openkvs-edge"),
        (None, AuthMode::Keys) => {
            tracing::warn!(
                "edge recorder disabled: no [[auth.keys]] entry may call PutMedia on every stream (the recorder uploads with it)"
            );
            return None;
        }
    };
    let mut addr = main.local_addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv6() {
            std::net::Ipv6Addr::LOCALHOST.into()
        } else {
            std::net::Ipv4Addr::LOCALHOST.into()
        });
    }
    let self_url = format!("{}://{}", main.scheme, addr);
    let link = ArchiveLink {
        archive,
        thing_names: edge.hub_thing_names.clone(),
        secrets: StaticSecrets::load(&edge.secrets),
        self_url,
        credentials,
    };
    let options = AgentOptions {
        buffer_dir: edge.buffer_dir.clone().unwrap_or_else(|| config.data_dir.join("edge")),
        poll_interval: Duration::from_secs(edge.poll_interval_secs.max(1)),
        timing: JobTiming {
            max_backoff: Duration::from_secs(edge.max_backoff_secs.max(1)),
            stall_timeout: Duration::from_secs(edge.stall_timeout_secs.max(1)),
        },
    };
    Some(Agent::new(Arc::new(link), options))
}
