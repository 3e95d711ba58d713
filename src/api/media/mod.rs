//! The `kinesis-video-media` data plane: PutMedia (ingest). Each operation in its own file.

pub mod put_media;

use axum::Router;
use axum::routing::post;

use super::AppState;

/// The media routes.
pub fn router() -> Router<AppState> {
    Router::new().route(put_media::OPERATION.path(), post(put_media::handle))
}
