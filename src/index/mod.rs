//! The index: every query the server makes against its metadata database, behind one trait.
//!
//! [`Index`] has one method per query; [`sqlite::SqliteIndex`] (the embedded default) and
//! [`postgres::PostgresIndex`] (production) implement it with their own SQL and their own migration
//! folders (`migrations/sqlite`, `migrations/postgres`). A conformance suite in `tests/` runs the same
//! checks against both. This layer imports only `model` and its own error type: it knows nothing of
//! HTTP or AWS error codes (the API layer maps [`IndexError`] to them). Every method is one
//! transaction; none holds a transaction open across an await point of its caller.

pub mod media_storage;
pub mod postgres;
pub mod sqlite;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::model::{
    AnalyzerEvent, ChannelType, ConfigurationStatus, DataRetention, DestinationUri, FragmentLocation,
    FragmentNumber, FragmentRecord, ImageFormat, ImageGenerationConfig, ImageSelectorType, NewAnalyzerEvent,
    NotificationConfig, Region, ResourceArn, SignalingChannel, StorageTier, Stream, StreamName, StreamStatus,
    TagSet, VersionToken, WorkerCursor,
};

/// Why an index call failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The addressed row does not exist.
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated; `constraint` names it (e.g. `streams_region_name_key`).
    #[error("conflict on {constraint}")]
    Conflict {
        /// The violated constraint's name.
        constraint: String,
    },
    /// The caller's expected version token does not match the stored one.
    #[error("version mismatch")]
    VersionMismatch,
    /// The operation would leave a resource with more tags than allowed.
    #[error("tag limit exceeded")]
    TagLimitExceeded,
    /// Anything else (connection lost, corrupt row); the text is for logs only.
    #[error("index failure: {0}")]
    Other(String),
}

impl From<sqlx::Error> for IndexError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => IndexError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                IndexError::Conflict { constraint: db.constraint().unwrap_or("unique").to_owned() }
            }
            other => IndexError::Other(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for IndexError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        IndexError::Other(format!("migration failed: {e}"))
    }
}

/// The name of the unique constraint on (region, name); a violation means the stream exists.
pub const STREAM_NAME_CONSTRAINT: &str = "streams_region_name_key";

/// The unique constraint on a signaling channel's (region, name); a violation means the channel
/// exists.
pub const CHANNEL_NAME_CONSTRAINT: &str = "signaling_channels_region_name_key";

/// Which of a fragment's timestamps a query is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampKind {
    /// Arrival time at the server.
    Server,
    /// The producer's timestamp.
    Producer,
}

/// How far before a position [`Index::fragment_at`] looks for a fragment that still covers it
/// (longer than any fragment the ingest limits allow).
pub const LONGEST_FRAGMENT_MS: i64 = 120_000;

/// Everything needed to create a stream.
#[derive(Debug, Clone)]
pub struct NewStream {
    /// The ARN (carries region, name and creation time).
    pub arn: ResourceArn,
    /// Optional device name.
    pub device_name: Option<String>,
    /// Optional media type.
    pub media_type: Option<String>,
    /// Optional KMS key id.
    pub kms_key_id: Option<String>,
    /// Retention.
    pub retention: DataRetention,
    /// Storage tier.
    pub storage_tier: StorageTier,
    /// The first version token.
    pub version: VersionToken,
    /// Initial tags (may be empty).
    pub tags: TagSet,
}

/// Metadata changes applied by one update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct StreamChanges {
    /// New device name.
    pub device_name: Option<String>,
    /// New media type.
    pub media_type: Option<String>,
    /// New retention.
    pub retention: Option<DataRetention>,
    /// New storage tier.
    pub storage_tier: Option<StorageTier>,
}

/// One page of a name-ordered stream listing.
#[derive(Debug, Clone)]
pub struct StreamPage {
    /// Streams in name order.
    pub streams: Vec<Stream>,
    /// Whether more streams follow the last one.
    pub more: bool,
}

