//! Fragments at rest, on every backend: sealed with AES-256-GCM under per-stream data keys
//! (design/0018-encryption-at-rest.md) and placed by storage tier (design/0017-object-store.md,
//! "WARM tier").
//!
//! - What the store holds — every file of the local store's directories, every object under the
//!   server's S3 prefix, listed and fetched through the S3 API — contains no plaintext media: no
//!   Matroska Cluster in its stored form, no H.264 Annex-B start code with a NAL header, none of the
//!   fixture's SimpleBlocks. The same scan run on the plaintext the reads return finds every
//!   fragment, so the check is one plaintext fails. Reads (GetMediaForFragmentList) return every
//!   Cluster byte-identical to what was put.
//! - `KmsKeyId` selects a keyring key in each of the forms AWS accepts; an unknown one is
//!   `InvalidArgumentException`. With a stream's master key removed from the keyring, reads fail
//!   with KMS error tags / `NotAuthorizedException` and PutMedia with ERROR 4506, nothing else is
//!   touched; with other key material under its id, 4502; with the key back, every byte reads back.
//! - A WARM stream's objects are under the WARM place (directory; S3 prefix and storage class), a
//!   HOT stream's are not; after UpdateStreamStorageConfiguration new fragments go to the new tier
//!   while the old ones stay where they were, all readable.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use aws_sdk_kinesisvideo::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideo::types::{DefaultStorageTier as WireTier, StreamStorageConfiguration};
use bytes::Bytes;
use common::producer::{PutOptions, PutResult, chunks_of, cluster_payload, put_media, split_file};
use common::{Backend, TestServer};
use openkvs::archive::{EncryptionConfig, MasterKeyConfig, S3Config, StoreKind};
use openkvs::media::mkv::{DemuxLimits, MkvDemuxer, MkvEvent};
use openkvs::model::{Region, StreamName};

backend_tests!(
    fragments_are_sealed_at_rest_and_read_back_identical,
    kms_key_ids_select_keyring_keys_and_a_missing_key_fails_clearly,
    warm_streams_are_stored_apart_and_a_tier_change_applies_to_new_fragments,
);

const FIXTURE: &str = "h264_640x360_20s_2sgop.mkv";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The fixture's Clusters by timecode: their children, as the store keeps them (before sealing).
fn fixture_clusters(data: &[u8]) -> BTreeMap<u64, Bytes> {
    let (_, items) = split_file(data);
    items
        .into_iter()
        .filter_map(|(tc, raw)| Some((tc?, Bytes::copy_from_slice(cluster_payload(&raw)))))
        .collect()
}

/// Byte patterns whose presence means plaintext media: (what, pattern). All are at least 5 bytes
/// long, so ciphertext (uniformly random bytes) matches one with probability ~2^-40 per offset —
/// never, for the few MB a test stores — while plaintext stored fragments match on every fragment.
fn plaintext_markers(clusters: &BTreeMap<u64, Bytes>) -> Vec<(String, Vec<u8>)> {
    // A Cluster as the store writes it: ID, then an 8-byte size (first byte 0x01).
    let mut markers =
        vec![("Matroska Cluster 1F 43 B6 75 01".to_owned(), vec![0x1F, 0x43, 0xB6, 0x75, 0x01])];
    // H.264 Annex-B start codes followed by a NAL header (SPS, PPS, IDR, non-IDR slice, SEI), and
    // the 3-byte form before an SPS with the common profiles (baseline, main, high).
    for nal in [0x67u8, 0x68, 0x65, 0x41, 0x06] {
        markers.push((format!("start code 00 00 00 01 {nal:02X}"), vec![0, 0, 0, 1, nal]));
    }
    for profile in [0x42u8, 0x4D, 0x64] {
        markers.push((format!("start code 00 00 01 67 {profile:02X}"), vec![0, 0, 1, 0x67, profile]));
    }
    // Each fixture Cluster's first SimpleBlock (ID A3, size, track, timecode, flags) and the first
    // bytes of its frame (AVCC NAL length and header, slice data): 32 known bytes per fragment.
    for (tc, payload) in clusters {
        let at = payload.iter().position(|&b| b == 0xA3).expect("a SimpleBlock in every Cluster");
        let end = (at + 32).min(payload.len());
        markers.push((format!("SimpleBlock of Cluster {tc}"), payload[at..end].to_vec()));
    }
    markers
}

