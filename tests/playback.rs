//! HLS, DASH and GetClip end to end with the official aws-sdk-rust archived-media client: session
//! URL validation, playlists (text checked line by line), init/media segments parsed box by box,
//! MPEG-TS packets, tokens (forged, expired, wrong kind), CORS, LIVE windows and MEDIA-SEQUENCE,
//! LIVE_REPLAY pacing, GetClip limits and errors; and ffprobe decoding every frame of ON_DEMAND
//! HLS (fMP4 and TS), DASH and GetClip output for the H.264, H.265 and H.264+AAC fixtures (those
//! checks print "skipped: no ffprobe" and return when ffprobe is not installed).

mod common;

use std::time::{Duration, Instant};

use aws_sdk_kinesisvideoarchivedmedia::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{
    ClipFragmentSelector, ClipFragmentSelectorType, ContainerFormat, DashFragmentSelector,
    DashFragmentSelectorType, DashPlaybackMode, DashTimestampRange, HlsDisplayFragmentTimestamp,
    HlsFragmentSelector, HlsFragmentSelectorType, HlsPlaybackMode, HlsTimestampRange,
};
use bytes::Bytes;
use common::producer::{PutOptions, now_ms, put_media, split_file};
use common::{Backend, RawResponse, TestServer, raw_request};

backend_tests!(s3_sample: [hls_on_demand_fmp4];
    hls_on_demand_fmp4,
    hls_ts_h265_and_aac,
    hls_session_errors_tokens_and_cors,
    hls_live_window_follows_ingest,
    hls_live_replay_is_paced,
    dash_on_demand_and_live,
    get_clip_mp4_and_errors,
    ffprobe_decodes_every_output_of_every_codec
);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Creates `stream` and ingests a fixture (RELATIVE timecodes from now); returns the fragment
/// numbers acknowledged PERSISTED.
async fn ingest(srv: &TestServer, stream: &str, file: &str, retention: i32) -> Vec<String> {
    srv.kvs().create_stream().stream_name(stream).data_retention_in_hours(retention).send().await.unwrap();
    put_fixture(srv, stream, file, None).await
}

async fn put_fixture(srv: &TestServer, stream: &str, file: &str, pace: Option<Duration>) -> Vec<String> {
    let (header, items) = split_file(&fixture(file));
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().map(|(_, b)| b));
    let mut opts = PutOptions::new(stream);
    opts.timecode_type = "RELATIVE";
    opts.pace = pace;
    let r = put_media(srv.addr, &opts, &chunks).await;
    let kind = "PERSISTED";
    r.of(kind).iter().map(|a| a["FragmentNumber"].as_str().unwrap().to_owned()).collect()
}

fn range_secs(back: i64) -> (DateTime, DateTime) {
    let now = now_ms() as i64;
    (DateTime::from_millis(now - back * 1000), DateTime::from_millis(now + 5000))
}

async fn hls_url(srv: &TestServer, stream: &str, container: ContainerFormat) -> String {
    let (start, end) = range_secs(600);
    srv.archived()
        .get_hls_streaming_session_url()
        .stream_name(stream)
        .playback_mode(HlsPlaybackMode::OnDemand)
        .container_format(container)
        .display_fragment_timestamp(HlsDisplayFragmentTimestamp::Always)
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

/// GETs a URL of the test server (absolute, or relative to `base`).
async fn get(srv: &TestServer, base: &str, uri: &str) -> RawResponse {
    get_with(srv, base, uri, &[]).await
}

async fn get_with(srv: &TestServer, base: &str, uri: &str, extra: &[(&str, &str)]) -> RawResponse {
    let path = resolve(base, uri);
    let path = path.strip_prefix(&srv.endpoint).unwrap_or(&path).to_owned();
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", srv.addr);
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    raw_request(srv.addr, head.as_bytes()).await
}

/// Resolves a relative playlist URI against the playlist's URL.
fn resolve(base: &str, uri: &str) -> String {
    if uri.starts_with("http") {
        return uri.to_owned();
    }
    let dir = &base[..base.split('?').next().unwrap().rfind('/').unwrap() + 1];
    format!("{dir}{uri}")
}

fn uris(playlist: &str) -> Vec<String> {
    playlist.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect()
}

fn attr<'a>(playlist: &'a str, tag: &str) -> Vec<&'a str> {
    playlist.lines().filter_map(|l| l.strip_prefix(tag)).collect()
}

