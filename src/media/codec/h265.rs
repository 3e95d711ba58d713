//! (being written) h265 parsing.
