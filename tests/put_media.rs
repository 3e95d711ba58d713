//! PutMedia end to end: fixtures and real producer bodies through a real server, signed like the C
//! producer; every ACK checked, stored fragments checked in the index and the store, every ErrorId
//! provoked with a crafted body, and persistence across a restart.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::producer::{
    PutOptions, PutResult, Synth, chunks_of, put_media, put_media_with_head, tags_element,
};
use common::{Backend, TestServer};
use openkvs::model::StreamName;

backend_tests!(
    fixtures_and_producer_bodies_are_acked_and_stored,
    fragments_survive_a_restart,
    every_error_id_comes_back_as_an_ack,
    retention_zero_acks_received_only,
);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

async fn create(srv: &TestServer, name: &str, retention: i32) {
    srv.kvs().create_stream().stream_name(name).data_retention_in_hours(retention).send().await.unwrap();
}

fn assert_acked(r: &PutResult, codes: &[u64]) {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.error_body));
    assert!(r.error_ids().is_empty(), "errors: {:?}", r.of("ERROR"));
    for kind in ["BUFFERING", "RECEIVED", "PERSISTED"] {
        assert_eq!(r.timecodes(kind), codes, "{kind} timecodes");
    }
    let numbers: Vec<String> =
        r.of("PERSISTED").iter().map(|a| a["FragmentNumber"].as_str().unwrap().to_owned()).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "fragment numbers increase: {numbers:?}");
    assert!(numbers.iter().all(|n| n.len() == 47 && n.bytes().all(|b| b.is_ascii_digit())));
    // Per fragment: BUFFERING before RECEIVED before PERSISTED.
    for tc in codes {
        let order: Vec<&str> = r
            .acks
            .iter()
            .filter(|a| a["FragmentTimecode"].as_u64() == Some(*tc))
            .map(|a| a["EventType"].as_str().unwrap())
            .collect();
        assert_eq!(order, ["BUFFERING", "RECEIVED", "PERSISTED"], "fragment {tc}");
    }
}

async fn fixtures_and_producer_bodies_are_acked_and_stored(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let index = openkvs::archive::open_index(&srv.config.effective_database_url()).await.unwrap();
    let cases = [
        ("h264_640x360_20s_2sgop.mkv", "RELATIVE", Some(10)),
        ("h265_640x360_10s.mkv", "RELATIVE", Some(5)),
        ("gst_h264_aac_10s.mkv", "RELATIVE", Some(5)),
        ("h264_bframes_aac_640x360_10s.mkv", "RELATIVE", None),
        ("cproducer_1.6.4_putmedia_body.mkv", "ABSOLUTE", None),
        ("kvssink_3.6.0_putmedia_body.mkv", "ABSOLUTE", None),
    ];
    for (i, (file, mode, expected)) in cases.into_iter().enumerate() {
        let name = format!("s{i}");
        create(&srv, &name, 24).await;
        let data = fixture(file);
        let (chunks, codes) = chunks_of(&data);
        if let Some(n) = expected {
            assert_eq!(codes.len(), n, "{file}: clusters");
        }
        let mut opts = PutOptions::new(&name);
        opts.timecode_type = mode;
        let r = put_media(srv.addr, &opts, &chunks).await;
        assert_acked(&r, &codes);

        let stream = index
            .stream_by_name(&"us-east-1".parse_region(), &StreamName::parse(&name).unwrap())
            .await
            .unwrap();
        let rows = index.fragments_after(stream.id, None, 1000).await.unwrap();
        assert_eq!(rows.len(), codes.len(), "{file}: indexed fragments");
        let store = srv.open_store();
        for (row, tc) in rows.iter().zip(&codes) {
            assert_eq!(row.cluster_timecode as u64, *tc);
            // Stored sealed (tests/at_rest.rs reads them back through the API), under the
            // stream's first data key. The local store gets it in chunks, as it was streamed in:
            // the media size plus the header and a tag per chunk (the head, the Cluster header
            // whose length the v2 header's last two bytes give, then 16 KiB chunks of the rest).
            // An object store gets the whole
            // fragment sealed once at its end: the media size plus the nonce and tag.
            use openkvs::archive::sealing::{CHUNK_LEN, SEAL_OVERHEAD, TAG_LEN, V2_HEADER_LEN, V2_MARKER};
            let bytes = store.read(stream.id, row.location).await.unwrap();
            if backend == Backend::PostgresS3 {
                assert_eq!(bytes.len(), row.size_bytes as usize + SEAL_OVERHEAD, "{file}: sealed whole");
            } else {
                assert_eq!(&bytes[..V2_MARKER.len()], &V2_MARKER[..]);
                let head = u16::from_be_bytes([bytes[V2_HEADER_LEN - 2], bytes[V2_HEADER_LEN - 1]]) as usize;
                assert_eq!(head, 12, "{file}: the head is the Cluster header (ID and 8-byte size)");
                let chunks = 1 + (row.size_bytes as usize - head).div_ceil(CHUNK_LEN);
                assert_eq!(bytes.len(), V2_HEADER_LEN + row.size_bytes as usize + chunks * TAG_LEN);
            }
            assert_eq!(row.key_version, 1, "{file}: sealed by the stream's first data key");
            assert_ne!(
                &bytes[..4],
                &[0x1F, 0x43, 0xB6, 0x75],
                "{file}: the stored bytes are not a bare Cluster"
            );
            assert!(row.frame_count > 0 && row.duration_ms >= 0);
        }
        if mode == "RELATIVE" {
            let start: i64 = opts.producer_start.as_deref().unwrap().replace('.', "").parse().unwrap();
            assert_eq!(rows[0].producer_ts_ms, start + codes[0] as i64, "{file}: producer timestamp");
        }
        // Server timestamps are arrival times: now-ish and non-decreasing.
        assert!(rows.windows(2).all(|w| w[0].server_ts_ms <= w[1].server_ts_ms));
    }
    srv.stop().await;
}

