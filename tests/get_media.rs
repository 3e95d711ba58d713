//! The read path with the official aws-sdk-rust media clients: GetMedia from the archive and live
//! (frame-level tail, latency reported, not asserted), every StartSelector, ListFragments paging
//! and ranges, GetMediaForFragmentList, reader limits, and a stalled reader that must not slow
//! ingest. GetMedia output is parsed with the crate's demuxer (chunk by chunk) and cross-checked
//! with matroska-demuxer.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_kinesisvideoarchivedmedia::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{FragmentSelector, FragmentSelectorType, TimestampRange};
use aws_sdk_kinesisvideomedia::types::{StartSelector, StartSelectorType};
use bytes::Bytes;
use common::producer::{PutOptions, put_media, split_file};
use common::{Backend, TestServer};
use openkvs::media::mkv::{DemuxLimits, MkvDemuxer, MkvEvent};

backend_tests!(archive_selectors_and_tags, list_fragments_pages_and_ranges, fragment_list_and_limits);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// What a GetMedia body contains.
#[derive(Debug, Default)]
struct Parsed {
    documents: usize,
    frames: usize,
    /// (tag name, value) in order.
    tags: Vec<(String, String)>,
}

impl Parsed {
    fn values(&self, name: &str) -> Vec<String> {
        self.tags.iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect()
    }
}

fn parse(body: &[u8]) -> Parsed {
    let mut d = MkvDemuxer::new(DemuxLimits::default());
    d.push(Bytes::copy_from_slice(body));
    d.finish();
    let mut p = Parsed::default();
    loop {
        match d.pull() {
            Ok(Some(MkvEvent::EbmlHeader { .. })) => p.documents += 1,
            Ok(Some(MkvEvent::Frame(_))) => p.frames += 1,
            Ok(Some(MkvEvent::Tags { tags, .. })) => {
                p.tags.extend(tags.into_iter().map(|t| (t.name, t.value)))
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("GetMedia output is not valid Matroska: {e}"),
        }
    }
    p
}

/// Each chunk (one fragment) is a standalone Matroska file: matroska-demuxer reads it.
fn cross_check_with_matroska_demuxer(body: &[u8]) -> usize {
    let starts: Vec<usize> =
        body.windows(4).enumerate().filter(|(_, w)| *w == [0x1A, 0x45, 0xDF, 0xA3]).map(|(i, _)| i).collect();
    let mut frames = 0;
    for (i, &s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(body.len());
        let mut mkv =
            matroska_demuxer::MatroskaFile::open(std::io::Cursor::new(&body[s..e])).expect("chunk opens");
        let mut frame = matroska_demuxer::Frame::default();
        while mkv.next_frame(&mut frame).unwrap_or(false) {
            frames += 1;
        }
    }
    frames
}

async fn ingest_fixture(srv: &TestServer, stream: &str, retention: i32) -> (Vec<String>, i64) {
    srv.kvs().create_stream().stream_name(stream).data_retention_in_hours(retention).send().await.unwrap();
    let (header, items) = split_file(&fixture("h264_640x360_20s_2sgop.mkv"));
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().map(|(_, b)| b));
    let mut opts = PutOptions::new(stream);
    opts.timecode_type = "RELATIVE";
    let start: i64 = opts.producer_start.as_deref().unwrap().replace('.', "").parse().unwrap();
    let r = put_media(srv.addr, &opts, &chunks).await;
    let numbers: Vec<String> =
        r.of("PERSISTED").iter().map(|a| a["FragmentNumber"].as_str().unwrap().to_owned()).collect();
    assert_eq!(numbers.len(), 10, "{:?}", r.acks);
    (numbers, start)
}

/// Reads a GetMedia body until `frames` frames arrived, the body ended, or `limit` passed.
async fn get_media(
    srv: &TestServer,
    stream: &str,
    selector: StartSelector,
    frames: usize,
    limit: Duration,
) -> Vec<u8> {
    let resp = srv.media().get_media().stream_name(stream).start_selector(selector).send().await.unwrap();
    assert_eq!(resp.content_type(), Some("video/webm"));
    let mut payload = resp.payload;
    let mut body = Vec::new();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match tokio::time::timeout_at(deadline.into(), payload.next()).await {
            Ok(Some(Ok(b))) => {
                body.extend_from_slice(&b);
                if parse_frames_quick(&body) >= frames {
                    break;
                }
            }
            _ => break,
        }
    }
    body
}

