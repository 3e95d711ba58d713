//! HLS playlist text: the master playlist (`getHLSMasterPlaylist.m3u8`) and the media playlists
//! (`getHLSMediaPlaylist.m3u8`) in the tag order and number formats real KVS writes (KVS-API.md
//! §4.5).
//!
//! This module only turns plain structs into text. It must not decide which fragments, URIs,
//! media/discontinuity sequence numbers or discontinuities go in (the playback layer does), and it
//! must not do I/O, read clocks or touch sessions. It enforces only what makes a playlist invalid
//! for players whatever the caller asked for: `#EXT-X-TARGETDURATION` is never below a written
//! `#EXTINF`, the version is high enough for the tags used, and no URI or quoted string can break a
//! line or a quote.

use std::fmt::Write as _;

use super::iso8601;

/// `BANDWIDTH` written for an audio-only master playlist, where [`MasterPlaylist`] carries no
/// measured figure: a generous AAC-LC stereo peak (bits per second). Players only use it to choose
/// between variants, and an audio-only master has one. A caller that knows the real figure can pass
/// the audio playlist as [`MasterPlaylist::video`] instead (codecs `["mp4a.40.2"]`, width and
/// height 0).
pub const AUDIO_ONLY_BANDWIDTH: u64 = 192_000;

/// `#EXT-X-VERSION` of the master playlist (real KVS writes 1; nothing in our masters needs more
/// than 3, and players ignore the master's version).
const MASTER_VERSION: u8 = 3;

/// The master playlist: one variant (the video track, or the audio track for an audio-only stream)
/// and optionally one alternative audio rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterPlaylist {
    /// The video variant (`#EXT-X-STREAM-INF` + its media playlist URI); `None` for audio-only.
    pub video: Option<VariantStream>,
    /// The audio track: with `video` an `#EXT-X-MEDIA:TYPE=AUDIO` rendition the variant refers to;
    /// without `video` the single variant itself.
    pub audio: Option<AudioRendition>,
}

/// One `#EXT-X-STREAM-INF` variant.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantStream {
    /// RFC 6381 codec strings of everything the variant plays, e.g. `["avc1.42c01e", "mp4a.40.2"]`.
    /// The audio rendition's codec is appended if missing (CODECS must list the rendition's codec).
    pub codecs: Vec<String>,
    /// Picture width in pixels; `RESOLUTION` is omitted when width or height is 0.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// Frames per second, written `FRAME-RATE=25.000`; omitted when `None`, zero or not finite.
    pub frame_rate: Option<f64>,
    /// Peak bits per second of the variant (`BANDWIDTH`, required by HLS).
    pub bandwidth: u64,
    /// The variant's media playlist URI, relative to the master playlist.
    pub uri: String,
}

/// The `#EXT-X-MEDIA:TYPE=AUDIO` rendition of a video + audio stream.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioRendition {
    /// `GROUP-ID`, also written as the variant's `AUDIO` attribute; KVS uses `"audio"`.
    pub group_id: String,
    /// `NAME` of the rendition; KVS uses `"audio"`.
    pub name: String,
    /// The audio media playlist URI, relative to the master playlist.
    pub uri: String,
    /// RFC 6381 codec string of the track, e.g. `"mp4a.40.2"`.
    pub codec: String,
}

