//! H.265 / HEVC parsing: the `hvcC` record (HEVCDecoderConfigurationRecord, the Matroska
//! CodecPrivate of `V_MPEGH/ISO/HEVC`) and the ISO/IEC 14496-15 Annex E codec string.
//!
//! It must not do I/O, write containers or panic on any input: every length is checked against
//! the bytes actually present before it is used, nothing is allocated from an unchecked length.

use bytes::Bytes;

use super::CodecError;
use super::h264::read_u16_prefixed_nals;

/// The NAL unit types of H.265 this crate cares about.
pub mod nal_type {
    /// Video parameter set.
    pub const VPS: u8 = 32;
    /// Sequence parameter set.
    pub const SPS: u8 = 33;
    /// Picture parameter set.
    pub const PPS: u8 = 34;
    /// Access unit delimiter.
    pub const AUD: u8 = 35;
}

/// The NAL unit type of an H.265 NAL unit from its first header byte.
pub fn nal_unit_type(first_byte: u8) -> u8 {
    (first_byte >> 1) & 0x3f
}

/// The parsed `hvcC` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcConfig {
    /// `general_profile_space` (0..=3).
    pub general_profile_space: u8,
    /// `general_tier_flag` (false: Main tier, true: High tier).
    pub general_tier_flag: bool,
    /// `general_profile_idc` (1 Main, 2 Main 10, ...).
    pub general_profile_idc: u8,
    /// `general_profile_compatibility_flags`, flag 0 in the most significant bit as stored.
    pub general_profile_compatibility_flags: u32,
    /// The 48 bits of `general_constraint_indicator_flags`, as stored.
    pub general_constraint_indicator_flags: [u8; 6],
    /// `general_level_idc` (30 × the level, e.g. 93 for level 3.1).
    pub general_level_idc: u8,
    /// Size in bytes of the NAL unit length prefix in every frame (1, 2 or 4).
    pub nal_length_size: u8,
    /// The video parameter set NAL units (with their two-byte NAL header).
    pub vps: Vec<Bytes>,
    /// The sequence parameter set NAL units.
    pub sps: Vec<Bytes>,
    /// The picture parameter set NAL units.
    pub pps: Vec<Bytes>,
}

fn invalid(msg: impl Into<String>) -> CodecError {
    CodecError::InvalidCodecPrivate(msg.into())
}

impl HevcConfig {
    /// Parses an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1). NAL unit arrays of
    /// other types (SEI...) are skipped.
    pub fn parse(hvcc: &Bytes) -> Result<Self, CodecError> {
        if hvcc.is_empty() {
            return Err(CodecError::MissingCodecPrivate);
        }
        if hvcc.len() < 23 {
            return Err(invalid("hvcC shorter than 23 bytes"));
        }
        if hvcc[0] != 1 {
            return Err(invalid(format!("hvcC configurationVersion {} (expected 1)", hvcc[0])));
        }
        let nal_length_size = (hvcc[21] & 0x03) + 1;
        if nal_length_size == 3 {
            return Err(invalid("hvcC lengthSizeMinusOne 2 is not allowed"));
        }
        let mut constraints = [0u8; 6];
        constraints.copy_from_slice(&hvcc[6..12]);
        let mut cfg = HevcConfig {
            general_profile_space: hvcc[1] >> 6,
            general_tier_flag: hvcc[1] & 0x20 != 0,
            general_profile_idc: hvcc[1] & 0x1f,
            general_profile_compatibility_flags: u32::from_be_bytes([hvcc[2], hvcc[3], hvcc[4], hvcc[5]]),
            general_constraint_indicator_flags: constraints,
            general_level_idc: hvcc[12],
            nal_length_size,
            vps: Vec::new(),
            sps: Vec::new(),
            pps: Vec::new(),
        };
        let num_arrays = hvcc[22];
        let mut pos = 23;
        for _ in 0..num_arrays {
            let head = hvcc.get(pos..pos + 3).ok_or_else(|| invalid("hvcC array header truncated"))?;
            let array_type = head[0] & 0x3f;
            let count = usize::from(u16::from_be_bytes([head[1], head[2]]));
            pos += 3;
            let nals = read_u16_prefixed_nals(hvcc, &mut pos, count, "hvcC NAL unit")?;
            if nals.iter().any(|n| n.len() < 2 || nal_unit_type(n[0]) != array_type) {
                return Err(invalid(format!("hvcC array of type {array_type} holds another NAL type")));
            }
            match array_type {
                nal_type::VPS => cfg.vps.extend(nals),
                nal_type::SPS => cfg.sps.extend(nals),
                nal_type::PPS => cfg.pps.extend(nals),
                _ => {}
            }
        }
        if cfg.vps.is_empty() || cfg.sps.is_empty() || cfg.pps.is_empty() {
            return Err(invalid("hvcC lacks a VPS, SPS or PPS"));
        }
        Ok(cfg)
    }

