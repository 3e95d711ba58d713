//! Parsing a fully buffered `Tracks` element into [`TrackEntry`] values: number, UID, type, codec
//! ID and private data, name, language, default duration, video size, audio sampling.
//!
//! Owns the TrackEntry field meanings. It must not buffer input or decide KVS policy (the
//! three-track limit is enforced by the fragmenter); CodecPrivate is handed out as a zero-copy
//! slice of the Tracks element and is not interpreted here.

use bytes::Bytes;

use super::error::{ElementPath, MkvError, MkvErrorKind};
use super::ids;
use crate::media::ebml::reader::{self, Child, Children};

/// The kind of a track (Matroska `TrackType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    /// TrackType 1.
    Video,
    /// TrackType 2.
    Audio,
    /// Any other TrackType value (complex, logo, subtitle, buttons, control, metadata).
    Other(u64),
}

impl TrackKind {
    /// Maps a TrackType value.
    pub fn from_type(value: u64) -> Self {
        match value {
            1 => TrackKind::Video,
            2 => TrackKind::Audio,
            other => TrackKind::Other(other),
        }
    }
}

/// Video settings of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VideoSettings {
    /// PixelWidth (0 if absent).
    pub pixel_width: u64,
    /// PixelHeight (0 if absent).
    pub pixel_height: u64,
}

/// Audio settings of a track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioSettings {
    /// SamplingFrequency in Hz (8000.0 if absent, the Matroska default).
    pub sampling_frequency: f64,
    /// Channels (1 if absent).
    pub channels: u64,
    /// BitDepth, if given.
    pub bit_depth: Option<u64>,
}

impl Default for AudioSettings {
    fn default() -> Self {
        AudioSettings { sampling_frequency: 8000.0, channels: 1, bit_depth: None }
    }
}

/// One parsed `TrackEntry`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackEntry {
    /// TrackNumber, the number blocks refer to (non-zero).
    pub number: u64,
    /// TrackUID (0 if absent).
    pub uid: u64,
    /// TrackType.
    pub kind: TrackKind,
    /// CodecID, e.g. `V_MPEG4/ISO/AVC`, `V_MPEGH/ISO/HEVC`, `A_AAC` (empty if absent).
    pub codec_id: String,
    /// CodecPrivate (avcC, hvcC, AudioSpecificConfig...), a zero-copy slice of the Tracks element.
    pub codec_private: Option<Bytes>,
    /// Name, if given.
    pub name: Option<String>,
    /// Language, if given.
    pub language: Option<String>,
    /// DefaultDuration in nanoseconds, if given.
    pub default_duration_ns: Option<u64>,
    /// CodecDelay in nanoseconds (0 if absent).
    pub codec_delay_ns: u64,
    /// Video settings, present for a `Video` child.
    pub video: Option<VideoSettings>,
    /// Audio settings, present for an `Audio` child.
    pub audio: Option<AudioSettings>,
    /// Whether the track declares ContentEncodings (compression/encryption): frame data is then
    /// not the raw codec frame.
    pub has_content_encodings: bool,
}

/// The MIME type KVS producers give a track's codec in CreateStream's `MediaType` (the C
/// producer's `contentType`): `video/h264`, `video/h265`, `audio/aac`, `audio/alaw`, … `None` for a
/// codec without a conventional one.
pub fn codec_media_type(track: &TrackEntry) -> Option<&'static str> {
    let id = track.codec_id.as_str();
    Some(match id {
        "V_MPEG4/ISO/AVC" => "video/h264",
        "V_MPEGH/ISO/HEVC" => "video/h265",
        "V_VP8" => "video/vp8",
        "V_VP9" => "video/vp9",
        "V_AV1" => "video/av1",
        "V_MJPEG" => "video/mjpeg",
        "A_OPUS" => "audio/opus",
        "A_MPEG/L3" => "audio/mpeg",
        "A_FLAC" => "audio/flac",
        // G.711 as the KVS producers write it: WAVEFORMATEX, wFormatTag 6 (A-law) or 7 (µ-law).
        "A_MS/ACM" => match track.codec_private.as_deref().and_then(|p| p.get(..2)) {
            Some([6, 0]) => "audio/alaw",
            Some([7, 0]) => "audio/mulaw",
            _ => return None,
        },
        _ if id.starts_with("A_AAC") => "audio/aac",
        _ => return None,
    })
}

