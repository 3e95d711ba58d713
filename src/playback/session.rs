//! HLS/DASH streaming sessions: what a session is (its claims, sealed into the URL's
//! `SessionToken`), creating one, and which fragments a session shows at a given moment.
//!
//! A session is stateless on the server: every resource request carries the token, and any node
//! with the same token key can answer it. The fragment window follows KVS's playback modes:
//! * ON_DEMAND: every fragment of the range (oldest first, up to the session's maximum), complete.
//! * LIVE: the newest fragments (at most the maximum) whose timestamp is at or after the session's
//!   anchor (the oldest fragment of its first window), so MEDIA-SEQUENCE is the number of
//!   fragments between the anchor and the window's first fragment: stable across reloads and
//!   nodes, advancing by exactly the number of fragments that slid out.
//! * LIVE_REPLAY: starting at the range start, one more fragment becomes visible each time the
//!   previous fragments' total duration has elapsed since the session was created; the window is
//!   the newest visible ones; with an end timestamp in the past it completes.
//!
//! With PRODUCER_TIMESTAMP selection, fragments sharing a producer timestamp show only the highest
//! fragment number (as KVS does). This module reads the index, never the store, and knows nothing
//! of HTTP or playlist syntax.

use serde::{Deserialize, Serialize};

use super::{Playback, PlaybackError};
use crate::archive::TimestampKind;
use crate::auth::session_token::SessionTokenKey;
use crate::model::{FragmentNumber, FragmentRecord, Stream};

/// What the session URL serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionKind {
    /// HLS (`/hls/v1/`).
    #[serde(rename = "h")]
    Hls,
    /// DASH (`/dash/v1/`).
    #[serde(rename = "d")]
    Dash,
}

/// KVS `PlaybackMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlaybackMode {
    /// `LIVE`.
    #[serde(rename = "l")]
    Live,
    /// `LIVE_REPLAY`.
    #[serde(rename = "r")]
    LiveReplay,
    /// `ON_DEMAND`.
    #[serde(rename = "o")]
    OnDemand,
}

/// KVS `ContainerFormat` (HLS only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContainerFormat {
    /// `FRAGMENTED_MP4`.
    #[serde(rename = "f")]
    FragmentedMp4,
    /// `MPEG_TS`.
    #[serde(rename = "t")]
    MpegTs,
}

/// KVS `DiscontinuityMode` (HLS only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiscontinuityMode {
    /// `ALWAYS`: every fragment starts a discontinuity.
    #[serde(rename = "a")]
    Always,
    /// `NEVER`.
    #[serde(rename = "n")]
    Never,
    /// `ON_DISCONTINUITY`: where producer timestamps jump by more than 50 ms or the track headers
    /// change.
    #[serde(rename = "o")]
    OnDiscontinuity,
}

/// Everything a session URL grants, sealed into its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// HLS or DASH.
    #[serde(rename = "k")]
    pub kind: SessionKind,
    /// The stream's index id.
    #[serde(rename = "s")]
    pub stream_id: i64,
    /// The stream's name (logs, errors).
    #[serde(rename = "n")]
    pub stream_name: String,
    /// Playback mode.
    #[serde(rename = "m")]
    pub mode: PlaybackMode,
    /// Whether ranges and PROGRAM-DATE-TIME use producer (true) or server timestamps.
    #[serde(rename = "p")]
    pub producer_timestamps: bool,
    /// Range start, epoch ms (LIVE: the anchor).
    #[serde(rename = "a")]
    pub start_ms: i64,
    /// LIVE: the fragment number of the anchor (with `start_ms`, a keyset position), so that
    /// fragments sharing the anchor's millisecond but older are not counted.
    #[serde(rename = "b", default, skip_serializing_if = "Option::is_none")]
    pub anchor_number: Option<String>,
    /// Range end, epoch ms, if any.
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
    /// HLS container.
    #[serde(rename = "c")]
    pub container: ContainerFormat,
    /// HLS discontinuity mode.
    #[serde(rename = "d")]
    pub discontinuity: DiscontinuityMode,
    /// Show fragment timestamps (HLS PROGRAM-DATE-TIME, DASH `kvs:ts`).
    #[serde(rename = "t")]
    pub display_timestamp: bool,
    /// Show fragment numbers (DASH `kvs:fn`).
    #[serde(rename = "f")]
    pub display_number: bool,
    /// Most fragments per playlist / manifest.
    #[serde(rename = "x")]
    pub max_results: u32,
    /// Creation time, epoch ms.
    #[serde(rename = "i")]
    pub created_ms: i64,
    /// Expiry, epoch ms.
    #[serde(rename = "z")]
    pub expires_ms: i64,
}

