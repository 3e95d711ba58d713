//! The index conformance suite: the same checks against every [`Index`] implementation. SQLite
//! always runs, on a file and in memory (`sqlite::memory:`, what unit tests use); Postgres runs
//! when TEST_DATABASE_URL is set (a fresh database per test).

mod common;

use std::sync::Arc;

use common::Backend;
use openkvs::archive::{
    CHANNEL_NAME_CONSTRAINT, ChannelChanges, Index, IndexError, MEDIA_STORAGE_STREAM_CONSTRAINT,
    MediaStorage, NewChannel, NewDataKey, NewStream, RowCommit, STREAM_NAME_CONSTRAINT, StreamChanges,
    TimestampKind, WrappedDataKey,
};
use openkvs::model::{
    AccountId, AnalyzerEvent, ChannelType, ConfigurationStatus, DataRetention, DestinationUri,
    FragmentLocation, FragmentNumber, FragmentRecord, ImageFormat, ImageGenerationConfig, ImageSelectorType,
    NewAnalyzerEvent, NotificationConfig, Region, ResourceArn, StorageTier, StreamName, StreamStatus, TagSet,
    VersionToken,
};

/// Every check on both backends (`backend_tests!`), and on an in-memory SQLite index.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        backend_tests!(index_only: $($name),*);
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::IN_MEMORY.scope(true, super::$name($crate::common::Backend::Sqlite)).await
                }
            )*
        }
    };
}

tokio::task_local! {
    /// Set for the in-memory variants: `Backend::Sqlite` then opens `sqlite::memory:`.
    static IN_MEMORY: bool;
}

