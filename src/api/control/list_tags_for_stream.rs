//! `POST /listTagsForStream`: all tags of a stream as a JSON map. A stream has at most 50 tags, so
//! one page always holds them all and no `NextToken` is returned.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;

/// `ListTagsForStreamInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForStreamInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    /// Accepted and ignored: one page holds every tag.
    #[allow(dead_code)]
    next_token: Option<String>,
}

impl OperationInput for ListTagsForStreamInput {
    type Valid = StreamRef;

    fn validate(self) -> Result<StreamRef, AwsError> {
        StreamRef::from_pair(
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
            AwsErrorCode::InvalidResourceFormatException,
        )
    }
}

/// `ListTagsForStreamOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForStreamOutput {
    /// Key → value, present (possibly empty) in every answer.
    tags: BTreeMap<String, String>,
}

/// Lists the stream's tags.
pub async fn handle(
    call: Call,
    Valid(stream): Valid<ListTagsForStreamInput>,
) -> Result<ListTagsForStreamOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
    let tags = state.archive.stream_tags(stream.id).await?;
    Ok(ListTagsForStreamOutput { tags: tags.0 })
}