impl SessionClaims {
    /// The timestamp kind ranges use.
    pub fn timestamp_kind(&self) -> TimestampKind {
        if self.producer_timestamps { TimestampKind::Producer } else { TimestampKind::Server }
    }

    /// A fragment's timestamp of that kind.
    pub fn timestamp_of(&self, f: &FragmentRecord) -> i64 {
        if self.producer_timestamps { f.producer_ts_ms } else { f.server_ts_ms }
    }

    /// Whether a fragment belongs to this session's range (resources outside it are refused).
    pub fn covers(&self, f: &FragmentRecord) -> bool {
        let ts = self.timestamp_of(f);
        ts >= self.start_ms && self.end_ms.is_none_or(|e| ts <= e)
    }
}

/// What a caller asks for when creating a session (validated by the API layer).
#[derive(Debug, Clone)]
pub struct SessionRequest {
    /// HLS or DASH.
    pub kind: SessionKind,
    /// Playback mode.
    pub mode: PlaybackMode,
    /// Selector timestamp kind: producer (true) or server.
    pub producer_timestamps: bool,
    /// Range start (required for ON_DEMAND and LIVE_REPLAY).
    pub start_ms: Option<i64>,
    /// Range end (required for ON_DEMAND).
    pub end_ms: Option<i64>,
    /// HLS container.
    pub container: ContainerFormat,
    /// HLS discontinuity mode (None: ALWAYS for server timestamps, NEVER for producer).
    pub discontinuity: Option<DiscontinuityMode>,
    /// Display fragment timestamps.
    pub display_timestamp: bool,
    /// Display fragment numbers (DASH).
    pub display_number: bool,
    /// Session lifetime, seconds (300..=43200).
    pub expires_secs: i64,
    /// Most fragments per playlist (None: 5 live, 1000 on demand).
    pub max_results: Option<u32>,
}

/// The fragments a session shows now.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionWindow {
    /// Oldest first.
    pub fragments: Vec<FragmentRecord>,
    /// Session index of the first one (HLS MEDIA-SEQUENCE).
    pub first_index: u64,
    /// No more fragments will ever be added (HLS ENDLIST).
    pub complete: bool,
}

/// LIVE sessions need data this recent at creation (KVS: "no data within the last 30 seconds").
pub const LIVE_DATA_WINDOW_MS: i64 = 30_000;
/// Index page size while walking a range.
const PAGE: u32 = 1000;

