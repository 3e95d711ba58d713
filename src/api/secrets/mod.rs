//! The Secrets Manager subset the edge agent's camera URIs need, in the AWS JSON 1.1 protocol
//! boto3's and the SDKs' `secretsmanager` clients speak: `POST /` with
//! `X-Amz-Target: secretsmanager.<Operation>`, signed for service `secretsmanager`.
//!
//! Served: CreateSecret, PutSecretValue, GetSecretValue, DescribeSecret, DeleteSecret (one file
//! each, typed inputs and outputs with the botocore member names). One version per secret
//! (`AWSCURRENT`); no rotation, replication, resource policies, tags or ListSecrets. Secret values
//! are stored in the index as given (no encryption at rest yet: see design/0014-edge-agent.md),
//! are never logged, and are returned only by GetSecretValue. [`dispatch`] is the `POST /` route.

pub mod create_secret;
pub mod delete_secret;
pub mod describe_secret;
pub mod get_secret_value;
pub mod put_secret_value;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Serialize;

use super::AppState;
use super::aws::{AwsError, AwsErrorCode, Operation, parse_json_body};
use crate::auth::Caller;
use crate::model::{SecretRecord, SecretValue};

/// The one version stage openkvs keeps.
pub const AWSCURRENT: &str = "AWSCURRENT";

/// `POST /`: runs the JSON 1.1 operation named by `X-Amz-Target` (authenticated by the SigV4
/// layer, which resolved the same header).
pub async fn dispatch(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(op) = Operation::from_target(target) else {
        return AwsError::new(
            AwsErrorCode::UnknownOperationException,
            if target.is_empty() {
                "POST / needs an X-Amz-Target header naming the operation.".to_owned()
            } else {
                format!("The operation {target} is not supported.")
            },
        )
        .into_response();
    };
    let Some(Extension(caller)) = caller else {
        return AwsError::internal("JSON 1.1 operation without a verified caller").into_response();
    };
    let result = match op {
        Operation::CreateSecret => run(&body, |i| create_secret::handle(&state, &caller, i)).await,
        Operation::PutSecretValue => run(&body, |i| put_secret_value::handle(&state, &caller, i)).await,
        Operation::GetSecretValue => run(&body, |i| get_secret_value::handle(&state, &caller, i)).await,
        Operation::DescribeSecret => run(&body, |i| describe_secret::handle(&state, &caller, i)).await,
        Operation::DeleteSecret => run(&body, |i| delete_secret::handle(&state, &caller, i)).await,
        _ => Err(AwsError::new(AwsErrorCode::UnknownOperationException, "Unknown operation.")),
    };
    match result {
        Ok(json) => {
            ([(axum::http::header::CONTENT_TYPE, "application/x-amz-json-1.1")], json).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn run<I, O, F, Fut>(body: &[u8], f: F) -> Result<String, AwsError>
where
    I: serde::de::DeserializeOwned,
    O: Serialize,
    F: FnOnce(I) -> Fut,
    Fut: std::future::Future<Output = Result<O, AwsError>>,
{
    let input: I = parse_json_body(body)?;
    let out = f(input).await?;
    serde_json::to_string(&out).map_err(|e| AwsError::internal(e.to_string()))
}

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

/// `SecretId` must be 1..=2048 characters.
pub fn check_secret_id(id: &str) -> Result<(), AwsError> {
    let n = id.chars().count();
    if !(1..=2048).contains(&n) {
        return Err(invalid_parameter(
            "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must have length between 1 and 2048",
        ));
    }
    Ok(())
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

/// A version id: the caller's `ClientRequestToken` (32..=64 characters) or a new UUID.
pub fn version_id(token: Option<String>) -> Result<String, AwsError> {
    match token {
        Some(t) if (32..=64).contains(&t.chars().count()) => Ok(t),
        Some(_) => Err(invalid_parameter(
            "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64",
        )),
        None => Ok(uuid::Uuid::new_v4().to_string()),
    }
}

/// Looks a live secret up by ARN or name (in the caller's region): not found, or scheduled for
/// deletion (`InvalidRequestException`, as AWS answers for such a secret).
pub async fn live_secret(state: &AppState, caller: &Caller, id: &str) -> Result<SecretRecord, AwsError> {
    check_secret_id(id)?;
    let record = state
        .edge
        .secret(id, caller.region.as_str(), state.clock.now_millis())
        .await?
        .ok_or_else(secret_not_found)?;
    if record.deleted_ms.is_some() {
        return Err(invalid_request(
            "You can't perform this operation on the secret because it was marked for deletion.",
        ));
    }
    Ok(record)
}
