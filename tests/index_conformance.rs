//! The index conformance suite: the same checks against every [`Index`] implementation. SQLite
//! always runs; Postgres runs when TEST_DATABASE_URL is set (a fresh database per test).

mod common;

use std::sync::Arc;

use common::Backend;
use openkvs::index::{
    CHANNEL_NAME_CONSTRAINT, ChannelChanges, Index, IndexError, NewChannel, NewStream,
    STREAM_NAME_CONSTRAINT, StreamChanges, TimestampKind,
};
use openkvs::model::{
    AccountId, ChannelType, DataRetention, FragmentLocation, FragmentNumber, FragmentRecord, Region,
    ResourceArn, StorageTier, StreamName, StreamStatus, TagSet, VersionToken,
};

backend_tests!(
    create_and_look_up,
    duplicate_names_conflict_per_region,
    list_filters_pages_and_orders_by_bytes,
    updates_check_versions,
    delete_removes_tags_and_checks_version,
    tags_upsert_and_respect_the_limit,
    fragments_insert_list_and_range_queries,
    channels_create_look_up_and_conflict_per_region,
    channels_list_filters_pages_and_orders_by_bytes,
    channels_update_and_delete_check_versions,
    channel_tags_upsert_respect_the_limit_and_cascade,
);

struct Ctx {
    index: Arc<dyn Index>,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Ctx {
    async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("index.db").display());
                Self { index: openkvs::index::open(&url).await.unwrap(), _dir: dir, pg: None }
            }
            Backend::Postgres => {
                let (admin, name, url) = common::fresh_postgres_db().await;
                Self { index: openkvs::index::open(&url).await.unwrap(), _dir: dir, pg: Some((admin, name)) }
            }
        }
    }

    async fn done(self) {
        drop(self.index);
        if let Some((admin, name)) = self.pg {
            common::drop_postgres_db(&admin, &name).await;
        }
    }
}

fn region(r: &str) -> Region {
    Region::parse(r).unwrap()
}

fn new_stream(region_name: &str, name: &str, millis: i64) -> NewStream {
    NewStream {
        arn: ResourceArn::stream(
            &region(region_name),
            &AccountId::default(),
            &StreamName::parse(name).unwrap(),
            millis,
        ),
        device_name: Some("dev".into()),
        media_type: Some("video/h264".into()),
        kms_key_id: None,
        retention: DataRetention::from_hours(24).unwrap(),
        storage_tier: StorageTier::Hot,
        version: VersionToken::generate(),
        tags: TagSet::parse([("a", "1"), ("b", "")], false).unwrap(),
    }
}

async fn create_and_look_up(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let new = new_stream("us-east-1", "cam", 1_700_000_000_123);
    let created = ctx.index.create_stream(new.clone()).await.unwrap();
    assert_eq!(created.name.as_str(), "cam");
    assert_eq!(created.arn, new.arn);
    assert_eq!(created.created_at_ms, 1_700_000_000_123);
    assert_eq!(created.version, new.version);
    assert_eq!(created.retention.hours(), 24);
    let by_name =
        ctx.index.stream_by_name(&region("us-east-1"), &StreamName::parse("cam").unwrap()).await.unwrap();
    assert_eq!(by_name, created);
    assert_eq!(ctx.index.stream_by_arn(&new.arn).await.unwrap(), created);
    let tags = ctx.index.stream_tags(created.id).await.unwrap();
    assert_eq!(tags.0.get("b").map(String::as_str), Some(""));
    let missing = ctx.index.stream_by_name(&region("us-east-1"), &StreamName::parse("nope").unwrap()).await;
    assert!(matches!(missing, Err(IndexError::NotFound)));
    let wrong_millis = ResourceArn { creation_millis: 1, ..new.arn.clone() };
    assert!(matches!(ctx.index.stream_by_arn(&wrong_millis).await, Err(IndexError::NotFound)));
    ctx.done().await;
}

