//! `POST /updateDataRetention`: adds to or subtracts from the retention period when
//! `CurrentVersion` matches; the result must stay within 0..=87600 hours.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::streams::{StreamRef, resolve};
use crate::archive::{IndexError, StreamChanges};
use crate::auth::Caller;
use crate::model::{DataRetention, VersionToken};

/// The operation this file serves.
pub const OPERATION: Operation = Operation::UpdateDataRetention;

/// `UpdateDataRetention` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    current_version: Option<String>,
    operation: Option<String>,
    data_retention_change_in_hours: Option<i64>,
}

/// Changes the retention period.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    let expected = VersionToken::parse(required(input.current_version.as_deref(), "currentVersion")?)?;
    let increase = match required(input.operation.as_deref(), "operation")? {
        "INCREASE_DATA_RETENTION" => true,
        "DECREASE_DATA_RETENTION" => false,
        _ => {
            return Err(AwsError::invalid_argument(
                "1 validation error detected: Value at 'operation' failed to satisfy constraint: Member must satisfy enum value set: [INCREASE_DATA_RETENTION, DECREASE_DATA_RETENTION]",
            ));
        }
    };
    let change = required(input.data_retention_change_in_hours, "dataRetentionChangeInHours")?;
    if change < 1 {
        return Err(AwsError::invalid_argument(
            "1 validation error detected: Value at 'dataRetentionChangeInHours' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ));
    }
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    if stream.version != expected {
        return Err(IndexError::VersionMismatch.into());
    }
    let current = i64::from(stream.retention.hours());
    let target = if increase { current.saturating_add(change) } else { current - change };
    let retention = DataRetention::from_hours(target).map_err(|_| {
        AwsError::invalid_argument(format!(
            "The resulting data retention ({target} hours) must be between 0 and {} hours.",
            DataRetention::MAX_HOURS
        ))
    })?;
    let changes = StreamChanges { retention: Some(retention), ..StreamChanges::default() };
    state.archive.update_stream(stream.id, Some(&expected), &changes, &VersionToken::generate()).await?;
    Ok(Json(json!({})))
}
