//! Conformance of the index's edge configuration and secret aggregates (`EdgeIndex`,
//! `SecretIndex`): every query on SQLite and, with TEST_DATABASE_URL, on Postgres.

mod common;

use std::sync::Arc;

use common::Backend;
use openkvs::archive::{Index, IndexError, NewSecret, NewStream, SECRET_NAME_CONSTRAINT};
use openkvs::model::{
    AccountId, DataRetention, EdgeConfig, JobReport, JobStatus, Region, ResourceArn, SecretRecord,
    SecretValue, StorageTier, StreamName, SyncStatus, TagSet, VersionToken,
};

backend_tests!(index_only: edge_configurations_follow_their_generation, secrets_create_update_delete_and_purge);

struct Ctx {
    index: Arc<dyn Index>,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Ctx {
    async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (url, pg) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("index.db").display()), None),
            Backend::Postgres | Backend::PostgresS3 => {
                let (admin, name, url) = common::fresh_postgres_db().await;
                (url, Some((admin, name)))
            }
        };
        let index = openkvs::archive::open_index(&url).await.unwrap();
        Self { index, _dir: dir, pg }
    }

    async fn done(self) {
        drop(self.index);
        if let Some((admin, name)) = self.pg {
            common::drop_postgres_db(&admin, &name).await;
        }
    }

    async fn stream(&self, name: &str) -> i64 {
        let arn = ResourceArn::stream(
            &Region::parse("us-east-1").unwrap(),
            &AccountId::default(),
            &StreamName::parse(name).unwrap(),
            1_700_000_000_000,
        );
        let new = NewStream {
            arn,
            device_name: None,
            media_type: None,
            kms_key_id: None,
            data_key: None,
            retention: DataRetention::from_hours(24).unwrap(),
            storage_tier: StorageTier::Hot,
            version: VersionToken::generate(),
            tags: TagSet::default(),
        };
        self.index.create_stream(new).await.unwrap().id
    }
}

fn config(hub: &str) -> EdgeConfig {
    serde_json::from_value(serde_json::json!({
        "HubDeviceArn": hub,
        "RecorderConfig": {"MediaSourceConfig": {
            "MediaUriSecretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:cam",
            "MediaUriType": "RTSP_URI"}}
    }))
    .unwrap()
}

fn report(status: JobStatus, details: &str, at: i64) -> JobReport {
    JobReport { status, details: details.into(), collected_ms: at, updated_ms: at + 1 }
}

async fn edge_configurations_follow_their_generation(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let (a, b, c) = (ctx.stream("a").await, ctx.stream("b").await, ctx.stream("c").await);
    let hub = "arn:aws:iot:us-east-1:000000000000:thing/site-1";
    let first = ctx.index.put_edge_config(a, &config(hub), 1000).await.unwrap();
    assert_eq!((first.sync_status, first.generation, first.created_ms), (SyncStatus::Syncing, 1, 1000));
    assert_eq!((first.stream_name.as_str(), first.config.hub()), ("a", hub));
    ctx.index.put_edge_config(b, &config(hub), 1001).await.unwrap();
    ctx.index
        .put_edge_config(c, &config("arn:aws:iot:us-east-1:000000000000:thing/other"), 1002)
        .await
        .unwrap();
    assert!(matches!(ctx.index.put_edge_config(999_999, &config(hub), 1).await, Err(IndexError::NotFound)));

    // Paging by stream id within one hub.
    let page = ctx.index.edge_configs_for_hub(hub, 0, 1).await.unwrap();
    assert_eq!(page.iter().map(|r| r.stream_id).collect::<Vec<_>>(), vec![a]);
    let rest = ctx.index.edge_configs_for_hub(hub, a, 10).await.unwrap();
    assert_eq!(rest.iter().map(|r| r.stream_id).collect::<Vec<_>>(), vec![b]);
    assert_eq!(ctx.index.all_edge_configs().await.unwrap().len(), 3);

    // Status and reports apply to the current generation only.
    assert!(ctx.index.set_edge_sync_status(a, 1, SyncStatus::InSync, None, 2000).await.unwrap());
    assert!(
        !ctx.index.set_edge_sync_status(a, 1, SyncStatus::InSync, None, 2001).await.unwrap(),
        "no change"
    );
    let rec = report(JobStatus::SystemError, "camera unreachable", 2100);
    assert!(ctx.index.set_edge_job_reports(a, 1, Some(&rec), None).await.unwrap());
    let replaced = ctx.index.put_edge_config(a, &config(hub), 3000).await.unwrap();
    assert_eq!(
        (replaced.generation, replaced.sync_status, replaced.created_ms, replaced.updated_ms),
        (2, SyncStatus::Syncing, 1000, 3000)
    );
    assert_eq!(replaced.recorder.as_ref(), Some(&rec), "agent reports survive an update");
    assert!(
        !ctx.index.set_edge_sync_status(a, 1, SyncStatus::InSync, None, 3001).await.unwrap(),
        "stale generation"
    );
    assert!(!ctx.index.set_edge_job_reports(a, 1, None, Some(&rec)).await.unwrap());
    assert!(
        ctx.index
            .set_edge_sync_status(a, 2, SyncStatus::SyncFailed, Some("401 Unauthorized"), 3002)
            .await
            .unwrap()
    );
    let up = report(JobStatus::Success, "uploaded", 3003);
    ctx.index.set_edge_job_reports(a, 2, None, Some(&up)).await.unwrap();
    let got = ctx.index.edge_config(a).await.unwrap().unwrap();
    assert_eq!(
        (got.sync_status, got.failed_details.as_deref()),
        (SyncStatus::SyncFailed, Some("401 Unauthorized"))
    );
    assert_eq!(got.uploader.as_ref(), Some(&up));

    // Deletion: a new generation; only that generation's agent removes the row.
    ctx.index.mark_edge_config_deleting(a, 4000).await.unwrap();
    let deleting = ctx.index.edge_config(a).await.unwrap().unwrap();
    assert_eq!((deleting.sync_status, deleting.generation), (SyncStatus::Deleting, 3));
    assert!(!ctx.index.remove_edge_config(a, 2).await.unwrap());
    assert!(ctx.index.remove_edge_config(a, 3).await.unwrap());
    assert!(ctx.index.edge_config(a).await.unwrap().is_none());
    assert!(matches!(ctx.index.mark_edge_config_deleting(a, 1).await, Err(IndexError::NotFound)));

    // Deleting the stream deletes its configuration.
    ctx.index.delete_stream(b, None).await.unwrap();
    assert!(ctx.index.edge_config(b).await.unwrap().is_none());
    ctx.done().await;
}