/// How often each marker occurs in `bytes` (only those that do).
fn plaintext_found(bytes: &[u8], markers: &[(String, Vec<u8>)]) -> Vec<(String, usize)> {
    markers
        .iter()
        .map(|(what, pattern)| (what.clone(), bytes.windows(pattern.len()).filter(|w| w == pattern).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Every file under `dir` (recursively).
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// One stored object or file: where, its S3 storage class (local: none), its bytes.
struct Stored {
    place: String,
    storage_class: Option<String>,
    bytes: Bytes,
}

/// A signed S3 request (path-style, `x-amz-content-sha256` as S3 wants it) to the test endpoint.
async fn s3_request(s3: &S3Config, path_and_query: &str) -> common::RawResponse {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
    };
    use aws_sigv4::sign::v4;
    let endpoint = s3.endpoint.as_deref().expect("an S3 endpoint");
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let url = format!("{endpoint}{path_and_query}");
    let identity = aws_credential_types::Credentials::new(
        s3.access_key_id.clone().unwrap_or_default(),
        s3.secret_access_key.clone().unwrap_or_default(),
        None,
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&s3.region)
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new("GET", &url, [("host", host)].into_iter(), SignableBody::Bytes(b""))
        .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut req = format!("GET {path_and_query} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (k, v) in instructions.headers() {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let addr = tokio::net::lookup_host(host).await.unwrap().next().unwrap();
    common::raw_request(addr, req.as_bytes()).await
}

/// The text of every `<tag>…</tag>` in `xml`.
fn xml_values<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open).skip(1).filter_map(|rest| rest.split_once(&close).map(|(v, _)| v)).collect()
}

/// Everything the server's store holds: the files of both local directories, or every object
/// under its S3 prefix (the WARM prefix is inside it by default) listed with ListObjectsV2 and
/// fetched with GetObject.
async fn stored(srv: &TestServer) -> Vec<Stored> {
    match srv.config.store.kind {
        StoreKind::Local => {
            let mut files = Vec::new();
            files_under(&srv.dir.path().join("fragments"), &mut files);
            files_under(&srv.config.effective_warm_dir(), &mut files);
            files
                .into_iter()
                .map(|p| Stored {
                    bytes: Bytes::from(std::fs::read(&p).unwrap()),
                    place: p.display().to_string(),
                    storage_class: None,
                })
                .collect()
        }
        StoreKind::S3 => {
            let s3 = &srv.config.store.s3;
            let list = s3_request(s3, &format!("/{}?list-type=2&prefix={}/", s3.bucket, s3.prefix)).await;
            assert_eq!(list.status, 200, "ListObjectsV2: {}", String::from_utf8_lossy(&list.body));
            let xml = String::from_utf8(list.body).unwrap();
            assert!(xml.contains("<IsTruncated>false</IsTruncated>"), "one page holds a test's objects");
            let mut out = Vec::new();
            for object in xml_values(&xml, "Contents") {
                let key = xml_values(object, "Key")[0].to_owned();
                let get = s3_request(s3, &format!("/{}/{key}", s3.bucket)).await;
                assert_eq!(get.status, 200, "GetObject {key}");
                let storage_class = xml_values(object, "StorageClass").first().map(|c| (*c).to_owned());
                out.push(Stored { place: key, storage_class, bytes: Bytes::from(get.body) });
            }
            out
        }
    }
}

/// Puts the fixture into `stream` (RELATIVE timecodes from now); returns the ACKs.
async fn put_fixture(srv: &TestServer, stream: &str, data: &[u8]) -> PutResult {
    let (chunks, _) = chunks_of(data);
    let mut opts = PutOptions::new(stream);
    opts.timecode_type = "RELATIVE";
    put_media(srv.addr, &opts, &chunks).await
}

/// fragment number → Cluster timecode of every PERSISTED ACK (and none other than PERSISTED or
/// BUFFERING/RECEIVED).
fn persisted(r: &PutResult) -> BTreeMap<String, u64> {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.error_body));
    assert!(r.error_ids().is_empty(), "errors: {:?}", r.of("ERROR"));
    r.of("PERSISTED")
        .iter()
        .map(|a| (a["FragmentNumber"].as_str().unwrap().to_owned(), a["FragmentTimecode"].as_u64().unwrap()))
        .collect()
}

