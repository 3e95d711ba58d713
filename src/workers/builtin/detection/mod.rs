//! The `detection` worker: people, animals, vehicles, packages and faces in a stream's key
//! frames, with real models run on the CPU of this machine.
//!
//! For each fragment it takes the picture at the fragment's start (its key frame) and, with
//! `interval_ms` > 0, one every interval after it; skips a picture that did not change since the
//! last analysed one (the motion gate, with the motion worker's `pixel_delta` and `threshold`), so
//! an idle camera costs a small luma comparison per key frame; letterboxes the rest into a square
//! of `input_size` pixels and hands it to the inference process ([`process`]: TensorFlow.js with
//! the CenterNet (COCO) and BlazeFace models of the npm package `@vladmandic/human`). What the
//! stream's selection ([`vocabulary`]: the `openkvs:detection` tag or `labels`, and a minimum
//! confidence) keeps becomes `label` events (name, category, confidence, a bounding box normalised
//! to 0..1 of the frame), and [`presence`] turns them into `object_start` (with a JPEG of the
//! frame and its boxes) and `object_end` events per label.
//!
//! Compute only, like the other analyzers: decoding and scaling run on the low-priority compute
//! pool, inference in a child process at the same low priority; it writes nothing but events.

pub mod presence;
pub mod process;
pub mod vocabulary;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use serde::Deserialize;

use super::motion::{MotionConfig, MotionDetector};
use crate::imaging::Picture;
use crate::workers::analyzer::{
    AnalysisOutput, Analyzer, AnalyzerError, DeliveryStatus, EventDraft, FragmentInput, StreamInfo,
};
use presence::{PresenceEvent, PresenceTracker};
use process::{DetectorCommand, DetectorError, InferenceProcess};
use vocabulary::{Category, Selection};

/// The worker's name.
pub const NAME: &str = "detection";
/// Stream tag: which labels matter (`PERSON,PET`; `ALL`), overriding `labels`.
pub const LABELS_TAG: &str = "openkvs:detection";
/// Stream tag: the minimum confidence in percent, overriding `min_confidence`.
pub const MIN_CONFIDENCE_TAG: &str = "openkvs:detection-min-confidence";

/// `[workers.detection]` configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectionConfig {
    /// Stream-name globs the detector runs on (the `openkvs:analyzers` tag overrides them).
    pub streams: Vec<String>,
    /// Labels reported by default: `PERSON`, `PET`, `ANIMAL`, `VEHICLE`, `PACKAGE`, `FACE`, `ALL`.
    pub labels: Vec<String>,
    /// Lowest confidence reported by default, percent.
    pub min_confidence: f64,
    /// Lowest confidence of a face, percent (the face model is sure of real faces; below this it
    /// mostly finds faces of animals and patterns).
    pub face_min_confidence: f64,
    /// 0: only each fragment's key frame; otherwise also a picture every this many ms.
    pub interval_ms: i64,
    /// The side of the square the picture is letterboxed into for the models.
    pub input_size: u32,
    /// A label ends after this long unseen, ms.
    pub end_after_ms: i64,
    /// Skip pictures that did not change since the last analysed one.
    pub motion_gate: bool,
    /// Width of the JPEG with boxes attached to `object_start` events (0: none).
    pub thumbnail_width: u32,
    /// The Node.js executable.
    pub node: String,
    /// The directory of `detector.cjs` and its `node_modules` (default: `$OPENKVS_DETECTOR_DIR`,
    /// else `./detection`, else the source tree's `detection/`).
    pub detector_dir: Option<PathBuf>,
    /// Bring your own model: a TensorFlow.js graph model (`model.json`) of the CenterNet family.
    pub object_model: Option<PathBuf>,
    /// Its class names by index (a JSON array, or one per line).
    pub label_file: Option<PathBuf>,
    /// A BlazeFace-family face model to use instead of the packaged one.
    pub face_model: Option<PathBuf>,
    /// Run the face detector.
    pub faces: bool,
    /// How long the process may take to load its models, ms.
    pub start_timeout_ms: u64,
    /// How long one picture may take, ms.
    pub request_timeout_ms: u64,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        Self {
            streams: Vec::new(),
            labels: ["PERSON", "PET", "VEHICLE", "PACKAGE", "FACE"].map(String::from).to_vec(),
            min_confidence: 40.0,
            face_min_confidence: 80.0,
            interval_ms: 0,
            input_size: 512,
            end_after_ms: 3000,
            motion_gate: true,
            thumbnail_width: 320,
            node: "node".to_owned(),
            detector_dir: None,
            object_model: None,
            label_file: None,
            face_model: None,
            faces: true,
            start_timeout_ms: 120_000,
            request_timeout_ms: 30_000,
        }
    }
}

