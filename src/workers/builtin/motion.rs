//! The `motion` worker: frame differencing on a downscaled luma plane.
//!
//! [`MotionDetector`] is the pure part (luma planes in, events out, no decoding, no I/O): each
//! compared frame's score is the share of pixels whose luma changed by more than `pixel_delta`
//! since the previous compared frame (frames at least `compare_interval_ms` apart, downscaled to
//! `analysis_width` so sensor noise and compression artefacts average out). Motion *starts* when
//! the score stays at or above `threshold` for `min_duration_ms` (the event carries the time the
//! score first crossed) and *ends* once it stays below for `end_after_ms`; `motion_end` carries the
//! span and the peak score. The detector's state carries across fragments of a stream.
//!
//! [`Motion`] is the analyzer around it: it decodes each fragment's video (H.264, `imaging`) at the
//! comparison times and feeds the detector.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Deserialize;

use crate::workers::analyzer::{AnalysisOutput, Analyzer, AnalyzerError, EventDraft, FragmentInput};

/// The worker's name.
pub const NAME: &str = "motion";

/// `[workers.motion]` configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MotionConfig {
    /// Stream-name globs the detector runs on (the `openkvs:analyzers` tag overrides per stream).
    pub streams: Vec<String>,
    /// Luma is downscaled to this width before comparing.
    pub analysis_width: u32,
    /// Frames compared are at least this far apart, ms.
    pub compare_interval_ms: i64,
    /// A pixel changed when its luma moved by more than this (0..255).
    pub pixel_delta: u8,
    /// Share of changed pixels (0..1) that counts as motion.
    pub threshold: f64,
    /// Motion must last this long before `motion_start`, ms.
    pub min_duration_ms: i64,
    /// Quiet time before `motion_end`, ms.
    pub end_after_ms: i64,
}

impl Default for MotionConfig {
    fn default() -> Self {
        Self {
            streams: Vec::new(),
            analysis_width: 160,
            compare_interval_ms: 200,
            pixel_delta: 25,
            threshold: 0.01,
            min_duration_ms: 400,
            end_after_ms: 1000,
        }
    }
}

/// Something the detector found.
#[derive(Debug, Clone, PartialEq)]
pub enum MotionEvent {
    /// Motion began at `at_ms` (when the score first crossed the threshold).
    Start {
        /// Producer time, epoch ms.
        at_ms: i64,
        /// The score when the start was confirmed.
        score: f64,
    },
    /// Motion ended.
    End {
        /// When it began.
        start_ms: i64,
        /// When it ended (the last frame above the threshold).
        end_ms: i64,
        /// The highest score in between.
        peak: f64,
    },
}

/// Frame differencing with hysteresis, for one stream.
#[derive(Debug, Clone)]
pub struct MotionDetector {
    config: MotionConfig,
    previous: Option<(i64, u32, u32, Vec<u8>)>,
    above_since: Option<i64>,
    last_above: Option<i64>,
    active: Option<(i64, f64)>,
    peak: f64,
}

impl MotionDetector {
    /// A detector with no history.
    pub fn new(config: MotionConfig) -> Self {
        Self { config, previous: None, above_since: None, last_above: None, active: None, peak: 0.0 }
    }

    /// The share of pixels that changed by more than `delta` (planes of equal size).
    pub fn score(a: &[u8], b: &[u8], delta: u8) -> f64 {
        if a.is_empty() || a.len() != b.len() {
            return 0.0;
        }
        let changed = a.iter().zip(b).filter(|(x, y)| x.abs_diff(**y) > delta).count();
        changed as f64 / a.len() as f64
    }

    /// Whether a frame at `ts_ms` would be compared (the interval since the last one has passed).
    pub fn wants(&self, ts_ms: i64) -> bool {
        self.previous
            .as_ref()
            .is_none_or(|(t, ..)| ts_ms - t >= self.config.compare_interval_ms || ts_ms < *t)
    }

    /// Feeds a downscaled luma plane taken at `ts_ms` (producer time); returns the events it
    /// completes. A size change or a step back in time restarts the comparison.
    pub fn push(&mut self, ts_ms: i64, width: u32, height: u32, luma: Vec<u8>) -> Vec<MotionEvent> {
        let mut out = Vec::new();
        if !self.wants(ts_ms) {
            return out;
        }
        let score = match &self.previous {
            Some((t, w, h, prev)) if *w == width && *h == height && ts_ms > *t => {
                Some(Self::score(prev, &luma, self.config.pixel_delta))
            }
            _ => None,
        };
        self.previous = Some((ts_ms, width, height, luma));
        let Some(score) = score else { return out };
        if score >= self.config.threshold {
            self.last_above = Some(ts_ms);
            self.peak = self.peak.max(score);
            let since = *self.above_since.get_or_insert(ts_ms);
            if self.active.is_none() && ts_ms - since >= self.config.min_duration_ms {
                self.active = Some((since, score));
                out.push(MotionEvent::Start { at_ms: since, score });
            }
        } else {
            if self.active.is_none() {
                self.above_since = None;
                self.peak = 0.0;
            }
            if let (Some((start, _)), Some(last)) = (self.active, self.last_above)
                && ts_ms - last >= self.config.end_after_ms
            {
                out.push(MotionEvent::End { start_ms: start, end_ms: last, peak: self.peak });
                self.active = None;
                self.above_since = None;
                self.peak = 0.0;
            }
        }
        out
    }

