//! # openkvs
//!
//! A self-hosted server that speaks the Amazon Kinesis Video Streams wire protocol: the KVS producer
//! SDKs, boto3 and the aws-sdk clients talk to it unmodified.
//!
//! # Layout
//!
//! **`app`** builds the concrete server from an [`app::Config`]: it opens the archive, binds the
//! listeners (plain HTTP and/or rustls HTTPS), assembles the router and owns the shutdown order. It
//! is the only module that chooses implementations.
//!
//! **`data_dir_lock`** keeps a data directory to one server (an exclusive `flock`, released when
//! the process dies).
//!
//! **`config`** is how configuration is read (one TOML file, defaults < file < `OPENKVS_*` env <
//! flags, unknown keys refused); it imports no subsystem: each subsystem owns its section type and
//! `app::config` assembles the whole [`app::Config`] and its startup safety checks. **`clock`** is
//! time as a dependency, so tests can move it.
//!
//! **`model`** holds the validated domain values (stream names, ARNs, versions, retention, tags)
//! that every other layer passes around.
//!
//! **`auth`** verifies SigV4 signatures (header and presigned forms) against configured keys and
//! evaluates per-key policies. It is pure: the API layer hands it request parts and the time.
//!
//! **`archive`** is the persistence boundary: it owns the metadata index (SQLite, the embedded
//! default, or Postgres; one trait per aggregate, each query written once for both) and the
//! fragment store (segment files in the data directory or objects in an S3 bucket, each with a
//! place for the WARM tier), the group-commit persister, crash recovery, retention reclaim, stream
//! deletion and encryption at rest (every fragment sealed under its stream's data key, wrapped by
//! a keyring master key), and states the one durability rule they keep:
//! an index row only ever points at durable bytes, and bytes are removed only after no row points
//! at them. Everyone who reads or writes fragments or metadata holds its one handle,
//! [`archive::Archive`]; nothing else imports its `index` or `store` (design/0011-archive.md).
//!
//! **`api`** is the HTTP edge and the only layer that knows axum, headers, JSON casing and AWS error
//! codes: the error table, the operation enum, the SigV4 layer, and one handler file per operation.
//! It also serves the web console (`console/` at the repository root, embedded in the binary), whose
//! sign-in sessions (`auth::console_session`) authorize its calls to the same operations.
//!
//! **`ingest`** runs PutMedia sessions: the producer's body through the pure fragmenter, ACKs out,
//! complete fragments appended to the archive, frames on the live feed GetMedia tails follow.
//!
//! **`playback`** reads streams back: GetMedia, HLS/DASH sessions (playlists, fMP4 and MPEG-TS
//! segments) and GetClip, as byte streams built from fragments the archive lists and reads (pure
//! packaging code lives in **`media`**, which does no I/O).
//!
//! **`imaging`** turns stored video frames into pictures: H.264 decoding (OpenH264, a C library
//! built from source), scaling, JPEG/PNG encoding, and "which frame is on screen at time T" for
//! GetImages and thumbnails. Compute only, no I/O; apart from `media`, which it uses to demux stored
//! fragments, it imports nothing from the crate. It is not part of `media` because it links C code
//! and burns CPU: callers run it on blocking threads.
//!
//! **`signaling`** is KVS WebRTC signaling in memory: which master and viewers are connected to a
//! channel, relaying SDP and ICE messages between them, and the ICE server list.
//!
//! **`webrtc`** is the server's own WebRTC media endpoint on the sans-IO `str0m` stack: WHEP live
//! view of any stream from the ingest live feed (one conversion per stream, fanned out to its
//! viewers) and the storage peer of WebRTC ingestion. One driver task owns its sockets, timers and
//! peer connections; it knows no HTTP. **`turn_relay`** beside it is openkvs's own TURN relay
//! (the `turn` crate's server, checking the credentials GetIceServerConfig mints).
//!
//! **`producer`** is the other side of PutMedia: a client that resolves a stream with the AWS SDK,
//! re-frames a Matroska file or pipe like the KVS C producer and streams it over one signed,
//! full-duplex request while reading the ACKs (`openkvs put`). **`bench`** beside it holds the load
//! generators (`openkvs bench ingest|getmedia|hls`), built on the producer's session and report.
//!
//! **`edge`** is the KVS Edge Agent's recorder for RTSP cameras: configured by the edge
//! operations (`api::edge`, stored in the archive's edge and secret aggregates), it records a
//! camera with the `retina` RTSP client into Matroska fragments (pure parts in `edge::assembler`
//! and `media::mkv::live`), keeps them in a bounded local buffer and uploads them with the
//! `producer`'s PutMedia client, inside `openkvs serve` (hosted by `app`) or as `openkvs edge` near
//! the cameras.
//!
//! **`workers`** is the analysis fan-out: every fragment the archive commits is offered to
//! pluggable analyzers (key-frame images, motion, a JetStream feed) with durable cursors in the
//! archive, and their events are recorded and delivered to webhooks and NATS.
//!
//! **`cluster`** exists only when several nodes share one Postgres index, one S3 bucket and one
//! NATS server (`[cluster]`): membership (heartbeat rows in Postgres), stream ownership (rendezvous
//! hashing over the live members) and the writer epochs that fence a stream's fragment commits to
//! one node at a time. The single-node path never builds it.
//!
//! **`metrics`** is the process's Prometheus metrics: atomics the other layers bump, rendered as
//! text at scrape time (`api::metrics` serves `/metrics`, `/health`, `/ready`). No HTTP, no I/O.
//!
//! **`retention`** is the janitor's policy and schedule: each pass works out every stream's cutoff
//! from its retention and asks the archive to expire what is older (rows first, then whole
//! segments) and to remove deleted streams' leftovers.
//!
//! **`outbound`** opens client connections (TCP/TLS) and sends small HTTP requests: the producer's
//! data connections and the workers' webhook deliveries.
//!
//! # Layering rules
//!
//! `model` imports nothing from the crate; only `archive` imports its `index` and `store`, which
//! import only `model`, `clock` and their own errors; `config` imports nothing from the crate;
//! `auth` imports `model`; `api` may import everything below it; only `app` builds concrete
//! implementations. Nothing below `api` imports axum, hyper or http, except `outbound`, the one
//! place that speaks HTTP as a client. `producer` and `bench` are clients beside the server, not
//! below it: `producer` imports only `media` and `outbound` from the crate, `bench` those and
//! `producer`; both may use hyper, never axum, and nothing in the server imports either.
//! `imaging` imports only `media`. `edge` is a client beside the server too: it imports only
//! `model`, `media`, `outbound` and `producer` (never the archive, ingest or axum); `app` hosts it
//! in `openkvs serve` and gives it its link to the archive, and nothing else in the server imports
//! it.

pub mod api;
pub mod app;
pub mod archive;
pub mod auth;
pub mod bench;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod data_dir_lock;
pub mod edge;
pub mod imaging;
pub mod ingest;
pub mod media;
pub mod metrics;
pub mod model;
pub mod outbound;
pub mod playback;
pub mod producer;
pub mod retention;
pub mod s3_client;
pub mod signaling;
pub mod turn_relay;
pub mod webrtc;
pub mod workers;