/// Writes the master playlist.
///
/// * Video + audio: `#EXT-X-MEDIA:TYPE=AUDIO,…,AUTOSELECT=YES,DEFAULT=YES,URI=…` (DEFAULT=YES where
///   KVS writes NO: hls.js and Safari want a default rendition in the group) and one
///   `#EXT-X-STREAM-INF` with `AUDIO="<group>"`.
/// * Video only: one `#EXT-X-STREAM-INF`.
/// * Audio only: one `#EXT-X-STREAM-INF` with the audio codec, no `RESOLUTION`, bandwidth
///   [`AUDIO_ONLY_BANDWIDTH`], pointing at the audio media playlist; no `#EXT-X-MEDIA` (a rendition
///   with the same URI as the variant would make hls.js load the track twice).
/// * Neither: the header lines only (a player reports "no variants").
pub fn master_playlist(p: &MasterPlaylist) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("#EXTM3U\n");
    let _ = writeln!(out, "#EXT-X-VERSION:{MASTER_VERSION}");
    out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    match (&p.video, &p.audio) {
        (Some(video), audio) => {
            let mut codecs: Vec<&str> = video.codecs.iter().map(String::as_str).collect();
            if let Some(audio) = audio {
                out.push_str("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"");
                push_quoted_text(&mut out, &audio.group_id);
                out.push_str("\",NAME=\"");
                push_quoted_text(&mut out, &audio.name);
                out.push_str("\",AUTOSELECT=YES,DEFAULT=YES,URI=\"");
                push_quoted_text(&mut out, &audio.uri);
                out.push_str("\"\n");
                if !audio.codec.is_empty() && !codecs.contains(&audio.codec.as_str()) {
                    codecs.push(&audio.codec);
                }
            }
            let _ = write!(out, "#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"", video.bandwidth);
            push_quoted_text(&mut out, &codecs.join(","));
            out.push('"');
            if video.width > 0 && video.height > 0 {
                let _ = write!(out, ",RESOLUTION={}x{}", video.width, video.height);
            }
            if let Some(rate) = video.frame_rate.filter(|r| r.is_finite() && *r > 0.0) {
                let _ = write!(out, ",FRAME-RATE={rate:.3}");
            }
            if let Some(audio) = audio {
                out.push_str(",AUDIO=\"");
                push_quoted_text(&mut out, &audio.group_id);
                out.push('"');
            }
            out.push('\n');
            push_uri_line(&mut out, &video.uri);
        }
        (None, Some(audio)) => {
            let _ = write!(out, "#EXT-X-STREAM-INF:BANDWIDTH={AUDIO_ONLY_BANDWIDTH},CODECS=\"");
            push_quoted_text(&mut out, &audio.codec);
            out.push_str("\"\n");
            push_uri_line(&mut out, &audio.uri);
        }
        (None, None) => {}
    }
    out
}

/// A media playlist: the fragments of one track (fMP4) or of all tracks (MPEG-TS).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaPlaylist {
    /// `#EXT-X-VERSION`: 7 for fMP4, 3 for MPEG-TS. Raised to 3 (fractional `#EXTINF`) and, when a
    /// segment has a map, to 6 (`#EXT-X-MAP` in a full-segment playlist) if lower.
    pub version: u8,
    /// `#EXT-X-TARGETDURATION`: pass [`target_duration`] of the listed durations (or a stable
    /// larger value across LIVE reloads). Raised to the ceiling of the largest written `#EXTINF`
    /// and to at least 1 if lower.
    pub target_duration_secs: u64,
    /// `#EXT-X-MEDIA-SEQUENCE`: session index of the first listed segment.
    pub media_sequence: u64,
    /// `#EXT-X-DISCONTINUITY-SEQUENCE`: discontinuities dropped from the head of a sliding window;
    /// written only when above 0.
    pub discontinuity_sequence: u64,
    /// `#EXT-X-PLAYLIST-TYPE`; `None` for LIVE (a sliding window).
    pub playlist_type: Option<PlaylistType>,
    /// Write `#EXT-X-INDEPENDENT-SEGMENTS` (every KVS fragment starts with a key frame).
    pub independent_segments: bool,
    /// The listed segments, oldest first.
    pub segments: Vec<MediaSegment>,
    /// Write `#EXT-X-ENDLIST` (ON_DEMAND, or LIVE_REPLAY that reached its end).
    pub end_list: bool,
}

/// `#EXT-X-PLAYLIST-TYPE` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistType {
    /// `VOD`: the playlist never changes (ON_DEMAND).
    Vod,
    /// `EVENT`: segments are only appended.
    Event,
}

impl PlaylistType {
    /// The tag value as written.
    pub fn as_str(self) -> &'static str {
        match self {
            PlaylistType::Vod => "VOD",
            PlaylistType::Event => "EVENT",
        }
    }
}