async fn duplicate_names_conflict_per_region(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    ctx.index.create_stream(new_stream("us-east-1", "cam", 1)).await.unwrap();
    match ctx.index.create_stream(new_stream("us-east-1", "cam", 2)).await {
        Err(IndexError::Conflict { constraint }) => assert_eq!(constraint, STREAM_NAME_CONSTRAINT),
        other => panic!("expected a name conflict, got {other:?}"),
    }
    ctx.index.create_stream(new_stream("eu-west-1", "cam", 3)).await.unwrap();
    ctx.done().await;
}

async fn list_filters_pages_and_orders_by_bytes(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    for (i, n) in ["b", "a-2", "a-10", "A-1", "a-1", "a_1"].iter().enumerate() {
        ctx.index.create_stream(new_stream("us-east-1", n, i as i64)).await.unwrap();
    }
    ctx.index.create_stream(new_stream("us-west-2", "a-0", 9)).await.unwrap();
    let r = region("us-east-1");
    let names =
        |p: &openkvs::index::StreamPage| p.streams.iter().map(|s| s.name.to_string()).collect::<Vec<_>>();
    let all = ctx.index.list_streams(&r, None, None, 100).await.unwrap();
    assert_eq!(names(&all), ["A-1", "a-1", "a-10", "a-2", "a_1", "b"]);
    assert!(!all.more);
    let p1 = ctx.index.list_streams(&r, Some("a-"), None, 2).await.unwrap();
    assert_eq!(names(&p1), ["a-1", "a-10"]);
    assert!(p1.more);
    let p2 = ctx.index.list_streams(&r, Some("a-"), Some("a-10"), 2).await.unwrap();
    assert_eq!(names(&p2), ["a-2"]);
    assert!(!p2.more);
    let under = ctx.index.list_streams(&r, Some("a_"), None, 10).await.unwrap();
    assert_eq!(names(&under), ["a_1"], "underscore is literal, not a wildcard");
    ctx.done().await;
}

async fn updates_check_versions(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let s = ctx.index.create_stream(new_stream("us-east-1", "cam", 1)).await.unwrap();
    let v2 = VersionToken::generate();
    let changes = StreamChanges {
        device_name: Some("d2".into()),
        retention: Some(DataRetention::from_hours(0).unwrap()),
        storage_tier: Some(StorageTier::Warm),
        ..StreamChanges::default()
    };
    let updated = ctx.index.update_stream(s.id, Some(&s.version), &changes, &v2).await.unwrap();
    assert_eq!(updated.device_name.as_deref(), Some("d2"));
    assert_eq!(updated.media_type.as_deref(), Some("video/h264"), "untouched fields stay");
    assert_eq!(updated.retention.hours(), 0);
    assert_eq!(updated.storage_tier, StorageTier::Warm);
    assert_eq!(updated.version, v2);
    let stale = ctx.index.update_stream(s.id, Some(&s.version), &changes, &VersionToken::generate()).await;
    assert!(matches!(stale, Err(IndexError::VersionMismatch)));
    let gone = ctx.index.update_stream(s.id + 1000, None, &changes, &VersionToken::generate()).await;
    assert!(matches!(gone, Err(IndexError::NotFound)));
    ctx.done().await;
}

async fn delete_removes_tags_and_checks_version(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let s = ctx.index.create_stream(new_stream("us-east-1", "cam", 1)).await.unwrap();
    let wrong = ctx.index.delete_stream(s.id, Some(&VersionToken::generate())).await;
    assert!(matches!(wrong, Err(IndexError::VersionMismatch)));
    ctx.index.delete_stream(s.id, Some(&s.version)).await.unwrap();
    assert!(matches!(ctx.index.delete_stream(s.id, None).await, Err(IndexError::NotFound)));
    assert!(ctx.index.stream_tags(s.id).await.unwrap().is_empty());
    let again = ctx.index.create_stream(new_stream("us-east-1", "cam", 2)).await.unwrap();
    assert_eq!(ctx.index.stream_tags(again.id).await.unwrap().len(), 2);
    ctx.done().await;
}

