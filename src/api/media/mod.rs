//! The `kinesis-video-media` data plane: PutMedia (ingest) and GetMedia. Each operation in its
//! own file.

pub mod get_media;
pub mod put_media;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::post;
use tokio::sync::mpsc;

use super::AppState;

/// The media routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(put_media::OPERATION.path(), post(put_media::handle))
        .route(get_media::OPERATION.path(), post(get_media::handle))
}

/// A streaming response body fed by a channel of byte chunks.
pub fn receiver_body(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, std::convert::Infallible>(b), rx))
    });
    Body::from_stream(stream)
}