trait ParseRegion {
    fn parse_region(&self) -> openkvs::model::Region;
}

impl ParseRegion for &str {
    fn parse_region(&self) -> openkvs::model::Region {
        openkvs::model::Region::parse(self).unwrap()
    }
}

async fn fragments_survive_a_restart(backend: Backend) {
    let srv = TestServer::start(backend).await;
    create(&srv, "cam", 24).await;
    let (chunks, codes) = chunks_of(&fixture("h264_640x360_20s_2sgop.mkv"));
    let mut opts = PutOptions::new("cam");
    opts.timecode_type = "RELATIVE";
    let first = put_media(srv.addr, &opts, &chunks).await;
    assert_acked(&first, &codes);
    let srv = srv.restart().await;
    let index = openkvs::archive::open_index(&srv.config.effective_database_url()).await.unwrap();
    let stream =
        index.stream_by_name(&"us-east-1".parse_region(), &StreamName::parse("cam").unwrap()).await.unwrap();
    let rows = index.fragments_after(stream.id, None, 1000).await.unwrap();
    let persisted: Vec<&str> =
        first.of("PERSISTED").iter().map(|a| a["FragmentNumber"].as_str().unwrap()).collect();
    let listed: Vec<&str> = rows.iter().map(|r| r.number.as_str()).collect();
    assert_eq!(listed, persisted);
    // A second session after the restart continues numbering above the old fragments.
    let mut opts2 = PutOptions::new("cam");
    opts2.timecode_type = "RELATIVE";
    let second = put_media(srv.addr, &opts2, &chunks).await;
    assert_acked(&second, &codes);
    let n2 = second.of("BUFFERING")[0]["FragmentNumber"].as_str().unwrap().to_owned();
    assert!(n2.as_str() > *persisted.last().unwrap());
    srv.stop().await;
}