async fn tags_upsert_and_respect_the_limit(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let s = ctx.index.create_stream(new_stream("us-east-1", "cam", 1)).await.unwrap();
    let many: Vec<(String, String)> = (0..48).map(|i| (format!("k{i}"), "v".into())).collect();
    let set = TagSet::parse(many.iter().map(|(k, v)| (k.as_str(), v.as_str())), true).unwrap();
    ctx.index.tag_stream(s.id, &set).await.unwrap();
    assert_eq!(ctx.index.stream_tags(s.id).await.unwrap().len(), 50);
    let overwrite = TagSet::parse([("a", "changed")], true).unwrap();
    ctx.index.tag_stream(s.id, &overwrite).await.unwrap();
    assert_eq!(ctx.index.stream_tags(s.id).await.unwrap().0["a"], "changed");
    let extra = TagSet::parse([("extra", "x")], true).unwrap();
    assert!(matches!(ctx.index.tag_stream(s.id, &extra).await, Err(IndexError::TagLimitExceeded)));
    assert_eq!(ctx.index.stream_tags(s.id).await.unwrap().len(), 50, "failed tagging changes nothing");
    ctx.index.untag_stream(s.id, &["a".into(), "missing".into()]).await.unwrap();
    assert_eq!(ctx.index.stream_tags(s.id).await.unwrap().len(), 49);
    ctx.done().await;
}

fn fragment(stream_id: i64, header_id: i64, i: i64) -> FragmentRecord {
    FragmentRecord {
        stream_id,
        number: FragmentNumber::from_ordinal(1000 + i as u128),
        cluster_timecode: i * 2000,
        producer_ts_ms: 1_000_000 + i * 2000,
        server_ts_ms: 5_000_000 + i * 2000,
        duration_ms: 2000,
        size_bytes: 100 + i,
        header_id,
        location: FragmentLocation { segment: 1, offset: (i * 100) as u64, length: 100 + i as u64 },
        key_frame: i % 2 == 0,
        tracks: vec![1, 2],
        frame_count: 50,
        metadata: vec![("KEY".into(), format!("v{i}"))],
    }
}