/// Everything needed to create a signaling channel (created ACTIVE).
#[derive(Debug, Clone)]
pub struct NewChannel {
    /// The ARN (carries region, name and creation time).
    pub arn: ResourceArn,
    /// Channel type.
    pub channel_type: ChannelType,
    /// `MessageTtlSeconds`, already validated.
    pub message_ttl_seconds: u32,
    /// The first version token.
    pub version: VersionToken,
    /// Initial tags (may be empty).
    pub tags: TagSet,
}

/// Channel changes applied by one update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ChannelChanges {
    /// New `MessageTtlSeconds`.
    pub message_ttl_seconds: Option<u32>,
}

/// One page of a name-ordered channel listing.
#[derive(Debug, Clone)]
pub struct ChannelPage {
    /// Channels in name order.
    pub channels: Vec<SignalingChannel>,
    /// Whether more channels follow the last one.
    pub more: bool,
}

/// The last byte the index references in a stream's newest referenced segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentEnd {
    /// The stream's index id.
    pub stream_id: i64,
    /// The highest segment number any of its rows references.
    pub segment: i64,
    /// `max(byte_offset + byte_length)` over the rows in that segment.
    pub end: u64,
}

/// The query behind [`Index::segment_high_water`] (the same text in both dialects).
pub(crate) const SEGMENT_HIGH_WATER_SQL: &str = "SELECT f.stream_id, f.segment, MAX(f.byte_offset + f.byte_length) \
     FROM fragments f \
     JOIN (SELECT stream_id, MAX(segment) AS seg FROM fragments GROUP BY stream_id) m \
       ON f.stream_id = m.stream_id AND f.segment = m.seg \
     GROUP BY f.stream_id, f.segment";

/// Converts the rows of [`SEGMENT_HIGH_WATER_SQL`].
pub(crate) fn segment_ends(rows: Vec<(i64, i64, i64)>) -> Vec<SegmentEnd> {
    rows.into_iter()
        .map(|(stream_id, segment, end)| SegmentEnd { stream_id, segment, end: end.max(0) as u64 })
        .collect()
}

/// Every metadata query the server makes.
#[async_trait]
pub trait Index: media_storage::MediaStorageConfigs + Send + Sync + Debug {
    /// A short name for logs: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Creates a stream with its tags; `Conflict { constraint: STREAM_NAME_CONSTRAINT }` when the
    /// name is taken in that region.
    async fn create_stream(&self, new: NewStream) -> Result<Stream, IndexError>;

    /// Looks a stream up by region and name.
    async fn stream_by_name(&self, region: &Region, name: &StreamName) -> Result<Stream, IndexError>;

    /// Looks a stream up by its exact ARN.
    async fn stream_by_arn(&self, arn: &ResourceArn) -> Result<Stream, IndexError>;

    /// Looks a stream up by its index id.
    async fn stream_by_id(&self, id: i64) -> Result<Stream, IndexError>;

    /// The index ids of every stream (all regions), ascending.
    async fn stream_ids(&self) -> Result<Vec<i64>, IndexError>;