/// One media segment (one KVS fragment) and the tags written before it.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSegment {
    /// Write `#EXT-X-DISCONTINUITY` before this segment.
    pub discontinuity: bool,
    /// Write `#EXT-X-MAP:URI="…"` (the init segment) before this segment: on the first segment and
    /// after a codec private data change.
    pub map_uri: Option<String>,
    /// Write `#EXT-X-PROGRAM-DATE-TIME` with this UTC epoch-millisecond time; omitted when negative
    /// or after year 9999.
    pub program_date_time_ms: Option<i64>,
    /// `#EXTINF` duration in seconds, written rounded to milliseconds without trailing zeros
    /// (`2.663`, `2.68`, `2`); negative or non-finite values are written as `0`.
    pub duration_secs: f64,
    /// The segment URI, relative to the playlist.
    pub uri: String,
}

/// Writes a media playlist in the KVS tag order: `#EXTM3U`, `VERSION`, `PLAYLIST-TYPE`,
/// `TARGETDURATION`, `MEDIA-SEQUENCE`, `DISCONTINUITY-SEQUENCE` (when > 0),
/// `INDEPENDENT-SEGMENTS`, then per segment `DISCONTINUITY`, `MAP`, `PROGRAM-DATE-TIME`, `EXTINF`
/// and the URI, then `ENDLIST`. Every line ends in `\n`.
pub fn media_playlist(p: &MediaPlaylist) -> String {
    let durations_ms: Vec<u64> = p.segments.iter().map(|s| duration_millis(s.duration_secs)).collect();
    let longest_secs = durations_ms.iter().map(|ms| ms.div_ceil(1000)).max().unwrap_or(0);
    let target = p.target_duration_secs.max(longest_secs).max(1);
    let has_map = p.segments.iter().any(|s| s.map_uri.is_some());
    let version = p.version.max(if has_map { 6 } else { 3 });

    let mut out = String::with_capacity(192 + p.segments.len() * 224);
    out.push_str("#EXTM3U\n");
    let _ = writeln!(out, "#EXT-X-VERSION:{version}");
    if let Some(kind) = p.playlist_type {
        let _ = writeln!(out, "#EXT-X-PLAYLIST-TYPE:{}", kind.as_str());
    }
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{target}");
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", p.media_sequence);
    if p.discontinuity_sequence > 0 {
        let _ = writeln!(out, "#EXT-X-DISCONTINUITY-SEQUENCE:{}", p.discontinuity_sequence);
    }
    if p.independent_segments {
        out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
    for (segment, ms) in p.segments.iter().zip(durations_ms) {
        if segment.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if let Some(map) = &segment.map_uri {
            out.push_str("#EXT-X-MAP:URI=\"");
            push_quoted_text(&mut out, map);
            out.push_str("\"\n");
        }
        if let Some(date) = segment.program_date_time_ms.and_then(iso8601::utc_millis) {
            let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{date}");
        }
        out.push_str("#EXTINF:");
        iso8601::push_decimal_millis(&mut out, ms);
        out.push_str(",\n");
        push_uri_line(&mut out, &segment.uri);
    }
    if p.end_list {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// The `#EXT-X-TARGETDURATION` for segments of these durations: the ceiling, in whole seconds, of
/// the longest duration as [`media_playlist`] writes it (rounded to milliseconds, so `2.001` → 3
/// but `2.0004`, written `2`, → 2); at least 1. Negative and non-finite durations count as 0.
pub fn target_duration(durations_secs: impl IntoIterator<Item = f64>) -> u64 {
    durations_secs.into_iter().map(|d| duration_millis(d).div_ceil(1000)).max().unwrap_or(0).max(1)
}

/// Seconds → whole milliseconds as written in `#EXTINF` (saturating; 0 for negative or NaN).
fn duration_millis(secs: f64) -> u64 {
    if secs.is_finite() && secs > 0.0 {
        // `as` saturates at u64::MAX for absurdly large values.
        (secs * 1000.0).round() as u64
    } else {
        0
    }
}

/// Appends text that goes inside a `"…"` attribute value. HLS quoted strings cannot contain `"`,
/// CR or LF and have no escape syntax, so those three are percent-encoded (harmless in URIs, the
/// only place they could come from).
fn push_quoted_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("%22"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
}

/// Appends a URI line and its `\n`. Like [`push_quoted_text`], plus a leading `#` (which would make
/// the line a comment) is percent-encoded.
fn push_uri_line(out: &mut String, uri: &str) {
    match uri.strip_prefix('#') {
        Some(rest) => {
            out.push_str("%23");
            push_quoted_text(out, rest);
        }
        None => push_quoted_text(out, uri),
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    const INIT: &str = "getMP4InitFragment.mp4?SessionToken=CiC~&TrackNumber=1&SequenceNumber=0";
    const FRAG_1: &str = "getMP4MediaFragment.mp4?FragmentNumber=91343852333181432392682062625346622394254815093\
                          &SessionToken=CiC7~&TrackNumber=1";
    const FRAG_2: &str = "getMP4MediaFragment.mp4?FragmentNumber=91343852333181432397633822782475390916698049701\
                          &SessionToken=CiC7~&TrackNumber=1";

    fn segment(uri: &str, duration_secs: f64) -> MediaSegment {
        MediaSegment {
            discontinuity: false,
            map_uri: None,
            program_date_time_ms: None,
            duration_secs,
            uri: uri.to_owned(),
        }
    }

    fn playlist(segments: Vec<MediaSegment>) -> MediaPlaylist {
        MediaPlaylist {
            version: 7,
            target_duration_secs: target_duration(segments.iter().map(|s| s.duration_secs)),
            media_sequence: 0,
            discontinuity_sequence: 0,
            playlist_type: None,
            independent_segments: true,
            segments,
            end_list: false,
        }
    }

    /// The real ON_DEMAND playlist of KVS-API.md §4.5, minus its trailing `#EXT-X-DISCONTINUITY`
    /// before `#EXT-X-ENDLIST` (a tag that applies to no segment; segments cannot express it).
    #[test]
    fn on_demand_fmp4_like_aws() {
        let mut p = playlist(vec![
            MediaSegment {
                discontinuity: true,
                map_uri: Some(INIT.to_owned()),
                program_date_time_ms: Some(1_684_331_315_994),
                ..segment(FRAG_1, 2.663)
            },
            MediaSegment {
                discontinuity: true,
                program_date_time_ms: Some(1_684_331_318_656),
                ..segment(FRAG_2, 2.68)
            },
        ]);
        p.playlist_type = Some(PlaylistType::Vod);
        p.target_duration_secs = 4; // as AWS wrote it: larger than needed is allowed
        p.end_list = true;
        let expected = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI=\"getMP4InitFragment.mp4?SessionToken=CiC~&TrackNumber=1&SequenceNumber=0\"
#EXT-X-PROGRAM-DATE-TIME:2023-05-17T13:48:35.994Z
#EXTINF:2.663,
getMP4MediaFragment.mp4?FragmentNumber=91343852333181432392682062625346622394254815093&SessionToken=CiC7~&TrackNumber=1
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2023-05-17T13:48:38.656Z
#EXTINF:2.68,
getMP4MediaFragment.mp4?FragmentNumber=91343852333181432397633822782475390916698049701&SessionToken=CiC7~&TrackNumber=1
#EXT-X-ENDLIST
";
        assert_eq!(media_playlist(&p), expected);
    }

    #[test]
    fn live_sliding_window() {
        let uri =
            |n: u32| format!("getMP4MediaFragment.mp4?FragmentNumber={n}&SessionToken=T~&TrackNumber=1");
        let mut p = playlist(vec![
            MediaSegment { map_uri: Some(INIT.to_owned()), ..segment(&uri(7), 2.0) },
            segment(&uri(8), 1.9995),
            MediaSegment { discontinuity: true, ..segment(&uri(9), 2.04) },
        ]);
        p.media_sequence = 7;
        p.discontinuity_sequence = 2;
        let expected = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:3
#EXT-X-MEDIA-SEQUENCE:7
#EXT-X-DISCONTINUITY-SEQUENCE:2
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI=\"getMP4InitFragment.mp4?SessionToken=CiC~&TrackNumber=1&SequenceNumber=0\"
#EXTINF:2,
getMP4MediaFragment.mp4?FragmentNumber=7&SessionToken=T~&TrackNumber=1
#EXTINF:2,
getMP4MediaFragment.mp4?FragmentNumber=8&SessionToken=T~&TrackNumber=1
#EXT-X-DISCONTINUITY
#EXTINF:2.04,
getMP4MediaFragment.mp4?FragmentNumber=9&SessionToken=T~&TrackNumber=1
";
        assert_eq!(media_playlist(&p), expected);
    }

    #[test]
    fn mpeg_ts_event_playlist() {
        let mut p = playlist(vec![
            segment("getTSFragment.ts?FragmentNumber=1&SessionToken=T~", 4.5),
            segment("getTSFragment.ts?FragmentNumber=2&SessionToken=T~", 0.25),
        ]);
        p.version = 3;
        p.playlist_type = Some(PlaylistType::Event);
        p.independent_segments = false;
        let expected = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-TARGETDURATION:5
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:4.5,
getTSFragment.ts?FragmentNumber=1&SessionToken=T~
#EXTINF:0.25,
getTSFragment.ts?FragmentNumber=2&SessionToken=T~
";
        assert_eq!(media_playlist(&p), expected);
    }

    #[test]
    fn empty_live_playlist() {
        let p = playlist(vec![]);
        let expected = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
";
        assert_eq!(media_playlist(&p), expected);
    }

    #[test]
    fn target_duration_rounding() {
        assert_eq!(target_duration([2.001]), 3);
        assert_eq!(target_duration([2.0]), 2);
        assert_eq!(target_duration([2.0004]), 2); // written "2"
        assert_eq!(target_duration([1.9996]), 2); // written "2"
        assert_eq!(target_duration([2.0006]), 3); // written "2.001"
        assert_eq!(target_duration([0.5, 9.999, 3.0]), 10);
        assert_eq!(target_duration([]), 1);
        assert_eq!(target_duration([f64::NAN, -3.0, f64::NEG_INFINITY, 0.0]), 1);
        assert_eq!(target_duration([f64::INFINITY]), 1);
    }

    #[test]
    fn target_duration_never_below_a_written_extinf() {
        for (given, durations, expected) in [
            (0, vec![2.001], 3),
            (2, vec![2.001], 3),
            (2, vec![2.0004], 2),
            (10, vec![2.001], 10),
            (1, vec![0.2, 11.5], 12),
        ] {
            let mut p = playlist(durations.into_iter().map(|d| segment("f.mp4", d)).collect());
            p.target_duration_secs = given;
            let text = media_playlist(&p);
            assert!(text.contains(&format!("\n#EXT-X-TARGETDURATION:{expected}\n")), "{text}");
            for line in text.lines().filter_map(|l| l.strip_prefix("#EXTINF:")) {
                let extinf: f64 = line.trim_end_matches(',').parse().unwrap();
                assert!(extinf.ceil() as u64 <= expected, "{extinf} > {expected}");
            }
        }
    }

    #[test]
    fn extinf_formatting() {
        let p = playlist(
            [2.663, 2.68, 2.6, 2.0, 0.001, 0.0004, 12.3456, -1.0, f64::NAN]
                .into_iter()
                .map(|d| segment("f", d))
                .collect(),
        );
        let text = media_playlist(&p);
        let extinfs: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("#EXTINF:")).collect();
        assert_eq!(extinfs, ["2.663,", "2.68,", "2.6,", "2,", "0.001,", "0,", "12.346,", "0,", "0,"]);
    }

    #[test]
    fn version_raised_for_tags_used() {
        let mut p = playlist(vec![MediaSegment { map_uri: Some(INIT.to_owned()), ..segment("f", 1.5) }]);
        p.version = 3;
        assert!(media_playlist(&p).starts_with("#EXTM3U\n#EXT-X-VERSION:6\n"));
        p.segments[0].map_uri = None;
        p.version = 1;
        assert!(media_playlist(&p).starts_with("#EXTM3U\n#EXT-X-VERSION:3\n"));
    }

    #[test]
    fn program_date_time_out_of_range_is_omitted() {
        let mut p = playlist(vec![
            MediaSegment { program_date_time_ms: Some(-1), ..segment("a", 1.0) },
            MediaSegment { program_date_time_ms: Some(i64::MAX), ..segment("b", 1.0) },
            MediaSegment { program_date_time_ms: Some(1_709_164_800_000), ..segment("c", 1.0) },
        ]);
        p.independent_segments = false;
        let expected = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:1,
a
#EXTINF:1,
b
#EXT-X-PROGRAM-DATE-TIME:2024-02-29T00:00:00.000Z
#EXTINF:1,
c
";
        assert_eq!(media_playlist(&p), expected);
    }

    #[test]
    fn uris_cannot_break_lines_or_quotes() {
        let p = playlist(vec![MediaSegment {
            map_uri: Some("init\".mp4\n#EXT-X-ENDLIST".to_owned()),
            ..segment("#frag\r\n#EXT-X-ENDLIST", 1.0)
        }]);
        let text = media_playlist(&p);
        assert!(text.contains("#EXT-X-MAP:URI=\"init%22.mp4%0A#EXT-X-ENDLIST\"\n"), "{text}");
        assert!(text.ends_with("#EXTINF:1,\n%23frag%0D%0A#EXT-X-ENDLIST\n"), "{text}");
        assert_eq!(text.lines().filter(|l| l.starts_with("#EXT-X-ENDLIST")).count(), 0);
    }

    fn video(codecs: &[&str]) -> VariantStream {
        VariantStream {
            codecs: codecs.iter().map(|c| c.to_string()).collect(),
            width: 1280,
            height: 720,
            frame_rate: Some(25.0),
            bandwidth: 2_583_047,
            uri: "getHLSMediaPlaylist.m3u8?SessionToken=CiA~&TrackNumber=1".to_owned(),
        }
    }

    fn audio() -> AudioRendition {
        AudioRendition {
            group_id: "audio".to_owned(),
            name: "audio".to_owned(),
            uri: "getHLSMediaPlaylist.m3u8?SessionToken=CiA~&TrackNumber=2".to_owned(),
            codec: "mp4a.40.2".to_owned(),
        }
    }

    #[test]
    fn master_with_audio_group() {
        let p = MasterPlaylist { video: Some(video(&["avc1.42c01e", "mp4a.40.2"])), audio: Some(audio()) };
        let expected = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",AUTOSELECT=YES,DEFAULT=YES,URI=\"getHLSMediaPlaylist.m3u8?SessionToken=CiA~&TrackNumber=2\"
#EXT-X-STREAM-INF:BANDWIDTH=2583047,CODECS=\"avc1.42c01e,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=25.000,AUDIO=\"audio\"
getHLSMediaPlaylist.m3u8?SessionToken=CiA~&TrackNumber=1
";
        assert_eq!(master_playlist(&p), expected);
        // The rendition's codec is added to CODECS when the caller left it out.
        let p = MasterPlaylist { video: Some(video(&["avc1.42c01e"])), audio: Some(audio()) };
        assert!(master_playlist(&p).contains("CODECS=\"avc1.42c01e,mp4a.40.2\""));
    }

    #[test]
    fn master_video_only() {
        let mut v = video(&["hvc1.1.6.L93.B0"]);
        v.frame_rate = Some(29.97);
        let p = MasterPlaylist { video: Some(v), audio: None };
        let expected = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=2583047,CODECS=\"hvc1.1.6.L93.B0\",RESOLUTION=1280x720,FRAME-RATE=29.970
getHLSMediaPlaylist.m3u8?SessionToken=CiA~&TrackNumber=1
";
        assert_eq!(master_playlist(&p), expected);
        let mut v = video(&["avc1.4d4032"]);
        (v.frame_rate, v.width) = (None, 0);
        let text = master_playlist(&MasterPlaylist { video: Some(v), audio: None });
        assert!(text.contains("#EXT-X-STREAM-INF:BANDWIDTH=2583047,CODECS=\"avc1.4d4032\"\n"), "{text}");
    }

    #[test]
    fn master_audio_only() {
        let mut a = audio();
        a.uri = "getHLSMediaPlaylist.m3u8?SessionToken=CiA~&TrackNumber=1".to_owned();
        let p = MasterPlaylist { video: None, audio: Some(a) };
        let expected = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=192000,CODECS=\"mp4a.40.2\"
getHLSMediaPlaylist.m3u8?SessionToken=CiA~&TrackNumber=1
";
        assert_eq!(master_playlist(&p), expected);
    }

    #[test]
    fn master_empty() {
        let p = MasterPlaylist { video: None, audio: None };
        assert_eq!(master_playlist(&p), "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
}
