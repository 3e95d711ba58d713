//! Sample descriptions: checks a track's CodecPrivate and writes its `stsd` box (`avc1`+`avcC`,
//! `hvc1`+`hvcC`, `mp4a`+`esds`, `Opus`+`dOps`).
//!
//! The CodecPrivate is copied verbatim; only the few bytes needed to reject obviously broken
//! records are read. It must not write anything but the `stsd` box, and never panics.

use super::boxes::BoxWriter;
use crate::media::codec::{Codec, CodecError, PlayableTrack};

/// Checks that the track can be described: CodecPrivate present and plausible, timescale set,
/// video size within the 16-bit fields.
pub(crate) fn check_track(track: &PlayableTrack) -> Result<(), CodecError> {
    let private = &track.codec_private[..];
    if private.is_empty() {
        return Err(CodecError::MissingCodecPrivate);
    }
    match track.codec {
        Codec::H264 => {
            if private.len() < 7 || private[0] != 1 {
                return Err(CodecError::InvalidCodecPrivate(
                    "not an AVCDecoderConfigurationRecord (version 1, at least 7 bytes)".into(),
                ));
            }
        }
        Codec::H265 => {
            if private.len() < 23 {
                return Err(CodecError::InvalidCodecPrivate(
                    "HEVCDecoderConfigurationRecord shorter than 23 bytes".into(),
                ));
            }
        }
        Codec::Opus => {
            if private.len() < 19 || &private[..8] != b"OpusHead" {
                return Err(CodecError::InvalidCodecPrivate(
                    "not an OpusHead identification header (at least 19 bytes)".into(),
                ));
            }
        }
        Codec::Aac => {
            if private.len() < 2 {
                return Err(CodecError::InvalidCodecPrivate(
                    "AudioSpecificConfig shorter than 2 bytes".into(),
                ));
            }
        }
    }
    if track.timescale == 0 {
        return Err(CodecError::Unsupported(format!("track {} has timescale 0", track.track_id)));
    }
    if track.track_id == 0 {
        return Err(CodecError::Unsupported("MP4 track_ID 0".into()));
    }
    if track.codec.is_video() && (track.width > 0xffff || track.height > 0xffff) {
        return Err(CodecError::Unsupported(format!(
            "video size {}x{} does not fit an MP4 sample entry",
            track.width, track.height
        )));
    }
    Ok(())
}

/// Writes `stsd` with the track's single sample entry. Call [`check_track`] first.
pub(crate) fn write_stsd(w: &mut BoxWriter, track: &PlayableTrack) {
    let stsd = w.open_full(b"stsd", 0, 0);
    w.u32(1); // entry_count
    match track.codec {
        Codec::H264 => write_visual(w, track, b"avc1", b"avcC"),
        Codec::H265 => write_visual(w, track, b"hvc1", b"hvcC"),
        Codec::Aac => write_mp4a(w, track),
        Codec::Opus => write_opus(w, track),
    }
    w.close(stsd);
}

fn write_visual(w: &mut BoxWriter, track: &PlayableTrack, entry: &[u8; 4], config: &[u8; 4]) {
    let sample_entry = w.open(entry);
    w.zeros(6); // reserved
    w.u16(1); // data_reference_index
    w.zeros(16); // pre_defined, reserved, pre_defined[3]
    w.u16(u16::try_from(track.width).unwrap_or(0));
    w.u16(u16::try_from(track.height).unwrap_or(0));
    w.u32(0x0048_0000); // horizresolution 72 dpi
    w.u32(0x0048_0000); // vertresolution 72 dpi
    w.u32(0); // reserved
    w.u16(1); // frame_count
    w.zeros(32); // compressorname (empty Pascal string)
    w.u16(0x0018); // depth
    w.u16(0xffff); // pre_defined = -1
    let record = w.open(config);
    w.bytes(&track.codec_private);
    w.close(record);
    w.close(sample_entry);
}

/// `Opus` + `dOps` ("Encapsulation of Opus in ISO Base Media File Format" 4.3): the OpusHead's
/// fields, little-endian there, big-endian here; the channel mapping table is copied as is.
fn write_opus(w: &mut BoxWriter, track: &PlayableTrack) {
    let head = &track.codec_private[..];
    let channels = head[9];
    let pre_skip = u16::from_le_bytes([head[10], head[11]]);
    let input_rate = u32::from_le_bytes([head[12], head[13], head[14], head[15]]);
    let gain = u16::from_le_bytes([head[16], head[17]]);
    let family = head[18];
    let sample_entry = w.open(b"Opus");
    w.zeros(6); // reserved
    w.u16(1); // data_reference_index
    w.zeros(8); // reserved (version, revision, vendor)
    w.u16(u16::from(channels));
    w.u16(16); // samplesize
    w.u16(0); // pre_defined
    w.u16(0); // reserved
    w.u32(48_000 << 16); // samplerate: Opus always decodes at 48 kHz
    let dops = w.open(b"dOps");
    w.u8(0); // Version
    w.u8(channels);
    w.u16(pre_skip);
    w.u32(input_rate);
    w.u16(gain);
    w.u8(family);
    if family != 0 {
        w.bytes(&head[19..]);
    }
    w.close(dops);
    w.close(sample_entry);
}

