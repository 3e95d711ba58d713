//! `POST /describeNotificationConfiguration`: the stream's `NotificationConfiguration` as
//! UpdateNotificationConfiguration stored it (the destination URI exactly as given), or `{}` (no
//! member) when none is set. This handler reads; it changes nothing.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DescribeNotificationConfiguration;

/// `DescribeNotificationConfiguration` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

/// Describes the configuration.
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
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    Ok(Json(match state.archive.notification_config(stream.id).await? {
        Some(c) => json!({
            "NotificationConfiguration": {
                "Status": c.status.as_str(),
                "DestinationConfig": { "Uri": c.destination_uri.as_str() },
            }
        }),
        None => json!({}),
    }))
}
