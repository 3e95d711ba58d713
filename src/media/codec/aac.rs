//! (being written) aac parsing.
