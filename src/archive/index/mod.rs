//! The index: every query the server makes against its metadata database, one trait per
//! aggregate, with the SQL written once for both backends.
//!
//! | aggregate | trait | tables |
//! | --- | --- | --- |
//! | streams and their tags | [`StreamIndex`] | `streams`, `stream_tags` |
//! | fragments and header sets | [`FragmentIndex`] | `fragments` (reads), `track_headers` |
//! | signaling channels | [`ChannelIndex`] | `signaling_channels`, `signaling_channel_tags` |
//! | analysis | [`AnalysisIndex`] | `image_generation_configurations`, `notification_configurations`, `worker_cursors`, `analyzer_events` |
//! | edge agent configurations | [`EdgeIndex`] | `edge_configurations` |
//! | camera secrets (Secrets Manager subset) | [`SecretIndex`] | `secrets` |
//! | media storage (WebRTC ingestion) | [`MediaStorageIndex`] | `media_storage_configurations` |
//! | references to stored bytes (retention bookkeeping) | [`ReferenceIndex`] | `fragments` (commit, expiry), `deleted_streams` |
//! | streams' wrapped data keys (encryption at rest) | [`DataKeyIndex`] | `stream_data_keys` |
//!
//! [`Catalog`] is the first seven plus [`Backend`]: what `archive` lets everyone call through its
//! handle. [`Index`] adds [`ReferenceIndex`], the queries the durability rule rests on (committing
//! fragment rows, deleting rows, what recovery and reclaim ask), and [`DataKeyIndex`], which only
//! `archive` calls.
//!
//! Each aggregate's file holds its trait, its row types and ONE implementation, written inside a
//! `macro_rules!` that the file expands for [`sqlite::SqliteIndex`] and [`postgres::PostgresIndex`]:
//! sqlx binds `$1`-style parameters on SQLite and Postgres alike, and `CAST(... AS ...)` types a
//! parameter in both, so a query whose text both dialects accept is written once. Only what truly
//! differs is per backend, in its [`Dialect`] constants: row locks (Postgres `FOR UPDATE` /
//! `FOR KEY SHARE`; SQLite takes the database write lock with a no-op `UPDATE`, as a deferred
//! SQLite transaction must write before it reads), the advisory lock fencing fragment commits
//! against recovery (Postgres only), and naming unique constraints (SQLite reports columns).
//! Migrations stay per dialect (`migrations/sqlite`, `migrations/postgres`); a new query with state
//! is a method in one aggregate file plus its migration per backend. A conformance suite in
//! `tests/index_conformance.rs` runs every query against both.
//!
//! This layer imports only `model` and its own error type: it knows nothing of HTTP or AWS error
//! codes (the API layer maps [`IndexError`] to them). Every method is one transaction; none holds a
//! transaction open across an await point of its caller.

mod analysis;
mod channels;
mod data_keys;
mod edge;
mod fragments;
mod media_storage;
pub mod postgres;
mod references;
mod secrets;
pub mod sqlite;
mod streams;
mod tags;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

pub use analysis::AnalysisIndex;
pub use channels::{CHANNEL_NAME_CONSTRAINT, ChannelChanges, ChannelIndex, ChannelPage, NewChannel};
pub use data_keys::{DataKeyIndex, NewDataKey, WrappedDataKey};
pub use edge::EdgeIndex;
pub use fragments::{FragmentIndex, LONGEST_FRAGMENT_MS, TimestampKind};
pub use media_storage::{MEDIA_STORAGE_STREAM_CONSTRAINT, MediaStorage, MediaStorageIndex};
pub use references::{ReferenceIndex, RowCommit};
pub use secrets::{NewSecret, SECRET_NAME_CONSTRAINT, SecretIndex};
pub use streams::{NewStream, STREAM_NAME_CONSTRAINT, StreamChanges, StreamIndex, StreamPage};

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

/// Maps a write refused by a `REFERENCES` foreign key (the referenced stream or channel is gone)
/// to `NotFound`.
fn referent_gone(e: sqlx::Error) -> IndexError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => IndexError::NotFound,
        other => other.into(),
    }
}

