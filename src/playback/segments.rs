//! Reading a stored fragment as playable media and packaging it: fMP4 init and media segments and
//! MPEG-TS segments for HLS/DASH resources.
//!
//! Owns the store/index reads behind a segment request (fragment bytes, its header set) and the
//! choice of track; the container bytes come from `media::fmp4` / `media::mpegts`. It knows
//! nothing of HTTP or playlists.

use bytes::Bytes;

use super::session::SessionClaims;
use super::{Playback, PlaybackError};
use crate::media::codec::{PlayableTrack, TrackRun};
use crate::media::samples::{FragmentMedia, fragment_media, header_tracks};
use crate::media::{fmp4, mpegts};
use crate::model::FragmentRecord;

impl Playback {
    /// The stored header set `header_id` of the session's stream.
    pub async fn header_bytes(&self, stream_id: i64, header_id: i64) -> Result<Bytes, PlaybackError> {
        self.archive.track_header(stream_id, header_id).await.map(Bytes::from).map_err(|e| match e {
            crate::archive::IndexError::NotFound => PlaybackError::FragmentNotInSession,
            other => PlaybackError::Index(other),
        })
    }

    /// The playable tracks of a header set.
    pub async fn header_tracks(
        &self,
        stream_id: i64,
        header_id: i64,
    ) -> Result<Vec<PlayableTrack>, PlaybackError> {
        let header = self.header_bytes(stream_id, header_id).await?;
        Ok(header_tracks(&header)?)
    }

    /// Reads a fragment's bytes from the store and demuxes them into samples.
    pub async fn fragment_media(&self, f: &FragmentRecord) -> Result<FragmentMedia, PlaybackError> {
        let header = self.header_bytes(f.stream_id, f.header_id).await?;
        let cluster = self.archive.read_fragment(f).await.map_err(|e| PlaybackError::unreadable(f, e))?;
        let start = f.producer_ts_ms;
        tokio::task::spawn_blocking(move || fragment_media(&header, cluster, start))
            .await
            .map_err(|e| PlaybackError::Internal(e.to_string()))?
            .map_err(PlaybackError::from)
    }

    /// `getMP4InitFragment.mp4`: the init segment of one track of a header set.
    pub async fn init_segment(
        &self,
        c: &SessionClaims,
        header_id: i64,
        track: u64,
    ) -> Result<Bytes, PlaybackError> {
        let tracks = self.header_tracks(c.stream_id, header_id).await?;
        let t =
            tracks.iter().find(|t| t.mkv_track_number == track).ok_or(PlaybackError::NoSuchTrack(track))?;
        let mut t = t.clone();
        t.track_id = 1;
        Ok(fmp4::init_segment(&[&t])?)
    }

    /// `getMP4MediaFragment.mp4`: one track of one fragment as `moof` + `mdat`.
    pub async fn mp4_media_segment(&self, f: &FragmentRecord, track: u64) -> Result<Bytes, PlaybackError> {
        let media = self.fragment_media(f).await?;
        let i = media.track_index(track).ok_or(PlaybackError::NoSuchTrack(track))?;
        let mut t = media.tracks[i].clone();
        t.track_id = 1;
        let sequence = (f.producer_ts_ms.rem_euclid(1 << 40) / 10) as u32;
        Ok(fmp4::media_segment(sequence, &[TrackRun { track: &t, samples: &media.samples[i] }])?)
    }

    /// `getTSFragment.ts`: every track of one fragment as a self-contained MPEG-TS segment.
    pub async fn ts_segment(&self, f: &FragmentRecord) -> Result<Bytes, PlaybackError> {
        let media = self.fragment_media(f).await?;
        let runs: Vec<TrackRun> = media
            .tracks
            .iter()
            .zip(&media.samples)
            .map(|(track, samples)| TrackRun { track, samples })
            .collect();
        Ok(mpegts::ts_segment(&runs, &mut mpegts::TsContinuity::default())?)
    }
}