    /// Whether motion is in progress.
    pub fn in_motion(&self) -> bool {
        self.active.is_some()
    }
}

/// Event drafts for detector events.
pub fn drafts(events: Vec<MotionEvent>) -> Vec<EventDraft> {
    events
        .into_iter()
        .map(|e| match e {
            MotionEvent::Start { at_ms, score } => EventDraft {
                kind: "motion_start".to_owned(),
                producer_ts_ms: at_ms,
                end_ts_ms: None,
                score: Some(score),
                detail: serde_json::json!({}),
            },
            MotionEvent::End { start_ms, end_ms, peak } => EventDraft {
                kind: "motion_end".to_owned(),
                producer_ts_ms: end_ms,
                end_ts_ms: Some(end_ms),
                score: Some(peak),
                detail: serde_json::json!({ "StartTimestamp": start_ms as f64 / 1000.0 }),
            },
        })
        .collect()
}

/// The motion analyzer.
#[derive(Debug)]
pub struct Motion {
    config: MotionConfig,
    detectors: Arc<Mutex<HashMap<i64, MotionDetector>>>,
}

impl Motion {
    /// A motion analyzer.
    pub fn new(config: MotionConfig) -> Self {
        Self { config, detectors: Arc::new(Mutex::new(HashMap::new())) }
    }
}

#[async_trait]
impl Analyzer for Motion {
    fn name(&self) -> &str {
        NAME
    }

    fn reset_stream(&self, stream_id: i64) {
        self.detectors.lock().unwrap_or_else(|p| p.into_inner()).remove(&stream_id);
    }

    async fn analyze(&self, input: FragmentInput) -> Result<AnalysisOutput, AnalyzerError> {
        let fragment = input.media.stored_fragment(&input.record).await?;
        let record = input.record.clone();
        let config = self.config.clone();
        let detectors = self.detectors.clone();
        let events = crate::workers::compute::run(move || {
            let start = record.producer_ts_ms;
            let end = start + record.duration_ms.max(1);
            let step = config.compare_interval_ms.max(1);
            let times: Vec<i64> = (0..).map(|i| start + i * step).take_while(|t| *t < end).collect();
            let pictures = super::fragment_pictures(&fragment, &times)?;
            let mut detectors = detectors.lock().unwrap_or_else(|p| p.into_inner());
            let detector =
                detectors.entry(record.stream_id).or_insert_with(|| MotionDetector::new(config.clone()));
            let mut events = Vec::new();
            for (ts, picture) in pictures {
                let Ok(picture) = picture else { continue };
                let (w, h, luma) = picture.downscaled_luma(config.analysis_width);
                events.extend(detector.push(ts, w, h, luma));
            }
            Ok::<_, AnalyzerError>(events)
        })
        .await?;
        Ok(AnalysisOutput { events: drafts(events) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(value: u8, moving_block_at: Option<usize>) -> Vec<u8> {
        let mut p = vec![value; 16 * 9];
        if let Some(x) = moving_block_at {
            for row in 2..6 {
                for col in x..x + 4 {
                    p[row * 16 + col] = 255 - value;
                }
            }
        }
        p
    }

    fn config() -> MotionConfig {
        MotionConfig { threshold: 0.05, min_duration_ms: 400, end_after_ms: 600, ..Default::default() }
    }

    #[test]
    fn a_static_scene_has_no_events_and_noise_below_delta_is_ignored() {
        let mut d = MotionDetector::new(config());
        for i in 0..50 {
            let mut p = plane(100, None);
            let at = i % p.len();
            p[at] = 100 + (i % 20) as u8; // sensor noise under pixel_delta
            assert!(d.push(i as i64 * 200, 16, 9, p).is_empty());
        }
        assert!(!d.in_motion());
    }

    #[test]
    fn a_moving_block_starts_and_ends_motion() {
        let mut d = MotionDetector::new(config());
        let mut events = Vec::new();
        for i in 0..10i64 {
            events.extend(d.push(i * 200, 16, 9, plane(100, None)));
        }
        for i in 10..20i64 {
            events.extend(d.push(i * 200, 16, 9, plane(100, Some((i as usize) % 12))));
        }
        for i in 20..30i64 {
            events.extend(d.push(i * 200, 16, 9, plane(100, None)));
        }
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0], MotionEvent::Start { at_ms: 2000, score: events_score(&events[0]) });
        match events[1] {
            MotionEvent::End { start_ms, end_ms, peak } => {
                assert_eq!(start_ms, 2000);
                assert_eq!(end_ms, 4000, "the first still frame still differs from the last moving one");
                assert!(peak > 0.05);
            }
            _ => panic!("{events:?}"),
        }
    }

    fn events_score(e: &MotionEvent) -> f64 {
        match e {
            MotionEvent::Start { score, .. } => *score,
            _ => 0.0,
        }
    }

    #[test]
    fn a_blip_shorter_than_min_duration_is_not_motion() {
        let mut d = MotionDetector::new(config());
        let mut events = Vec::new();
        for i in 0..10i64 {
            let block = (i == 5).then_some(3);
            events.extend(d.push(i * 200, 16, 9, plane(100, block)));
        }
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn frames_closer_than_the_interval_are_skipped() {
        let mut d = MotionDetector::new(config());
        assert!(d.wants(0));
        d.push(0, 16, 9, plane(0, None));
        assert!(!d.wants(100));
        assert!(d.wants(200));
    }
}