/// What GetMediaForFragmentList returns for `numbers`: the Clusters (children, in order) and the
/// error tags, if any.
async fn fragment_list(
    srv: &TestServer,
    stream: &str,
    numbers: &[String],
) -> (Vec<Bytes>, Vec<(String, String)>) {
    let resp = srv
        .archived()
        .get_media_for_fragment_list()
        .stream_name(stream)
        .set_fragments(Some(numbers.to_vec()))
        .send()
        .await
        .expect("GetMediaForFragmentList");
    let body = resp.payload.collect().await.expect("the whole body").into_bytes();
    let mut d = MkvDemuxer::new(DemuxLimits::default());
    d.push(body.clone());
    d.finish();
    let (mut clusters, mut errors, mut start) = (Vec::new(), Vec::new(), None);
    loop {
        match d.pull() {
            Ok(Some(MkvEvent::ClusterStart { offset, .. })) => start = Some(offset as usize),
            Ok(Some(MkvEvent::ClusterEnd { end_offset })) => {
                let raw = body.slice(start.take().unwrap()..end_offset as usize);
                clusters.push(Bytes::copy_from_slice(cluster_payload(&raw)));
            }
            Ok(Some(MkvEvent::Tags { tags, .. })) => errors
                .extend(tags.into_iter().filter(|t| t.name.contains("ERROR")).map(|t| (t.name, t.value))),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("GetMediaForFragmentList output is not valid Matroska: {e}"),
        }
    }
    (clusters, errors)
}

/// Reads back every fragment in `expected` (number → timecode) and compares each Cluster with the
/// fixture's.
async fn assert_reads_back(
    srv: &TestServer,
    stream: &str,
    expected: &BTreeMap<String, u64>,
    clusters: &BTreeMap<u64, Bytes>,
) {
    let numbers: Vec<String> = expected.keys().cloned().collect();
    let (back, errors) = fragment_list(srv, stream, &numbers).await;
    assert!(errors.is_empty(), "{stream}: {errors:?}");
    assert_eq!(back.len(), numbers.len(), "{stream}: one Cluster per fragment");
    for (number, got) in numbers.iter().zip(back) {
        assert!(got == clusters[&expected[number]], "{stream}: fragment {number} reads back byte-identical");
    }
}

/// The index id of a stream (object keys and directories are named by it).
async fn stream_id(srv: &TestServer, name: &str) -> i64 {
    let index = openkvs::archive::open_index(&srv.config.effective_database_url()).await.unwrap();
    let stream = index
        .stream_by_name(&Region::parse("us-east-1").unwrap(), &StreamName::parse(name).unwrap())
        .await
        .unwrap();
    stream.id
}

