//! The load generators behind `openkvs bench`: clients beside the server, like the producer, that
//! measure an endpoint (openkvs or AWS) from the outside.
//!
//! - [`ingest`] (`bench ingest`): N concurrent PutMedia producers, each one a
//!   [`crate::producer::session`] exactly as `openkvs put` runs it, reporting fragments/s, Mbit/s
//!   and ACK latency percentiles.
//! - [`get_media`] (`bench getmedia`) and [`hls`] (`bench hls`): the read side, N GetMedia readers
//!   or HLS viewers, reporting time to first byte/fragment, throughput and errors.
//! - [`data_client`] is the keep-alive connection the read-side benches share: signed JSON POSTs
//!   and session-resource GETs on a data endpoint.
//!
//! This module is a client: it uses the producer (control plane, body, session, signing, report)
//! and `media`/`outbound`, may use hyper, never axum, and nothing in the server imports it.

pub mod data_client;
pub mod get_media;
pub mod hls;
pub mod ingest;
