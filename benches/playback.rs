//! Playback figures (design/0005-playback.md).
//!
//! `cargo bench --bench playback` measures, on an in-process server (SQLite, temporary data dir):
//! 1. **LIVE delay**: a producer streams `h264_640x360_20s_2sgop.mkv` in real time (frames paced
//!    like a camera) while a poller re-reads the HLS LIVE media playlist every 2 ms; for each
//!    fragment it reports the time from the PERSISTED ACK reaching the producer to the fragment's
//!    first appearance in the playlist (negative: the playlist showed it before the ACK arrived).
//! 2. **Segment building**: fMP4 media segments, MPEG-TS segments and a progressive MP4 of the
//!    same fixture, built from its stored form (MB/s of media, one core).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
use bytes::Bytes;
use openkvs::app::Config;
use openkvs::app::Server;
use openkvs::media::codec::TrackRun;
use openkvs::media::fragment::TimecodeType;
use openkvs::media::mkv::rewrite::FragmentPolicy;
use openkvs::media::mkv::{DemuxLimits, MkvDemuxer, MkvEvent};
use openkvs::media::{fmp4, mpegts, samples};
use openkvs::producer::body::{Retimer, reader_pieces};
use openkvs::producer::put::now_ms;
use openkvs::producer::session::{SessionOptions, Target, Tracker, put_media};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/h264_640x360_20s_2sgop.mkv")
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

