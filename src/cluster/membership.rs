//! Membership: every node upserts its row in `cluster_members` (node id, advertised URL, random
//! incarnation, expiry = database `now()` + member TTL) every heartbeat interval, renews the leases
//! of the PutMedia sessions it runs in the same beat, and caches the live members for rendezvous
//! hashing. A node that stops beating (killed, paused, cut off from Postgres) is dead once its row
//! expires; nothing here ever decides that another node is dead by any other means.
//!
//! Owns the heartbeat task and nothing else: no HTTP, no NATS.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Cluster;
use crate::archive::IndexError;

impl Cluster {
    /// One heartbeat: renew this node's row and its sessions' leases, then refresh the cached
    /// members.
    pub(super) async fn beat(&self) -> Result<(), IndexError> {
        let ttl = self.config.member_ttl_ms as i64;
        self.archive.heartbeat(&self.node_id, &self.url, &self.incarnation, ttl).await?;
        let held: Vec<(i64, i64)> =
            self.held.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(s, e)| (*s, *e)).collect();
        if !held.is_empty() {
            let renewed = self.archive.renew_writers(&self.node_id, &held, ttl).await?;
            if renewed < held.len() as u64 {
                // A session whose epoch moved on: its next commit is fenced and ends it.
                tracing::warn!(
                    "{} of {} PutMedia sessions on this node lost their stream to another node",
                    held.len() as u64 - renewed,
                    held.len()
                );
            }
        }
        let members = self.archive.live_members().await?;
        let mut cached = self.members.write().unwrap_or_else(|p| p.into_inner());
        if *cached != members {
            let names: Vec<&str> = members.iter().map(|m| m.node_id.as_str()).collect();
            tracing::info!("cluster members: {}", names.join(", "));
            *cached = members;
            self.members_changed.send_modify(|n| *n += 1);
        }
        Ok(())
    }
}

/// Beats every heartbeat interval until `stop` turns true. A failed beat is logged (once per
/// run of failures) and retried at the next tick: the node keeps serving; if the failures last
/// longer than the member TTL, the others see it as dead and its sessions' commits are fenced.
pub(super) async fn run(cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(cluster.config.heartbeat_interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        // Bounded by the TTL: a beat that takes longer is late anyway.
        let ttl = cluster.config.member_ttl().max(Duration::from_millis(100));
        match tokio::time::timeout(ttl, cluster.beat()).await {
            Ok(Ok(())) => {
                if failing {
                    tracing::info!("cluster heartbeat recovered");
                }
                failing = false;
            }
            Ok(Err(e)) => {
                if !failing {
                    tracing::warn!("cluster heartbeat failed: {e}");
                }
                failing = true;
            }
            Err(_) => {
                if !failing {
                    tracing::warn!("cluster heartbeat took longer than the member TTL");
                }
                failing = true;
            }
        }
    }
}
