//! `openkvs edge`: the agent as its own process on the cameras' network. It loads the AWS
//! credential chain like `openkvs put` (environment, profile; `--endpoint` names the server),
//! asks the server for the configurations of `--hub-device-arn` (ListEdgeAgentConfigurations),
//! reads camera URIs with GetSecretValue (or from `OPENKVS_EDGE_SECRET_<NAME>` variables), uploads
//! with PutMedia to the stream's data endpoint and reports its status with PutEdgeAgentStatus.
//! It runs until SIGINT or SIGTERM, then finishes its uploads in progress.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::agent::{Agent, AgentOptions};
use super::link::RemoteLink;
use super::recorder::JobTiming;
use super::secrets::StaticSecrets;
use crate::model::validate_hub_device_arn;
use crate::producer::control::ControlPlane;

/// `openkvs edge` options.
#[derive(Debug, Clone)]
pub struct StandaloneOptions {
    /// The hub device (IoT thing ARN) this agent runs as.
    pub hub_device_arn: String,
    /// The server's URL.
    pub endpoint: String,
    /// Region override.
    pub region: Option<String>,
    /// Where the local buffers live.
    pub buffer_dir: PathBuf,
    /// Configuration poll interval.
    pub poll_interval: Duration,
    /// Job timing.
    pub timing: JobTiming,
}

/// Runs the agent until a signal.
pub async fn run(opts: StandaloneOptions) -> ExitCode {
    if let Err(e) = validate_hub_device_arn(&opts.hub_device_arn, "--hub-device-arn") {
        eprintln!("openkvs edge: {e}");
        return ExitCode::FAILURE;
    }
    let control = match ControlPlane::load(Some(&opts.endpoint), opts.region.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("openkvs edge: {e}");
            return ExitCode::FAILURE;
        }
    };
    let secrets = StaticSecrets::load(&Default::default());
    let link = match RemoteLink::new(
        &opts.endpoint,
        &opts.hub_device_arn,
        &control.region,
        control.credentials,
        secrets,
    ) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("openkvs edge: bad --endpoint: {e}");
            return ExitCode::FAILURE;
        }
    };
    let agent = Agent::new(
        Arc::new(link),
        AgentOptions {
            buffer_dir: opts.buffer_dir.clone(),
            poll_interval: opts.poll_interval,
            timing: opts.timing,
        },
    );
    tracing::info!(
        hub = %opts.hub_device_arn,
        endpoint = %opts.endpoint,
        buffer = %opts.buffer_dir.display(),
        "openkvs edge agent running"
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(agent.run(stop_rx));
    shutdown_signal().await;
    tracing::info!("openkvs edge: stopping (finishing uploads in progress)");
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(40), task).await;
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