conformance!(
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
    streams_by_id_and_all_ids,
    image_generation_configs_set_replace_delete_and_cascade,
    notification_configs_set_replace_delete_and_cascade,
    worker_cursors_only_move_forward,
    analyzer_events_insert_page_filter_and_cascade,
    retention_deletes_by_server_time_and_tracks_segments,
    media_type_is_filled_only_when_unset,
    channels_are_counted_in_every_region,
    media_storage_maps_one_channel_per_stream_and_cascades,
    data_keys_are_kept_per_version_and_go_with_their_stream,
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
                let url = if IN_MEMORY.try_with(|m| *m).unwrap_or(false) {
                    "sqlite::memory:".to_owned()
                } else {
                    format!("sqlite://{}", dir.path().join("index.db").display())
                };
                Self { index: openkvs::archive::open_index(&url).await.unwrap(), _dir: dir, pg: None }
            }
            Backend::Postgres | Backend::PostgresS3 => {
                let (admin, name, url) = common::fresh_postgres_db().await;
                Self {
                    index: openkvs::archive::open_index(&url).await.unwrap(),
                    _dir: dir,
                    pg: Some((admin, name)),
                }
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
        data_key: None,
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
        |p: &openkvs::archive::StreamPage| p.streams.iter().map(|s| s.name.to_string()).collect::<Vec<_>>();
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

async fn media_type_is_filled_only_when_unset(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bare = ctx
        .index
        .create_stream(NewStream { media_type: None, ..new_stream("us-east-1", "bare", 1) })
        .await
        .unwrap();
    assert_eq!(bare.media_type, None);
    assert!(ctx.index.fill_media_type(bare.id, "video/h264,audio/aac").await.unwrap());
    let filled = ctx.index.stream_by_id(bare.id).await.unwrap();
    assert_eq!(filled.media_type.as_deref(), Some("video/h264,audio/aac"));
    assert_eq!(filled.version, bare.version, "filling MediaType is not an UpdateStream");
    assert!(!ctx.index.fill_media_type(bare.id, "video/h265").await.unwrap(), "only when unset");
    let given = ctx.index.create_stream(new_stream("us-east-1", "given", 2)).await.unwrap();
    assert!(!ctx.index.fill_media_type(given.id, "video/h265").await.unwrap());
    assert_eq!(ctx.index.stream_by_id(given.id).await.unwrap().media_type.as_deref(), Some("video/h264"));
    assert!(matches!(
        ctx.index.fill_media_type(given.id + 1000, "video/h264").await,
        Err(IndexError::NotFound)
    ));
    ctx.done().await;
}

async fn channels_are_counted_in_every_region(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    assert_eq!(ctx.index.channel_count().await.unwrap(), 0);
    ctx.index.create_stream(new_stream("us-east-1", "door", 1)).await.unwrap();
    assert_eq!(ctx.index.channel_count().await.unwrap(), 0, "streams are not channels");
    let a = ctx.index.create_channel(new_channel("us-east-1", "door", 1)).await.unwrap();
    ctx.index.create_channel(new_channel("eu-west-1", "door", 2)).await.unwrap();
    assert_eq!(ctx.index.channel_count().await.unwrap(), 2);
    ctx.index.delete_channel(a.id, None).await.unwrap();
    assert_eq!(ctx.index.channel_count().await.unwrap(), 1);
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
    ctx.index.untag_stream(s.id, &[]).await.unwrap();
    assert_eq!(ctx.index.stream_tags(s.id).await.unwrap().len(), 49, "untagging nothing changes nothing");
    ctx.index.delete_stream(s.id, None).await.unwrap();
    assert!(matches!(ctx.index.tag_stream(s.id, &overwrite).await, Err(IndexError::NotFound)));
    ctx.done().await;
}

/// Two in-memory indexes are two databases.
#[tokio::test]
async fn in_memory_indexes_are_separate() {
    let a = openkvs::archive::open_index("sqlite::memory:").await.unwrap();
    let b = openkvs::archive::open_index("sqlite::memory:").await.unwrap();
    let s = a.create_stream(new_stream("us-east-1", "cam", 1)).await.unwrap();
    assert_eq!(a.stream_ids().await.unwrap(), vec![s.id]);
    assert!(b.stream_ids().await.unwrap().is_empty());
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
        location: FragmentLocation {
            segment: 1,
            offset: (i * 100) as u64,
            length: 100 + i as u64,
            tier: if i % 3 == 0 { StorageTier::Warm } else { StorageTier::Hot },
        },
        key_version: (i % 2) as u32,
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
    assert_eq!(ctx.index.insert_fragments(&rows).await.unwrap(), vec![RowCommit::Inserted; 10]);
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
    assert_eq!(
        ctx.index.insert_fragments(&mixed).await.unwrap(),
        vec![RowCommit::Inserted, RowCommit::StreamGone]
    );
    assert!(matches!(ctx.index.put_track_header(other.id, "dd", b"h", 0).await, Err(IndexError::NotFound)));

    // A resent fragment (same producer timestamp, new number) is not stored again: the commit
    // names the existing fragment, also when both copies are in one batch.
    let resent = FragmentRecord { number: FragmentNumber::from_ordinal(9_000), ..rows[3].clone() };
    assert_eq!(
        ctx.index.insert_fragments(std::slice::from_ref(&resent)).await.unwrap(),
        vec![RowCommit::Duplicate(rows[3].number.clone())]
    );
    let fresh = fragment(s.id, h2, 11);
    let again = FragmentRecord { number: FragmentNumber::from_ordinal(9_001), ..fresh.clone() };
    assert_eq!(
        ctx.index.insert_fragments(&[fresh.clone(), again]).await.unwrap(),
        vec![RowCommit::Inserted, RowCommit::Duplicate(fresh.number.clone())]
    );
    assert_eq!(ctx.index.fragments_after(s.id, None, 100).await.unwrap().len(), 12, "each stored once");

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
        |p: &openkvs::archive::ChannelPage| p.channels.iter().map(|c| c.name.to_string()).collect::<Vec<_>>();
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

async fn streams_by_id_and_all_ids(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let a = ctx.index.create_stream(new_stream("us-east-1", "a", 1)).await.unwrap();
    let b = ctx.index.create_stream(new_stream("eu-west-1", "b", 2)).await.unwrap();
    assert_eq!(ctx.index.stream_by_id(b.id).await.unwrap(), b);
    assert_eq!(ctx.index.stream_ids().await.unwrap(), vec![a.id, b.id], "every region, ascending");
    ctx.index.delete_stream(a.id, None).await.unwrap();
    assert!(matches!(ctx.index.stream_by_id(a.id).await, Err(IndexError::NotFound)));
    assert_eq!(ctx.index.stream_ids().await.unwrap(), vec![b.id]);
    ctx.done().await;
}

fn image_config(uri: &str, quality: Option<u8>, width: Option<u32>) -> ImageGenerationConfig {
    ImageGenerationConfig {
        status: ConfigurationStatus::Enabled,
        selector: ImageSelectorType::ProducerTimestamp,
        destination_uri: DestinationUri::parse_member(uri, "uri").unwrap(),
        destination_region: region("us-east-1"),
        sampling_interval_ms: 2000,
        format: ImageFormat::Jpeg,
        jpeg_quality: quality,
        width,
        height: None,
    }
}

async fn image_generation_configs_set_replace_delete_and_cascade(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let s = ctx.index.create_stream(new_stream("us-east-1", "cam", 1)).await.unwrap();
    let other = ctx.index.create_stream(new_stream("us-east-1", "other", 2)).await.unwrap();
    assert_eq!(ctx.index.image_generation_config(s.id).await.unwrap(), None);
    let first = image_config("s3://bucket/cam", Some(90), Some(640));
    ctx.index.set_image_generation_config(s.id, Some(&first), 10).await.unwrap();
    assert_eq!(
        ctx.index.image_generation_config(s.id).await.unwrap(),
        Some(first),
        "round trip of every column"
    );
    let second = ImageGenerationConfig {
        status: ConfigurationStatus::Disabled,
        selector: ImageSelectorType::ServerTimestamp,
        format: ImageFormat::Png,
        height: Some(2160),
        ..image_config("s3://other-bucket", None, None)
    };
    ctx.index.set_image_generation_config(s.id, Some(&second), 20).await.unwrap();
    assert_eq!(ctx.index.image_generation_config(s.id).await.unwrap(), Some(second.clone()), "replaced");
    assert_eq!(ctx.index.image_generation_config(other.id).await.unwrap(), None, "per stream");

    ctx.index.set_image_generation_config(s.id, None, 30).await.unwrap();
    assert_eq!(ctx.index.image_generation_config(s.id).await.unwrap(), None, "deleted");
    ctx.index.set_image_generation_config(s.id, None, 40).await.unwrap();

    // A deleted stream takes its configuration along; setting or deleting one is then NotFound.
    ctx.index.set_image_generation_config(other.id, Some(&second), 50).await.unwrap();
    ctx.index.delete_stream(other.id, None).await.unwrap();
    assert_eq!(ctx.index.image_generation_config(other.id).await.unwrap(), None);
    assert!(matches!(
        ctx.index.set_image_generation_config(other.id, Some(&second), 60).await,
        Err(IndexError::NotFound)
    ));
    assert!(matches!(
        ctx.index.set_image_generation_config(other.id, None, 60).await,
        Err(IndexError::NotFound)
    ));
    ctx.done().await;
}

async fn notification_configs_set_replace_delete_and_cascade(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let s = ctx.index.create_stream(new_stream("us-east-1", "cam", 1)).await.unwrap();
    let other = ctx.index.create_stream(new_stream("us-east-1", "other", 2)).await.unwrap();
    assert_eq!(ctx.index.notification_config(s.id).await.unwrap(), None);
    let webhook = NotificationConfig {
        status: ConfigurationStatus::Enabled,
        destination_uri: DestinationUri::parse_member("https://hooks.example.com/kvs?x=1", "uri").unwrap(),
    };
    ctx.index.set_notification_config(s.id, Some(&webhook), 10).await.unwrap();
    assert_eq!(ctx.index.notification_config(s.id).await.unwrap(), Some(webhook));
    let sns = NotificationConfig {
        status: ConfigurationStatus::Disabled,
        destination_uri: DestinationUri::parse_member("arn:aws:sns:us-east-1:123456789012:t", "uri").unwrap(),
    };
    ctx.index.set_notification_config(s.id, Some(&sns), 20).await.unwrap();
    assert_eq!(ctx.index.notification_config(s.id).await.unwrap(), Some(sns.clone()), "replaced");
    assert_eq!(ctx.index.notification_config(other.id).await.unwrap(), None, "per stream");
    ctx.index.set_notification_config(s.id, None, 30).await.unwrap();
    assert_eq!(ctx.index.notification_config(s.id).await.unwrap(), None, "deleted");

    ctx.index.set_notification_config(other.id, Some(&sns), 40).await.unwrap();
    ctx.index.delete_stream(other.id, None).await.unwrap();
    assert_eq!(ctx.index.notification_config(other.id).await.unwrap(), None);
    assert!(matches!(
        ctx.index.set_notification_config(other.id, Some(&sns), 50).await,
        Err(IndexError::NotFound)
    ));
    assert!(matches!(ctx.index.set_notification_config(other.id, None, 50).await, Err(IndexError::NotFound)));
    ctx.done().await;
}

async fn worker_cursors_only_move_forward(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let s = ctx.index.create_stream(new_stream("us-east-1", "cam", 1)).await.unwrap();
    let t = ctx.index.create_stream(new_stream("us-east-1", "other", 2)).await.unwrap();
    let n = FragmentNumber::from_ordinal;
    assert_eq!(ctx.index.worker_cursor("motion", s.id).await.unwrap(), None);
    assert!(ctx.index.worker_cursors("motion").await.unwrap().is_empty());

    ctx.index.set_worker_cursor("motion", s.id, &n(5), 100).await.unwrap();
    ctx.index.set_worker_cursor("motion", s.id, &n(7), 200).await.unwrap();
    assert_eq!(ctx.index.worker_cursor("motion", s.id).await.unwrap(), Some(n(7)));
    // Backwards and equal moves change nothing (not even the time).
    ctx.index.set_worker_cursor("motion", s.id, &n(6), 300).await.unwrap();
    ctx.index.set_worker_cursor("motion", s.id, &n(7), 400).await.unwrap();
    assert_eq!(ctx.index.worker_cursor("motion", s.id).await.unwrap(), Some(n(7)));
    // Numeric, not text, order across lengths: 999 < 1000 although "999" > "1000".
    let short = |v: &str| FragmentNumber::parse(v).unwrap();
    ctx.index.set_worker_cursor("lengths", s.id, &short("999"), 1).await.unwrap();
    ctx.index.set_worker_cursor("lengths", s.id, &short("1000"), 2).await.unwrap();
    ctx.index.set_worker_cursor("lengths", s.id, &short("999"), 3).await.unwrap();
    assert_eq!(ctx.index.worker_cursor("lengths", s.id).await.unwrap(), Some(short("1000")));

    // Cursors are per worker and per stream.
    ctx.index.set_worker_cursor("motion", t.id, &n(1), 500).await.unwrap();
    ctx.index.set_worker_cursor("images", s.id, &n(2), 600).await.unwrap();
    let cursors = ctx.index.worker_cursors("motion").await.unwrap();
    assert_eq!(
        cursors.iter().map(|c| (c.stream_id, c.fragment_number.clone(), c.updated_at_ms)).collect::<Vec<_>>(),
        vec![(s.id, n(7), 200), (t.id, n(1), 500)]
    );
    assert_eq!(ctx.index.worker_cursor("images", s.id).await.unwrap(), Some(n(2)));

    // Lag needs the newest fragment: `latest_fragments` from the beginning of time, limit 1.
    let h = ctx.index.put_track_header(s.id, "aa", b"h", 0).await.unwrap();
    let rows: Vec<FragmentRecord> = (0..3).map(|i| fragment(s.id, h, i)).collect();
    ctx.index.insert_fragments(&rows).await.unwrap();
    let newest = ctx.index.latest_fragments(s.id, TimestampKind::Server, i64::MIN, 1).await.unwrap();
    assert_eq!(newest, vec![rows[2].clone()]);

    // A deleted stream's cursors go with it; setting one is then NotFound.
    ctx.index.delete_stream(t.id, None).await.unwrap();
    assert_eq!(ctx.index.worker_cursors("motion").await.unwrap().len(), 1);
    assert_eq!(ctx.index.worker_cursor("motion", t.id).await.unwrap(), None);
    assert!(matches!(
        ctx.index.set_worker_cursor("motion", t.id, &n(9), 700).await,
        Err(IndexError::NotFound)
    ));
    ctx.done().await;
}

fn event(stream_id: i64, kind: &str, producer_ts_ms: i64, i: i64) -> NewAnalyzerEvent {
    NewAnalyzerEvent {
        stream_id,
        worker: "motion".into(),
        kind: kind.into(),
        fragment_number: (i % 2 == 0).then(|| FragmentNumber::from_ordinal(i as u128)),
        producer_ts_ms,
        server_ts_ms: producer_ts_ms + 5,
        end_ts_ms: (kind == AnalyzerEvent::MOTION_END).then_some(producer_ts_ms + 1500),
        score: (i % 3 != 0).then_some(i as f64 / 8.0),
        detail: serde_json::json!({ "i": i, "boxes": [[1, 2, 3, 4]], "label": "é" }),
    }
}

async fn analyzer_events_insert_page_filter_and_cascade(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let s = ctx.index.create_stream(new_stream("us-east-1", "cam", 1)).await.unwrap();
    let gone = ctx.index.create_stream(new_stream("us-east-1", "gone", 2)).await.unwrap();
    ctx.index.delete_stream(gone.id, None).await.unwrap();

    // Pairs of events share a millisecond; ids break the tie. Inserted out of time order.
    let kinds = [AnalyzerEvent::MOTION_START, AnalyzerEvent::MOTION_END];
    let mut batch: Vec<NewAnalyzerEvent> =
        (0..10).rev().map(|i| event(s.id, kinds[(i % 2) as usize], 1_000 + (i / 2) * 100, i)).collect();
    batch.insert(3, event(gone.id, AnalyzerEvent::IMAGE, 1_000, 99));
    let ids = ctx.index.insert_analyzer_events(&batch, 7_000).await.unwrap();
    assert_eq!(ids.len(), 11);
    assert_eq!(ids[3], None, "the deleted stream's event is skipped");
    assert!(ids.iter().enumerate().all(|(i, id)| (i == 3) == id.is_none()), "{ids:?}");
    assert!(ctx.index.insert_analyzer_events(&[], 7_000).await.unwrap().is_empty());

    let all = ctx.index.analyzer_events(s.id, 0, i64::MAX, None, None, 100).await.unwrap();
    assert_eq!(all.len(), 10);
    let keys: Vec<(i64, i64)> = all.iter().map(|e| (e.producer_ts_ms, e.id)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "ordered by (producer_ts_ms, id)");
    // Round trip of every column.
    let e9 = all.iter().find(|e| e.detail["i"] == 9).unwrap();
    let sent = &batch[0];
    assert_eq!(
        (e9.stream_id, &e9.worker, &e9.kind, &e9.fragment_number, e9.producer_ts_ms, e9.server_ts_ms),
        (
            sent.stream_id,
            &sent.worker,
            &sent.kind,
            &sent.fragment_number,
            sent.producer_ts_ms,
            sent.server_ts_ms
        )
    );
    assert_eq!(
        (e9.end_ts_ms, e9.score, &e9.detail, e9.created_at_ms),
        (Some(2_900), None, &sent.detail, 7_000)
    );
    let e4 = all.iter().find(|e| e.detail["i"] == 4).unwrap();
    assert_eq!(
        (e4.fragment_number.clone(), e4.score, e4.end_ts_ms),
        (Some(FragmentNumber::from_ordinal(4)), Some(0.5), None)
    );

    // Keyset pages of 3 cross the shared milliseconds without losing or repeating an event.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = ctx.index.analyzer_events(s.id, 0, i64::MAX, None, after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|e| (e.producer_ts_ms, e.id));
        paged.extend(page);
    }
    assert_eq!(paged, all);

    // Inclusive time range and kind filter.
    let range = ctx.index.analyzer_events(s.id, 1_100, 1_300, None, None, 100).await.unwrap();
    assert_eq!(range.iter().map(|e| e.detail["i"].as_i64().unwrap()).collect::<Vec<_>>().len(), 6);
    assert!(range.iter().all(|e| (1_100..=1_300).contains(&e.producer_ts_ms)));
    let ends = ctx
        .index
        .analyzer_events(s.id, 0, i64::MAX, Some(AnalyzerEvent::MOTION_END), None, 100)
        .await
        .unwrap();
    assert_eq!(ends.len(), 5);
    assert!(ends.iter().all(|e| e.kind == AnalyzerEvent::MOTION_END));
    assert!(ctx.index.analyzer_events(s.id, 0, i64::MAX, Some("image"), None, 100).await.unwrap().is_empty());
    assert!(ctx.index.analyzer_events(gone.id, 0, i64::MAX, None, None, 100).await.unwrap().is_empty());

    // A deleted stream takes its events along.
    ctx.index.delete_stream(s.id, None).await.unwrap();
    assert!(ctx.index.analyzer_events(s.id, 0, i64::MAX, None, None, 100).await.unwrap().is_empty());
    ctx.done().await;
}

async fn retention_deletes_by_server_time_and_tracks_segments(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    ctx.index.ping().await.unwrap();
    let s = ctx.index.create_stream(new_stream("us-east-1", "cam", 1)).await.unwrap();
    let other = ctx.index.create_stream(new_stream("us-east-1", "other", 2)).await.unwrap();
    let h = ctx.index.put_track_header(s.id, "aa", b"header", 10).await.unwrap();
    let ho = ctx.index.put_track_header(other.id, "aa", b"header", 10).await.unwrap();
    assert_eq!(ctx.index.lowest_referenced_segment(s.id).await.unwrap(), None);
    // Fragments i = 0..10 at server time 5_000_000 + 2000 i, in segments 1 (i < 4), 2 (i < 8), 3.
    let rows: Vec<FragmentRecord> = (0..10)
        .map(|i| {
            let mut f = fragment(s.id, h, i);
            f.location.segment = 1 + i / 4;
            f
        })
        .collect();
    ctx.index.insert_fragments(&rows).await.unwrap();
    ctx.index.insert_fragments(&[fragment(other.id, ho, 0)]).await.unwrap();
    assert_eq!(ctx.index.lowest_referenced_segment(s.id).await.unwrap(), Some(1));
    // Before fragment 5's server time, two at a time: 0..5 go, oldest first.
    let cutoff = 5_000_000 + 5 * 2000;
    assert_eq!(ctx.index.delete_fragments_before(s.id, cutoff, 2).await.unwrap(), 2);
    assert_eq!(ctx.index.lowest_referenced_segment(s.id).await.unwrap(), Some(1));
    assert_eq!(ctx.index.delete_fragments_before(s.id, cutoff, 2).await.unwrap(), 2);
    assert_eq!(ctx.index.lowest_referenced_segment(s.id).await.unwrap(), Some(2));
    assert_eq!(ctx.index.delete_fragments_before(s.id, cutoff, 2).await.unwrap(), 1);
    assert_eq!(ctx.index.delete_fragments_before(s.id, cutoff, 2).await.unwrap(), 0);
    let left = ctx.index.fragments_after(s.id, None, 100).await.unwrap();
    assert_eq!(
        left.iter().map(|f| f.number.clone()).collect::<Vec<_>>(),
        rows[5..].iter().map(|f| f.number.clone()).collect::<Vec<_>>()
    );
    assert_eq!(
        ctx.index.fragments_after(other.id, None, 100).await.unwrap().len(),
        1,
        "other streams untouched"
    );
    assert_eq!(ctx.index.delete_fragments_before(s.id, i64::MAX, 100).await.unwrap(), 5);
    assert_eq!(ctx.index.lowest_referenced_segment(s.id).await.unwrap(), None);
    // DeleteStream leaves a tombstone, once; a failed delete does not.
    assert!(ctx.index.deleted_stream_ids().await.unwrap().is_empty());
    let wrong = Some(VersionToken::generate());
    if let Some(wrong) = wrong.as_ref() {
        assert!(ctx.index.delete_stream(other.id, Some(wrong)).await.is_err());
        assert!(ctx.index.deleted_stream_ids().await.unwrap().is_empty());
    }
    ctx.index.delete_stream(other.id, None).await.unwrap();
    ctx.index.delete_stream(s.id, None).await.unwrap();
    assert_eq!(ctx.index.deleted_stream_ids().await.unwrap(), vec![s.id.min(other.id), s.id.max(other.id)]);
    ctx.index.close().await;
    assert!(ctx.index.ping().await.is_err(), "closed");
    ctx.done().await;
}

async fn media_storage_maps_one_channel_per_stream_and_cascades(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let s = ctx.index.create_stream(new_stream("us-east-1", "cam", 1)).await.unwrap();
    let door = ctx.index.create_channel(new_channel("us-east-1", "door", 2)).await.unwrap();
    let gate = ctx.index.create_channel(new_channel("us-east-1", "gate", 3)).await.unwrap();
    assert_eq!(ctx.index.media_storage_of_channel(door.id).await.unwrap(), None);
    assert_eq!(ctx.index.channel_mapped_to_stream(s.id).await.unwrap(), None);

    ctx.index.set_media_storage(door.id, Some(s.id), ConfigurationStatus::Enabled, 10).await.unwrap();
    assert_eq!(
        ctx.index.media_storage_of_channel(door.id).await.unwrap(),
        Some(MediaStorage {
            stream_id: Some(s.id),
            stream_arn: Some(s.arn.to_string()),
            status: ConfigurationStatus::Enabled
        })
    );
    assert_eq!(ctx.index.channel_mapped_to_stream(s.id).await.unwrap(), Some(door.arn.to_string()));
    match ctx.index.set_media_storage(gate.id, Some(s.id), ConfigurationStatus::Enabled, 20).await {
        Err(IndexError::Conflict { constraint }) => assert_eq!(constraint, MEDIA_STORAGE_STREAM_CONSTRAINT),
        other => panic!("a second channel mapping the stream: {other:?}"),
    }
    // Replaced in place: disabled without a stream frees the stream for another channel.
    ctx.index.set_media_storage(door.id, None, ConfigurationStatus::Disabled, 30).await.unwrap();
    assert_eq!(
        ctx.index.media_storage_of_channel(door.id).await.unwrap(),
        Some(MediaStorage { stream_id: None, stream_arn: None, status: ConfigurationStatus::Disabled })
    );
    ctx.index.set_media_storage(gate.id, Some(s.id), ConfigurationStatus::Enabled, 40).await.unwrap();
    assert_eq!(ctx.index.channel_mapped_to_stream(s.id).await.unwrap(), Some(gate.arn.to_string()));

    // Deleting the stream or the channel removes the configuration; writes naming them are NotFound.
    ctx.index.delete_stream(s.id, None).await.unwrap();
    assert_eq!(ctx.index.media_storage_of_channel(gate.id).await.unwrap(), None);
    assert!(matches!(
        ctx.index.set_media_storage(gate.id, Some(s.id), ConfigurationStatus::Enabled, 50).await,
        Err(IndexError::NotFound)
    ));
    ctx.index.delete_channel(door.id, None).await.unwrap();
    assert_eq!(ctx.index.media_storage_of_channel(door.id).await.unwrap(), None);
    assert!(matches!(
        ctx.index.set_media_storage(door.id, None, ConfigurationStatus::Disabled, 60).await,
        Err(IndexError::NotFound)
    ));
    ctx.done().await;
}

async fn data_keys_are_kept_per_version_and_go_with_their_stream(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    // Created with the stream, in its transaction, as version 1.
    let first = NewDataKey { master_key_id: "cams".into(), wrapped: vec![1; 60] };
    let new =
        NewStream { data_key: Some(first.clone()), ..new_stream("us-east-1", "cam", 1_700_000_000_000) };
    let s = ctx.index.create_stream(new).await.unwrap();
    let stored = ctx.index.current_data_key(s.id).await.unwrap().unwrap();
    assert_eq!(
        stored,
        WrappedDataKey {
            stream_id: s.id,
            version: 1,
            master_key_id: "cams".into(),
            wrapped: vec![1; 60],
            created_at_ms: 1_700_000_000_000
        }
    );
    // A stream created without one gets it at its first write; the first insert wins.
    let bare = ctx.index.create_stream(new_stream("us-east-1", "bare", 2)).await.unwrap();
    assert_eq!(ctx.index.current_data_key(bare.id).await.unwrap(), None);
    let mine = WrappedDataKey {
        stream_id: bare.id,
        version: 1,
        master_key_id: "default".into(),
        wrapped: vec![2; 60],
        created_at_ms: 5,
    };
    assert!(ctx.index.insert_data_key(&mine).await.unwrap());
    let theirs = WrappedDataKey { wrapped: vec![3; 60], ..mine.clone() };
    assert!(!ctx.index.insert_data_key(&theirs).await.unwrap(), "the version exists");
    assert_eq!(ctx.index.data_key(bare.id, 1).await.unwrap(), Some(mine.clone()));
    // Versions: the current one is the highest; older ones stay readable.
    let v2 = WrappedDataKey { version: 2, wrapped: vec![4; 60], ..mine.clone() };
    assert!(ctx.index.insert_data_key(&v2).await.unwrap());
    assert_eq!(ctx.index.current_data_key(bare.id).await.unwrap(), Some(v2.clone()));
    assert_eq!(ctx.index.data_key(bare.id, 1).await.unwrap(), Some(mine.clone()));
    assert_eq!(ctx.index.data_key(bare.id, 3).await.unwrap(), None);
    assert_eq!(
        ctx.index.data_keys_per_master_key().await.unwrap(),
        vec![("cams".to_owned(), 1), ("default".to_owned(), 2)]
    );
    // Deleting the stream deletes its keys; a key for a gone stream is refused.
    ctx.index.delete_stream(bare.id, None).await.unwrap();
    assert_eq!(ctx.index.data_key(bare.id, 1).await.unwrap(), None);
    assert!(matches!(ctx.index.insert_data_key(&mine).await, Err(IndexError::NotFound)));
    assert_eq!(ctx.index.data_keys_per_master_key().await.unwrap(), vec![("cams".to_owned(), 1)]);
    ctx.done().await;
}
