//! A PutMedia client that frames and signs like the KVS C producer (chunked body, payload hash of
//! the empty string, `connection;host;transfer-encoding;user-agent;x-amz-date;x-amzn-…` signed,
//! Host without the port), reading ACK lines while it uploads; and a small Matroska builder for
//! crafting bodies.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use openkvs::media::ebml::writer::{EbmlWriter, SizeForm};
use openkvs::media::mkv::ids;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How to send a PutMedia request.
#[derive(Debug, Clone)]
pub struct PutOptions {
    pub stream: String,
    pub timecode_type: &'static str,
    pub producer_start: Option<String>,
    pub key: String,
    pub secret: String,
    /// Wait this long for the server to end the response after the body ended.
    pub wait_final: Duration,
    /// Delay between chunks.
    pub pace: Option<Duration>,
    /// Send the terminating zero chunk (false: keep the connection open after the chunks).
    pub finish_body: bool,
}

impl PutOptions {
    pub fn new(stream: &str) -> Self {
        Self {
            stream: stream.to_owned(),
            timecode_type: "ABSOLUTE",
            producer_start: Some(format!("{}.{:03}", now_ms() / 1000, now_ms() % 1000)),
            key: "openkvs".into(),
            secret: "openkvs-secret".into(),
            wait_final: Duration::from_secs(15),
            pace: None,
            finish_body: true,
        }
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// What came back.
#[derive(Debug, Default)]
pub struct PutResult {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub error_body: Vec<u8>,
    pub acks: Vec<serde_json::Value>,
    /// When each chunk was handed to the socket.
    pub sent_at: Vec<std::time::Instant>,
}

impl PutResult {
    pub fn of(&self, kind: &str) -> Vec<&serde_json::Value> {
        self.acks.iter().filter(|a| a["EventType"] == kind).collect()
    }

    pub fn timecodes(&self, kind: &str) -> Vec<u64> {
        self.of(kind).iter().filter_map(|a| a["FragmentTimecode"].as_u64()).collect()
    }

    pub fn error_ids(&self) -> Vec<u64> {
        self.of("ERROR").iter().filter_map(|a| a["ErrorId"].as_u64()).collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The signed request head, C-producer style.
pub fn put_media_head(addr: SocketAddr, opts: &PutOptions) -> String {
    let url = format!("http://127.0.0.1:{}/putMedia", addr.port());
    let mut head = String::from("POST /putMedia HTTP/1.1\r\n");
    for (k, v) in put_media_headers(&url, opts, true) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Every header of a C-producer PutMedia request to `url` (`Host` without the port, as the C
/// producer sends it), signed over the empty-payload hash. With `hop_by_hop` the request carries
/// and signs `connection: keep-alive` and `transfer-encoding: chunked` exactly as the producer
/// does; without, neither is sent nor signed (what an HTTP/2 client can send).
pub fn put_media_headers(url: &str, opts: &PutOptions, hop_by_hop: bool) -> Vec<(String, String)> {
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let mut headers: Vec<(&str, String)> = vec![
        ("host", "127.0.0.1".to_owned()),
        ("user-agent", "AWS-PRODUCER-SDK-KVS/1.6.4 GCC/12.2.0 Linux/x86_64 openkvs-tests".to_owned()),
        ("x-amzn-stream-name", opts.stream.clone()),
        ("x-amzn-fragment-acknowledgment-required", "1".to_owned()),
        ("x-amzn-fragment-timecode-type", opts.timecode_type.to_owned()),
    ];
    if hop_by_hop {
        headers.push(("transfer-encoding", "chunked".to_owned()));
        headers.push(("connection", "keep-alive".to_owned()));
    }
    if let Some(p) = &opts.producer_start {
        headers.push(("x-amzn-producer-start-timestamp", p.clone()));
    }
    let identity = Credentials::new(&opts.key, &opts.secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = Some(vec!["authorization".into()]);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("kinesisvideo")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        url,
        headers.iter().map(|(k, v)| (*k, v.as_str())),
        SignableBody::Precomputed(openkvs::auth::sigv4::EMPTY_PAYLOAD_SHA256.to_owned()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut out: Vec<(String, String)> = headers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    out.push(("content-type".to_owned(), "application/json".to_owned()));
    out.extend(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())));
    out
}

/// Sends `chunks` as one PutMedia body and collects the ACKs.
pub async fn put_media(addr: SocketAddr, opts: &PutOptions, chunks: &[Bytes]) -> PutResult {
    put_media_with_head(addr, &put_media_head(addr, opts), opts, chunks).await
}

/// As [`put_media`] with a given (possibly tampered) request head.
pub async fn put_media_with_head(
    addr: SocketAddr,
    head: &str,
    opts: &PutOptions,
    chunks: &[Bytes],
) -> PutResult {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Like libcurl (TCP_NODELAY by default): small frame writes must not wait for delayed ACKs.
    tcp.set_nodelay(true).unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    let reader = tokio::spawn(async move { read_response(&mut rd).await });
    wr.write_all(head.as_bytes()).await.unwrap();
    let mut sent_at = Vec::with_capacity(chunks.len());
    for c in chunks {
        if wr.write_all(format!("{:x}\r\n", c.len()).as_bytes()).await.is_err()
            || wr.write_all(c).await.is_err()
            || wr.write_all(b"\r\n").await.is_err()
        {
            break;
        }
        sent_at.push(std::time::Instant::now());
        if let Some(p) = opts.pace {
            tokio::time::sleep(p).await;
        }
    }
    if opts.finish_body {
        let _ = wr.write_all(b"0\r\n\r\n").await;
    }
    match tokio::time::timeout(opts.wait_final, reader).await {
        Ok(Ok(mut r)) => {
            r.sent_at = sent_at;
            r
        }
        _ => panic!("PutMedia response did not end within {:?}", opts.wait_final),
    }
}

async fn read_response(rd: &mut tokio::net::tcp::OwnedReadHalf) -> PutResult {
    let mut buf = Vec::new();
    let mut tmp = vec![0u8; 65536];
    let mut result = PutResult::default();
    // Head.
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        match rd.read(&mut tmp).await {
            Ok(0) | Err(_) => return result,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    result.status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    result.headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    buf.drain(..head_end + 4);
    let chunked = result.header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let mut body = Vec::new();
    loop {
        if chunked {
            // Decode as many whole chunks as are buffered.
            while let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                let size = usize::from_str_radix(String::from_utf8_lossy(&buf[..p]).trim(), 16).unwrap_or(0);
                if size == 0 {
                    finish(&mut result, &body);
                    return result;
                }
                if buf.len() < p + 2 + size + 2 {
                    break;
                }
                body.extend_from_slice(&buf[p + 2..p + 2 + size]);
                buf.drain(..p + 4 + size);
            }
        } else if let Some(len) = result.header("content-length").and_then(|v| v.parse::<usize>().ok())
            && buf.len() >= len
        {
            body.extend_from_slice(&buf[..len]);
            finish(&mut result, &body);
            return result;
        }
        match rd.read(&mut tmp).await {
            Ok(0) | Err(_) => {
                if !chunked {
                    body.extend_from_slice(&buf);
                }
                finish(&mut result, &body);
                return result;
            }
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
}

fn finish(result: &mut PutResult, body: &[u8]) {
    if result.status != 200 {
        result.error_body = body.to_vec();
        return;
    }
    for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        result.acks.push(
            serde_json::from_slice(line)
                .unwrap_or_else(|_| panic!("ACK line is not JSON: {:?}", String::from_utf8_lossy(line))),
        );
    }
}

/// Splits a live-mode Matroska file into its header (everything before the first Cluster) and
/// the top-level elements after it, each with the cluster timecode when it is a Cluster.
pub fn split_file(data: &[u8]) -> (Bytes, Vec<(Option<u64>, Bytes)>) {
    use openkvs::media::mkv::{DemuxLimits, MkvDemuxer, MkvEvent};
    let data = Bytes::copy_from_slice(data);
    let mut d = MkvDemuxer::new(DemuxLimits::default());
    d.push(data.clone());
    d.finish();
    let mut starts: Vec<(u64, Option<u64>)> = Vec::new(); // (offset, timecode for clusters)
    let mut tag_starts: Vec<u64> = Vec::new();
    let mut ends: Vec<u64> = Vec::new();
    while let Ok(Some(ev)) = d.pull() {
        match ev {
            MkvEvent::ClusterStart { offset, .. } => starts.push((offset, None)),
            MkvEvent::ClusterTimecode { timecode, .. } => {
                if let Some(last) = starts.last_mut() {
                    last.1 = Some(timecode);
                }
            }
            MkvEvent::ClusterEnd { end_offset, .. } => ends.push(end_offset),
            MkvEvent::Tags { .. } => {}
            _ => {}
        }
    }
    let _ = &mut tag_starts;
    let first = starts.first().map(|s| s.0).unwrap_or(data.len() as u64) as usize;
    let header = data.slice(..first);
    // Everything between clusters (e.g. Tags) travels with the following element boundaries.
    let mut items = Vec::new();
    let mut pos = first;
    for (i, (start, tc)) in starts.iter().enumerate() {
        let start = *start as usize;
        if start > pos {
            items.push((None, data.slice(pos..start)));
        }
        let end = ends.get(i).map(|e| *e as usize).unwrap_or(data.len());
        items.push((*tc, data.slice(start..end)));
        pos = end;
    }
    if pos < data.len() {
        items.push((None, data.slice(pos..)));
    }
    (header, items)
}

/// A whole file as one PutMedia chunk list: header, then each top-level element after it; and the
/// Cluster timecodes in order.
pub fn chunks_of(data: &[u8]) -> (Vec<Bytes>, Vec<u64>) {
    let (header, items) = split_file(data);
    let mut chunks = vec![header];
    let mut codes = Vec::new();
    for (tc, bytes) in items {
        if let Some(tc) = tc {
            codes.push(tc);
        }
        chunks.push(bytes);
    }
    (chunks, codes)
}

/// A Cluster's children (everything after its ID and size): what the store keeps verbatim.
pub fn cluster_payload(cluster: &[u8]) -> &[u8] {
    assert_eq!(&cluster[..4], &[0x1F, 0x43, 0xB6, 0x75], "a Cluster element");
    let size_len = cluster[4].leading_zeros() as usize + 1;
    &cluster[4 + size_len..]
}

/// `Tags{Tag{SimpleTag{name, value}}}` at segment level.
pub fn tags_element(name: &str, value: &str) -> Bytes {
    let mut w = EbmlWriter::with_size_form(SizeForm::Eight);
    let tags = w.start_master(ids::TAGS);
    let tag = w.start_master(ids::TAG);
    let st = w.start_master(ids::SIMPLE_TAG);
    w.string(ids::TAG_NAME, name).string(ids::TAG_STRING, value);
    w.end_master(st).end_master(tag).end_master(tags);
    w.finish()
}

/// A synthetic stream description for crafted bodies.
pub struct Synth {
    /// Track numbers declared in Tracks.
    pub tracks: Vec<u64>,
}

impl Synth {
    /// EBML header + unknown-size Segment + Info (1 ms) + Tracks.
    pub fn header(&self) -> Bytes {
        let mut w = EbmlWriter::new();
        let ebml = w.start_master(ids::EBML);
        w.uint(ids::EBML_VERSION, 1)
            .uint(ids::EBML_READ_VERSION, 1)
            .uint(ids::EBML_MAX_ID_LENGTH, 4)
            .uint(ids::EBML_MAX_SIZE_LENGTH, 8)
            .string(ids::DOC_TYPE, "matroska")
            .uint(ids::DOC_TYPE_VERSION, 2)
            .uint(ids::DOC_TYPE_READ_VERSION, 2);
        w.end_master(ebml);
        w.unknown_size_header(ids::SEGMENT, 8);
        let info = w.start_master(ids::INFO);
        w.uint(ids::TIMECODE_SCALE, 1_000_000).string(ids::MUXING_APP, "openkvs-tests");
        w.end_master(info);
        let tracks = w.start_master(ids::TRACKS);
        for &t in &self.tracks {
            let e = w.start_master(ids::TRACK_ENTRY);
            w.uint(ids::TRACK_NUMBER, t)
                .uint(ids::TRACK_UID, t)
                .uint(ids::TRACK_TYPE, 1)
                .string(ids::CODEC_ID, "V_MPEG4/ISO/AVC");
            w.binary(ids::CODEC_PRIVATE, &[1, 0x42, 0xc0, 0x1e, 0xff, 0xe0, 0x00]);
            w.end_master(e);
        }
        w.end_master(tracks);
        w.finish()
    }

    /// A known-size Cluster at `timecode` with `frames` = (track, relative ms, key frame, size).
    pub fn cluster(timecode: u64, frames: &[(u64, i16, bool, usize)]) -> Bytes {
        let mut w = EbmlWriter::with_size_form(SizeForm::Eight);
        let c = w.start_master(ids::CLUSTER);
        w.uint8(ids::TIMECODE, timecode);
        for &(track, rel, key, size) in frames {
            let mut block = vec![0x80 | track as u8];
            block.extend_from_slice(&rel.to_be_bytes());
            block.push(if key { 0x80 } else { 0x00 });
            block.extend(std::iter::repeat_n(0xAB, size));
            w.binary(ids::SIMPLE_BLOCK, &block);
        }
        w.end_master(c);
        w.finish()
    }

    /// A 1-second cluster of 25 video frames on every declared track.
    pub fn second(&self, timecode: u64) -> Bytes {
        let mut frames = Vec::new();
        for i in 0..25i16 {
            for &t in &self.tracks {
                frames.push((t, i * 40, i == 0, 200));
            }
        }
        Self::cluster(timecode, &frames)
    }
}