    /// Streams of a region in name order, optionally only names starting with `prefix`, starting
    /// after the name `after`, at most `limit`.
    async fn list_streams(
        &self,
        region: &Region,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<StreamPage, IndexError>;

    /// Applies `changes` if the stored version equals `expected` (or `expected` is `None`), and
    /// stores `new_version`. `VersionMismatch` otherwise; `NotFound` if the stream is gone.
    async fn update_stream(
        &self,
        id: i64,
        expected: Option<&VersionToken>,
        changes: &StreamChanges,
        new_version: &VersionToken,
    ) -> Result<Stream, IndexError>;

    /// Sets the stream's MediaType when it has none (what the first PutMedia's tracks hold, see
    /// `ingest`), leaving its version unchanged; `Ok(false)` when it already had one.
    /// `NotFound` if the stream is gone.
    async fn fill_media_type(&self, id: i64, media_type: &str) -> Result<bool, IndexError>;

    /// Deletes the stream row and everything that references it, if the version matches, and
    /// records its id in the deleted-streams list ([`Index::deleted_stream_ids`]) in the same
    /// transaction.
    async fn delete_stream(&self, id: i64, expected: Option<&VersionToken>) -> Result<(), IndexError>;

    /// Adds or overwrites tags; `TagLimitExceeded` if the result would exceed [`TagSet::MAX`].
    async fn tag_stream(&self, id: i64, tags: &TagSet) -> Result<(), IndexError>;

    /// Removes the given tag keys (absent keys are ignored).
    async fn untag_stream(&self, id: i64, keys: &[String]) -> Result<(), IndexError>;

    /// All tags of a stream.
    async fn stream_tags(&self, id: i64) -> Result<TagSet, IndexError>;

    /// Creates a signaling channel with its tags; `Conflict { constraint: CHANNEL_NAME_CONSTRAINT }`
    /// when the name is taken in that region (channel and stream names are separate namespaces).
    async fn create_channel(&self, new: NewChannel) -> Result<SignalingChannel, IndexError>;

    /// Looks a channel up by region and name.
    async fn channel_by_name(
        &self,
        region: &Region,
        name: &StreamName,
    ) -> Result<SignalingChannel, IndexError>;

    /// Looks a channel up by its exact ARN (`NotFound` if the creation millis differ).
    async fn channel_by_arn(&self, arn: &ResourceArn) -> Result<SignalingChannel, IndexError>;

    /// How many signaling channels exist, in every region.
    async fn channel_count(&self) -> Result<u64, IndexError>;

    /// Channels of a region in name (byte) order, optionally only names starting with `prefix`,
    /// starting after the name `after`, at most `limit`.
    async fn list_channels(
        &self,
        region: &Region,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ChannelPage, IndexError>;

    /// Applies `changes` if the stored version equals `expected` (or `expected` is `None`) and
    /// stores `new_version`. `VersionMismatch` otherwise; `NotFound` if the channel is gone.
    async fn update_channel(
        &self,
        id: i64,
        expected: Option<&VersionToken>,
        changes: &ChannelChanges,
        new_version: &VersionToken,
    ) -> Result<SignalingChannel, IndexError>;

    /// Deletes the channel row and its tags if the version matches (`None`: any version);
    /// `VersionMismatch` or `NotFound` otherwise.
    async fn delete_channel(&self, id: i64, expected: Option<&VersionToken>) -> Result<(), IndexError>;

    /// Adds or overwrites channel tags; `TagLimitExceeded` if the result would exceed
    /// [`TagSet::MAX`] (nothing is changed then); `NotFound` if the channel is gone.
    async fn tag_channel(&self, id: i64, tags: &TagSet) -> Result<(), IndexError>;

    /// Removes the given tag keys from a channel (absent keys are ignored).
    async fn untag_channel(&self, id: i64, keys: &[String]) -> Result<(), IndexError>;

    /// All tags of a channel.
    async fn channel_tags(&self, id: i64) -> Result<TagSet, IndexError>;

    /// Stores a Matroska header set once per (stream, content) and returns its id; `NotFound` if
    /// the stream is gone.
    async fn put_track_header(
        &self,
        stream_id: i64,
        sha256: &str,
        bytes: &[u8],
        now_ms: i64,
    ) -> Result<i64, IndexError>;

    /// The bytes of a header set of this stream (`NotFound` if the id is another stream's).
    async fn track_header(&self, stream_id: i64, id: i64) -> Result<Vec<u8>, IndexError>;

    /// Inserts fragment rows in one transaction (the group commit). Returns, per row, whether it
    /// was inserted: `false` means its stream no longer exists. The call returns only after commit.
    async fn insert_fragments(&self, rows: &[FragmentRecord]) -> Result<Vec<bool>, IndexError>;

    /// For every stream with fragments, the highest store segment its rows reference and the end
    /// (offset + length) of the last referenced byte in it: what crash recovery at startup trims
    /// each stream's segments back to (design/0006-crash-safety.md). It must see every fragment
    /// row that can still commit: Postgres first waits out in-flight fragment transactions, which a
    /// killed previous process may have left committing.
    async fn segment_high_water(&self) -> Result<Vec<SegmentEnd>, IndexError>;

    /// Deletes at most `limit` of the stream's fragment rows whose server timestamp is before
    /// `before_ms` (the oldest first), in one transaction; returns how many went. The retention
    /// janitor calls it until it returns less than `limit` (design/0010-retention.md).
    async fn delete_fragments_before(
        &self,
        stream_id: i64,
        before_ms: i64,
        limit: u32,
    ) -> Result<u64, IndexError>;

    /// The lowest store segment any of the stream's rows references (`None`: it has no rows).
    /// Segment files numbered below it hold no referenced byte. Uses the (stream, segment) index.
    async fn lowest_referenced_segment(&self, stream_id: i64) -> Result<Option<i64>, IndexError>;

    /// Ids of streams [`Index::delete_stream`] removed (recorded in the same transaction): their
    /// store directories, if any are left, may be removed.
    async fn deleted_stream_ids(&self) -> Result<Vec<i64>, IndexError>;

    /// A trivial round trip (`SELECT 1`): whether the database answers (`/ready`).
    async fn ping(&self) -> Result<(), IndexError>;

    /// Closes the connection pool, waiting for connections in use to be returned (graceful
    /// shutdown). Calls after it fail.
    async fn close(&self);

    /// The highest fragment number of a stream, if it has any fragment.
    async fn last_fragment_number(&self, stream_id: i64) -> Result<Option<FragmentNumber>, IndexError>;

    /// One fragment by number.
    async fn fragment(&self, stream_id: i64, number: &FragmentNumber) -> Result<FragmentRecord, IndexError>;

    /// Fragments whose `kind` timestamp lies in `start_ms..=end_ms`, ordered by (that timestamp,
    /// number), after the keyset position `after` = (timestamp, number), at most `limit`. Uses the
    /// (stream, timestamp) indexes: no scan of the stream.
    async fn fragments_in_range(
        &self,
        stream_id: i64,
        kind: TimestampKind,
        start_ms: i64,
        end_ms: i64,
        after: Option<(i64, &FragmentNumber)>,
        limit: u32,
    ) -> Result<Vec<FragmentRecord>, IndexError>;

    /// The newest fragments (by `kind` timestamp, then number) whose timestamp is at least
    /// `since_ms`, newest first, at most `limit` (HLS/DASH LIVE windows). Uses the
    /// (stream, timestamp) indexes backwards. With `since_ms = i64::MIN` and `limit = 1` it is the
    /// stream's newest fragment (what analysis workers measure their lag against).
    async fn latest_fragments(
        &self,
        stream_id: i64,
        kind: TimestampKind,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<FragmentRecord>, IndexError>;

    /// How many fragments sort at or after `since` and before `before`, both (`kind` timestamp,
    /// fragment number) keyset positions (an empty number means "from the start of that
    /// millisecond"): a fragment's position in a session (HLS MEDIA-SEQUENCE).
    async fn count_fragments_before(
        &self,
        stream_id: i64,
        kind: TimestampKind,
        since: (i64, &str),
        before: (i64, &FragmentNumber),
    ) -> Result<u64, IndexError>;

    /// The first fragment (by `kind` timestamp) that contains `ts_ms` or starts after it.
    async fn fragment_at(
        &self,
        stream_id: i64,
        kind: TimestampKind,
        ts_ms: i64,
    ) -> Result<Option<FragmentRecord>, IndexError>;

    /// Every fragment of a stream in ingest order, at most `limit`, after `after` if given.
    async fn fragments_after(
        &self,
        stream_id: i64,
        after: Option<&FragmentNumber>,
        limit: u32,
    ) -> Result<Vec<FragmentRecord>, IndexError>;

    /// The stream's image-generation configuration, if one is set.
    async fn image_generation_config(
        &self,
        stream_id: i64,
    ) -> Result<Option<ImageGenerationConfig>, IndexError>;

    /// Stores (`Some`, replacing any previous one) or deletes (`None`) the stream's image-generation
    /// configuration; `NotFound` if the stream is gone.
    async fn set_image_generation_config(
        &self,
        stream_id: i64,
        config: Option<&ImageGenerationConfig>,
        now_ms: i64,
    ) -> Result<(), IndexError>;

    /// The stream's notification configuration, if one is set.
    async fn notification_config(&self, stream_id: i64) -> Result<Option<NotificationConfig>, IndexError>;

    /// Stores (`Some`, replacing any previous one) or deletes (`None`) the stream's notification
    /// configuration; `NotFound` if the stream is gone.
    async fn set_notification_config(
        &self,
        stream_id: i64,
        config: Option<&NotificationConfig>,
        now_ms: i64,
    ) -> Result<(), IndexError>;

    /// The last fragment `worker` finished in the stream, if it has finished any.
    async fn worker_cursor(&self, worker: &str, stream_id: i64)
    -> Result<Option<FragmentNumber>, IndexError>;

    /// Every cursor of `worker`, by stream id (for status and lag reporting).
    async fn worker_cursors(&self, worker: &str) -> Result<Vec<WorkerCursor>, IndexError>;

    /// Moves `worker`'s cursor in the stream to `fragment` if that is past the stored one (or none
    /// is stored); a number at or before the stored one changes nothing, so a cursor never moves
    /// backwards. Numbers compare numerically (a longer digit string is the greater one).
    /// `NotFound` if the stream is gone.
    async fn set_worker_cursor(
        &self,
        worker: &str,
        stream_id: i64,
        fragment: &FragmentNumber,
        now_ms: i64,
    ) -> Result<(), IndexError>;

    /// Inserts events in one transaction, stamped `created_at_ms = now_ms`. Returns, per event and
    /// in input order, its new id, or `None` when its stream no longer exists (such events are
    /// skipped; the others are still inserted).
    async fn insert_analyzer_events(
        &self,
        events: &[NewAnalyzerEvent],
        now_ms: i64,
    ) -> Result<Vec<Option<i64>>, IndexError>;

    /// A stream's events whose `producer_ts_ms` lies in `from_ms..=to_ms`, optionally only of
    /// `kind`, ordered by (`producer_ts_ms`, id), after the keyset position `after` =
    /// (`producer_ts_ms`, id) of the last event of the previous page, at most `limit`. Uses the
    /// (stream, producer_ts_ms, id) index: no scan of the stream.
    async fn analyzer_events(
        &self,
        stream_id: i64,
        from_ms: i64,
        to_ms: i64,
        kind: Option<&str>,
        after: Option<(i64, i64)>,
        limit: u32,
    ) -> Result<Vec<AnalyzerEvent>, IndexError>;
}

/// Opens the index a URL names: `postgres://…`/`postgresql://…` selects Postgres; `sqlite://…`
/// selects SQLite at that path. Runs the backend's migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Index>, IndexError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresIndex::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteIndex::open_url(url).await?))
    } else {
        Err(IndexError::Other(format!(
            "unsupported database URL scheme (want postgres:// or sqlite://): {}",
            redact_url(url)
        )))
    }
}

/// A database URL with any password replaced by `***`, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A `streams` row as both backends return it (column names are the same in both dialects).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StreamRow {
    pub id: i64,
    pub arn: String,
    pub device_name: Option<String>,
    pub media_type: Option<String>,
    pub kms_key_id: Option<String>,
    pub retention_hours: i64,
    pub version: String,
    pub status: String,
    pub storage_tier: String,
    pub created_at_ms: i64,
}