async fn fragments_insert_list_and_range_queries(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let s = ctx.index.create_stream(new_stream("us-east-1", "cam", 1)).await.unwrap();
    let h1 = ctx.index.put_track_header(s.id, "aa", b"header-1", 10).await.unwrap();
    assert_eq!(ctx.index.put_track_header(s.id, "aa", b"header-1", 20).await.unwrap(), h1, "stored once");
    let h2 = ctx.index.put_track_header(s.id, "bb", b"header-2", 30).await.unwrap();
    assert_ne!(h1, h2);
    assert_eq!(ctx.index.track_header(s.id, h2).await.unwrap(), b"header-2");
    assert!(
        matches!(ctx.index.track_header(s.id + 1000, h2).await, Err(IndexError::NotFound)),
        "not another stream's"
    );
    assert!(ctx.index.last_fragment_number(s.id).await.unwrap().is_none());

    let rows: Vec<FragmentRecord> = (0..10).map(|i| fragment(s.id, if i < 5 { h1 } else { h2 }, i)).collect();
    assert_eq!(ctx.index.insert_fragments(&rows).await.unwrap(), vec![true; 10]);
    assert_eq!(ctx.index.last_fragment_number(s.id).await.unwrap(), Some(rows[9].number.clone()));
    assert_eq!(
        ctx.index.fragment(s.id, &rows[3].number).await.unwrap(),
        rows[3],
        "round trip of every column"
    );
    assert!(matches!(
        ctx.index.fragment(s.id, &FragmentNumber::from_ordinal(1)).await,
        Err(IndexError::NotFound)
    ));

    let after = ctx.index.fragments_after(s.id, Some(&rows[6].number), 100).await.unwrap();
    assert_eq!(after, rows[7..]);
    assert_eq!(ctx.index.fragments_after(s.id, None, 3).await.unwrap(), rows[..3]);

    // Inclusive ranges and keyset paging, on both timestamps.
    let p = ctx
        .index
        .fragments_in_range(s.id, TimestampKind::Producer, 1_004_000, 1_010_000, None, 100)
        .await
        .unwrap();
    assert_eq!(p, rows[2..6]);
    let page1 = ctx
        .index
        .fragments_in_range(s.id, TimestampKind::Server, 5_000_000, 6_000_000, None, 4)
        .await
        .unwrap();
    assert_eq!(page1, rows[..4]);
    let last = page1.last().unwrap();
    let page2 = ctx
        .index
        .fragments_in_range(
            s.id,
            TimestampKind::Server,
            5_000_000,
            6_000_000,
            Some((last.server_ts_ms, &last.number)),
            4,
        )
        .await
        .unwrap();
    assert_eq!(page2, rows[4..8]);

    // Newest-first windows and session positions (HLS/DASH LIVE).
    let newest = ctx.index.latest_fragments(s.id, TimestampKind::Server, 5_004_000, 3).await.unwrap();
    assert_eq!(newest, vec![rows[9].clone(), rows[8].clone(), rows[7].clone()]);
    let since = ctx.index.latest_fragments(s.id, TimestampKind::Producer, 1_014_000, 100).await.unwrap();
    assert_eq!(since, vec![rows[9].clone(), rows[8].clone(), rows[7].clone()]);
    let before = (rows[7].server_ts_ms, &rows[7].number);
    assert_eq!(
        ctx.index.count_fragments_before(s.id, TimestampKind::Server, (5_004_000, ""), before).await.unwrap(),
        5
    );
    let before = (rows[7].producer_ts_ms, &rows[7].number);
    assert_eq!(
        ctx.index.count_fragments_before(s.id, TimestampKind::Producer, (0, ""), before).await.unwrap(),
        7
    );
    let since = (rows[2].producer_ts_ms, rows[2].number.as_str());
    assert_eq!(
        ctx.index.count_fragments_before(s.id, TimestampKind::Producer, since, before).await.unwrap(),
        5
    );

    // The fragment containing a time, or the next one after a gap.
    let at = ctx.index.fragment_at(s.id, TimestampKind::Producer, 1_005_500).await.unwrap().unwrap();
    assert_eq!(at, rows[2]);
    let first = ctx.index.fragment_at(s.id, TimestampKind::Server, 0).await.unwrap().unwrap();
    assert_eq!(first, rows[0]);
    assert!(ctx.index.fragment_at(s.id, TimestampKind::Server, 9_000_000).await.unwrap().is_none());

    // Rows for a deleted stream are refused, others in the same batch still go in.
    let other = ctx.index.create_stream(new_stream("us-east-1", "other", 2)).await.unwrap();
    let h3 = ctx.index.put_track_header(other.id, "cc", b"h", 0).await.unwrap();
    ctx.index.delete_stream(other.id, None).await.unwrap();
    let mixed = vec![fragment(s.id, h2, 10), fragment(other.id, h3, 0)];
    assert_eq!(ctx.index.insert_fragments(&mixed).await.unwrap(), vec![true, false]);
    assert!(matches!(ctx.index.put_track_header(other.id, "dd", b"h", 0).await, Err(IndexError::NotFound)));

    // Deleting a stream removes its fragments and headers.
    ctx.index.delete_stream(s.id, None).await.unwrap();
    assert!(ctx.index.fragments_after(s.id, None, 100).await.unwrap().is_empty());
    assert!(matches!(ctx.index.track_header(s.id, h1).await, Err(IndexError::NotFound)));
    ctx.done().await;
}

fn new_channel(region_name: &str, name: &str, millis: i64) -> NewChannel {
    NewChannel {
        arn: ResourceArn::channel(
            &region(region_name),
            &AccountId::default(),
            &StreamName::parse(name).unwrap(),
            millis,
        ),
        channel_type: ChannelType::SingleMaster,
        message_ttl_seconds: 60,
        version: VersionToken::generate(),
        tags: TagSet::parse([("a", "1"), ("b", "")], false).unwrap(),
    }
}

