//! The members and lookups the secretsmanager operations (`api::secrets`) share: the
//! `secretsmanager` error shapes, `SecretId`, the value members (`SecretString` /
//! `SecretBinary`), version ids from `ClientRequestToken`, and resolving a live secret in the
//! caller's region. Nothing here logs or returns a secret's value.

use base64::Engine;

use super::aws::{AwsError, AwsErrorCode, Call};
use crate::model::{SecretRecord, SecretValue};

/// The one version stage openkvs keeps.
pub const AWSCURRENT: &str = "AWSCURRENT";

/// `InvalidParameterException` with a message.
pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new(AwsErrorCode::InvalidParameterException, message)
}

/// `InvalidRequestException` with a message.
pub fn invalid_request(message: impl Into<String>) -> AwsError {
    AwsError::new(AwsErrorCode::InvalidRequestException, message)
}

/// `ResourceNotFoundException` for a secret.
pub fn secret_not_found() -> AwsError {
    AwsError::new(AwsErrorCode::ResourceNotFoundException, "Secrets Manager can't find the specified secret.")
}

/// A required member of a secretsmanager input (`member` in the model's camelCase).
pub fn required_member<T>(value: Option<T>, member: &str) -> Result<T, AwsError> {
    value.ok_or_else(|| {
        invalid_parameter(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// `SecretId`: required, 1..=2048 characters (an ARN, or a name in the caller's region).
pub fn secret_id(id: Option<String>) -> Result<String, AwsError> {
    let id = required_member(id, "secretId")?;
    if !(1..=2048).contains(&id.chars().count()) {
        return Err(invalid_parameter(
            "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must have length between 1 and 2048",
        ));
    }
    Ok(id)
}

/// The value members of CreateSecret / PutSecretValue: exactly one of `SecretString` (1..=65536
/// characters) or `SecretBinary` (base64 of 1..=65536 bytes).
pub fn secret_value(text: Option<String>, binary: Option<String>) -> Result<Option<SecretValue>, AwsError> {
    match (text, binary) {
        (Some(_), Some(_)) => Err(invalid_parameter(
            "You can't specify both a binary secret value and a string secret value in the same secret.",
        )),
        (Some(t), None) => {
            let n = t.chars().count();
            if !(1..=65536).contains(&n) {
                return Err(invalid_parameter(
                    "1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length between 1 and 65536",
                ));
            }
            Ok(Some(SecretValue::Text(t)))
        }
        (None, Some(b)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|_| invalid_parameter("SecretBinary is not valid base64."))?;
            if !(1..=65536).contains(&bytes.len()) {
                return Err(invalid_parameter(
                    "1 validation error detected: Value at 'secretBinary' failed to satisfy constraint: Member must have length between 1 and 65536",
                ));
            }
            Ok(Some(SecretValue::Binary(bytes)))
        }
        (None, None) => Ok(None),
    }
}

/// A checked `ClientRequestToken` (32..=64 characters), the version id the caller chose.
pub fn client_request_token(token: Option<String>) -> Result<Option<String>, AwsError> {
    match token {
        Some(t) if !(32..=64).contains(&t.chars().count()) => Err(invalid_parameter(
            "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64",
        )),
        token => Ok(token),
    }
}

/// The new version's id: the caller's token, or a new UUID.
pub fn version_id(token: Option<String>) -> String {
    token.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Looks a live secret up by ARN or name (in the caller's region): not found, or scheduled for
/// deletion (`InvalidRequestException`, as AWS answers for such a secret).
pub async fn live_secret(call: &Call, id: &str) -> Result<SecretRecord, AwsError> {
    let state = &call.state;
    let record = state
        .archive
        .secret(id, call.caller.region.as_str(), state.clock.now_millis())
        .await?
        .ok_or_else(secret_not_found)?;
    if record.deleted_ms.is_some() {
        return Err(invalid_request(
            "You can't perform this operation on the secret because it was marked for deletion.",
        ));
    }
    Ok(record)
}
