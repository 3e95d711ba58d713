//! Pictures from stored video: decoding frames of a stored fragment (H.264 with OpenH264),
//! scaling them and encoding them as JPEG or PNG. GetImages and the thumbnail worker both go
//! through [`pictures_at`]; the motion detector reads [`Picture::luma`] /
//! [`Picture::downscaled_luma`].
//!
//! This module is compute only: it does no file or network I/O, reads no clock, knows nothing of
//! streams, the index, the store or HTTP, and imports only `media` from the crate (to demux the
//! stored header set + Cluster into samples). It is separate from `media` because it links a C
//! decoder (OpenH264, built from the source the `openh264` crate bundles) and spends real CPU:
//! callers run it on a blocking thread. H.265 has no decoder here: its frames give
//! [`ImagingError::UnsupportedCodec`].
//!
//! # Which frame a picture shows
//! The AWS documentation does not say how GetImages picks the frame for a sample time; openkvs
//! shows the frame being displayed at that instant: the last frame (in presentation order) whose
//! presentation time is at or before the sample time, decoded from the key frame before it. A
//! sample time inside a fragment but before its first video frame shows that first frame; a time
//! before the fragment's start or at/after the end of its last frame has no picture
//! ([`ImagingError::NoMedia`]). Several sample times in one fragment share one decoding pass: the
//! GOP is decoded once, from the key frame before the earliest of them, up to the last.
//!
//! # Sizes
//! [`target_size`] implements the WidthPixels/HeightPixels rules (both: stretched to exactly that
//! size; one: the other follows the source aspect ratio; neither: the source size). Which
//! combinations a request may use is the API layer's business.

mod decoder;
mod encoding;
mod picture;
mod sampling;

pub use decoder::VideoDecoder;
pub use encoding::{DEFAULT_JPEG_QUALITY, ImageFormat, encode};
pub use picture::{Picture, target_size};
pub use sampling::{StoredFragment, pictures_at};

/// Why a picture could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImagingError {
    /// Nothing was being shown at that time (outside every frame of the fragment).
    #[error("no media at this time")]
    NoMedia,
    /// The track cannot be decoded here (H.265, audio only, another codec).
    #[error("unsupported media: {0}")]
    UnsupportedCodec(String),
    /// The stored bytes or the CodecPrivate cannot be parsed.
    #[error("invalid media: {0}")]
    InvalidMedia(String),
    /// The decoder rejected the bitstream, or produced no picture for the frame.
    #[error("decoding failed: {0}")]
    Decode(String),
    /// The picture could not be encoded.
    #[error("encoding failed: {0}")]
    Encode(String),
}
