//! The `kinesis-video-archived-media` data plane: ListFragments and GetMediaForFragmentList (later
//! HLS/DASH session URLs, GetClip, GetImages). Each operation in its own file.

pub mod get_media_for_fragment_list;
pub mod list_fragments;

use axum::Router;
use axum::routing::post;

use super::AppState;

/// The archived-media routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(list_fragments::OPERATION.path(), post(list_fragments::handle))
        .route(get_media_for_fragment_list::OPERATION.path(), post(get_media_for_fragment_list::handle))
}
