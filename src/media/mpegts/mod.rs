//! (being written) MPEG-TS segment writer.