fn map_uri(line: &str) -> String {
    line.split("URI=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
}

/// Top-level MP4 boxes: (type, payload).
fn boxes(data: &[u8]) -> Vec<(String, &[u8])> {
    let mut out = Vec::new();
    let mut p = 0;
    while p + 8 <= data.len() {
        let mut size = u32::from_be_bytes(data[p..p + 4].try_into().unwrap()) as usize;
        let kind = String::from_utf8_lossy(&data[p + 4..p + 8]).into_owned();
        let mut hdr = 8;
        if size == 1 {
            size = u64::from_be_bytes(data[p + 8..p + 16].try_into().unwrap()) as usize;
            hdr = 16;
        }
        assert!(size >= hdr && p + size <= data.len(), "box {kind} at {p} overruns");
        out.push((kind, &data[p + hdr..p + size]));
        p += size;
    }
    assert_eq!(p, data.len(), "trailing bytes after the boxes");
    out
}

fn child<'a>(data: &'a [u8], path: &[&str]) -> Option<&'a [u8]> {
    let (first, rest) = path.split_first()?;
    let found = boxes(data).into_iter().find(|(k, _)| k == first)?.1;
    if rest.is_empty() { Some(found) } else { child(found, rest) }
}

/// (tfdt base media decode time, sample count, sum of sample durations) of a media segment.
fn media_segment_timing(seg: &[u8]) -> (u64, u32, u64) {
    let top = boxes(seg);
    assert_eq!(top.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(), ["moof", "mdat"]);
    let tfdt = child(seg, &["moof", "traf", "tfdt"]).unwrap();
    let base = if tfdt[0] == 1 {
        u64::from_be_bytes(tfdt[4..12].try_into().unwrap())
    } else {
        u64::from(u32::from_be_bytes(tfdt[4..8].try_into().unwrap()))
    };
    let trun = child(seg, &["moof", "traf", "trun"]).unwrap();
    let flags = u32::from_be_bytes(trun[0..4].try_into().unwrap()) & 0xff_ffff;
    let count = u32::from_be_bytes(trun[4..8].try_into().unwrap());
    let mut p = 8;
    if flags & 0x1 != 0 {
        p += 4;
    }
    if flags & 0x4 != 0 {
        p += 4;
    }
    let per = [0x100, 0x200, 0x400, 0x800].iter().filter(|f| flags & **f != 0).count() * 4;
    let mut total = 0u64;
    for i in 0..count as usize {
        if flags & 0x100 != 0 {
            total += u64::from(u32::from_be_bytes(trun[p + i * per..p + i * per + 4].try_into().unwrap()));
        }
    }
    (base, count, total)
}

fn ffprobe_available() -> bool {
    std::process::Command::new("ffprobe").arg("-version").output().is_ok_and(|o| o.status.success())
}

/// (frames decoded, codec name) of a stream of a file or URL, like the acceptance checks.
fn ffprobe_frames(target: &str, stream: &str) -> (u64, String) {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", stream, "-count_frames", "-show_entries"])
        .args(["stream=nb_read_frames,codec_name", "-of", "json", target])
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe failed on {target}: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["streams"][0];
    let frames = s["nb_read_frames"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0);
    (frames, s["codec_name"].as_str().unwrap_or("").to_owned())
}

