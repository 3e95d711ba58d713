//! The load generators behind `openkvs bench`: clients beside the server, like the producer, that
//! measure an endpoint (openkvs or AWS) from the outside.
//!
//! - [`ingest`] (`bench ingest`): N concurrent PutMedia producers, each one a
//!   [`crate::producer::session`] exactly as `openkvs put` runs it, reporting fragments/s, Mbit/s
//!   and ACK latency percentiles.
//! - [`get_media`] (`bench getmedia`) and [`hls`] (`bench hls`): the read side, N GetMedia readers
//!   or HLS viewers, reporting time to first byte/fragment, throughput and errors.
//! - [`whep`] (`bench whep`): N WHEP viewers of one stream the bench feeds in real time, each a
//!   real WebRTC client ([`whep_client`], str0m), reporting drops, frame latency and the server's
//!   CPU ([`server_process`]: a child `openkvs serve`, or a given pid, read from `/proc`).
//! - the read-side benches share the producer's keep-alive connection
//!   ([`crate::producer::data_client`]): signed JSON POSTs and session-resource GETs on a data
//!   endpoint.
//!
//! This module is a client: it uses the producer (control plane, body, session, signing, report)
//! and `media`/`outbound`, may use hyper and str0m (as a client), never axum, and nothing in the server imports it.

pub mod get_media;
pub mod hls;
pub mod ingest;
pub mod server_process;
pub mod whep;
pub mod whep_client;
