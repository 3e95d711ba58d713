//! What someone new to openkvs meets first, driven through the built binary and the official SDKs:
//!
//! - the README's quick start: `openkvs sample` writes a file that `openkvs put` streams and HLS
//!   plays back (ffprobe decodes every frame), in 2 s key-frame fragments;
//! - a stream created without a MediaType gets one from the tracks its producer sends;
//! - `openkvs put --create` of an MP4 (file or stdin) fails before CreateStream, naming the remux;
//! - `openkvs put --endpoint` with only a key in the environment never asks the EC2 instance
//!   metadata service (no IMDS warnings);
//! - every URL handed out (GetDataEndpoint, GetSignalingChannelEndpoint, HLS/DASH session URLs)
//!   leaves out the scheme's default port, as AWS's do (the KVS WebRTC C SDK depends on it), and
//!   keeps any other port;
//! - `openkvs serve` warns when signaling channels exist and GetIceServerConfig would list no TURN
//!   server (own relay disabled, none configured), and stays silent with its own relay (default);
//! - the README's aws CLI commands (when the `aws` CLI is installed).

mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_kinesisvideo::types::{ApiName, ChannelProtocol, SingleMasterChannelEndpointConfiguration};
use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{
    DashFragmentSelector, DashFragmentSelectorType, DashPlaybackMode, DashTimestampRange,
    HlsFragmentSelector, HlsFragmentSelectorType, HlsPlaybackMode, HlsTimestampRange,
};
use common::producer::{PutOptions, now_ms, put_media, split_file};
use common::{Backend, TestServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::process::Command;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/h264_640x360_20s_2sgop.mkv");

/// The binary with the development key and nothing else from the AWS environment; the EC2
/// metadata service is NOT disabled, so a lookup there would show.
fn openkvs(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openkvs"));
    for var in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "OPENKVS_LOG",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", "openkvs")
        .env("AWS_SECRET_ACCESS_KEY", "openkvs-secret")
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn tool_available(name: &str) -> bool {
    std::process::Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success())
        || std::process::Command::new(name).arg("-version").output().is_ok_and(|o| o.status.success())
}

/// Frames ffprobe decodes from a URL or file, with the codec name.
fn ffprobe_frames(target: &str) -> (u64, String) {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries"])
        .args(["stream=nb_read_frames,codec_name", "-of", "json", target])
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe failed on {target}: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["streams"][0];
    (
        s["nb_read_frames"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0),
        s["codec_name"].as_str().unwrap_or("").to_owned(),
    )
}

fn range() -> (DateTime, DateTime) {
    let now = now_ms() as i64;
    (DateTime::from_millis(now - 600_000), DateTime::from_millis(now + 5_000))
}

async fn hls_on_demand(srv: &TestServer, stream: &str) -> String {
    let (start, end) = range();
    srv.archived()
        .get_hls_streaming_session_url()
        .stream_name(stream)
        .playback_mode(HlsPlaybackMode::OnDemand)
        .hls_fragment_selector(
            HlsFragmentSelector::builder()
                .fragment_selector_type(HlsFragmentSelectorType::ServerTimestamp)
                .timestamp_range(
                    HlsTimestampRange::builder().start_timestamp(start).end_timestamp(end).build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .hls_streaming_session_url
        .unwrap()
}

async fn dash_on_demand(srv: &TestServer, stream: &str) -> String {
    let (start, end) = range();
    srv.archived()
        .get_dash_streaming_session_url()
        .stream_name(stream)
        .playback_mode(DashPlaybackMode::OnDemand)
        .dash_fragment_selector(
            DashFragmentSelector::builder()
                .fragment_selector_type(DashFragmentSelectorType::ServerTimestamp)
                .timestamp_range(
                    DashTimestampRange::builder().start_timestamp(start).end_timestamp(end).build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .dash_streaming_session_url
        .unwrap()
}

/// Polls DescribeStream until its MediaType is set, for at most 10 s.
async fn media_type_of(srv: &TestServer, stream: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = srv.kvs().describe_stream().stream_name(stream).send().await.unwrap().stream_info.unwrap();
        if info.media_type.is_some() || Instant::now() > deadline {
            return info.media_type;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_streams_with_put_and_plays_back() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let home = tempfile::tempdir().unwrap();
    // `openkvs sample --seconds 30`: the 20 s sample and half of it again, 2 s fragments.
    let out = openkvs(home.path()).args(["sample", "--seconds", "30"]).output().await.unwrap();
    assert_ok(&out, "openkvs sample");
    let sample = home.path().join("sample.mkv");
    assert!(sample.is_file(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("openkvs put"), "the next step is named: {}", text(&out.stderr));
    let again = openkvs(home.path()).args(["sample", "--seconds", "30"]).output().await.unwrap();
    assert!(!again.status.success() && text(&again.stderr).contains("--force"), "{}", text(&again.stderr));

    // As the quick start does it: the stream is created WITH retention, without a MediaType.
    srv.kvs().create_stream().stream_name("demo").data_retention_in_hours(24).send().await.unwrap();
    let out = openkvs(home.path())
        .args(["put", "--endpoint", &srv.endpoint, "--stream", "demo", "--json"])
        .arg(&sample)
        .output()
        .await
        .unwrap();
    assert_ok(&out, "openkvs put");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["fragments_persisted"], 15, "{summary}");
    assert_eq!(summary["errors"].as_array().map(Vec::len), Some(0), "{summary}");

    // Every fragment is 2 s and starts on a key frame: HLS lists 15 segments, ffprobe decodes 750 frames.
    let url = hls_on_demand(&srv, "demo").await;
    if tool_available("ffprobe") {
        assert_eq!(ffprobe_frames(&url), (750, "h264".to_owned()), "{url}");
    } else {
        println!("ffprobe not installed: playback not decoded");
    }
    // The producer sent H.264; DescribeStream now says so (the console's Media type column).
    assert_eq!(media_type_of(&srv, "demo").await.as_deref(), Some("video/h264"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn media_type_comes_from_the_tracks_only_when_create_stream_gave_none() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let kvs = srv.kvs();
    kvs.create_stream().stream_name("bare").data_retention_in_hours(1).send().await.unwrap();
    kvs.create_stream()
        .stream_name("typed")
        .media_type("video/h265")
        .data_retention_in_hours(1)
        .send()
        .await
        .unwrap();
    let before = kvs.describe_stream().stream_name("bare").send().await.unwrap().stream_info.unwrap();
    assert_eq!(before.media_type, None);
    let data =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gst_h264_aac_10s.mkv")).unwrap();
    let (header, items) = split_file(&data);
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().map(|(_, b)| b));
    for stream in ["bare", "typed"] {
        let r = put_media(srv.addr, &PutOptions::new(stream), &chunks).await;
        assert_eq!(r.of("PERSISTED").len(), 5, "{:?}", r.acks);
    }
    assert_eq!(media_type_of(&srv, "bare").await.as_deref(), Some("video/h264,audio/aac"));
    let after = kvs.describe_stream().stream_name("bare").send().await.unwrap().stream_info.unwrap();
    assert_eq!(after.version, before.version, "no UpdateStream happened: the version stays");
    let listed = kvs.list_streams().send().await.unwrap().stream_info_list.unwrap();
    let bare = listed.iter().find(|s| s.stream_name.as_deref() == Some("bare")).unwrap();
    assert_eq!(bare.media_type.as_deref(), Some("video/h264,audio/aac"));
    let typed = kvs.describe_stream().stream_name("typed").send().await.unwrap().stream_info.unwrap();
    assert_eq!(typed.media_type.as_deref(), Some("video/h265"), "a MediaType given at creation is kept");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn put_refuses_an_mp4_before_creating_the_stream() {
    if !tool_available("ffmpeg") {
        println!("skipped: no ffmpeg");
        return;
    }
    let srv = TestServer::start(Backend::Sqlite).await;
    let home = tempfile::tempdir().unwrap();
    let mp4 = home.path().join("clip.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i", FIXTURE, "-t", "4", "-c", "copy"])
        .arg(&mp4)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));

    let file = openkvs(home.path())
        .args(["put", "--endpoint", &srv.endpoint, "--create", "--stream", "from-file"])
        .arg(&mp4)
        .output()
        .await
        .unwrap();
    assert!(!file.status.success());
    let err = text(&file.stderr);
    assert!(err.contains("clip.mp4 is not Matroska") && err.contains("MP4"), "{err}");
    assert!(
        err.contains("ffmpeg -i") && err.contains("-c copy -f matroska") && err.contains("clip.mkv"),
        "{err}"
    );

    let mut piped = openkvs(home.path())
        .args(["put", "--endpoint", &srv.endpoint, "--create", "--stream", "from-stdin", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = piped.stdin.take().unwrap();
    stdin.write_all(&std::fs::read(&mp4).unwrap()).await.ok();
    drop(stdin);
    let piped = piped.wait_with_output().await.unwrap();
    assert!(!piped.status.success());
    let err = text(&piped.stderr);
    assert!(err.contains("stdin is not Matroska") && err.contains("-f matroska -"), "{err}");

    for stream in ["from-file", "from-stdin"] {
        let gone = srv.kvs().describe_stream().stream_name(stream).send().await;
        let e = gone.expect_err("the stream must not have been created");
        assert!(e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()), "{e:?}");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn put_with_an_endpoint_and_no_region_never_asks_instance_metadata() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let home = tempfile::tempdir().unwrap();
    let out = openkvs(home.path())
        .args(["put", "--endpoint", &srv.endpoint, "--create", "--stream", "no-region", FIXTURE])
        .output()
        .await
        .unwrap();
    assert_ok(&out, "openkvs put");
    let err = text(&out.stderr);
    assert!(!err.to_ascii_lowercase().contains("imds") && !err.contains("WARN"), "stderr: {err}");
    assert!(err.contains("10 persisted"), "{err}");
    // The stream is in us-east-1, the documented default.
    let arn = srv
        .kvs()
        .describe_stream()
        .stream_name("no-region")
        .send()
        .await
        .unwrap()
        .stream_info
        .unwrap()
        .stream_arn;
    assert!(arn.unwrap().starts_with("arn:aws:kinesisvideo:us-east-1:"));
    // AWS_DEFAULT_REGION (what aws CLI v1 reads) is honoured too.
    let out = openkvs(home.path())
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .args(["put", "--endpoint", &srv.endpoint, "--create", "--stream", "eu", FIXTURE])
        .output()
        .await
        .unwrap();
    assert_ok(&out, "openkvs put in eu-west-1");
    let eu = srv.kvs_as("openkvs", "openkvs-secret", "eu-west-1");
    assert!(eu.describe_stream().stream_name("eu").send().await.is_ok());
    srv.stop().await;
}

/// A server whose public URL is `public_url`, with one stream of fragments and one channel.
async fn server_with_public_url(public_url: &str) -> TestServer {
    let url = public_url.to_owned();
    let srv = TestServer::start_with(Backend::Sqlite, move |c| c.public_url = Some(url)).await;
    srv.kvs().create_stream().stream_name("cam").data_retention_in_hours(1).send().await.unwrap();
    let data = std::fs::read(FIXTURE).unwrap();
    let (header, items) = split_file(&data);
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().take(3).map(|(_, b)| b));
    let r = put_media(srv.addr, &PutOptions::new("cam"), &chunks).await;
    assert_eq!(r.of("PERSISTED").len(), 3, "{:?}", r.acks);
    srv.kvs().create_signaling_channel().channel_name("door").send().await.unwrap();
    srv
}

/// (GetDataEndpoint, [WSS, HTTPS] of GetSignalingChannelEndpoint, HLS URL, DASH URL).
async fn handed_out_urls(srv: &TestServer) -> (String, Vec<String>, String, String) {
    let kvs = srv.kvs();
    let data = kvs
        .get_data_endpoint()
        .stream_name("cam")
        .api_name(ApiName::GetHlsStreamingSessionUrl)
        .send()
        .await
        .unwrap()
        .data_endpoint
        .unwrap();
    let arn = kvs.describe_signaling_channel().channel_name("door").send().await.unwrap();
    let arn = arn.channel_info.unwrap().channel_arn.unwrap();
    let endpoints = kvs
        .get_signaling_channel_endpoint()
        .channel_arn(arn)
        .single_master_channel_endpoint_configuration(
            SingleMasterChannelEndpointConfiguration::builder()
                .protocols(ChannelProtocol::Wss)
                .protocols(ChannelProtocol::Https)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .resource_endpoint_list
        .unwrap()
        .into_iter()
        .map(|e| e.resource_endpoint.unwrap())
        .collect();
    (data, endpoints, hls_on_demand(srv, "cam").await, dash_on_demand(srv, "cam").await)
}

#[tokio::test(flavor = "multi_thread")]
async fn handed_out_urls_leave_out_only_the_default_port() {
    let srv = server_with_public_url("https://kvs.example.com:443").await;
    let (data, signaling, hls, dash) = handed_out_urls(&srv).await;
    assert_eq!(data, "https://kvs.example.com");
    assert_eq!(signaling, ["wss://kvs.example.com", "https://kvs.example.com"]);
    assert!(hls.starts_with("https://kvs.example.com/hls/v1/getHLSMasterPlaylist.m3u8?"), "{hls}");
    assert!(dash.starts_with("https://kvs.example.com/dash/v1/getDASHManifest.mpd?"), "{dash}");
    srv.stop().await;

    let srv = server_with_public_url("http://10.1.2.3:80").await;
    let (data, signaling, hls, _) = handed_out_urls(&srv).await;
    assert_eq!(data, "http://10.1.2.3");
    assert_eq!(signaling, ["ws://10.1.2.3", "http://10.1.2.3"]);
    assert!(hls.starts_with("http://10.1.2.3/hls/"), "{hls}");
    srv.stop().await;

    let srv = server_with_public_url("https://kvs.example.com:8443").await;
    let (data, signaling, hls, dash) = handed_out_urls(&srv).await;
    assert_eq!(data, "https://kvs.example.com:8443");
    assert_eq!(signaling, ["wss://kvs.example.com:8443", "https://kvs.example.com:8443"]);
    assert!(hls.starts_with("https://kvs.example.com:8443/hls/"), "{hls}");
    assert!(dash.starts_with("https://kvs.example.com:8443/dash/"), "{dash}");
    srv.stop().await;

    // Derived from the listener: its (non-default, port 0 → random) port is kept.
    let srv = TestServer::start(Backend::Sqlite).await;
    srv.kvs().create_stream().stream_name("cam").send().await.unwrap();
    let data =
        srv.kvs().get_data_endpoint().stream_name("cam").api_name(ApiName::PutMedia).send().await.unwrap();
    assert_eq!(data.data_endpoint.unwrap(), srv.endpoint);
    assert!(srv.endpoint.ends_with(&format!(":{}", srv.addr.port())));
    srv.stop().await;
}

/// `openkvs serve` on a free port over `data_dir` with `args`; returns the child, its endpoint and
/// a receiver of its stderr lines (the ones before the "listening" line included).
async fn serve(
    home: &Path,
    data_dir: &Path,
    args: &[&str],
) -> (tokio::process::Child, String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let mut child = openkvs(home)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .spawn()
        .expect("openkvs serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut early, deadline) = (Vec::new(), Instant::now() + Duration::from_secs(60));
    let endpoint = loop {
        let line = tokio::time::timeout_at(deadline.into(), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no listening line; stderr so far: {early:#?}"))
            .unwrap_or_else(|| panic!("openkvs serve exited; stderr: {early:#?}"));
        if let Some(rest) = line.split("listening on ").nth(1) {
            early.push(line.clone());
            break rest.split([' ', ',']).next().unwrap().to_owned();
        }
        early.push(line);
    };
    let (tx2, rx2) = tokio::sync::mpsc::unbounded_channel();
    for l in early {
        tx2.send(l).unwrap();
    }
    tokio::spawn(async move {
        while let Some(l) = rx.recv().await {
            if tx2.send(l).is_err() {
                break;
            }
        }
    });
    (child, endpoint, rx2)
}

/// The lines received so far, waiting up to `wait` for one containing `needle` (if given).
async fn lines_until(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    needle: &str,
    wait: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
            Ok(Some(l)) => {
                let hit = l.contains(needle);
                out.push(l);
                if hit {
                    return out;
                }
            }
            _ => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_warns_when_channels_exist_without_a_turn_server() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    const WARNING: &str = "but no TURN server is configured";
    let no_relay = home.path().join("no-relay.toml");
    std::fs::write(&no_relay, "[turn]\nenabled = false\n").unwrap();
    let no_relay = ["--config", no_relay.to_str().unwrap()];

    // A fresh data dir, own relay off: no channel, no warning at startup; creating one warns.
    let (mut child, endpoint, mut lines) = serve(home.path(), &data, &no_relay).await;
    let startup: Vec<String> = lines_until(&mut lines, "listening on", Duration::from_secs(1)).await;
    assert!(!startup.iter().any(|l| l.contains(WARNING)), "{startup:#?}");
    common::kvs_client(&endpoint).create_signaling_channel().channel_name("door").send().await.unwrap();
    let after = lines_until(&mut lines, WARNING, Duration::from_secs(10)).await;
    assert!(
        after.iter().any(|l| l.contains("signaling channel door was created") && l.contains(WARNING)),
        "{after:#?}"
    );
    child.kill().await.unwrap();

    // Restarted over the same index: the channel exists, so the startup log says so.
    let (mut child, _, mut lines) = serve(home.path(), &data, &no_relay).await;
    let startup = lines_until(&mut lines, WARNING, Duration::from_secs(1)).await;
    assert!(
        startup.iter().any(|l| l.contains("1 signaling channel exists") && l.contains(WARNING)),
        "{startup:#?}"
    );
    child.kill().await.unwrap();

    // With openkvs's own relay (the default), or a coturn-style TURN server configured: silent.
    let coturn = home.path().join("openkvs.toml");
    std::fs::write(
        &coturn,
        "[turn]\nenabled = false\n[signaling.ice]\nturn_uris = [\"turn:127.0.0.1:3478?transport=udp\"]\nturn_shared_secret = \"s3cret\"\n",
    )
    .unwrap();
    for args in [&[][..], &["--config", coturn.to_str().unwrap()][..]] {
        let (mut child, _, mut lines) = serve(home.path(), &data, args).await;
        let startup = lines_until(&mut lines, "listening on", Duration::from_secs(5)).await;
        assert!(!startup.iter().any(|l| l.contains(WARNING)), "{args:?}: {startup:#?}");
        child.kill().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_aws_cli_commands_work() {
    if !tool_available("aws") {
        // CI installs it (.ci/run): there, a missing CLI is a failure, not a skip.
        assert!(std::env::var_os("OPENKVS_CI").is_none(), "OPENKVS_CI is set but the aws CLI is missing");
        println!("skipped: no aws CLI");
        return;
    }
    let srv = TestServer::start(Backend::Sqlite).await;
    let home = tempfile::tempdir().unwrap();
    // The README's environment, exactly: both region variables (aws CLI v1 reads only the second).
    let aws = |args: &[&str]| {
        let mut cmd = std::process::Command::new("aws");
        for var in
            ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"]
        {
            cmd.env_remove(var);
        }
        cmd.env("HOME", home.path())
            .env("AWS_CONFIG_FILE", home.path().join("none"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
            .env("AWS_ACCESS_KEY_ID", "openkvs")
            .env("AWS_SECRET_ACCESS_KEY", "openkvs-secret")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .args(["--endpoint-url", &srv.endpoint])
            .args(args);
        cmd
    };
    let run = |args: &[&str]| {
        let out = aws(args).output().unwrap();
        assert!(out.status.success(), "aws {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    run(&["kinesisvideo", "create-stream", "--stream-name", "cam-1", "--data-retention-in-hours", "24"]);
    assert!(run(&["kinesisvideo", "list-streams"]).contains("cam-1"));
    run(&[
        "kinesisvideo",
        "tag-stream",
        "--stream-name",
        "cam-1",
        "--tags",
        r#"{"openkvs:analyzers":"thumbnails,motion"}"#,
    ]);
    let tags = run(&["kinesisvideo", "list-tags-for-stream", "--stream-name", "cam-1"]);
    assert!(tags.contains(r#""openkvs:analyzers": "thumbnails,motion""#), "{tags}");
    run(&["kinesisvideo", "create-signaling-channel", "--channel-name", "door"]);
    srv.stop().await;
}
