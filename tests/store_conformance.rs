//! The `FragmentStore` contract (src/archive/store/mod.rs) on every store: the local segment
//! directory, and an S3-compatible bucket when `TEST_S3_ENDPOINT` is set (a fresh prefix per test).
//! Append + sync + ranged reads, numbering that never reuses a segment, startup reconciliation
//! (bytes past the index's high water go, unindexed streams are reported and kept), reclaim below a
//! bound, stream deletion, the stream listing and the readiness probe.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use openkvs::archive::{
    DEFAULT_SEGMENT_BYTES, FragmentBytes, FragmentStore, HighWater, LocalStore, S3Config, S3Store, StoreError,
};
use openkvs::model::StorageTier;

/// Where one test's store lives; `open` gives a new handle on the same bytes (as a restart would).
enum Place {
    Local(tempfile::TempDir),
    S3(Box<S3Config>),
}

impl Place {
    async fn new(s3: bool) -> Option<Self> {
        if !s3 {
            return Some(Place::Local(tempfile::tempdir().unwrap()));
        }
        let endpoint = common::s3_endpoint()?;
        let mut config = openkvs::app::Config::default();
        common::use_s3_store(&mut config).await;
        assert_eq!(config.store.s3.endpoint.as_deref(), Some(endpoint.as_str()));
        Some(Place::S3(Box::new(config.store.s3)))
    }

    fn open(&self) -> Arc<dyn FragmentStore> {
        match self {
            Place::Local(dir) => Arc::new(
                LocalStore::open(&dir.path().join("hot"), &dir.path().join("warm"), DEFAULT_SEGMENT_BYTES)
                    .unwrap(),
            ),
            Place::S3(config) => Arc::new(S3Store::open(config).unwrap()),
        }
    }
}

fn b(s: &'static str) -> Vec<Bytes> {
    vec![Bytes::from_static(s.as_bytes())]
}

/// A fragment of `stream` for the HOT tier.
fn hot(stream_id: i64, parts: Vec<Bytes>) -> FragmentBytes {
    FragmentBytes { stream_id, tier: StorageTier::Hot, parts }
}

/// A fragment of `stream` for the WARM tier.
fn warm(stream_id: i64, parts: Vec<Bytes>) -> FragmentBytes {
    FragmentBytes { stream_id, tier: StorageTier::Warm, parts }
}

macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Place::new(false).await.unwrap()).await
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(place) = super::Place::new(true).await else {
                        eprintln!("TEST_S3_ENDPOINT unset: S3 variant not run");
                        return;
                    };
                    super::$name(place).await
                }
            )*
        }
    };
}

on_every_store!(
    appends_read_back_by_range,
    reconcile_drops_what_the_index_does_not_reference,
    reclaim_and_delete_remove_bytes_and_keep_numbers,
    tiers_are_kept_apart_and_share_the_numbering
);

async fn appends_read_back_by_range(place: Place) {
    let store = place.open();
    store.check_writable().await.unwrap();
    let first = store
        .append(vec![
            hot(1, vec![Bytes::from_static(b"hello"), Bytes::from_static(b" world")]),
            hot(2, b("other stream")),
            hot(1, b("second")),
        ])
        .await;
    let [a, c, d] = [&first[0], &first[1], &first[2]].map(|r| *r.as_ref().unwrap());
    store.sync(vec![1, 2]).await.unwrap();
    assert_eq!(d.offset, a.offset + a.length, "a stream's fragments of one batch are back to back");
    assert_eq!(&store.read(1, a).await.unwrap()[..], b"hello world");
    assert_eq!(&store.read(1, d).await.unwrap()[..], b"second");
    assert_eq!(&store.read(2, c).await.unwrap()[..], b"other stream");
    let next = store.append(vec![hot(1, b("next batch"))]).await.remove(0).unwrap();
    store.sync(vec![1]).await.unwrap();
    assert!(next.segment >= a.segment);
    assert_eq!(&store.read(1, next).await.unwrap()[..], b"next batch");
    let mut missing = next;
    missing.segment += 100;
    assert!(matches!(store.read(1, missing).await, Err(StoreError::NotFound)));
    assert_eq!(store.stream_ids().await.unwrap(), vec![1, 2]);
    assert!(store.bytes_stored() >= 11 + 6 + 12 + 10);
    // Another handle (a restart) reads the same bytes.
    assert_eq!(&place.open().read(1, a).await.unwrap()[..], b"hello world");
}

