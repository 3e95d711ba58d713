//! (being written) h264 parsing.
