//! DASH manifest text (`getDASHManifest.mpd`): an MPEG-DASH MPD, ISO live profile, one
//! `SegmentTemplate` + `SegmentTimeline` per track with `$Number$` addressing, plus the KVS
//! `kvs:ts` / `kvs:fn` attributes on `S` elements (KVS-API.md §4.6).
//!
//! This module only turns plain structs into XML text. It must not decide which fragments, URLs,
//! numbers or times go in (the playback layer does), and it must not do I/O, read clocks or touch
//! sessions. Every attribute value is XML-escaped, so URLs with `&` and arbitrary ids are safe; the
//! output parses in dash.js and in ffmpeg's DASH demuxer.

use std::fmt::Write as _;

use super::iso8601;

/// Namespace URI bound to the `kvs:` prefix of the `kvs:ts` / `kvs:fn` attributes. AWS does not
/// document its own; players ignore attributes in foreign namespaces.
pub const KVS_NAMESPACE: &str = "urn:aws:kinesisvideo:dash:2018";

/// `schemeIdUri` of `AudioChannelConfiguration` (ISO/IEC 23003-3 channel count).
const AUDIO_CHANNEL_SCHEME: &str = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011";

/// The whole MPD.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// `type="dynamic"` (LIVE, LIVE_REPLAY: players reload the MPD) or `type="static"` (ON_DEMAND).
    pub live: bool,
    /// `availabilityStartTime` in UTC epoch milliseconds; written for dynamic manifests only (the
    /// anchor of segment availability; clamped into 1970..=9999).
    pub availability_start_time_ms: i64,
    /// `publishTime` in UTC epoch milliseconds (when this version of the MPD was made); always
    /// written, clamped like `availability_start_time_ms`.
    pub publish_time_ms: i64,
    /// `mediaPresentationDuration`. A static manifest needs one: when `None` there, the end of the
    /// latest timeline (period start + last `S` end − `presentationTimeOffset`) is written. A
    /// dynamic manifest writes it only when set (the presentation has ended).
    pub media_presentation_duration_ms: Option<u64>,
    /// `minimumUpdatePeriod` (dynamic only): how often players reload; without it a dynamic MPD is
    /// never reloaded.
    pub minimum_update_period_ms: Option<u64>,
    /// `timeShiftBufferDepth` (dynamic only): how far behind the live edge segments stay listed.
    pub time_shift_buffer_depth_ms: Option<u64>,
    /// `suggestedPresentationDelay` (dynamic only): how far behind the live edge players start.
    pub suggested_presentation_delay_ms: Option<u64>,
    /// `minBufferTime` (required by the schema).
    pub min_buffer_time_ms: u64,
    /// The periods, in presentation order.
    pub periods: Vec<Period>,
}

/// One `Period`.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// `id`, unique within the MPD and stable across reloads of a dynamic MPD.
    pub id: String,
    /// `start`, relative to the presentation start (`availabilityStartTime` when dynamic).
    pub start_ms: u64,
    /// One adaptation set per track.
    pub adaptation_sets: Vec<AdaptationSet>,
}

/// `contentType` of an adaptation set; selects the video or audio attributes of the representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// A video track: `width`, `height`, `frameRate`.
    Video,
    /// An audio track: `audioSamplingRate`, `AudioChannelConfiguration`.
    Audio,
}

impl ContentType {
    /// The attribute value as written.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Video => "video",
            ContentType::Audio => "audio",
        }
    }
}