async fn reconcile_drops_what_the_index_does_not_reference(place: Place) {
    let store = place.open();
    let a = store.append(vec![hot(7, b("indexed one"))]).await.remove(0).unwrap();
    store.sync(vec![7]).await.unwrap();
    let b2 = store.append(vec![hot(7, b("indexed two"))]).await.remove(0).unwrap();
    store.sync(vec![7]).await.unwrap();
    // Written (and for S3: PUT) but the process died before the rows committed.
    let lost = store.append(vec![hot(7, b("never committed"))]).await.remove(0).unwrap();
    store.sync(vec![7]).await.unwrap();
    let orphan = store.append(vec![hot(8, b("stream without rows"))]).await.remove(0).unwrap();
    store.sync(vec![8]).await.unwrap();
    drop(store);

    let store = place.open();
    let high = HighWater { segment: b2.segment, end: b2.offset + b2.length };
    let report = store.reconcile(HashMap::from([(7, high)])).await.unwrap();
    assert_eq!(report.bytes_dropped, lost.length);
    assert_eq!(report.unindexed_streams, vec![8]);
    assert!(report.short_segments.is_empty(), "{report:?}");
    assert_eq!(&store.read(7, a).await.unwrap()[..], b"indexed one");
    assert_eq!(&store.read(7, b2).await.unwrap()[..], b"indexed two");
    assert!(matches!(store.read(7, lost).await, Err(StoreError::NotFound)));
    assert_eq!(&store.read(8, orphan).await.unwrap()[..], b"stream without rows", "kept, not deleted");
    // New bytes never land in (or overwrite) anything that existed before.
    let after = store.append(vec![hot(7, b("after restart")), hot(8, b("more"))]).await;
    store.sync(vec![7, 8]).await.unwrap();
    let (after7, after8) = (after[0].as_ref().unwrap(), after[1].as_ref().unwrap());
    assert!(after7.segment > b2.segment);
    assert!(after8.segment > orphan.segment);
    assert_eq!(&store.read(8, orphan).await.unwrap()[..], b"stream without rows");
    assert_eq!(&store.read(7, *after7).await.unwrap()[..], b"after restart");
    // Idempotent.
    let again = place.open();
    let high = HighWater { segment: after7.segment, end: after7.offset + after7.length };
    let report = again.reconcile(HashMap::from([(7, high)])).await.unwrap();
    assert_eq!((report.bytes_dropped, report.removed_segments, report.truncated_segments), (0, 0, 0));
}

async fn reclaim_and_delete_remove_bytes_and_keep_numbers(place: Place) {
    let store = place.open();
    let mut locs = Vec::new();
    for text in ["one", "two", "three"] {
        locs.push(store.append(vec![hot(3, b(text))]).await.remove(0).unwrap());
        store.sync(vec![3]).await.unwrap();
    }
    // Reclaim everything below the newest fragment's segment (the local store has one segment, so
    // nothing is below it there; S3 has one object per batch).
    let newest = locs[2].segment;
    let reclaimed = store.remove_segments_below(3, Some(newest)).await.unwrap();
    for loc in &locs {
        let read = store.read(3, *loc).await;
        if loc.segment < newest {
            assert!(matches!(read, Err(StoreError::NotFound)));
        } else {
            assert!(read.is_ok());
        }
    }
    assert_eq!(reclaimed.segments as usize, locs.iter().filter(|l| l.segment < newest).count());
    // All of it: the next append gets a number after every removed one.
    store.remove_segments_below(3, None).await.unwrap();
    assert!(matches!(store.read(3, locs[2]).await, Err(StoreError::NotFound)));
    let fresh = store.append(vec![hot(3, b("fresh"))]).await.remove(0).unwrap();
    store.sync(vec![3]).await.unwrap();
    assert!(fresh.segment > newest, "a removed segment's number is not reused");
    // Deletion: bytes gone, listing empty, later appends refused.
    store.delete_stream(3).await.unwrap();
    assert!(matches!(store.read(3, fresh).await, Err(StoreError::NotFound)));
    assert!(!store.stream_ids().await.unwrap().contains(&3));
    assert!(store.append(vec![hot(3, b("late"))]).await.remove(0).is_err());
}