/// A `signaling_channels` row as both backends return it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ChannelRow {
    pub id: i64,
    pub arn: String,
    pub channel_type: String,
    pub status: String,
    pub message_ttl_seconds: i64,
    pub version: String,
    pub created_at_ms: i64,
}

impl TryFrom<ChannelRow> for SignalingChannel {
    type Error = IndexError;

    fn try_from(r: ChannelRow) -> Result<Self, IndexError> {
        let corrupt =
            |what: &str| IndexError::Other(format!("corrupt signaling channel row {}: {what}", r.id));
        let arn = ResourceArn::parse_member(&r.arn, "arn").map_err(|_| corrupt("arn"))?;
        Ok(SignalingChannel {
            id: r.id,
            name: arn.name.clone(),
            arn,
            channel_type: ChannelType::parse(&r.channel_type).ok_or_else(|| corrupt("channel type"))?,
            status: StreamStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            message_ttl_seconds: u32::try_from(r.message_ttl_seconds).map_err(|_| corrupt("message ttl"))?,
            version: VersionToken::from_stored(r.version),
            created_at_ms: r.created_at_ms,
        })
    }
}

/// A `fragments` row as both backends return it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FragmentRow {
    pub stream_id: i64,
    pub fragment_number: String,
    pub cluster_timecode: i64,
    pub producer_ts_ms: i64,
    pub server_ts_ms: i64,
    pub duration_ms: i64,
    pub size_bytes: i64,
    pub header_id: i64,
    pub segment: i64,
    pub byte_offset: i64,
    pub byte_length: i64,
    pub key_frame: bool,
    pub tracks: String,
    pub frame_count: i64,
    pub metadata: String,
}

