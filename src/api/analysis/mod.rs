//! openkvs's own analysis API (outside the AWS surface, documented in
//! `docs/openapi/analysis.yaml`): analyzer events per stream and time range, worker status and
//! lag, pausing and resuming a worker, and a stream's ingest health (fragments that do not start
//! on a key frame). Same conventions as the AWS operations: `POST` with a JSON
//! body, SigV4-signed (service `kinesisvideo`; `curl --aws-sigv4 "aws:amz:REGION:kinesisvideo"`
//! works), PascalCase members, AWS-shaped errors, key policies by operation name and stream glob.
//! One file per operation.

pub mod describe_ingest_health;
pub mod describe_workers;
pub mod list_analyzer_events;
pub mod pause_worker;
pub mod resume_worker;

use axum::Router;
use axum::routing::post;

use super::AppState;

/// The analysis routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(list_analyzer_events::OPERATION.path(), post(list_analyzer_events::handle))
        .route(describe_workers::OPERATION.path(), post(describe_workers::handle))
        .route(describe_ingest_health::OPERATION.path(), post(describe_ingest_health::handle))
        .route(pause_worker::OPERATION.path(), post(pause_worker::handle))
        .route(resume_worker::OPERATION.path(), post(resume_worker::handle))
}
