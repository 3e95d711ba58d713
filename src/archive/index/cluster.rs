//! The cluster aggregate: the members of a cluster of nodes sharing this database, each
//! stream's writer epoch (design/0020-cluster.md), and the analysis workers' leases on streams
//! (design/0025-cluster-coordination.md). Postgres only: every time here is the
//! database's `now()`, so the nodes' clocks never have to agree. SQLite (a single node) answers
//! every call with an error; `app` refuses cluster mode on it before any call is made.
//!
//! The fence itself (a fragment commit refused unless its epoch is the stream's current one) is
//! checked in the commit transaction, in `references`; this file only moves the epoch.

use async_trait::async_trait;

use super::IndexError;
use super::postgres::PostgresIndex;
use super::sqlite::SqliteIndex;

/// A live member of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMember {
    /// Its node id (`[cluster] node_id`).
    pub node_id: String,
    /// Its advertised base URL.
    pub url: String,
}

/// The answer to a writer claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriterClaim {
    /// The stream's epoch was raised to `epoch` and the claimer holds its lease.
    Granted {
        /// The new epoch: the one the claimer's commits must carry.
        epoch: i64,
    },
    /// Another live node holds a valid lease on the stream (a PutMedia session runs there).
    Held {
        /// That node.
        node_id: String,
    },
}

/// Membership and writer epochs.
#[async_trait]
pub trait ClusterIndex: Send + Sync {
    /// Registers or renews a member: it counts as live for `ttl_ms` from now (database time).
    async fn heartbeat(
        &self,
        node_id: &str,
        url: &str,
        incarnation: &str,
        ttl_ms: i64,
    ) -> Result<(), IndexError>;

    /// Removes a member (graceful shutdown), if it is still this incarnation's row.
    async fn leave(&self, node_id: &str, incarnation: &str) -> Result<(), IndexError>;

    /// The members whose heartbeat has not expired, by node id.
    async fn live_members(&self) -> Result<Vec<ClusterMember>, IndexError>;

    /// Claims the stream for a new PutMedia session on `node_id`: refused ([`WriterClaim::Held`])
    /// while another live member holds an unexpired lease on it; otherwise raises the epoch by one
    /// and gives `node_id` a lease of `lease_ms`, in one transaction. `NotFound` if the stream is
    /// gone.
    async fn claim_writer(
        &self,
        stream_id: i64,
        node_id: &str,
        lease_ms: i64,
    ) -> Result<WriterClaim, IndexError>;

    /// Extends the leases `node_id` holds on these (stream, epoch) pairs by `lease_ms`; a pair
    /// whose epoch moved on is left alone. Returns how many were extended.
    async fn renew_writers(
        &self,
        node_id: &str,
        held: &[(i64, i64)],
        lease_ms: i64,
    ) -> Result<u64, IndexError>;

    /// Ends the lease of this (stream, epoch), if it is still the current epoch (the epoch stays).
    async fn release_writer(&self, stream_id: i64, epoch: i64) -> Result<(), IndexError>;

    /// The live member holding an unexpired lease on the stream, if any.
    async fn active_writer(&self, stream_id: i64) -> Result<Option<ClusterMember>, IndexError>;

    /// Whether another process is a live member under `node_id` (a row with an unexpired
    /// heartbeat and an incarnation other than `incarnation`).
    async fn node_id_in_use(&self, node_id: &str, incarnation: &str) -> Result<bool, IndexError>;

    /// The analysis-worker leases of `node_id`, in one transaction: drops the leases it holds on
    /// (worker, stream) pairs not in `wanted`, then takes or renews for `lease_ms` every pair of
    /// `wanted` that is free, expired, held by a member that is not live, or already its own.
    /// Returns the pairs it holds afterwards. Pairs of deleted streams are ignored.
    async fn worker_leases(
        &self,
        node_id: &str,
        wanted: &[(String, i64)],
        lease_ms: i64,
    ) -> Result<Vec<(String, i64)>, IndexError>;
}