async fn every_error_id_comes_back_as_an_ack(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| {
        c.ingest.max_fragment_bytes = 64 * 1024;
        c.ingest.max_fragment_duration_ms = 5_000;
    })
    .await;
    create(&srv, "e", 24).await;
    let one = Synth { tracks: vec![1] };
    let two = Synth { tracks: vec![1, 2] };
    let base = 1_700_000_000_000u64;
    let run = |chunks: Vec<Bytes>, mode: &'static str, start: Option<String>| {
        let srv_addr = srv.addr;
        async move {
            let mut opts = PutOptions::new("e");
            opts.timecode_type = mode;
            opts.producer_start = start;
            put_media(srv_addr, &opts, &chunks).await
        }
    };
    let big = Synth::cluster(base, &[(1, 0, true, 70 * 1024)]);
    let long = Synth::cluster(base, &[(1, 0, true, 10), (1, 6_000, false, 10)]);
    let cases: Vec<(u64, Vec<Bytes>, &str, Option<String>)> = vec![
        (4001, vec![one.header(), big, one.second(base + 1_000)], "ABSOLUTE", None),
        (4002, vec![one.header(), long, one.second(base + 10_000)], "ABSOLUTE", None),
        (4004, vec![one.header(), one.second(base + 5_000), one.second(base)], "ABSOLUTE", None),
        (4006, vec![Bytes::from_static(b"definitely not matroska at all")], "ABSOLUTE", None),
        (4007, vec![one.header(), one.second(0)], "RELATIVE", Some("yesterday".into())),
        (
            4009,
            {
                let mut v = vec![one.header()];
                for i in 0..11 {
                    v.push(tags_element(&format!("KEY_{i}"), "v"));
                }
                v.push(one.second(base));
                v
            },
            "ABSOLUTE",
            None,
        ),
        (
            4010,
            vec![one.header(), Synth::cluster(base, &[(1, 0, true, 10), (3, 0, true, 10)])],
            "ABSOLUTE",
            None,
        ),
        (
            4011,
            vec![two.header(), Synth::cluster(base, &[(1, 0, true, 10), (1, 40, false, 10)])],
            "ABSOLUTE",
            None,
        ),
        (
            4012,
            vec![Synth { tracks: vec![1, 2, 3, 4] }.header(), Synth::cluster(base, &[(1, 0, true, 10)])],
            "ABSOLUTE",
            None,
        ),
    ];
    for (want, chunks, mode, start) in cases {
        let r = run(chunks, mode, start).await;
        assert_eq!(r.status, 200, "{want}");
        assert!(r.error_ids().contains(&want), "want ErrorId {want}, got acks {:?}", r.acks);
        let err = r.of("ERROR")[0];
        assert!(err["ErrorId"].is_u64(), "ErrorId is a bare integer");
    }
    // The server is still fine, and a good body still goes through.
    let r = run(vec![one.header(), one.second(base + 100_000), one.second(base + 101_000)], "ABSOLUTE", None)
        .await;
    assert_acked(&r, &[base + 100_000, base + 101_000]);
    srv.stop().await;
}

async fn retention_zero_acks_received_only(backend: Backend) {
    let srv = TestServer::start(backend).await;
    create(&srv, "live", 0).await;
    let one = Synth { tracks: vec![1] };
    let base = 1_700_000_000_000u64;
    let r = put_media(
        srv.addr,
        &PutOptions::new("live"),
        &[one.header(), one.second(base), one.second(base + 1000)],
    )
    .await;
    assert_eq!(r.timecodes("RECEIVED"), [base, base + 1000]);
    assert!(r.of("PERSISTED").is_empty());
    let index = openkvs::archive::open_index(&srv.config.effective_database_url()).await.unwrap();
    let stream =
        index.stream_by_name(&"us-east-1".parse_region(), &StreamName::parse("live").unwrap()).await.unwrap();
    assert!(index.fragments_after(stream.id, None, 10).await.unwrap().is_empty());
    srv.stop().await;
}

