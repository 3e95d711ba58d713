//! The cluster benches (issue 18, item 6; design/0020-cluster.md, design/0022-producer-failover.md):
//!
//! - `openkvs bench failover`: a cluster of [`ClusterNodes`] (3 by default) and N reconnecting
//!   producers in real time ([`put_media_reconnecting`], what `openkvs put` runs), one per stream;
//!   then K rounds of: `kill -9` the node owning the most streams (GetDataEndpoint), wait for each
//!   of its producers to have PERSISTED ACKs again, start the node again (same id, port and data
//!   directory) and wait until every node sees it. The failover time of a producer in a round is
//!   from the kill to its first PERSISTED ACK on a session it started after noticing the loss
//!   (an ACK the dead node sent before dying does not count). At the end every producer drains,
//!   and ListFragments of every stream must hold each producer timestamp the producer saw
//!   PERSISTED exactly once: lost and duplicated fragments are counted, and the run fails on any.
//! - `openkvs bench cluster-cpu`: the same N producers for the same time, first on a one-node
//!   cluster, then on an M-node one (producers spread by GetDataEndpoint): each node's CPU time
//!   (`/proc/PID/stat`) over a window after the ramp-up, per Mbit ingested in that window.
//!
//! Producers ask GetDataEndpoint of a running node (as a load balancer with health checks
//! would), so a dead node costs its producers the membership TTL, not control-plane timeouts.
//! A client like `bench ingest`; the nodes are children of the bench.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_kinesisvideo::config::Credentials;
use aws_sdk_kinesisvideo::types::ApiName;
use futures_util::StreamExt;
use serde::Serialize;

use super::cluster_nodes::{ClusterNodes, ClusterServices};
use super::server_process::{ProcessReading, load_average};
use crate::media::fragment::TimecodeType;
use crate::media::mkv::rewrite::FragmentPolicy;
use crate::producer::body::{PreparedFile, Retimer};
use crate::producer::control::ControlPlane;
use crate::producer::data_client::{DataConnection, read_ok};
use crate::producer::put::now_ms;
use crate::producer::reconnect::{
    BufferFull, ReconnectOptions, ReconnectReport, Resolve, put_media_reconnecting,
};
use crate::producer::report::{LatencySummary, mbit_per_s};
use crate::producer::session::{FinalAck, SessionOptions, Target, Tracker};

/// The region and development key the benches sign with (the nodes' built-in key).
const REGION: &str = "us-east-1";
const ACCESS_KEY: &str = "openkvs";
const SECRET_KEY: &str = "openkvs-secret";

/// Control-plane calls in flight at once while creating streams.
const CREATE_CONCURRENCY: usize = 8;

/// How long a cluster may take to agree on its members.
const CONVERGE_BOUND: Duration = Duration::from_secs(30);

/// What both cluster benches take.
#[derive(Debug, Clone)]
pub struct ClusterBenchOptions {
    /// The services the nodes use.
    pub services: ClusterServices,
    /// The Matroska file every producer sends in real time (longer than the run).
    pub file: PathBuf,
    /// Where fragments are cut.
    pub fragment_policy: FragmentPolicy,
    /// Producers (one stream each).
    pub streams: usize,
    /// Spread the producer starts over this long.
    pub ramp_up: Duration,
    /// Print JSON instead of the table.
    pub json: bool,
}

/// `openkvs bench failover` options.
#[derive(Debug, Clone)]
pub struct FailoverOptions {
    /// Common options.
    pub common: ClusterBenchOptions,
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Rounds of kill and restart.
    pub kills: usize,
    /// How long the producers of a killed node may take to have PERSISTED ACKs again.
    pub resume_bound: Duration,
}

