//! Analysis-worker leases (design/0025-cluster-coordination.md): each (worker, stream) pair is
//! analysed by one node at a time. Every third of `worker_lease_ttl_ms` (and whenever membership
//! changes) this node asks for the pairs of the streams it is the rendezvous-preferred owner of
//! (the node GetDataEndpoint sends their producers to), and Postgres grants each pair that is
//! free, expired, held by a dead member or already its own, and drops the pairs it holds but no
//! longer prefers, in one transaction. What it holds goes to the workers' [`LeaseGate`]; a pair
//! gained is caught up from its stored cursor at once.
//!
//! Owns the lease loop only: the rows live in the archive's catalog (`worker_leases`), the
//! analysis in `workers`. A node that stops renewing stops analysing at its local deadline (lease
//! TTL after the renewal was sent), before another node may take over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::workers::Workers;
use crate::workers::leases::LeaseGate;

use super::{Cluster, ownership};

/// Every held pair is caught up this often even without a hint (a lost "persisted" message).
const SWEEP: Duration = Duration::from_secs(30);

/// Runs the lease loop until the node leaves the cluster.
pub fn start(cluster: Arc<Cluster>, workers: Arc<Workers>, gate: Arc<LeaseGate>) {
    if !workers.enabled() {
        return;
    }
    tokio::spawn(async move {
        let ttl = cluster.config().worker_lease_ttl();
        let mut tick = tokio::time::interval(ttl / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut members = cluster.watch_members();
        let mut stop = cluster.stop.subscribe();
        let mut last_sweep = Instant::now();
        let mut failing = false;
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tick.tick() => {}
                _ = members.changed() => {}
            }
            let sent = Instant::now();
            match tokio::time::timeout(ttl / 2, renew(&cluster, &workers)).await {
                Ok(Ok(held)) => {
                    if failing {
                        tracing::info!("worker leases renewed again");
                    }
                    failing = false;
                    for (worker, stream) in gate.update(held, sent + ttl) {
                        workers.catch_up(&worker, stream);
                    }
                }
                Ok(Err(e)) if !failing => {
                    tracing::warn!("cannot renew the analysis workers' leases: {e}");
                    failing = true;
                }
                Err(_) if !failing => {
                    tracing::warn!("renewing the analysis workers' leases took longer than half their TTL");
                    failing = true;
                }
                _ => {}
            }
            if last_sweep.elapsed() >= SWEEP {
                last_sweep = Instant::now();
                for (worker, streams) in gate.by_worker() {
                    for s in streams {
                        workers.catch_up(&worker, s);
                    }
                }
            }
        }
    });
}

/// One renewal: the pairs this node wants, as granted.
async fn renew(
    cluster: &Cluster,
    workers: &Workers,
) -> Result<Vec<(String, i64)>, crate::archive::IndexError> {
    let members = cluster.members();
    let me = cluster.node_id();
    let ids = cluster.archive.stream_ids().await?;
    let names = workers.names();
    let wanted: Vec<(String, i64)> = ids
        .into_iter()
        .filter(|id| ownership::rendezvous(&members, *id).is_some_and(|m| m.node_id == me))
        .flat_map(|id| names.iter().map(move |n| (n.clone(), id)))
        .collect();
    cluster.archive.worker_leases(me, &wanted, cluster.config().worker_lease_ttl_ms as i64).await
}
