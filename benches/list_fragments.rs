//! ListFragments over a stream with 100,000 fragments, through the real HTTP API and the official
//! aws-sdk-kinesisvideoarchivedmedia client.
//!
//! `cargo bench --bench list_fragments` (SQLite) or with `TEST_DATABASE_URL=postgres://…` (a fresh
//! database is created and dropped). It inserts 100,000 synthetic fragment rows (2 s each) for one
//! stream, then times 300 calls of each kind: the first page without a selector, a page of a
//! server-timestamp range at a random point of the stream, and a page of a producer-timestamp
//! range; MaxResults 100. Prints p50/p99 in ms.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{FragmentSelector, FragmentSelectorType, TimestampRange};
use openkvs::app::Config;
use openkvs::app::Server;
use openkvs::model::{FragmentLocation, FragmentNumber, FragmentRecord, Region, StorageTier, StreamName};
use sqlx::Connection;

const FRAGMENTS: i64 = 100_000;
const CALLS: usize = 300;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p) as usize]
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let mut pg = None;
    if let Ok(admin) = std::env::var("TEST_DATABASE_URL") {
        let name = format!("openkvs_bench_{}", std::process::id());
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await.unwrap();
        let base = &admin[..admin.rfind('/').unwrap()];
        config.database_url = Some(format!("{base}/{name}"));
        pg = Some((admin.clone(), name));
    }
    let url = config.effective_database_url();
    let server = Server::bind(&config).await.unwrap();
    let endpoint = format!("http://{}", server.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));

    let creds = aws_credential_types::Credentials::new("openkvs", "openkvs-secret", None, None, "bench");
    let kvs = aws_sdk_kinesisvideo::Client::from_conf(
        aws_sdk_kinesisvideo::Config::builder()
            .http_client(openkvs::producer::control::sdk_http_client())
            .behavior_version(aws_sdk_kinesisvideo::config::BehaviorVersion::latest())
            .region(aws_sdk_kinesisvideo::config::Region::new("us-east-1"))
            .credentials_provider(creds.clone())
            .endpoint_url(&endpoint)
            .build(),
    );
    kvs.create_stream().stream_name("big").data_retention_in_hours(87_600).send().await.unwrap();
    let index = openkvs::archive::open_index(&url).await.unwrap();
    let stream = index
        .stream_by_name(&Region::parse("us-east-1").unwrap(), &StreamName::parse("big").unwrap())
        .await
        .unwrap();
    let header = index.put_track_header(stream.id, "bench", b"header", 0).await.unwrap();
    let base_ms: i64 = 1_600_000_000_000;
    let t0 = Instant::now();
    for batch in 0..(FRAGMENTS / 1000) {
        let rows: Vec<FragmentRecord> = (batch * 1000..(batch + 1) * 1000)
            .map(|i| FragmentRecord {
                stream_id: stream.id,
                number: FragmentNumber::from_ordinal(i as u128 + 1),
                cluster_timecode: base_ms + i * 2000,
                producer_ts_ms: base_ms + i * 2000,
                server_ts_ms: base_ms + i * 2000 + 150,
                duration_ms: 2000,
                size_bytes: 375_000,
                header_id: header,
                location: FragmentLocation {
                    segment: 1 + i / 170,
                    offset: (i % 170) as u64 * 375_000,
                    length: 375_000,
                    tier: StorageTier::Hot,
                },
                key_version: 1,
                key_frame: true,
                tracks: vec![1],
                frame_count: 60,
                metadata: Vec::new(),
            })
            .collect();
        index.insert_fragments(&rows).await.unwrap();
    }
    println!(
        "{} index: inserted {FRAGMENTS} fragment rows in {:.1} s",
        index.backend(),
        t0.elapsed().as_secs_f64()
    );

    let am = aws_sdk_kinesisvideoarchivedmedia::Client::from_conf(
        aws_sdk_kinesisvideoarchivedmedia::Config::builder()
            .http_client(openkvs::producer::control::sdk_http_client())
            .behavior_version(aws_sdk_kinesisvideoarchivedmedia::config::BehaviorVersion::latest())
            .region(aws_sdk_kinesisvideoarchivedmedia::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(&endpoint)
            .build(),
    );
    let am = Arc::new(am);
    let mut seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for kind in ["no selector (first page)", "SERVER_TIMESTAMP range", "PRODUCER_TIMESTAMP range"] {
        let mut lat = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let at = base_ms + (rand() % FRAGMENTS as u64) as i64 * 2000;
            let range = |t: FragmentSelectorType| {
                FragmentSelector::builder()
                    .fragment_selector_type(t)
                    .timestamp_range(
                        TimestampRange::builder()
                            .start_timestamp(DateTime::from_millis(at))
                            .end_timestamp(DateTime::from_millis(at + 3_600_000))
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap()
            };
            let req = am.list_fragments().stream_name("big").max_results(100);
            let req = match kind {
                "SERVER_TIMESTAMP range" => {
                    req.fragment_selector(range(FragmentSelectorType::ServerTimestamp))
                }
                "PRODUCER_TIMESTAMP range" => {
                    req.fragment_selector(range(FragmentSelectorType::ProducerTimestamp))
                }
                _ => req,
            };
            let t = Instant::now();
            let out = req.send().await.unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(out.fragments().len(), 100);
        }
        println!(
            "ListFragments {kind:<28} MaxResults 100: p50 {:.2} ms  p99 {:.2} ms",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99)
        );
    }
    drop(index);
    let _ = tx.send(());
    let _ = task.await;
    if let Some((admin, name)) = pg {
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&mut c)
            .await;
    }
}
