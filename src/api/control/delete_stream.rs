//! `POST /deleteStream`: removes the stream (by ARN only, as the model requires), checking
//! `CurrentVersion` when given. The row and everything that references it go at once, so the name
//! is free again immediately and DescribeStream answers 404.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::model::{VersionToken, required};

/// `DeleteStreamInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteStreamInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    current_version: Option<String>,
}

impl OperationInput for DeleteStreamInput {
    type Valid = (StreamRef, Option<VersionToken>);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let arn = required(self.stream_arn.as_deref(), "streamARN")?;
        let stream = StreamRef::from_input(None, Some(arn))?;
        let expected = self.current_version.as_deref().map(VersionToken::parse).transpose()?;
        Ok((stream, expected))
    }
}

/// `DeleteStreamOutput` (no members).
#[derive(Debug, Serialize)]
pub struct DeleteStreamOutput {}

/// Deletes the stream.
pub async fn handle(
    call: Call,
    Valid((stream, expected)): Valid<DeleteStreamInput>,
) -> Result<DeleteStreamOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
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
    Ok(DeleteStreamOutput {})
}