impl TryFrom<FragmentRow> for FragmentRecord {
    type Error = IndexError;

    fn try_from(r: FragmentRow) -> Result<Self, IndexError> {
        let corrupt =
            |what: &str| IndexError::Other(format!("corrupt fragment row {}: {what}", r.fragment_number));
        let tracks = if r.tracks.is_empty() {
            Vec::new()
        } else {
            r.tracks
                .split(',')
                .map(|t| t.parse::<u64>().map_err(|_| corrupt("tracks")))
                .collect::<Result<_, _>>()?
        };
        let metadata: Vec<(String, String)> =
            serde_json::from_str(&r.metadata).map_err(|_| corrupt("metadata"))?;
        Ok(FragmentRecord {
            stream_id: r.stream_id,
            number: FragmentNumber::parse(&r.fragment_number).ok_or_else(|| corrupt("number"))?,
            cluster_timecode: r.cluster_timecode,
            producer_ts_ms: r.producer_ts_ms,
            server_ts_ms: r.server_ts_ms,
            duration_ms: r.duration_ms,
            size_bytes: r.size_bytes,
            header_id: r.header_id,
            location: FragmentLocation {
                segment: r.segment,
                offset: u64::try_from(r.byte_offset).map_err(|_| corrupt("offset"))?,
                length: u64::try_from(r.byte_length).map_err(|_| corrupt("length"))?,
            },
            key_frame: r.key_frame,
            tracks,
            frame_count: r.frame_count,
            metadata,
        })
    }
}

