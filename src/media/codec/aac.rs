//! AAC parsing: the AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1, the Matroska CodecPrivate of
//! `A_AAC`), the RFC 6381 codec string and the 7-byte ADTS header that MPEG-TS needs in front of
//! every raw access unit.
//!
//! It must not do I/O, write containers or panic on any input.

use super::CodecError;
use super::h264::BitReader;

/// The sampling frequencies of `samplingFrequencyIndex` 0..=12.
pub const SAMPLING_FREQUENCIES: [u32; 13] =
    [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/// The parsed AudioSpecificConfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// `audioObjectType` as signalled first (2 AAC-LC, 5 SBR / HE-AAC, 29 PS / HE-AACv2...).
    pub object_type: u8,
    /// The (core) sampling frequency in Hz.
    pub sample_rate: u32,
    /// Channel count from `channelConfiguration` (0 when the configuration is in a PCE).
    pub channels: u8,
    /// `channelConfiguration` as stored (0..=15).
    pub channel_configuration: u8,
    /// `samplingFrequencyIndex` (15 when the frequency is explicit).
    pub sampling_index: u8,
    /// With explicit SBR/PS signalling (object type 5 or 29): the output sampling frequency.
    pub extension_sample_rate: Option<u32>,
    /// The object type of the core coder: `object_type`, or the one after the SBR/PS
    /// extension (usually 2).
    pub core_object_type: u8,
}

fn invalid(msg: impl Into<String>) -> CodecError {
    CodecError::InvalidCodecPrivate(msg.into())
}

fn object_type(r: &mut BitReader) -> Result<u8, CodecError> {
    let t = r.bits(5)?;
    let t = if t == 31 { 32 + r.bits(6)? } else { t };
    Ok(t as u8)
}

fn sampling_frequency(r: &mut BitReader) -> Result<(u8, u32), CodecError> {
    let index = r.bits(4)? as u8;
    let rate = match index {
        15 => r.bits(24)?,
        i => *SAMPLING_FREQUENCIES
            .get(usize::from(i))
            .ok_or_else(|| invalid(format!("reserved samplingFrequencyIndex {i}")))?,
    };
    if rate == 0 {
        return Err(invalid("sampling frequency 0"));
    }
    Ok((index, rate))
}

/// Channel count of a `channelConfiguration` (ISO/IEC 14496-3 Table 1.19 and its amendments).
fn channel_count(config: u8) -> Result<u8, CodecError> {
    Ok(match config {
        0..=6 => config,
        7 | 12 | 14 => 8,
        11 => 7,
        13 => 24,
        _ => return Err(invalid(format!("reserved channelConfiguration {config}"))),
    })
}

impl AudioSpecificConfig {
    /// Parses the leading fields of an AudioSpecificConfig (object type, sampling frequency,
    /// channel configuration, explicit SBR/PS extension); the GASpecificConfig that follows is
    /// not needed and not read.
    pub fn parse(asc: &[u8]) -> Result<Self, CodecError> {
        if asc.is_empty() {
            return Err(CodecError::MissingCodecPrivate);
        }
        let mut r = BitReader::new(asc);
        let object_type = object_type(&mut r)?;
        if object_type == 0 {
            return Err(invalid("audioObjectType 0"));
        }
        let (sampling_index, sample_rate) = sampling_frequency(&mut r)?;
        let channel_configuration = r.bits(4)? as u8;
        let channels = channel_count(channel_configuration)?;
        let mut cfg = AudioSpecificConfig {
            object_type,
            sample_rate,
            channels,
            channel_configuration,
            sampling_index,
            extension_sample_rate: None,
            core_object_type: object_type,
        };
        if object_type == 5 || object_type == 29 {
            let (_, ext_rate) = sampling_frequency(&mut r)?;
            cfg.extension_sample_rate = Some(ext_rate);
            cfg.core_object_type = self::object_type(&mut r)?;
        }
        Ok(cfg)
    }

    /// The RFC 6381 codec string `mp4a.40.<object type>` (e.g. `mp4a.40.2` for AAC-LC).
    pub fn codec_string(&self) -> String {
        format!("mp4a.40.{}", self.object_type)
    }

