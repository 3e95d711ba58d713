//! `secretsmanager.PutSecretValue`: replaces the secret's value with a new current version.
//! Exactly one of `SecretString` and `SecretBinary`; `VersionStages` other than `AWSCURRENT` are
//! refused (openkvs keeps one version). The edge agent reads the new value at its next
//! reconnection to the camera.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, Json11, OperationInput, Valid};
use crate::api::secret_inputs::{
    AWSCURRENT, client_request_token, invalid_parameter, live_secret, secret_id, secret_value, version_id,
};
use crate::model::SecretValue;

/// `PutSecretValueRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutSecretValueInput {
    secret_id: Option<String>,
    client_request_token: Option<String>,
    secret_binary: Option<String>,
    secret_string: Option<String>,
    version_stages: Option<Vec<String>>,
}

/// A validated PutSecretValue: the secret, its new value, the caller's version id.
#[derive(Debug)]
pub struct NewValue {
    id: String,
    value: SecretValue,
    token: Option<String>,
}

impl OperationInput for PutSecretValueInput {
    type Valid = NewValue;

    fn validate(self) -> Result<NewValue, AwsError> {
        let id = secret_id(self.secret_id)?;
        if self.version_stages.as_ref().is_some_and(|s| s.iter().any(|v| v != AWSCURRENT)) {
            return Err(invalid_parameter(
                "openkvs keeps one version per secret: VersionStages may only be AWSCURRENT.",
            ));
        }
        let value = secret_value(self.secret_string, self.secret_binary)?
            .ok_or_else(|| invalid_parameter("You must provide either SecretString or SecretBinary."))?;
        let token = client_request_token(self.client_request_token)?;
        Ok(NewValue { id, value, token })
    }
}

/// `PutSecretValueResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutSecretValueOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
    version_stages: Vec<&'static str>,
}

/// Stores the new value.
pub async fn handle(
    call: Call,
    Valid(new): Valid<PutSecretValueInput>,
) -> Result<Json11<PutSecretValueOutput>, AwsError> {
    let record = live_secret(&call, &new.id).await?;
    let version = version_id(new.token);
    let state = &call.state;
    state.archive.put_secret_value(&record.arn, &new.value, &version, state.clock.now_millis()).await?;
    Ok(Json11(PutSecretValueOutput {
        arn: record.arn,
        name: record.name,
        version_id: version,
        version_stages: vec![AWSCURRENT],
    }))
}
