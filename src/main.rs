//! The `openkvs` binary: parses the command line, loads configuration, sets up logging and hands
//! over to [`openkvs::app`] (`serve`), [`openkvs::producer`] (`put`, `sample`) or [`openkvs::bench`]
//! (`bench …`). Nothing else lives here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use openkvs::app::{Config, Overrides, Server};
use openkvs::auth::AuthMode;
use openkvs::bench::get_media::GetMediaBenchOptions;
use openkvs::bench::hls::HlsBenchOptions;
use openkvs::bench::ingest::BenchOptions;
use openkvs::bench::whep::{ServerChoice, WhepBenchOptions};
use openkvs::media::fragment::TimecodeType;
use openkvs::media::mkv::rewrite::{DEFAULT_MAX_FRAGMENT_DURATION_MS, FragmentPolicy};
use openkvs::producer::put::{Input, PutOptions};
use openkvs::producer::sample::SampleOptions;

#[derive(Parser, Debug)]
#[command(name = "openkvs", version, about = "A self-hosted Kinesis Video Streams compatible server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Stream a Matroska file (or stdin) to a KVS stream with PutMedia, like the KVS C producer.
    Put(PutArgs),
    /// Write a sample video to stream (H.264 640x360 Matroska, a key frame every 2 s).
    Sample(SampleArgs),
    /// Run the KVS Edge Agent's recorder for RTSP cameras as its own process: it records the edge
    /// configurations (StartEdgeConfigurationUpdate) of one hub device and uploads them with PutMedia.
    Edge(EdgeArgs),
    /// Load generators.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Args, Debug)]
struct EdgeArgs {
    /// The hub device this agent runs as (the HubDeviceArn of the edge configurations), e.g.
    /// arn:aws:iot:us-east-1:000000000000:thing/site-1.
    #[arg(long)]
    hub_device_arn: String,
    /// The openkvs server URL (control plane; PutMedia goes to the data endpoint it returns).
    #[arg(long)]
    endpoint: String,
    /// Region [default: AWS_REGION, AWS_DEFAULT_REGION, the profile, else us-east-1].
    #[arg(long)]
    region: Option<String>,
    /// Where the local media buffers live.
    #[arg(long, default_value = "./edge-buffer")]
    buffer_dir: PathBuf,
    /// Seconds between two looks at the configurations.
    #[arg(long, default_value_t = 5)]
    poll_interval_secs: u64,
    /// Longest wait between reconnection attempts to a camera or the server, seconds.
    #[arg(long, default_value_t = 30)]
    max_backoff_secs: u64,
    /// Reconnect a camera that sent no frame for this many seconds.
    #[arg(long, default_value_t = 10)]
    stall_timeout_secs: u64,
}

#[derive(Args, Debug)]
struct SampleArgs {
    /// Output file, or - for stdout.
    #[arg(long, default_value = "sample.mkv")]
    out: PathBuf,
    /// Length in seconds, rounded up to whole 2 s fragments; longer than 20 s repeats the loop.
    #[arg(long, default_value_t = 20)]
    seconds: u32,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Args, Debug)]
struct PutArgs {
    /// Stream name.
    #[arg(long)]
    stream: String,
    /// Control-plane URL (like AWS_ENDPOINT_URL) [default: AWS].
    #[arg(long)]
    endpoint: Option<String>,
    /// Region [default: the AWS configuration chain; with --endpoint: AWS_REGION, AWS_DEFAULT_REGION,
    /// the profile, else us-east-1 (never the EC2 instance metadata service)].
    #[arg(long)]
    region: Option<String>,
    /// Create the stream if it does not exist.
    #[arg(long)]
    create: bool,
    /// Data retention of a stream made by --create, hours.
    #[arg(long, default_value_t = 24, requires = "create")]
    retention_hours: u32,
    /// Send each frame when its timecode is due (live-like ingest, as a camera) instead of as fast as
    /// possible.
    #[arg(long)]
    realtime: bool,
    /// Cluster timecodes as epoch milliseconds (ABSOLUTE, the producer SDK default) or relative
    /// to the producer start timestamp.
    #[arg(long, default_value = "ABSOLUTE", value_parser = parse_timecode_type)]
    timecode_type: TimecodeType,
    #[command(flatten)]
    fragments: FragmentArgs,
    #[command(flatten)]
    reconnect: ReconnectArgs,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Matroska file, or - for stdin (e.g. ffmpeg … -f matroska -).
    input: PathBuf,
}