async fn live_delay() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        Config { listen: "127.0.0.1:0".parse().unwrap(), data_dir: dir.path().into(), ..Config::default() };
    let server = Server::bind(&config).await.unwrap();
    let addr = server.local_addr();
    let endpoint = format!("http://{addr}");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stop_rx.await;
    }));
    let creds = Credentials::new("openkvs", "openkvs-secret", None, None, "bench");
    let kvs = aws_sdk_kinesisvideo::Client::from_conf(
        aws_sdk_kinesisvideo::Config::builder()
            .http_client(openkvs::producer::control::sdk_http_client())
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(creds.clone())
            .endpoint_url(&endpoint)
            .build(),
    );
    kvs.create_stream().stream_name("live").data_retention_in_hours(24).send().await.unwrap();
    let archived = aws_sdk_kinesisvideoarchivedmedia::Client::from_conf(
        aws_sdk_kinesisvideoarchivedmedia::Config::builder()
            .http_client(openkvs::producer::control::sdk_http_client())
            .behavior_version(aws_sdk_kinesisvideoarchivedmedia::config::BehaviorVersion::latest())
            .region(aws_sdk_kinesisvideoarchivedmedia::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_kinesisvideoarchivedmedia::config::Credentials::new(
                "openkvs",
                "openkvs-secret",
                None,
                None,
                "bench",
            ))
            .endpoint_url(&endpoint)
            .build(),
    );

    let target = Target {
        data_endpoint: endpoint.clone(),
        stream_name: "live".into(),
        region: "us-east-1".into(),
        credentials: creds,
    };
    let start_ms = now_ms();
    let options = SessionOptions { producer_start_ms: start_ms, realtime: true, ..SessionOptions::default() };
    let file = tokio::fs::File::open(fixture()).await.unwrap();
    let retimer = Retimer::new(TimecodeType::Absolute, start_ms);
    let pieces = Box::pin(reader_pieces(file, retimer, FragmentPolicy::default()));
    let tracker = Tracker::new();
    let t0 = Instant::now();
    let producer = tokio::spawn({
        let tracker = tracker.clone();
        async move { put_media(&target, &options, pieces, tracker).await.unwrap() }
    });
    // A LIVE session needs data: wait for the first fragment.
    while tracker.progress().persisted == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let url = archived
        .get_hls_streaming_session_url()
        .stream_name("live")
        .send()
        .await
        .unwrap()
        .hls_streaming_session_url
        .unwrap();
    let token = url.split("SessionToken=").nth(1).unwrap().to_owned();
    let path = format!("/hls/v1/getHLSMediaPlaylist.m3u8?SessionToken={token}&TrackNumber=1");
    let mut seen: std::collections::HashMap<String, Duration> = Default::default();
    let mut request_ms = Vec::new();
    while !producer.is_finished() {
        let t = Instant::now();
        let body = http_get(addr, &path).await;
        request_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let now = t0.elapsed();
        for n in body.lines().filter_map(|l| l.strip_prefix("getMP4MediaFragment.mp4?FragmentNumber=")) {
            let n = n.split('&').next().unwrap().to_owned();
            seen.entry(n).or_insert(now);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let report = producer.await.unwrap();
    let mut delays = Vec::new();
    for f in &report.fragments {
        let (Some(n), Some(p)) = (&f.fragment_number, f.persisted) else { continue };
        if let Some(s) = seen.get(n) {
            delays.push((s.as_secs_f64() - p.as_secs_f64()) * 1000.0);
        }
    }
    let _ = stop_tx.send(());
    let _ = task.await;
    println!(
        "LIVE delay PERSISTED -> listed in the HLS media playlist ({} fragments, 2 ms polling): \
         p50 {:.1} ms, max {:.1} ms; playlist request p50 {:.2} ms, p99 {:.2} ms",
        delays.len(),
        percentile(&mut delays.clone(), 0.5),
        delays.iter().cloned().fold(f64::MIN, f64::max),
        percentile(&mut request_ms.clone(), 0.5),
        percentile(&mut request_ms, 0.99),
    );
}

/// The fixture as ingest stores it: header set bytes and Cluster elements.
fn stored_form() -> (Vec<u8>, Vec<Bytes>) {
    let file = std::fs::read(fixture()).unwrap();
    let mut d = MkvDemuxer::new(DemuxLimits::default());
    d.push(Bytes::copy_from_slice(&file));
    d.finish();
    let (mut header, mut clusters, mut start) = (Vec::new(), Vec::new(), None);
    while let Ok(Some(ev)) = d.pull() {
        match ev {
            MkvEvent::EbmlHeader { raw, .. } => {
                header.extend_from_slice(&raw);
                header.extend_from_slice(&openkvs::media::mkv::rewrite::unknown_size_segment_header());
            }
            MkvEvent::Info { raw, .. } | MkvEvent::Tracks { raw, .. } => header.extend_from_slice(&raw),
            MkvEvent::ClusterStart { offset, .. } => start = Some(offset as usize),
            MkvEvent::ClusterEnd { end_offset } => {
                if let Some(s) = start.take() {
                    clusters.push(Bytes::copy_from_slice(&file[s..end_offset as usize]));
                }
            }
            _ => {}
        }
    }
    (header, clusters)
}

fn segment_building() {
    let (header, clusters) = stored_form();
    let bytes: usize = clusters.iter().map(|c| c.len()).sum();
    let rounds = 200;
    let time = |name: &str, f: &dyn Fn()| {
        let t = Instant::now();
        for _ in 0..rounds {
            f();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{name}: {:.0} MB/s of media ({:.1} µs per 2 s fragment)",
            (bytes * rounds) as f64 / secs / 1e6,
            secs * 1e6 / (rounds * clusters.len()) as f64
        );
    };
    let media: Vec<_> = clusters
        .iter()
        .enumerate()
        .map(|(i, c)| {
            samples::fragment_media(&header, c.clone(), 1_700_000_000_000 + 2000 * i as i64).unwrap()
        })
        .collect();
    time("demux stored fragment -> samples", &|| {
        for (i, c) in clusters.iter().enumerate() {
            std::hint::black_box(samples::fragment_media(&header, c.clone(), 2000 * i as i64).unwrap());
        }
    });
    time("fMP4 media segment (moof+mdat)", &|| {
        for m in &media {
            let run = TrackRun { track: &m.tracks[0], samples: &m.samples[0] };
            std::hint::black_box(fmp4::media_segment(1, &[run]).unwrap());
        }
    });
    time("MPEG-TS segment", &|| {
        for m in &media {
            let run = TrackRun { track: &m.tracks[0], samples: &m.samples[0] };
            std::hint::black_box(mpegts::ts_segment(&[run], &mut mpegts::TsContinuity::default()).unwrap());
        }
    });
    let all: Vec<_> = media.iter().flat_map(|m| m.samples[0].iter().cloned()).collect();
    let track = Arc::new(media[0].tracks[0].clone());
    time("progressive MP4 (GetClip) of all 10 fragments", &|| {
        std::hint::black_box(fmp4::progressive_mp4(&[TrackRun { track: &track, samples: &all }]).unwrap());
    });
}

fn main() {
    segment_building();
    tokio::runtime::Runtime::new().unwrap().block_on(live_delay());
}
