//! # openkvs
//!
//! A self-hosted server that speaks the Amazon Kinesis Video Streams wire protocol: the KVS producer
//! SDKs, boto3 and the aws-sdk clients talk to it unmodified.
//!
//! # Layout
//!
//! **`app`** builds the concrete server from a [`config::Config`]: it opens the index, binds the
//! listeners (plain HTTP and/or rustls HTTPS), assembles the router and owns the shutdown order. It
//! is the only module that chooses implementations.
//!
//! **`config`** is the typed configuration (defaults < file < `OPENKVS_*` env < flags) and its
//! startup safety checks. **`clock`** is time as a dependency, so tests can move it.
//!
//! **`model`** holds the validated domain values (stream names, ARNs, versions, retention, tags)
//! that every other layer passes around.
//!
//! **`auth`** verifies SigV4 signatures (header and presigned forms) against configured keys and
//! evaluates per-key policies. It is pure: the API layer hands it request parts and the time.
//!
//! **`index`** is the metadata database behind one trait with a method per query, implemented for
//! SQLite (embedded default) and Postgres (production), each with its own migrations.
//!
//! **`api`** is the HTTP edge and the only layer that knows axum, headers, JSON casing and AWS error
//! codes: the error table, the operation enum, the SigV4 layer, and one handler file per operation.
//!
//! **`playback`** reads streams back: GetMedia, HLS/DASH sessions (playlists, fMP4 and MPEG-TS
//! segments) and GetClip, as byte streams built from the index and the store (pure packaging code
//! lives in **`media`**, which does no I/O).
//!
//! **`signaling`** is KVS WebRTC signaling in memory: which master and viewers are connected to a
//! channel, relaying SDP and ICE messages between them, and the ICE server list.
//!
//! **`producer`** is the other side of PutMedia: a client that resolves a stream with the AWS SDK,
//! re-frames a Matroska file or pipe like the KVS C producer and streams it over one signed,
//! full-duplex request while reading the ACKs (`openkvs put`, `openkvs bench ingest`).
//!
//! # Layering rules
//!
//! `model` imports nothing from the crate; `index` imports only `model` (and its own errors);
//! `auth` imports `model` and `config`; `api` may import everything below it; only `app` builds
//! concrete implementations. Nothing below `api` imports axum, hyper or http. `producer` is a
//! client beside the server, not below it: it imports only `media` from the crate and may use
//! hyper, never axum.

pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod index;
pub mod ingest;
pub mod media;
pub mod model;
pub mod playback;
pub mod producer;
pub mod signaling;
pub mod store;