/// One track: an `AdaptationSet` with a single `Representation` and its `SegmentTemplate`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptationSet {
    /// `contentType`.
    pub content_type: ContentType,
    /// `mimeType`: `video/mp4` or `audio/mp4`.
    pub mime_type: String,
    /// `codecs` (RFC 6381, e.g. `avc1.42c01e`, `mp4a.40.2`).
    pub codecs: String,
    /// Video `width` in pixels; omitted when 0 or for audio.
    pub width: u32,
    /// Video `height` in pixels; omitted when 0 or for audio.
    pub height: u32,
    /// Video `frameRate`; written as an integer (`25`), an NTSC fraction (`30000/1001`) or a
    /// reduced fraction of milliframes (`1501/100`); omitted when `None`, zero or not finite.
    pub frame_rate: Option<f64>,
    /// Audio `audioSamplingRate` in Hz; omitted when 0 or for video.
    pub sample_rate: u32,
    /// Audio channel count for `AudioChannelConfiguration`; omitted when 0 or for video.
    pub channels: u16,
    /// `bandwidth` in bits per second (required by the schema).
    pub bandwidth: u64,
    /// `Representation@id`; becomes `$RepresentationID$` in templates.
    pub representation_id: String,
    /// `timescale` of `t`, `d` and `presentationTimeOffset` (ticks per second; 0 is written as 1).
    pub timescale: u32,
    /// `initialization` URL template (raw text; escaped when written).
    pub initialization: String,
    /// `media` URL template with `$Number$` (raw text; escaped when written).
    pub media: String,
    /// `startNumber`: `$Number$` of the first `S` segment.
    pub start_number: u64,
    /// `presentationTimeOffset` in `timescale` ticks: the `t` that maps to the period start.
    pub presentation_time_offset: u64,
    /// The `SegmentTimeline` entries, in order.
    pub timeline: Vec<TimelineEntry>,
}

/// One `S` element of a `SegmentTimeline`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// `t`: start in `timescale` ticks.
    pub t: u64,
    /// `d`: duration in `timescale` ticks.
    pub d: u64,
    /// `r`: number of further segments of the same duration (0 = this one only; not written).
    pub r: u32,
    /// `kvs:ts`: the fragment's real UTC epoch-millisecond timestamp (DisplayFragmentTimestamp).
    pub kvs_ts_ms: Option<i64>,
    /// `kvs:fn`: the KVS fragment number (DisplayFragmentNumber).
    pub kvs_fn: Option<String>,
}

/// Writes the MPD: XML declaration, `MPD`, then per period `Period` / `AdaptationSet` /
/// `Representation` / `SegmentTemplate` / `SegmentTimeline` / `S`, two-space indented, every line
/// ending in `\n`.
pub fn manifest(m: &Manifest) -> String {
    let segments: usize = m.periods.iter().flat_map(|p| &p.adaptation_sets).map(|a| a.timeline.len()).sum();
    let mut out = String::with_capacity(1024 + segments * 128);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<MPD");
    push_attr(&mut out, "xmlns", "urn:mpeg:dash:schema:mpd:2011");
    push_attr(&mut out, "xmlns:kvs", KVS_NAMESPACE);
    push_attr(&mut out, "profiles", "urn:mpeg:dash:profile:isoff-live:2011");
    push_attr(&mut out, "type", if m.live { "dynamic" } else { "static" });
    if m.live {
        push_attr(
            &mut out,
            "availabilityStartTime",
            &iso8601::utc_millis_clamped(m.availability_start_time_ms),
        );
    }
    push_attr(&mut out, "publishTime", &iso8601::utc_millis_clamped(m.publish_time_ms));
    let duration = match m.media_presentation_duration_ms {
        None if !m.live => Some(presentation_end_ms(m)),
        duration => duration,
    };
    push_duration_attr(&mut out, "mediaPresentationDuration", duration);
    if m.live {
        push_duration_attr(&mut out, "minimumUpdatePeriod", m.minimum_update_period_ms);
        push_duration_attr(&mut out, "timeShiftBufferDepth", m.time_shift_buffer_depth_ms);
        push_duration_attr(&mut out, "suggestedPresentationDelay", m.suggested_presentation_delay_ms);
    }
    push_duration_attr(&mut out, "minBufferTime", Some(m.min_buffer_time_ms));
    out.push_str(">\n");
    for period in &m.periods {
        push_period(&mut out, period);
    }
    out.push_str("</MPD>\n");
    out
}

fn push_period(out: &mut String, period: &Period) {
    out.push_str("  <Period");
    push_attr(out, "id", &period.id);
    push_duration_attr(out, "start", Some(period.start_ms));
    out.push_str(">\n");
    for set in &period.adaptation_sets {
        push_adaptation_set(out, set);
    }
    out.push_str("  </Period>\n");
}

