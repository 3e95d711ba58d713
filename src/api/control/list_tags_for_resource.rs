//! `POST /ListTagsForResource` (capitalised path): the tags of the stream or signaling channel an
//! ARN names, as a JSON map (at most 50, so never paged).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::channels::channel_error;
use crate::api::tagging::{TaggedResource, resolve_resource};
use crate::model::{ResourceArn, required};

/// `ListTagsForResourceInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    /// Accepted and ignored: one page holds every tag.
    #[allow(dead_code)]
    next_token: Option<String>,
}

impl OperationInput for ListTagsForResourceInput {
    type Valid = ResourceArn;

    fn validate(self) -> Result<ResourceArn, AwsError> {
        Ok(ResourceArn::parse_member(required(self.resource_arn.as_deref(), "resourceARN")?, "resourceARN")?)
    }
}

/// `ListTagsForResourceOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceOutput {
    tags: BTreeMap<String, String>,
}

/// Lists the resource's tags.
pub async fn handle(
    call: Call,
    Valid(arn): Valid<ListTagsForResourceInput>,
) -> Result<ListTagsForResourceOutput, AwsError> {
    let state = &call.state;
    let tags = match resolve_resource(state, &call.caller, call.operation, &arn).await? {
        TaggedResource::Stream(s) => state.archive.stream_tags(s.id).await?,
        TaggedResource::Channel(c) => state.archive.channel_tags(c.id).await.map_err(channel_error)?,
    };
    Ok(ListTagsForResourceOutput { tags: tags.0 })
}
