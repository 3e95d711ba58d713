//! The embedded SQLite index (the default): one database file under `--data-dir`, or an in-memory
//! database (`sqlite::memory:`, for tests).
//!
//! Opened in WAL mode with `synchronous = FULL`, so a committed transaction is on disk when the
//! commit returns (the durability the PERSISTED acknowledgement relies on). Foreign keys are on, so
//! deleting a stream removes its dependent rows. The queries are the aggregates' shared text; this
//! file holds only how to open the database and the [`Dialect`] differences.

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{CHANNEL_NAME_CONSTRAINT, Dialect, IndexError, STREAM_NAME_CONSTRAINT};

/// The SQLite implementation of the index.
#[derive(Debug, Clone)]
pub struct SqliteIndex {
    pub(super) pool: SqlitePool,
}

impl SqliteIndex {
    /// Opens (creating if needed) the database a `sqlite://PATH` URL names, or a fresh in-memory
    /// one for `sqlite::memory:`, and runs migrations.
    pub async fn open_url(url: &str) -> Result<Self, IndexError> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| IndexError::Other(format!("bad sqlite url: {e}")))?
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = if url == "sqlite::memory:" || url.contains("mode=memory") {
            // One connection that never closes: the database lives as long as it does.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(opts)
                .await?
        } else {
            let opts = opts
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full);
            SqlitePoolOptions::new().max_connections(8).connect_with(opts).await?
        };
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

/// A no-op write that takes SQLite's write lock (a deferred transaction that reads first cannot
/// upgrade its lock after another connection committed: SQLITE_BUSY at once, busy_timeout does
/// not apply) and tells whether the row exists. SQLite has one writer at a time, so this is also
/// every lock the Postgres statements take on one row.
macro_rules! write_lock {
    ($table:literal) => {
        concat!("UPDATE ", $table, " SET version = version WHERE id = $1 RETURNING id")
    };
}

impl Dialect for SqliteIndex {
    type Db = sqlx::Sqlite;
    const NAME: &'static str = "sqlite";
    const LOCK_STREAM: &'static str = write_lock!("streams");
    const SHARE_STREAM: &'static str = write_lock!("streams");
    const LOCK_CHANNEL: &'static str = write_lock!("signaling_channels");
    // One writer at a time: a commit can never be in flight while recovery reads.
    const FRAGMENT_WRITER_FENCE: Option<&'static str> = None;
    const FRAGMENT_WRITER_BARRIER: Option<&'static str> = None;
    // Cluster mode only (never called on a single node, whose commits carry no epoch).
    const SHARE_WRITER_EPOCH: &'static str = "SELECT epoch FROM stream_writers WHERE stream_id = $1";

    /// SQLite does not report constraint names, only columns; name them like the Postgres schema.
    fn name_constraints(e: sqlx::Error) -> IndexError {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            let constraint = if db.message().contains("signaling_channels.region, signaling_channels.name") {
                CHANNEL_NAME_CONSTRAINT
            } else if db.message().contains("signaling_channels.arn") {
                "signaling_channels_arn_key"
            } else if db.message().contains("streams.region, streams.name") {
                STREAM_NAME_CONSTRAINT
            } else if db.message().contains("streams.arn") {
                "streams_arn_key"
            } else {
                "unique"
            };
            return IndexError::Conflict { constraint: constraint.to_owned() };
        }
        e.into()
    }
}