fn parse_frames_quick(body: &[u8]) -> usize {
    let mut d = MkvDemuxer::new(DemuxLimits::default());
    d.push(Bytes::copy_from_slice(body));
    let mut n = 0;
    while let Ok(Some(ev)) = d.pull() {
        if matches!(ev, MkvEvent::Frame(_)) {
            n += 1;
        }
    }
    n
}

fn selector(kind: StartSelectorType) -> aws_sdk_kinesisvideomedia::types::builders::StartSelectorBuilder {
    StartSelector::builder().start_selector_type(kind)
}

async fn archive_selectors_and_tags(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| c.playback.get_media_idle_secs = 1).await;
    let (numbers, start) = ingest_fixture(&srv, "cam", 24).await;

    // Read to the end: the response ends a second after catching up (get_media_idle_secs = 1).
    let body = get_media(
        &srv,
        "cam",
        selector(StartSelectorType::Earliest).build().unwrap(),
        usize::MAX,
        Duration::from_secs(20),
    )
    .await;
    let p = parse(&body);
    assert_eq!(p.documents, 10, "one Matroska document per fragment");
    assert_eq!(p.frames, 500);
    assert_eq!(cross_check_with_matroska_demuxer(&body), 500);
    assert_eq!(p.values("AWS_KINESISVIDEO_FRAGMENT_NUMBER"), numbers);
    assert_eq!(p.values("AWS_KINESISVIDEO_CONTINUATION_TOKEN"), numbers);
    let producer = p.values("AWS_KINESISVIDEO_PRODUCER_TIMESTAMP");
    assert_eq!(producer[0], format!("{}.{:03}", start / 1000, start % 1000));
    assert!(
        p.values("AWS_KINESISVIDEO_SERVER_TIMESTAMP").iter().all(|t| t.split_once('.').unwrap().1.len() == 3)
    );
    assert_eq!(p.values("AWS_KINESISVIDEO_MILLIS_BEHIND_NOW").len(), 10);

    let after =
        selector(StartSelectorType::FragmentNumber).after_fragment_number(&numbers[7]).build().unwrap();
    let p = parse(&get_media(&srv, "cam", after, usize::MAX, Duration::from_secs(10)).await);
    assert_eq!(p.values("AWS_KINESISVIDEO_FRAGMENT_NUMBER"), numbers[8..]);

    let token =
        selector(StartSelectorType::ContinuationToken).continuation_token(&numbers[5]).build().unwrap();
    let p = parse(&get_media(&srv, "cam", token, usize::MAX, Duration::from_secs(10)).await);
    assert_eq!(p.values("AWS_KINESISVIDEO_FRAGMENT_NUMBER"), numbers[6..]);

    // Producer time 4.5 s into the stream is inside fragment 3 (4.0–6.0 s).
    let ts = DateTime::from_millis(start + 4_500);
    let by_time = selector(StartSelectorType::ProducerTimestamp).start_timestamp(ts).build().unwrap();
    let p = parse(&get_media(&srv, "cam", by_time, usize::MAX, Duration::from_secs(10)).await);
    assert_eq!(p.values("AWS_KINESISVIDEO_FRAGMENT_NUMBER"), numbers[2..]);

    let long_ago =
        selector(StartSelectorType::ServerTimestamp).start_timestamp(DateTime::from_secs(1)).build().unwrap();
    let p = parse(&get_media(&srv, "cam", long_ago, usize::MAX, Duration::from_secs(10)).await);
    assert_eq!(p.frames, 500);

    let bad = srv
        .media()
        .get_media()
        .stream_name("cam")
        .start_selector(selector(StartSelectorType::FragmentNumber).build().unwrap());
    let e = bad.send().await.unwrap_err().into_service_error();
    assert_eq!(e.code(), Some("InvalidArgumentException"));
    let e = srv
        .media()
        .get_media()
        .stream_name("ghost")
        .start_selector(selector(StartSelectorType::Now).build().unwrap())
        .send()
        .await;
    assert_eq!(e.unwrap_err().into_service_error().code(), Some("ResourceNotFoundException"));
    srv.stop().await;
}