async fn channels_create_look_up_and_conflict_per_region(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let new = new_channel("us-east-1", "door", 1_700_000_000_123);
    let created = ctx.index.create_channel(new.clone()).await.unwrap();
    assert_eq!(created.name.as_str(), "door");
    assert_eq!(created.arn, new.arn);
    assert_eq!(created.channel_type, ChannelType::SingleMaster);
    assert_eq!(created.status, StreamStatus::Active);
    assert_eq!(created.message_ttl_seconds, 60);
    assert_eq!(created.version, new.version);
    assert_eq!(created.created_at_ms, 1_700_000_000_123);
    let name = StreamName::parse("door").unwrap();
    assert_eq!(ctx.index.channel_by_name(&region("us-east-1"), &name).await.unwrap(), created);
    assert_eq!(ctx.index.channel_by_arn(&new.arn).await.unwrap(), created);
    assert_eq!(ctx.index.channel_tags(created.id).await.unwrap().0.get("b").map(String::as_str), Some(""));
    let wrong_millis = ResourceArn { creation_millis: 1, ..new.arn.clone() };
    assert!(matches!(ctx.index.channel_by_arn(&wrong_millis).await, Err(IndexError::NotFound)));
    let nope = StreamName::parse("nope").unwrap();
    assert!(matches!(
        ctx.index.channel_by_name(&region("us-east-1"), &nope).await,
        Err(IndexError::NotFound)
    ));
    // Same name, same region: conflict; another region: fine.
    match ctx.index.create_channel(new_channel("us-east-1", "door", 2)).await {
        Err(IndexError::Conflict { constraint }) => assert_eq!(constraint, CHANNEL_NAME_CONSTRAINT),
        other => panic!("expected a name conflict, got {other:?}"),
    }
    ctx.index.create_channel(new_channel("eu-west-1", "door", 3)).await.unwrap();
    // Streams and channels are separate namespaces; a stream ARN never finds a channel.
    let stream = ctx.index.create_stream(new_stream("us-east-1", "door", 4)).await.unwrap();
    assert!(matches!(ctx.index.channel_by_arn(&stream.arn).await, Err(IndexError::NotFound)));
    assert!(matches!(ctx.index.stream_by_arn(&created.arn).await, Err(IndexError::NotFound)));
    ctx.done().await;
}

async fn channels_list_filters_pages_and_orders_by_bytes(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    for (i, n) in ["b", "a-2", "a-10", "A-1", "a-1", "a_1"].iter().enumerate() {
        ctx.index.create_channel(new_channel("us-east-1", n, i as i64)).await.unwrap();
    }
    ctx.index.create_channel(new_channel("us-west-2", "a-0", 9)).await.unwrap();
    ctx.index.create_stream(new_stream("us-east-1", "a-stream", 10)).await.unwrap();
    let r = region("us-east-1");
    let names =
        |p: &openkvs::index::ChannelPage| p.channels.iter().map(|c| c.name.to_string()).collect::<Vec<_>>();
    let all = ctx.index.list_channels(&r, None, None, 100).await.unwrap();
    assert_eq!(names(&all), ["A-1", "a-1", "a-10", "a-2", "a_1", "b"]);
    assert!(!all.more);
    let p1 = ctx.index.list_channels(&r, Some("a-"), None, 2).await.unwrap();
    assert_eq!(names(&p1), ["a-1", "a-10"]);
    assert!(p1.more);
    let p2 = ctx.index.list_channels(&r, Some("a-"), Some("a-10"), 2).await.unwrap();
    assert_eq!(names(&p2), ["a-2"]);
    assert!(!p2.more);
    let under = ctx.index.list_channels(&r, Some("a_"), None, 10).await.unwrap();
    assert_eq!(names(&under), ["a_1"], "underscore is literal, not a wildcard");
    let exact = ctx.index.list_channels(&r, None, None, 6).await.unwrap();
    assert_eq!(exact.channels.len(), 6);
    assert!(!exact.more, "a page that ends exactly at the last channel has no more");
    ctx.done().await;
}

