//! WebRTC ingestion with the unmodified KVS WebRTC JS SDK: a channel is mapped to a stream with
//! UpdateMediaStorageConfiguration (aws-sdk-rust), the SDK master page (`tests/browser/webrtc.mjs
//! --storage`, Chromium's fake camera and microphone) opens signaling through openkvs and calls
//! JoinStorageSession with the AWS JS SDK v3 (`@aws-sdk/client-kinesis-video-webrtc-storage`) on
//! the channel's WEBRTC endpoint; openkvs's storage peer offers through signaling, receives H.264
//! and Opus and records them. After ~20 s of recording the stream must hold at least 8 fragments,
//! and ffprobe must decode every video frame (and the Opus audio) of an HLS session of them.
//! Meanwhile a viewer page (the same SDK, `--storage-viewer`) calls JoinStorageSessionAsViewer and
//! answers the offer openkvs sends it: it must render the recording live, and openkvs must
//! receive its fake microphone.
//!
//! Needs Chromium, node, `npm ci` in `tests/browser` and ffprobe; otherwise prints "skipped: …".

mod common;

use std::process::Stdio;
use std::time::Duration;

use aws_sdk_kinesisvideo::types::{MediaStorageConfiguration, MediaStorageConfigurationStatus};
use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{
    ClipFragmentSelector, ClipFragmentSelectorType, ClipTimestampRange, DashFragmentSelector,
    DashFragmentSelectorType, DashPlaybackMode, DashTimestampRange, FragmentSelector, FragmentSelectorType,
    HlsFragmentSelector, HlsFragmentSelectorType, HlsPlaybackMode, HlsTimestampRange, TimestampRange,
};
use common::browser::{browser_dir, missing_prerequisite};
use common::{Backend, TestServer};