impl DetectionConfig {
    /// The detector directory this configuration means.
    pub fn resolved_dir(&self) -> PathBuf {
        if let Some(d) = &self.detector_dir {
            return d.clone();
        }
        if let Some(d) = std::env::var_os("OPENKVS_DETECTOR_DIR") {
            return PathBuf::from(d);
        }
        let local = PathBuf::from("detection");
        if local.join("detector.cjs").is_file() {
            return local;
        }
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("detection")
    }

    /// Checks the label words (config validation).
    pub fn validate(&self) -> Result<(), String> {
        Selection::parse(&self.labels, self.min_confidence).map(|_| ()).map_err(|e| e.to_string())?;
        if !(64..=2048).contains(&self.input_size) {
            return Err(format!("input_size {} is outside 64..=2048", self.input_size));
        }
        if self.label_file.is_some() && self.object_model.is_none() {
            return Err("label_file names the classes of object_model, which is not set".into());
        }
        Ok(())
    }

    fn command(&self) -> DetectorCommand {
        let mut args = Vec::new();
        let path_arg = |args: &mut Vec<String>, flag: &str, p: &Option<PathBuf>| {
            if let Some(p) = p {
                let p = std::path::absolute(p).unwrap_or_else(|_| p.clone());
                args.push(flag.to_owned());
                args.push(p.to_string_lossy().into_owned());
            }
        };
        path_arg(&mut args, "--object-model", &self.object_model);
        path_arg(&mut args, "--labels", &self.label_file);
        path_arg(&mut args, "--face-model", &self.face_model);
        if !self.faces {
            args.push("--no-faces".to_owned());
        }
        let floor = (self.min_confidence.min(self.face_min_confidence) / 100.0).clamp(0.05, 1.0);
        args.push("--min-score".to_owned());
        args.push(format!("{floor:.2}"));
        DetectorCommand {
            node: self.node.clone(),
            dir: self.resolved_dir(),
            args,
            start_timeout: Duration::from_millis(self.start_timeout_ms.max(1)),
            request_timeout: Duration::from_millis(self.request_timeout_ms.max(1)),
        }
    }
}

/// One picture ready for the models.
struct Sample {
    ts_ms: i64,
    /// Downscaled luma for the motion gate.
    luma: (u32, u32, Vec<u8>),
    /// The letterboxed square, packed RGB.
    square: Vec<u8>,
    /// The frame scaled into the square (before padding): width, height, RGB.
    frame: (u32, u32, Vec<u8>),
    /// Where the frame sits in the square.
    offset: (u32, u32),
}

/// A label found in a frame, in frame coordinates.
#[derive(Debug, Clone, PartialEq)]
struct Label {
    name: String,
    confidence: f64,
    /// Left, top, width, height; 0..1 of the frame.
    bbox: [f64; 4],
}

#[derive(Debug, Clone)]
struct StreamState {
    tracker: PresenceTracker,
    last_luma: Option<(u32, u32, Vec<u8>)>,
}