#[async_trait]
impl ClusterIndex for PostgresIndex {
    async fn heartbeat(
        &self,
        node_id: &str,
        url: &str,
        incarnation: &str,
        ttl_ms: i64,
    ) -> Result<(), IndexError> {
        sqlx::query(
            "INSERT INTO cluster_members (node_id, url, incarnation, expires_at) \
             VALUES ($1, $2, $3, now() + make_interval(secs => $4::float8 / 1000)) \
             ON CONFLICT (node_id) DO UPDATE SET url = EXCLUDED.url, incarnation = EXCLUDED.incarnation, \
             expires_at = EXCLUDED.expires_at, \
             started_at = CASE WHEN cluster_members.incarnation = EXCLUDED.incarnation \
                          THEN cluster_members.started_at ELSE now() END",
        )
        .bind(node_id)
        .bind(url)
        .bind(incarnation)
        .bind(ttl_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn leave(&self, node_id: &str, incarnation: &str) -> Result<(), IndexError> {
        sqlx::query("DELETE FROM cluster_members WHERE node_id = $1 AND incarnation = $2")
            .bind(node_id)
            .bind(incarnation)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn live_members(&self) -> Result<Vec<ClusterMember>, IndexError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT node_id, url FROM cluster_members WHERE expires_at > now() ORDER BY node_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(node_id, url)| ClusterMember { node_id, url }).collect())
    }

    async fn claim_writer(
        &self,
        stream_id: i64,
        node_id: &str,
        lease_ms: i64,
    ) -> Result<WriterClaim, IndexError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO stream_writers (stream_id, epoch, node_id, lease_expires_at) VALUES ($1, 0, '', NULL) \
             ON CONFLICT (stream_id) DO NOTHING",
        )
        .bind(stream_id)
        .execute(&mut *tx)
        .await
        .map_err(super::referent_gone)?;
        // The row lock orders claims of one stream, and against fragment commits, which hold it
        // shared while they check their epoch.
        let (holder, held): (String, bool) = sqlx::query_as(
            "SELECT w.node_id, COALESCE(w.lease_expires_at > now() AND EXISTS \
               (SELECT 1 FROM cluster_members m WHERE m.node_id = w.node_id AND m.expires_at > now()), FALSE) \
             FROM stream_writers w WHERE w.stream_id = $1 FOR UPDATE",
        )
        .bind(stream_id)
        .fetch_one(&mut *tx)
        .await?;
        // A lease this node holds is stale here: the caller's own registry of sessions already
        // said no session of this node runs on the stream (a previous life's lease, say).
        if held && holder != node_id {
            tx.rollback().await?;
            return Ok(WriterClaim::Held { node_id: holder });
        }
        let epoch: i64 = sqlx::query_scalar(
            "UPDATE stream_writers SET epoch = epoch + 1, node_id = $2, \
             lease_expires_at = now() + make_interval(secs => $3::float8 / 1000) \
             WHERE stream_id = $1 RETURNING epoch",
        )
        .bind(stream_id)
        .bind(node_id)
        .bind(lease_ms)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(WriterClaim::Granted { epoch })
    }

    async fn renew_writers(
        &self,
        node_id: &str,
        held: &[(i64, i64)],
        lease_ms: i64,
    ) -> Result<u64, IndexError> {
        if held.is_empty() {
            return Ok(0);
        }
        let (streams, epochs): (Vec<i64>, Vec<i64>) = held.iter().copied().unzip();
        let done = sqlx::query(
            "UPDATE stream_writers w SET lease_expires_at = now() + make_interval(secs => $4::float8 / 1000) \
             FROM UNNEST($2::bigint[], $3::bigint[]) AS h(stream_id, epoch) \
             WHERE w.stream_id = h.stream_id AND w.epoch = h.epoch AND w.node_id = $1",
        )
        .bind(node_id)
        .bind(streams)
        .bind(epochs)
        .bind(lease_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn release_writer(&self, stream_id: i64, epoch: i64) -> Result<(), IndexError> {
        sqlx::query("UPDATE stream_writers SET lease_expires_at = NULL WHERE stream_id = $1 AND epoch = $2")
            .bind(stream_id)
            .bind(epoch)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn active_writer(&self, stream_id: i64) -> Result<Option<ClusterMember>, IndexError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT m.node_id, m.url FROM stream_writers w JOIN cluster_members m ON m.node_id = w.node_id \
             WHERE w.stream_id = $1 AND w.lease_expires_at > now() AND m.expires_at > now()",
        )
        .bind(stream_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(node_id, url)| ClusterMember { node_id, url }))
    }

    async fn node_id_in_use(&self, node_id: &str, incarnation: &str) -> Result<bool, IndexError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM cluster_members WHERE node_id = $1 AND incarnation <> $2 AND expires_at > now()",
        )
        .bind(node_id)
        .bind(incarnation)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    async fn worker_leases(
        &self,
        node_id: &str,
        wanted: &[(String, i64)],
        lease_ms: i64,
    ) -> Result<Vec<(String, i64)>, IndexError> {
        let (workers, streams): (Vec<String>, Vec<i64>) = wanted.iter().cloned().unzip();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM worker_leases l WHERE l.node_id = $1 AND NOT EXISTS \
               (SELECT 1 FROM UNNEST($2::text[], $3::bigint[]) AS w(worker, stream_id) \
                WHERE w.worker = l.worker AND w.stream_id = l.stream_id)",
        )
        .bind(node_id)
        .bind(&workers)
        .bind(&streams)
        .execute(&mut *tx)
        .await?;
        let held: Vec<(String, i64)> = sqlx::query_as(
            "INSERT INTO worker_leases (worker, stream_id, node_id, expires_at) \
             SELECT w.worker, w.stream_id, $1, now() + make_interval(secs => $4::float8 / 1000) \
             FROM UNNEST($2::text[], $3::bigint[]) AS w(worker, stream_id) JOIN streams s ON s.id = w.stream_id \
             ORDER BY w.worker, w.stream_id \
             ON CONFLICT (worker, stream_id) DO UPDATE SET node_id = EXCLUDED.node_id, expires_at = EXCLUDED.expires_at \
             WHERE worker_leases.node_id = EXCLUDED.node_id OR worker_leases.expires_at <= now() \
                OR NOT EXISTS (SELECT 1 FROM cluster_members m \
                               WHERE m.node_id = worker_leases.node_id AND m.expires_at > now()) \
             RETURNING worker, stream_id",
        )
        .bind(node_id)
        .bind(&workers)
        .bind(&streams)
        .bind(lease_ms)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(held)
    }
}

