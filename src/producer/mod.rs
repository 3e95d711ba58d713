//! The PutMedia producer: a client that streams Matroska to any KVS endpoint (openkvs or AWS) the
//! way the KVS C producer does. It backs `openkvs put`; the load generators beside it
//! (`crate::bench`: `openkvs bench ingest|getmedia|hls`) reuse its control plane, body, session and
//! report.
//!
//! - [`control`] resolves a stream on the control plane with the official SDK and the standard
//!   AWS credential chain: DescribeStream, CreateStream, GetDataEndpoint.
//! - [`body`] turns a Matroska input into body pieces (re-cut into one fragment per GOP by
//!   `crate::media::mkv::rewrite`, cluster timecodes re-timed), read incrementally from a file or
//!   stdin, or split once from memory for many sessions.
//! - [`input`] opens the `put` input and checks that it starts like Matroska before anything is
//!   created or sent.
//! - [`data_client`] is a keep-alive connection for small signed JSON calls (the read-side benches
//!   and the edge agent share it).
//! - [`sign`] SigV4-signs the PutMedia request head like the C producer.
//! - [`acks`] parses the ACK stream.
//! - [`session`] is the reusable core: one full-duplex PutMedia request from an already-resolved
//!   data endpoint, credentials and a stream of pieces to per-fragment timings.
//! - [`reconnect`] survives failover: sessions one after another over one input, resending what
//!   got no PERSISTED, with the endpoint asked for again each time.
//! - [`report`] computes latency percentiles and formats progress and summaries.
//! - [`put`] is the command; [`sample`] writes the embedded sample video (`openkvs sample`) that
//!   `put` can send.
//!
//! This module is a client: it may use hyper and rustls, never axum, and imports only `media`
//! and `outbound` (its connections) from the rest of the crate.

pub mod acks;
pub mod body;
pub mod control;
pub mod data_client;
pub mod input;
pub mod put;
pub mod reconnect;
pub mod report;
pub mod sample;
pub mod session;
pub mod sign;
