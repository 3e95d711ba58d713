//! The `kinesisvideo` control plane: one file per operation, each exporting its `OPERATION` and
//! handler; [`router`] registers them by [`Operation::path`]. Handlers validate input like the
//! botocore model, authorize against the caller's key policy, call the index and shape output.

pub mod create_signaling_channel;
pub mod create_stream;
pub mod delete_signaling_channel;
pub mod delete_stream;
pub mod describe_image_generation_configuration;
pub mod describe_mapped_resource_configuration;
pub mod describe_media_storage_configuration;
pub mod describe_notification_configuration;
pub mod describe_signaling_channel;
pub mod describe_stream;
pub mod get_data_endpoint;
pub mod get_signaling_channel_endpoint;
pub mod list_signaling_channels;
pub mod list_streams;
pub mod list_tags_for_resource;
pub mod list_tags_for_stream;
pub mod stream_storage_configuration;
pub mod tag_resource;
pub mod tag_stream;
pub mod untag_resource;
pub mod untag_stream;
pub mod update_data_retention;
pub mod update_image_generation_configuration;
pub mod update_media_storage_configuration;
pub mod update_notification_configuration;
pub mod update_signaling_channel;
pub mod update_stream;

use axum::Router;
use axum::routing::post;

use super::AppState;
use super::aws::{AwsError, Operation};
use super::channels::{ChannelRef, resolve_channel};
use super::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::model::{ResourceArn, ResourceKind, SignalingChannel, Stream, TagKey};

/// The control-plane routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(create_stream::OPERATION.path(), post(create_stream::handle))
        .route(describe_stream::OPERATION.path(), post(describe_stream::handle))
        .route(list_streams::OPERATION.path(), post(list_streams::handle))
        .route(delete_stream::OPERATION.path(), post(delete_stream::handle))
        .route(update_stream::OPERATION.path(), post(update_stream::handle))
        .route(update_data_retention::OPERATION.path(), post(update_data_retention::handle))
        .route(get_data_endpoint::OPERATION.path(), post(get_data_endpoint::handle))
        .route(tag_stream::OPERATION.path(), post(tag_stream::handle))
        .route(untag_stream::OPERATION.path(), post(untag_stream::handle))
        .route(list_tags_for_stream::OPERATION.path(), post(list_tags_for_stream::handle))
        .route(tag_resource::OPERATION.path(), post(tag_resource::handle))
        .route(untag_resource::OPERATION.path(), post(untag_resource::handle))
        .route(list_tags_for_resource::OPERATION.path(), post(list_tags_for_resource::handle))
        .route(
            Operation::DescribeStreamStorageConfiguration.path(),
            post(stream_storage_configuration::describe),
        )
        .route(Operation::UpdateStreamStorageConfiguration.path(), post(stream_storage_configuration::update))
        .route(
            describe_mapped_resource_configuration::OPERATION.path(),
            post(describe_mapped_resource_configuration::handle),
        )
        .route(
            update_media_storage_configuration::OPERATION.path(),
            post(update_media_storage_configuration::handle),
        )
        .route(
            describe_media_storage_configuration::OPERATION.path(),
            post(describe_media_storage_configuration::handle),
        )
        .route(create_signaling_channel::OPERATION.path(), post(create_signaling_channel::handle))
        .route(describe_signaling_channel::OPERATION.path(), post(describe_signaling_channel::handle))
        .route(list_signaling_channels::OPERATION.path(), post(list_signaling_channels::handle))
        .route(update_signaling_channel::OPERATION.path(), post(update_signaling_channel::handle))
        .route(delete_signaling_channel::OPERATION.path(), post(delete_signaling_channel::handle))
        .route(get_signaling_channel_endpoint::OPERATION.path(), post(get_signaling_channel_endpoint::handle))
        .route(
            describe_image_generation_configuration::OPERATION.path(),
            post(describe_image_generation_configuration::handle),
        )
        .route(
            update_image_generation_configuration::OPERATION.path(),
            post(update_image_generation_configuration::handle),
        )
        .route(
            describe_notification_configuration::OPERATION.path(),
            post(describe_notification_configuration::handle),
        )
        .route(
            update_notification_configuration::OPERATION.path(),
            post(update_notification_configuration::handle),
        )
}

/// Validates a `TagKeyList`: 1..=50 keys of 1..=128 characters.
pub(crate) fn validate_tag_keys(keys: &[String]) -> Result<(), AwsError> {
    if keys.is_empty() || keys.len() > 50 {
        return Err(AwsError::invalid_argument(
            "1 validation error detected: Value at 'tagKeyList' failed to satisfy constraint: Member must have length between 1 and 50",
        ));
    }
    for k in keys {
        TagKey::parse(k)?;
    }
    Ok(())
}

/// What a `ResourceARN` of the resource-tagging operations names.
#[derive(Debug)]
pub(crate) enum TaggedResource {
    /// A stream.
    Stream(Stream),
    /// A signaling channel.
    Channel(SignalingChannel),
}

/// Resolves a `ResourceARN` of the resource-tagging operations to a stream or a signaling
/// channel, checking the key's name globs first (the same globs for both kinds).
pub(crate) async fn resolve_resource(
    state: &AppState,
    caller: &Caller,
    op: Operation,
    arn: &str,
) -> Result<TaggedResource, AwsError> {
    let parsed = ResourceArn::parse_member(arn, "resourceARN")?;
    Ok(match parsed.kind {
        ResourceKind::Stream => {
            TaggedResource::Stream(resolve(state, caller, op, &StreamRef::Arn(parsed)).await?)
        }
        ResourceKind::Channel => {
            TaggedResource::Channel(resolve_channel(state, caller, op, &ChannelRef::Arn(parsed)).await?)
        }
    })
}