fn write_mp4a(w: &mut BoxWriter, track: &PlayableTrack) {
    let asc = &track.codec_private[..];
    let channels = if track.channels > 0 { track.channels } else { asc_channels(asc).unwrap_or(2) };
    let rate = if track.sample_rate > 0 { track.sample_rate } else { track.timescale };
    let sample_entry = w.open(b"mp4a");
    w.zeros(6); // reserved
    w.u16(1); // data_reference_index
    w.zeros(8); // reserved (version, revision, vendor)
    w.u16(channels);
    w.u16(16); // samplesize
    w.u16(0); // pre_defined
    w.u16(0); // reserved
    w.u32(if rate > 0xffff { 0 } else { rate << 16 });

    let esds = w.open_full(b"esds", 0, 0);
    // SLConfigDescriptor: tag, length, predefined = 2 (MP4).
    let sl_config = [0x06, 0x01, 0x02];
    let decoder_specific_len = asc.len();
    let decoder_config_len = 13 + descriptor_len(decoder_specific_len);
    let es_len = 3 + descriptor_len(decoder_config_len) + sl_config.len();
    // ES_Descriptor
    w.u8(0x03);
    write_descriptor_size(w, es_len);
    w.u16(0); // ES_ID (0 in MP4 files)
    w.u8(0); // no stream dependence, URL, OCR stream; priority 0
    // DecoderConfigDescriptor
    w.u8(0x04);
    write_descriptor_size(w, decoder_config_len);
    w.u8(0x40); // objectTypeIndication: MPEG-4 Audio
    w.u8((0x05 << 2) | 0x01); // streamType audio, upStream 0, reserved 1
    w.u24(0); // bufferSizeDB
    w.u32(0); // maxBitrate
    w.u32(0); // avgBitrate
    // DecoderSpecificInfo = AudioSpecificConfig
    w.u8(0x05);
    write_descriptor_size(w, decoder_specific_len);
    w.bytes(asc);
    w.bytes(&sl_config);
    w.close(esds);
    w.close(sample_entry);
}

/// Bytes of a descriptor's size field plus its payload.
fn descriptor_len(payload: usize) -> usize {
    let mut size_bytes = 1;
    let mut rest = payload >> 7;
    while rest > 0 {
        size_bytes += 1;
        rest >>= 7;
    }
    1 + size_bytes + payload
}

/// The MPEG-4 descriptor size: 7 bits per byte, high bit set on all but the last.
fn write_descriptor_size(w: &mut BoxWriter, size: usize) {
    let mut groups = Vec::with_capacity(4);
    let mut rest = size;
    loop {
        groups.push((rest & 0x7f) as u8);
        rest >>= 7;
        if rest == 0 {
            break;
        }
    }
    for (i, group) in groups.iter().rev().enumerate() {
        let more = if i + 1 < groups.len() { 0x80 } else { 0 };
        w.u8(group | more);
    }
}

/// The channel configuration of an AudioSpecificConfig, when it names one.
fn asc_channels(asc: &[u8]) -> Option<u16> {
    let first = u16::from(*asc.first()?);
    let second = u16::from(*asc.get(1)?);
    let object_type = first >> 3;
    let frequency_index = ((first & 0x07) << 1) | (second >> 7);
    if object_type == 31 || frequency_index == 15 {
        return None;
    }
    let channels = (second >> 3) & 0x0f;
    match channels {
        1..=6 => Some(channels),
        7 => Some(8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_sizes() {
        for (size, encoded) in
            [(5usize, vec![5u8]), (127, vec![127]), (128, vec![0x81, 0]), (300, vec![0x82, 44])]
        {
            let mut w = BoxWriter::new();
            write_descriptor_size(&mut w, size);
            assert_eq!(w.finish().unwrap(), encoded);
            assert_eq!(descriptor_len(size), 1 + encoded.len() + size);
        }
    }

    #[test]
    fn asc_channel_configuration() {
        assert_eq!(asc_channels(&[0x11, 0x90]), Some(2)); // AAC-LC 48 kHz stereo
        assert_eq!(asc_channels(&[0x11, 0x88]), Some(1));
        assert_eq!(asc_channels(&[0x11]), None);
    }

    #[test]
    fn opus_head_becomes_dops_big_endian() {
        let head = crate::media::mkv::live_mux::opus_head(2);
        let track = PlayableTrack {
            mkv_track_number: 2,
            track_id: 2,
            codec: Codec::Opus,
            codec_private: bytes::Bytes::copy_from_slice(&head),
            timescale: 48_000,
            width: 0,
            height: 0,
            sample_rate: 48_000,
            channels: 2,
        };
        check_track(&track).unwrap();
        let mut w = BoxWriter::new();
        write_stsd(&mut w, &track);
        let stsd = w.finish().unwrap();
        let entry = &stsd[16..];
        assert_eq!(&entry[4..8], b"Opus");
        assert_eq!(&entry[24..26], &[0, 2], "channelcount");
        assert_eq!(&entry[32..36], &(48_000u32 << 16).to_be_bytes(), "samplerate");
        let dops = &entry[36..];
        assert_eq!(&dops[..8], &[0, 0, 0, 19, b'd', b'O', b'p', b's']);
        let pre_skip = u16::from_le_bytes([head[10], head[11]]);
        let rate = u32::from_le_bytes([head[12], head[13], head[14], head[15]]);
        assert_eq!(dops[8], 0, "version");
        assert_eq!(dops[9], 2, "channels");
        assert_eq!(&dops[10..12], &pre_skip.to_be_bytes());
        assert_eq!(&dops[12..16], &rate.to_be_bytes());
        assert_eq!(dops[18], 0, "mapping family");

        let not_opus = PlayableTrack { codec_private: bytes::Bytes::from_static(b"OpusTags"), ..track };
        assert!(matches!(check_track(&not_opus), Err(CodecError::InvalidCodecPrivate(_))));
    }
}
