//! DASH session manifests (`getDASHManifest.mpd`).
//!
//! One Period, one AdaptationSet per playable track, a `SegmentTemplate` with a `SegmentTimeline`
//! in milliseconds whose `t` values are the fragments' producer timestamps; media segments are
//! addressed by `$Time$` (the server maps a producer timestamp back to its fragment), init segments
//! by the header set (`SequenceNumber`). ON_DEMAND manifests are `static` and start at the first
//! fragment (`presentationTimeOffset`); LIVE manifests are `dynamic` with `availabilityStartTime`
//! at the epoch, so the producer clock is the presentation clock; LIVE_REPLAY manifests are
//! `dynamic`, starting at the session's creation. The XML comes from `media::dash`; this module
//! knows nothing of HTTP.

use super::session::{PlaybackMode, SessionClaims, SessionWindow};
use super::{Playback, PlaybackError};
use crate::media::dash::{self, AdaptationSet, ContentType, Manifest, Period, TimelineEntry};

impl Playback {
    /// `getDASHManifest.mpd`.
    pub async fn dash_manifest(&self, c: &SessionClaims, token: &str) -> Result<String, PlaybackError> {
        let window = self.session_window(c).await?;
        let summary_window = if window.fragments.is_empty() {
            let last = self.archive.latest_fragments(c.stream_id, c.timestamp_kind(), i64::MIN, 1).await?;
            SessionWindow { fragments: last, first_index: 0, complete: false }
        } else {
            window.clone()
        };
        let s = self.media_summary(&summary_window).await?;
        let now = self.clock.now_millis();
        Ok(manifest_text(c, token, &window, &s, now))
    }
}

/// Builds the manifest for a window (pure).
pub fn manifest_text(
    c: &SessionClaims,
    token: &str,
    window: &SessionWindow,
    s: &super::hls::MediaSummary,
    now_ms: i64,
) -> String {
    let first_t = window.fragments.first().map_or(0, |f| f.producer_ts_ms.max(0) as u64);
    let header_id = window.fragments.last().map_or(0, |f| f.header_id);
    let timeline: Vec<TimelineEntry> = window
        .fragments
        .iter()
        .map(|f| TimelineEntry {
            t: f.producer_ts_ms.max(0) as u64,
            d: f.duration_ms.max(1) as u64,
            r: 0,
            kvs_ts_ms: c.display_timestamp.then(|| c.timestamp_of(f)),
            kvs_fn: c.display_number.then(|| f.number.as_str().to_owned()),
        })
        .collect();
    let total_ms: u64 = timeline.iter().map(|e| e.d).sum();
    let (live, ast, pto) = match c.mode {
        PlaybackMode::OnDemand => (false, 0, first_t),
        PlaybackMode::Live => (true, 0, 0),
        PlaybackMode::LiveReplay => (!window.complete, c.created_ms, first_t),
    };
    let adaptation_sets = s
        .tracks
        .iter()
        .zip(&s.codecs)
        .map(|(t, codec)| {
            let n = t.mkv_track_number;
            AdaptationSet {
                content_type: if t.codec.is_video() { ContentType::Video } else { ContentType::Audio },
                mime_type: if t.codec.is_video() { "video/mp4".into() } else { "audio/mp4".into() },
                codecs: codec.clone(),
                width: s.width,
                height: s.height,
                frame_rate: s.frame_rate,
                sample_rate: t.sample_rate,
                channels: t.channels,
                bandwidth: s.bandwidth.max(1),
                representation_id: n.to_string(),
                timescale: 1000,
                initialization: format!(
                    "getMP4InitFragment.mp4?SessionToken={token}&TrackNumber={n}&SequenceNumber={header_id}"
                ),
                media: format!(
                    "getMP4MediaFragment.mp4?SessionToken={token}&TrackNumber={n}&FragmentTimestamp=$Time$"
                ),
                start_number: window.first_index,
                presentation_time_offset: pto,
                timeline: timeline.clone(),
            }
        })
        .collect();
    let manifest = Manifest {
        live,
        availability_start_time_ms: ast,
        publish_time_ms: now_ms,
        media_presentation_duration_ms: (!live).then_some(total_ms),
        minimum_update_period_ms: live.then_some(1000),
        time_shift_buffer_depth_ms: live.then_some(total_ms.max(10_000)),
        suggested_presentation_delay_ms: live.then_some(
            window.fragments.iter().map(|f| f.duration_ms.max(0) as u64).max().unwrap_or(2000) * 2,
        ),
        min_buffer_time_ms: 2000,
        periods: vec![Period { id: "0".into(), start_ms: 0, adaptation_sets }],
    };
    dash::manifest(&manifest)
}
