//! The Postgres index (production): a connection pool to the database `--database-url` names.
//!
//! Migrations in `migrations/postgres` run at connect. Postgres commits are durable when they return
//! (`synchronous_commit` as the operator configured it; the default `on` is what the PERSISTED
//! acknowledgement relies on). The queries are the aggregates' shared text; this file holds only
//! how to connect and the [`Dialect`] differences: row locks, and the advisory lock that fences
//! fragment commits against crash recovery (design/0006-crash-safety.md).

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use super::{Dialect, IndexError};

/// The Postgres implementation of the index.
#[derive(Debug, Clone)]
pub struct PostgresIndex {
    pub(super) pool: PgPool,
}

impl PostgresIndex {
    /// Connects to `url` and runs migrations.
    pub async fn connect(url: &str) -> Result<Self, IndexError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

impl Dialect for PostgresIndex {
    type Db = sqlx::Postgres;
    const NAME: &'static str = "postgres";
    const LOCK_STREAM: &'static str = "SELECT id FROM streams WHERE id = $1 FOR UPDATE";
    // Conflicts with DeleteStream's row lock, not with other KEY SHARE holders.
    const SHARE_STREAM: &'static str = "SELECT id FROM streams WHERE id = $1 FOR KEY SHARE";
    const LOCK_CHANNEL: &'static str = "SELECT id FROM signaling_channels WHERE id = $1 FOR UPDATE";
    // Advisory lock key 0x6f6b_7673_6672_6167 ("okvsfrag"): every fragment commit holds it shared
    // from before its first row until it ends; the timeout bounds how long a transaction whose
    // client vanished (host lost) can keep the next server's recovery waiting.
    const FRAGMENT_WRITER_FENCE: Option<&'static str> = Some(
        "SELECT pg_advisory_xact_lock_shared(8028640998730129767), \
         set_config('idle_in_transaction_session_timeout', '60000', true)",
    );
    // A `kill -9`ed server's last fragment transaction can still commit AFTER it died: its COMMIT
    // is already in the Postgres backend's socket buffer, and the backend finishes it. Read before
    // that, the high water misses rows whose (synced) bytes recovery would then cut away. Taking
    // the lock exclusively waits out every such transaction; one that had not got its shared lock
    // yet has not sent (and never will send) a row.
    const FRAGMENT_WRITER_BARRIER: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(8028640998730129767)");
    // FOR SHARE, not KEY SHARE: it must conflict with the claim's UPDATE of the (non-key) epoch.
    const SHARE_WRITER_EPOCH: &'static str =
        "SELECT epoch FROM stream_writers WHERE stream_id = $1 FOR SHARE";

    /// Postgres names the violated constraint itself.
    fn name_constraints(e: sqlx::Error) -> IndexError {
        e.into()
    }
}