/// How a producer survives a lost connection or node: it asks for the data endpoint again and
/// resends every fragment not yet PERSISTED, as the KVS producer SDK does.
#[derive(Args, Debug, Clone, Copy)]
struct ReconnectArgs {
    /// Most bytes of fragments kept for resending until PERSISTED. When full: without --realtime,
    /// reading the input waits for ACKs; with --realtime, the oldest fragments are dropped.
    #[arg(long, value_name = "BYTES", default_value_t = openkvs::producer::reconnect::DEFAULT_MAX_BUFFER_BYTES)]
    max_buffer_bytes: u64,
    /// Give up reconnecting after this many seconds without a PERSISTED ACK.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    reconnect_timeout: u64,
}

/// Where fragments are cut (whatever the input's own Clusters), as the KVS producer SDK does.
#[derive(Args, Debug, Clone, Copy)]
struct FragmentArgs {
    /// Start a new fragment at every Nth key frame of the video track.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    key_frames_per_fragment: u32,
    /// Start a new fragment only at a key frame at least MS after the fragment's start; without a
    /// video track, cut a fragment every MS [default: every key frame; 2000 without video].
    #[arg(long, value_name = "MS")]
    fragment_duration: Option<u64>,
    /// Cut a fragment that reaches MS even where no key frame comes (a GOP longer than this makes
    /// fragments that do not start on a key frame). KVS documents 10 s; openkvs accepts 20 s.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_MAX_FRAGMENT_DURATION_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_fragment_duration: u64,
}

impl FragmentArgs {
    fn policy(self) -> FragmentPolicy {
        FragmentPolicy {
            key_frames_per_fragment: self.key_frames_per_fragment,
            min_duration_ms: self.fragment_duration,
            max_duration_ms: self.max_fragment_duration,
        }
    }
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// N concurrent producers streaming one file to streams bench-0 … bench-(N-1).
    Ingest(BenchIngestArgs),
    /// N concurrent live GetMedia readers (NOW) of one stream: frame latency, bytes/s.
    Getmedia(BenchGetMediaArgs),
    /// N simulated LIVE HLS viewers of one stream: requests/s, freshness, segment fetch latency.
    Hls(BenchHlsArgs),
    /// N WHEP (WebRTC) viewers of one stream the bench feeds in real time: drops, frame latency,
    /// server CPU. Starts its own `openkvs serve` unless --endpoint is given.
    Whep(BenchWhepArgs),
    /// Failover on a cluster it starts (Postgres, S3, NATS given): N reconnecting producers in real
    /// time, K times kill -9 the node owning the most streams and start it again; failover time
    /// per producer and every PERSISTED fragment listed exactly once.
    Failover(BenchFailoverArgs),
    /// Server CPU per ingested Mbit: the same N real-time producers on a 1-node cluster, then on
    /// an M-node one it starts (Postgres, S3, NATS given).
    ClusterCpu(BenchClusterCpuArgs),
}

