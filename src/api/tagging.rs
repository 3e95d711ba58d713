//! The shapes and lookups the tagging operations share: the `[{Key, Value}]` `TagList` of
//! TagResource and CreateSignalingChannel ([`Tag`], [`tag_list`]), and the `ResourceARN` of
//! TagResource, UntagResource and ListTagsForResource, which names a stream or a signaling channel
//! ([`TaggedResource`]). Key policies: the key's name globs apply to both kinds alike, checked on
//! the name in the ARN before the lookup. This module must not change any state.

use serde::Deserialize;

use super::AppState;
use super::aws::{AwsError, Operation};
use super::channels::{ChannelRef, resolve_channel};
use super::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::model::{ResourceArn, ResourceKind, SignalingChannel, Stream, TagSet, ValidationError, required};

/// One `Tag` of a `TagList` / `TagOnCreateList`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// `Key` (required).
    pub key: Option<String>,
    /// `Value` (a missing value is the empty string).
    pub value: Option<String>,
}

/// Validates a `TagList` / `TagOnCreateList`: at most 50 entries (at least 1 when
/// `required_list`), each with a Key.
pub fn tag_list(entries: &[Tag], required_list: bool) -> Result<TagSet, ValidationError> {
    if entries.len() > TagSet::MAX {
        return Err(ValidationError::constraint(
            None,
            "tags",
            "Member must have length less than or equal to 50",
        ));
    }
    let mut pairs = Vec::with_capacity(entries.len());
    for e in entries {
        pairs.push((required(e.key.as_deref(), "tags.member.key")?, e.value.as_deref().unwrap_or("")));
    }
    TagSet::parse(pairs, required_list)
}

/// What a `ResourceARN` of the resource-tagging operations names.
#[derive(Debug)]
pub enum TaggedResource {
    /// A stream.
    Stream(Stream),
    /// A signaling channel.
    Channel(SignalingChannel),
}

/// Resolves a `ResourceARN` to a stream or a signaling channel the caller may call `op` on.
pub async fn resolve_resource(
    state: &AppState,
    caller: &Caller,
    op: Operation,
    arn: &ResourceArn,
) -> Result<TaggedResource, AwsError> {
    Ok(match arn.kind {
        ResourceKind::Stream => {
            TaggedResource::Stream(resolve(state, caller, op, &StreamRef::Arn(arn.clone())).await?)
        }
        ResourceKind::Channel => {
            TaggedResource::Channel(resolve_channel(state, caller, op, &ChannelRef::Arn(arn.clone())).await?)
        }
    })
}