/// The first `limit` of `rows` (fetched with `LIMIT limit + 1`), converted, and whether more follow.
fn page_of<R, T: TryFrom<R, Error = IndexError>>(
    rows: Vec<R>,
    limit: u32,
) -> Result<(Vec<T>, bool), IndexError> {
    let more = rows.len() > limit as usize;
    let items = rows.into_iter().take(limit as usize).map(T::try_from).collect::<Result<_, _>>()?;
    Ok((items, more))
}

/// The database itself: its name and a liveness probe.
#[async_trait]
pub trait Backend: Send + Sync + Debug {
    /// A short name for logs: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// A trivial round trip (`SELECT 1`): whether the database answers (`/ready`).
    async fn ping(&self) -> Result<(), IndexError>;
}

/// Closing the database (graceful shutdown's last step, the archive's to take).
#[async_trait]
pub trait Shutdown {
    /// Closes the connection pool, waiting for connections in use to be returned. Calls after it
    /// fail.
    async fn close(&self);
}

/// What the archive's handle lets every caller query and change: streams, fragments (reads and
/// header sets), channels, analysis state, edge configurations, secrets and media storage
/// configurations.
pub trait Catalog:
    StreamIndex
    + FragmentIndex
    + ChannelIndex
    + AnalysisIndex
    + EdgeIndex
    + SecretIndex
    + MediaStorageIndex
    + Backend
{
}

impl<T> Catalog for T where
    T: StreamIndex
        + FragmentIndex
        + ChannelIndex
        + AnalysisIndex
        + EdgeIndex
        + SecretIndex
        + MediaStorageIndex
        + Backend
{
}

/// The whole index: the catalog plus the references to stored bytes, the wrapped data keys and
/// closing, which only `archive` uses.
pub trait Index: Catalog + ReferenceIndex + DataKeyIndex + Shutdown {}

impl<T: Catalog + ReferenceIndex + DataKeyIndex + Shutdown> Index for T {}

/// What differs between the two SQL dialects; everything else is shared text.
trait Dialect {
    /// The sqlx database type.
    type Db: sqlx::Database;
    /// The backend's name for logs.
    const NAME: &'static str;
    /// Locks a stream row (`$1`) until commit against deletion and against other lockers;
    /// returns its id, no row when the stream is gone.
    const LOCK_STREAM: &'static str;
    /// Locks a stream row (`$1`) until commit against deletion only (concurrent holders allowed
    /// where the database can); returns its id, no row when the stream is gone.
    const SHARE_STREAM: &'static str;
    /// As [`Dialect::LOCK_STREAM`], for a signaling channel row.
    const LOCK_CHANNEL: &'static str;
    /// Run first in every fragment-commit transaction (see [`ReferenceIndex::segment_high_water`]).
    const FRAGMENT_WRITER_FENCE: Option<&'static str>;
    /// Run first in the high-water read: waits out every fragment-commit transaction in flight.
    const FRAGMENT_WRITER_BARRIER: Option<&'static str>;
    /// Maps an error of an insert into `streams` or `signaling_channels`, naming the violated
    /// unique constraint as the Postgres schema does.
    fn name_constraints(e: sqlx::Error) -> IndexError;
}

/// [`Backend`] and [`Shutdown`] for both pools.
macro_rules! backend {
    ($backend:ident) => {
        #[async_trait]
        impl Backend for $backend {
            fn backend(&self) -> &'static str {
                <$backend as Dialect>::NAME
            }

            async fn ping(&self) -> Result<(), IndexError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }

        #[async_trait]
        impl Shutdown for $backend {
            async fn close(&self) {
                self.pool.close().await;
            }
        }
    };
}

use postgres::PostgresIndex;
use sqlite::SqliteIndex;

backend!(SqliteIndex);
backend!(PostgresIndex);

/// Opens the index a URL names: `postgres://…`/`postgresql://…` selects Postgres; `sqlite://PATH`
/// selects SQLite at that path, `sqlite::memory:` an in-memory SQLite database (tests). Runs the
/// backend's migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Index>, IndexError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresIndex::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteIndex::open_url(url).await?))
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