async fn hls_on_demand_fmp4(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let numbers = ingest(&srv, "cam", "h264_640x360_20s_2sgop.mkv", 24).await;
    assert_eq!(numbers.len(), 10);
    let url = hls_url(&srv, "cam", ContainerFormat::FragmentedMp4).await;
    assert!(
        url.starts_with(&format!("{}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=", srv.endpoint)),
        "{url}"
    );

    let master = get(&srv, &url, &url).await;
    assert_eq!(master.status, 200);
    assert_eq!(master.header("content-type"), Some("application/vnd.apple.mpegurl"));
    let text = String::from_utf8(master.body.clone()).unwrap();
    assert!(text.starts_with("#EXTM3U\n"), "{text}");
    let inf = attr(&text, "#EXT-X-STREAM-INF:");
    assert_eq!(inf.len(), 1, "{text}");
    assert!(inf[0].contains("CODECS=\"avc1.42c01e\""), "{text}");
    assert!(inf[0].contains("RESOLUTION=640x360"), "{text}");
    assert!(inf[0].contains("FRAME-RATE=25"), "{text}");
    assert!(inf[0].contains("BANDWIDTH="), "{text}");
    assert!(!text.contains("TYPE=AUDIO"), "no audio group without audio: {text}");

    let media_uri = &uris(&text)[0];
    assert!(
        media_uri.starts_with("getHLSMediaPlaylist.m3u8?SessionToken=")
            && media_uri.ends_with("&TrackNumber=1")
    );
    let media_url = resolve(&url, media_uri);
    let media = get(&srv, &url, media_uri).await;
    assert_eq!(media.status, 200);
    assert!(media.header("cache-control").unwrap().contains("max-age"), "ON_DEMAND playlists are cacheable");
    let m = String::from_utf8(media.body).unwrap();
    let lines: Vec<&str> = m.lines().collect();
    assert_eq!(&lines[..3], ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-PLAYLIST-TYPE:VOD"], "{m}");
    assert_eq!(attr(&m, "#EXT-X-TARGETDURATION:"), ["2"], "{m}");
    assert_eq!(attr(&m, "#EXT-X-MEDIA-SEQUENCE:"), ["0"], "{m}");
    assert_eq!(
        m.matches("#EXT-X-DISCONTINUITY\n").count(),
        10,
        "ALWAYS is the SERVER_TIMESTAMP default: {m}"
    );
    assert_eq!(attr(&m, "#EXTINF:").len(), 10);
    assert!(attr(&m, "#EXTINF:").iter().all(|d| d.starts_with("2") || d.starts_with("1.9")), "{m}");
    assert_eq!(attr(&m, "#EXT-X-PROGRAM-DATE-TIME:").len(), 10, "DisplayFragmentTimestamp=ALWAYS: {m}");
    assert!(m.trim_end().ends_with("#EXT-X-ENDLIST"), "{m}");
    let segs = uris(&m);
    for (seg, n) in segs.iter().zip(&numbers) {
        assert!(
            seg.starts_with(&format!("getMP4MediaFragment.mp4?FragmentNumber={n}&SessionToken=")),
            "{seg}"
        );
    }

    // The init segment: ftyp + moov with an avc1/avcC sample entry and mvex.
    let maps = attr(&m, "#EXT-X-MAP:");
    assert_eq!(maps.len(), 1, "one header set, one map: {m}");
    let init = get(&srv, &media_url, &map_uri(maps[0])).await;
    assert_eq!(init.status, 200);
    assert_eq!(init.header("content-type"), Some("video/mp4"));
    assert!(init.header("cache-control").unwrap().contains("immutable"));
    let top: Vec<String> = boxes(&init.body).into_iter().map(|b| b.0).collect();
    assert_eq!(top, ["ftyp", "moov"]);
    let stsd = child(&init.body, &["moov", "trak", "mdia", "minf", "stbl", "stsd"]).unwrap();
    assert_eq!(&stsd[12..16], b"avc1");
    assert!(child(&init.body, &["moov", "mvex", "trex"]).is_some());

    // Media segments continue each other on one timeline.
    let mut next: Option<u64> = None;
    let mut samples = 0;
    for seg in &segs {
        let r = get(&srv, &media_url, seg).await;
        assert_eq!(r.status, 200, "{seg}");
        let (base, count, total) = media_segment_timing(&r.body);
        if let Some(n) = next {
            assert_eq!(base, n, "tfdt continues the previous segment");
        }
        next = Some(base + total);
        assert_eq!(count, 50);
        samples += count;
    }
    assert_eq!(samples, 500);

    if !ffprobe_available() {
        println!("skipped: no ffprobe");
    } else {
        let (frames, codec) = tokio::task::spawn_blocking(move || ffprobe_frames(&url, "v:0")).await.unwrap();
        assert_eq!((frames, codec.as_str()), (500, "h264"));
    }
    srv.stop().await;
}

async fn hls_ts_h265_and_aac(backend: Backend) {
    let srv = TestServer::start(backend).await;
    ingest(&srv, "ts", "h264_640x360_20s_2sgop.mkv", 24).await;
    let url = hls_url(&srv, "ts", ContainerFormat::MpegTs).await;
    let master = String::from_utf8(get(&srv, &url, &url).await.body).unwrap();
    let media = String::from_utf8(get(&srv, &url, &uris(&master)[0]).await.body).unwrap();
    assert_eq!(attr(&media, "#EXT-X-VERSION:"), ["3"], "{media}");
    assert!(!media.contains("#EXT-X-MAP"), "{media}");
    let segs = uris(&media);
    assert_eq!(segs.len(), 10);
    assert!(segs[0].starts_with("getTSFragment.ts?FragmentNumber="), "{media}");
    let seg = get(&srv, &resolve(&url, &uris(&master)[0]), &segs[0]).await;
    assert_eq!(seg.header("content-type"), Some("video/MP2T"));
    assert_eq!(seg.body.len() % 188, 0);
    assert!(seg.body.chunks(188).all(|p| p[0] == 0x47), "every packet starts with the sync byte");
    let pid = |p: &[u8]| (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
    assert_eq!(pid(&seg.body[..188]), 0, "PAT first");

    ingest(&srv, "hevc", "h265_640x360_10s.mkv", 24).await;
    let h265 = hls_url(&srv, "hevc", ContainerFormat::FragmentedMp4).await;
    let m265 = String::from_utf8(get(&srv, &h265, &h265).await.body).unwrap();
    assert!(m265.contains("CODECS=\"hvc1.1.6.L"), "{m265}");

    ingest(&srv, "aac", "gst_h264_aac_10s.mkv", 24).await;
    let aac = hls_url(&srv, "aac", ContainerFormat::FragmentedMp4).await;
    let maac = String::from_utf8(get(&srv, &aac, &aac).await.body).unwrap();
    let media_line = attr(&maac, "#EXT-X-MEDIA:");
    assert_eq!(media_line.len(), 1, "{maac}");
    assert!(media_line[0].contains("TYPE=AUDIO") && media_line[0].contains("TrackNumber=2"), "{maac}");
    let inf = attr(&maac, "#EXT-X-STREAM-INF:")[0];
    assert!(inf.contains("mp4a.40.2") && inf.contains("AUDIO=\"audio\""), "{maac}");
    let audio_playlist = String::from_utf8(get(&srv, &aac, &map_uri(media_line[0])).await.body).unwrap();
    let audio_map = map_uri(attr(&audio_playlist, "#EXT-X-MAP:")[0]);
    let audio_init = get(&srv, &resolve(&aac, &map_uri(media_line[0])), &audio_map).await;
    let stsd = child(&audio_init.body, &["moov", "trak", "mdia", "minf", "stbl", "stsd"]).unwrap();
    assert_eq!(&stsd[12..16], b"mp4a");

    if !ffprobe_available() {
        println!("skipped: no ffprobe");
    } else {
        let got = tokio::task::spawn_blocking(move || {
            (
                ffprobe_frames(&url, "v:0"),
                ffprobe_frames(&h265, "v:0"),
                ffprobe_frames(&aac, "v:0"),
                ffprobe_frames(&aac, "a:0"),
            )
        })
        .await
        .unwrap();
        assert_eq!(got.0, (500, "h264".to_owned()), "MPEG-TS");
        assert_eq!(got.1, (250, "hevc".to_owned()), "H.265");
        assert_eq!(got.2, (300, "h264".to_owned()), "H.264 beside AAC");
        assert_eq!(got.3.1, "aac");
        assert!(got.3.0 >= 460, "AAC frames: {}", got.3.0);
    }
    srv.stop().await;
}

async fn hls_session_errors_tokens_and_cors(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let am = srv.archived();
    let code = |e: &dyn ProvideErrorMetadata| e.code().unwrap_or("").to_owned();
    // Unknown stream; no data; bad parameters.
    let e = am.get_hls_streaming_session_url().stream_name("nope").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "ResourceNotFoundException");
    srv.kvs().create_stream().stream_name("empty").data_retention_in_hours(1).send().await.unwrap();
    let e = am.get_hls_streaming_session_url().stream_name("empty").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "ResourceNotFoundException", "LIVE needs recent data");
    ingest(&srv, "zero", "h264_640x360_20s_2sgop.mkv", 0).await;
    let e = am.get_hls_streaming_session_url().stream_name("zero").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoDataRetentionException");
    let e = am
        .get_hls_streaming_session_url()
        .stream_name("empty")
        .playback_mode(HlsPlaybackMode::OnDemand)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidArgumentException", "ON_DEMAND needs a range");
    let (start, end) = range_secs(60);
    let e = am
        .get_hls_streaming_session_url()
        .stream_name("empty")
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
        .unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidArgumentException", "LIVE takes no range");
    let e = am.get_hls_streaming_session_url().stream_name("empty").expires(100).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidArgumentException");

    ingest(&srv, "cam", "h264_640x360_20s_2sgop.mkv", 24).await;
    let url = hls_url(&srv, "cam", ContainerFormat::FragmentedMp4).await;
    // CORS on resources and preflights.
    let r = get_with(&srv, &url, &url, &[("Origin", "http://player.test")]).await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let path = url.strip_prefix(&srv.endpoint).unwrap();
    let pre = format!(
        "OPTIONS {path} HTTP/1.1\r\nHost: {}\r\nOrigin: http://player.test\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n",
        srv.addr
    );
    let r = raw_request(srv.addr, pre.as_bytes()).await;
    assert!(r.status < 300 && r.header("access-control-allow-origin") == Some("*"), "{r:?}");
    let pre = format!(
        "OPTIONS /getHLSStreamingSessionURL HTTP/1.1\r\nHost: {}\r\nOrigin: http://x\r\nAccess-Control-Request-Headers: authorization,x-amz-date\r\nConnection: close\r\n\r\n",
        srv.addr
    );
    let r = raw_request(srv.addr, pre.as_bytes()).await;
    assert!(r.status < 300 && r.header("access-control-allow-headers").unwrap().contains("authorization"));

    // Forged, tampered, expired and wrong-kind tokens: a 4xx AWS error and nothing else.
    let token = url.split("SessionToken=").nth(1).unwrap().to_owned();
    let (payload, mac) = token.split_once('.').unwrap();
    let mut raw = base64_url_decode(payload);
    let text = String::from_utf8(raw.clone()).unwrap().replace("\"x\":1000", "\"x\":1001");
    raw = text.into_bytes();
    let tampered = format!("{}.{mac}", base64_url_encode(&raw));
    for bad in ["forged".to_owned(), tampered, format!("{token}A"), String::new()] {
        let u = url.replace(&token, &bad);
        let r = get(&srv, &u, &u).await;
        assert!((400..500).contains(&r.status), "token {bad:?}: {}", r.status);
        assert!(r.header("x-amzn-errortype").is_some());
        assert!(!String::from_utf8_lossy(&r.body).contains("#EXTM3U"));
    }
    let key = openkvs::auth::session_token::SessionTokenKey::from_secret(b"openkvs-secret");
    let mut claims: openkvs::playback::session::SessionClaims =
        serde_json::from_slice(&raw_claims(&token)).unwrap();
    claims.expires_ms = now_ms() as i64 - 1;
    let expired = key.seal(&serde_json::to_vec(&claims).unwrap());
    let u = url.replace(&token, &expired);
    let r = get(&srv, &u, &u).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("x-amzn-errortype"), Some("NotAuthorizedException"));
    assert!(String::from_utf8_lossy(&r.body).contains("expired"));
    // An HLS token does not open DASH resources.
    let dash = format!("{}/dash/v1/getDASHManifest.mpd?SessionToken={token}", srv.endpoint);
    assert_eq!(get(&srv, &dash, &dash).await.status, 401);
    // A fragment of another stream is not part of this session.
    let other = ingest(&srv, "other", "h264_640x360_20s_2sgop.mkv", 24).await;
    let seg =
        format!("getMP4MediaFragment.mp4?FragmentNumber={}&SessionToken={token}&TrackNumber=1", other[0]);
    let r = get(&srv, &url, &seg).await;
    assert_eq!((r.status, r.header("x-amzn-errortype")), (404, Some("ResourceNotFoundException")));
    srv.stop().await;
}

