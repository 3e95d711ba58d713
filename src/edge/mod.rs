//! The edge recorder: the KVS Edge Agent's job for RTSP cameras. It records a camera's RTSP
//! stream into KVS fragments, keeps them in a bounded local buffer and uploads them with PutMedia,
//! as configured by StartEdgeConfigurationUpdate, and reports its state back for
//! DescribeEdgeConfiguration.
//!
//! - [`assembler`] (pure): frames with RTP time → wall-clock time → Matroska fragments cut on key
//!   frames (the bytes come from `crate::media::mkv::live`).
//! - [`recorder`]: the RTSP driver on the `retina` crate: connect (TCP interleaved or UDP, Basic or
//!   Digest authentication), play, feed the assembler, append to the buffer; reconnect with backoff.
//! - [`buffer`]: the bounded on-disk buffer between recorder and uploader (`DeletionConfig`).
//! - [`uploader`]: PutMedia sessions from the buffer, live or inside `UploaderConfig` windows, with
//!   the producer client of `crate::producer` (the agent uploads like any producer).
//! - [`link`]: how an agent reaches its configurations, secrets and status: the [`link::AgentLink`]
//!   contract, implemented inside `openkvs serve` by `app` (on the archive) and by
//!   [`link::RemoteLink`] (`openkvs edge`, over SigV4 HTTP to the server).
//! - [`agent`]: the supervisor: polls the configurations of its hub devices, starts, restarts
//!   and stops one recorder + uploader pair per stream, drives `SyncStatus`.
//! - [`secrets`]: secrets from the configuration file and the environment, by ARN.
//! - [`standalone`]: `openkvs edge`, the agent as its own process.
//!
//! The agent is a client beside the server: it imports only `model`, `media`, `outbound` and
//! `producer` (its PutMedia client and signed JSON connection); it never touches the archive or the
//! ingest internals: what it records reaches the archive through PutMedia, like every camera's
//! media (`tests/layering.rs` checks). It must not log a
//! secret or a camera URI with its credentials ([`redact_uri`]).

pub mod agent;
pub mod assembler;
pub mod buffer;
pub mod link;
pub mod recorder;
pub mod secrets;
pub mod standalone;
pub mod uploader;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `[edge]`: the edge agent inside `openkvs serve` and the secrets it may use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeSettings {
    /// Run the agent inside `openkvs serve` for the hub devices below.
    pub enabled: bool,
    /// Thing names (the `thing/NAME` end of a `HubDeviceArn`) whose configurations this server
    /// records itself; any region and account.
    pub hub_thing_names: Vec<String>,
    /// Where the local buffers live; empty = `<data_dir>/edge`.
    pub buffer_dir: Option<PathBuf>,
    /// How often the agent looks for configuration changes, seconds.
    pub poll_interval_secs: u64,
    /// Longest wait between two reconnection attempts to a camera or the server, seconds.
    pub max_backoff_secs: u64,
    /// A camera that sends no frame for this long is reconnected, seconds.
    pub stall_timeout_secs: u64,
    /// Secrets by ARN (`"arn:aws:secretsmanager:…:secret:cam1" = "rtsp://user:pass@cam/stream"`);
    /// they win over secrets created with CreateSecret. `OPENKVS_EDGE_SECRET_<NAME>` variables
    /// add more (see [`secrets`]).
    pub secrets: BTreeMap<String, String>,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            enabled: true,
            hub_thing_names: vec!["openkvs".to_owned()],
            buffer_dir: None,
            poll_interval_secs: 2,
            max_backoff_secs: 30,
            stall_timeout_secs: 10,
            secrets: BTreeMap::new(),
        }
    }
}

/// `rtsp://user:password@host/path` → `rtsp://***@host/path`, for logs and status texts.
pub fn redact_uri(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_password(None);
            let _ = u.set_username("***");
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparsable URI>".to_owned(),
    }
}

/// Milliseconds since the epoch (the agent's clock).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_leave_redact_uri() {
        assert_eq!(redact_uri("rtsp://cam:s3cret@10.0.0.5:554/live?x=1"), "rtsp://***@10.0.0.5:554/live?x=1");
        assert_eq!(redact_uri("rtsp://10.0.0.5/live"), "rtsp://10.0.0.5/live");
        assert_eq!(redact_uri("not a uri s3cret"), "<unparsable URI>");
    }
}
