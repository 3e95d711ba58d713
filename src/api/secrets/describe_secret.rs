//! `secretsmanager.DescribeSecret`: a secret's metadata, never its value (also for a secret
//! scheduled for deletion, which shows `DeletedDate`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AWSCURRENT, check_secret_id, secret_not_found};
use crate::api::AppState;
use crate::api::aws::{AwsError, EpochSeconds, required};
use crate::auth::Caller;

/// `DescribeSecretRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    secret_id: Option<String>,
}

/// `DescribeSecretResponse` (the members openkvs has).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
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
pub async fn handle(state: &AppState, caller: &Caller, input: Input) -> Result<Output, AwsError> {
    let id = required(input.secret_id, "secretId")?;
    check_secret_id(&id)?;
    let r = state
        .edge
        .secret(&id, caller.region.as_str(), state.clock.now_millis())
        .await?
        .ok_or_else(secret_not_found)?;
    let mut stages = BTreeMap::new();
    stages.insert(r.version_id.clone(), vec![AWSCURRENT]);
    Ok(Output {
        arn: r.arn,
        name: r.name,
        description: r.description,
        kms_key_id: r.kms_key_id,
        rotation_enabled: false,
        last_changed_date: EpochSeconds(r.changed_ms),
        deleted_date: r.deleted_ms.map(EpochSeconds),
        created_date: EpochSeconds(r.created_ms),
        version_ids_to_stages: stages,
    })
}