/// The text forms of a record's list columns: (tracks, metadata JSON).
pub(crate) fn fragment_list_columns(f: &FragmentRecord) -> (String, String) {
    let tracks = f.tracks.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let metadata = serde_json::to_string(&f.metadata).unwrap_or_else(|_| "[]".to_owned());
    (tracks, metadata)
}

/// An `image_generation_configurations` row as both backends return it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ImageGenerationConfigRow {
    pub stream_id: i64,
    pub status: String,
    pub image_selector_type: String,
    pub destination_uri: String,
    pub destination_region: String,
    pub sampling_interval_ms: i64,
    pub format: String,
    pub jpeg_quality: Option<i64>,
    pub width_pixels: Option<i64>,
    pub height_pixels: Option<i64>,
}

impl TryFrom<ImageGenerationConfigRow> for ImageGenerationConfig {
    type Error = IndexError;

    fn try_from(r: ImageGenerationConfigRow) -> Result<Self, IndexError> {
        let corrupt = |what: &str| {
            IndexError::Other(format!(
                "corrupt image generation configuration of stream {}: {what}",
                r.stream_id
            ))
        };
        let pixels =
            |v: Option<i64>, what: &str| v.map(|v| u32::try_from(v).map_err(|_| corrupt(what))).transpose();
        Ok(ImageGenerationConfig {
            status: ConfigurationStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            selector: ImageSelectorType::parse(&r.image_selector_type).ok_or_else(|| corrupt("selector"))?,
            destination_uri: DestinationUri::parse_member(&r.destination_uri, "uri")
                .map_err(|_| corrupt("uri"))?,
            destination_region: Region::parse(&r.destination_region).map_err(|_| corrupt("region"))?,
            sampling_interval_ms: u32::try_from(r.sampling_interval_ms)
                .map_err(|_| corrupt("sampling interval"))?,
            format: ImageFormat::parse(&r.format).ok_or_else(|| corrupt("format"))?,
            jpeg_quality: r
                .jpeg_quality
                .map(|q| u8::try_from(q).map_err(|_| corrupt("jpeg quality")))
                .transpose()?,
            width: pixels(r.width_pixels, "width")?,
            height: pixels(r.height_pixels, "height")?,
        })
    }
}