impl Playback {
    /// Creates a session for `stream` and returns its sealed token.
    pub async fn create_session(
        &self,
        stream: &Stream,
        req: SessionRequest,
    ) -> Result<String, PlaybackError> {
        if !stream.retention.is_persistent() {
            return Err(PlaybackError::NoDataRetention);
        }
        let now = self.clock.now_millis();
        let kind = if req.producer_timestamps { TimestampKind::Producer } else { TimestampKind::Server };
        let max_results = req.max_results.unwrap_or(match req.mode {
            PlaybackMode::OnDemand => 1000,
            _ => 5,
        });
        let mut claims = SessionClaims {
            kind: req.kind,
            stream_id: stream.id,
            stream_name: stream.name.as_str().to_owned(),
            mode: req.mode,
            producer_timestamps: req.producer_timestamps,
            start_ms: req.start_ms.unwrap_or(0),
            anchor_number: None,
            end_ms: req.end_ms,
            container: req.container,
            discontinuity: req.discontinuity.unwrap_or(if req.producer_timestamps {
                DiscontinuityMode::Never
            } else {
                DiscontinuityMode::Always
            }),
            display_timestamp: req.display_timestamp,
            display_number: req.display_number,
            max_results,
            created_ms: now,
            expires_ms: now + req.expires_secs * 1000,
        };
        let index = &self.archive;
        match req.mode {
            PlaybackMode::Live => {
                let newest = index
                    .latest_fragments(stream.id, TimestampKind::Server, now - LIVE_DATA_WINDOW_MS, 1)
                    .await?;
                if newest.is_empty() {
                    return Err(PlaybackError::NoFragments(
                        "No fragments found in the stream within the last 30 seconds.".into(),
                    ));
                }
                let window = index.latest_fragments(stream.id, kind, i64::MIN, max_results).await?;
                claims.start_ms = window.last().map_or(now, |f| claims.timestamp_of(f));
                claims.anchor_number = window.last().map(|f| f.number.as_str().to_owned());
            }
            PlaybackMode::LiveReplay | PlaybackMode::OnDemand => {
                let end = claims.end_ms.unwrap_or(i64::MAX);
                let first = index.fragments_in_range(stream.id, kind, claims.start_ms, end, None, 1).await?;
                if first.is_empty() {
                    return Err(PlaybackError::NoFragments(
                        "No fragments found in the stream for the given time range.".into(),
                    ));
                }
            }
        }
        let payload = serde_json::to_vec(&claims).map_err(|e| PlaybackError::Internal(e.to_string()))?;
        Ok(self.token_key.seal(&payload))
    }

    /// Opens and checks a session token: forged or malformed → `InvalidToken`, past its expiry
    /// → `ExpiredToken`, of the other kind (HLS vs DASH) → `InvalidToken`.
    pub fn open_session(&self, token: &str, kind: SessionKind) -> Result<SessionClaims, PlaybackError> {
        open_claims(&self.token_key, token, kind, self.clock.now_millis())
    }