/// A stream whose tier changes: its WARM fragments go to a segment of their own, numbered after
/// the HOT one and read back from the WARM place; a HOT location of a WARM segment finds nothing;
/// reconciliation, reclaim, listing and deletion cover both tiers.
async fn tiers_are_kept_apart_and_share_the_numbering(place: Place) {
    let store = place.open();
    let batch = store.append(vec![hot(4, b("hot")), warm(4, b("warm one")), warm(4, b("warm two"))]).await;
    store.sync(vec![4]).await.unwrap();
    let [h, w1, w2] = [&batch[0], &batch[1], &batch[2]].map(|r| *r.as_ref().unwrap());
    assert_eq!((h.tier, w1.tier, w2.tier), (StorageTier::Hot, StorageTier::Warm, StorageTier::Warm));
    assert_ne!(h.segment, w1.segment, "one segment per tier");
    assert_eq!((w2.segment, w2.offset), (w1.segment, w1.offset + w1.length));
    assert_eq!(&store.read(4, h).await.unwrap()[..], b"hot");
    assert_eq!(&store.read(4, w2).await.unwrap()[..], b"warm two");
    let mut misplaced = w1;
    misplaced.tier = StorageTier::Hot;
    assert!(matches!(store.read(4, misplaced).await, Err(StoreError::NotFound)));
    // A WARM object PUT (written) but never committed goes at the next start.
    let lost = store.append(vec![warm(4, b("never committed"))]).await.remove(0).unwrap();
    store.sync(vec![4]).await.unwrap();
    drop(store);
    let store = place.open();
    let high = HighWater { segment: w2.segment, end: w2.offset + w2.length };
    let report = store.reconcile(HashMap::from([(4, high)])).await.unwrap();
    assert_eq!(report.bytes_dropped, lost.length, "{report:?}");
    assert!(report.short_segments.is_empty(), "{report:?}");
    assert!(matches!(store.read(4, lost).await, Err(StoreError::NotFound)));
    assert_eq!(&store.read(4, w1).await.unwrap()[..], b"warm one");
    // Back to HOT: a new segment after every number either tier used.
    let again = store.append(vec![hot(4, b("hot again"))]).await.remove(0).unwrap();
    store.sync(vec![4]).await.unwrap();
    assert!(again.segment > lost.segment.max(w2.segment), "numbers are shared by the tiers");
    assert_eq!(store.stream_ids().await.unwrap(), vec![4]);
    let reclaimed = store.remove_segments_below(4, Some(again.segment)).await.unwrap();
    assert!(reclaimed.segments >= 2, "both tiers reclaimed: {reclaimed:?}");
    assert!(matches!(store.read(4, w1).await, Err(StoreError::NotFound)));
    assert_eq!(&store.read(4, again).await.unwrap()[..], b"hot again");
    store.delete_stream(4).await.unwrap();
    assert!(store.stream_ids().await.unwrap().is_empty());
}

/// A server that refuses the WARM storage class stops the store at startup (reconcile), naming
/// the setting — not at the first WARM fragment. SeaweedFS refuses unknown classes like S3 does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_warm_storage_class_stops_startup() {
    let Some(Place::S3(mut config)) = Place::new(true).await else {
        eprintln!("TEST_S3_ENDPOINT unset: S3 variant not run");
        return;
    };
    S3Store::open(&config).unwrap().reconcile(HashMap::new()).await.expect("STANDARD_IA is accepted");
    config.warm_storage_class = "NOT_A_CLASS".into();
    let err = S3Store::open(&config).unwrap().reconcile(HashMap::new()).await.unwrap_err();
    assert!(err.to_string().contains("store.s3.warm_storage_class"), "{err}");
    config.warm_storage_class = String::new();
    S3Store::open(&config).unwrap().reconcile(HashMap::new()).await.expect("no class at all");
}