/// The `MediaType` of a set of tracks: each track's [`codec_media_type`] in track order, joined
/// by commas without repeats (`video/h264,audio/aac`); `None` when no codec has one.
pub fn media_type(tracks: &[TrackEntry]) -> Option<String> {
    let mut sorted: Vec<&TrackEntry> = tracks.iter().collect();
    sorted.sort_by_key(|t| t.number);
    let mut types: Vec<&str> = Vec::new();
    for t in sorted {
        if let Some(m) = codec_media_type(t)
            && !types.contains(&m)
        {
            types.push(m);
        }
    }
    (!types.is_empty()).then(|| types.join(","))
}

/// Parses the payload of a `Tracks` element.
///
/// `raw` is the whole element (header included), `data_start` the offset of its payload inside
/// `raw`, `offset` the absolute input offset of `raw[0]`, `path` the path of the Tracks element.
/// At most `max_tracks` entries are accepted.
pub fn parse_tracks(
    raw: &Bytes,
    data_start: usize,
    offset: u64,
    path: ElementPath,
    max_tracks: usize,
) -> Result<Vec<TrackEntry>, MkvError> {
    let data = raw.get(data_start..).unwrap_or(&[]);
    let mut tracks: Vec<TrackEntry> = Vec::new();
    for child in Children::new(data, offset.saturating_add(data_start as u64)) {
        let child = child.map_err(|e| MkvError::from_ebml(e, path))?;
        if child.id != ids::TRACK_ENTRY {
            continue;
        }
        let entry_path = path.child(ids::TRACK_ENTRY);
        if tracks.len() >= max_tracks {
            return Err(MkvError::new(
                MkvErrorKind::TooManyEntries { limit: max_tracks },
                child.offset,
                entry_path,
            ));
        }
        let entry = parse_entry(raw, &child, entry_path)?;
        if tracks.iter().any(|t| t.number == entry.number) {
            return Err(MkvError::new(
                MkvErrorKind::Invalid("duplicate TrackNumber"),
                child.offset,
                entry_path,
            ));
        }
        tracks.push(entry);
    }
    Ok(tracks)
}

fn uint(data: &[u8], offset: u64, path: ElementPath, id: u32) -> Result<u64, MkvError> {
    reader::read_uint(data).map_err(|k| MkvError::new(MkvErrorKind::Ebml(k), offset, path.child(id)))
}

fn parse_entry(raw: &Bytes, entry: &Child<'_>, path: ElementPath) -> Result<TrackEntry, MkvError> {
    let offset = entry.offset;
    let mut number = None;
    let mut out = TrackEntry {
        number: 0,
        uid: 0,
        kind: TrackKind::Other(0),
        codec_id: String::new(),
        codec_private: None,
        name: None,
        language: None,
        default_duration_ns: None,
        codec_delay_ns: 0,
        video: None,
        audio: None,
        has_content_encodings: false,
    };
    let mut have_type = false;
    for child in Children::new(entry.data, entry.data_offset) {
        let c = child.map_err(|e| MkvError::from_ebml(e, path))?;
        match c.id {
            ids::TRACK_NUMBER => number = Some(uint(c.data, c.offset, path, c.id)?),
            ids::TRACK_UID => out.uid = uint(c.data, c.offset, path, c.id)?,
            ids::TRACK_TYPE => {
                out.kind = TrackKind::from_type(uint(c.data, c.offset, path, c.id)?);
                have_type = true;
            }
            ids::CODEC_ID => out.codec_id = reader::read_string(c.data),
            ids::CODEC_PRIVATE => out.codec_private = Some(raw.slice_ref(c.data)),
            ids::NAME => out.name = Some(reader::read_string(c.data)),
            ids::LANGUAGE => out.language = Some(reader::read_string(c.data)),
            ids::DEFAULT_DURATION => {
                let d = uint(c.data, c.offset, path, c.id)?;
                out.default_duration_ns = (d > 0).then_some(d);
            }
            ids::CODEC_DELAY => out.codec_delay_ns = uint(c.data, c.offset, path, c.id)?,
            ids::CONTENT_ENCODINGS => out.has_content_encodings = true,
            ids::VIDEO => out.video = Some(parse_video(&c, path)?),
            ids::AUDIO => out.audio = Some(parse_audio(&c, path)?),
            _ => {}
        }
    }
    match number {
        Some(n) if n > 0 => out.number = n,
        _ => {
            return Err(MkvError::new(
                MkvErrorKind::Invalid("TrackEntry without a non-zero TrackNumber"),
                offset,
                path,
            ));
        }
    }
    if !have_type {
        return Err(MkvError::new(MkvErrorKind::Invalid("TrackEntry without TrackType"), offset, path));
    }
    Ok(out)
}