/// The detection analyzer.
#[derive(Debug)]
pub struct Detection {
    config: DetectionConfig,
    motion: MotionConfig,
    default_selection: Selection,
    process: Arc<InferenceProcess>,
    streams: Mutex<HashMap<i64, StreamState>>,
    gated: std::sync::atomic::AtomicU64,
}

impl Detection {
    /// A detection analyzer (the inference process starts on the first picture). Label words
    /// that do not parse fall back to `PERSON` (configuration loading rejects them first).
    pub fn new(config: DetectionConfig, motion: MotionConfig) -> Self {
        let default_selection = Selection::parse(&config.labels, config.min_confidence).unwrap_or_else(|e| {
            tracing::error!("[workers.detection] labels: {e}; using PERSON");
            Selection::parse(&["PERSON"], config.min_confidence).expect("a known word")
        });
        let process = Arc::new(InferenceProcess::new(config.command()));
        Self {
            config,
            motion,
            default_selection,
            process,
            streams: Mutex::new(HashMap::new()),
            gated: 0.into(),
        }
    }

    /// Pictures skipped by the motion gate since start.
    pub fn gated(&self) -> u64 {
        self.gated.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The stream's selection: its tags, else the configured defaults. A tag that does not parse
    /// selects nothing (and is logged), rather than guessing.
    fn selection(&self, stream: &StreamInfo) -> Selection {
        let min = stream
            .tags
            .0
            .get(MIN_CONFIDENCE_TAG)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(self.default_selection.min_confidence);
        match stream.tags.0.get(LABELS_TAG) {
            Some(list) => Selection::parse_list(list, min).unwrap_or_else(|e| {
                tracing::warn!(stream = stream.stream.name.as_str(), "{LABELS_TAG}: {e}; nothing selected");
                Selection::parse_list("", min).expect("empty parses")
            }),
            None => {
                let mut s = self.default_selection.clone();
                s.min_confidence = min;
                s
            }
        }
    }

    /// The selected labels of one answer, boxes moved from the square to the frame.
    fn labels(&self, sample: &Sample, found: process::Detections, selection: &Selection) -> Vec<Label> {
        let side = f64::from(self.config.input_size);
        let (fw, fh) = (f64::from(sample.frame.0), f64::from(sample.frame.1));
        let (ox, oy) = (f64::from(sample.offset.0), f64::from(sample.offset.1));
        let faces = found.faces.into_iter().filter(|f| f.score * 100.0 >= self.config.face_min_confidence);
        found
            .objects
            .into_iter()
            .chain(faces)
            .filter(|f| selection.matches(&f.label, f.score * 100.0))
            .filter_map(|f| {
                let [x, y, bw, bh] = f.bbox;
                let left = ((x * side - ox) / fw).clamp(0.0, 1.0);
                let top = ((y * side - oy) / fh).clamp(0.0, 1.0);
                let right = (((x + bw) * side - ox) / fw).clamp(0.0, 1.0);
                let bottom = (((y + bh) * side - oy) / fh).clamp(0.0, 1.0);
                (right > left && bottom > top).then(|| Label {
                    name: f.label,
                    confidence: (f.score * 100.0).clamp(0.0, 100.0),
                    bbox: [left, top, right - left, bottom - top],
                })
            })
            .collect()
    }
}

/// A picture letterboxed into a `side`-pixel square, with its luma for the motion gate.
fn prepare(picture: &Picture, ts_ms: i64, side: u32, analysis_width: u32) -> Sample {
    let (w, h) = (picture.width(), picture.height());
    let (sw, sh) = if w >= h {
        (side, ((u64::from(h) * u64::from(side)) / u64::from(w)).max(1) as u32)
    } else {
        (((u64::from(w) * u64::from(side)) / u64::from(h)).max(1) as u32, side)
    };
    let rgb = picture.scaled(sw, sh).to_rgb();
    let (ox, oy) = ((side - sw) / 2, (side - sh) / 2);
    let mut square = vec![114u8; side as usize * side as usize * 3];
    for row in 0..sh as usize {
        let dst = ((row + oy as usize) * side as usize + ox as usize) * 3;
        square[dst..dst + sw as usize * 3]
            .copy_from_slice(&rgb[row * sw as usize * 3..(row + 1) * sw as usize * 3]);
    }
    Sample {
        ts_ms,
        luma: picture.downscaled_luma(analysis_width),
        square,
        frame: (sw, sh, rgb),
        offset: (ox, oy),
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

fn bbox_json(b: &[f64; 4]) -> serde_json::Value {
    serde_json::json!({ "Left": round4(b[0]), "Top": round4(b[1]), "Width": round4(b[2]), "Height": round4(b[3]) })
}

/// A JPEG of the frame with the labels' boxes drawn, `width` pixels wide, base64.
fn thumbnail(frame: &(u32, u32, Vec<u8>), labels: &[Label], width: u32) -> Option<String> {
    let (fw, fh, rgb) = frame;
    let img = image::RgbImage::from_raw(*fw, *fh, rgb.clone())?;
    let width = width.min(*fw).max(1);
    let height = ((u64::from(*fh) * u64::from(width)) / u64::from(*fw)).max(1) as u32;
    let mut img = image::imageops::resize(&img, width, height, image::imageops::FilterType::Triangle);
    for l in labels {
        let color = match Category::of(&l.name) {
            Category::Person => [255, 64, 64],
            Category::Pet | Category::Animal => [64, 220, 64],
            Category::Vehicle => [64, 128, 255],
            Category::Package => [255, 200, 0],
            Category::Face => [255, 0, 255],
            Category::Other => [255, 255, 255],
        };
        let x0 = (l.bbox[0] * f64::from(width)) as i64;
        let y0 = (l.bbox[1] * f64::from(height)) as i64;
        let x1 = ((l.bbox[0] + l.bbox[2]) * f64::from(width)) as i64;
        let y1 = ((l.bbox[1] + l.bbox[3]) * f64::from(height)) as i64;
        let mut put = |x: i64, y: i64| {
            if x >= 0 && y >= 0 && (x as u32) < width && (y as u32) < height {
                img.put_pixel(x as u32, y as u32, image::Rgb(color));
            }
        };
        for t in 0..2 {
            for x in x0..=x1 {
                put(x, y0 + t);
                put(x, y1 - t);
            }
            for y in y0..=y1 {
                put(x0 + t, y);
                put(x1 - t, y);
            }
        }
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(out))
}

#[async_trait]
impl Analyzer for Detection {
    fn name(&self) -> &str {
        NAME
    }

    fn reset_stream(&self, stream_id: i64) {
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).remove(&stream_id);
    }

    fn deliveries(&self) -> Option<Vec<DeliveryStatus>> {
        let s = self.process.status();
        Some(vec![DeliveryStatus {
            destination: format!("detector {}", self.process.script().display()),
            pending: 0,
            delivered: s.answered,
            retries: 0,
            failed: s.failures,
            dropped: 0,
            last_error: s.last_error,
            last_error_at_ms: None,
        }])
    }

    async fn analyze(&self, input: FragmentInput) -> Result<AnalysisOutput, AnalyzerError> {
        let selection = self.selection(&input.stream);
        if selection.is_empty() {
            return Ok(AnalysisOutput::default());
        }
        let fragment = input.media.stored_fragment(&input.record).await?;
        let record = input.record.clone();
        let start = record.producer_ts_ms;
        let end = start + record.duration_ms.max(1);
        let times: Vec<i64> = if self.config.interval_ms > 0 {
            let step = self.config.interval_ms;
            (0..).map(|i| start + i * step).take_while(|t| *t < end).collect()
        } else {
            vec![start]
        };
        let (side, analysis_width) = (self.config.input_size, self.motion.analysis_width);
        let samples = crate::workers::compute::run(move || {
            let pictures = super::fragment_pictures(&fragment, &times)?;
            Ok::<_, AnalyzerError>(
                pictures
                    .into_iter()
                    .filter_map(|(ts, p)| p.ok().map(|p| prepare(&p, ts, side, analysis_width)))
                    .collect::<Vec<_>>(),
            )
        })
        .await?;

        let mut state = self
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&record.stream_id)
            .cloned()
            .unwrap_or_else(|| StreamState {
                tracker: PresenceTracker::new(self.config.end_after_ms),
                last_luma: None,
            });
        let mut events = Vec::new();
        for sample in samples {
            let unchanged = self.config.motion_gate
                && state.last_luma.as_ref().is_some_and(|(w, h, prev)| {
                    (*w, *h) == (sample.luma.0, sample.luma.1)
                        && MotionDetector::score(prev, &sample.luma.2, self.motion.pixel_delta)
                            < self.motion.threshold
                });
            if unchanged {
                self.gated.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                state.tracker.unchanged(sample.ts_ms);
                continue;
            }
            let side = self.config.input_size;
            let found = self.process.detect(side, side, &sample.square).await.map_err(|e| match e {
                DetectorError::NotInstalled(_) => AnalyzerError::Unavailable(e.to_string()),
                DetectorError::Failed(_) => AnalyzerError::Transient(e.to_string()),
            })?;
            let labels = self.labels(&sample, found, &selection);
            for l in &labels {
                events.push(EventDraft {
                    kind: "label".to_owned(),
                    producer_ts_ms: sample.ts_ms,
                    end_ts_ms: None,
                    score: Some(round4(l.confidence / 100.0)),
                    detail: serde_json::json!({
                        "Name": l.name,
                        "Category": Category::of(&l.name).as_str(),
                        "Confidence": round4(l.confidence),
                        "BoundingBox": bbox_json(&l.bbox),
                    }),
                });
            }
            let seen: Vec<(String, f64)> = labels.iter().map(|l| (l.name.clone(), l.confidence)).collect();
            for e in state.tracker.observe(sample.ts_ms, &seen) {
                events.push(match e {
                    PresenceEvent::Start { label, at_ms } => {
                        let best = labels
                            .iter()
                            .filter(|l| l.name == label)
                            .max_by(|a, b| a.confidence.total_cmp(&b.confidence));
                        let mut detail = serde_json::json!({
                            "Name": label,
                            "Category": Category::of(&label).as_str(),
                        });
                        if let Some(b) = best {
                            detail["Confidence"] = round4(b.confidence).into();
                            detail["BoundingBox"] = bbox_json(&b.bbox);
                        }
                        if self.config.thumbnail_width > 0
                            && let Some(jpeg) = thumbnail(&sample.frame, &labels, self.config.thumbnail_width)
                        {
                            detail["Thumbnail"] =
                                serde_json::json!({ "ContentType": "image/jpeg", "Base64": jpeg });
                        }
                        EventDraft {
                            kind: "object_start".to_owned(),
                            producer_ts_ms: at_ms,
                            end_ts_ms: None,
                            score: best.map(|b| round4(b.confidence / 100.0)),
                            detail,
                        }
                    }
                    PresenceEvent::End { label, start_ms, end_ms, peak } => EventDraft {
                        kind: "object_end".to_owned(),
                        producer_ts_ms: end_ms,
                        end_ts_ms: Some(end_ms),
                        score: Some(round4(peak / 100.0)),
                        detail: serde_json::json!({
                            "Name": label,
                            "Category": Category::of(&label).as_str(),
                            "StartTimestamp": start_ms as f64 / 1000.0,
                        }),
                    },
                });
            }
            state.last_luma = Some(sample.luma);
        }
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).insert(record.stream_id, state);
        Ok(AnalysisOutput { events })
    }
}