async fn fragments_are_sealed_at_rest_and_read_back_identical(backend: Backend) {
    let srv = TestServer::start(backend).await;
    // No keyring configured: the server generated its master key, owner-only.
    {
        use std::os::unix::fs::PermissionsExt;
        let key = srv.dir.path().join(openkvs::archive::GENERATED_KEY_FILE);
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    srv.kvs().create_stream().stream_name("cam").data_retention_in_hours(24).send().await.unwrap();
    let data = fixture(FIXTURE);
    let clusters = fixture_clusters(&data);
    let acked = persisted(&put_fixture(&srv, "cam", &data).await);
    assert_eq!(acked.len(), clusters.len());

    // The plaintext the store would hold without encryption (what the reads return) is caught
    // by the scan: every fragment's Cluster and SimpleBlock.
    let markers = plaintext_markers(&clusters);
    let numbers: Vec<String> = acked.keys().cloned().collect();
    let (plain, _) = fragment_list(&srv, "cam", &numbers).await;
    let stored_form: Vec<u8> = plain
        .iter()
        .flat_map(|payload| {
            let mut c = vec![0x1F, 0x43, 0xB6, 0x75, 0x01, 0, 0, 0];
            c.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            c.extend_from_slice(payload);
            c
        })
        .collect();
    let caught = plaintext_found(&stored_form, &markers);
    let total: usize = caught.iter().map(|(_, n)| n).sum();
    assert!(total >= 2 * clusters.len(), "the scan finds plaintext: {caught:?}");

    // What is at rest: no marker at all.
    let at_rest = stored(&srv).await;
    let stored_bytes: usize = at_rest.iter().map(|s| s.bytes.len()).sum();
    let media: usize = clusters.values().map(|c| c.len()).sum();
    assert!(stored_bytes >= media, "the store holds the media ({stored_bytes} < {media} bytes)");
    for s in &at_rest {
        let found = plaintext_found(&s.bytes, &markers);
        assert!(found.is_empty(), "plaintext media at rest in {}: {found:?}", s.place);
    }
    println!(
        "{backend:?}: {} stored objects/files, {stored_bytes} bytes for {media} bytes of media; the scan finds \
         {total} markers in the plaintext and none at rest",
        at_rest.len()
    );

    // Reads: byte-identical, also after a restart (the generated key is read back, not replaced).
    assert_reads_back(&srv, "cam", &acked, &clusters).await;
    let srv = srv.restart().await;
    assert_reads_back(&srv, "cam", &acked, &clusters).await;
    srv.stop().await;
}

/// A key file of 32 bytes `byte`, hex-encoded, owner-only.
fn key_file(dir: &Path, name: &str, byte: u8) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", hex::encode([byte; 32]))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn keyring(keys: &[(&str, &Path, &[&str])]) -> EncryptionConfig {
    EncryptionConfig {
        default_key: Some("alpha".into()),
        keys: keys
            .iter()
            .map(|(id, file, aliases)| {
                let source = MasterKeyConfig {
                    file: Some(file.to_path_buf()),
                    env: None,
                    aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
                };
                ((*id).to_owned(), source)
            })
            .collect(),
    }
}