fn secret(name: &str, at: i64) -> NewSecret {
    NewSecret {
        record: SecretRecord {
            arn: format!("arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}"),
            name: name.into(),
            description: Some("d".into()),
            kms_key_id: None,
            version_id: "v1-00000000000000000000000000000000".into(),
            created_ms: at,
            changed_ms: at,
            deleted_ms: None,
            purge_ms: None,
        },
        region: "us-east-1".into(),
        value: Some(SecretValue::Text("rtsp://u:p@cam/1".into())),
    }
}

async fn secrets_create_update_delete_and_purge(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let s = secret("cam", 1000);
    ctx.index.create_secret(&s).await.unwrap();
    match ctx.index.create_secret(&secret("cam", 1001)).await {
        Err(IndexError::Conflict { constraint }) => assert_eq!(constraint, SECRET_NAME_CONSTRAINT),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // By ARN, or by name in its region only.
    let (rec, value) = ctx.index.secret_value(&s.record.arn, "eu-west-1", 1002).await.unwrap().unwrap();
    assert_eq!((rec.name.as_str(), value), ("cam", Some(SecretValue::Text("rtsp://u:p@cam/1".into()))));
    assert!(ctx.index.secret("cam", "us-east-1", 1002).await.unwrap().is_some());
    assert!(ctx.index.secret("cam", "eu-west-1", 1002).await.unwrap().is_none());

    ctx.index.put_secret_value(&s.record.arn, &SecretValue::Binary(vec![1, 2, 3]), "v2", 2000).await.unwrap();
    let (rec, value) = ctx.index.secret_value("cam", "us-east-1", 2001).await.unwrap().unwrap();
    assert_eq!(
        (rec.version_id.as_str(), rec.changed_ms, value),
        ("v2", 2000, Some(SecretValue::Binary(vec![1, 2, 3])))
    );
    assert!(matches!(
        ctx.index
            .put_secret_value(
                "arn:aws:secretsmanager:us-east-1:0:secret:none",
                &SecretValue::Text("x".into()),
                "v",
                1
            )
            .await,
        Err(IndexError::NotFound)
    ));

    // Scheduled deletion: visible (with DeletedDate) until its date, then gone and purged.
    ctx.index.schedule_secret_deletion(&s.record.arn, 3000, 5000).await.unwrap();
    let rec = ctx.index.secret("cam", "us-east-1", 4000).await.unwrap().unwrap();
    assert_eq!((rec.deleted_ms, rec.purge_ms), (Some(3000), Some(5000)));
    assert!(ctx.index.secret("cam", "us-east-1", 5000).await.unwrap().is_none());
    assert_eq!(ctx.index.purge_secrets(4999).await.unwrap(), 0);
    assert_eq!(ctx.index.purge_secrets(5000).await.unwrap(), 1);
    ctx.index.create_secret(&secret("cam", 6000)).await.unwrap();
    ctx.done().await;
}
