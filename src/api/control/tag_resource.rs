//! `POST /TagResource` (capitalised path): adds tags given as a `[{Key, Value}]` list to the
//! stream or signaling channel an ARN names (existing keys are overwritten; 50 tags at most per
//! resource).

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::channels::channel_error;
use crate::api::tagging::{Tag, TaggedResource, resolve_resource, tag_list};
use crate::model::{ResourceArn, TagSet, required};

/// `TagResourceInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tags: Option<Vec<Tag>>,
}

impl OperationInput for TagResourceInput {
    type Valid = (ResourceArn, TagSet);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let arn = required(self.resource_arn.as_deref(), "resourceARN")?;
        let tags = tag_list(required(self.tags.as_deref(), "tags")?, true)?;
        Ok((ResourceArn::parse_member(arn, "resourceARN")?, tags))
    }
}

/// `TagResourceOutput` (no members).
#[derive(Debug, Serialize)]
pub struct TagResourceOutput {}

/// Tags the resource.
pub async fn handle(
    call: Call,
    Valid((arn, tags)): Valid<TagResourceInput>,
) -> Result<TagResourceOutput, AwsError> {
    let state = &call.state;
    match resolve_resource(state, &call.caller, call.operation, &arn).await? {
        TaggedResource::Stream(s) => {
            state.archive.tag_stream(s.id, &tags).await?;
            state.workers.stream_changed(s.id);
        }
        TaggedResource::Channel(c) => state.archive.tag_channel(c.id, &tags).await.map_err(channel_error)?,
    }
    Ok(TagResourceOutput {})
}