async fn list_fragments_pages_and_ranges(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let (numbers, start) = ingest_fixture(&srv, "cam", 24).await;
    let am = srv.archived();
    let all = am.list_fragments().stream_name("cam").send().await.unwrap();
    let listed: Vec<&str> = all.fragments().iter().filter_map(|f| f.fragment_number()).collect();
    assert_eq!(listed, numbers);
    for f in all.fragments() {
        assert!((1900..=2100).contains(&f.fragment_length_in_milliseconds()), "{f:?}");
        assert!(f.fragment_size_in_bytes() > 10_000);
    }
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page =
            am.list_fragments().stream_name("cam").max_results(3).set_next_token(token).send().await.unwrap();
        assert!(page.fragments().len() <= 3);
        paged.extend(page.fragments().iter().filter_map(|f| f.fragment_number().map(str::to_owned)));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, numbers);

    let producer_range = |from: i64, to: i64| {
        FragmentSelector::builder()
            .fragment_selector_type(FragmentSelectorType::ProducerTimestamp)
            .timestamp_range(
                TimestampRange::builder()
                    .start_timestamp(DateTime::from_millis(from))
                    .end_timestamp(DateTime::from_millis(to))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let r = am
        .list_fragments()
        .stream_name("cam")
        .fragment_selector(producer_range(start + 4000, start + 9999))
        .send()
        .await
        .unwrap();
    let got: Vec<&str> = r.fragments().iter().filter_map(|f| f.fragment_number()).collect();
    assert_eq!(got, numbers[2..5]);
    // Paging inside a range keeps the range.
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let mut req = am.list_fragments().stream_name("cam").max_results(2);
        req = match &token {
            Some(t) => req.next_token(t),
            None => req.fragment_selector(producer_range(start + 2000, start + 14_000)),
        };
        let page = req.send().await.unwrap();
        paged.extend(page.fragments().iter().filter_map(|f| f.fragment_number().map(str::to_owned)));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, numbers[1..8]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let server = FragmentSelector::builder()
        .fragment_selector_type(FragmentSelectorType::ServerTimestamp)
        .timestamp_range(
            TimestampRange::builder()
                .start_timestamp(DateTime::from_millis(now - 300_000))
                .end_timestamp(DateTime::from_millis(now + 60_000))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert_eq!(
        am.list_fragments()
            .stream_name("cam")
            .fragment_selector(server)
            .send()
            .await
            .unwrap()
            .fragments()
            .len(),
        10
    );
    let e =
        am.list_fragments().stream_name("cam").max_results(0).send().await.unwrap_err().into_service_error();
    assert_eq!(e.code(), Some("InvalidArgumentException"));
    let e = am
        .list_fragments()
        .stream_name("cam")
        .next_token("bm9wZQ==")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.code(), Some("InvalidArgumentException"));
    let backwards = producer_range(start + 9000, start);
    let e = am.list_fragments().stream_name("cam").fragment_selector(backwards).send().await.unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("InvalidArgumentException"));
    srv.stop().await;
}

async fn fragment_list_and_limits(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| c.playback.get_media_idle_secs = 30).await;
    let (numbers, _) = ingest_fixture(&srv, "cam", 24).await;
    let am = srv.archived();
    let resp = am
        .get_media_for_fragment_list()
        .stream_name("cam")
        .set_fragments(Some(numbers[2..5].to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.content_type(), Some("video/webm"));
    let body = resp.payload.collect().await.unwrap().into_bytes();
    let p = parse(&body);
    assert_eq!((p.documents, p.frames), (3, 150));
    assert_eq!(p.values("AWS_KINESISVIDEO_FRAGMENT_NUMBER"), numbers[2..5]);
    let e = am.get_media_for_fragment_list().stream_name("cam").fragments("123").send().await.unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("ResourceNotFoundException"));

    // Three concurrent readers are allowed, a fourth is refused.
    let mut open = Vec::new();
    for _ in 0..3 {
        let r = srv
            .media()
            .get_media()
            .stream_name("cam")
            .start_selector(selector(StartSelectorType::Now).build().unwrap())
            .send()
            .await
            .unwrap();
        open.push(r);
    }
    let e = srv
        .media()
        .get_media()
        .stream_name("cam")
        .start_selector(selector(StartSelectorType::Now).build().unwrap())
        .send()
        .await;
    assert_eq!(e.unwrap_err().into_service_error().code(), Some("ConnectionLimitExceededException"));
    drop(open);
    // Slots are freed when readers go away.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = srv
            .media()
            .get_media()
            .stream_name("cam")
            .start_selector(selector(StartSelectorType::Now).build().unwrap())
            .send()
            .await;
        if r.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "reader slots were not released");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    srv.stop().await;
}

/// Splits a cluster into its header (ID, size, Timecode) and one chunk per SimpleBlock, so a test
/// producer can send frame by frame like a live camera.
fn frames_of_cluster(cluster: &Bytes) -> Vec<Bytes> {
    let mut d = MkvDemuxer::new(DemuxLimits::default());
    let mut header = openkvs::media::ebml::EbmlWriter::new();
    header.raw(&Synthetic::ebml_prefix());
    let prefix = header.finish();
    let mut input = prefix.to_vec();
    input.extend_from_slice(cluster);
    d.push(Bytes::from(input));
    d.finish();
    let mut pieces = Vec::new();
    let base = prefix.len() as u64;
    while let Ok(Some(ev)) = d.pull() {
        if let MkvEvent::ClusterChild { offset, raw, id } = ev
            && id == openkvs::media::mkv::ids::SIMPLE_BLOCK
        {
            if pieces.is_empty() {
                pieces.push(cluster.slice(..(offset - base) as usize));
            }
            pieces.push(raw);
        }
    }
    pieces
}

