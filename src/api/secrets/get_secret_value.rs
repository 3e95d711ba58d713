//! `secretsmanager.GetSecretValue`: the secret's current value (the only operation that returns
//! it; `openkvs edge` reads camera URIs with it). `VersionStage` may only be `AWSCURRENT` and
//! `VersionId` only the current one. Key policies decide who may call it (`operations` in
//! `[[auth.keys]]`).

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, EpochSeconds, Json11, OperationInput, Valid};
use crate::api::secret_inputs::{AWSCURRENT, invalid_parameter, live_secret, secret_id, secret_not_found};
use crate::model::SecretValue;

/// `GetSecretValueRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSecretValueInput {
    secret_id: Option<String>,
    version_id: Option<String>,
    version_stage: Option<String>,
}

/// A validated GetSecretValue: the secret, and the version the caller insists on, if any.
#[derive(Debug)]
pub struct ValueRequest {
    id: String,
    version_id: Option<String>,
    other_stage: bool,
}

impl OperationInput for GetSecretValueInput {
    type Valid = ValueRequest;

    fn validate(self) -> Result<ValueRequest, AwsError> {
        Ok(ValueRequest {
            id: secret_id(self.secret_id)?,
            version_id: self.version_id,
            other_stage: self.version_stage.as_deref().is_some_and(|s| s != AWSCURRENT),
        })
    }
}

/// `GetSecretValueResponse`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSecretValueOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_binary: Option<String>,
    version_stages: Vec<&'static str>,
    created_date: EpochSeconds,
}

impl std::fmt::Debug for GetSecretValueOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetSecretValueOutput").field("arn", &self.arn).finish_non_exhaustive()
    }
}

/// Returns the value.
pub async fn handle(
    call: Call,
    Valid(request): Valid<GetSecretValueInput>,
) -> Result<Json11<GetSecretValueOutput>, AwsError> {
    if request.other_stage {
        return Err(secret_not_found());
    }
    let record = live_secret(&call, &request.id).await?;
    if request.version_id.as_deref().is_some_and(|v| v != record.version_id) {
        return Err(secret_not_found());
    }
    let state = &call.state;
    let (record, value) = state
        .archive
        .secret_value(&record.arn, call.caller.region.as_str(), state.clock.now_millis())
        .await?
        .ok_or_else(secret_not_found)?;
    let (secret_string, secret_binary) = match value {
        Some(SecretValue::Text(t)) => (Some(t), None),
        Some(SecretValue::Binary(b)) => (None, Some(base64::engine::general_purpose::STANDARD.encode(b))),
        None => {
            return Err(invalid_parameter("The secret has no value yet: call PutSecretValue first."));
        }
    };
    Ok(Json11(GetSecretValueOutput {
        arn: record.arn,
        name: record.name,
        version_id: record.version_id,
        secret_string,
        secret_binary,
        version_stages: vec![AWSCURRENT],
        created_date: EpochSeconds(record.changed_ms),
    }))
}
