//! `POST /describeStreamStorageConfiguration` and `POST /updateStreamStorageConfiguration`: the
//! stream's default storage tier (HOT or WARM). The tier is recorded and reported; this server keeps
//! both tiers in the same fragment store.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::create_stream::StorageConfigInput;
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::streams::{StreamRef, resolve};
use crate::archive::StreamChanges;
use crate::auth::Caller;
use crate::model::VersionToken;

/// `DescribeStreamStorageConfiguration` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

/// Describes the storage configuration.
pub async fn describe(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<DescribeInput>,
) -> Result<Json<Value>, AwsError> {
    let op = Operation::DescribeStreamStorageConfiguration;
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    let stream = resolve(&state, &caller, op, &stream_ref).await?;
    Ok(Json(json!({
        "StreamName": stream.name.as_str(),
        "StreamARN": stream.arn.to_string(),
        "StreamStorageConfiguration": { "DefaultStorageTier": stream.storage_tier.as_str() },
    })))
}

/// `UpdateStreamStorageConfiguration` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    current_version: Option<String>,
    stream_storage_configuration: Option<StorageConfigInput>,
}

/// Updates the storage tier when `CurrentVersion` matches.
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<UpdateInput>,
) -> Result<Json<Value>, AwsError> {
    let op = Operation::UpdateStreamStorageConfiguration;
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    let expected = VersionToken::parse(required(input.current_version.as_deref(), "currentVersion")?)?;
    let tier = required(input.stream_storage_configuration.as_ref(), "streamStorageConfiguration")?.tier()?;
    let stream = resolve(&state, &caller, op, &stream_ref).await?;
    let changes = StreamChanges { storage_tier: Some(tier), ..StreamChanges::default() };
    state.archive.update_stream(stream.id, Some(&expected), &changes, &VersionToken::generate()).await?;
    Ok(Json(json!({})))
}
