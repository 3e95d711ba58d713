//! `secretsmanager.PutSecretValue`: replaces the secret's value with a new current version.
//! Exactly one of `SecretString` and `SecretBinary`; `VersionStages` other than `AWSCURRENT` are
//! refused (openkvs keeps one version). The edge agent reads the new value at its next
//! reconnection to the camera.

use serde::{Deserialize, Serialize};

use super::{AWSCURRENT, invalid_parameter, live_secret, secret_value, version_id};
use crate::api::AppState;
use crate::api::aws::{AwsError, required};
use crate::auth::Caller;

/// `PutSecretValueRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    secret_id: Option<String>,
    client_request_token: Option<String>,
    secret_binary: Option<String>,
    secret_string: Option<String>,
    version_stages: Option<Vec<String>>,
}

/// `PutSecretValueResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
    version_stages: Vec<&'static str>,
}

/// Stores the new value.
pub async fn handle(state: &AppState, caller: &Caller, input: Input) -> Result<Output, AwsError> {
    let id = required(input.secret_id, "secretId")?;
    if input.version_stages.as_ref().is_some_and(|s| s.iter().any(|v| v != AWSCURRENT)) {
        return Err(invalid_parameter(
            "openkvs keeps one version per secret: VersionStages may only be AWSCURRENT.",
        ));
    }
    let value = secret_value(input.secret_string, input.secret_binary)?
        .ok_or_else(|| invalid_parameter("You must provide either SecretString or SecretBinary."))?;
    let version = version_id(input.client_request_token)?;
    let record = live_secret(state, caller, &id).await?;
    state.edge.put_secret_value(&record.arn, &value, &version, state.clock.now_millis()).await?;
    Ok(Output { arn: record.arn, name: record.name, version_id: version, version_stages: vec![AWSCURRENT] })
}
