//! Pure media code: bytes in, items out.
//!
//! * [`ebml`]: EBML varints, header parsing ("is a whole element here?"), element writing.
//! * [`mkv`]: the incremental Matroska demuxer ([`mkv::MkvDemuxer`]: `push` / `pull` /
//!   `finish` / `check_invariants`), TrackEntry and Tags parsing, KVS tag building.
//! * [`annexb`]: H.264 between length-prefixed (Matroska) and Annex B (RTP packetizer) form.
//! * [`fragment`]: the KVS fragmenter ([`fragment::Fragmenter`]) on top of the demuxer: one Cluster
//!   is one fragment; fragment boundaries, metadata, timestamps and which ErrorId a rejection is.
//! * [`error_id`]: the one table of PutMedia ErrorIds ([`error_id::ErrorId`]) and their names.
//!
//! Nothing here does I/O, spawns threads, reads clocks or imports from the rest of the crate. No
//! input can make it panic, loop forever or allocate more than the configured limits; frame data
//! is never copied after it is buffered (blocks and frames are `Bytes` slices of the input).

pub mod annexb;
pub mod codec;
pub mod dash;
pub mod ebml;
pub mod error_id;
pub mod fmp4;
pub mod fragment;
pub mod hls;
pub mod iso8601;
pub mod mkv;
pub mod mpegts;
pub mod samples;