fn raw_claims(token: &str) -> Vec<u8> {
    base64_url_decode(token.split('.').next().unwrap())
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn base64_url_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

async fn hls_live_window_follows_ingest(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let first = ingest(&srv, "live", "h264_640x360_20s_2sgop.mkv", 24).await;
    let url = srv
        .archived()
        .get_hls_streaming_session_url()
        .stream_name("live")
        .send()
        .await
        .unwrap()
        .hls_streaming_session_url
        .unwrap();
    let master = String::from_utf8(get(&srv, &url, &url).await.body).unwrap();
    let media_uri = uris(&master)[0].clone();
    let playlist = |srv: &TestServer| {
        let (url, media_uri) = (url.clone(), media_uri.clone());
        let srv_addr = srv.addr;
        let endpoint = srv.endpoint.clone();
        async move {
            let path = resolve(&url, &media_uri);
            let path = path.strip_prefix(&endpoint).unwrap().to_owned();
            let head = format!("GET {path} HTTP/1.1\r\nHost: {srv_addr}\r\nConnection: close\r\n\r\n");
            let r = raw_request(srv_addr, head.as_bytes()).await;
            assert!(r.header("cache-control").unwrap().contains("no-cache"));
            String::from_utf8(r.body).unwrap()
        }
    };
    let p = playlist(&srv).await;
    assert!(!p.contains("#EXT-X-ENDLIST") && !p.contains("PLAYLIST-TYPE"), "{p}");
    assert_eq!(attr(&p, "#EXT-X-MEDIA-SEQUENCE:"), ["0"], "{p}");
    let listed: Vec<String> =
        uris(&p).iter().map(|u| u.split(['=', '&']).nth(1).unwrap().to_owned()).collect();
    assert_eq!(listed, first[5..], "the newest 5 fragments");

    // More ingest: the window slides and MEDIA-SEQUENCE advances by exactly the fragments that
    // left it. Each fragment's PERSISTED → visible delay is measured (reported, not asserted).
    let (header, items) = split_file(&fixture("h264_640x360_20s_2sgop.mkv"));
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().take(3).map(|(_, b)| b));
    let mut opts = PutOptions::new("live");
    opts.timecode_type = "RELATIVE";
    let r = put_media(srv.addr, &opts, &chunks).await;
    let more: Vec<String> =
        r.of("PERSISTED").iter().map(|a| a["FragmentNumber"].as_str().unwrap().to_owned()).collect();
    assert_eq!(more.len(), 3);
    let t0 = Instant::now();
    let p = playlist(&srv).await;
    let delay = t0.elapsed();
    assert!(p.contains(&more[2]), "a PERSISTED fragment is listed at once: {p}");
    println!("LIVE playlist visibility after PERSISTED: one playlist request, {delay:?}");
    assert_eq!(attr(&p, "#EXT-X-MEDIA-SEQUENCE:"), ["3"], "{p}");
    assert_eq!(attr(&p, "#EXT-X-DISCONTINUITY-SEQUENCE:"), ["3"], "{p}");
    let listed: Vec<String> =
        uris(&p).iter().map(|u| u.split(['=', '&']).nth(1).unwrap().to_owned()).collect();
    assert_eq!(listed, [&first[8..], &more[..]].concat());
    srv.stop().await;
}

