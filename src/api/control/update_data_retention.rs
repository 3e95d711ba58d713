//! `POST /updateDataRetention`: adds to or subtracts from the retention period when
//! `CurrentVersion` matches; the result must stay within 0..=87600 hours.

use serde::{Deserialize, Serialize};

use super::update_stream::StreamUpdate;
use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::archive::{IndexError, StreamChanges};
use crate::model::{DataRetention, ValidationError, VersionToken, check_enum, required};

/// `UpdateDataRetentionInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateDataRetentionInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    current_version: Option<String>,
    operation: Option<String>,
    data_retention_change_in_hours: Option<i64>,
}

/// A retention change in hours: positive to increase, negative to decrease.
#[derive(Debug)]
pub struct RetentionChange(i64);

impl OperationInput for UpdateDataRetentionInput {
    type Valid = StreamUpdate<RetentionChange>;

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let expected = VersionToken::parse(required(self.current_version.as_deref(), "currentVersion")?)?;
        let increase = check_enum(
            "operation",
            required(self.operation.as_deref(), "operation")?,
            &["INCREASE_DATA_RETENTION", "DECREASE_DATA_RETENTION"],
        )? == "INCREASE_DATA_RETENTION";
        let change = required(self.data_retention_change_in_hours, "dataRetentionChangeInHours")?;
        if change < 1 {
            return Err(ValidationError::constraint(
                Some(&change),
                "dataRetentionChangeInHours",
                "Member must have value greater than or equal to 1",
            )
            .into());
        }
        Ok(StreamUpdate {
            stream,
            expected,
            changes: RetentionChange(if increase { change } else { -change }),
        })
    }
}

/// `UpdateDataRetentionOutput` (no members).
#[derive(Debug, Serialize)]
pub struct UpdateDataRetentionOutput {}

/// Changes the retention period.
pub async fn handle(
    call: Call,
    Valid(req): Valid<UpdateDataRetentionInput>,
) -> Result<UpdateDataRetentionOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&req.stream).await?;
    if stream.version != req.expected {
        return Err(IndexError::VersionMismatch.into());
    }
    let target = i64::from(stream.retention.hours()).saturating_add(req.changes.0);
    let retention = DataRetention::from_hours(target).map_err(|_| {
        AwsError::invalid_argument(format!(
            "The resulting data retention ({target} hours) must be between 0 and {} hours.",
            DataRetention::MAX_HOURS
        ))
    })?;
    let changes = StreamChanges { retention: Some(retention), ..StreamChanges::default() };
    state.archive.update_stream(stream.id, Some(&req.expected), &changes, &VersionToken::generate()).await?;
    state.workers.stream_changed(stream.id);
    Ok(UpdateDataRetentionOutput {})
}