/// What SQLite answers: cluster mode needs the Postgres index.
fn postgres_only() -> IndexError {
    IndexError::Other("cluster mode needs the Postgres index".into())
}

#[async_trait]
impl ClusterIndex for SqliteIndex {
    async fn heartbeat(&self, _: &str, _: &str, _: &str, _: i64) -> Result<(), IndexError> {
        Err(postgres_only())
    }

    async fn leave(&self, _: &str, _: &str) -> Result<(), IndexError> {
        Err(postgres_only())
    }

    async fn live_members(&self) -> Result<Vec<ClusterMember>, IndexError> {
        Err(postgres_only())
    }

    async fn claim_writer(&self, _: i64, _: &str, _: i64) -> Result<WriterClaim, IndexError> {
        Err(postgres_only())
    }

    async fn renew_writers(&self, _: &str, _: &[(i64, i64)], _: i64) -> Result<u64, IndexError> {
        Err(postgres_only())
    }

    async fn release_writer(&self, _: i64, _: i64) -> Result<(), IndexError> {
        Err(postgres_only())
    }

    async fn active_writer(&self, _: i64) -> Result<Option<ClusterMember>, IndexError> {
        Err(postgres_only())
    }

    async fn node_id_in_use(&self, _: &str, _: &str) -> Result<bool, IndexError> {
        Err(postgres_only())
    }

    async fn worker_leases(
        &self,
        _: &str,
        _: &[(String, i64)],
        _: i64,
    ) -> Result<Vec<(String, i64)>, IndexError> {
        Err(postgres_only())
    }
}