async fn hls_live_replay_is_paced(backend: Backend) {
    let srv = TestServer::start(backend).await;
    ingest(&srv, "replay", "h264_640x360_20s_2sgop.mkv", 24).await;
    let (start, _) = range_secs(600);
    let url = srv
        .archived()
        .get_hls_streaming_session_url()
        .stream_name("replay")
        .playback_mode(HlsPlaybackMode::LiveReplay)
        .max_media_playlist_fragment_results(3)
        .hls_fragment_selector(
            HlsFragmentSelector::builder()
                .fragment_selector_type(HlsFragmentSelectorType::ProducerTimestamp)
                .timestamp_range(HlsTimestampRange::builder().start_timestamp(start).build())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .hls_streaming_session_url
        .unwrap();
    let master = String::from_utf8(get(&srv, &url, &url).await.body).unwrap();
    let p = String::from_utf8(get(&srv, &url, &uris(&master)[0]).await.body).unwrap();
    // Right after creation only the first fragment is visible (the next appears after 2 s).
    assert_eq!(uris(&p).len(), 1, "{p}");
    assert!(
        !p.contains("#EXT-X-ENDLIST") && !p.contains("#EXT-X-DISCONTINUITY\n"),
        "producer time: NEVER: {p}"
    );
    assert_eq!(attr(&p, "#EXT-X-MEDIA-SEQUENCE:"), ["0"]);
    srv.stop().await;
}

async fn dash_on_demand_and_live(backend: Backend) {
    let srv = TestServer::start(backend).await;
    ingest(&srv, "dash", "gst_h264_aac_10s.mkv", 24).await;
    let (start, end) = range_secs(600);
    let url = srv
        .archived()
        .get_dash_streaming_session_url()
        .stream_name("dash")
        .playback_mode(DashPlaybackMode::OnDemand)
        .display_fragment_number(aws_sdk_kinesisvideoarchivedmedia::types::DashDisplayFragmentNumber::Always)
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
        .unwrap();
    assert!(url.contains("/dash/v1/getDASHManifest.mpd?SessionToken="), "{url}");
    let r = get(&srv, &url, &url).await;
    assert_eq!(r.header("content-type"), Some("application/dash+xml"));
    let mpd = String::from_utf8(r.body).unwrap();
    assert!(mpd.contains("<MPD") && mpd.contains("type=\"static\""), "{mpd}");
    assert_eq!(mpd.matches("<AdaptationSet").count(), 2, "{mpd}");
    assert!(mpd.contains("codecs=\"avc1.") && mpd.contains("codecs=\"mp4a.40.2\""), "{mpd}");
    assert_eq!(mpd.matches("<S ").count(), 10, "5 fragments per track: {mpd}");
    assert!(mpd.contains("kvs:fn=\""), "{mpd}");
    // Resolve the first video segment from the template.
    let t: String = mpd.split("<S t=\"").nth(1).unwrap().chars().take_while(|c| c.is_ascii_digit()).collect();
    let media_tpl = mpd.split("media=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    let seg = get(&srv, &url, &media_tpl.replace("$Time$", &t)).await;
    assert_eq!(seg.status, 200, "{}", String::from_utf8_lossy(&seg.body));
    let (base, count, _) = media_segment_timing(&seg.body);
    assert!(count > 0);
    assert_eq!(base / 90, t.parse::<u64>().unwrap(), "tfdt matches the timeline");
    if !ffprobe_available() {
        println!("skipped: no ffprobe");
    } else {
        let u = url.clone();
        let (frames, codec) = tokio::task::spawn_blocking(move || ffprobe_frames(&u, "v:0")).await.unwrap();
        assert_eq!((frames, codec.as_str()), (300, "h264"));
    }
    // LIVE: a dynamic manifest on the epoch clock.
    let live = srv
        .archived()
        .get_dash_streaming_session_url()
        .stream_name("dash")
        .send()
        .await
        .unwrap()
        .dash_streaming_session_url
        .unwrap();
    let mpd = String::from_utf8(get(&srv, &live, &live).await.body).unwrap();
    assert!(
        mpd.contains("type=\"dynamic\"") && mpd.contains("availabilityStartTime=\"1970-01-01T00:00:00"),
        "{mpd}"
    );
    assert_eq!(mpd.matches("<S ").count(), 10, "{mpd}");
    srv.stop().await;
}

async fn get_clip_mp4_and_errors(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| c.playback.max_clip_fragments = 10).await;
    ingest(&srv, "clip", "h264_640x360_20s_2sgop.mkv", 24).await;
    let (start, end) = range_secs(600);
    let selector = |start: DateTime, end: DateTime| {
        ClipFragmentSelector::builder()
            .fragment_selector_type(ClipFragmentSelectorType::ServerTimestamp)
            .timestamp_range(
                aws_sdk_kinesisvideoarchivedmedia::types::ClipTimestampRange::builder()
                    .start_timestamp(start)
                    .end_timestamp(end)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let resp = srv
        .archived()
        .get_clip()
        .stream_name("clip")
        .clip_fragment_selector(selector(start, end))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.content_type(), Some("video/mp4"));
    let body: Bytes = resp.payload.collect().await.unwrap().into_bytes();
    let top: Vec<String> = boxes(&body).into_iter().map(|b| b.0).collect();
    assert_eq!(top, ["ftyp", "moov", "mdat"]);
    let stsz = child(&body, &["moov", "trak", "mdia", "minf", "stbl", "stsz"]).unwrap();
    assert_eq!(u32::from_be_bytes(stsz[8..12].try_into().unwrap()), 500, "every frame in the sample table");
    assert!(child(&body, &["moov", "trak", "mdia", "minf", "stbl", "stss"]).is_some());
    if !ffprobe_available() {
        println!("skipped: no ffprobe");
    } else {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip.mp4");
        std::fs::write(&path, &body).unwrap();
        let p = path.to_str().unwrap().to_owned();
        let (frames, codec) = tokio::task::spawn_blocking(move || ffprobe_frames(&p, "v:0")).await.unwrap();
        assert_eq!((frames, codec.as_str()), (500, "h264"));
    }

    let code = |r: Result<_, aws_sdk_kinesisvideoarchivedmedia::error::SdkError<_, _>>| -> String {
        let e: aws_sdk_kinesisvideoarchivedmedia::error::SdkError<
            aws_sdk_kinesisvideoarchivedmedia::operation::get_clip::GetClipError,
            _,
        > = r.map(|_: aws_sdk_kinesisvideoarchivedmedia::operation::get_clip::GetClipOutput| ()).unwrap_err();
        e.as_service_error().and_then(|s| s.code()).unwrap_or("").to_owned()
    };
    let old = DateTime::from_millis(1_000_000);
    let r =
        srv.archived().get_clip().stream_name("clip").clip_fragment_selector(selector(old, old)).send().await;
    assert_eq!(code(r), "ResourceNotFoundException", "no fragments in range");
    let r = srv
        .archived()
        .get_clip()
        .stream_name("nope")
        .clip_fragment_selector(selector(start, end))
        .send()
        .await;
    assert_eq!(code(r), "ResourceNotFoundException");
    put_fixture(&srv, "clip", "h264_640x360_20s_2sgop.mkv", None).await;
    let r = srv
        .archived()
        .get_clip()
        .stream_name("clip")
        .clip_fragment_selector(selector(start, end))
        .send()
        .await;
    assert_eq!(code(r), "InvalidArgumentException", "20 fragments > max_clip_fragments 10");
    ingest(&srv, "zero", "h264_640x360_20s_2sgop.mkv", 0).await;
    let r = srv
        .archived()
        .get_clip()
        .stream_name("zero")
        .clip_fragment_selector(selector(start, end))
        .send()
        .await;
    assert_eq!(code(r), "NoDataRetentionException");
    srv.stop().await;
}

/// ON_DEMAND HLS (fMP4 and TS), DASH and GetClip of the H.264, H.265 and H.264+AAC fixtures:
/// ffprobe must decode every frame of each.
async fn ffprobe_decodes_every_output_of_every_codec(backend: Backend) {
    if !ffprobe_available() {
        println!("skipped: no ffprobe");
        return;
    }
    let srv = TestServer::start(backend).await;
    let cases = [
        ("h264", "h264_640x360_20s_2sgop.mkv", "h264", 500, None),
        ("h265", "h265_640x360_10s.mkv", "hevc", 250, None),
        ("aac", "gst_h264_aac_10s.mkv", "h264", 300, Some(460)),
    ];
    for (stream, file, codec, frames, audio) in cases {
        ingest(&srv, stream, file, 24).await;
        // After the ingest: on a loaded machine the earlier cases can take longer than the range's
        // 5 s of slack, which would leave this stream's fragments after its end.
        let (start, end) = range_secs(600);
        let fmp4 = hls_url(&srv, stream, ContainerFormat::FragmentedMp4).await;
        let ts = hls_url(&srv, stream, ContainerFormat::MpegTs).await;
        let dash = srv
            .archived()
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
            .unwrap();
        let clip = srv
            .archived()
            .get_clip()
            .stream_name(stream)
            .clip_fragment_selector(
                ClipFragmentSelector::builder()
                    .fragment_selector_type(ClipFragmentSelectorType::ServerTimestamp)
                    .timestamp_range(
                        aws_sdk_kinesisvideoarchivedmedia::types::ClipTimestampRange::builder()
                            .start_timestamp(start)
                            .end_timestamp(end)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let body = clip.payload.collect().await.unwrap().into_bytes();
        let dir = tempfile::tempdir().unwrap();
        let clip_path = dir.path().join("clip.mp4");
        std::fs::write(&clip_path, &body).unwrap();
        let clip_path = clip_path.to_str().unwrap().to_owned();
        let targets = [("HLS fMP4", fmp4), ("HLS MPEG-TS", ts), ("DASH", dash), ("GetClip", clip_path)];
        let results = tokio::task::spawn_blocking(move || {
            targets
                .iter()
                .map(|(what, t)| {
                    let v = ffprobe_frames(t, "v:0");
                    let a = audio.map(|_| ffprobe_frames(t, "a:0"));
                    (what.to_string(), v, a)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        for (what, v, a) in results {
            assert_eq!(v, (frames, codec.to_owned()), "{what} of {file}");
            if let (Some(min), Some((n, c))) = (audio, a) {
                assert_eq!(c, "aac", "{what} of {file}");
                assert!(n >= min, "{what} of {file}: {n} AAC frames");
            }
        }
    }
    srv.stop().await;
}
