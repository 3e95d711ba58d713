//! The `kinesisvideo` control plane: one file per operation, each exporting its `OPERATION` and
//! handler; [`router`] registers them by [`Operation::path`]. Handlers validate input like the
//! botocore model, authorize against the caller's key policy, call the index and shape output.

pub mod create_stream;
pub mod delete_stream;
pub mod describe_mapped_resource_configuration;
pub mod describe_stream;
pub mod get_data_endpoint;
pub mod list_streams;
pub mod list_tags_for_resource;
pub mod list_tags_for_stream;
pub mod stream_storage_configuration;
pub mod tag_resource;
pub mod tag_stream;
pub mod untag_resource;
pub mod untag_stream;
pub mod update_data_retention;
pub mod update_stream;

use axum::Router;
use axum::routing::post;

use super::AppState;
use super::aws::{AwsError, AwsErrorCode, Operation};
use super::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::model::{ResourceArn, ResourceKind, Stream, TagKey};

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

/// Resolves a `ResourceARN` of the resource-tagging operations to a stream.
pub(crate) async fn resolve_resource(
    state: &AppState,
    caller: &Caller,
    op: Operation,
    arn: &str,
) -> Result<Stream, AwsError> {
    let parsed = ResourceArn::parse_member(arn, "resourceARN")?;
    match parsed.kind {
        ResourceKind::Stream => resolve(state, caller, op, &StreamRef::Arn(parsed)).await,
        ResourceKind::Channel => Err(AwsError::new(
            AwsErrorCode::ResourceNotFoundException,
            "The requested signaling channel is not found.",
        )),
    }
}
