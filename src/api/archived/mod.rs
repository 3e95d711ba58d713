//! The `kinesis-video-archived-media` data plane: ListFragments, GetMediaForFragmentList,
//! GetHLSStreamingSessionURL, GetDASHStreamingSessionURL, GetClip and GetImages (the session
//! resources themselves are in `api::hls` and `api::dash`). Each operation in its own file.

pub mod get_clip;
pub mod get_dash_streaming_session_url;
pub mod get_hls_streaming_session_url;
pub mod get_images;
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
        .route(get_hls_streaming_session_url::OPERATION.path(), post(get_hls_streaming_session_url::handle))
        .route(get_dash_streaming_session_url::OPERATION.path(), post(get_dash_streaming_session_url::handle))
        .route(get_clip::OPERATION.path(), post(get_clip::handle))
        .route(get_images::OPERATION.path(), post(get_images::handle))
}
