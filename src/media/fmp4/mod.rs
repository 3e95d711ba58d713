//! (being written) fragmented and progressive MP4 writers.