    /// The codec string of ISO/IEC 14496-15 Annex E (RFC 6381), e.g. `hvc1.1.6.L93.B0`: profile
    /// space letter (none, A, B, C) and profile idc; the compatibility flags bit-reversed in hex;
    /// `L` (Main tier) or `H` (High tier) and the level idc; then the constraint bytes in hex,
    /// trailing zero bytes omitted.
    pub fn codec_string(&self) -> String {
        let space = ["", "A", "B", "C"][usize::from(self.general_profile_space & 3)];
        let mut s = format!(
            "hvc1.{space}{}.{:X}.{}{}",
            self.general_profile_idc,
            self.general_profile_compatibility_flags.reverse_bits(),
            if self.general_tier_flag { 'H' } else { 'L' },
            self.general_level_idc
        );
        let kept = self.general_constraint_indicator_flags.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
        for b in &self.general_constraint_indicator_flags[..kept] {
            s.push_str(&format!(".{b:X}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::h264::tests::fixture_codec_private;

    #[test]
    fn fixture_hvcc() {
        let cp = fixture_codec_private("h265_640x360_10s.mkv", "V_MPEGH/ISO/HEVC");
        let cfg = HevcConfig::parse(&cp).unwrap();
        assert_eq!(cfg.nal_length_size, 4);
        assert_eq!((cfg.vps.len(), cfg.sps.len(), cfg.pps.len()), (1, 1, 1));
        // ffprobe: Main profile, level 63 (2.1).
        assert_eq!(cfg.general_profile_idc, 1);
        assert_eq!(cfg.general_level_idc, 63);
        assert_eq!(cfg.codec_string(), "hvc1.1.6.L63.90");
    }

    #[test]
    fn codec_string_forms() {
        let cp = fixture_codec_private("h265_640x360_10s.mkv", "V_MPEGH/ISO/HEVC");
        let mut cfg = HevcConfig::parse(&cp).unwrap();
        cfg.general_level_idc = 93;
        cfg.general_constraint_indicator_flags = [0xb0, 0, 0, 0, 0, 0];
        assert_eq!(cfg.codec_string(), "hvc1.1.6.L93.B0");
        // Annex E example: hev1.A4.41.H120.B0.23 (here with the hvc1 sample entry).
        cfg.general_profile_space = 1;
        cfg.general_profile_idc = 4;
        cfg.general_profile_compatibility_flags = 0x41u32.reverse_bits();
        cfg.general_tier_flag = true;
        cfg.general_level_idc = 120;
        cfg.general_constraint_indicator_flags = [0xb0, 0x23, 0, 0, 0, 0];
        assert_eq!(cfg.codec_string(), "hvc1.A4.41.H120.B0.23");
        cfg.general_constraint_indicator_flags = [0; 6];
        assert_eq!(cfg.codec_string(), "hvc1.A4.41.H120");
    }

    #[test]
    fn bad_inputs_are_errors_and_never_panic() {
        assert_eq!(HevcConfig::parse(&Bytes::new()), Err(CodecError::MissingCodecPrivate));
        let cp = fixture_codec_private("h265_640x360_10s.mkv", "V_MPEGH/ISO/HEVC");
        for len in 1..cp.len() {
            assert!(HevcConfig::parse(&cp.slice(..len)).is_err(), "len {len}");
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
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
            if let Ok(cfg) = HevcConfig::parse(&Bytes::from(v)) {
                let _ = cfg.codec_string();
            }
            let len = (next() % 64) as usize;
            let junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = HevcConfig::parse(&Bytes::from(junk));
        }
    }
}