#[derive(Args, Debug)]
struct BenchClusterArgs {
    /// Postgres database the nodes share (it must exist; the first node migrates it).
    #[arg(long, env = "OPENKVS_BENCH_DATABASE_URL")]
    database_url: String,
    /// S3 endpoint the nodes share.
    #[arg(long, default_value = "http://127.0.0.1:8333")]
    s3_endpoint: String,
    /// Existing S3 bucket (each run writes under its own prefix).
    #[arg(long, default_value = "openkvs")]
    s3_bucket: String,
    /// S3 access key id.
    #[arg(long, default_value = "openkvs")]
    s3_access_key_id: String,
    /// S3 secret access key.
    #[arg(long, default_value = "openkvs-secret")]
    s3_secret_access_key: String,
    /// NATS server.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// The nodes' `[cluster] heartbeat_interval_ms`.
    #[arg(long, default_value_t = 1_000)]
    heartbeat_ms: u64,
    /// The nodes' `[cluster] member_ttl_ms` (a killed node's streams move after this).
    #[arg(long, default_value_t = 5_000)]
    member_ttl_ms: u64,
    /// Matroska file every producer sends in real time, longer than the run (`openkvs sample
    /// --seconds 600`).
    #[arg(long)]
    file: PathBuf,
    /// Producers, one stream each.
    #[arg(long, default_value_t = 20)]
    streams: usize,
    /// Spread the producer starts over this many seconds.
    #[arg(long, default_value_t = 5.0)]
    ramp_up_secs: f64,
    #[command(flatten)]
    fragments: FragmentArgs,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

impl BenchClusterArgs {
    fn options(self) -> openkvs::bench::cluster::ClusterBenchOptions {
        openkvs::bench::cluster::ClusterBenchOptions {
            services: openkvs::bench::cluster_nodes::ClusterServices {
                database_url: self.database_url,
                s3_endpoint: self.s3_endpoint,
                s3_bucket: self.s3_bucket,
                s3_access_key_id: self.s3_access_key_id,
                s3_secret_access_key: self.s3_secret_access_key,
                nats_url: self.nats_url,
                heartbeat_ms: self.heartbeat_ms,
                member_ttl_ms: self.member_ttl_ms,
            },
            file: self.file,
            fragment_policy: self.fragments.policy(),
            streams: self.streams,
            ramp_up: std::time::Duration::try_from_secs_f64(self.ramp_up_secs).unwrap_or_default(),
            json: self.json,
        }
    }
}

#[derive(Args, Debug)]
struct BenchFailoverArgs {
    #[command(flatten)]
    cluster: BenchClusterArgs,
    /// Nodes.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Rounds of kill -9 and restart.
    #[arg(long, default_value_t = 10)]
    kills: usize,
    /// A round fails when a killed node's producers have no PERSISTED ACK again within this many
    /// seconds.
    #[arg(long, default_value_t = 30)]
    resume_bound_secs: u64,
}

#[derive(Args, Debug)]
struct BenchClusterCpuArgs {
    #[command(flatten)]
    cluster: BenchClusterArgs,
    /// Nodes of the second phase.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Seconds each phase ingests.
    #[arg(long, default_value_t = 40)]
    duration_secs: u64,
    /// CPU is counted from this many seconds after the ramp-up.
    #[arg(long, default_value_t = 5)]
    warmup_secs: u64,
}

#[derive(Args, Debug)]
struct BenchWhepArgs {
    /// Control-plane URL of a running server [default: start `openkvs serve` on 127.0.0.1, port 0,
    /// with a temporary data dir, and sign with the development key].
    #[arg(long)]
    endpoint: Option<String>,
    /// With --endpoint: the server's process id, for its CPU time and memory (/proc/PID).
    #[arg(long, requires = "endpoint")]
    server_pid: Option<u32>,
    /// Region [default: the AWS configuration chain, else us-east-1].
    #[arg(long)]
    region: Option<String>,
    /// Stream fed and watched (created with 1 h retention if missing).
    #[arg(long, default_value = "bench-whep")]
    stream: String,
    /// Matroska file fed in real time, pass after pass (e.g. a 1.5 Mbit/s H.264 file).
    #[arg(long)]
    file: PathBuf,
    /// Concurrent viewers.
    #[arg(long, default_value_t = 100)]
    viewers: usize,
    /// Seconds of feeding alone before the viewers start (the feed-only CPU baseline).
    #[arg(long, default_value_t = 5.0)]
    warmup_secs: f64,
    /// How long the viewers watch, seconds.
    #[arg(long, default_value_t = 30.0)]
    duration_secs: f64,
    /// Spread the viewer starts evenly over this many seconds.
    #[arg(long, default_value_t = 0.0)]
    ramp_up_secs: f64,
    /// A viewer with no frame for longer than this many seconds is dropped (longer than a GOP:
    /// after connecting, a viewer waits for the next key frame).
    #[arg(long, default_value_t = 5.0)]
    stall_secs: f64,
    /// A viewer not connected (ICE + DTLS) this many seconds after its POST is dropped.
    #[arg(long, default_value_t = 10.0)]
    connect_timeout_secs: f64,
    #[command(flatten)]
    fragments: FragmentArgs,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct BenchGetMediaArgs {
    /// Control-plane URL.
    #[arg(long)]
    endpoint: String,
    /// Region [default: the AWS configuration chain, else us-east-1].
    #[arg(long)]
    region: Option<String>,
    /// Stream to read (run `openkvs put --realtime` into it meanwhile); repeat for several.
    #[arg(long, required = true)]
    stream: Vec<String>,
    /// Concurrent readers of each stream.
    #[arg(long, default_value_t = 1)]
    readers: usize,
    /// Read from this node (base URL) instead of the stream's GET_MEDIA data endpoint, e.g.
    /// another node of a cluster than the one ingesting.
    #[arg(long)]
    data_endpoint: Option<String>,
    /// How long to read, seconds.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct BenchHlsArgs {
    /// Control-plane URL.
    #[arg(long)]
    endpoint: String,
    /// Region [default: the AWS configuration chain, else us-east-1].
    #[arg(long)]
    region: Option<String>,
    /// Stream to watch (run `openkvs put --realtime` into it meanwhile).
    #[arg(long)]
    stream: String,
    /// Concurrent viewers.
    #[arg(long, default_value_t = 1)]
    viewers: usize,
    /// How long to watch, seconds.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct BenchIngestArgs {
    /// Control-plane URL.
    #[arg(long)]
    endpoint: String,
    /// Region [default: the AWS configuration chain, else us-east-1].
    #[arg(long)]
    region: Option<String>,
    /// Concurrent producers.
    #[arg(long, default_value_t = 1)]
    streams: usize,
    /// Matroska file every producer sends.
    #[arg(long)]
    file: PathBuf,
    /// Pace frames by their timecodes, as a camera sends them.
    #[arg(long)]
    realtime: bool,
    /// Stop sending new clusters after this many seconds.
    #[arg(long)]
    duration_secs: Option<u64>,
    /// Spread the session starts evenly over this many seconds.
    #[arg(long, default_value_t = 0.0)]
    ramp_up_secs: f64,
    #[command(flatten)]
    fragments: FragmentArgs,
    #[command(flatten)]
    reconnect: ReconnectArgs,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn parse_timecode_type(s: &str) -> Result<TimecodeType, String> {
    match s.to_ascii_uppercase().as_str() {
        "ABSOLUTE" => Ok(TimecodeType::Absolute),
        "RELATIVE" => Ok(TimecodeType::Relative),
        _ => Err(format!("timecode type must be ABSOLUTE or RELATIVE, not '{s}'")),
    }
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Configuration file (TOML); see config/openkvs.toml for every key.
    #[arg(long, env = "OPENKVS_CONFIG")]
    config: Option<PathBuf>,
    /// Plain-HTTP listen address [default: 127.0.0.1:4567].
    #[arg(long, env = "OPENKVS_LISTEN")]
    listen: Option<SocketAddr>,
    /// Directory for the SQLite index and the fragment store [default: ./data].
    #[arg(long, env = "OPENKVS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Index database: postgres://… or sqlite://… [default: SQLite in the data dir].
    #[arg(long, env = "OPENKVS_DATABASE_URL")]
    database_url: Option<String>,
    /// Base URL GetDataEndpoint returns (scheme://host[:port]).
    #[arg(long, env = "OPENKVS_PUBLIC_URL")]
    public_url: Option<String>,
    /// Account id used in ARNs [default: 000000000000].
    #[arg(long, env = "OPENKVS_ACCOUNT_ID")]
    account_id: Option<String>,
    /// PEM certificate chain for HTTPS.
    #[arg(long, env = "OPENKVS_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, env = "OPENKVS_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// HTTPS listen address; without it, --listen itself serves HTTPS when a certificate is given.
    #[arg(long, env = "OPENKVS_TLS_LISTEN")]
    tls_listen: Option<SocketAddr>,
    /// Allow the development key on a non-loopback address.
    #[arg(long, env = "OPENKVS_ALLOW_DEV_KEYS")]
    allow_dev_keys: bool,
    /// `keys` (verify signatures) or `open` (accept any well-formed signature).
    #[arg(long, env = "OPENKVS_AUTH_MODE", value_parser = parse_auth_mode)]
    auth_mode: Option<AuthMode>,
    /// A separate listener for /metrics, /health and /ready [default: none; they are served on
    /// --listen].
    #[arg(long, env = "OPENKVS_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Fragment store: `local` (segment files in the data dir) or `s3` [default: local].
    #[arg(long, env = "OPENKVS_STORE_KIND")]
    store_kind: Option<openkvs::archive::StoreKind>,
    /// S3 bucket of the `s3` store.
    #[arg(long, env = "OPENKVS_S3_BUCKET")]
    s3_bucket: Option<String>,
    /// Key prefix of the `s3` store's objects.
    #[arg(long, env = "OPENKVS_S3_PREFIX")]
    s3_prefix: Option<String>,
    /// S3 endpoint URL (an S3-compatible server such as SeaweedFS or MinIO) [default: AWS S3].
    #[arg(long, env = "OPENKVS_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// Region the `s3` store signs for [default: us-east-1].
    #[arg(long, env = "OPENKVS_S3_REGION")]
    s3_region: Option<String>,
    /// NATS server of a cluster of nodes; turns cluster mode on (needs Postgres and S3).
    #[arg(long, env = "OPENKVS_CLUSTER_NATS_URL")]
    cluster_nats_url: Option<String>,
    /// This node's id in the cluster [default: HOSTNAME-PORT].
    #[arg(long, env = "OPENKVS_CLUSTER_NODE_ID")]
    cluster_node_id: Option<String>,
    /// The URL other nodes and clients reach this node at [default: public_url, else the listener].
    #[arg(long, env = "OPENKVS_CLUSTER_ADVERTISE_URL")]
    cluster_advertise_url: Option<String>,
}

fn parse_auth_mode(s: &str) -> Result<AuthMode, String> {
    match s {
        "keys" => Ok(AuthMode::Keys),
        "open" => Ok(AuthMode::Open),
        _ => Err(format!("auth mode must be 'keys' or 'open', not '{s}'")),
    }
}

/// One malloc arena for the whole process, unless the operator chose otherwise with glibc's
/// `MALLOC_ARENA_MAX`. glibc gives each thread that allocates under contention an arena of its
/// own, and each arena keeps the freed memory of its own peaks; a PutMedia stream's buffers are
/// allocated on whichever tokio worker runs its tasks. Small allocations stay lock-free in glibc's
/// per-thread cache. Measured in docs/BENCHMARKS.md ("Memory per stream"): RSS per 1.5 Mbit/s
/// stream 132–135 → 114–118 KiB, server CPU per Mbit not higher.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called before any thread is started.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    // The client commands print their own lines; only warnings from libraries by default.
    // rustls warns `Illegal SNI extension: ignoring IP address presented as hostname` for every
    // libcurl / libwebsockets client that connects by IP (RFC 6066 forbids IP literals in SNI, the
    // clients send them anyway, and the handshake goes on): nothing an operator can act on.
    init_logging(if matches!(cli.command, Command::Serve(_) | Command::Edge(_)) {
        "info,rustls::msgs::handshake=error"
    } else {
        "warn"
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("openkvs: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Sample(args) => openkvs::producer::sample::run(&SampleOptions {
            out: args.out,
            seconds: args.seconds,
            force: args.force,
        }),
        Command::Serve(args) => runtime.block_on(serve(*args)),
        Command::Edge(args) => {
            runtime.block_on(openkvs::edge::standalone::run(openkvs::edge::standalone::StandaloneOptions {
                hub_device_arn: args.hub_device_arn,
                endpoint: args.endpoint,
                region: args.region,
                buffer_dir: args.buffer_dir,
                poll_interval: std::time::Duration::from_secs(args.poll_interval_secs.max(1)),
                timing: openkvs::edge::recorder::JobTiming {
                    max_backoff: std::time::Duration::from_secs(args.max_backoff_secs.max(1)),
                    stall_timeout: std::time::Duration::from_secs(args.stall_timeout_secs.max(1)),
                },
            }))
        }
        Command::Put(args) => runtime.block_on(openkvs::producer::put::run(PutOptions {
            stream: args.stream,
            endpoint: args.endpoint,
            region: args.region,
            create: args.create,
            retention_hours: args.retention_hours,
            realtime: args.realtime,
            timecode_type: args.timecode_type,
            fragment_policy: args.fragments.policy(),
            json: args.json,
            max_buffer_bytes: args.reconnect.max_buffer_bytes,
            reconnect_timeout: std::time::Duration::from_secs(args.reconnect.reconnect_timeout),
            input: if args.input.as_os_str() == "-" { Input::Stdin } else { Input::File(args.input) },
        })),
        Command::Bench(BenchCommand::Ingest(args)) => {
            runtime.block_on(openkvs::bench::ingest::run(BenchOptions {
                endpoint: args.endpoint,
                region: args.region,
                streams: args.streams,
                file: args.file,
                realtime: args.realtime,
                duration: args.duration_secs.map(std::time::Duration::from_secs),
                ramp_up: std::time::Duration::try_from_secs_f64(args.ramp_up_secs).unwrap_or_default(),
                fragment_policy: args.fragments.policy(),
                json: args.json,
                max_buffer_bytes: args.reconnect.max_buffer_bytes,
                reconnect_timeout: std::time::Duration::from_secs(args.reconnect.reconnect_timeout),
            }))
        }
        Command::Bench(BenchCommand::Getmedia(args)) => {
            runtime.block_on(openkvs::bench::get_media::run(GetMediaBenchOptions {
                endpoint: args.endpoint,
                region: args.region,
                streams: args.stream,
                readers: args.readers,
                data_endpoint: args.data_endpoint,
                duration: std::time::Duration::from_secs(args.duration_secs),
                json: args.json,
            }))
        }
        Command::Bench(BenchCommand::Whep(args)) => {
            let secs = |s: f64| std::time::Duration::try_from_secs_f64(s).unwrap_or_default();
            runtime.block_on(openkvs::bench::whep::run(WhepBenchOptions {
                server: match args.endpoint {
                    Some(url) => ServerChoice::Endpoint { url, pid: args.server_pid },
                    None => ServerChoice::Child,
                },
                region: args.region,
                stream: args.stream,
                file: args.file,
                fragment_policy: args.fragments.policy(),
                viewers: args.viewers,
                warmup: secs(args.warmup_secs),
                duration: secs(args.duration_secs),
                ramp_up: secs(args.ramp_up_secs),
                stall: secs(args.stall_secs),
                connect_timeout: secs(args.connect_timeout_secs),
                json: args.json,
            }))
        }
        Command::Bench(BenchCommand::Failover(args)) => runtime.block_on(
            openkvs::bench::cluster::run_failover(openkvs::bench::cluster::FailoverOptions {
                common: args.cluster.options(),
                nodes: args.nodes,
                kills: args.kills,
                resume_bound: std::time::Duration::from_secs(args.resume_bound_secs),
            }),
        ),
        Command::Bench(BenchCommand::ClusterCpu(args)) => {
            runtime.block_on(openkvs::bench::cluster::run_cpu(openkvs::bench::cluster::CpuOptions {
                common: args.cluster.options(),
                nodes: args.nodes,
                duration: std::time::Duration::from_secs(args.duration_secs),
                warmup: std::time::Duration::from_secs(args.warmup_secs),
            }))
        }
        Command::Bench(BenchCommand::Hls(args)) => {
            runtime.block_on(openkvs::bench::hls::run(HlsBenchOptions {
                endpoint: args.endpoint,
                region: args.region,
                stream: args.stream,
                viewers: args.viewers,
                duration: std::time::Duration::from_secs(args.duration_secs),
                json: args.json,
            }))
        }
    }
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPENKVS_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(args: ServeArgs) -> ExitCode {
    let database_url =
        args.database_url.or_else(|| std::env::var("DATABASE_URL").ok().filter(|s| !s.is_empty()));
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url,
        public_url: args.public_url,
        account_id: args.account_id,
        allow_dev_keys: args.allow_dev_keys,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        tls_listen: args.tls_listen,
        auth_mode: args.auth_mode,
        metrics_listen: args.metrics_listen,
        store_kind: args.store_kind,
        s3_bucket: args.s3_bucket,
        s3_prefix: args.s3_prefix,
        s3_endpoint: args.s3_endpoint,
        s3_region: args.s3_region,
        cluster_nats_url: args.cluster_nats_url,
        cluster_node_id: args.cluster_node_id,
        cluster_advertise_url: args.cluster_advertise_url,
    };
    let config = match Config::load(args.config.as_deref(), overrides) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match Server::bind(&config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let credentials = match config.auth.mode {
        AuthMode::Keys => format!(
            "keys ({} configured{})",
            config.auth.keys.len(),
            if config.has_dev_key() {
                ", development key openkvs enabled (loopback only unless --allow-dev-keys)"
            } else {
                ""
            }
        ),
        AuthMode::Open => "OPEN (any well-formed signature is accepted)".to_owned(),
    };
    if config.auth.mode == AuthMode::Open {
        tracing::warn!("auth.mode = \"open\": signatures are NOT verified; use only for local testing");
    }
    tracing::info!(
        "openkvs listening on {} | index: {} ({}) | store: {} | encryption: {} | credentials: {}",
        server.local_urls().join(", "),
        server.index_backend(),
        openkvs::archive::redact_url(&config.effective_database_url()),
        server.store_description(),
        server.encryption_description(),
        credentials
    );
    server.run(shutdown_signal()).await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// Resolves on the first SIGTERM or SIGINT and starts the graceful shutdown; a second signal while
/// it runs exits the process at once (status 130).
async fn shutdown_signal() {
    first_signal().await;
    tokio::spawn(async {
        first_signal().await;
        tracing::warn!("second signal: exiting immediately");
        std::process::exit(130);
    });
}

async fn first_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
