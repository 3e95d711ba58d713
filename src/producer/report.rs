//! Numbers for people and scripts: latency percentiles, the progress line, the `put` summary
//! (one line, or JSON with `--json`).
//!
//! Owns formatting and statistics; pure (the caller prints).

use std::time::Duration;

use serde::Serialize;

use super::reconnect::ReconnectStats;
use super::session::{AckError, FragmentTiming, Progress, SessionReport};

/// Percentiles of a set of latencies, in milliseconds (nearest-rank).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    /// How many samples.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

/// How much of a [`LatencySummary`] a report line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyDetail {
    /// p50, p90, p99, max and the count.
    Full,
    /// p50, p99 and the count.
    Brief,
}

/// One report line for an optional summary (`-` when there were no samples).
pub fn latency_line(summary: &Option<LatencySummary>, detail: LatencyDetail) -> String {
    match (summary, detail) {
        (Some(l), LatencyDetail::Full) => format!(
            "p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms  (n={})",
            l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.count
        ),
        (Some(l), LatencyDetail::Brief) => {
            format!("p50 {:.1} ms  p99 {:.1} ms  (n={})", l.p50_ms, l.p99_ms, l.count)
        }
        (None, _) => "-".to_owned(),
    }
}

impl LatencySummary {
    /// Summarizes `samples`; `None` when empty.
    pub fn of(mut samples: Vec<Duration>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let rank = (q * samples.len() as f64).ceil() as usize;
            let d = samples.get(rank.saturating_sub(1).min(samples.len() - 1)).copied().unwrap_or_default();
            ms(d)
        };
        Some(LatencySummary {
            count: samples.len(),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: samples.last().copied().map(ms).unwrap_or_default(),
        })
    }
}

/// A duration in milliseconds with 0.1 ms resolution.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Megabits per second.
pub fn mbit_per_s(bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 { 0.0 } else { (bytes as f64 * 8.0 / 1e6 / secs * 100.0).round() / 100.0 }
}

/// The live progress line of one session.
pub fn progress_line(stream: &str, p: &Progress) -> String {
    let latency = match LatencySummary::of(p.persisted_latencies.clone()) {
        Some(l) => format!("ack latency p50 {:.0} ms max {:.0} ms", l.p50_ms, l.max_ms),
        None => "ack latency -".to_owned(),
    };
    let errors = if p.errors > 0 { format!(", {} ERROR", p.errors) } else { String::new() };
    format!(
        "{stream}: {:.0} s, fragments sent {} / persisted {}{errors}, {:.2} Mbit/s, {latency}",
        p.elapsed.as_secs_f64(),
        p.sent,
        p.persisted,
        mbit_per_s(p.bytes, p.elapsed),
    )
}

/// One ERROR ACK in the JSON summary.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorAck {
    /// `ErrorId`.
    pub error_id: u64,
    /// `ErrorCode`.
    pub error_code: Option<String>,
    /// `FragmentTimecode`.
    pub fragment_timecode: Option<u64>,
}

impl From<&AckError> for ErrorAck {
    fn from(e: &AckError) -> Self {
        ErrorAck {
            error_id: e.error_id,
            error_code: e.error_code.clone(),
            fragment_timecode: e.fragment_timecode,
        }
    }
}

