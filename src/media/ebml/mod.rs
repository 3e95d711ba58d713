//! EBML, the binary container syntax under Matroska (RFC 8794): variable-length integers
//! ([`vint`]), reading headers and buffered elements ([`reader`]) and writing elements
//! ([`writer`]).
//!
//! Owns syntax only: no Matroska semantics (those live in `super::mkv`), no input buffering, no
//! I/O.

pub mod reader;
pub mod vint;
pub mod writer;

pub use reader::{Child, Children, EbmlError, EbmlErrorKind, ElementHeader, Parse, parse_header};
pub use vint::{ElementSize, VintError};
pub use writer::{EbmlWriter, MasterMark, SizeForm};