fn ffprobe_streams(url: &str) -> serde_json::Value {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-count_packets", "-show_entries"])
        .args(["stream=codec_type,codec_name,nb_read_frames,nb_read_packets", "-of", "json", url])
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "ffprobe reported errors: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn kvs_js_sdk_master_records_into_a_stream_with_join_storage_session() {
    if let Some(why) = missing_prerequisite("@aws-sdk/client-kinesis-video-webrtc-storage") {
        println!("skipped: {why}");
        return;
    }
    if std::process::Command::new("ffprobe").arg("-version").output().is_err() {
        println!("skipped: no ffprobe");
        return;
    }
    let build = tokio::process::Command::new("npm")
        .args(["run", "--silent", "build:webrtc"])
        .current_dir(browser_dir())
        .status();
    assert!(build.await.unwrap().success(), "bundling the KVS WebRTC SDK failed");

    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.tls.cert = Some(cert_path.clone());
        c.tls.key = Some(key_path.clone());
        c.tls.listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let kvs = srv.kvs();
    let stream = kvs.create_stream().stream_name("doorbell").data_retention_in_hours(1).send().await.unwrap();
    let stream_arn = stream.stream_arn.unwrap();
    let channel = kvs.create_signaling_channel().channel_name("doorbell-channel").send().await.unwrap();
    let channel_arn = channel.channel_arn.unwrap();
    kvs.update_media_storage_configuration()
        .channel_arn(&channel_arn)
        .media_storage_configuration(
            MediaStorageConfiguration::builder()
                .stream_arn(&stream_arn)
                .status(MediaStorageConfigurationStatus::Enabled)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mapped = kvs.describe_mapped_resource_configuration().stream_arn(&stream_arn).send().await.unwrap();
    assert_eq!(mapped.mapped_resource_configuration_list()[0].arn(), Some(channel_arn.as_str()));

    let endpoint = format!("https://127.0.0.1:{}", srv.tls_addr.unwrap().port());
    let started = DateTime::from_millis(common::producer::now_ms() as i64 - 1000);
    // When the first fragment is listed (rows point only at durable bytes: it is PERSISTED).
    let first_listed = {
        let archived = srv.archived();
        tokio::spawn(async move {
            loop {
                let list = archived
                    .list_fragments()
                    .stream_name("doorbell")
                    .fragment_selector(
                        FragmentSelector::builder()
                            .fragment_selector_type(FragmentSelectorType::ServerTimestamp)
                            .timestamp_range(
                                TimestampRange::builder()
                                    .start_timestamp(started)
                                    .end_timestamp(DateTime::from_millis(
                                        common::producer::now_ms() as i64 + 60_000,
                                    ))
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .send()
                    .await;
                if list.is_ok_and(|l| !l.fragments().is_empty()) {
                    return common::producer::now_ms() as i64;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let out = tokio::time::timeout(
        Duration::from_secs(150),
        tokio::process::Command::new("node")
            .arg(browser_dir().join("webrtc.mjs"))
            .args(["--endpoint", &endpoint, "--channel", "doorbell-channel", "--viewers", "1", "--storage"])
            .arg("--storage-viewer")
            .args(["--seconds", "26"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("webrtc.mjs finishes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|_| panic!("no JSON: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["storageJoined"], true, "JoinStorageSession: {report:#}");
    assert_eq!(report["storagePeerState"], "connected", "the storage peer did not connect: {report:#}");
    // JoinStorageSessionAsViewer: the viewer played the stream live from openkvs and sent audio.
    assert_eq!(report["connected"], 1, "the storage-session viewer got no video: {report:#}");
    assert_eq!(report["viewersSendingAudio"], 1, "{report:#}");
    let heard = common::metric_value(srv.addr, "openkvs_webrtc_viewer_audio_frames_total").await;
    println!(
        "storage-session viewer: first frame {} ms, {heard} audio frames received",
        report["timeToFirstFrameMs"]["p50"]
    );
    assert!(heard > 50.0, "openkvs received {heard} audio frames from the viewer");
    if let (Some(called), Ok(Ok(listed))) = (
        report["storageJoinCalledAt"].as_i64(),
        tokio::time::timeout(Duration::from_secs(5), first_listed).await,
    ) {
        println!("JoinStorageSession → first PERSISTED fragment: {} ms", listed - called);
    }

    // The recording: at least 8 fragments (2 s each) of the ~20 s.
    let archived = srv.archived();
    let ended = DateTime::from_millis(common::producer::now_ms() as i64 + 5000);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let fragments = loop {
        let list = archived
            .list_fragments()
            .stream_name("doorbell")
            .fragment_selector(
                FragmentSelector::builder()
                    .fragment_selector_type(FragmentSelectorType::ServerTimestamp)
                    .timestamp_range(
                        TimestampRange::builder()
                            .start_timestamp(started)
                            .end_timestamp(ended)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let n = list.fragments().len();
        if n >= 8 || tokio::time::Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!("WebRTC recording: {fragments} fragments");
    assert!(fragments >= 8, "only {fragments} fragments recorded: {report:#}");

    let url = archived
        .get_hls_streaming_session_url()
        .stream_name("doorbell")
        .playback_mode(HlsPlaybackMode::OnDemand)
        .hls_fragment_selector(
            HlsFragmentSelector::builder()
                .fragment_selector_type(HlsFragmentSelectorType::ServerTimestamp)
                .timestamp_range(
                    HlsTimestampRange::builder().start_timestamp(started).end_timestamp(ended).build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .hls_streaming_session_url
        .unwrap();
    let url =
        url.replace("https://", "http://").replace(&srv.tls_addr.unwrap().to_string(), &srv.addr.to_string());
    let probe = ffprobe_streams(&url);
    println!("ffprobe: {probe}");
    let streams = probe["streams"].as_array().unwrap();
    let video = streams.iter().find(|s| s["codec_type"] == "video").expect("a video stream");
    assert_eq!(video["codec_name"], "h264");
    let frames: u64 = video["nb_read_frames"].as_str().unwrap().parse().unwrap();
    let packets: u64 = video["nb_read_packets"].as_str().unwrap().parse().unwrap();
    assert!(frames >= 8 * 20, "{frames} video frames");
    assert_eq!(frames, packets, "every video frame decodes");
    let audio = streams.iter().find(|s| s["codec_type"] == "audio").expect("an audio stream");
    assert_eq!(audio["codec_name"], "opus");
    let audio_frames: u64 = audio["nb_read_frames"].as_str().unwrap().parse().unwrap();
    assert!(audio_frames >= 8 * 2 * 50 / 2, "{audio_frames} audio frames");

    // The same recording through DASH and GetClip: both tracks, every frame decodes.
    let dash = archived
        .get_dash_streaming_session_url()
        .stream_name("doorbell")
        .playback_mode(DashPlaybackMode::OnDemand)
        .dash_fragment_selector(
            DashFragmentSelector::builder()
                .fragment_selector_type(DashFragmentSelectorType::ServerTimestamp)
                .timestamp_range(
                    DashTimestampRange::builder().start_timestamp(started).end_timestamp(ended).build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .dash_streaming_session_url
        .unwrap()
        .replace("https://", "http://")
        .replace(&srv.tls_addr.unwrap().to_string(), &srv.addr.to_string());
    let clip = archived
        .get_clip()
        .stream_name("doorbell")
        .clip_fragment_selector(
            ClipFragmentSelector::builder()
                .fragment_selector_type(ClipFragmentSelectorType::ServerTimestamp)
                .timestamp_range(
                    ClipTimestampRange::builder()
                        .start_timestamp(started)
                        .end_timestamp(ended)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let clip_path = dir.path().join("clip.mp4");
    std::fs::write(&clip_path, clip.payload.collect().await.unwrap().into_bytes()).unwrap();
    for (what, probe) in
        [("DASH", ffprobe_streams(&dash)), ("GetClip", ffprobe_streams(clip_path.to_str().unwrap()))]
    {
        println!("ffprobe {what}: {probe}");
        let streams = probe["streams"].as_array().unwrap();
        for (kind, codec) in [("video", "h264"), ("audio", "opus")] {
            let s = streams
                .iter()
                .find(|s| s["codec_type"] == kind)
                .unwrap_or_else(|| panic!("{what}: no {kind}"));
            assert_eq!(s["codec_name"], codec, "{what}");
            assert_eq!(s["nb_read_frames"], s["nb_read_packets"], "{what}: every {kind} frame decodes");
        }
    }
    srv.stop().await;
}
