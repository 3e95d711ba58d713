//! (being written) MKV fragment → playable tracks and samples.
