//! HLS session playlists: the master playlist (codecs, resolution, frame rate, bandwidth, an audio
//! rendition group when there is an AAC track beside video) and the per-track media playlists,
//! for fMP4 and MPEG-TS sessions.
//!
//! Owns which tags each fragment gets (DISCONTINUITY per the session's mode, EXT-X-MAP per header
//! set, PROGRAM-DATE-TIME, EXTINF) and the relative resource URIs; the text itself comes from
//! `media::hls`. Knows nothing of HTTP.

use super::session::{ContainerFormat, DiscontinuityMode, PlaybackMode, SessionClaims, SessionWindow};
use super::{Playback, PlaybackError};
use crate::media::codec::{Codec, PlayableTrack};
use crate::media::hls::{
    self, AudioRendition, MasterPlaylist, MediaPlaylist, MediaSegment, PlaylistType, VariantStream,
};
use crate::model::FragmentRecord;

/// Producer timestamps further apart than this from the previous fragment's end start a
/// discontinuity in ON_DISCONTINUITY mode (KVS: 50 ms).
pub const DISCONTINUITY_GAP_MS: i64 = 50;

/// The RFC 6381 codec string of a track (`avc1.42c01e`, `hvc1.1.6.L93.B0`, `mp4a.40.2`).
pub fn codec_string(t: &PlayableTrack) -> Result<String, PlaybackError> {
    use crate::media::codec::{aac, h264, h265};
    Ok(match t.codec {
        Codec::H264 => h264::AvcConfig::parse(&t.codec_private)?.codec_string(),
        Codec::H265 => h265::HevcConfig::parse(&t.codec_private)?.codec_string(),
        Codec::Aac => aac::AudioSpecificConfig::parse(&t.codec_private)?.codec_string(),
        Codec::Opus => "opus".to_owned(),
    })
}

/// What a master playlist or manifest says about a stream's media, measured on a fragment.
#[derive(Debug, Clone)]
pub struct MediaSummary {
    /// Playable tracks of the newest fragment's header set.
    pub tracks: Vec<PlayableTrack>,
    /// Codec string per track.
    pub codecs: Vec<String>,
    /// Video width and height (from the track header, else the SPS).
    pub width: u32,
    /// Video height.
    pub height: u32,
    /// Video frame rate measured on the fragment.
    pub frame_rate: Option<f64>,
    /// Peak bits per second over the window's fragments.
    pub bandwidth: u64,
}

impl Playback {
    /// Measures the media of a session window (its newest fragment's tracks and frame rate).
    pub async fn media_summary(&self, window: &SessionWindow) -> Result<MediaSummary, PlaybackError> {
        let newest = window
            .fragments
            .last()
            .ok_or(PlaybackError::NoFragments("No fragments found in the stream for this session.".into()))?;
        let media = self.fragment_media(newest).await?;
        let codecs = media.tracks.iter().map(codec_string).collect::<Result<Vec<_>, _>>()?;
        let (mut width, mut height, mut frame_rate) = (0, 0, None);
        if let Some((i, v)) = media.tracks.iter().enumerate().find(|(_, t)| t.codec.is_video()) {
            width = v.width;
            height = v.height;
            if (width == 0 || height == 0) && v.codec == Codec::H264 {
                let cfg = crate::media::codec::h264::AvcConfig::parse(&v.codec_private)?;
                if let Some(sps) = cfg.sps.first()
                    && let Ok(info) = crate::media::codec::h264::sps_info(sps)
                {
                    width = info.width;
                    height = info.height;
                }
            }
            let s = &media.samples[i];
            if s.len() > 1 {
                let span =
                    s.iter().map(|x| x.pts).max().unwrap_or(0) - s.iter().map(|x| x.pts).min().unwrap_or(0);
                if span > 0 {
                    frame_rate = Some((s.len() - 1) as f64 * f64::from(v.timescale) / span as f64);
                }
            }
        }
        let bandwidth = window
            .fragments
            .iter()
            .map(|f| (f.size_bytes.max(0) as u64) * 8 * 1000 / (f.duration_ms.max(1) as u64))
            .max()
            .unwrap_or(0);
        Ok(MediaSummary { tracks: media.tracks, codecs, width, height, frame_rate, bandwidth })
    }

