//! H.264 / AVC parsing: the `avcC` record (AVCDecoderConfigurationRecord, the Matroska
//! CodecPrivate of `V_MPEG4/ISO/AVC`), the RFC 6381 codec string and the picture size and frame
//! rate from a sequence parameter set. Also owns [`BitReader`], the RBSP / exp-Golomb reader the
//! other codec parsers reuse.
//!
//! It must not do I/O, write containers or panic on any input: every length is checked against
//! the bytes actually present before it is used, nothing is allocated from an unchecked length.

use bytes::Bytes;

use super::CodecError;

/// The NAL unit types of H.264 this crate cares about.
pub mod nal_type {
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Access unit delimiter.
    pub const AUD: u8 = 9;
    /// IDR slice.
    pub const IDR: u8 = 5;
}

/// The parsed `avcC` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    /// `AVCProfileIndication` (e.g. 66 baseline, 77 main, 100 high).
    pub profile_idc: u8,
    /// `profile_compatibility` (the constraint_set flags byte).
    pub profile_compat: u8,
    /// `AVCLevelIndication` (e.g. 30 for level 3.0).
    pub level_idc: u8,
    /// Size in bytes of the NAL unit length prefix in every frame (1, 2 or 4).
    pub nal_length_size: u8,
    /// The sequence parameter set NAL units (with their NAL header byte).
    pub sps: Vec<Bytes>,
    /// The picture parameter set NAL units (with their NAL header byte).
    pub pps: Vec<Bytes>,
}

fn invalid(msg: impl Into<String>) -> CodecError {
    CodecError::InvalidCodecPrivate(msg.into())
}

/// Reads `count` NAL units each prefixed by a 16-bit length from `rec` at `*pos`.
pub(crate) fn read_u16_prefixed_nals(
    rec: &Bytes,
    pos: &mut usize,
    count: usize,
    what: &str,
) -> Result<Vec<Bytes>, CodecError> {
    let mut out = Vec::new();
    for _ in 0..count {
        let len_bytes = rec.get(*pos..*pos + 2).ok_or_else(|| invalid(format!("{what} length truncated")))?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        *pos += 2;
        if len == 0 {
            return Err(invalid(format!("empty {what}")));
        }
        let end = *pos + len;
        if end > rec.len() {
            return Err(invalid(format!("{what} runs past the record")));
        }
        out.push(rec.slice(*pos..end));
        *pos = end;
    }
    Ok(out)
}

impl AvcConfig {
    /// Parses an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1). Trailing high-profile
    /// fields (chroma format, bit depths, SPS extensions) are ignored.
    pub fn parse(avcc: &Bytes) -> Result<Self, CodecError> {
        if avcc.is_empty() {
            return Err(CodecError::MissingCodecPrivate);
        }
        if avcc.len() < 7 {
            return Err(invalid("avcC shorter than 7 bytes"));
        }
        if avcc[0] != 1 {
            return Err(invalid(format!("avcC configurationVersion {} (expected 1)", avcc[0])));
        }
        let nal_length_size = (avcc[4] & 0x03) + 1;
        if nal_length_size == 3 {
            return Err(invalid("avcC lengthSizeMinusOne 2 is not allowed"));
        }
        let mut pos = 6;
        let num_sps = usize::from(avcc[5] & 0x1f);
        let sps = read_u16_prefixed_nals(avcc, &mut pos, num_sps, "SPS")?;
        let num_pps =
            usize::from(*avcc.get(pos).ok_or_else(|| invalid("avcC numOfPictureParameterSets missing"))?);
        pos += 1;
        let pps = read_u16_prefixed_nals(avcc, &mut pos, num_pps, "PPS")?;
        if sps.is_empty() {
            return Err(invalid("avcC has no SPS"));
        }
        if pps.is_empty() {
            return Err(invalid("avcC has no PPS"));
        }
        if sps.iter().any(|s| s[0] & 0x1f != nal_type::SPS) {
            return Err(invalid("avcC SPS entry is not an SPS NAL unit"));
        }
        if pps.iter().any(|p| p[0] & 0x1f != nal_type::PPS) {
            return Err(invalid("avcC PPS entry is not a PPS NAL unit"));
        }
        Ok(AvcConfig {
            profile_idc: avcc[1],
            profile_compat: avcc[2],
            level_idc: avcc[3],
            nal_length_size,
            sps,
            pps,
        })
    }