/// The summary of one `openkvs put`.
#[derive(Debug, Clone, Serialize)]
pub struct PutSummary {
    /// Stream name.
    pub stream: String,
    /// Every fragment acknowledged as final, no ERROR, no failure.
    pub ok: bool,
    /// Fragments whose last byte was sent.
    pub fragments_sent: usize,
    /// Fragments RECEIVED.
    pub fragments_received: usize,
    /// Fragments PERSISTED.
    pub fragments_persisted: usize,
    /// IDLE ACKs.
    pub idle_acks: u64,
    /// ERROR ACKs.
    pub errors: Vec<ErrorAck>,
    /// Body bytes sent.
    pub bytes: u64,
    /// Session duration, seconds.
    pub duration_secs: f64,
    /// Average body bitrate.
    pub mbit_per_s: f64,
    /// Last byte of a Cluster sent → PERSISTED.
    pub persisted_latency_ms: Option<LatencySummary>,
    /// Last byte of a Cluster sent → RECEIVED.
    pub received_latency_ms: Option<LatencySummary>,
    /// Why the session did not end cleanly.
    pub failure: Option<String>,
    /// Fragments sent whose video does not start on a key frame (a GOP longer than the maximum
    /// fragment duration).
    pub fragments_without_key_frame: u64,
    /// Video frames skipped before the input's first key frame.
    pub frames_dropped_before_key_frame: u64,
    /// Distinct fragments sent again after a reconnect.
    pub fragments_resent: usize,
    /// Reconnects, resent and dropped fragments, recovery times (a reconnecting producer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconnect: Option<ReconnectStats>,
}

impl PutSummary {
    /// Summarizes a session report.
    pub fn new(stream: &str, r: &SessionReport) -> Self {
        let count = |f: fn(&FragmentTiming) -> bool| r.fragments.iter().filter(|x| f(x)).count();
        PutSummary {
            stream: stream.to_owned(),
            ok: r.ok(),
            fragments_sent: count(|f| f.sent.is_some()),
            fragments_received: count(|f| f.received.is_some()),
            fragments_persisted: count(|f| f.persisted.is_some()),
            idle_acks: r.idle_acks,
            errors: r.errors.iter().map(ErrorAck::from).collect(),
            bytes: r.bytes_sent,
            duration_secs: (r.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            mbit_per_s: mbit_per_s(r.bytes_sent, r.elapsed),
            persisted_latency_ms: LatencySummary::of(
                r.fragments.iter().filter_map(FragmentTiming::persisted_latency).collect(),
            ),
            received_latency_ms: LatencySummary::of(
                r.fragments.iter().filter_map(FragmentTiming::received_latency).collect(),
            ),
            failure: r.failure.clone(),
            fragments_without_key_frame: 0,
            frames_dropped_before_key_frame: 0,
            fragments_resent: count(|f| f.resends > 0),
            reconnect: None,
        }
    }

    /// The one-line human summary.
    pub fn line(&self) -> String {
        let latency = match &self.persisted_latency_ms {
            Some(l) => format!(
                "PERSISTED latency p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
                l.p50_ms, l.p99_ms, l.max_ms
            ),
            None => "no PERSISTED ACKs".to_owned(),
        };
        format!(
            "{}: {} fragments sent, {} persisted, {} bytes in {:.2} s ({:.2} Mbit/s), {latency}{}",
            self.stream,
            self.fragments_sent,
            self.fragments_persisted,
            self.bytes,
            self.duration_secs,
            self.mbit_per_s,
            if self.errors.is_empty() {
                String::new()
            } else {
                format!(", {} ERROR acks", self.errors.len())
            },
        ) + &self.reconnect.as_ref().filter(|r| r.reconnects > 0).map_or(String::new(), |r| {
            let recovery =
                r.recovery_ms.iter().max().map_or(String::new(), |m| format!(", recovered within {m} ms"));
            format!(
                ", {} reconnects ({} fragments resent, {} dropped{recovery})",
                r.reconnects, r.fragments_resent, r.fragments_dropped
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = LatencySummary::of(v).unwrap();
        assert_eq!((s.count, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms), (100, 50.0, 90.0, 99.0, 100.0));
        let s = LatencySummary::of(vec![Duration::from_micros(1500)]).unwrap();
        assert_eq!((s.p50_ms, s.p99_ms, s.max_ms), (1.5, 1.5, 1.5));
        assert!(LatencySummary::of(Vec::new()).is_none());
        assert_eq!(mbit_per_s(1_000_000, Duration::from_secs(8)), 1.0);
    }
}
