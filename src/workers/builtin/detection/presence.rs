//! "Object present" spans per label, like motion's start/end: a label *starts* at the first
//! analysed frame it is found in and *ends* once it has not been seen for `end_after_ms` (the end
//! carries the last time it was seen and its peak confidence). Pure: detections in, events out;
//! the state of one stream carries across its fragments.

use std::collections::BTreeMap;

/// Something the tracker found.
#[derive(Debug, Clone, PartialEq)]
pub enum PresenceEvent {
    /// `label` appeared at `at_ms`.
    Start {
        /// The label name.
        label: String,
        /// Producer time, epoch ms.
        at_ms: i64,
    },
    /// `label` is gone.
    End {
        /// The label name.
        label: String,
        /// When it appeared.
        start_ms: i64,
        /// The last time it was seen.
        end_ms: i64,
        /// Its highest confidence in between, percent.
        peak: f64,
    },
}

#[derive(Debug, Clone)]
struct Present {
    start_ms: i64,
    last_seen_ms: i64,
    peak: f64,
}

/// Presence spans of one stream.
#[derive(Debug, Clone, Default)]
pub struct PresenceTracker {
    end_after_ms: i64,
    present: BTreeMap<String, Present>,
}

impl PresenceTracker {
    /// A tracker that ends a span after `end_after_ms` without the label.
    pub fn new(end_after_ms: i64) -> Self {
        Self { end_after_ms, present: BTreeMap::new() }
    }

    /// Feeds the labels found in a frame at `ts_ms` (name, confidence in percent; a label may
    /// repeat); returns the starts and ends it completes.
    pub fn observe(&mut self, ts_ms: i64, found: &[(String, f64)]) -> Vec<PresenceEvent> {
        let mut out = Vec::new();
        for (label, confidence) in found {
            match self.present.get_mut(label) {
                Some(p) => {
                    p.last_seen_ms = p.last_seen_ms.max(ts_ms);
                    p.peak = p.peak.max(*confidence);
                }
                None => {
                    self.present.insert(
                        label.clone(),
                        Present { start_ms: ts_ms, last_seen_ms: ts_ms, peak: *confidence },
                    );
                    out.push(PresenceEvent::Start { label: label.clone(), at_ms: ts_ms });
                }
            }
        }
        let gone: Vec<String> = self
            .present
            .iter()
            .filter(|(_, p)| ts_ms - p.last_seen_ms >= self.end_after_ms)
            .map(|(l, _)| l.clone())
            .collect();
        for label in gone {
            if let Some(p) = self.present.remove(&label) {
                out.push(PresenceEvent::End {
                    label,
                    start_ms: p.start_ms,
                    end_ms: p.last_seen_ms,
                    peak: p.peak,
                });
            }
        }
        out
    }

    /// A frame at `ts_ms` was not analysed because nothing moved since the last analysed one:
    /// whatever was present is still there.
    pub fn unchanged(&mut self, ts_ms: i64) {
        for p in self.present.values_mut() {
            p.last_seen_ms = p.last_seen_ms.max(ts_ms);
        }
    }

    /// The labels present now.
    pub fn present(&self) -> Vec<&str> {
        self.present.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(labels: &[(&str, f64)]) -> Vec<(String, f64)> {
        labels.iter().map(|(l, c)| ((*l).to_owned(), *c)).collect()
    }

    #[test]
    fn a_label_starts_once_and_ends_after_the_quiet_time() {
        let mut t = PresenceTracker::new(2000);
        assert_eq!(
            t.observe(0, &seen(&[("person", 60.0)])),
            vec![PresenceEvent::Start { label: "person".into(), at_ms: 0 }]
        );
        assert!(t.observe(1000, &seen(&[("person", 80.0), ("person", 50.0)])).is_empty());
        assert!(t.observe(2000, &[]).is_empty(), "1 s without it is not yet gone");
        assert_eq!(
            t.observe(3000, &[]),
            vec![PresenceEvent::End { label: "person".into(), start_ms: 0, end_ms: 1000, peak: 80.0 }]
        );
        assert!(t.present().is_empty());
    }

    #[test]
    fn labels_are_tracked_apart_and_an_unchanged_scene_keeps_them() {
        let mut t = PresenceTracker::new(1000);
        t.observe(0, &seen(&[("cat", 50.0), ("person", 70.0)]));
        t.unchanged(5000);
        let events = t.observe(5500, &seen(&[("cat", 40.0)]));
        assert!(events.is_empty(), "{events:?}");
        let events = t.observe(6000, &seen(&[("cat", 40.0)]));
        assert_eq!(
            events,
            vec![PresenceEvent::End { label: "person".into(), start_ms: 0, end_ms: 5000, peak: 70.0 }]
        );
        assert_eq!(t.present(), vec!["cat"]);
    }
}
