//! Encoding a [`Picture`] as JPEG or PNG (the two GetImages formats), in memory. It must not
//! scale or otherwise change the picture: callers choose the size first.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

use super::{ImagingError, Picture};

/// JPEG quality when the request gives none (AWS: 80).
pub const DEFAULT_JPEG_QUALITY: u8 = 80;

/// The output format of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// Baseline JPEG at this quality (1 = smallest, 100 = best; values outside are clamped).
    Jpeg {
        /// 1..=100.
        quality: u8,
    },
    /// 8-bit RGB PNG.
    Png,
}

impl ImageFormat {
    /// The MIME type of the encoded bytes.
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg { .. } => "image/jpeg",
            ImageFormat::Png => "image/png",
        }
    }
}

/// Encodes `picture` (converted to RGB) in `format`.
pub fn encode(picture: &Picture, format: ImageFormat) -> Result<Vec<u8>, ImagingError> {
    let rgb = picture.to_rgb();
    let (w, h) = (picture.width(), picture.height());
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let result =
        match format {
            ImageFormat::Jpeg { quality } => JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
                .encode(&rgb, w, h, ExtendedColorType::Rgb8),
            ImageFormat::Png => {
                PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
                    .write_image(&rgb, w, h, ExtendedColorType::Rgb8)
            }
        };
    result.map_err(|e| ImagingError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_and_png_round_trip() {
        let (w, h) = (33u32, 17u32);
        let y: Vec<u8> = (0..w * h).map(|i| (i * 5 % 220 + 16) as u8).collect();
        let c = (w.div_ceil(2) * h.div_ceil(2)) as usize;
        let p = Picture::from_i420(w, h, y, vec![100; c], vec![150; c]).unwrap();
        let jpeg = encode(&p, ImageFormat::Jpeg { quality: DEFAULT_JPEG_QUALITY }).unwrap();
        assert_eq!(&jpeg[..3], &[0xff, 0xd8, 0xff]);
        let small = encode(&p, ImageFormat::Jpeg { quality: 1 }).unwrap();
        let best = encode(&p, ImageFormat::Jpeg { quality: 100 }).unwrap();
        assert!(small.len() < best.len());
        let png = encode(&p, ImageFormat::Png).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let decoded = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), (w, h));
        assert_eq!(decoded.into_raw(), p.to_rgb(), "PNG is lossless");
        assert_eq!(image::load_from_memory(&jpeg).unwrap().to_rgb8().dimensions(), (w, h));
        assert_eq!(ImageFormat::Png.mime_type(), "image/png");
    }
}