fn push_adaptation_set(out: &mut String, set: &AdaptationSet) {
    out.push_str("    <AdaptationSet");
    push_attr(out, "contentType", set.content_type.as_str());
    push_attr(out, "mimeType", &set.mime_type);
    push_attr(out, "segmentAlignment", "true");
    push_attr(out, "startWithSAP", "1");
    out.push_str(">\n");

    out.push_str("      <Representation");
    push_attr(out, "id", &set.representation_id);
    push_attr(out, "codecs", &set.codecs);
    push_attr(out, "bandwidth", &set.bandwidth.to_string());
    match set.content_type {
        ContentType::Video => {
            if set.width > 0 && set.height > 0 {
                push_attr(out, "width", &set.width.to_string());
                push_attr(out, "height", &set.height.to_string());
            }
            if let Some(rate) = set.frame_rate.and_then(frame_rate_text) {
                push_attr(out, "frameRate", &rate);
            }
        }
        ContentType::Audio => {
            if set.sample_rate > 0 {
                push_attr(out, "audioSamplingRate", &set.sample_rate.to_string());
            }
        }
    }
    out.push_str(">\n");
    if set.content_type == ContentType::Audio && set.channels > 0 {
        out.push_str("        <AudioChannelConfiguration");
        push_attr(out, "schemeIdUri", AUDIO_CHANNEL_SCHEME);
        push_attr(out, "value", &set.channels.to_string());
        out.push_str("/>\n");
    }

    out.push_str("        <SegmentTemplate");
    push_attr(out, "timescale", &set.timescale.max(1).to_string());
    push_attr(out, "initialization", &set.initialization);
    push_attr(out, "media", &set.media);
    push_attr(out, "startNumber", &set.start_number.to_string());
    push_attr(out, "presentationTimeOffset", &set.presentation_time_offset.to_string());
    out.push_str(">\n");
    if set.timeline.is_empty() {
        out.push_str("          <SegmentTimeline/>\n");
    } else {
        out.push_str("          <SegmentTimeline>\n");
        for entry in &set.timeline {
            push_timeline_entry(out, entry);
        }
        out.push_str("          </SegmentTimeline>\n");
    }
    out.push_str("        </SegmentTemplate>\n");
    out.push_str("      </Representation>\n");
    out.push_str("    </AdaptationSet>\n");
}

fn push_timeline_entry(out: &mut String, entry: &TimelineEntry) {
    let _ = write!(out, "            <S t=\"{}\" d=\"{}\"", entry.t, entry.d);
    if entry.r > 0 {
        let _ = write!(out, " r=\"{}\"", entry.r);
    }
    if let Some(ts) = entry.kvs_ts_ms {
        let _ = write!(out, " kvs:ts=\"{ts}\"");
    }
    if let Some(number) = &entry.kvs_fn {
        push_attr(out, "kvs:fn", number);
    }
    out.push_str("/>\n");
}

/// The end of the presentation in milliseconds: the latest end of any timeline, relative to the
/// presentation start (period start + (last segment end − presentationTimeOffset) / timescale).
fn presentation_end_ms(m: &Manifest) -> u64 {
    let mut end_ms: u64 = 0;
    for period in &m.periods {
        for set in &period.adaptation_sets {
            let end_ticks = set
                .timeline
                .iter()
                .map(|e| u128::from(e.t) + u128::from(e.d) * (u128::from(e.r) + 1))
                .max()
                .unwrap_or(0);
            let ticks = end_ticks.saturating_sub(u128::from(set.presentation_time_offset));
            let ms = ticks * 1000 / u128::from(set.timescale.max(1));
            let total = u128::from(period.start_ms) + ms;
            end_ms = end_ms.max(u64::try_from(total).unwrap_or(u64::MAX));
        }
        end_ms = end_ms.max(period.start_ms);
    }
    end_ms
}

/// A DASH `FrameRateType` (`[0-9]+(/[1-9][0-9]*)?`, no decimals): `25`, `30000/1001`, `1501/100`.
fn frame_rate_text(rate: f64) -> Option<String> {
    if !rate.is_finite() || rate <= 0.0 {
        return None;
    }
    // `as` saturates; a frame rate never comes near u64::MAX / 1001.
    let millis = (rate * 1000.0).round() as u64;
    if millis == 0 {
        return None;
    }
    if millis.is_multiple_of(1000) {
        return Some((millis / 1000).to_string());
    }
    let ntsc = (rate * 1001.0).round();
    if (ntsc as u64).is_multiple_of(1000) && (rate - ntsc / 1001.0).abs() < 0.0005 {
        return Some(format!("{}/1001", ntsc as u64));
    }
    let divisor = gcd(millis, 1000);
    Some(format!("{}/{}", millis / divisor, 1000 / divisor))
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Appends ` name="value"` with the value XML-escaped.
fn push_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    push_escaped(out, value);
    out.push('"');
}

