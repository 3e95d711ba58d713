//! `secretsmanager.CreateSecret`: a new secret named `Name` in the caller's region, with an
//! optional first value. Its ARN is `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME` (AWS adds
//! six random characters; openkvs does not, so an edge configuration can name the secret before
//! it exists). A name in use is `ResourceExistsException`; one whose secret is scheduled for
//! deletion is `InvalidRequestException`. `Tags`, `KmsKeyId` and `Description` are accepted
//! (KmsKeyId and Description are kept, tags are not); replica regions are refused.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, Json11, OperationInput, Valid};
use crate::api::secret_inputs::{
    client_request_token, invalid_parameter, invalid_request, required_member, secret_value, version_id,
};
use crate::archive::{IndexError, NewSecret, SECRET_NAME_CONSTRAINT};
use crate::model::{AccountId, SecretArn, SecretRecord, SecretValue, validate_secret_name};

/// `CreateSecretRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSecretInput {
    name: Option<String>,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_binary: Option<String>,
    secret_string: Option<String>,
    add_replica_regions: Option<serde::de::IgnoredAny>,
    // Accepted and ignored (openkvs keeps no tags on secrets, and replicates nothing).
    #[serde(rename = "Tags")]
    _tags: Option<serde::de::IgnoredAny>,
    #[serde(rename = "ForceOverwriteReplicaSecret")]
    _force_overwrite_replica_secret: Option<bool>,
}

/// A validated CreateSecret.
#[derive(Debug)]
pub struct NewSecretRequest {
    name: String,
    description: Option<String>,
    kms_key_id: Option<String>,
    value: Option<SecretValue>,
    token: Option<String>,
}

impl OperationInput for CreateSecretInput {
    type Valid = NewSecretRequest;

    fn validate(self) -> Result<NewSecretRequest, AwsError> {
        let name = required_member(self.name, "name")?;
        validate_secret_name(&name, "name").map_err(|e| invalid_parameter(e.0))?;
        if self.add_replica_regions.is_some() {
            return Err(invalid_parameter("openkvs does not replicate secrets: remove AddReplicaRegions."));
        }
        if self.description.as_ref().is_some_and(|d| d.chars().count() > 2048) {
            return Err(invalid_parameter(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 2048",
            ));
        }
        Ok(NewSecretRequest {
            name,
            description: self.description,
            kms_key_id: self.kms_key_id,
            value: secret_value(self.secret_string, self.secret_binary)?,
            token: client_request_token(self.client_request_token)?,
        })
    }
}

/// `CreateSecretResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSecretOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
}

/// Creates the secret.
pub async fn handle(
    call: Call,
    Valid(new): Valid<CreateSecretInput>,
) -> Result<Json11<CreateSecretOutput>, AwsError> {
    let state = &call.state;
    let account = AccountId::parse(&state.settings.account_id).map_err(|e| AwsError::internal(e.0))?;
    let region = call.caller.region.as_str().to_owned();
    let now = state.clock.now_millis();
    state.archive.purge_secrets(now).await?;
    let version = version_id(new.token);
    let arn = SecretArn::for_name(&region, account.as_str(), &new.name);
    let record = SecretRecord {
        arn: arn.clone(),
        name: new.name.clone(),
        description: new.description,
        kms_key_id: new.kms_key_id,
        version_id: version.clone(),
        created_ms: now,
        changed_ms: now,
        deleted_ms: None,
        purge_ms: None,
    };
    let has_value = new.value.is_some();
    let name = new.name;
    match state.archive.create_secret(&NewSecret { record, region: region.clone(), value: new.value }).await {
        Ok(()) => {}
        Err(IndexError::Conflict { constraint }) if constraint == SECRET_NAME_CONSTRAINT => {
            let existing = state.archive.secret(&name, &region, now).await?;
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
    Ok(Json11(CreateSecretOutput { arn, name, version_id: has_value.then_some(version) }))
}