    /// The 7-byte ADTS header (MPEG-4, no CRC) for a raw access unit of `payload_len` bytes.
    /// ADTS can only describe AAC Main/LC/SSR/LTP core coders with an indexed sampling
    /// frequency and a channel configuration of 1..=7; anything else is `Unsupported`, and a
    /// frame longer than ADTS's 13-bit length field allows is an `InvalidFrame`.
    pub fn adts_header(&self, payload_len: usize) -> Result<[u8; 7], CodecError> {
        if !(1..=4).contains(&self.core_object_type) {
            return Err(CodecError::Unsupported(format!(
                "AAC object type {} in ADTS",
                self.core_object_type
            )));
        }
        if self.sampling_index > 12 {
            return Err(CodecError::Unsupported("explicit AAC sampling frequency in ADTS".into()));
        }
        if !(1..=7).contains(&self.channel_configuration) {
            return Err(CodecError::Unsupported(format!(
                "AAC channelConfiguration {} in ADTS",
                self.channel_configuration
            )));
        }
        let frame_len = payload_len
            .checked_add(7)
            .filter(|l| *l < (1 << 13))
            .ok_or_else(|| CodecError::InvalidFrame(format!("AAC frame of {payload_len} bytes")))?;
        let profile = self.core_object_type - 1;
        let ch = self.channel_configuration;
        Ok([
            0xff,
            0xf1, // MPEG-4, layer 0, protection_absent
            (profile << 6) | (self.sampling_index << 2) | (ch >> 2),
            ((ch & 3) << 6) | (frame_len >> 11) as u8,
            (frame_len >> 3) as u8,
            (((frame_len & 7) as u8) << 5) | 0x1f,
            0xfc, // buffer fullness 0x7ff (VBR), one raw data block
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::h264::tests::fixture_codec_private;

    #[test]
    fn fixture_asc() {
        for name in ["gst_h264_aac_10s.mkv", "h264_bframes_aac_640x360_10s.mkv"] {
            let cp = fixture_codec_private(name, "A_AAC");
            let asc = AudioSpecificConfig::parse(&cp).unwrap();
            assert_eq!(asc.codec_string(), "mp4a.40.2", "{name}");
            if name == "gst_h264_aac_10s.mkv" {
                assert_eq!((asc.sample_rate, asc.channels), (48000, 2));
                assert_eq!(asc.sampling_index, 3);
            }
        }
    }

    #[test]
    fn adts_header_fields() {
        let asc = AudioSpecificConfig::parse(&[0x11, 0x90]).unwrap(); // LC 48 kHz stereo
        assert_eq!((asc.object_type, asc.sample_rate, asc.channels), (2, 48000, 2));
        let h = asc.adts_header(371).unwrap();
        assert_eq!(h, [0xff, 0xf1, 0x4c, 0x80, 0x2f, 0x5f, 0xfc]);
        let len = (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
        assert_eq!(len, 378);
        assert!(matches!(asc.adts_header(8185), Err(CodecError::InvalidFrame(_))));
        assert!(asc.adts_header(8184).is_ok());
        // HE-AAC with explicit SBR signalling: codec string says 5, ADTS carries the LC core.
        let he = AudioSpecificConfig::parse(&[0x2b, 0x92, 0x08, 0x00]).unwrap();
        assert_eq!(he.codec_string(), "mp4a.40.5");
        assert_eq!((he.core_object_type, he.sample_rate, he.extension_sample_rate), (2, 22050, Some(44100)));
        assert_eq!(he.adts_header(10).unwrap()[2] >> 6, 1);
        // Explicit frequency and PCE channel configuration cannot be ADTS.
        let explicit = AudioSpecificConfig::parse(&[0x17, 0x80, 0x00, 0x7d, 0x10]).unwrap();
        assert!(matches!(explicit.adts_header(10), Err(CodecError::Unsupported(_))));
        let pce = AudioSpecificConfig::parse(&[0x11, 0x80]).unwrap();
        assert!(matches!(pce.adts_header(10), Err(CodecError::Unsupported(_))));
    }

    #[test]
    fn bad_inputs_are_errors_and_never_panic() {
        assert_eq!(AudioSpecificConfig::parse(&[]), Err(CodecError::MissingCodecPrivate));
        assert!(AudioSpecificConfig::parse(&[0x12]).is_err());
        assert!(AudioSpecificConfig::parse(&[0x00, 0x00]).is_err());
        assert!(AudioSpecificConfig::parse(&[0x16, 0x90]).is_err()); // index 13
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50_000 {
            let len = (next() % 8) as usize;
            let junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Ok(asc) = AudioSpecificConfig::parse(&junk) {
                let _ = asc.codec_string();
                let _ = asc.adts_header((next() % 10_000) as usize);
            }
        }
    }
}