    /// `getHLSMasterPlaylist.m3u8`.
    pub async fn hls_master_playlist(&self, c: &SessionClaims, token: &str) -> Result<String, PlaybackError> {
        let window = self.session_window(c).await?;
        let window = if window.fragments.is_empty() {
            // A LIVE session whose window is momentarily empty still describes the stream.
            let last = self.archive.latest_fragments(c.stream_id, c.timestamp_kind(), i64::MIN, 1).await?;
            SessionWindow { fragments: last, first_index: 0, complete: false }
        } else {
            window
        };
        let s = self.media_summary(&window).await?;
        let uri = |track: u64| format!("getHLSMediaPlaylist.m3u8?SessionToken={token}&TrackNumber={track}");
        let video = s.tracks.iter().position(|t| t.codec.is_video());
        let audio = s.tracks.iter().position(|t| !t.codec.is_video());
        let playlist = match (video, audio, c.container) {
            (Some(v), Some(a), ContainerFormat::FragmentedMp4) => MasterPlaylist {
                video: Some(VariantStream {
                    codecs: vec![s.codecs[v].clone(), s.codecs[a].clone()],
                    width: s.width,
                    height: s.height,
                    frame_rate: s.frame_rate,
                    bandwidth: s.bandwidth,
                    uri: uri(s.tracks[v].mkv_track_number),
                }),
                audio: Some(AudioRendition {
                    group_id: "audio".into(),
                    name: "audio".into(),
                    uri: uri(s.tracks[a].mkv_track_number),
                    codec: s.codecs[a].clone(),
                }),
            },
            (Some(v), _, _) => MasterPlaylist {
                video: Some(VariantStream {
                    codecs: s.codecs.clone(),
                    width: s.width,
                    height: s.height,
                    frame_rate: s.frame_rate,
                    bandwidth: s.bandwidth,
                    uri: uri(s.tracks[v].mkv_track_number),
                }),
                audio: None,
            },
            (None, Some(a), ContainerFormat::FragmentedMp4) => MasterPlaylist {
                video: None,
                audio: Some(AudioRendition {
                    group_id: "audio".into(),
                    name: "audio".into(),
                    uri: uri(s.tracks[a].mkv_track_number),
                    codec: s.codecs[a].clone(),
                }),
            },
            (None, _, _) => MasterPlaylist {
                video: Some(VariantStream {
                    codecs: s.codecs.clone(),
                    width: 0,
                    height: 0,
                    frame_rate: None,
                    bandwidth: s.bandwidth,
                    uri: uri(s.tracks[0].mkv_track_number),
                }),
                audio: None,
            },
        };
        Ok(hls::master_playlist(&playlist))
    }

    /// `getHLSMediaPlaylist.m3u8` for one track (MPEG-TS sessions: all tracks muxed).
    pub async fn hls_media_playlist(
        &self,
        c: &SessionClaims,
        token: &str,
        track: u64,
    ) -> Result<String, PlaybackError> {
        let window = self.session_window(c).await?;
        Ok(media_playlist_text(c, token, track, &window))
    }
}