fn parse_video(video: &Child<'_>, path: ElementPath) -> Result<VideoSettings, MkvError> {
    let path = path.child(ids::VIDEO);
    let mut v = VideoSettings::default();
    for child in Children::new(video.data, video.data_offset) {
        let c = child.map_err(|e| MkvError::from_ebml(e, path))?;
        match c.id {
            ids::PIXEL_WIDTH => v.pixel_width = uint(c.data, c.offset, path, c.id)?,
            ids::PIXEL_HEIGHT => v.pixel_height = uint(c.data, c.offset, path, c.id)?,
            _ => {}
        }
    }
    Ok(v)
}

fn parse_audio(audio: &Child<'_>, path: ElementPath) -> Result<AudioSettings, MkvError> {
    let path = path.child(ids::AUDIO);
    let mut a = AudioSettings::default();
    for child in Children::new(audio.data, audio.data_offset) {
        let c = child.map_err(|e| MkvError::from_ebml(e, path))?;
        match c.id {
            ids::SAMPLING_FREQUENCY => {
                a.sampling_frequency = reader::read_float(c.data)
                    .map_err(|k| MkvError::new(MkvErrorKind::Ebml(k), c.offset, path.child(c.id)))?;
            }
            ids::CHANNELS => a.channels = uint(c.data, c.offset, path, c.id)?,
            ids::BIT_DEPTH => a.bit_depth = Some(uint(c.data, c.offset, path, c.id)?),
            _ => {}
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(number: u64, codec_id: &str, private: Option<&'static [u8]>) -> TrackEntry {
        TrackEntry {
            number,
            uid: number,
            kind: if codec_id.starts_with('V') { TrackKind::Video } else { TrackKind::Audio },
            codec_id: codec_id.to_owned(),
            codec_private: private.map(Bytes::from_static),
            name: None,
            language: None,
            default_duration_ns: None,
            codec_delay_ns: 0,
            video: None,
            audio: None,
            has_content_encodings: false,
        }
    }

    #[test]
    fn media_type_names_each_codec_in_track_order() {
        let h264 = track(1, "V_MPEG4/ISO/AVC", None);
        let aac = track(2, "A_AAC/MPEG4/LC", None);
        assert_eq!(media_type(&[aac.clone(), h264.clone()]).as_deref(), Some("video/h264,audio/aac"));
        assert_eq!(media_type(&[track(1, "V_MPEGH/ISO/HEVC", None)]).as_deref(), Some("video/h265"));
        let alaw = track(2, "A_MS/ACM", Some(&[6, 0, 1, 0]));
        let mulaw = track(3, "A_MS/ACM", Some(&[7, 0, 1, 0]));
        assert_eq!(
            media_type(&[h264.clone(), alaw, mulaw]).as_deref(),
            Some("video/h264,audio/alaw,audio/mulaw")
        );
        assert_eq!(
            media_type(&[h264.clone(), track(2, "V_MPEG4/ISO/AVC", None)]).as_deref(),
            Some("video/h264")
        );
        assert_eq!(media_type(&[track(1, "S_TEXT/UTF8", None)]), None);
        assert_eq!(media_type(&[]), None);
    }
}