async fn channels_update_and_delete_check_versions(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let c = ctx.index.create_channel(new_channel("us-east-1", "door", 1)).await.unwrap();
    let v2 = VersionToken::generate();
    let changes = ChannelChanges { message_ttl_seconds: Some(5) };
    let updated = ctx.index.update_channel(c.id, Some(&c.version), &changes, &v2).await.unwrap();
    assert_eq!(updated.message_ttl_seconds, 5);
    assert_eq!(updated.version, v2);
    assert_eq!(updated.arn, c.arn);
    let stale = ctx.index.update_channel(c.id, Some(&c.version), &changes, &VersionToken::generate()).await;
    assert!(matches!(stale, Err(IndexError::VersionMismatch)));
    let v3 = VersionToken::generate();
    let untouched = ctx.index.update_channel(c.id, None, &ChannelChanges::default(), &v3).await.unwrap();
    assert_eq!(untouched.message_ttl_seconds, 5, "None leaves the TTL");
    assert_eq!(untouched.version, v3);
    let gone = ctx.index.update_channel(c.id + 1000, None, &changes, &VersionToken::generate()).await;
    assert!(matches!(gone, Err(IndexError::NotFound)));

    let wrong = ctx.index.delete_channel(c.id, Some(&v2)).await;
    assert!(matches!(wrong, Err(IndexError::VersionMismatch)));
    ctx.index.delete_channel(c.id, Some(&v3)).await.unwrap();
    assert!(matches!(ctx.index.delete_channel(c.id, None).await, Err(IndexError::NotFound)));
    assert!(matches!(ctx.index.channel_by_arn(&c.arn).await, Err(IndexError::NotFound)));
    // The name is free again, and the new channel gets a new id.
    let again = ctx.index.create_channel(new_channel("us-east-1", "door", 2)).await.unwrap();
    assert_ne!(again.id, c.id);
    ctx.done().await;
}

async fn channel_tags_upsert_respect_the_limit_and_cascade(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let c = ctx.index.create_channel(new_channel("us-east-1", "door", 1)).await.unwrap();
    let s = ctx.index.create_stream(new_stream("us-east-1", "door", 1)).await.unwrap();
    let many: Vec<(String, String)> = (0..48).map(|i| (format!("k{i}"), "v".into())).collect();
    let set = TagSet::parse(many.iter().map(|(k, v)| (k.as_str(), v.as_str())), true).unwrap();
    ctx.index.tag_channel(c.id, &set).await.unwrap();
    assert_eq!(ctx.index.channel_tags(c.id).await.unwrap().len(), 50);
    assert_eq!(ctx.index.stream_tags(s.id).await.unwrap().len(), 2, "channel tags are not stream tags");
    let overwrite = TagSet::parse([("a", "changed")], true).unwrap();
    ctx.index.tag_channel(c.id, &overwrite).await.unwrap();
    assert_eq!(ctx.index.channel_tags(c.id).await.unwrap().0["a"], "changed");
    let extra = TagSet::parse([("extra", "x")], true).unwrap();
    assert!(matches!(ctx.index.tag_channel(c.id, &extra).await, Err(IndexError::TagLimitExceeded)));
    assert_eq!(ctx.index.channel_tags(c.id).await.unwrap().len(), 50, "failed tagging changes nothing");
    ctx.index.untag_channel(c.id, &["a".into(), "missing".into()]).await.unwrap();
    assert_eq!(ctx.index.channel_tags(c.id).await.unwrap().len(), 49);
    ctx.index.delete_channel(c.id, None).await.unwrap();
    assert!(ctx.index.channel_tags(c.id).await.unwrap().is_empty(), "tags go with the channel");
    assert!(matches!(ctx.index.tag_channel(c.id, &extra).await, Err(IndexError::NotFound)));
    ctx.done().await;
}