    /// The RFC 6381 codec string, `avc1.PPCCLL` in lower-case hex (e.g. `avc1.42c01e`).
    pub fn codec_string(&self) -> String {
        format!("avc1.{:02x}{:02x}{:02x}", self.profile_idc, self.profile_compat, self.level_idc)
    }
}

/// What [`sps_info`] reads from a sequence parameter set.
#[derive(Debug, Clone, PartialEq)]
pub struct SpsInfo {
    /// Width in pixels after cropping.
    pub width: u32,
    /// Height in pixels after cropping.
    pub height: u32,
    /// Frames per second from the VUI timing info (`time_scale / (2 * num_units_in_tick)`), if
    /// present.
    pub frame_rate: Option<f64>,
}

/// Removes emulation-prevention bytes (`00 00 03` → `00 00`) from a NAL unit payload. The output
/// is never longer than the input.
pub fn nal_to_rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0usize;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        if b == 0 {
            zeros += 1;
        } else {
            zeros = 0;
        }
        out.push(b);
    }
    out
}

/// A big-endian bit reader over an RBSP (emulation prevention already removed), with
/// exp-Golomb decoding. Reading past the end is an error, never a panic.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader { data, bit: 0 }
    }

    fn eof() -> CodecError {
        invalid("bitstream ends early")
    }

    pub(crate) fn bit(&mut self) -> Result<u32, CodecError> {
        let byte = self.data.get(self.bit / 8).ok_or_else(Self::eof)?;
        let v = (byte >> (7 - (self.bit % 8))) & 1;
        self.bit += 1;
        Ok(u32::from(v))
    }

    pub(crate) fn flag(&mut self) -> Result<bool, CodecError> {
        Ok(self.bit()? == 1)
    }

    /// Reads `n` ≤ 32 bits.
    pub(crate) fn bits(&mut self, n: u32) -> Result<u32, CodecError> {
        if n > 32 {
            return Err(invalid("bit field wider than 32"));
        }
        if self.bit + n as usize > self.data.len() * 8 {
            return Err(Self::eof());
        }
        let mut v: u64 = 0;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Ok(v as u32)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), CodecError> {
        if self.bit + n > self.data.len() * 8 {
            return Err(Self::eof());
        }
        self.bit += n;
        Ok(())
    }

    /// Unsigned exp-Golomb `ue(v)`, up to 32 leading zeros.
    pub(crate) fn ue(&mut self) -> Result<u64, CodecError> {
        let mut zeros = 0u32;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 32 {
                return Err(invalid("exp-Golomb code too long"));
            }
        }
        let rest = if zeros == 0 {
            0
        } else if zeros == 32 {
            u64::from(self.bits(32)?)
        } else {
            u64::from(self.bits(zeros)?)
        };
        Ok((1u64 << zeros) - 1 + rest)
    }

    /// Signed exp-Golomb `se(v)`.
    pub(crate) fn se(&mut self) -> Result<i64, CodecError> {
        let k = self.ue()? as i64;
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

fn scaling_list(r: &mut BitReader, size: usize) -> Result<(), CodecError> {
    let mut last = 8i64;
    let mut next = 8i64;
    for _ in 0..size {
        if next != 0 {
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(invalid("scaling list delta out of range"));
            }
            next = (last + delta + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// Reads a `ue(v)` that must not exceed `max`.
fn ue_max(r: &mut BitReader, max: u64, what: &str) -> Result<u64, CodecError> {
    let v = r.ue()?;
    if v > max {
        return Err(invalid(format!("SPS {what} {v} out of range")));
    }
    Ok(v)
}

/// Picture size after cropping and the VUI frame rate from an SPS NAL unit (with its one-byte NAL
/// header), ITU-T H.264 7.3.2.1.1. A VUI that ends early only loses the frame rate.
pub fn sps_info(sps: &[u8]) -> Result<SpsInfo, CodecError> {
    let header = *sps.first().ok_or_else(|| invalid("empty SPS"))?;
    if header & 0x1f != nal_type::SPS {
        return Err(invalid(format!("NAL unit type {} is not an SPS", header & 0x1f)));
    }
    let rbsp = nal_to_rbsp(&sps[1..]);
    let mut r = BitReader::new(&rbsp);
    let profile_idc = r.bits(8)?;
    r.skip(16)?; // constraint flags + level_idc
    ue_max(&mut r, 31, "seq_parameter_set_id")?;
    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    if matches!(profile_idc, 100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135) {
        chroma_format_idc = ue_max(&mut r, 3, "chroma_format_idc")?;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag()?;
        }
        ue_max(&mut r, 6, "bit_depth_luma_minus8")?;
        ue_max(&mut r, 6, "bit_depth_chroma_minus8")?;
        r.skip(1)?; // qpprime_y_zero_transform_bypass_flag
        if r.flag()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    ue_max(&mut r, 12, "log2_max_frame_num_minus4")?;
    match ue_max(&mut r, 2, "pic_order_cnt_type")? {
        0 => {
            ue_max(&mut r, 12, "log2_max_pic_order_cnt_lsb_minus4")?;
        }
        1 => {
            r.skip(1)?; // delta_pic_order_always_zero_flag
            r.se()?; // offset_for_non_ref_pic
            r.se()?; // offset_for_top_to_bottom_field
            let cycle = ue_max(&mut r, 255, "num_ref_frames_in_pic_order_cnt_cycle")?;
            for _ in 0..cycle {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.skip(1)?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = ue_max(&mut r, 8191, "pic_width_in_mbs_minus1")? + 1;
    let height_map_units = ue_max(&mut r, 8191, "pic_height_in_map_units_minus1")? + 1;
    let frame_mbs_only = r.flag()?;
    if !frame_mbs_only {
        r.skip(1)?; // mb_adaptive_frame_field_flag
    }
    r.skip(1)?; // direct_8x8_inference_flag
    let (mut crop_l, mut crop_r, mut crop_t, mut crop_b) = (0, 0, 0, 0);
    if r.flag()? {
        crop_l = ue_max(&mut r, 1 << 16, "frame_crop_left_offset")?;
        crop_r = ue_max(&mut r, 1 << 16, "frame_crop_right_offset")?;
        crop_t = ue_max(&mut r, 1 << 16, "frame_crop_top_offset")?;
        crop_b = ue_max(&mut r, 1 << 16, "frame_crop_bottom_offset")?;
    }
    let chroma_array_type = if separate_colour_plane { 0 } else { chroma_format_idc };
    let (sub_w, sub_h) = match chroma_array_type {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let field_factor = if frame_mbs_only { 1 } else { 2 };
    let crop_unit_x = sub_w;
    let crop_unit_y = sub_h * field_factor;
    let full_w = width_mbs * 16;
    let full_h = field_factor * height_map_units * 16;
    let width = full_w
        .checked_sub(crop_unit_x * (crop_l + crop_r))
        .filter(|w| *w > 0)
        .ok_or_else(|| invalid("SPS cropping exceeds the width"))?;
    let height = full_h
        .checked_sub(crop_unit_y * (crop_t + crop_b))
        .filter(|h| *h > 0)
        .ok_or_else(|| invalid("SPS cropping exceeds the height"))?;
    let frame_rate = if r.flag().unwrap_or(false) { vui_frame_rate(&mut r).ok().flatten() } else { None };
    Ok(SpsInfo { width: width as u32, height: height as u32, frame_rate })
}

/// The VUI up to the timing info (Annex E.1.1).
fn vui_frame_rate(r: &mut BitReader) -> Result<Option<f64>, CodecError> {
    if r.flag()? {
        // aspect_ratio_info_present_flag
        if r.bits(8)? == 255 {
            r.skip(32)?; // sar_width, sar_height
        }
    }
    if r.flag()? {
        r.skip(1)?; // overscan_appropriate_flag
    }
    if r.flag()? {
        // video_signal_type_present_flag
        r.skip(4)?; // video_format, video_full_range_flag
        if r.flag()? {
            r.skip(24)?; // colour_primaries, transfer_characteristics, matrix_coefficients
        }
    }
    if r.flag()? {
        r.ue()?; // chroma_sample_loc_type_top_field
        r.ue()?; // chroma_sample_loc_type_bottom_field
    }
    if !r.flag()? {
        return Ok(None);
    }
    let num_units_in_tick = r.bits(32)?;
    let time_scale = r.bits(32)?;
    if num_units_in_tick == 0 || time_scale == 0 {
        return Ok(None);
    }
    Ok(Some(f64::from(time_scale) / (2.0 * f64::from(num_units_in_tick))))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The fixtures, compiled in (this module does no I/O, not even in tests).
    const FIXTURES: [(&str, &[u8]); 4] = [
        ("h264_640x360_20s_2sgop.mkv", include_bytes!("../../../tests/fixtures/h264_640x360_20s_2sgop.mkv")),
        ("h265_640x360_10s.mkv", include_bytes!("../../../tests/fixtures/h265_640x360_10s.mkv")),
        ("gst_h264_aac_10s.mkv", include_bytes!("../../../tests/fixtures/gst_h264_aac_10s.mkv")),
        (
            "h264_bframes_aac_640x360_10s.mkv",
            include_bytes!("../../../tests/fixtures/h264_bframes_aac_640x360_10s.mkv"),
        ),
    ];

    /// The CodecPrivate of the first track of fixture `name` whose CodecID starts with the prefix.
    pub(crate) fn fixture_codec_private(name: &str, codec_id_prefix: &str) -> Bytes {
        let data = FIXTURES.iter().find(|(n, _)| *n == name).expect("fixture compiled in").1;
        let mkv = matroska_demuxer::MatroskaFile::open(std::io::Cursor::new(data)).expect(name);
        let track = mkv
            .tracks()
            .iter()
            .find(|t| t.codec_id().starts_with(codec_id_prefix))
            .expect("track with that codec");
        Bytes::copy_from_slice(track.codec_private().expect("codec private"))
    }

    #[test]
    fn fixture_avcc_and_sps() {
        for name in ["h264_640x360_20s_2sgop.mkv", "gst_h264_aac_10s.mkv", "h264_bframes_aac_640x360_10s.mkv"]
        {
            let cp = fixture_codec_private(name, "V_MPEG4/ISO/AVC");
            let cfg = AvcConfig::parse(&cp).unwrap();
            assert_eq!(cfg.nal_length_size, 4, "{name}");
            assert_eq!(cfg.sps.len(), 1);
            assert_eq!(cfg.pps.len(), 1);
            let info = sps_info(&cfg.sps[0]).unwrap();
            assert_eq!((info.width, info.height), (640, 360), "{name}");
            if name == "h264_640x360_20s_2sgop.mkv" {
                // ffprobe: Constrained Baseline (66 + constraint_set1), level 30.
                assert_eq!(cfg.codec_string(), "avc1.42c01e");
                assert_eq!(info.frame_rate, Some(25.0));
            }
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn x264_high_profile_sps() {
        // libx264 high profile 1920x1080 (1088 coded, cropped by 8), 25 fps.
        let info = sps_info(&hex("67640028acd940780227e5c044000003000400000300c83c60c658")).unwrap();
        assert_eq!((info.width, info.height, info.frame_rate), (1920, 1080, Some(25.0)));
        // libx264 high 4:4:4 predictive, 322x242 (crop unit 1), 30000/1001 fps.
        let info = sps_info(&hex("67f4000d919b282a10f1f1f808800001f480007530078a14cb")).unwrap();
        assert_eq!((info.width, info.height), (322, 242));
        assert!((info.frame_rate.unwrap() - 29.97).abs() < 0.01);
        // libx264 interlaced (frame_mbs_only_flag 0) 1280x720.
        let info = sps_info(&hex("67640020acd940500bbf2e0220000003002000000c83e2c5b2c0")).unwrap();
        assert_eq!((info.width, info.height), (1280, 720));
    }

    /// Writes bits and exp-Golomb codes, to build SPSs with the rarer branches.
    struct BitWriter(Vec<bool>);

    impl BitWriter {
        fn bits(&mut self, v: u64, n: u32) {
            for i in (0..n).rev() {
                self.0.push((v >> i) & 1 == 1);
            }
        }
        fn ue(&mut self, v: u64) {
            let n = 64 - (v + 1).leading_zeros();
            self.bits(0, n - 1);
            self.bits(v + 1, n);
        }
        fn se(&mut self, v: i64) {
            self.ue(if v > 0 { (2 * v - 1) as u64 } else { (-2 * v) as u64 });
        }
        /// The bytes, with emulation prevention inserted.
        fn bytes(&self) -> Vec<u8> {
            let raw = self
                .0
                .chunks(8)
                .map(|c| c.iter().enumerate().fold(0u8, |a, (i, b)| a | (u8::from(*b) << (7 - i))));
            let mut out: Vec<u8> = Vec::new();
            for b in raw {
                if b <= 3 && out.len() >= 2 && out[out.len() - 2..] == [0, 0] {
                    out.push(3);
                }
                out.push(b);
            }
            out
        }
    }

    #[test]
    fn sps_with_scaling_lists_and_poc_type_1() {
        let mut w = BitWriter(Vec::new());
        w.bits(0x67, 8);
        w.bits(100, 8);
        w.bits(0, 8);
        w.bits(40, 8);
        w.ue(0); // sps id
        w.ue(3); // chroma_format_idc 4:4:4
        w.bits(0, 1); // separate_colour_plane_flag
        w.ue(2); // bit depth luma - 8
        w.ue(2); // bit depth chroma - 8
        w.bits(0, 1);
        w.bits(1, 1); // seq_scaling_matrix_present_flag
        for i in 0..12 {
            w.bits(u64::from(i % 3 != 0), 1);
            if i % 3 != 0 {
                let size = if i < 6 { 16 } else { 64 };
                if i == 4 {
                    w.se(-8); // nextScale 0: use the default list, no more deltas
                } else {
                    for j in 0..size {
                        w.se(if j % 2 == 0 { 3 } else { -3 });
                    }
                }
            }
        }
        w.ue(0); // log2_max_frame_num_minus4
        w.ue(1); // pic_order_cnt_type
        w.bits(0, 1);
        w.se(-2);
        w.se(1);
        w.ue(3);
        for v in [1, -1, 2] {
            w.se(v);
        }
        w.ue(4); // max_num_ref_frames
        w.bits(0, 1);
        w.ue(79); // 1280 wide
        w.ue(44); // 720 high
        w.bits(1, 1); // frame_mbs_only
        w.bits(1, 1);
        w.bits(1, 1); // frame_cropping_flag
        for v in [1, 3, 0, 4] {
            w.ue(v);
        }
        w.bits(1, 1); // vui
        w.bits(1, 1);
        w.bits(255, 8);
        w.bits(16, 16);
        w.bits(11, 16);
        w.bits(0, 1);
        w.bits(1, 1);
        w.bits(5, 3);
        w.bits(0, 1);
        w.bits(1, 1);
        w.bits(0x010101, 24);
        w.bits(1, 1);
        w.ue(0);
        w.ue(0);
        w.bits(1, 1); // timing_info_present_flag
        w.bits(1001, 32);
        w.bits(60000, 32);
        w.bits(1, 1);
        w.bits(1, 1); // stop bit
        let info = sps_info(&w.bytes()).unwrap();
        assert_eq!((info.width, info.height), (1280 - 4, 720 - 4));
        assert!((info.frame_rate.unwrap() - 29.97).abs() < 0.01);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(AvcConfig::parse(&Bytes::new()), Err(CodecError::MissingCodecPrivate));
        let cp = fixture_codec_private("h264_640x360_20s_2sgop.mkv", "V_MPEG4/ISO/AVC");
        for len in 1..cp.len() {
            // Every truncation either fails or (when only trailing extension bytes are cut) parses.
            let _ = AvcConfig::parse(&cp.slice(..len));
        }
        assert!(AvcConfig::parse(&cp.slice(..7)).is_err());
        assert!(sps_info(&[]).is_err());
        assert!(sps_info(&[0x67]).is_err());
        assert!(sps_info(&[0x68, 0x42]).is_err());
        let cfg = AvcConfig::parse(&cp).unwrap();
        let sps = &cfg.sps[0];
        for len in 0..sps.len() - 2 {
            assert!(sps_info(&sps[..len]).is_err() || len > 8, "len {len}");
        }
    }

    #[test]
    fn random_and_bit_flipped_inputs_do_not_panic() {
        let cp = fixture_codec_private("h264_640x360_20s_2sgop.mkv", "V_MPEG4/ISO/AVC");
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut v = cp.to_vec();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % v.len();
                v[i] ^= 1 << (next() % 8);
            }
            let b = Bytes::from(v);
            if let Ok(cfg) = AvcConfig::parse(&b) {
                let _ = cfg.codec_string();
                for s in &cfg.sps {
                    let _ = sps_info(s);
                }
            }
            let len = (next() % 64) as usize;
            let junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = AvcConfig::parse(&Bytes::from(junk.clone()));
            let mut sps = junk;
            if let Some(first) = sps.first_mut() {
                *first = 0x67;
            }
            let _ = sps_info(&sps);
        }
    }
}
