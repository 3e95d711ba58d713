//! WHEP endpoint over real HTTP, without a browser: `GetWHEPStreamingSessionURL` validation, the
//! resource protocol (201 + Location + `application/sdp` answer, 404 for unknown sessions, 400 for
//! wrong content types), and hostile input — malformed SDP, offers from viewers that never complete
//! ICE (dropped after the connect timeout, freeing their slots), 1,000 requests without a valid
//! token — after which the server still answers and still serves a valid viewer. Offers come from a
//! real WebRTC stack (str0m, the crate the server uses) acting as a receive-only viewer that never
//! sends a packet. Also JoinStorageSessionAsViewer's validation, driven by boto3
//! (`tests/webrtc_storage/boto3_join_as_viewer.py`).
//! And `openkvs bench whep` with 3 viewers that do connect (the bench's str0m WHEP
//! client, DTLS-SRTP over loopback UDP) and receive the stream it feeds.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::{Backend, RawResponse, TestServer, raw_request, signed_json_post};
use str0m::media::{Direction, MediaKind};

/// A receive-only offer (video + audio) from a viewer that will never answer ICE checks.
fn silent_viewer_offer() -> String {
    let mut rtc = str0m::Rtc::builder().build(Instant::now());
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    let (offer, _pending) = api.apply().expect("an offer");
    offer.to_sdp_string()
}

async fn post(srv: &TestServer, path_and_query: &str, content_type: &str, body: &str) -> RawResponse {
    let req = format!(
        "POST {path_and_query} HTTP/1.1\r\nhost: {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        srv.addr,
        body.len()
    );
    raw_request(srv.addr, req.as_bytes()).await
}

async fn request(srv: &TestServer, method: &str, path: &str, content_type: &str, body: &str) -> RawResponse {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        srv.addr,
        body.len()
    );
    raw_request(srv.addr, req.as_bytes()).await
}

async fn get_url(srv: &TestServer, body: &str) -> RawResponse {
    let req = signed_json_post(
        srv.addr,
        "/openkvs/getWHEPStreamingSessionURL",
        body,
        "kinesisvideo",
        "openkvs",
        "openkvs-secret",
        SystemTime::now(),
    );
    raw_request(srv.addr, &req).await
}

