//! (being written) HLS playlist text.