/// `openkvs bench cluster-cpu` options.
#[derive(Debug, Clone)]
pub struct CpuOptions {
    /// Common options.
    pub common: ClusterBenchOptions,
    /// Nodes of the second phase.
    pub nodes: usize,
    /// How long each phase ingests.
    pub duration: Duration,
    /// CPU is counted from this long after the ramp-up until the last producer stops sending.
    pub warmup: Duration,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("openkvs bench: {msg}");
    ExitCode::FAILURE
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A name for this run: node ids, S3 prefix and stream names start with it.
fn run_name(kind: &str) -> String {
    format!("{kind}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// One control-plane client per node (its port does not change).
async fn controls(nodes: &ClusterNodes) -> Result<Arc<Vec<ControlPlane>>, String> {
    let mut out = Vec::new();
    for i in 0..nodes.len() {
        let creds = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "openkvs-bench");
        out.push(
            ControlPlane::load_as(Some(&nodes.url(i)), Some(REGION), Some(creds))
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(Arc::new(out))
}

/// Which nodes run, as the producers' resolvers see it.
type Alive = Arc<Vec<AtomicBool>>;

/// GetDataEndpoint(PUT_MEDIA) asked of the running nodes, starting from a different one per stream.
fn resolver(controls: Arc<Vec<ControlPlane>>, alive: Alive, stream: String, first: usize) -> Resolve {
    Arc::new(move || {
        let (controls, alive, stream) = (controls.clone(), alive.clone(), stream.clone());
        Box::pin(async move {
            let n = controls.len();
            let mut last = "no node runs".to_owned();
            for k in 0..n {
                let i = (first + k) % n;
                if !alive[i].load(Ordering::Relaxed) {
                    continue;
                }
                match controls[i].data_endpoint(&stream, ApiName::PutMedia).await {
                    Ok(url) => return Ok(url),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(last)
        })
    })
}

/// N producers, one per stream, sending until told to stop (or for a fixed time).
struct Fleet {
    names: Vec<String>,
    trackers: Vec<Arc<Tracker>>,
    /// The data endpoint each producer started on.
    endpoints: Vec<String>,
    tasks: Vec<tokio::task::JoinHandle<Result<ReconnectReport, String>>>,
    stop: Arc<AtomicBool>,
}

impl Fleet {
    /// Creates the streams (24 h retention) and starts a producer on each, the i-th after
    /// i × ramp_up / N.
    async fn start(
        controls: Arc<Vec<ControlPlane>>,
        alive: Alive,
        names: Vec<String>,
        prepared: Arc<PreparedFile>,
        opts: &ClusterBenchOptions,
        stop_after: Option<Duration>,
    ) -> Result<Self, String> {
        let first = (0..alive.len()).find(|&i| alive[i].load(Ordering::Relaxed)).ok_or("no node runs")?;
        let resolved: Vec<_> = futures_util::stream::iter(names.iter().cloned())
            .map(|name| {
                let controls = controls.clone();
                async move {
                    controls[first].resolve_for_put(&name, Some(24)).await.map_err(|e| format!("{name}: {e}"))
                }
            })
            .buffered(CREATE_CONCURRENCY)
            .collect()
            .await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut fleet = Fleet {
            names: names.clone(),
            trackers: Vec::new(),
            endpoints: Vec::new(),
            tasks: Vec::new(),
            stop,
        };
        let count = names.len().max(1) as u32;
        for (i, (name, r)) in names.into_iter().zip(resolved).enumerate() {
            let r = r?;
            let tracker = Tracker::reconnecting();
            fleet.trackers.push(tracker.clone());
            fleet.endpoints.push(r.data_endpoint.clone());
            let target = Target {
                data_endpoint: r.data_endpoint,
                stream_name: name.clone(),
                region: REGION.to_owned(),
                credentials: Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "openkvs-bench"),
            };
            let resolve = resolver(controls.clone(), alive.clone(), name, i);
            let reconnect = ReconnectOptions {
                when_full: BufferFull::DropOldest,
                give_up_after: Duration::from_secs(60),
                ..ReconnectOptions::default()
            };
            let prepared = prepared.clone();
            let stop = fleet.stop.clone();
            let delay = opts.ramp_up * u32::try_from(i).unwrap_or(u32::MAX) / count;
            fleet.tasks.push(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                // Distinct producer timestamps per stream, for reading logs.
                let base = now_ms() + i as u64;
                let options = SessionOptions {
                    timecode_type: TimecodeType::Absolute,
                    producer_start_ms: base,
                    realtime: true,
                    stop_after,
                    final_ack: FinalAck::Persisted,
                    ..SessionOptions::default()
                };
                let pieces =
                    prepared.pieces(Retimer::new(TimecodeType::Absolute, base)).map_err(|e| e.to_string())?;
                let source = futures_util::stream::iter(pieces.into_iter().map(Ok))
                    .take_while(move |_| std::future::ready(!stop.load(Ordering::Relaxed)));
                put_media_reconnecting(target, resolve, options, reconnect, source, tracker)
                    .await
                    .map_err(|e| e.to_string())
            }));
        }
        Ok(fleet)
    }

    fn persisted(&self) -> Vec<usize> {
        self.trackers.iter().map(|t| t.progress().persisted).collect()
    }

    /// Waits until `done(persisted counts)` holds; false after `within`.
    async fn wait_for(&self, within: Duration, done: impl Fn(&[usize]) -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if done(&self.persisted()) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the input and waits for every producer's last PERSISTED ACK.
    async fn finish(self, within: Duration) -> Vec<Result<ReconnectReport, String>> {
        self.stop.store(true, Ordering::Relaxed);
        let mut out = Vec::new();
        for task in self.tasks {
            out.push(match tokio::time::timeout(within, task).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => Err(format!("producer task: {e}")),
                Err(_) => Err(format!("did not end within {} s", within.as_secs())),
            });
        }
        out
    }
}

/// The owner (GetDataEndpoint PUT_MEDIA, asked of a running node) of every stream.
async fn owners(
    nodes: &ClusterNodes,
    controls: &[ControlPlane],
    alive: &Alive,
    names: &[String],
) -> Vec<Option<usize>> {
    let Some(ask) = (0..nodes.len()).find(|&i| alive[i].load(Ordering::Relaxed)) else {
        return vec![None; names.len()];
    };
    let mut out = Vec::new();
    for name in names {
        out.push(
            controls[ask].data_endpoint(name, ApiName::PutMedia).await.ok().and_then(|u| nodes.index_of(&u)),
        );
    }
    out
}

/// Every producer timestamp ListFragments lists for `stream`, ms (all pages).
async fn listed_timestamps(url: &str, stream: &str) -> Result<Vec<i64>, String> {
    let mut conn = DataConnection::new(url).map_err(|e| e.to_string())?;
    let creds = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "openkvs-bench");
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = serde_json::json!({ "StreamName": stream, "MaxResults": 1000 });
        if let Some(t) = &token {
            body["NextToken"] = serde_json::Value::String(t.clone());
        }
        let response = conn
            .post_json("/listFragments", body.to_string().into_bytes(), &creds, REGION)
            .await
            .map_err(|e| format!("ListFragments {stream}: {e}"))?;
        let bytes = read_ok(response).await.map_err(|e| format!("ListFragments {stream}: {e}"))?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("ListFragments {stream}: {e}"))?;
        for f in v["Fragments"].as_array().into_iter().flatten() {
            let secs = f["ProducerTimestamp"].as_f64().ok_or("ListFragments: no ProducerTimestamp")?;
            out.push((secs * 1000.0).round() as i64);
        }
        match v["NextToken"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

/// Lost (PERSISTED, not listed) and duplicated (listed more than once) fragments of a stream.
/// The ACK's timecode and the listed producer timestamp are the same instant each rounded to a
/// millisecond on its own path, so they match within 1 ms. Also the listed fragments the producer
/// never saw PERSISTED (committed, then the ACK was lost with the node: not an error).
fn compare(persisted: &[i64], listed: &[i64]) -> (usize, usize, usize) {
    let mut listed = listed.to_vec();
    listed.sort_unstable();
    let mut dup = 0;
    for w in listed.windows(2) {
        if (w[1] - w[0]).abs() <= 1 {
            dup += 1;
        }
    }
    let near = |t: i64, set: &[i64]| {
        let at = set.partition_point(|&x| x < t - 1);
        set.get(at).is_some_and(|&x| (x - t).abs() <= 1)
    };
    let mut want = persisted.to_vec();
    want.sort_unstable();
    let lost = want.iter().filter(|&&t| !near(t, &listed)).count();
    let unacked = listed.iter().filter(|&&t| !near(t, &want)).count();
    (lost, dup, unacked)
}

/// One kill.
#[derive(Debug, Clone, Serialize)]
pub struct KillRound {
    /// The node killed.
    pub node: String,
    /// Streams it owned.
    pub streams_owned: usize,
    /// Failover time of each of its producers (kill → next PERSISTED on a new session), ms;
    /// `None` for one that had none.
    pub failover_ms: Vec<Option<u64>>,
    /// Kill → the node restarted and every node lists it again, ms.
    pub rejoin_ms: u64,
}

/// The result of `bench failover`.
#[derive(Debug, Clone, Serialize)]
pub struct FailoverSummary {
    /// Nodes.
    pub nodes: usize,
    /// Producers (streams).
    pub streams: usize,
    /// `[cluster] member_ttl_ms` of the nodes.
    pub member_ttl_ms: u64,
    /// Each round.
    pub kills: Vec<KillRound>,
    /// Failover over every (kill, affected producer).
    pub failover_ms: Option<LatencySummary>,
    /// Affected producers that had no PERSISTED ACK after their kill.
    pub not_resumed: usize,
    /// Fragments the producers saw PERSISTED.
    pub fragments_persisted: usize,
    /// Listed fragments.
    pub fragments_listed: usize,
    /// PERSISTED fragments not listed.
    pub lost: usize,
    /// Producer timestamps listed more than once.
    pub duplicates: usize,
    /// Listed fragments never seen PERSISTED (their ACK died with a node).
    pub listed_unacked: usize,
    /// Reconnects over all producers.
    pub reconnects: u32,
    /// Fragments resent after a reconnect.
    pub fragments_resent: u64,
    /// Fragments dropped from a full resend buffer.
    pub fragments_dropped: u64,
    /// Load average at the start.
    pub load_at_start: Option<[f64; 3]>,
    /// Failures.
    pub failures: Vec<String>,
}

impl FailoverSummary {
    fn table(&self) -> String {
        let mut out = format!(
            "nodes / streams     {} / {} (member TTL {} ms), load at start {}\n",
            self.nodes,
            self.streams,
            self.member_ttl_ms,
            self.load_at_start.map_or("-".to_owned(), |l| format!("{:.2}", l[0]))
        );
        for (k, r) in self.kills.iter().enumerate() {
            let times: Vec<String> =
                r.failover_ms.iter().map(|f| f.map_or("-".to_owned(), |v| v.to_string())).collect();
            out.push_str(&format!(
                "kill {:<2}             {} owning {} streams: failover ms [{}], rejoined after {} ms\n",
                k + 1,
                r.node,
                r.streams_owned,
                times.join(" "),
                r.rejoin_ms
            ));
        }
        out.push_str(&format!(
            "failover            {}\n\
             not resumed         {}\n\
             fragments           {} PERSISTED, {} listed: {} lost, {} duplicated, {} listed without an ACK\n\
             reconnects          {} ({} fragments resent, {} dropped)\n",
            self.failover_ms.as_ref().map_or("-".to_owned(), |l| format!(
                "p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms ({} samples)",
                l.p50_ms, l.p90_ms, l.max_ms, l.count
            )),
            self.not_resumed,
            self.fragments_persisted,
            self.fragments_listed,
            self.lost,
            self.duplicates,
            self.listed_unacked,
            self.reconnects,
            self.fragments_resent,
            self.fragments_dropped,
        ));
        for f in &self.failures {
            out.push_str(&format!("failure             {f}\n"));
        }
        out
    }
}

/// Runs `openkvs bench failover`.
pub async fn run_failover(opts: FailoverOptions) -> ExitCode {
    let prepared = match super::prepare_file(&opts.common.file, opts.common.fragment_policy).await {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let load_at_start = load_average();
    let run = run_name("fo");
    let mut nodes = match ClusterNodes::start(&opts.common.services, opts.nodes, &run) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    if let Err(e) = nodes.wait_converged(CONVERGE_BOUND).await {
        return fail(e);
    }
    let controls = match controls(&nodes).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let alive: Alive = Arc::new((0..nodes.len()).map(|_| AtomicBool::new(true)).collect());
    let names: Vec<String> = (0..opts.common.streams).map(|i| format!("{run}-cam-{i}")).collect();
    eprintln!(
        "openkvs bench: {} nodes ({}), {} producers of {} in real time, {} kills",
        nodes.len(),
        (0..nodes.len()).map(|i| nodes.url(i)).collect::<Vec<_>>().join(" "),
        names.len(),
        opts.common.file.display(),
        opts.kills
    );
    let fleet = match Fleet::start(
        controls.clone(),
        alive.clone(),
        names.clone(),
        prepared,
        &opts.common,
        None,
    )
    .await
    {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let mut failures = Vec::new();
    // (round, producer, tracker time of the kill)
    let mut killed: Vec<(usize, usize, Duration)> = Vec::new();
    let mut rounds = Vec::new();
    let mut baseline = vec![0; names.len()];
    let settle = opts.common.ramp_up + Duration::from_secs(30);
    for k in 0..opts.kills {
        // Every producer is streaming: a PERSISTED ACK since the last node came back.
        let b = baseline.clone();
        if !fleet.wait_for(settle, |p| p.iter().zip(&b).all(|(now, was)| now > was)).await {
            failures.push(format!("round {}: not every producer had a new PERSISTED ACK", k + 1));
            break;
        }
        let owners = owners(&nodes, &controls, &alive, &names).await;
        let Some(victim) = (0..nodes.len()).max_by_key(|&n| owners.iter().filter(|&&o| o == Some(n)).count())
        else {
            break;
        };
        let affected: Vec<usize> = (0..names.len()).filter(|&i| owners[i] == Some(victim)).collect();
        let before = fleet.persisted();
        let kill_time = Instant::now();
        for &i in &affected {
            killed.push((k, i, fleet.trackers[i].elapsed()));
        }
        alive[victim].store(false, Ordering::Relaxed);
        nodes.kill(victim);
        // Its producers have PERSISTED ACKs again (two: a resent one and a new one).
        let resumed =
            fleet.wait_for(opts.resume_bound, |p| affected.iter().all(|&i| p[i] >= before[i] + 2)).await;
        if !resumed {
            failures.push(format!(
                "round {}: the producers of {} did not resume within {} s",
                k + 1,
                nodes.node_id(victim),
                opts.resume_bound.as_secs()
            ));
        }
        if let Err(e) = nodes.restart(victim) {
            failures.push(format!("round {}: {e}", k + 1));
            break;
        }
        alive[victim].store(true, Ordering::Relaxed);
        if let Err(e) = nodes.wait_converged(CONVERGE_BOUND).await {
            failures.push(format!("round {}: {e}", k + 1));
            break;
        }
        let rejoin_ms = ms(kill_time.elapsed());
        eprintln!(
            "openkvs bench: kill {}: {} owned {} streams; restarted, all nodes see it {} ms after the kill",
            k + 1,
            nodes.node_id(victim),
            affected.len(),
            rejoin_ms
        );
        rounds.push(KillRound {
            node: nodes.node_id(victim),
            streams_owned: affected.len(),
            failover_ms: Vec::new(),
            rejoin_ms,
        });
        baseline = fleet.persisted();
    }
    let names = fleet.names.clone();
    let results = fleet.finish(Duration::from_secs(120)).await;

    let mut reports = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(run) => {
                if !run.report.ok() {
                    failures.push(format!(
                        "{}: {:?} {:?}",
                        names[i],
                        run.report.failure,
                        run.report.errors.first()
                    ));
                }
                reports.push(Some(run));
            }
            Err(e) => {
                failures.push(format!("{}: {e}", names[i]));
                reports.push(None);
            }
        }
    }
    // Failover per (round, producer): kill → first PERSISTED after the first interruption noticed
    // after the kill.
    let mut samples = Vec::new();
    let mut not_resumed = 0;
    for &(k, i, at) in &killed {
        let at_ms = ms(at);
        let time = reports[i].as_ref().and_then(|run| {
            let noticed = run.stats.interrupted_at_ms.iter().copied().find(|&t| t >= at_ms)?;
            run.report
                .fragments
                .iter()
                .filter_map(|f| f.persisted)
                .map(ms)
                .filter(|&p| p >= noticed)
                .min()
                .map(|p| p - at_ms)
        });
        match time {
            Some(t) => samples.push(Duration::from_millis(t)),
            None => not_resumed += 1,
        }
        if let Some(r) = rounds.get_mut(k) {
            r.failover_ms.push(time);
        }
    }
    // Every PERSISTED fragment listed exactly once, asked of the first node.
    let (mut persisted_total, mut listed_total, mut lost, mut duplicates, mut unacked) = (0, 0, 0, 0, 0);
    for (i, run) in reports.iter().enumerate() {
        let Some(run) = run else { continue };
        let persisted: Vec<i64> = run
            .report
            .fragments
            .iter()
            .filter(|f| f.persisted.is_some())
            .map(|f| f.timecode as i64)
            .collect();
        match listed_timestamps(&nodes.url(0), &names[i]).await {
            Ok(listed) => {
                let (l, d, u) = compare(&persisted, &listed);
                persisted_total += persisted.len();
                listed_total += listed.len();
                lost += l;
                duplicates += d;
                unacked += u;
            }
            Err(e) => failures.push(e),
        }
    }
    let runs = || reports.iter().flatten();
    let summary = FailoverSummary {
        nodes: nodes.len(),
        streams: names.len(),
        member_ttl_ms: opts.common.services.member_ttl_ms,
        kills: rounds,
        failover_ms: LatencySummary::of(samples),
        not_resumed,
        fragments_persisted: persisted_total,
        fragments_listed: listed_total,
        lost,
        duplicates,
        listed_unacked: unacked,
        reconnects: runs().map(|r| r.stats.reconnects).sum(),
        fragments_resent: runs().map(|r| r.stats.fragments_resent).sum(),
        fragments_dropped: runs().map(|r| r.stats.fragments_dropped).sum(),
        load_at_start,
        failures: failures.into_iter().take(10).collect(),
    };
    drop(nodes);
    if let Err(e) = super::print_summary(&summary, opts.common.json, FailoverSummary::table) {
        return fail(e);
    }
    if summary.failures.is_empty() && summary.lost == 0 && summary.duplicates == 0 && summary.not_resumed == 0
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One node's share of a `cluster-cpu` phase.
#[derive(Debug, Clone, Serialize)]
pub struct NodeCpu {
    /// The node.
    pub node: String,
    /// Producers that started on it.
    pub streams: usize,
    /// What they sent in the window, Mbit/s.
    pub mbit_per_s: f64,
    /// Its CPU time in the window, ms.
    pub cpu_ms: f64,
    /// `cpu_ms` per Mbit its producers sent in the window.
    pub cpu_ms_per_mbit: Option<f64>,
    /// Resident memory at the end of the window, MB.
    pub rss_mb: f64,
}

/// One phase of `cluster-cpu`.
#[derive(Debug, Clone, Serialize)]
pub struct CpuPhase {
    /// Nodes.
    pub nodes: usize,
    /// Window, seconds.
    pub window_secs: f64,
    /// Everything ingested in the window, Mbit/s.
    pub mbit_per_s: f64,
    /// All nodes' CPU in the window per Mbit ingested, ms.
    pub cpu_ms_per_mbit: Option<f64>,
    /// Fragments PERSISTED over the phase.
    pub fragments_persisted: usize,
    /// Per node.
    pub per_node: Vec<NodeCpu>,
    /// Load average when the window started.
    pub load_at_window: Option<[f64; 3]>,
    /// Failures.
    pub failures: Vec<String>,
}

/// The result of `bench cluster-cpu`.
#[derive(Debug, Clone, Serialize)]
pub struct CpuSummary {
    /// Producers.
    pub streams: usize,
    /// One node, then several.
    pub phases: Vec<CpuPhase>,
}

impl CpuSummary {
    fn table(&self) -> String {
        let mut out = format!("streams             {}\n", self.streams);
        for p in &self.phases {
            out.push_str(&format!(
                "{} node(s)          {:.2} Mbit/s over {:.0} s, {} fragments PERSISTED, {} ms CPU per Mbit (all nodes), load {}\n",
                p.nodes,
                p.mbit_per_s,
                p.window_secs,
                p.fragments_persisted,
                p.cpu_ms_per_mbit.map_or("-".to_owned(), |v| format!("{v:.2}")),
                p.load_at_window.map_or("-".to_owned(), |l| format!("{:.2}", l[0])),
            ));
            for n in &p.per_node {
                out.push_str(&format!(
                    "  {:<18} {} streams, {:.2} Mbit/s, {:.0} ms CPU, {} ms per Mbit, RSS {:.1} MB\n",
                    n.node,
                    n.streams,
                    n.mbit_per_s,
                    n.cpu_ms,
                    n.cpu_ms_per_mbit.map_or("-".to_owned(), |v| format!("{v:.2}")),
                    n.rss_mb
                ));
            }
            for f in &p.failures {
                out.push_str(&format!("  failure          {f}\n"));
            }
        }
        out
    }
}

/// One phase: `n` nodes, the producers for `opts.duration`, CPU over the window.
async fn cpu_phase(opts: &CpuOptions, prepared: Arc<PreparedFile>, n: usize) -> Result<CpuPhase, String> {
    let run = run_name(&format!("cpu{n}"));
    let nodes = ClusterNodes::start(&opts.common.services, n, &run)?;
    nodes.wait_converged(CONVERGE_BOUND).await?;
    let controls = controls(&nodes).await?;
    let alive: Alive = Arc::new((0..n).map(|_| AtomicBool::new(true)).collect());
    let names: Vec<String> = (0..opts.common.streams).map(|i| format!("{run}-cam-{i}")).collect();
    let fleet = Fleet::start(controls, alive, names, prepared, &opts.common, Some(opts.duration)).await?;
    let home: Vec<Option<usize>> = fleet.endpoints.iter().map(|u| nodes.index_of(u)).collect();
    tokio::time::sleep(opts.common.ramp_up + opts.warmup).await;
    let window =
        opts.duration.saturating_sub(opts.warmup + Duration::from_secs(1)).max(Duration::from_secs(1));
    let load_at_window = load_average();
    let read = |i: usize| nodes.pid(i).and_then(|p| ProcessReading::of(Some(p)));
    let per_stream_bytes = |f: &Fleet| f.trackers.iter().map(|t| t.progress().bytes).collect::<Vec<_>>();
    let cpu0: Vec<_> = (0..n).map(read).collect();
    let bytes0 = per_stream_bytes(&fleet);
    let t0 = Instant::now();
    tokio::time::sleep(window).await;
    let cpu1: Vec<_> = (0..n).map(read).collect();
    let bytes1 = per_stream_bytes(&fleet);
    let elapsed = t0.elapsed();
    let results = fleet.finish(Duration::from_secs(120)).await;
    let mut failures = Vec::new();
    let mut persisted = 0;
    for r in &results {
        match r {
            Ok(run) => {
                persisted += run.report.fragments.iter().filter(|f| f.persisted.is_some()).count();
                if run.stats.reconnects > 0 {
                    failures.push(format!("a producer reconnected {} times", run.stats.reconnects));
                }
                if !run.report.ok() {
                    failures.push(format!("{:?}", run.report.failure));
                }
            }
            Err(e) => failures.push(e.clone()),
        }
    }
    let mbit = |b: u64| b as f64 * 8.0 / 1e6;
    let mut per_node = Vec::new();
    let mut cpu_total = 0.0;
    for i in 0..n {
        let sent: u64 = (0..home.len()).filter(|&s| home[s] == Some(i)).map(|s| bytes1[s] - bytes0[s]).sum();
        let cpu_ms = match (cpu0[i], cpu1[i]) {
            (Some(a), Some(b)) => (b.cpu_seconds - a.cpu_seconds) * 1000.0,
            _ => f64::NAN,
        };
        cpu_total += cpu_ms;
        per_node.push(NodeCpu {
            node: nodes.node_id(i),
            streams: home.iter().filter(|&&h| h == Some(i)).count(),
            mbit_per_s: mbit_per_s(sent, elapsed),
            cpu_ms,
            cpu_ms_per_mbit: (sent > 0).then(|| cpu_ms / mbit(sent)),
            rss_mb: cpu1[i].map_or(0.0, |r| r.rss_bytes as f64 / 1e6),
        });
    }
    let sent: u64 = bytes1.iter().zip(&bytes0).map(|(b, a)| b - a).sum();
    failures.truncate(5);
    Ok(CpuPhase {
        nodes: n,
        window_secs: elapsed.as_secs_f64(),
        mbit_per_s: mbit_per_s(sent, elapsed),
        cpu_ms_per_mbit: (sent > 0).then(|| cpu_total / mbit(sent)),
        fragments_persisted: persisted,
        per_node,
        load_at_window,
        failures,
    })
}

/// Runs `openkvs bench cluster-cpu`.
pub async fn run_cpu(opts: CpuOptions) -> ExitCode {
    let prepared = match super::prepare_file(&opts.common.file, opts.common.fragment_policy).await {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let mut phases = Vec::new();
    for n in [1, opts.nodes] {
        eprintln!(
            "openkvs bench: {} producers of {} on {n} node(s) for {} s",
            opts.common.streams,
            opts.common.file.display(),
            opts.duration.as_secs()
        );
        match cpu_phase(&opts, prepared.clone(), n).await {
            Ok(p) => phases.push(p),
            Err(e) => return fail(e),
        }
    }
    let summary = CpuSummary { streams: opts.common.streams, phases };
    if let Err(e) = super::print_summary(&summary, opts.common.json, CpuSummary::table) {
        return fail(e);
    }
    if summary.phases.iter().all(|p| p.failures.is_empty()) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

#[cfg(test)]
mod tests {
    use super::compare;

    #[test]
    fn lost_duplicated_and_unacknowledged_fragments() {
        // Same instants rounded apart by 1 ms match.
        assert_eq!(compare(&[1000, 3000, 5000], &[1001, 2999, 5000]), (0, 0, 0));
        assert_eq!(compare(&[1000, 3000, 5000], &[1000, 5000]), (1, 0, 0));
        assert_eq!(compare(&[1000, 3000], &[1000, 1000, 3000, 7000]), (0, 1, 1));
    }
}