/// The path and query of the WHEP URL for `stream`.
async fn whep_path(srv: &TestServer, stream: &str) -> String {
    let resp = get_url(srv, &format!(r#"{{"StreamName":"{stream}"}}"#)).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let url = resp.json()["WHEPStreamingSessionURL"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&srv.endpoint), "{url}");
    url[srv.endpoint.len()..].to_owned()
}

#[tokio::test]
async fn session_url_is_validated_like_hls() {
    let srv = TestServer::start(Backend::Sqlite).await;
    srv.kvs().create_stream().stream_name("cam").send().await.unwrap();
    let r = get_url(&srv, r#"{"StreamName":"nope"}"#).await;
    assert_eq!((r.status, r.header("x-amzn-ErrorType")), (404, Some("ResourceNotFoundException")));
    let r = get_url(&srv, r#"{"StreamName":"cam","Expires":10}"#).await;
    assert_eq!((r.status, r.header("x-amzn-ErrorType")), (400, Some("InvalidArgumentException")));
    let r = get_url(&srv, r#"{}"#).await;
    assert_eq!((r.status, r.header("x-amzn-ErrorType")), (400, Some("InvalidArgumentException")));
    // No retention needed: a stream with DataRetentionInHours 0 can be watched live.
    let path = whep_path(&srv, "cam").await;
    assert!(path.starts_with("/whep/v1/play?SessionToken="), "{path}");
    // Unsigned: refused like any operation.
    let r = post(&srv, "/openkvs/getWHEPStreamingSessionURL", "application/json", r#"{"StreamName":"cam"}"#)
        .await;
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    srv.stop().await;
}

#[tokio::test]
async fn whep_resources_and_hostile_input() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.webrtc.max_sessions = 2;
        c.webrtc.connect_timeout_secs = 1;
    })
    .await;
    srv.kvs().create_stream().stream_name("cam").send().await.unwrap();
    let path = whep_path(&srv, "cam").await;

    // A valid offer: 201, an SDP answer with this server's candidates, a session Location.
    let offer = silent_viewer_offer();
    let r = post(&srv, &path, "application/sdp", &offer).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/sdp"));
    let answer = String::from_utf8(r.body.clone()).unwrap();
    assert!(answer.starts_with("v=0") && answer.contains("a=candidate:"), "{answer}");
    assert!(answer.contains("H264") && answer.contains("opus"), "{answer}");
    let location = r.header("location").unwrap().to_owned();
    assert!(location.starts_with("/whep/v1/sessions/"), "{location}");

    // Trickle: right type 204, wrong type 400; unknown sessions 404.
    let frag = "a=ice-ufrag:abcd\r\na=ice-pwd:efghefghefghefghefghefgh\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host\r\na=candidate:2 1 udp 2113937151 f00d.local 50001 typ host\r\n";
    let r = request(&srv, "PATCH", &location, "application/trickle-ice-sdpfrag", frag).await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let r = request(&srv, "PATCH", &location, "application/sdp", frag).await;
    assert_eq!(r.status, 400);
    let unknown = "/whep/v1/sessions/00000000000000000000000000000000";
    assert_eq!(request(&srv, "DELETE", unknown, "text/plain", "").await.status, 404);
    assert_eq!(request(&srv, "DELETE", "/whep/v1/sessions/..%2f", "text/plain", "").await.status, 404);

    // Malformed SDP and wrong content types: 400 with an AWS error type.
    for (ct, body) in [
        ("application/sdp", "hello"),
        ("application/sdp", "v=0\r\n"),
        ("application/sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"),
        ("application/sdp", &offer.replace("a=fingerprint", "a=fingerbob")),
        ("application/sdp", &"a".repeat(200_000)),
        ("text/plain", &offer),
    ] {
        let r = post(&srv, &path, ct, body).await;
        assert_eq!(r.status, 400, "{ct} {:.60}: {}", body, String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("x-amzn-ErrorType"), Some("InvalidArgumentException"));
    }

    // 1,000 requests without a valid token: missing, forged, truncated.
    let forged = format!("{}x", &path["/whep/v1/play?SessionToken=".len()..]);
    for i in 0..1000 {
        let p = match i % 3 {
            0 => "/whep/v1/play".to_owned(),
            1 => format!("/whep/v1/play?SessionToken={forged}"),
            _ => format!("/whep/v1/play?SessionToken={}", &forged[..forged.len() / 2]),
        };
        let r = post(&srv, &p, "application/sdp", &offer).await;
        assert!(r.status == 400 || r.status == 401, "request {i}: {}", r.status);
    }

    // Viewers that never complete ICE: the second fills max_sessions (2), the third is refused
    // with 503; after the 1 s connect timeout their slots are free again.
    let mut refused = None;
    for _ in 0..3 {
        let r = post(&srv, &path, "application/sdp", &silent_viewer_offer()).await;
        assert!(r.status == 201 || r.status == 503, "{}", r.status);
        if r.status == 503 {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("a third unconnected viewer is refused");
    assert_eq!(refused.header("x-amzn-ErrorType"), Some("ServiceUnavailable"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let location = loop {
        let r = post(&srv, &path, "application/sdp", &silent_viewer_offer()).await;
        if r.status == 201 {
            break r.header("location").unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "slots of unconnected viewers were never freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // DELETE frees a session at once.
    assert_eq!(request(&srv, "DELETE", &location, "text/plain", "").await.status, 200);
    assert_eq!(request(&srv, "DELETE", &location, "text/plain", "").await.status, 404);

    // Still healthy.
    let r = raw_request(
        srv.addr,
        format!("GET /health HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n", srv.addr).as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(post(&srv, &path, "application/sdp", &offer).await.status, 201);
    srv.stop().await;
}

/// boto3's `kinesis-video-webrtc-storage` client: JoinStorageSessionAsViewer answers 200 for a
/// channel with ENABLED media storage, and the model's errors for a bad clientId, a bad or
/// unknown channel ARN, a channel without media storage, and a bad signature.
#[tokio::test(flavor = "multi_thread")]
async fn boto3_join_storage_session_as_viewer() {
    use aws_sdk_kinesisvideo::types::{MediaStorageConfiguration, MediaStorageConfigurationStatus};
    let srv = TestServer::start(Backend::Sqlite).await;
    let kvs = srv.kvs();
    let stream = kvs.create_stream().stream_name("porch").data_retention_in_hours(1).send().await.unwrap();
    let storage = kvs.create_signaling_channel().channel_name("porch-channel").send().await.unwrap();
    let plain = kvs.create_signaling_channel().channel_name("plain-channel").send().await.unwrap();
    let storage_arn = storage.channel_arn.unwrap();
    kvs.update_media_storage_configuration()
        .channel_arn(&storage_arn)
        .media_storage_configuration(
            MediaStorageConfiguration::builder()
                .stream_arn(stream.stream_arn.unwrap())
                .status(MediaStorageConfigurationStatus::Enabled)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let out = tokio::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webrtc_storage/boto3_join_as_viewer.py"))
        .args([&srv.endpoint, &storage_arn, &plain.channel_arn.unwrap()])
        .output()
        .await
        .expect("python3 runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("boto3 join-as-viewer ok"), "{text}");
    srv.stop().await;
}

/// `openkvs bench whep` end to end, small, so the bench tool cannot rot: it starts its own
/// `openkvs serve`, feeds the 20 s fixture in real time, and 3 viewers — the bench's str0m WHEP
/// client: POST offer, answer, ICE over loopback UDP, DTLS-SRTP, RTP — watch for 4 s. All connect,
/// none is dropped, each receives video with a measured latency, every session is DELETEd, and
/// the server's CPU is read from /proc.
#[tokio::test]
async fn bench_whep_three_viewers() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/h264_640x360_20s_2sgop.mkv");
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_openkvs"))
        .args([
            "bench",
            "whep",
            "--viewers",
            "3",
            "--warmup-secs",
            "1",
            "--duration-secs",
            "4",
            "--json",
            "--file",
        ])
        .arg(&fixture)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run).await.expect("bench whep ends").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench whep failed: {stderr}\n{}", String::from_utf8_lossy(&out.stdout));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(
        (v["viewers"].as_u64(), v["connected"].as_u64(), v["dropped"].as_u64()),
        (Some(3), Some(3), Some(0)),
        "{v:#}"
    );
    assert_eq!(v["deleted"], 3, "{v:#}");
    assert!(v["feed"]["fragments_acknowledged"].as_u64().unwrap() >= 1, "{v:#}");
    assert!(v["video_frames_per_viewer"]["min"].as_f64().unwrap() >= 10.0, "{v:#}");
    let latency = &v["frame_latency_ms"];
    assert!(latency["count"].as_u64().unwrap() > 0 && latency["p50_ms"].as_f64().unwrap() < 1000.0, "{v:#}");
    if std::path::Path::new("/proc/self/stat").exists() {
        assert!(v["server"]["pid"].as_u64().is_some(), "{v:#}");
        assert!(v["server"]["cpu"]["viewing_percent"].as_f64().is_some(), "{v:#}");
        assert!(v["server"]["peak_rss_mb"].as_f64().unwrap() > 1.0, "{v:#}");
    }
}