    /// The fragments the session shows now.
    pub async fn session_window(&self, c: &SessionClaims) -> Result<SessionWindow, PlaybackError> {
        let index = &self.archive;
        let kind = c.timestamp_kind();
        let end = c.end_ms.unwrap_or(i64::MAX);
        let max = c.max_results.max(1) as usize;
        match c.mode {
            PlaybackMode::OnDemand => {
                let mut out = Vec::new();
                let mut after: Option<(i64, FragmentNumber)> = None;
                loop {
                    let page = index
                        .fragments_in_range(
                            c.stream_id,
                            kind,
                            c.start_ms,
                            end,
                            after.as_ref().map(|(t, n)| (*t, n)),
                            PAGE,
                        )
                        .await?;
                    let done = page.len() < PAGE as usize;
                    if let Some(l) = page.last() {
                        after = Some((c.timestamp_of(l), l.number.clone()));
                    }
                    push_deduped(c, &mut out, page);
                    if done || out.len() > max {
                        break;
                    }
                }
                out.truncate(max);
                Ok(SessionWindow { fragments: out, first_index: 0, complete: true })
            }
            PlaybackMode::Live => {
                let mut newest =
                    index.latest_fragments(c.stream_id, kind, c.start_ms, c.max_results.max(1) + 1).await?;
                newest.reverse();
                let anchor = c.anchor_number.as_deref().unwrap_or("");
                newest.retain(|f| (c.timestamp_of(f), f.number.as_str()) >= (c.start_ms, anchor));
                let mut out = Vec::new();
                push_deduped(c, &mut out, newest);
                if out.len() > max {
                    out.drain(..out.len() - max);
                }
                let first_index = match out.first() {
                    Some(f) => {
                        index
                            .count_fragments_before(
                                c.stream_id,
                                kind,
                                (c.start_ms, anchor),
                                (c.timestamp_of(f), &f.number),
                            )
                            .await?
                    }
                    None => 0,
                };
                Ok(SessionWindow { fragments: out, first_index, complete: false })
            }
            PlaybackMode::LiveReplay => {
                let now = self.clock.now_millis();
                let elapsed = now - c.created_ms;
                let mut visible: std::collections::VecDeque<FragmentRecord> = Default::default();
                let (mut total, mut shown_ms) = (0u64, 0i64);
                let mut after: Option<(i64, FragmentNumber)> = None;
                let mut exhausted = false;
                'pages: loop {
                    let page = index
                        .fragments_in_range(
                            c.stream_id,
                            kind,
                            c.start_ms,
                            end,
                            after.as_ref().map(|(t, n)| (*t, n)),
                            PAGE,
                        )
                        .await?;
                    let last_page = page.len() < PAGE as usize;
                    if let Some(l) = page.last() {
                        after = Some((c.timestamp_of(l), l.number.clone()));
                    }
                    let mut deduped = Vec::new();
                    push_deduped(c, &mut deduped, page);
                    for f in deduped {
                        if total > 0 && shown_ms > elapsed {
                            break 'pages;
                        }
                        // A duplicate producer timestamp across a page boundary replaces its twin.
                        if c.producer_timestamps
                            && visible.back().is_some_and(|b| b.producer_ts_ms == f.producer_ts_ms)
                        {
                            visible.pop_back();
                            total -= 1;
                        }
                        shown_ms += f.duration_ms.max(1);
                        total += 1;
                        visible.push_back(f);
                        if visible.len() > max {
                            visible.pop_front();
                        }
                    }
                    if last_page {
                        exhausted = true;
                        break;
                    }
                }
                let complete = exhausted && c.end_ms.is_some_and(|e| e < now) && shown_ms <= elapsed;
                let first_index = total - visible.len() as u64;
                Ok(SessionWindow { fragments: visible.into(), first_index, complete })
            }
        }
    }

    /// A fragment of the session by number; `FragmentNotInSession` if it is not in its range.
    pub async fn session_fragment(
        &self,
        c: &SessionClaims,
        number: &FragmentNumber,
    ) -> Result<FragmentRecord, PlaybackError> {
        let f = self.archive.fragment(c.stream_id, number).await.map_err(|e| match e {
            crate::archive::IndexError::NotFound => PlaybackError::FragmentNotInSession,
            other => PlaybackError::Index(other),
        })?;
        if !c.covers(&f) {
            return Err(PlaybackError::FragmentNotInSession);
        }
        Ok(f)
    }

    /// A fragment of the session by its producer timestamp (DASH `$Time$` addressing): the
    /// highest-numbered fragment starting exactly then.
    pub async fn session_fragment_at(
        &self,
        c: &SessionClaims,
        producer_ms: i64,
    ) -> Result<FragmentRecord, PlaybackError> {
        let found = self
            .archive
            .fragments_in_range(c.stream_id, TimestampKind::Producer, producer_ms, producer_ms, None, 100)
            .await?;
        found.into_iter().rev().find(|f| c.covers(f)).ok_or(PlaybackError::FragmentNotInSession)
    }
}

/// Appends `page` (sorted by the session's timestamp) to `out`, keeping only the highest number
/// among fragments that share a producer timestamp when the session selects by producer time.
/// What [`Playback::open_session`] does, without the clock: opens `token` with `key` and checks the
/// claims' kind and expiry against `now_ms`. Pure (the fuzz targets and hostile-input tests call it).
pub fn open_claims(
    key: &SessionTokenKey,
    token: &str,
    kind: SessionKind,
    now_ms: i64,
) -> Result<SessionClaims, PlaybackError> {
    let payload = key.open(token).ok_or(PlaybackError::InvalidToken)?;
    let claims: SessionClaims = serde_json::from_slice(&payload).map_err(|_| PlaybackError::InvalidToken)?;
    if claims.kind != kind {
        return Err(PlaybackError::InvalidToken);
    }
    if now_ms >= claims.expires_ms {
        return Err(PlaybackError::ExpiredToken);
    }
    Ok(claims)
}

fn push_deduped(c: &SessionClaims, out: &mut Vec<FragmentRecord>, page: Vec<FragmentRecord>) {
    for f in page {
        if c.producer_timestamps && out.last().is_some_and(|l| l.producer_ts_ms == f.producer_ts_ms) {
            out.pop();
        }
        out.push(f);
    }
}