/// Builds the media playlist of `track` for a window (pure; golden-tested).
pub fn media_playlist_text(c: &SessionClaims, token: &str, track: u64, window: &SessionWindow) -> String {
    let ts = c.container == ContainerFormat::MpegTs;
    let mut segments = Vec::with_capacity(window.fragments.len());
    let mut prev: Option<&FragmentRecord> = None;
    for f in &window.fragments {
        let header_changed = prev.is_none_or(|p| p.header_id != f.header_id);
        let discontinuity = match c.discontinuity {
            DiscontinuityMode::Always => true,
            DiscontinuityMode::Never => false,
            DiscontinuityMode::OnDiscontinuity => prev.is_some_and(|p| {
                (f.producer_ts_ms - (p.producer_ts_ms + p.duration_ms)).abs() > DISCONTINUITY_GAP_MS
                    || p.header_id != f.header_id
            }),
        };
        let map_uri = (!ts && header_changed).then(|| {
            format!(
                "getMP4InitFragment.mp4?SessionToken={token}&TrackNumber={track}&SequenceNumber={}",
                f.header_id
            )
        });
        let uri = if ts {
            format!("getTSFragment.ts?FragmentNumber={}&SessionToken={token}", f.number)
        } else {
            format!(
                "getMP4MediaFragment.mp4?FragmentNumber={}&SessionToken={token}&TrackNumber={track}",
                f.number
            )
        };
        segments.push(MediaSegment {
            discontinuity,
            map_uri,
            program_date_time_ms: c.display_timestamp.then(|| c.timestamp_of(f)),
            duration_secs: f.duration_ms.max(1) as f64 / 1000.0,
            uri,
        });
        prev = Some(f);
    }
    let discontinuity_sequence = match c.discontinuity {
        DiscontinuityMode::Always => window.first_index,
        _ => 0,
    };
    let playlist = MediaPlaylist {
        version: if ts { 3 } else { 7 },
        target_duration_secs: hls::target_duration(segments.iter().map(|s| s.duration_secs)),
        media_sequence: window.first_index,
        discontinuity_sequence,
        playlist_type: (c.mode == PlaybackMode::OnDemand).then_some(PlaylistType::Vod),
        independent_segments: true,
        segments,
        end_list: window.complete,
    };
    hls::media_playlist(&playlist)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FragmentLocation, FragmentNumber, StorageTier};
    use crate::playback::session::SessionKind;

    fn claims(
        mode: PlaybackMode,
        discontinuity: DiscontinuityMode,
        container: ContainerFormat,
    ) -> SessionClaims {
        SessionClaims {
            kind: SessionKind::Hls,
            stream_id: 1,
            stream_name: "cam".into(),
            mode,
            producer_timestamps: false,
            start_ms: 0,
            anchor_number: None,
            end_ms: None,
            container,
            discontinuity,
            display_timestamp: true,
            display_number: false,
            max_results: 5,
            created_ms: 0,
            expires_ms: i64::MAX,
        }
    }

    fn fragment(i: i64, producer_ts_ms: i64, duration_ms: i64, header_id: i64) -> FragmentRecord {
        FragmentRecord {
            stream_id: 1,
            number: FragmentNumber::from_ordinal(100 + i as u128),
            cluster_timecode: producer_ts_ms,
            producer_ts_ms,
            server_ts_ms: 1_684_331_315_994 + i * 2000,
            duration_ms,
            size_bytes: 1000,
            header_id,
            location: FragmentLocation { segment: 1, offset: 0, length: 1000, tier: StorageTier::Hot },
            key_version: 1,
            key_frame: true,
            tracks: vec![1],
            frame_count: 50,
            metadata: vec![],
        }
    }

    fn window(complete: bool) -> SessionWindow {
        SessionWindow {
            // A 40 ms gap (not a discontinuity), a 500 ms gap (one), then new track headers.
            fragments: vec![
                fragment(0, 10_000, 2000, 7),
                fragment(1, 12_040, 2663, 7),
                fragment(2, 15_203, 2000, 7),
                fragment(3, 17_203, 1500, 8),
            ],
            first_index: 4,
            complete,
        }
    }

    #[test]
    fn live_fmp4_on_discontinuity_golden() {
        let c =
            claims(PlaybackMode::Live, DiscontinuityMode::OnDiscontinuity, ContainerFormat::FragmentedMp4);
        let text = media_playlist_text(&c, "TOK", 1, &window(false));
        let n = |i: u128| FragmentNumber::from_ordinal(100 + i).to_string();
        let expected = format!(
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-MAP:URI=\"getMP4InitFragment.mp4?SessionToken=TOK&TrackNumber=1&SequenceNumber=7\"\n\
#EXT-X-PROGRAM-DATE-TIME:2023-05-17T13:48:35.994Z\n#EXTINF:2,\n\
getMP4MediaFragment.mp4?FragmentNumber={}&SessionToken=TOK&TrackNumber=1\n\
#EXT-X-PROGRAM-DATE-TIME:2023-05-17T13:48:37.994Z\n#EXTINF:2.663,\n\
getMP4MediaFragment.mp4?FragmentNumber={}&SessionToken=TOK&TrackNumber=1\n\
#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2023-05-17T13:48:39.994Z\n#EXTINF:2,\n\
getMP4MediaFragment.mp4?FragmentNumber={}&SessionToken=TOK&TrackNumber=1\n\
#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"getMP4InitFragment.mp4?SessionToken=TOK&TrackNumber=1&SequenceNumber=8\"\n\
#EXT-X-PROGRAM-DATE-TIME:2023-05-17T13:48:41.994Z\n#EXTINF:1.5,\n\
getMP4MediaFragment.mp4?FragmentNumber={}&SessionToken=TOK&TrackNumber=1\n",
            n(0),
            n(1),
            n(2),
            n(3)
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn on_demand_ts_always_and_never() {
        let mut c = claims(PlaybackMode::OnDemand, DiscontinuityMode::Always, ContainerFormat::MpegTs);
        c.display_timestamp = false;
        let text = media_playlist_text(&c, "T", 1, &window(true));
        assert!(
            text.starts_with(
                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:3\n"
            )
        );
        assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 4);
        assert!(
            text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:4\n"),
            "ALWAYS: one per fragment before the window"
        );
        assert!(!text.contains("EXT-X-MAP") && !text.contains("PROGRAM-DATE-TIME"));
        assert!(text.contains("getTSFragment.ts?FragmentNumber="));
        assert!(text.ends_with("#EXT-X-ENDLIST\n"));
        c.discontinuity = DiscontinuityMode::Never;
        let text = media_playlist_text(&c, "T", 1, &window(true));
        assert!(!text.contains("#EXT-X-DISCONTINUITY"));
    }
}