async fn kms_key_ids_select_keyring_keys_and_a_missing_key_fails_clearly(backend: Backend) {
    let keys = tempfile::tempdir().unwrap();
    let alpha = key_file(keys.path(), "alpha.key", 0xA1);
    let beta = key_file(keys.path(), "beta.key", 0xB2);
    let both = keyring(&[("alpha", &alpha, &["cams"]), ("beta", &beta, &[])]);
    let srv = TestServer::start_with(backend, |c| c.encryption = both.clone()).await;
    assert!(
        !srv.dir.path().join(openkvs::archive::GENERATED_KEY_FILE).exists(),
        "configured keys: none generated"
    );
    let kvs = srv.kvs();
    for unknown in ["gamma", "alias/gamma", "arn:aws:kms:us-east-1:000000000000:key/gamma"] {
        let err = kvs.create_stream().stream_name("x").kms_key_id(unknown).send().await.unwrap_err();
        assert_eq!(err.code(), Some("InvalidArgumentException"), "{unknown}: {err:?}");
    }
    let beta_arn = "arn:aws:kms:us-east-1:000000000000:key/beta";
    for (name, kms) in [("a1", Some("alias/cams")), ("b1", Some(beta_arn)), ("d1", None)] {
        kvs.create_stream()
            .stream_name(name)
            .data_retention_in_hours(24)
            .set_kms_key_id(kms.map(str::to_owned))
            .send()
            .await
            .unwrap();
        let info = kvs.describe_stream().stream_name(name).send().await.unwrap().stream_info.unwrap();
        let shown =
            kms.map_or("arn:aws:kms:us-east-1:000000000000:alias/aws/kinesisvideo".to_owned(), str::to_owned);
        assert_eq!(info.kms_key_id(), Some(shown.as_str()), "DescribeStream reports KmsKeyId as given");
    }
    let data = fixture("h264_1280x720_4s.mkv");
    let clusters = fixture_clusters(&data);
    let b1 = persisted(&put_fixture(&srv, "b1", &data).await);
    let a1 = persisted(&put_fixture(&srv, "a1", &data).await);
    assert_reads_back(&srv, "b1", &b1, &clusters).await;

    // beta leaves the keyring: b1 can be neither read nor written; a1 is untouched.
    let srv = srv.restart_with(|c| c.encryption = keyring(&[("alpha", &alpha, &["cams"])])).await;
    let numbers: Vec<String> = b1.keys().cloned().collect();
    let (clusters_back, errors) = fragment_list(&srv, "b1", &numbers).await;
    assert!(clusters_back.is_empty(), "no bytes without the key");
    assert_eq!(
        errors,
        [
            ("AWS_KINESISVIDEO_ERROR_CODE".to_owned(), "KMS_KEY_NOT_FOUND".to_owned()),
            ("AWS_KINESISVIDEO_ERROR_ID".to_owned(), "4506".to_owned())
        ]
    );
    let clip = srv
        .archived()
        .get_clip()
        .stream_name("b1")
        .clip_fragment_selector(clip_selector())
        .send()
        .await
        .unwrap_err();
    assert_eq!(clip.code(), Some("NotAuthorizedException"), "{clip:?}");
    assert!(clip.message().unwrap_or_default().contains("KMS_KEY_NOT_FOUND"), "{clip:?}");
    let refused = put_fixture(&srv, "b1", &data).await;
    assert!(refused.of("PERSISTED").is_empty(), "nothing stored without the key");
    assert!(
        !refused.error_ids().is_empty() && refused.error_ids().iter().all(|id| *id == 4506),
        "{:?}",
        refused.acks
    );
    assert_reads_back(&srv, "a1", &a1, &clusters).await;
    let listed = srv.archived().list_fragments().stream_name("b1").send().await.unwrap();
    assert_eq!(listed.fragments().len(), b1.len(), "the index is untouched");

    // Other key material under beta's id: 4502, still nothing garbled.
    let wrong = key_file(keys.path(), "wrong.key", 0x55);
    let srv =
        srv.restart_with(|c| c.encryption = keyring(&[("alpha", &alpha, &[]), ("beta", &wrong, &[])])).await;
    let (clusters_back, errors) = fragment_list(&srv, "b1", &numbers).await;
    assert!(clusters_back.is_empty());
    assert_eq!(errors[1], ("AWS_KINESISVIDEO_ERROR_ID".to_owned(), "4502".to_owned()));

    // beta back: every byte is there; and the default key opens d1's writes.
    let srv = srv.restart_with(|c| c.encryption = both.clone()).await;
    assert_reads_back(&srv, "b1", &b1, &clusters).await;
    let d1 = persisted(&put_fixture(&srv, "d1", &data).await);
    assert_reads_back(&srv, "d1", &d1, &clusters).await;
    srv.stop().await;
}