#[tokio::test]
async fn header_errors_precede_the_ack_stream() {
    let srv = TestServer::start(Backend::Sqlite).await;
    create(&srv, "h", 24).await;
    let one = Synth { tracks: vec![1] };
    // Unknown stream: 404 before any ACK.
    let r = put_media(srv.addr, &PutOptions::new("ghost"), &[one.header()]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("ResourceNotFoundException"));
    // A tampered signed header.
    let opts = PutOptions::new("h");
    let head = common::producer::put_media_head(srv.addr, &opts)
        .replace("x-amzn-stream-name: h\r\n", "x-amzn-stream-name: hx\r\n");
    let r = put_media_with_head(srv.addr, &head, &opts, &[one.header()]).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("InvalidSignatureException"));
    // Bad timecode type.
    let mut bad = PutOptions::new("h");
    bad.timecode_type = "SIDEWAYS";
    let r = put_media(srv.addr, &bad, &[one.header()]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("InvalidArgumentException"));
    srv.stop().await;
}

#[tokio::test]
async fn a_second_concurrent_put_media_is_refused_and_deletion_ends_a_session() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| c.ingest.idle_ack_interval_ms = 100).await;
    create(&srv, "c", 24).await;
    let one = Synth { tracks: vec![1] };
    let base = 1_700_000_000_000u64;
    let mut slow = PutOptions::new("c");
    slow.pace = Some(Duration::from_millis(400));
    let chunks = vec![one.header(), one.second(base), one.second(base + 1000), one.second(base + 2000)];
    let first = tokio::spawn({
        let addr = srv.addr;
        async move { put_media(addr, &slow, &chunks).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = put_media(srv.addr, &PutOptions::new("c"), &[one.header()]).await;
    assert_eq!(second.status, 400);
    assert_eq!(second.header("x-amzn-ErrorType"), Some("ConnectionLimitExceededException"));
    let first = first.await.unwrap();
    assert_acked(&first, &[base, base + 1000, base + 2000]);

    // Deleting the stream mid-session: ErrorId 4008 and the session ends.
    let arn = srv
        .kvs()
        .describe_stream()
        .stream_name("c")
        .send()
        .await
        .unwrap()
        .stream_info
        .unwrap()
        .stream_arn
        .unwrap();
    let mut open = PutOptions::new("c");
    open.finish_body = false;
    let session = tokio::spawn({
        let addr = srv.addr;
        let chunks = vec![one.header(), one.second(base + 10_000)];
        async move { put_media(addr, &open, &chunks).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    srv.kvs().delete_stream().stream_arn(arn).send().await.unwrap();
    let r = session.await.unwrap();
    assert!(r.error_ids().contains(&4008), "{:?}", r.acks);
    assert!(!r.of("IDLE").is_empty(), "IDLE acks while the producer sends nothing");
    srv.stop().await;
}

#[tokio::test]
async fn expect_100_continue_is_answered_before_the_ack_stream() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = TestServer::start(Backend::Sqlite).await;
    create(&srv, "x", 24).await;
    let one = Synth { tracks: vec![1] };
    let base = 1_700_000_000_000u64;
    let opts = PutOptions::new("x");
    // libcurl adds `Expect: 100-continue` (unsigned) and waits for it before sending the body.
    let head = common::producer::put_media_head(srv.addr, &opts)
        .replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n");
    let mut tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await.unwrap().unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 100 Continue\r\n"), "{:?}", String::from_utf8_lossy(&buf[..n]));
    for c in [
        one.header(),
        one.second(base),
        common::producer::tags_element("AWS_KINESISVIDEO_END_OF_FRAGMENT", ""),
    ] {
        tcp.write_all(format!("{:x}\r\n", c.len()).as_bytes()).await.unwrap();
        tcp.write_all(&c).await.unwrap();
        tcp.write_all(b"\r\n").await.unwrap();
    }
    tcp.write_all(b"0\r\n\r\n").await.unwrap();
    // The connection stays open (keep-alive): read until the chunked response's terminator.
    let mut rest = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !rest.ends_with(b"\r\n0\r\n\r\n") {
        let mut chunk = vec![0u8; 4096];
        let n = tokio::time::timeout_at(deadline, tcp.read(&mut chunk)).await.unwrap().unwrap();
        assert!(n > 0, "connection closed before the response ended");
        rest.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&rest);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("\"EventType\":\"PERSISTED\",\"FragmentTimecode\":1700000000000"), "{text}");
    srv.stop().await;
}
