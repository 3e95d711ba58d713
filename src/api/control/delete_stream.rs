//! `POST /deleteStream`: removes the stream (by ARN only, as the model requires), checking
//! `CurrentVersion` when given. The row and everything that references it go at once, so the name
//! is free again immediately and DescribeStream answers 404.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::model::VersionToken;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DeleteStream;

/// `DeleteStream` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    current_version: Option<String>,
}

/// Deletes the stream.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let arn = required(input.stream_arn.as_deref(), "streamARN")?;
    let stream_ref = StreamRef::from_pair(None, Some(arn), AwsErrorCode::InvalidArgumentException)?;
    let expected = input.current_version.as_deref().map(VersionToken::parse).transpose()?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    state.index.delete_stream(stream.id, expected.as_ref()).await?;
    // The rows are gone; end a running PutMedia (ErrorId 4008) and reclaim the bytes.
    state.ingest.stream_deleted(stream.id);
    let store = state.ingest.store().clone();
    let id = stream.id;
    match tokio::task::spawn_blocking(move || store.delete_stream(id)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!("stream {} deleted, but removing its fragment files failed: {e}", stream.name)
        }
        Err(e) => tracing::warn!("stream {} deleted, but the file removal task failed: {e}", stream.name),
    }
    Ok(Json(json!({})))
}
