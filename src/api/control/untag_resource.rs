//! `POST /UntagResource` (capitalised path): removes tag keys from the stream or signaling channel
//! an ARN names (absent keys are ignored).

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::channels::channel_error;
use crate::api::tagging::{TaggedResource, resolve_resource};
use crate::model::{ResourceArn, TagKey, required};

/// `UntagResourceInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tag_key_list: Option<Vec<String>>,
}

impl OperationInput for UntagResourceInput {
    type Valid = (ResourceArn, Vec<String>);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let arn = required(self.resource_arn.as_deref(), "resourceARN")?;
        let keys = required(self.tag_key_list, "tagKeyList")?;
        TagKey::check_list(&keys)?;
        Ok((ResourceArn::parse_member(arn, "resourceARN")?, keys))
    }
}

/// `UntagResourceOutput` (no members).
#[derive(Debug, Serialize)]
pub struct UntagResourceOutput {}

/// Untags the resource.
pub async fn handle(
    call: Call,
    Valid((arn, keys)): Valid<UntagResourceInput>,
) -> Result<UntagResourceOutput, AwsError> {
    let state = &call.state;
    match resolve_resource(state, &call.caller, call.operation, &arn).await? {
        TaggedResource::Stream(s) => {
            state.archive.untag_stream(s.id, &keys).await?;
            state.workers.stream_changed(s.id);
        }
        TaggedResource::Channel(c) => {
            state.archive.untag_channel(c.id, &keys).await.map_err(channel_error)?
        }
    }
    Ok(UntagResourceOutput {})
}
