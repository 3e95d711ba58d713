//! The analyzers that ship with openkvs.
//!
//! - [`thumbnails`]: key-frame images (JPEG/PNG) at a sampling interval, driven by the stream's
//!   ImageGenerationConfiguration or the `[workers.thumbnails]` defaults.
//! - [`motion`]: frame differencing on a downscaled luma plane, motion start/end events.
//! - [`jetstream`]: every persisted fragment as a JetStream message, for external workers.

pub mod jetstream;
pub mod motion;
pub mod thumbnails;
