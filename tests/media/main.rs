//! The pure Matroska demuxer and KVS fragmenter (`openkvs::media`) against the fixtures: structure,
//! counts cross-checked with matroska-demuxer, split invariance, every ErrorId, robustness.

#[macro_use]
mod harness;

mod demux_structure;
mod error_ids;
mod fixture_counts;
mod fmp4;
mod mpegts;
mod robustness;
mod split_invariance;
