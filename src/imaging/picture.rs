//! [`Picture`]: one decoded frame as tightly packed I420 (a full-size luma plane, two chroma
//! planes of half width and half height, rounded up), with the operations on it that do not
//! depend on an output format: luma access for analysis, scaling, conversion to RGB; and
//! [`target_size`], the GetImages WidthPixels/HeightPixels rule. It must not know about codecs,
//! containers or output formats.

use image::imageops::FilterType;
use image::{ImageBuffer, Luma};

use super::ImagingError;

/// A decoded picture, I420 (YUV 4:2:0, 8 bits, planes without padding).
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    width: u32,
    height: u32,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Picture({}x{})", self.width, self.height)
    }
}

impl Picture {
    /// A picture from its planes: `y` is `width × height`, `u` and `v` are
    /// `ceil(width/2) × ceil(height/2)`; anything else is an error.
    pub fn from_i420(
        width: u32,
        height: u32,
        y: Vec<u8>,
        u: Vec<u8>,
        v: Vec<u8>,
    ) -> Result<Self, ImagingError> {
        let (w, h) = (width as usize, height as usize);
        let chroma = w.div_ceil(2) * h.div_ceil(2);
        if w == 0 || h == 0 || y.len() != w * h || u.len() != chroma || v.len() != chroma {
            return Err(ImagingError::Decode(format!(
                "planes of {}/{}/{} bytes do not make a {width}x{height} I420 picture",
                y.len(),
                u.len(),
                v.len()
            )));
        }
        Ok(Self { width, height, y, u, v })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The luma (Y) plane: `height` rows of `width` bytes.
    pub fn luma(&self) -> &[u8] {
        &self.y
    }

    /// The Cb (U) plane: `ceil(height/2)` rows of `ceil(width/2)` bytes.
    pub fn chroma_u(&self) -> &[u8] {
        &self.u
    }

    /// The Cr (V) plane, laid out like [`Picture::chroma_u`].
    pub fn chroma_v(&self) -> &[u8] {
        &self.v
    }

    /// The chroma planes' width and height.
    pub fn chroma_size(&self) -> (u32, u32) {
        (self.width.div_ceil(2), self.height.div_ceil(2))
    }

    /// The luma plane reduced by the smallest whole factor `k` that brings the width to at most
    /// `max_width` (each output pixel is the mean of a `k × k` block; a partial block at the
    /// right or bottom edge is dropped). Returns `(width, height, pixels)`; `k = 1` (a copy)
    /// when the picture is already narrow enough.
    pub fn downscaled_luma(&self, max_width: u32) -> (u32, u32, Vec<u8>) {
        let k = self.width.div_ceil(max_width.max(1)).max(1);
        if k == 1 {
            return (self.width, self.height, self.y.clone());
        }
        let (ow, oh) = ((self.width / k).max(1), (self.height / k).max(1));
        let (k, src_w) = (k as usize, self.width as usize);
        let (bw, bh) = (k.min(src_w), k.min(self.height as usize));
        let mut sums = vec![0u32; ow as usize];
        let mut out = Vec::with_capacity(ow as usize * oh as usize);
        for by in 0..oh as usize {
            sums.iter_mut().for_each(|s| *s = 0);
            for row in by * k..by * k + bh {
                let line = &self.y[row * src_w..row * src_w + src_w];
                for (bx, sum) in sums.iter_mut().enumerate() {
                    *sum += line[bx * k..bx * k + bw].iter().map(|p| u32::from(*p)).sum::<u32>();
                }
            }
            let n = (bw * bh) as u32;
            out.extend(sums.iter().map(|s| ((s + n / 2) / n) as u8));
        }
        (ow, oh, out)
    }

    /// The picture resampled to `width × height` (each plane with a Catmull-Rom filter whose
    /// support widens with the reduction, so downscaling does not alias). The same size is a copy.
    pub fn scaled(&self, width: u32, height: u32) -> Picture {
        let (width, height) = (width.max(1), height.max(1));
        if (width, height) == (self.width, self.height) {
            return self.clone();
        }
        let (cw, ch) = self.chroma_size();
        let (tcw, tch) = (width.div_ceil(2), height.div_ceil(2));
        let plane = |data: &[u8], w: u32, h: u32, tw: u32, th: u32| -> Vec<u8> {
            let view: ImageBuffer<Luma<u8>, &[u8]> =
                ImageBuffer::from_raw(w, h, data).expect("plane sizes are checked at construction");
            image::imageops::resize(&view, tw, th, FilterType::CatmullRom).into_raw()
        };
        Picture {
            width,
            height,
            y: plane(&self.y, self.width, self.height, width, height),
            u: plane(&self.u, cw, ch, tcw, tch),
            v: plane(&self.v, cw, ch, tcw, tch),
        }
    }

    /// The picture as packed 8-bit RGB (`width × height × 3` bytes), converting with the BT.601
    /// limited-range matrix (what H.264 implies when the stream does not say otherwise).
    pub fn to_rgb(&self) -> Vec<u8> {
        let (w, h) = (self.width as usize, self.height as usize);
        let cw = w.div_ceil(2);
        let mut out = vec![0u8; w * h * 3];
        for (row, line) in out.chunks_exact_mut(w * 3).enumerate() {
            let ys = &self.y[row * w..row * w + w];
            let us = &self.u[(row / 2) * cw..(row / 2) * cw + cw];
            let vs = &self.v[(row / 2) * cw..(row / 2) * cw + cw];
            for (x, px) in line.chunks_exact_mut(3).enumerate() {
                let c = 298 * (i32::from(ys[x]) - 16);
                let d = i32::from(us[x / 2]) - 128;
                let e = i32::from(vs[x / 2]) - 128;
                px[0] = clamp_u8((c + 409 * e + 128) >> 8);
                px[1] = clamp_u8((c - 100 * d - 208 * e + 128) >> 8);
                px[2] = clamp_u8((c + 516 * d + 128) >> 8);
            }
        }
        out
    }
}

fn clamp_u8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// The output size for a `src_width × src_height` picture and the requested `width` / `height`:
/// both given, exactly that (the picture is stretched); one given, the other follows the source
/// aspect ratio (rounded, at least 1); neither, the source size.
pub fn target_size(src_width: u32, src_height: u32, width: Option<u32>, height: Option<u32>) -> (u32, u32) {
    let follow = |given: u32, from: u32, to: u32| -> u32 {
        let v = (u64::from(given) * u64::from(to) + u64::from(from.max(1)) / 2) / u64::from(from.max(1));
        u32::try_from(v).unwrap_or(u32::MAX).max(1)
    };
    match (width, height) {
        (Some(w), Some(h)) => (w.max(1), h.max(1)),
        (Some(w), None) => (w.max(1), follow(w.max(1), src_width, src_height)),
        (None, Some(h)) => (follow(h.max(1), src_height, src_width), h.max(1)),
        (None, None) => (src_width, src_height),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> Picture {
        let y = (0..h).flat_map(|r| (0..w).map(move |c| ((r * 7 + c * 3) % 256) as u8)).collect();
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        Picture::from_i420(w, h, y, vec![128; (cw * ch) as usize], vec![128; (cw * ch) as usize]).unwrap()
    }

    #[test]
    fn sizes_follow_the_rules() {
        assert_eq!(target_size(640, 360, None, None), (640, 360));
        assert_eq!(target_size(640, 360, Some(320), None), (320, 180));
        assert_eq!(target_size(640, 360, None, Some(90)), (160, 90));
        assert_eq!(target_size(640, 360, Some(100), Some(100)), (100, 100));
        assert_eq!(target_size(1920, 1080, Some(3840), None), (3840, 2160));
        assert_eq!(target_size(640, 360, Some(1), None), (1, 1));
        assert_eq!(target_size(1280, 720, Some(333), None), (333, 187));
    }

    #[test]
    fn planes_are_checked() {
        assert!(Picture::from_i420(3, 3, vec![0; 9], vec![0; 4], vec![0; 4]).is_ok());
        assert!(Picture::from_i420(3, 3, vec![0; 9], vec![0; 2], vec![0; 4]).is_err());
        assert!(Picture::from_i420(0, 3, vec![], vec![], vec![]).is_err());
    }

    #[test]
    fn downscaled_luma_is_a_box_mean() {
        let p = Picture::from_i420(4, 2, vec![0, 2, 10, 20, 4, 6, 30, 40], vec![0; 2], vec![0; 2]).unwrap();
        assert_eq!(p.downscaled_luma(2), (2, 1, vec![3, 25]));
        assert_eq!(p.downscaled_luma(4), (4, 2, p.luma().to_vec()));
        let big = gradient(641, 361);
        let (w, h, px) = big.downscaled_luma(160);
        assert_eq!((w, h, px.len()), (128, 72, 128 * 72));
        assert_eq!(big.downscaled_luma(0).0, 1);
    }

    #[test]
    fn scaling_and_rgb() {
        let p = gradient(64, 36);
        let s = p.scaled(31, 17);
        assert_eq!((s.width(), s.height(), s.chroma_size()), (31, 17, (16, 9)));
        assert_eq!(s.luma().len(), 31 * 17);
        assert_eq!(p.scaled(64, 36), p);
        let up = p.scaled(200, 100);
        assert_eq!(up.chroma_u().len(), 100 * 50);
        let grey = Picture::from_i420(2, 2, vec![16, 235, 126, 126], vec![128], vec![128]).unwrap();
        let rgb = grey.to_rgb();
        assert_eq!(&rgb[..6], &[0, 0, 0, 255, 255, 255]);
        assert!(rgb[6..].iter().all(|v| (127..=129).contains(v)), "{rgb:?}");
    }
}
