//! Matroska on top of EBML: element IDs ([`ids`]), the incremental demuxer for live PutMedia
//! bodies ([`demux`]), TrackEntry parsing ([`tracks`]), Tags parsing and building ([`tags`]),
//! re-framing a muxer's output as a KVS producer body ([`rewrite`]), writing a live body from
//! elementary-stream frames ([`live`], the edge recorder's output) and the error type that
//! locates problems by offset and element path ([`error`]).
//!
//! Owns Matroska structure. It must not apply KVS fragment policy (see `super::fragment`) and does
//! no I/O.

pub mod demux;
pub mod error;
pub mod ids;
pub mod kvs_chunk;
pub mod live;
pub mod live_mux;
pub mod rewrite;
pub mod tags;
pub mod tracks;

pub use demux::{DemuxLimits, Frame, MkvDemuxer, MkvEvent};
pub use error::{ElementPath, MkvError, MkvErrorKind};
pub use tags::SimpleTag;
pub use tracks::{AudioSettings, TrackEntry, TrackKind, VideoSettings};
