//! A smoke run of `openkvs bench failover` (the 10-kill benchmark of issue 18, here with one kill):
//! the command starts its own 3-node cluster on the test Postgres (a fresh database), S3 (the test
//! bucket) and NATS, runs 4 real-time producers, kills the node owning the most streams, starts it
//! again and checks ListFragments. The test checks its JSON: one round, every producer of the
//! killed node resumed within 10 s, nothing lost or duplicated, exit status 0.
//!
//! Needs Postgres (`TEST_DATABASE_URL`), S3 (`TEST_S3_ENDPOINT`) and NATS on 127.0.0.1:4222;
//! skipped without them unless `OPENKVS_CI` is set. About 15 s. The full benchmark (10 kills, 20
//! streams) is a command in docs/BENCHMARKS.md, not a test.

mod common;

use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_kill_of_the_failover_bench_loses_nothing() {
    let nats = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:4222".parse().unwrap(),
        std::time::Duration::from_millis(300),
    )
    .is_ok();
    let (Some(_), Some(s3), true) = (common::postgres_url(), common::s3_endpoint(), nats) else {
        assert!(
            std::env::var_os("OPENKVS_CI").is_none(),
            "OPENKVS_CI is set but Postgres, S3 or NATS is not"
        );
        eprintln!("skipped: TEST_DATABASE_URL or TEST_S3_ENDPOINT unset, or no NATS on 127.0.0.1:4222");
        return;
    };
    let bucket = common::s3_bucket();
    common::ensure_s3_bucket(&s3, &bucket).await;
    let (admin, db_name, db_url) = common::fresh_postgres_db().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sample.mkv");
    let exe = env!("CARGO_BIN_EXE_openkvs");
    let sample = Command::new(exe).args(["sample", "--seconds", "60", "--out"]).arg(&file).status().unwrap();
    assert!(sample.success());

    let out = tokio::task::spawn_blocking(move || {
        Command::new(exe)
            .args(["bench", "failover", "--kills", "1", "--streams", "4", "--ramp-up-secs", "1"])
            .args(["--heartbeat-ms", "200", "--member-ttl-ms", "1500", "--resume-bound-secs", "10"])
            .args(["--database-url", &db_url, "--s3-endpoint", &s3, "--s3-bucket", &bucket])
            .args(["--s3-access-key-id", "openkvs-test", "--s3-secret-access-key", "openkvs-test-secret"])
            .arg("--file")
            .arg(&file)
            .arg("--json")
            .env_remove("AWS_ACCESS_KEY_ID")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    common::drop_postgres_db(&admin, &db_name).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failover failed ({}):\n{stdout}\n{stderr}", out.status);
    let v: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["kills"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(v["kills"][0]["streams_owned"].as_u64().unwrap() >= 1, "{v}");
    assert_eq!(v["lost"], 0, "{v}");
    assert_eq!(v["duplicates"], 0, "{v}");
    assert_eq!(v["not_resumed"], 0, "{v}");
    assert!(v["fragments_persisted"].as_u64().unwrap() >= 4, "{v}");
    assert!(v["failover_ms"]["max_ms"].as_f64().unwrap() <= 10_000.0, "{v}");
}
