//! Hostile input on the stable toolchain, for CI: time-bounded, seeded property tests over every
//! untrusted-input entry point the cargo-fuzz targets cover (the same checks, from
//! `fuzz/checks.rs`), and a PutMedia corpus test that sends over a thousand mutated bodies to a
//! live server while a healthy producer streams beside them.
//!
//! Each property test runs for `OPENKVS_FUZZ_SECS` seconds (default 3) from seed
//! `OPENKVS_FUZZ_SEED` (default fixed) and prints its executions; an input that fails is written
//! to `target/hostile-input/<target>.bin` (feed it to the fuzz target of the same name). The corpus
//! size is `OPENKVS_PUTMEDIA_BODIES` (default 1000).

mod common;

#[path = "../fuzz/checks.rs"]
mod checks;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::producer::{PutOptions, PutResult, put_media, put_media_head, put_media_with_head, split_file};
use common::{Backend, TestServer};
use openkvs::media::fragment::{FragmentEvent, Fragmenter, FragmenterConfig, TimecodeType};
use openkvs::playback::session::{
    ContainerFormat, DiscontinuityMode, PlaybackMode, SessionClaims, SessionKind,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------------------------
// Harness

fn budget() -> Duration {
    let secs = std::env::var("OPENKVS_FUZZ_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(3.0);
    Duration::from_secs_f64(secs.max(0.01))
}

fn seed(salt: u64) -> u64 {
    let base =
        std::env::var("OPENKVS_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x006f_7065_6e6b_7673);
    base ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Runs `check` on generated inputs until the time budget is spent; saves and re-raises a failure.
fn run_target(name: &str, salt: u64, mut generate: impl FnMut(&mut StdRng) -> Vec<u8>, check: fn(&[u8])) {
    let mut rng = StdRng::seed_from_u64(seed(salt));
    let (start, budget) = (Instant::now(), budget());
    let mut execs = 0u64;
    while start.elapsed() < budget {
        let input = generate(&mut rng);
        if let Err(panic) = std::panic::catch_unwind(|| check(&input)) {
            let dir = format!("{}/target/hostile-input", env!("CARGO_MANIFEST_DIR"));
            let _ = std::fs::create_dir_all(&dir);
            let path = format!("{dir}/{name}.bin");
            let _ = std::fs::write(&path, &input);
            eprintln!("hostile_input: {name} failed on a {}-byte input, saved to {path}", input.len());
            std::panic::resume_unwind(panic);
        }
        execs += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!("hostile_input: {name}: {execs} executions in {secs:.1} s ({:.0}/s)", execs as f64 / secs);
    assert!(execs > 0);
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

const FIXTURES: &[&str] = &[
    "kvssink_3.6.0_putmedia_body.mkv",
    "cproducer_1.6.4_putmedia_body.mkv",
    "h264_640x360_20s_2sgop.mkv",
    "h265_640x360_10s.mkv",
    "gst_h264_aac_10s.mkv",
    "h264_bframes_aac_640x360_10s.mkv",
    "gst_matroskamux_streamable_h264_10s.mkv",
];

/// Each fixture, cut to its first 384 KiB (enough for the header and a few clusters).
fn fixture_prefixes() -> Vec<Vec<u8>> {
    FIXTURES.iter().map(|f| fixture(f).into_iter().take(384 << 10).collect()).collect()
}

// ---------------------------------------------------------------------------------------------
// Mutations of Matroska bodies

/// Matroska IDs whose occurrences the structural mutations target.
const IDS: &[&[u8]] = &[
    &[0x1A, 0x45, 0xDF, 0xA3], // EBML
    &[0x18, 0x53, 0x80, 0x67], // Segment
    &[0x15, 0x49, 0xA9, 0x66], // Info
    &[0x16, 0x54, 0xAE, 0x6B], // Tracks
    &[0x1F, 0x43, 0xB6, 0x75], // Cluster
    &[0x12, 0x54, 0xC3, 0x67], // Tags
    &[0xAE],                   // TrackEntry
    &[0xA3],                   // SimpleBlock
    &[0xA0],                   // BlockGroup
    &[0x67, 0xC8],             // SimpleTag
    &[0xE7],                   // Timecode
];

/// Length of an EBML varint from its first byte (0 for the invalid 0x00).
fn vint_len(first: u8) -> usize {
    if first == 0 { 0 } else { first.leading_zeros() as usize + 1 }
}

/// Positions of a random ID's occurrences (sampled from a random start), as (id start, id length).
fn find_element(rng: &mut StdRng, body: &[u8]) -> Option<(usize, usize)> {
    for _ in 0..8 {
        let id = IDS[rng.random_range(0..IDS.len())];
        let from = rng.random_range(0..body.len().max(1));
        let hit = body[from..]
            .windows(id.len())
            .position(|w| w == id)
            .map(|p| p + from)
            .or_else(|| body.windows(id.len()).position(|w| w == id));
        if let Some(p) = hit
            && p + id.len() < body.len()
        {
            return Some((p, id.len()));
        }
    }
    None
}

/// Replaces the size field after the ID at `at` with `size` (8-byte form, or 1-byte for 0).
fn set_size(body: &mut Vec<u8>, at: usize, id_len: usize, size: u64) {
    let start = at + id_len;
    let old = vint_len(body[start]).max(1).min(body.len() - start);
    let new: Vec<u8> = if size == 0 {
        vec![0x80]
    } else {
        let mut v = size.min((1 << 56) - 1).to_be_bytes();
        v[0] = 0x01;
        v.to_vec()
    };
    body.splice(start..start + old, new);
}

/// Huge declared sizes, 2^56-ish included (2^56 - 1 is the unknown-size marker).
const HUGE: &[u64] = &[
    (1 << 56) - 1,
    (1 << 56) - 2,
    1 << 55,
    1 << 40,
    1 << 32,
    (50 << 20) + 1,
    (1 << 20) + 1,
    u32::MAX as u64,
];

/// `n` nested master headers (Cluster, BlockGroup, Tags/Tag/SimpleTag chains, unknown or huge
/// sizes).
fn deep_nesting(rng: &mut StdRng, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let kind = rng.random_range(0..4);
    for i in 0..n {
        let id: &[u8] = match kind {
            0 => &[0x67, 0xC8],
            1 => &[0x1F, 0x43, 0xB6, 0x75],
            2 => &[0xA0],
            _ => IDS[(i * 7) % IDS.len()],
        };
        if kind == 0 && i == 0 {
            out.extend_from_slice(&[0x12, 0x54, 0xC3, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
            out.extend_from_slice(&[0x73, 0x73, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        out.extend_from_slice(id);
        if rng.random_bool(0.5) {
            out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        } else {
            let left = ((n - i) * 12) as u64;
            let mut v = left.to_be_bytes();
            v[0] = 0x01;
            out.extend_from_slice(&v);
        }
    }
    out
}

/// The kinds of damage a body gets (the corpus reports outcomes per kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Damage {
    BitFlips,
    Truncation,
    HugeSize,
    DeepNesting,
    ZeroLength,
    GarbageAfterHeader,
    Splice,
    Stacked,
}

const DAMAGES: &[Damage] = &[
    Damage::BitFlips,
    Damage::Truncation,
    Damage::HugeSize,
    Damage::DeepNesting,
    Damage::ZeroLength,
    Damage::GarbageAfterHeader,
    Damage::Splice,
    Damage::Stacked,
];

/// Applies one kind of damage to `body` (whose header, before the first Cluster, is `header_len`
/// bytes).
fn damage(rng: &mut StdRng, body: &mut Vec<u8>, header_len: usize, kind: Damage) {
    if body.is_empty() {
        body.push(rng.random());
        return;
    }
    match kind {
        Damage::BitFlips => {
            for _ in 0..rng.random_range(1..=16) {
                let i = rng.random_range(0..body.len());
                body[i] ^= 1 << rng.random_range(0..8);
            }
        }
        Damage::Truncation => {
            let at = rng.random_range(0..body.len());
            body.truncate(at);
        }
        Damage::HugeSize => {
            if let Some((at, id_len)) = find_element(rng, body) {
                set_size(body, at, id_len, HUGE[rng.random_range(0..HUGE.len())]);
            }
        }
        Damage::DeepNesting => {
            let at = if rng.random_bool(0.5) {
                header_len.min(body.len())
            } else {
                rng.random_range(0..=body.len())
            };
            let n = rng.random_range(20..=4000);
            let nest = deep_nesting(rng, n);
            body.splice(at..at, nest);
        }
        Damage::ZeroLength => {
            for _ in 0..rng.random_range(1..=3) {
                if let Some((at, id_len)) = find_element(rng, body) {
                    set_size(body, at, id_len, 0);
                }
            }
        }
        Damage::GarbageAfterHeader => {
            let at = header_len.min(body.len());
            let mut garbage = vec![0u8; rng.random_range(1..=16 << 10)];
            rng.fill(&mut garbage[..]);
            if rng.random_bool(0.5) {
                body.truncate(at);
                body.extend_from_slice(&garbage);
            } else {
                body.splice(at..at, garbage);
            }
        }
        Damage::Splice => match rng.random_range(0..3) {
            0 => {
                let a = rng.random_range(0..body.len());
                let b = (a + rng.random_range(1..=4096)).min(body.len());
                let piece = body[a..b].to_vec();
                let at = rng.random_range(0..=body.len());
                body.splice(at..at, piece);
            }
            1 => {
                let a = rng.random_range(0..body.len());
                let b = (a + rng.random_range(1..=4096)).min(body.len());
                body.drain(a..b);
            }
            _ => {
                let mut junk = vec![0u8; rng.random_range(1..=64)];
                rng.fill(&mut junk[..]);
                let at = rng.random_range(0..=body.len());
                body.splice(at..at, junk);
            }
        },
        Damage::Stacked => {
            for _ in 0..rng.random_range(2..=4) {
                let k = DAMAGES[rng.random_range(0..DAMAGES.len() - 1)];
                damage(rng, body, header_len, k);
            }
        }
    }
}

/// Where the first Cluster starts (the header length), or the whole length.
fn header_len(body: &[u8]) -> usize {
    body.windows(4).position(|w| w == [0x1F, 0x43, 0xB6, 0x75]).unwrap_or(body.len())
}

/// A streaming-check input: three mode bytes, then a random or damaged fixture body.
fn mkv_input(rng: &mut StdRng, fixtures: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![rng.random(), rng.random(), rng.random()];
    if rng.random_bool(0.1) {
        let mut junk = vec![0u8; rng.random_range(0..4096)];
        rng.fill(&mut junk[..]);
        out.extend_from_slice(&junk);
        return out;
    }
    let f = &fixtures[rng.random_range(0..fixtures.len())];
    let hl = header_len(f);
    // The header and a random number of bytes after it.
    let end = rng.random_range(hl.min(f.len())..=f.len());
    let mut body = f[..end].to_vec();
    let kind = DAMAGES[rng.random_range(0..DAMAGES.len())];
    damage(rng, &mut body, hl, kind);
    out.extend_from_slice(&body);
    out
}

// ---------------------------------------------------------------------------------------------
// Mutations of text inputs

/// A text seed with 1-6 byte-level edits drawn from `dict` or random bytes; 10% pure random.
fn text_input(rng: &mut StdRng, seeds: &[Vec<u8>], dict: &[&[u8]]) -> Vec<u8> {
    if rng.random_bool(0.1) {
        let mut junk = vec![0u8; rng.random_range(0..512)];
        rng.fill(&mut junk[..]);
        return junk;
    }
    let mut s = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(0..=6) {
        let at = rng.random_range(0..=s.len());
        match rng.random_range(0..6) {
            0 => {
                let d = dict[rng.random_range(0..dict.len())];
                s.splice(at..at, d.iter().copied());
            }
            1 if at < s.len() => s[at] = rng.random(),
            2 if at < s.len() => {
                let b = (at + rng.random_range(1..=16)).min(s.len());
                s.drain(at..b);
            }
            3 if at < s.len() => {
                let b = (at + rng.random_range(1..=32)).min(s.len());
                let piece = s[at..b].to_vec();
                let n = rng.random_range(1..=64);
                for _ in 0..n {
                    s.splice(b..b, piece.iter().copied());
                }
            }
            4 => s.truncate(at),
            _ if at < s.len() => s[at] ^= 1 << rng.random_range(0..8),
            _ => {}
        }
    }
    s
}

const SIG: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

// ---------------------------------------------------------------------------------------------
// Property tests: one per fuzz target

#[test]
fn mkv_demuxer_survives_hostile_input() {
    let fixtures = fixture_prefixes();
    run_target("mkv_demuxer", 1, |rng| mkv_input(rng, &fixtures), checks::mkv_demuxer);
}

#[test]
fn mkv_fragmenter_survives_hostile_input() {
    let fixtures = fixture_prefixes();
    run_target("mkv_fragmenter", 2, |rng| mkv_input(rng, &fixtures), checks::mkv_fragmenter);
}

#[test]
fn mkv_reframer_survives_hostile_input() {
    let fixtures = fixture_prefixes();
    run_target("mkv_reframer", 7, |rng| mkv_input(rng, &fixtures), checks::mkv_reframer);
}

#[test]
fn sigv4_header_parser_survives_hostile_input() {
    let seeds: Vec<Vec<u8>> = [
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kinesisvideo/aws4_request, SignedHeaders=host;x-amz-date, Signature={SIG}"
        ),
        format!(
            "AWS4-HMAC-SHA256 Signature={SIG},SignedHeaders=connection;host;transfer-encoding;user-agent;x-amz-date;x-amzn-stream-name,Credential=openkvs/20260101/eu-west-1/kinesisvideo/aws4_request"
        ),
        "AWS4-HMAC-SHA256".into(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    let dict: &[&[u8]] = &[
        b",",
        b", ",
        b" ",
        b"\t",
        b"=",
        b"/",
        b";",
        b"Credential=",
        b"SignedHeaders=",
        b"Signature=",
        b"aws4_request",
        "é".as_bytes(),
        b"\xff",
        b"0",
        b"AWS4-HMAC-SHA256 ",
        b";;",
        b"//",
    ];
    run_target("sigv4_header", 3, |rng| text_input(rng, &seeds, dict), checks::sigv4_header);
}

#[test]
fn sigv4_presigned_parser_survives_hostile_input() {
    let seeds: Vec<Vec<u8>> = [
        format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fkinesisvideo%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature={SIG}"
        ),
        format!(
            "X-Amz-ChannelARN=arn%3Aaws%3Akinesisvideo%3Aus-east-1%3A1%3Achannel%2Fc%2F1&X-Amz-ClientId=v&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=k/20150830/us-east-1/kinesisvideo/aws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=604800&X-Amz-Security-Token=a+b%2Bc&X-Amz-SignedHeaders=host&X-Amz-Signature={SIG}"
        ),
        "X-Amz-ChannelARN=x&foo".into(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    let dict: &[&[u8]] = &[
        b"&",
        b"=",
        b"%",
        b"%2",
        b"%ZZ",
        b"%C3%28",
        b"%F0%9F%98%80",
        b"+",
        b"X-Amz-Expires=0",
        b"X-Amz-Expires=604801",
        b"X-Amz-Signature=",
        b"X-Amz-Algorithm=",
        b"%58-Amz-Credential=",
        b"X-Amz-Date=20151301T250000Z",
        b"&&",
        b"\xff",
    ];
    run_target("sigv4_presigned", 4, |rng| text_input(rng, &seeds, dict), checks::sigv4_presigned);
}

#[test]
fn every_operation_input_check_survives_hostile_input() {
    let mut seeds: Vec<Vec<u8>> = [
        r#"{"StreamName":"s","DeviceName":"d","MediaType":"video/h264","DataRetentionInHours":24,"Tags":{"a":"b"},"StreamStorageConfiguration":{"DefaultStorageTier":"HOT"}}"#,
        r#"{"StreamName":"s","FragmentSelector":{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{"StartTimestamp":1700000000.5,"EndTimestamp":1.7e9}},"MaxResults":100,"NextToken":"abc"}"#,
        r#"{"StreamARN":"arn:aws:kinesisvideo:us-east-1:1:stream/s/1","PlaybackMode":"LIVE","HLSFragmentSelector":{"FragmentSelectorType":"PRODUCER_TIMESTAMP"},"Expires":300,"MaxMediaPlaylistFragmentResults":5}"#,
        r#"{"StreamName":"s","StartSelector":{"StartSelectorType":"FRAGMENT_NUMBER","AfterFragmentNumber":"9100000000000000000000000000000000000000000000"}}"#,
        r#"{"StreamName":"s","Fragments":["1","2","3"]}"#,
        r#"{"TagKeyList":["a","b"],"ResourceARN":"arn"}"#,
        r#"{"ResourceARN":"arn:aws:kinesisvideo:us-east-1:1:channel/c/1","Tags":[{"Key":"k","Value":"v"},{"Key":"x"}]}"#,
        r#"{"StreamName":"s","ImageSelectorType":"PRODUCER_TIMESTAMP","StartTimestamp":1000.0,"EndTimestamp":1020.0,"Format":"JPEG","FormatConfig":{"JPEGQuality":"80"},"WidthPixels":320,"MaxResults":5,"NextToken":"eyJ0IjoxfQ=="}"#,
        r#"{"StreamName":"s","ImageGenerationConfiguration":{"Status":"ENABLED","ImageSelectorType":"SERVER_TIMESTAMP","DestinationConfig":{"Uri":"s3://b/p","DestinationRegion":"us-east-1"},"SamplingInterval":3000,"Format":"PNG","HeightPixels":10}}"#,
        r#"{"ChannelName":"c","ChannelType":"SINGLE_MASTER","SingleMasterConfiguration":{"MessageTtlSeconds":60},"Tags":[{"Key":"a","Value":"b"}]}"#,
        r#"{"ChannelARN":"arn:aws:kinesisvideo:us-east-1:1:channel/c/1","SingleMasterChannelEndpointConfiguration":{"Protocols":["WSS","HTTPS"],"Role":"MASTER"},"ClientId":"v","SenderClientId":"v","MessagePayload":"b2Zm"}"#,
        r#"{"StreamName":"s","CurrentVersion":"abc","Operation":"INCREASE_DATA_RETENTION","DataRetentionChangeInHours":1,"StreamStorageConfiguration":{"DefaultStorageTier":"WARM"}}"#,
        r#"{"StreamName":"s","FragmentTimecodeType":"ABSOLUTE","ProducerStartTimestamp":"1700000000.0","Kind":"motion","WorkerName":"w","MaxFragments":10}"#,
        r#"{"StreamName":"s","PlaybackMode":"ON_DEMAND","DASHFragmentSelector":{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{"StartTimestamp":1,"EndTimestamp":2}},"DisplayFragmentNumber":"ALWAYS"}"#,
        r#"{"ChannelARN":"arn:aws:kinesisvideo:us-east-1:1:channel/c/1","MediaStorageConfiguration":{"StreamARN":"arn:aws:kinesisvideo:us-east-1:1:stream/s/1","Status":"ENABLED"}}"#,
        r#"{"channelArn":"arn:aws:kinesisvideo:us-east-1:1:channel/c/1","clientId":"v"}"#,
        r#"{"StreamName":"s","Expires":43200,"MaxResults":1,"NextToken":"t"}"#,
        "{\n\t\"StreamName\": \"x\"\n}",
        "",
    ]
    .into_iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    seeds.push(format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes());
    seeds.push("{\"a\":".repeat(10_000).into_bytes());
    let dict: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b":",
        b",",
        b"null",
        b"true",
        b"1e999999",
        b"-0",
        b"1.7976931348623157e309",
        b"18446744073709551616",
        b"\\u0000",
        b"\\ud800",
        b"\xff\xfe",
        b"\"StreamName\":",
        b"\"Tags\":{",
        b"\"MaxResults\":-1",
        b"\"NextToken\":\"",
        b"\"StreamARN\":\"arn:aws:kinesisvideo:us-east-1:1:stream/s/1\"",
        b"\"FormatConfig\":{\"JPEGQuality\":\"",
        b"\"PlaybackMode\":\"LIVE_REPLAY\"",
        b"\"MediaStorageConfiguration\":{\"Status\":\"",
        b"\"channelArn\":\"arn:aws:kinesisvideo:us-east-1:1:channel/c/1\"",
        b"\"StartSelector\":{\"StartSelectorType\":\"CONTINUATION_TOKEN\"",
        b"[[[[[[[[[[[[[[[[",
    ];
    run_target("json_inputs", 5, |rng| text_input(rng, &seeds, dict), checks::json_inputs);
}

#[test]
fn session_tokens_survive_hostile_input() {
    let claims = SessionClaims {
        kind: SessionKind::Hls,
        stream_id: 7,
        stream_name: "cam".into(),
        mode: PlaybackMode::Live,
        producer_timestamps: false,
        start_ms: 1_700_000_000_000,
        anchor_number: Some("91343852333181432392682062607743920146264472341".into()),
        end_ms: None,
        container: ContainerFormat::FragmentedMp4,
        discontinuity: DiscontinuityMode::Always,
        display_timestamp: true,
        display_number: false,
        max_results: 5,
        created_ms: 1_700_000_000_000,
        expires_ms: 1_800_000_000_000,
    };
    let json = serde_json::to_vec(&claims).unwrap();
    let dash =
        serde_json::to_vec(&SessionClaims { kind: SessionKind::Dash, end_ms: Some(i64::MAX), ..claims })
            .unwrap();
    let key = checks::session_key();
    let seeds: Vec<Vec<u8>> = vec![
        json.clone(),
        dash.clone(),
        key.seal(&json).into_bytes(),
        key.seal(&dash).into_bytes(),
        key.seal(b"").into_bytes(),
    ];
    let dict: &[&[u8]] =
        &[b".", b"=", b"==", b"+", b"/", b"-", b"_", b"\"k\":\"d\"", b"\"z\":-1", b"\"s\":1e400", b"\xff"];
    run_target("session_token", 6, |rng| text_input(rng, &seeds, dict), checks::session_token);
}

// ---------------------------------------------------------------------------------------------
// PutMedia corpus against a live server

/// A body to damage: its chunks' concatenation, header length and timecode mode.
struct Base {
    body: Vec<u8>,
    header_len: usize,
    mode: &'static str,
}

/// The first `clusters` top-level elements after the header of a fixture.
fn base_of(file: &str, clusters: usize, mode: &'static str) -> Base {
    let data = fixture(file);
    let (header, items) = split_file(&data);
    let mut body = header.to_vec();
    for (_, bytes) in items.into_iter().take(clusters) {
        body.extend_from_slice(&bytes);
    }
    Base { header_len: header.len(), body, mode }
}

fn synth_base() -> Base {
    let s = common::producer::Synth { tracks: vec![1] };
    let mut body = s.header().to_vec();
    let header_len = body.len();
    for i in 0..3 {
        body.extend_from_slice(&s.second(i * 1000));
    }
    Base { body, header_len, mode: "RELATIVE" }
}

/// What the in-process fragmenter (with the server's ingest limits) says about a body: the
/// ErrorIds it would report.
fn oracle(body: &[u8], mode: &str, cfg: &openkvs::ingest::IngestConfig) -> Vec<u32> {
    let mut f = Fragmenter::new(FragmenterConfig {
        timecode_type: if mode == "RELATIVE" { TimecodeType::Relative } else { TimecodeType::Absolute },
        producer_start_ms: Some(common::producer::now_ms()),
        max_fragment_bytes: cfg.max_fragment_bytes,
        max_fragment_duration_ms: cfg.max_fragment_duration_ms,
        max_metadata_per_fragment: cfg.max_metadata_per_fragment,
        ..FragmenterConfig::default()
    });
    let mut errors = Vec::new();
    let body = Bytes::copy_from_slice(body);
    let mut pieces: Vec<Bytes> = body.chunks(32 << 10).map(|c| body.slice_ref(c)).collect();
    pieces.push(Bytes::new());
    let n = pieces.len();
    for (i, p) in pieces.into_iter().enumerate() {
        if i + 1 == n {
            f.finish();
        } else {
            f.push(p);
        }
        loop {
            match f.pull() {
                Ok(Some(FragmentEvent::Error(e))) => errors.push(e.error_id().id()),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    errors.push(e.error_id().id());
                    return errors;
                }
            }
        }
    }
    errors
}

#[derive(Default)]
struct Tally {
    bodies: usize,
    oracle_bad: usize,
    error_acks: BTreeMap<u64, usize>,
    status_4xx: BTreeMap<u16, usize>,
    accepted: usize,
    /// ERROR acks for bodies the fragmenter alone accepts (the server checks more, e.g. headers).
    server_only_errors: usize,
    busy_retries: usize,
    per_damage: BTreeMap<String, [usize; 3]>, // [ERROR ack, 4xx, accepted]
    failures: Vec<String>,
    slowest: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn putmedia_corpus_of_damaged_bodies() {
    const CONCURRENCY: usize = 32;
    const REQUEST_BOUND: Duration = Duration::from_secs(20);
    let total: usize =
        std::env::var("OPENKVS_PUTMEDIA_BODIES").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let srv = TestServer::start(Backend::Sqlite).await;
    let cfg = srv.config.ingest.clone();
    let kvs = srv.kvs();
    for i in 0..CONCURRENCY {
        kvs.create_stream().stream_name(format!("bad{i}")).data_retention_in_hours(1).send().await.unwrap();
    }
    kvs.create_stream().stream_name("healthy").data_retention_in_hours(1).send().await.unwrap();
    let bases = Arc::new(vec![
        base_of("kvssink_3.6.0_putmedia_body.mkv", usize::MAX, "ABSOLUTE"),
        base_of("h265_640x360_10s.mkv", 2, "RELATIVE"),
        base_of("gst_h264_aac_10s.mkv", 1, "RELATIVE"),
        base_of("cproducer_1.6.4_putmedia_body.mkv", 3, "ABSOLUTE"),
        synth_base(),
    ]);
    let rss_before = rss_kib();
    let healthy_done = Arc::new(AtomicBool::new(false));

    // The healthy producer: a 10-cluster fixture, one cluster every 1.2 s.
    let addr = srv.addr;
    let done = healthy_done.clone();
    let healthy = tokio::spawn(async move {
        let data = fixture("h264_640x360_20s_2sgop.mkv");
        let (header, items) = split_file(&data);
        let codes: Vec<u64> = items.iter().filter_map(|(tc, _)| *tc).collect();
        let mut chunks = vec![header];
        chunks.extend(items.into_iter().map(|(_, b)| b));
        let mut opts = PutOptions::new("healthy");
        opts.timecode_type = "RELATIVE";
        opts.pace = Some(Duration::from_millis(1200));
        opts.wait_final = Duration::from_secs(30);
        let r = put_media(addr, &opts, &chunks).await;
        done.store(true, Ordering::Relaxed);
        (r, codes)
    });

    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(std::sync::Mutex::new(Tally::default()));
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..CONCURRENCY {
        let (bases, next, tally, cfg) = (bases.clone(), next.clone(), tally.clone(), cfg.clone());
        let healthy_done = healthy_done.clone();
        workers.push(tokio::spawn(async move {
            let stream = format!("bad{w}");
            loop {
                // At least `total` bodies, and more while the healthy producer is still streaming.
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total && healthy_done.load(Ordering::Relaxed) {
                    return;
                }
                let mut rng = StdRng::seed_from_u64(seed(1000 + i as u64));
                let base = &bases[i % bases.len()];
                let kind = DAMAGES[(i / bases.len()) % DAMAGES.len()];
                let mut body = base.body.clone();
                damage(&mut rng, &mut body, base.header_len, kind);
                let expected = oracle(&body, base.mode, &cfg);
                let chunk = rng.random_range(1024..=64 << 10);
                let body = Bytes::from(body);
                let chunks: Vec<Bytes> = body.chunks(chunk).map(|c| body.slice_ref(c)).collect();
                let mut opts = PutOptions::new(&stream);
                opts.timecode_type = base.mode;
                opts.wait_final = REQUEST_BOUND;
                let t0 = Instant::now();
                let mut result: Option<PutResult> = None;
                let mut retries = 0;
                while retries < 50 {
                    let head = put_media_head(addr, &opts);
                    let sent = tokio::time::timeout(
                        REQUEST_BOUND,
                        tokio::spawn({
                            let (opts, chunks) = (opts.clone(), chunks.clone());
                            async move { put_media_with_head(addr, &head, &opts, &chunks).await }
                        }),
                    )
                    .await;
                    match sent {
                        Ok(Ok(r)) if is_busy(&r) => {
                            // The previous session on this stream is still winding down.
                            retries += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Ok(Ok(r)) => {
                            result = Some(r);
                            break;
                        }
                        Ok(Err(e)) => {
                            let msg = format!("body {i} ({kind:?}): client task failed: {e}");
                            tally.lock().unwrap().failures.push(msg);
                            break;
                        }
                        Err(_) => {
                            let msg = format!("body {i} ({kind:?}): no answer within {REQUEST_BOUND:?}");
                            tally.lock().unwrap().failures.push(msg);
                            break;
                        }
                    }
                }
                let took = t0.elapsed();
                let mut t = tally.lock().unwrap();
                t.bodies += 1;
                t.busy_retries += retries;
                t.slowest = t.slowest.max(took);
                if !expected.is_empty() {
                    t.oracle_bad += 1;
                }
                let Some(r) = result else { continue };
                let slot = t.per_damage.entry(format!("{kind:?}")).or_default();
                if (400..500).contains(&r.status) {
                    slot[1] += 1;
                    *t.status_4xx.entry(r.status).or_default() += 1;
                } else if r.status != 200 {
                    t.failures.push(format!("body {i} ({kind:?}): status {}", r.status));
                } else if let Some(&id) = r.error_ids().first() {
                    slot[0] += 1;
                    *t.error_acks.entry(id).or_default() += 1;
                    if expected.is_empty() {
                        t.server_only_errors += 1;
                    }
                } else {
                    slot[2] += 1;
                    t.accepted += 1;
                    if !expected.is_empty() {
                        t.failures.push(format!(
                            "body {i} ({kind:?}): the fragmenter reports ErrorIds {expected:?} \
                             but the server sent no ERROR ack"
                        ));
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let corpus_secs = start.elapsed().as_secs_f64();
    let (healthy, codes) = tokio::time::timeout(Duration::from_secs(60), healthy).await.unwrap().unwrap();
    let rss_after = rss_kib();
    let t = std::mem::take(&mut *tally.lock().unwrap());
    eprintln!(
        "hostile_input: putmedia corpus: {} bodies in {corpus_secs:.1} s ({} judged bad by the fragmenter), \
         ERROR acks by ErrorId {:?}, 4xx {:?}, accepted {}, \
         ERROR acks the fragmenter alone would not send {}, busy retries {}, slowest {:?}",
        t.bodies,
        t.oracle_bad,
        t.error_acks,
        t.status_4xx,
        t.accepted,
        t.server_only_errors,
        t.busy_retries,
        t.slowest
    );
    eprintln!("hostile_input: per damage [ERROR ack, 4xx, accepted]: {:?}", t.per_damage);
    let delta_mib = (rss_after as f64 - rss_before as f64) / 1024.0;
    eprintln!(
        "hostile_input: RSS {:.0} MiB -> {:.0} MiB ({delta_mib:+.0} MiB)",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    assert!(t.failures.is_empty(), "{} failures:\n{}", t.failures.len(), t.failures.join("\n"));
    assert!(t.bodies >= total);
    assert_eq!(healthy.status, 200, "{}", String::from_utf8_lossy(&healthy.error_body));
    assert!(healthy.error_ids().is_empty(), "healthy producer got errors: {:?}", healthy.of("ERROR"));
    assert_eq!(healthy.timecodes("PERSISTED"), codes, "healthy producer missed a PERSISTED");
    assert!(delta_mib < 300.0, "RSS grew by {delta_mib:.0} MiB");
    srv.stop().await;
}

/// Whether PutMedia was refused because the stream's previous session still holds its slot.
fn is_busy(r: &PutResult) -> bool {
    (400..500).contains(&r.status)
        && String::from_utf8_lossy(&r.error_body).contains("ConnectionLimitExceeded")
}

/// This process's resident set size, KiB (the server runs in-process).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
