//! The edge recorder end to end against a real RTSP camera (GStreamer's RTSP server serving a test
//! pattern, `tests/rtsp/server.py`): the KVS Edge Agent operations configure it, it records into
//! the stream, and the recording plays back (HLS decoded frame by frame by ffmpeg, GetImages).
//! Faults: wrong password, unreachable camera, missing secret, a camera that restarts, RTP packet
//! loss, a camera that comes back with another codec; a scheduled upload window; deletion;
//! `openkvs edge` as a separate process with secrets from the server.
//!
//! Every wait polls with a deadline; cameras and servers listen on free ports.

mod common;

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{
    ContainerFormat, Format, HlsDiscontinuityMode, HlsFragmentSelector, HlsFragmentSelectorType,
    HlsPlaybackMode, HlsTimestampRange, ImageSelectorType,
};
use base64::Engine;
use common::rtsp::RtspCamera;
use common::{Backend, RawResponse, TestServer, raw_request, signed_json_post, signed_json11_post};
use serde_json::{Value, json};

const HUB: &str = "arn:aws:iot:us-east-1:000000000000:thing/openkvs";
const KEY: &str = "openkvs";
const SECRET: &str = "openkvs-secret";
const PASSWORD: &str = "pw-Zq9x";

fn secret_arn(name: &str) -> String {
    format!("arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}")
}

/// A server whose agent polls every second and retries quickly.
async fn server(backend: Backend, secrets: &[(&str, String)]) -> TestServer {
    let secrets: Vec<(String, String)> = secrets.iter().map(|(n, v)| (secret_arn(n), v.clone())).collect();
    TestServer::start_with(backend, move |c| {
        c.edge.poll_interval_secs = 1;
        c.edge.max_backoff_secs = 1;
        c.edge.stall_timeout_secs = 3;
        c.edge.secrets.extend(secrets);
    })
    .await
}

async fn post(srv: &TestServer, path: &str, body: Value) -> RawResponse {
    let req =
        signed_json_post(srv.addr, path, &body.to_string(), "kinesisvideo", KEY, SECRET, SystemTime::now());
    raw_request(srv.addr, &req).await
}

/// A secretsmanager call (AWS JSON 1.1 on `POST /`).
async fn secrets_call(srv: &TestServer, target: &str, body: Value) -> RawResponse {
    let target = format!("secretsmanager.{target}");
    let req = signed_json11_post(
        srv.addr,
        &target,
        &body.to_string(),
        "secretsmanager",
        KEY,
        SECRET,
        SystemTime::now(),
    );
    raw_request(srv.addr, &req).await
}

async fn create_stream(srv: &TestServer, name: &str) {
    srv.kvs().create_stream().stream_name(name).data_retention_in_hours(24).send().await.unwrap();
}

fn edge_config(secret: &str, uploader_cron: Option<&str>) -> Value {
    let mut c = json!({
        "HubDeviceArn": HUB,
        "RecorderConfig": {"MediaSourceConfig": {"MediaUriSecretArn": secret_arn(secret), "MediaUriType": "RTSP_URI"}},
        "DeletionConfig": {"LocalSizeConfig": {"MaxLocalMediaSizeInMB": 64, "StrategyOnFullSize": "DELETE_OLDEST_MEDIA"}}
    });
    if let Some(cron) = uploader_cron {
        c["UploaderConfig"] =
            json!({"ScheduleConfig": {"ScheduleExpression": cron, "DurationInSeconds": 3600}});
    }
    c
}

async fn start_edge(srv: &TestServer, stream: &str, config: Value) {
    let r =
        post(srv, "/startEdgeConfigurationUpdate", json!({"StreamName": stream, "EdgeConfig": config})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["SyncStatus"], "SYNCING");
}

