//! `secretsmanager.DescribeSecret`: a secret's metadata, never its value (also for a secret
//! scheduled for deletion, which shows `DeletedDate`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, EpochSeconds, Json11, OperationInput, Valid};
use crate::api::secret_inputs::{AWSCURRENT, secret_id, secret_not_found};

/// `DescribeSecretRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSecretInput {
    secret_id: Option<String>,
}

impl OperationInput for DescribeSecretInput {
    type Valid = String;

    fn validate(self) -> Result<String, AwsError> {
        secret_id(self.secret_id)
    }
}

/// `DescribeSecretResponse` (the members openkvs has).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSecretOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    rotation_enabled: bool,
    last_changed_date: EpochSeconds,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_date: Option<EpochSeconds>,
    created_date: EpochSeconds,
    version_ids_to_stages: BTreeMap<String, Vec<&'static str>>,
}

/// Describes the secret.
pub async fn handle(
    call: Call,
    Valid(id): Valid<DescribeSecretInput>,
) -> Result<Json11<DescribeSecretOutput>, AwsError> {
    let state = &call.state;
    let r = state
        .archive
        .secret(&id, call.caller.region.as_str(), state.clock.now_millis())
        .await?
        .ok_or_else(secret_not_found)?;
    let mut stages = BTreeMap::new();
    stages.insert(r.version_id.clone(), vec![AWSCURRENT]);
    Ok(Json11(DescribeSecretOutput {
        arn: r.arn,
        name: r.name,
        description: r.description,
        kms_key_id: r.kms_key_id,
        rotation_enabled: false,
        last_changed_date: EpochSeconds(r.changed_ms),
        deleted_date: r.deleted_ms.map(EpochSeconds),
        created_date: EpochSeconds(r.created_ms),
        version_ids_to_stages: stages,
    }))
}