/// Appends ` name="PT…S"` when the duration is set.
fn push_duration_attr(out: &mut String, name: &str, ms: Option<u64>) {
    if let Some(ms) = ms {
        push_attr(out, name, &iso8601::duration_millis(ms));
    }
}

/// Escapes text for a double-quoted XML attribute: the five predefined entities, tab/LF/CR as
/// character references (attribute normalisation would turn them into spaces), and characters XML
/// 1.0 forbids (other C0 controls, U+FFFE, U+FFFF) dropped.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "SessionToken=CiC7~";

    fn video_set(timeline: Vec<TimelineEntry>) -> AdaptationSet {
        AdaptationSet {
            content_type: ContentType::Video,
            mime_type: "video/mp4".to_owned(),
            codecs: "avc1.42c01e".to_owned(),
            width: 1280,
            height: 720,
            frame_rate: Some(25.0),
            sample_rate: 0,
            channels: 0,
            bandwidth: 2_000_000,
            representation_id: "1".to_owned(),
            timescale: 1000,
            initialization: format!("getMP4InitFragment.mp4?{TOKEN}&TrackNumber=1&SequenceNumber=0"),
            media: format!("getMP4MediaFragment.mp4?{TOKEN}&TrackNumber=1&FragmentIndex=$Number$"),
            start_number: 0,
            presentation_time_offset: 0,
            timeline,
        }
    }

    fn audio_set(timeline: Vec<TimelineEntry>) -> AdaptationSet {
        AdaptationSet {
            content_type: ContentType::Audio,
            mime_type: "audio/mp4".to_owned(),
            codecs: "mp4a.40.2".to_owned(),
            width: 0,
            height: 0,
            frame_rate: None,
            sample_rate: 48_000,
            channels: 2,
            bandwidth: 128_000,
            representation_id: "2".to_owned(),
            timescale: 48_000,
            initialization: format!("getMP4InitFragment.mp4?{TOKEN}&TrackNumber=2&SequenceNumber=0"),
            media: format!("getMP4MediaFragment.mp4?{TOKEN}&TrackNumber=2&FragmentIndex=$Number$"),
            ..video_set(timeline)
        }
    }

    fn s(t: u64, d: u64, r: u32) -> TimelineEntry {
        TimelineEntry { t, d, r, kvs_ts_ms: None, kvs_fn: None }
    }

    fn on_demand() -> Manifest {
        Manifest {
            live: false,
            availability_start_time_ms: 1_684_331_315_994,
            publish_time_ms: 1_684_331_400_000,
            media_presentation_duration_ms: Some(20_040),
            minimum_update_period_ms: None,
            time_shift_buffer_depth_ms: None,
            suggested_presentation_delay_ms: None,
            min_buffer_time_ms: 2_000,
            periods: vec![Period {
                id: "0".to_owned(),
                start_ms: 0,
                adaptation_sets: vec![
                    video_set(vec![s(0, 2000, 8), s(18_000, 2040, 0)]),
                    audio_set(vec![s(0, 96_000, 8), s(864_000, 97_920, 0)]),
                ],
            }],
        }
    }

    #[test]
    fn static_golden() {
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:kvs="urn:aws:kinesisvideo:dash:2018" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" publishTime="2023-05-17T13:50:00.000Z" mediaPresentationDuration="PT20.04S" minBufferTime="PT2S">
  <Period id="0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">
      <Representation id="1" codecs="avc1.42c01e" bandwidth="2000000" width="1280" height="720" frameRate="25">
        <SegmentTemplate timescale="1000" initialization="getMP4InitFragment.mp4?SessionToken=CiC7~&amp;TrackNumber=1&amp;SequenceNumber=0" media="getMP4MediaFragment.mp4?SessionToken=CiC7~&amp;TrackNumber=1&amp;FragmentIndex=$Number$" startNumber="0" presentationTimeOffset="0">
          <SegmentTimeline>
            <S t="0" d="2000" r="8"/>
            <S t="18000" d="2040"/>
          </SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
    <AdaptationSet contentType="audio" mimeType="audio/mp4" segmentAlignment="true" startWithSAP="1">
      <Representation id="2" codecs="mp4a.40.2" bandwidth="128000" audioSamplingRate="48000">
        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>
        <SegmentTemplate timescale="48000" initialization="getMP4InitFragment.mp4?SessionToken=CiC7~&amp;TrackNumber=2&amp;SequenceNumber=0" media="getMP4MediaFragment.mp4?SessionToken=CiC7~&amp;TrackNumber=2&amp;FragmentIndex=$Number$" startNumber="0" presentationTimeOffset="0">
          <SegmentTimeline>
            <S t="0" d="96000" r="8"/>
            <S t="864000" d="97920"/>
          </SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"#;
        assert_eq!(manifest(&on_demand()), expected);
    }

    #[test]
    fn static_duration_derived_from_timelines_when_missing() {
        let mut m = on_demand();
        m.media_presentation_duration_ms = None;
        assert!(manifest(&m).contains(" mediaPresentationDuration=\"PT20.04S\" "));
        // presentationTimeOffset and the period start are taken into account.
        let set = &mut m.periods[0].adaptation_sets[0];
        set.presentation_time_offset = 5_000;
        set.timeline = vec![s(5_000, 2_000, 1)];
        m.periods[0].adaptation_sets.truncate(1);
        m.periods[0].start_ms = 1_500;
        assert!(manifest(&m).contains(" mediaPresentationDuration=\"PT5.5S\" "));
        m.periods.clear();
        assert!(manifest(&m).contains(" mediaPresentationDuration=\"PT0S\" "));
    }

    #[test]
    fn dynamic_golden() {
        let timeline = vec![
            TimelineEntry {
                t: 1_684_331_315_994,
                d: 2_663,
                r: 0,
                kvs_ts_ms: Some(1_684_331_315_994),
                kvs_fn: Some("91343852333181432392682062625346622394254815093".to_owned()),
            },
            TimelineEntry {
                t: 1_684_331_318_657,
                d: 2_680,
                r: 0,
                kvs_ts_ms: Some(1_684_331_318_656),
                kvs_fn: Some("91343852333181432397633822782475390916698049701".to_owned()),
            },
        ];
        let mut video = video_set(timeline);
        video.start_number = 7;
        video.presentation_time_offset = 1_684_331_315_994;
        video.frame_rate = Some(29.97);
        let m = Manifest {
            live: true,
            availability_start_time_ms: 1_684_331_315_994,
            publish_time_ms: 1_684_331_321_336,
            media_presentation_duration_ms: None,
            minimum_update_period_ms: Some(2_000),
            time_shift_buffer_depth_ms: Some(20_040),
            suggested_presentation_delay_ms: Some(6_000),
            min_buffer_time_ms: 2_000,
            periods: vec![Period { id: "0".to_owned(), start_ms: 0, adaptation_sets: vec![video] }],
        };
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:kvs="urn:aws:kinesisvideo:dash:2018" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic" availabilityStartTime="2023-05-17T13:48:35.994Z" publishTime="2023-05-17T13:48:41.336Z" minimumUpdatePeriod="PT2S" timeShiftBufferDepth="PT20.04S" suggestedPresentationDelay="PT6S" minBufferTime="PT2S">
  <Period id="0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">
      <Representation id="1" codecs="avc1.42c01e" bandwidth="2000000" width="1280" height="720" frameRate="30000/1001">
        <SegmentTemplate timescale="1000" initialization="getMP4InitFragment.mp4?SessionToken=CiC7~&amp;TrackNumber=1&amp;SequenceNumber=0" media="getMP4MediaFragment.mp4?SessionToken=CiC7~&amp;TrackNumber=1&amp;FragmentIndex=$Number$" startNumber="7" presentationTimeOffset="1684331315994">
          <SegmentTimeline>
            <S t="1684331315994" d="2663" kvs:ts="1684331315994" kvs:fn="91343852333181432392682062625346622394254815093"/>
            <S t="1684331318657" d="2680" kvs:ts="1684331318656" kvs:fn="91343852333181432397633822782475390916698049701"/>
          </SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"#;
        assert_eq!(manifest(&m), expected);
    }

    #[test]
    fn dynamic_without_segments_or_optional_attributes() {
        let m = Manifest {
            live: true,
            availability_start_time_ms: -1,
            publish_time_ms: 0,
            media_presentation_duration_ms: None,
            minimum_update_period_ms: None,
            time_shift_buffer_depth_ms: None,
            suggested_presentation_delay_ms: None,
            min_buffer_time_ms: 0,
            periods: vec![Period {
                id: "0".to_owned(),
                start_ms: 0,
                adaptation_sets: vec![audio_set(vec![])],
            }],
        };
        let text = manifest(&m);
        assert!(text.contains(
            " type=\"dynamic\" availabilityStartTime=\"1970-01-01T00:00:00.000Z\" \
             publishTime=\"1970-01-01T00:00:00.000Z\" minBufferTime=\"PT0S\">\n"
        ));
        assert!(text.contains("          <SegmentTimeline/>\n"), "{text}");
        // Static-only and dynamic-only attributes stay in their type.
        let mut m = on_demand();
        m.minimum_update_period_ms = Some(1_000);
        m.time_shift_buffer_depth_ms = Some(1_000);
        m.suggested_presentation_delay_ms = Some(1_000);
        let text = manifest(&m);
        for attr in ["availabilityStartTime", "minimumUpdatePeriod", "timeShiftBufferDepth", "suggested"] {
            assert!(!text.contains(attr), "{attr} in {text}");
        }
    }

    #[test]
    fn xml_escaping() {
        let mut set = video_set(vec![TimelineEntry { kvs_fn: Some("1&2".to_owned()), ..s(0, 1, 0) }]);
        set.representation_id = "a\"b'<c>".to_owned();
        set.initialization = "init.mp4?a=1&b=2".to_owned();
        set.media = "m.mp4?x=\t\n\r\u{1}y".to_owned();
        let mut m = on_demand();
        m.periods = vec![Period { id: "p&1".to_owned(), start_ms: 12_345, adaptation_sets: vec![set] }];
        let text = manifest(&m);
        assert!(text.contains("<Period id=\"p&amp;1\" start=\"PT12.345S\">"), "{text}");
        assert!(text.contains("<Representation id=\"a&quot;b&apos;&lt;c&gt;\" "), "{text}");
        assert!(text.contains(" initialization=\"init.mp4?a=1&amp;b=2\" "), "{text}");
        assert!(text.contains(" media=\"m.mp4?x=&#9;&#10;&#13;y\" "), "{text}");
        assert!(text.contains("<S t=\"0\" d=\"1\" kvs:fn=\"1&amp;2\"/>"), "{text}");
        // No raw '&' that does not start an entity or character reference.
        for (i, _) in text.match_indices('&') {
            let rest = &text[i..];
            assert!(["&amp;", "&quot;", "&apos;", "&lt;", "&gt;", "&#"].iter().any(|e| rest.starts_with(e)));
        }
    }

    #[test]
    fn frame_rates() {
        assert_eq!(frame_rate_text(25.0).as_deref(), Some("25"));
        assert_eq!(frame_rate_text(29.97).as_deref(), Some("30000/1001"));
        assert_eq!(frame_rate_text(30_000.0 / 1001.0).as_deref(), Some("30000/1001"));
        assert_eq!(frame_rate_text(23.976).as_deref(), Some("24000/1001"));
        assert_eq!(frame_rate_text(59.94).as_deref(), Some("60000/1001"));
        assert_eq!(frame_rate_text(15.01).as_deref(), Some("1501/100"));
        assert_eq!(frame_rate_text(12.5).as_deref(), Some("25/2"));
        assert_eq!(frame_rate_text(0.0), None);
        assert_eq!(frame_rate_text(-25.0), None);
        assert_eq!(frame_rate_text(f64::NAN), None);
        assert_eq!(frame_rate_text(0.0001), None);
    }
}
