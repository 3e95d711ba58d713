//! `secretsmanager.CreateSecret`: a new secret named `Name` in the caller's region, with an
//! optional first value. Its ARN is `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME` (AWS adds
//! six random characters; openkvs does not, so an edge configuration can name the secret before
//! it exists). A name in use is `ResourceExistsException`; one whose secret is scheduled for
//! deletion is `InvalidRequestException`. `Tags`, `KmsKeyId` and `Description` are accepted
//! (KmsKeyId and Description are kept, tags are not); replica regions are refused.

use serde::{Deserialize, Serialize};

use super::{invalid_parameter, invalid_request, secret_value, version_id};
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, required};
use crate::auth::Caller;
use crate::index::IndexError;
use crate::index::edge::{NewSecret, SECRET_NAME_CONSTRAINT};
use crate::model::{AccountId, SecretArn, SecretRecord, validate_secret_name};

/// `CreateSecretRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    name: Option<String>,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_binary: Option<String>,
    secret_string: Option<String>,
    #[serde(default)]
    add_replica_regions: Option<serde_json::Value>,
    #[serde(default)]
    #[allow(dead_code)]
    tags: Option<serde_json::Value>,
    #[serde(default)]
    #[allow(dead_code)]
    force_overwrite_replica_secret: Option<bool>,
}

/// `CreateSecretResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
}

/// Creates the secret.
pub async fn handle(state: &AppState, caller: &Caller, input: Input) -> Result<Output, AwsError> {
    let name = required(input.name, "name")?;
    validate_secret_name(&name, "name").map_err(|e| invalid_parameter(e.0))?;
    if input.add_replica_regions.is_some() {
        return Err(invalid_parameter("openkvs does not replicate secrets: remove AddReplicaRegions."));
    }
    if input.description.as_ref().is_some_and(|d| d.chars().count() > 2048) {
        return Err(invalid_parameter(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 2048",
        ));
    }
    let value = secret_value(input.secret_string, input.secret_binary)?;
    let version = version_id(input.client_request_token)?;
    let account = AccountId::parse(&state.settings.account_id).map_err(|e| AwsError::internal(e.0))?;
    let region = caller.region.as_str().to_owned();
    let now = state.clock.now_millis();
    state.edge.purge_secrets(now).await?;
    let arn = SecretArn::for_name(&region, account.as_str(), &name);
    let record = SecretRecord {
        arn: arn.clone(),
        name: name.clone(),
        description: input.description,
        kms_key_id: input.kms_key_id,
        version_id: version.clone(),
        created_ms: now,
        changed_ms: now,
        deleted_ms: None,
        purge_ms: None,
    };
    let has_value = value.is_some();
    match state.edge.create_secret(&NewSecret { record, region: region.clone(), value }).await {
        Ok(()) => {}
        Err(IndexError::Conflict { constraint })
            if constraint == SECRET_NAME_CONSTRAINT
                || constraint.contains("secrets")
                || constraint == "unique" =>
        {
            let existing = state.edge.secret(&name, &region, now).await?;
            if existing.is_some_and(|s| s.deleted_ms.is_some()) {
                return Err(invalid_request(
                    "You can't create this secret because a secret with this name is already scheduled for deletion.",
                ));
            }
            return Err(AwsError::new(
                AwsErrorCode::ResourceExistsException,
                format!("The operation failed because the secret {name} already exists."),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Output { arn, name, version_id: has_value.then_some(version) })
}