/// GetClip's selector: the last ten minutes by server time.
fn clip_selector() -> aws_sdk_kinesisvideoarchivedmedia::types::ClipFragmentSelector {
    use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
    use aws_sdk_kinesisvideoarchivedmedia::types::{
        ClipFragmentSelector, ClipFragmentSelectorType, ClipTimestampRange,
    };
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    ClipFragmentSelector::builder()
        .fragment_selector_type(ClipFragmentSelectorType::ServerTimestamp)
        .timestamp_range(
            ClipTimestampRange::builder()
                .start_timestamp(DateTime::from_secs(now - 600))
                .end_timestamp(DateTime::from_secs(now + 60))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// Where the store keeps a stream's data, per tier: (HOT place, WARM place) as a directory or
/// an S3 key prefix.
fn tier_places(srv: &TestServer, id: i64) -> (String, String) {
    match srv.config.store.kind {
        StoreKind::Local => (
            format!("{}/", srv.dir.path().join("fragments").join(id.to_string()).display()),
            format!("{}/", srv.config.effective_warm_dir().join(id.to_string()).display()),
        ),
        StoreKind::S3 => {
            let s3 = &srv.config.store.s3;
            (format!("{}/{id}/", s3.prefix), format!("{}/{id}/", s3.warm_prefix()))
        }
    }
}

async fn warm_streams_are_stored_apart_and_a_tier_change_applies_to_new_fragments(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let tier = |t: WireTier| StreamStorageConfiguration::builder().default_storage_tier(t).build().unwrap();
    kvs.create_stream().stream_name("hot").data_retention_in_hours(24).send().await.unwrap();
    kvs.create_stream()
        .stream_name("warm")
        .data_retention_in_hours(24)
        .stream_storage_configuration(tier(WireTier::Warm))
        .send()
        .await
        .unwrap();
    let data = fixture("h264_1280x720_4s.mkv");
    let clusters = fixture_clusters(&data);
    let hot = persisted(&put_fixture(&srv, "hot", &data).await);
    let mut warm = persisted(&put_fixture(&srv, "warm", &data).await);
    let (hot_id, warm_id) = (stream_id(&srv, "hot").await, stream_id(&srv, "warm").await);
    let (hot_hot, hot_warm) = tier_places(&srv, hot_id);
    let (warm_hot, warm_warm) = tier_places(&srv, warm_id);
    let at_rest = stored(&srv).await;
    let under =
        |prefix: &str| -> Vec<&Stored> { at_rest.iter().filter(|s| s.place.starts_with(prefix)).collect() };
    assert!(!under(&hot_hot).is_empty() && under(&hot_warm).is_empty(), "a HOT stream stays HOT");
    assert!(
        !under(&warm_warm).is_empty() && under(&warm_hot).is_empty(),
        "a WARM stream's segments are WARM"
    );
    if srv.config.store.kind == StoreKind::S3 {
        let class = |s: &&Stored| s.storage_class.clone().unwrap_or_default();
        assert!(under(&warm_warm).iter().all(|s| class(s) == "STANDARD_IA"), "WARM objects are STANDARD_IA");
        assert!(under(&hot_hot).iter().all(|s| class(s) != "STANDARD_IA"), "HOT objects are not");
    }
    assert_reads_back(&srv, "hot", &hot, &clusters).await;
    assert_reads_back(&srv, "warm", &warm, &clusters).await;

    // WARM → HOT: new fragments go HOT, the WARM ones stay where they are and read back.
    let version =
        kvs.describe_stream().stream_name("warm").send().await.unwrap().stream_info.unwrap().version.unwrap();
    kvs.update_stream_storage_configuration()
        .stream_name("warm")
        .current_version(version)
        .stream_storage_configuration(tier(WireTier::Hot))
        .send()
        .await
        .unwrap();
    let warm_before = under(&warm_warm).len();
    let later = persisted(&put_fixture(&srv, "warm", &data).await);
    let at_rest = stored(&srv).await;
    let under = |prefix: &str| at_rest.iter().filter(|s| s.place.starts_with(prefix)).count();
    assert!(under(&warm_hot) > 0, "new fragments are HOT");
    assert_eq!(under(&warm_warm), warm_before, "the WARM segments stay");
    warm.extend(later);
    assert_reads_back(&srv, "warm", &warm, &clusters).await;
    let listed = srv.archived().list_fragments().stream_name("warm").send().await.unwrap();
    assert_eq!(listed.fragments().len(), warm.len());
    srv.stop().await;
}