/// The integer columns of an image-generation configuration: (sampling interval, JPEG quality,
/// width, height).
pub(crate) fn image_generation_numbers(
    c: &ImageGenerationConfig,
) -> (i64, Option<i64>, Option<i64>, Option<i64>) {
    (
        i64::from(c.sampling_interval_ms),
        c.jpeg_quality.map(i64::from),
        c.width.map(i64::from),
        c.height.map(i64::from),
    )
}

/// A `notification_configurations` row as both backends return it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct NotificationConfigRow {
    pub stream_id: i64,
    pub status: String,
    pub destination_uri: String,
}

impl TryFrom<NotificationConfigRow> for NotificationConfig {
    type Error = IndexError;

    fn try_from(r: NotificationConfigRow) -> Result<Self, IndexError> {
        let corrupt = |what: &str| {
            IndexError::Other(format!("corrupt notification configuration of stream {}: {what}", r.stream_id))
        };
        Ok(NotificationConfig {
            status: ConfigurationStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            destination_uri: DestinationUri::parse_member(&r.destination_uri, "uri")
                .map_err(|_| corrupt("uri"))?,
        })
    }
}

/// Converts a `worker_cursors` row (stream id, fragment number, updated at).
pub(crate) fn worker_cursor_from_row(
    (stream_id, number, updated_at_ms): (i64, String, i64),
) -> Result<WorkerCursor, IndexError> {
    let fragment_number = FragmentNumber::parse(&number)
        .ok_or_else(|| IndexError::Other(format!("corrupt worker cursor of stream {stream_id}: {number}")))?;
    Ok(WorkerCursor { stream_id, fragment_number, updated_at_ms })
}

/// An `analyzer_events` row as both backends return it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AnalyzerEventRow {
    pub id: i64,
    pub stream_id: i64,
    pub worker: String,
    pub kind: String,
    pub fragment_number: Option<String>,
    pub producer_ts_ms: i64,
    pub server_ts_ms: i64,
    pub end_ts_ms: Option<i64>,
    pub score: Option<f64>,
    pub detail: String,
    pub created_at_ms: i64,
}

impl TryFrom<AnalyzerEventRow> for AnalyzerEvent {
    type Error = IndexError;

    fn try_from(r: AnalyzerEventRow) -> Result<Self, IndexError> {
        let corrupt = |what: &str| IndexError::Other(format!("corrupt analyzer event {}: {what}", r.id));
        let fragment_number = match r.fragment_number.as_deref() {
            Some(n) => Some(FragmentNumber::parse(n).ok_or_else(|| corrupt("fragment number"))?),
            None => None,
        };
        Ok(AnalyzerEvent {
            id: r.id,
            stream_id: r.stream_id,
            worker: r.worker,
            kind: r.kind,
            fragment_number,
            producer_ts_ms: r.producer_ts_ms,
            server_ts_ms: r.server_ts_ms,
            end_ts_ms: r.end_ts_ms,
            score: r.score,
            detail: serde_json::from_str(&r.detail).map_err(|_| corrupt("detail"))?,
            created_at_ms: r.created_at_ms,
        })
    }
}

impl TryFrom<StreamRow> for Stream {
    type Error = IndexError;

    fn try_from(r: StreamRow) -> Result<Self, IndexError> {
        let corrupt = |what: &str| IndexError::Other(format!("corrupt stream row {}: {what}", r.id));
        let arn = ResourceArn::parse_member(&r.arn, "arn").map_err(|_| corrupt("arn"))?;
        Ok(Stream {
            id: r.id,
            name: arn.name.clone(),
            arn,
            device_name: r.device_name,
            media_type: r.media_type,
            kms_key_id: r.kms_key_id,
            retention: DataRetention::from_hours(r.retention_hours).map_err(|_| corrupt("retention"))?,
            version: VersionToken::from_stored(r.version),
            status: StreamStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            storage_tier: StorageTier::parse(&r.storage_tier).ok_or_else(|| corrupt("storage tier"))?,
            created_at_ms: r.created_at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://./data/index.db"), "sqlite://./data/index.db");
    }
}