async fn describe(srv: &TestServer, stream: &str) -> Value {
    let r = post(srv, "/describeEdgeConfiguration", json!({"StreamName": stream})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

/// Polls DescribeEdgeConfiguration until `pred` holds; panics with the last answer at the deadline.
async fn wait_describe(
    srv: &TestServer,
    stream: &str,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let d = describe(srv, stream).await;
        if pred(&d) {
            return d;
        }
        assert!(Instant::now() < deadline, "condition not met within {within:?}; last: {d:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Producer timestamps (ms) of the stream's fragments, sorted.
async fn fragment_times(srv: &TestServer, stream: &str) -> Vec<i64> {
    let out = srv.archived().list_fragments().stream_name(stream).send().await.unwrap();
    let mut t: Vec<i64> = out
        .fragments()
        .iter()
        .filter_map(|f| f.producer_timestamp().map(|d| (d.as_secs_f64() * 1000.0).round() as i64))
        .collect();
    t.sort_unstable();
    t
}

async fn wait_fragments(srv: &TestServer, stream: &str, at_least: usize, within: Duration) -> Vec<i64> {
    let deadline = Instant::now() + within;
    loop {
        let t = fragment_times(srv, stream).await;
        if t.len() >= at_least {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{stream}: {} fragments after {within:?}, wanted {at_least}",
            t.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// (producer timestamp, length) in ms of the stream's fragments, oldest first.
async fn fragment_spans(srv: &TestServer, stream: &str) -> Vec<(i64, i64)> {
    let out = srv.archived().list_fragments().stream_name(stream).send().await.unwrap();
    let mut spans: Vec<(i64, i64)> = out
        .fragments()
        .iter()
        .filter_map(|f| {
            let t = f.producer_timestamp()?;
            Some(((t.as_secs_f64() * 1000.0).round() as i64, f.fragment_length_in_milliseconds()))
        })
        .collect();
    spans.sort_unstable();
    spans
}

/// Gaps (> 50 ms, what HLS marks as a discontinuity) between consecutive fragments, in ms.
fn gaps(spans: &[(i64, i64)]) -> Vec<i64> {
    spans.windows(2).map(|w| w[1].0 - (w[0].0 + w[0].1)).filter(|&g| g > 50).collect()
}

async fn hls_url(srv: &TestServer, stream: &str) -> String {
    let now = now_ms();
    hls_url_between(srv, stream, now - 600_000, now + 60_000).await
}

/// An ON_DEMAND HLS session over fragments with producer timestamps in `[start_ms, end_ms]`.
async fn hls_url_between(srv: &TestServer, stream: &str, start_ms: i64, end_ms: i64) -> String {
    srv.archived()
        .get_hls_streaming_session_url()
        .stream_name(stream)
        .playback_mode(HlsPlaybackMode::OnDemand)
        .container_format(ContainerFormat::FragmentedMp4)
        .discontinuity_mode(HlsDiscontinuityMode::OnDiscontinuity)
        .hls_fragment_selector(
            HlsFragmentSelector::builder()
                .fragment_selector_type(HlsFragmentSelectorType::ProducerTimestamp)
                .timestamp_range(
                    HlsTimestampRange::builder()
                        .start_timestamp(DateTime::from_millis(start_ms))
                        .end_timestamp(DateTime::from_millis(end_ms))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .hls_streaming_session_url()
        .unwrap()
        .to_owned()
}

/// Decodes every frame of the HLS presentation with ffmpeg (any decode error fails) and returns
/// (video frames, video codec, audio frames) as ffprobe counts them.
fn decode_hls(url: &str) -> (u64, String, u64) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i", url, "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let errors = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success() && errors.trim().is_empty(), "ffmpeg decode errors: {errors}");
    let probe = |stream: &str| -> (u64, String) {
        let out = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", stream, "-count_frames", "-show_entries"])
            .args(["stream=nb_read_frames,codec_name", "-of", "json", url])
            .output()
            .expect("ffprobe runs");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let s = &v["streams"][0];
        (
            s["nb_read_frames"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0),
            s["codec_name"].as_str().unwrap_or("").to_owned(),
        )
    };
    let (video, codec) = probe("v:0");
    let (audio, _) = probe("a:0");
    (video, codec, audio)
}

/// H.264 + AAC behind Digest authentication, the URI from a secret created with CreateSecret:
/// fragments within 10 s of StartEdgeConfigurationUpdate, HLS decodes every frame, GetImages
/// shows the test pattern, the statuses say so, and no answer carries the password.
async fn records_h264_aac_behind_digest(backend: Backend) {
    let mut cam =
        RtspCamera::start(&["--codec", "h264", "--audio", "--auth", "digest", "--password", PASSWORD]);
    let srv = server(backend, &[]).await;
    create_stream(&srv, "door").await;
    let created = secrets_call(
        &srv,
        "CreateSecret",
        json!({"Name": "door-uri", "SecretString": cam.url(Some(("camera", PASSWORD)))}),
    )
    .await;
    assert_eq!(created.status, 200, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(created.json()["ARN"], secret_arn("door-uri"));
    let started = Instant::now();
    start_edge(&srv, "door", edge_config("door-uri", None)).await;
    let times = wait_fragments(&srv, "door", 1, Duration::from_secs(10)).await;
    eprintln!("first fragment {:?} after StartEdgeConfigurationUpdate", started.elapsed());
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!((now - times[0]).abs() < 15_000, "wall-clock timestamps: {} vs now {now}", times[0]);
    wait_fragments(&srv, "door", 4, Duration::from_secs(15)).await;
    let d = wait_describe(&srv, "door", Duration::from_secs(10), |d| {
        d["SyncStatus"] == "IN_SYNC"
            && d["EdgeAgentStatus"]["LastRecorderStatus"]["RecorderStatus"] == "SUCCESS"
            && d["EdgeAgentStatus"]["LastUploaderStatus"]["UploaderStatus"] == "SUCCESS"
    })
    .await;
    assert!(
        d["CreationTime"].is_number()
            && d["EdgeAgentStatus"]["LastRecorderStatus"]["LastCollectedTime"].is_number()
    );
    // The SDK reads the answer too.
    let sdk = srv.kvs().describe_edge_configuration().stream_name("door").send().await.unwrap();
    assert_eq!(sdk.sync_status().map(|s| s.as_str()), Some("IN_SYNC"));
    let listed = post(&srv, "/listEdgeAgentConfigurations", json!({"HubDeviceArn": HUB})).await.json();
    assert_eq!(listed["EdgeConfigs"][0]["StreamName"], "door");

    let (video, codec, audio) = decode_hls(&hls_url(&srv, "door").await);
    assert_eq!(codec, "h264");
    assert!(video >= 50 && audio >= 50, "video {video} frames, audio {audio} frames");

    let first = fragment_times(&srv, "door").await[0];
    let images = srv
        .archived()
        .get_images()
        .stream_name("door")
        .image_selector_type(ImageSelectorType::ProducerTimestamp)
        .start_timestamp(DateTime::from_millis(first))
        .end_timestamp(DateTime::from_millis(first + 3000))
        .sampling_interval(1000)
        .format(Format::Jpeg)
        .send()
        .await
        .unwrap();
    let content = images.images().iter().find_map(|i| i.image_content()).expect("an image");
    let picture =
        image::load_from_memory(&base64::engine::general_purpose::STANDARD.decode(content).unwrap())
            .unwrap()
            .to_rgb8();
    assert_eq!((picture.width(), picture.height()), (640, 360));
    // SMPTE bars: the top left is light grey, the next bar yellow, the seventh blue.
    let px = |x: u32| picture.get_pixel(x, 60).0;
    let (grey, yellow, blue) = (px(40), px(130), px(600));
    assert!(grey.iter().all(|&c| c > 150), "grey bar {grey:?}");
    assert!(yellow[0] > 150 && yellow[1] > 150 && yellow[2] < 80, "yellow bar {yellow:?}");
    assert!(blue[2] > 150 && blue[0] < 80, "blue bar {blue:?}");

    // The password is in no answer but GetSecretValue.
    for body in [
        describe(&srv, "door").await.to_string(),
        listed.to_string(),
        String::from_utf8_lossy(
            &secrets_call(&srv, "DescribeSecret", json!({"SecretId": "door-uri"})).await.body,
        )
        .into_owned(),
    ] {
        assert!(!body.contains(PASSWORD), "{body}");
    }
    let value =
        secrets_call(&srv, "GetSecretValue", json!({"SecretId": secret_arn("door-uri")})).await.json();
    assert!(value["SecretString"].as_str().unwrap().contains(PASSWORD));

    // The camera reboots: the recorder reports it, reconnects, and the stored stream has a gap
    // that HLS marks as a discontinuity.
    cam.kill();
    wait_describe(&srv, "door", Duration::from_secs(15), |d| {
        d["EdgeAgentStatus"]["LastRecorderStatus"]["RecorderStatus"] == "SYSTEM_ERROR"
            && d["SyncStatus"] == "SYNC_FAILED"
    })
    .await;
    let before = fragment_times(&srv, "door").await.len();
    tokio::time::sleep(Duration::from_millis(1500)).await; // the gap the camera's reboot takes
    cam.restart();
    wait_fragments(&srv, "door", before + 3, Duration::from_secs(20)).await;
    wait_describe(&srv, "door", Duration::from_secs(10), |d| d["SyncStatus"] == "IN_SYNC").await;
    let playlist_url = hls_url(&srv, "door").await;
    let master = reqwest_get(&playlist_url).await;
    let media_path =
        master.lines().find(|l| !l.starts_with('#') && !l.is_empty()).expect("media playlist").to_owned();
    let base = playlist_url.rsplit_once('/').unwrap().0;
    let media = reqwest_get(&format!("{base}/{media_path}")).await;
    assert!(media.contains("#EXT-X-DISCONTINUITY"), "{media}");
    decode_hls(&playlist_url);
    srv.stop().await;
}

/// GET over a plain connection (the server's own URLs).
async fn reqwest_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let req = format!("GET /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    let r = raw_request(host.parse().unwrap(), req.as_bytes()).await;
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).unwrap()
}

backend_tests!(records_h264_aac_behind_digest);

/// H.265 without authentication over RTP/UDP, the URI from the configuration file's secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_h265_over_udp() {
    let cam = RtspCamera::start(&["--codec", "h265"]);
    let srv = server(Backend::Sqlite, &[("yard-uri", format!("{}#udp", cam.url(None)))]).await;
    create_stream(&srv, "yard").await;
    start_edge(&srv, "yard", edge_config("yard-uri", None)).await;
    let waited = tokio::time::timeout(
        Duration::from_secs(16),
        wait_fragments(&srv, "yard", 3, Duration::from_secs(15)),
    )
    .await;
    if waited.is_err() {
        panic!("{}", describe(&srv, "yard").await)
    }
    let (video, codec, audio) = decode_hls(&hls_url(&srv, "yard").await);
    assert_eq!((codec.as_str(), audio), ("hevc", 0));
    assert!(video >= 25, "{video} frames");
    srv.stop().await;
}

/// A lossy network: cameras drop 1 % of their video RTP packets (sequence gaps seen over TCP
/// and UDP alike). Both streams keep getting fragments; the recorder drops each frame reported
/// with loss and what follows up to the next key frame, so every stored frame decodes (ffmpeg
/// reports no error over the whole HLS presentation); the losses show as gaps in the stored
/// stream and in the recorder's status, which stays SUCCESS / IN_SYNC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtp_packet_loss_never_stores_damaged_frames() {
    // One camera per transport: a second client of the same lossy mount is refused DESCRIBE
    // (503) by the test server.
    let args = ["--drop", "0.01", "--kbps", "600"];
    let (tcp_cam, udp_cam) = (RtspCamera::start(&args), RtspCamera::start(&args));
    let srv = server(
        Backend::Sqlite,
        &[("lossy-tcp-uri", tcp_cam.url(None)), ("lossy-udp-uri", format!("{}#udp", udp_cam.url(None)))],
    )
    .await;
    let streams = [("lossy-tcp", "lossy-tcp-uri"), ("lossy-udp", "lossy-udp-uri")];
    for (stream, secret) in streams {
        create_stream(&srv, stream).await;
        start_edge(&srv, stream, edge_config(secret, None)).await;
    }
    for (stream, _) in streams {
        let waited = tokio::time::timeout(
            Duration::from_secs(30),
            wait_fragments(&srv, stream, 4, Duration::from_secs(60)),
        )
        .await;
        if waited.is_err() {
            panic!("{stream}: {}", describe(&srv, stream).await)
        }
        let d = wait_describe(&srv, stream, Duration::from_secs(15), |d| {
            d["SyncStatus"] == "IN_SYNC"
                && d["EdgeAgentStatus"]["LastRecorderStatus"]["RecorderStatus"] == "SUCCESS"
                && d["EdgeAgentStatus"]["LastRecorderStatus"]["JobStatusDetails"]
                    .as_str()
                    .is_some_and(|s| s.contains("video RTP packets lost"))
        })
        .await;
        eprintln!("{stream}: {}", d["EdgeAgentStatus"]["LastRecorderStatus"]["JobStatusDetails"]);
        let spans = fragment_spans(&srv, stream).await;
        assert!(!gaps(&spans).is_empty(), "{stream}: no gap after packet loss: {spans:?}");
        let (video, codec, _) = decode_hls(&hls_url(&srv, stream).await);
        assert_eq!(codec, "h264");
        assert!(video >= 10, "{stream}: {video} frames");
    }
    srv.stop().await;
}

/// A camera reconfigured from H.264 to H.265 and restarted on the same URI: recording resumes
/// with a new stream header, the fragments after the change are H.265, a gap separates the two
/// codecs, and the configuration is IN_SYNC again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codec_change_resumes_with_the_new_codec() {
    let mut cam = RtspCamera::start(&[]);
    let srv = server(Backend::Sqlite, &[("lobby-uri", cam.url(None))]).await;
    create_stream(&srv, "lobby").await;
    start_edge(&srv, "lobby", edge_config("lobby-uri", None)).await;
    wait_fragments(&srv, "lobby", 3, Duration::from_secs(20)).await;
    wait_describe(&srv, "lobby", Duration::from_secs(10), |d| d["SyncStatus"] == "IN_SYNC").await;

    let changed_at = now_ms();
    cam.restart_with(&["--codec", "h265"]);
    let deadline = Instant::now() + Duration::from_secs(25);
    let spans = loop {
        let spans = fragment_spans(&srv, "lobby").await;
        if spans.iter().filter(|(t, _)| *t > changed_at).count() >= 3 {
            break spans;
        }
        assert!(Instant::now() < deadline, "no H.265 fragments after the change: {spans:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    wait_describe(&srv, "lobby", Duration::from_secs(10), |d| {
        d["SyncStatus"] == "IN_SYNC"
            && d["EdgeAgentStatus"]["LastRecorderStatus"]["RecorderStatus"] == "SUCCESS"
    })
    .await;
    let last_before = spans.iter().rfind(|(t, _)| *t <= changed_at).copied().unwrap();
    let first_after = spans.iter().find(|(t, _)| *t > changed_at).copied().unwrap();
    assert!(
        first_after.0 - (last_before.0 + last_before.1) > 50,
        "no gap between the codecs: {last_before:?} then {first_after:?}"
    );
    let (video, codec, _) =
        decode_hls(&hls_url_between(&srv, "lobby", changed_at - 600_000, changed_at).await);
    assert!(codec == "h264" && video >= 25, "before the change: {codec}, {video} frames");
    let (video, codec, _) = decode_hls(&hls_url_between(&srv, "lobby", changed_at, now_ms() + 60_000).await);
    assert!(codec == "hevc" && video >= 25, "after the change: {codec}, {video} frames");
    let playlist_url = hls_url(&srv, "lobby").await;
    let master = reqwest_get(&playlist_url).await;
    let media_path =
        master.lines().find(|l| !l.starts_with('#') && !l.is_empty()).expect("media playlist").to_owned();
    let media = reqwest_get(&format!("{}/{media_path}", playlist_url.rsplit_once('/').unwrap().0)).await;
    assert!(media.contains("#EXT-X-DISCONTINUITY"), "{media}");
    srv.stop().await;
}

/// Wrong password, an unreachable camera and a missing secret are reported (USER_ERROR /
/// SYSTEM_ERROR, SYNC_FAILED with the reason) while a good camera on the same server records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_reported_and_isolated() {
    let cam = RtspCamera::start(&["--auth", "basic", "--password", PASSWORD]);
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let srv = server(
        Backend::Sqlite,
        &[
            ("good", cam.url(Some(("camera", PASSWORD)))),
            ("wrong", cam.url(Some(("camera", "not-the-password")))),
            ("gone", format!("rtsp://127.0.0.1:{closed_port}/cam")),
        ],
    )
    .await;
    for (stream, secret) in [("good", "good"), ("wrong", "wrong"), ("gone", "gone"), ("nosecret", "missing")]
    {
        create_stream(&srv, stream).await;
        start_edge(&srv, stream, edge_config(secret, None)).await;
    }
    let failed = |status: &'static str, needle: &'static str| {
        move |d: &Value| {
            d["SyncStatus"] == "SYNC_FAILED"
                && d["EdgeAgentStatus"]["LastRecorderStatus"]["RecorderStatus"] == status
                && d["FailedStatusDetails"].as_str().is_some_and(|s| s.contains(needle))
        }
    };
    let d = wait_describe(&srv, "wrong", Duration::from_secs(15), failed("USER_ERROR", "401")).await;
    assert!(!d.to_string().contains("not-the-password"), "{d}");
    wait_describe(&srv, "gone", Duration::from_secs(15), failed("SYSTEM_ERROR", "Cannot record")).await;
    wait_describe(&srv, "nosecret", Duration::from_secs(15), failed("USER_ERROR", "can't find")).await;
    wait_fragments(&srv, "good", 3, Duration::from_secs(15)).await;
    assert!(fragment_times(&srv, "wrong").await.is_empty());
    srv.stop().await;
}

/// With an upload window that is closed, fragments stay in the local buffer; once the
/// configuration opens a window, what was recorded before goes up, oldest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_uploads_wait_for_their_window() {
    let cam = RtspCamera::start(&[]);
    let srv = server(Backend::Sqlite, &[("porch-uri", cam.url(None))]).await;
    create_stream(&srv, "porch").await;
    // A window on 1 January 2099 only.
    start_edge(&srv, "porch", edge_config("porch-uri", Some("0 0 0 1 1 ? 2099"))).await;
    let d = wait_describe(&srv, "porch", Duration::from_secs(20), |d| {
        d["SyncStatus"] == "IN_SYNC"
            && d["EdgeAgentStatus"]["LastUploaderStatus"]["JobStatusDetails"]
                .as_str()
                .is_some_and(|s| s.contains("Waiting for the next upload window at 2099-01-01"))
            && d["EdgeAgentStatus"]["LastRecorderStatus"]["JobStatusDetails"]
                .as_str()
                .is_some_and(|s| !s.contains(": 0 fragments") && s.contains("fragments"))
    })
    .await;
    eprintln!("{}", d["EdgeAgentStatus"]);
    let buffer = srv.dir.path().join("edge");
    let buffered = || -> usize {
        std::fs::read_dir(&buffer)
            .map(|dirs| dirs.flatten().map(|d| std::fs::read_dir(d.path()).map_or(0, |f| f.count())).sum())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while buffered() < 3 {
        assert!(Instant::now() < deadline, "the buffer did not fill");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(fragment_times(&srv, "porch").await.is_empty(), "nothing is uploaded outside the window");
    let opened_at = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64;
    // Every second starts a one-hour window: open now.
    start_edge(&srv, "porch", edge_config("porch-uri", Some("* * * * * ?"))).await;
    let times = wait_fragments(&srv, "porch", 3, Duration::from_secs(20)).await;
    assert!(
        times[0] < opened_at - 1000,
        "media recorded before the window opened went up: {times:?} vs {opened_at}"
    );
    srv.stop().await;
}

/// DeleteEdgeConfiguration stops the agent's jobs and deletes the local media; the configuration
/// is then gone. Validation errors read like AWS's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_and_validation() {
    let cam = RtspCamera::start(&[]);
    let srv = server(Backend::Sqlite, &[("gate-uri", cam.url(None))]).await;
    create_stream(&srv, "gate").await;
    let r = post(&srv, "/describeEdgeConfiguration", json!({"StreamName": "gate"})).await;
    assert_eq!(
        (r.status, r.header("x-amzn-ErrorType")),
        (404, Some("StreamEdgeConfigurationNotFoundException"))
    );
    let mut bad = edge_config("gate-uri", None);
    bad["RecorderConfig"]["MediaSourceConfig"]["MediaUriType"] = json!("HTTP_URI");
    let r =
        post(&srv, "/startEdgeConfigurationUpdate", json!({"StreamName": "gate", "EdgeConfig": bad})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "1 validation error detected: Value 'HTTP_URI' at 'edgeConfig.recorderConfig.mediaSourceConfig.mediaUriType' failed to satisfy constraint: Member must satisfy enum value set: [RTSP_URI, FILE_URI]"
    );
    let mut bad = edge_config("gate-uri", Some("0 0 * * * ?"));
    bad["UploaderConfig"]["ScheduleConfig"]["DurationInSeconds"] = json!(30);
    let r =
        post(&srv, "/startEdgeConfigurationUpdate", json!({"StreamName": "gate", "EdgeConfig": bad})).await;
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("'30' at 'edgeConfig.uploaderConfig.scheduleConfig.durationInSeconds'")
    );
    let r = post(
        &srv,
        "/listEdgeAgentConfigurations",
        json!({"HubDeviceArn": "arn:aws:iot:us-east-1:1:thing/x", "MaxResults": 11}),
    )
    .await;
    assert_eq!(r.header("x-amzn-ErrorType"), Some("InvalidArgumentException"));
    srv.kvs().create_stream().stream_name("nodata").send().await.unwrap();
    let r = post(
        &srv,
        "/startEdgeConfigurationUpdate",
        json!({"StreamName": "nodata", "EdgeConfig": edge_config("gate-uri", None)}),
    )
    .await;
    assert_eq!(r.header("x-amzn-ErrorType"), Some("NoDataRetentionException"));

    start_edge(&srv, "gate", edge_config("gate-uri", None)).await;
    let r = post(
        &srv,
        "/startEdgeConfigurationUpdate",
        json!({"StreamName": "gate", "EdgeConfig": edge_config("gate-uri", None)}),
    )
    .await;
    assert_eq!(r.header("x-amzn-ErrorType"), Some("ResourceInUseException"), "an update while SYNCING waits");
    wait_fragments(&srv, "gate", 2, Duration::from_secs(15)).await;
    let buffer = srv.dir.path().join("edge");
    assert_eq!(std::fs::read_dir(&buffer).unwrap().count(), 1);
    let r = post(&srv, "/deleteEdgeConfiguration", json!({"StreamName": "gate"})).await;
    assert_eq!(r.status, 200);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = post(&srv, "/describeEdgeConfiguration", json!({"StreamName": "gate"})).await;
        if r.status == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "still there: {}", String::from_utf8_lossy(&r.body));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(std::fs::read_dir(&buffer).unwrap().count(), 0, "the local media is deleted");
    let settled = fragment_times(&srv, "gate").await.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(fragment_times(&srv, "gate").await.len(), settled, "recording stopped");

    // Secrets: AWS's errors for the usual mistakes.
    let r = secrets_call(&srv, "CreateSecret", json!({"Name": "dup", "SecretString": "a"})).await;
    assert_eq!(r.status, 200);
    let r = secrets_call(&srv, "CreateSecret", json!({"Name": "dup", "SecretString": "a"})).await;
    assert_eq!(r.header("x-amzn-ErrorType"), Some("ResourceExistsException"));
    let r = secrets_call(&srv, "DeleteSecret", json!({"SecretId": "dup", "RecoveryWindowInDays": 7})).await;
    assert_eq!(r.status, 200);
    let r = secrets_call(&srv, "GetSecretValue", json!({"SecretId": "dup"})).await;
    assert_eq!(r.header("x-amzn-ErrorType"), Some("InvalidRequestException"));
    let r = secrets_call(&srv, "GetSecretValue", json!({"SecretId": "never"})).await;
    assert_eq!(r.header("x-amzn-ErrorType"), Some("ResourceNotFoundException"));
    let r = secrets_call(&srv, "ListSecrets", json!({})).await;
    assert_eq!(r.header("x-amzn-ErrorType"), Some("UnknownOperationException"));
    srv.stop().await;
}

/// `openkvs edge` as its own process: its configurations from ListEdgeAgentConfigurations, the
/// camera URI from GetSecretValue, uploads through GetDataEndpoint + PutMedia, statuses through
/// PutEdgeAgentStatus. Its log never shows the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_edge_process() {
    let cam = RtspCamera::start(&["--auth", "digest", "--password", PASSWORD]);
    let srv = TestServer::start_with(Backend::Sqlite, |c| c.edge.enabled = false).await;
    create_stream(&srv, "shed").await;
    let r = secrets_call(
        &srv,
        "CreateSecret",
        json!({"Name": "shed-uri", "SecretString": cam.url(Some(("camera", PASSWORD)))}),
    )
    .await;
    assert_eq!(r.status, 200);
    let hub = "arn:aws:iot:us-east-1:000000000000:thing/site-1";
    let mut config = edge_config("shed-uri", None);
    config["HubDeviceArn"] = json!(hub);
    start_edge(&srv, "shed", config).await;
    let buffer = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_openkvs"))
        .args(["edge", "--hub-device-arn", hub, "--endpoint", &srv.endpoint, "--poll-interval-secs", "1"])
        .args(["--max-backoff-secs", "1", "--buffer-dir"])
        .arg(buffer.path())
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("OPENKVS_LOG", "debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut s = String::new();
        let mut r = std::io::BufReader::new(stderr);
        let _ = r.read_to_string(&mut s);
        sink.lock().unwrap().push_str(&s);
    });
    wait_fragments(&srv, "shed", 3, Duration::from_secs(20)).await;
    wait_describe(&srv, "shed", Duration::from_secs(10), |d| {
        d["SyncStatus"] == "IN_SYNC"
            && d["EdgeAgentStatus"]["LastUploaderStatus"]["UploaderStatus"] == "SUCCESS"
    })
    .await;
    // Deleting reaches the separate agent too.
    post(&srv, "/deleteEdgeConfiguration", json!({"StreamName": "shed"})).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while post(&srv, "/describeEdgeConfiguration", json!({"StreamName": "shed"})).await.status != 404 {
        assert!(Instant::now() < deadline, "the agent did not finish the deletion");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "openkvs edge did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = log.lock().unwrap().clone();
    assert!(log.contains("openkvs edge agent running"), "{log}");
    assert!(!log.contains(PASSWORD), "the password leaked into the log:\n{log}");
    srv.stop().await;
}

/// boto3 (and the aws CLI when installed) drive the four edge operations and the secret subset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_drives_the_operations() {
    let cam = RtspCamera::start(&[]);
    let srv = server(Backend::Sqlite, &[]).await;
    let out = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rtsp/boto3_edge.py"))
        .args([&srv.endpoint, &cam.url(None)])
        .output()
        .expect("python3 runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("boto3 edge flow ok"), "{text}");
    let aws_cli =
        std::process::Command::new("aws").arg("--version").output().is_ok_and(|o| o.status.success());
    if aws_cli {
        assert!(text.contains("aws cli drives the four edge operations"), "{text}");
    }
    srv.stop().await;
}
