//! (being written) DASH manifest text.
