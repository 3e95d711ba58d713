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
//! - [`cluster`] (`bench failover`, `bench cluster-cpu`): a cluster of `openkvs serve` children
//!   ([`cluster_nodes`]) on Postgres, S3 and NATS under reconnecting producers: failover time and
//!   lost/duplicated fragments over repeated `kill -9`s, and CPU per Mbit on 1 node vs several.
//! - the read-side benches share the producer's keep-alive connection
//!   ([`crate::producer::data_client`]): signed JSON POSTs and session-resource GETs on a data
//!   endpoint.
//!
//! This module is a client: it uses the producer (control plane, body, session, signing, report)
//! and `media`/`outbound`, may use hyper and str0m (as a client), never axum, and nothing in the server imports it.

pub mod cluster;
pub mod cluster_nodes;
pub mod get_media;
pub mod hls;
pub mod ingest;
pub mod server_process;
pub mod whep;
pub mod whep_client;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::media::mkv::rewrite::FragmentPolicy;
use crate::producer::body::PreparedFile;

/// Prints a bench's result on stdout: one line of JSON with `--json`, else its human table.
fn print_summary<T: serde::Serialize>(
    summary: &T,
    json: bool,
    table: fn(&T) -> String,
) -> Result<(), serde_json::Error> {
    if json {
        println!("{}", serde_json::to_string(summary)?);
    } else {
        print!("{}", table(summary));
    }
    Ok(())
}

/// Reads and splits the Matroska file a feeding bench sends; errors name the file.
async fn prepare_file(path: &Path, policy: FragmentPolicy) -> Result<Arc<PreparedFile>, String> {
    let data = tokio::fs::read(path).await.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    PreparedFile::new(Bytes::from(data), policy).map_err(|e| format!("{}: {e}", path.display()))
}