struct Synthetic;

impl Synthetic {
    /// A minimal EBML header + Segment + Info + Tracks so a lone cluster can be demuxed.
    fn ebml_prefix() -> Bytes {
        common::producer::Synth { tracks: vec![1] }.header()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_tail_delivers_frames_as_they_arrive() {
    let srv = TestServer::start(Backend::Sqlite).await;
    srv.kvs().create_stream().stream_name("live").data_retention_in_hours(1).send().await.unwrap();
    let (header, items) = split_file(&fixture("h264_640x360_20s_2sgop.mkv"));
    let clusters: Vec<Bytes> =
        items.into_iter().filter(|(tc, _)| tc.is_some()).map(|(_, b)| b).take(3).collect();
    // Frame-by-frame chunks, 40 ms apart like a 25 fps camera; remember which chunk is a frame.
    let mut chunks = vec![header];
    let mut frame_chunk = Vec::new();
    for c in &clusters {
        for (i, piece) in frames_of_cluster(c).into_iter().enumerate() {
            if i > 0 {
                frame_chunk.push(chunks.len());
            }
            chunks.push(piece);
        }
    }
    let total_frames = frame_chunk.len();
    assert_eq!(total_frames, 150);
    let resp = srv
        .media()
        .get_media()
        .stream_name("live")
        .start_selector(selector(StartSelectorType::Now).build().unwrap())
        .send()
        .await
        .unwrap();
    let reader = tokio::spawn(async move {
        let mut payload = resp.payload;
        let mut demux = MkvDemuxer::new(DemuxLimits::default());
        let mut arrivals = Vec::new();
        while let Ok(Some(Ok(b))) = tokio::time::timeout(Duration::from_secs(10), payload.next()).await {
            let now = Instant::now();
            demux.push(b);
            while let Ok(Some(ev)) = demux.pull() {
                if matches!(ev, MkvEvent::Frame(_)) {
                    arrivals.push(now);
                }
            }
            if arrivals.len() >= total_frames {
                break;
            }
        }
        arrivals
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut opts = PutOptions::new("live");
    opts.timecode_type = "RELATIVE";
    opts.pace = Some(Duration::from_millis(40));
    let r = put_media(srv.addr, &opts, &chunks).await;
    let arrivals = reader.await.unwrap();
    assert_eq!(r.of("PERSISTED").len(), 3);
    assert_eq!(arrivals.len(), total_frames, "every live frame reached the reader");
    let mut lat: Vec<f64> = arrivals
        .iter()
        .zip(&frame_chunk)
        .map(|(t, &i)| t.duration_since(r.sent_at[i]).as_secs_f64() * 1000.0)
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    eprintln!(
        "live GetMedia frame latency (frame written by the producer -> parsed by the reader, ms): p50 {:.2} p99 {:.2} max {:.2}",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100],
        lat[lat.len() - 1]
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_does_not_slow_ingest() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| c.playback.get_media_idle_secs = 60).await;
    let (header, items) = split_file(&fixture("h264_640x360_20s_2sgop.mkv"));
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().map(|(_, b)| b));
    let mut latencies = Vec::new();
    for (i, stalled) in [false, true].into_iter().enumerate() {
        let name = format!("s{i}");
        srv.kvs().create_stream().stream_name(&name).data_retention_in_hours(1).send().await.unwrap();
        // A reader that never reads its body.
        let _stalled = if stalled {
            Some(
                srv.media()
                    .get_media()
                    .stream_name(&name)
                    .start_selector(selector(StartSelectorType::Now).build().unwrap())
                    .send()
                    .await
                    .unwrap(),
            )
        } else {
            None
        };
        let mut opts = PutOptions::new(&name);
        opts.timecode_type = "RELATIVE";
        let t0 = Instant::now();
        let r = put_media(srv.addr, &opts, &chunks).await;
        latencies.push(t0.elapsed());
        assert_eq!(r.of("PERSISTED").len(), 10, "every fragment persisted with a stalled reader: {stalled}");
    }
    eprintln!(
        "ingest of 10 fragments: {:?} without a reader, {:?} with a stalled reader",
        latencies[0], latencies[1]
    );
    srv.stop().await;
}
