//! The analyzers that ship with openkvs.
//!
//! - [`thumbnails`]: key-frame images (JPEG/PNG) at a sampling interval, driven by the stream's
//!   ImageGenerationConfiguration or the `[workers.thumbnails]` defaults.
//! - [`motion`]: frame differencing on a downscaled luma plane, motion start/end events.
//! - [`detection`]: people, animals, vehicles and faces in key frames (CenterNet and BlazeFace in a
//!   supervised Node.js process), `label` and object start/end events.
//! - [`jetstream`]: every persisted fragment as a JetStream message, for external workers.

pub mod detection;
pub mod jetstream;
pub mod motion;
pub mod thumbnails;

use crate::imaging::{ImagingError, Picture, StoredFragment, pictures_at};
use crate::workers::analyzer::AnalyzerError;

/// Each requested time with the picture shown then (or why there is none).
pub type TimedPictures = Vec<(i64, Result<Picture, ImagingError>)>;

/// The pictures one fragment shows at `times_ms` (CPU-heavy: call it on the compute pool). A
/// track no decoder here supports is [`AnalyzerError::Unsupported`] for the whole fragment; other
/// per-time failures stay in the list for the caller to skip.
pub fn fragment_pictures(
    fragment: &StoredFragment,
    times_ms: &[i64],
) -> Result<TimedPictures, AnalyzerError> {
    let pictures = pictures_at(std::slice::from_ref(fragment), times_ms);
    if let Some((_, Err(e @ ImagingError::UnsupportedCodec(_)))) = pictures.first() {
        return Err(AnalyzerError::Unsupported(e.to_string()));
    }
    Ok(pictures)
}
