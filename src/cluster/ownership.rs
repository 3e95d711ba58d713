//! Stream ownership: which node a stream's live APIs (PUT_MEDIA, GET_MEDIA) go to, and the writer
//! epoch a PutMedia session commits under.
//!
//! - The **preferred owner** of a stream is the live member with the highest rendezvous score
//!   (SHA-256 of node id and stream id): every node computes the same answer from the same member
//!   list, and when a member dies or joins only the streams it wins or loses move.
//! - The **owner** is the node running the stream's PutMedia session (it holds an unexpired writer
//!   lease and is live), else the preferred owner. GetDataEndpoint answers the owner's URL, so
//!   readers and a reconnecting producer go where the stream is written.
//! - A PutMedia that reaches any node is served there: [`Cluster::claim_writer`] raises the
//!   stream's epoch in Postgres (refused while another live node's session holds the lease:
//!   ConnectionLimitExceeded cluster-wide) and the session commits every fragment under that
//!   epoch; the archive's commit refuses a stale one. The lease is renewed by the heartbeat and
//!   ended when the session ends ([`WriterLease`]'s drop).

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Cluster, ClusterMember};
use crate::archive::{IndexError, WriterClaim};

/// Why a writer claim failed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another live node runs a PutMedia session on the stream.
    #[error("node {node_id} runs a PutMedia session on the stream")]
    HeldElsewhere {
        /// That node.
        node_id: String,
    },
    /// The database could not be asked (`NotFound`: the stream is gone).
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// A writer epoch this node holds for one PutMedia session: renewed by the heartbeat while it
/// lives, released (in the background) when dropped.
#[derive(Debug)]
pub struct WriterLease {
    cluster: Arc<Cluster>,
    stream_id: i64,
    epoch: i64,
}

impl WriterLease {
    /// The epoch every fragment of the session is committed under.
    pub fn epoch(&self) -> i64 {
        self.epoch
    }
}

impl Drop for WriterLease {
    fn drop(&mut self) {
        let mut held = self.cluster.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.get(&self.stream_id) == Some(&self.epoch) {
            held.remove(&self.stream_id);
        }
        drop(held);
        let (cluster, stream_id, epoch) = (self.cluster.clone(), self.stream_id, self.epoch);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = cluster.archive.release_writer(stream_id, epoch).await {
                    tracing::debug!("releasing the writer lease of stream {stream_id}: {e}");
                }
            });
        }
    }
}

/// A member's rendezvous score for a stream.
fn score(node_id: &str, stream_id: i64) -> u64 {
    let mut h = Sha256::new();
    h.update(node_id.as_bytes());
    h.update([0]);
    h.update(stream_id.to_be_bytes());
    let d = h.finalize();
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// The member with the highest rendezvous score for the stream (ties broken by node id).
pub fn rendezvous(members: &[ClusterMember], stream_id: i64) -> Option<&ClusterMember> {
    members.iter().max_by(|a, b| {
        score(&a.node_id, stream_id)
            .cmp(&score(&b.node_id, stream_id))
            .then_with(|| b.node_id.cmp(&a.node_id))
    })
}

impl Cluster {
    /// The stream's preferred owner among the cached live members (this node when it knows of
    /// no member, e.g. its own heartbeat lapsed).
    pub fn preferred_owner(&self, stream_id: i64) -> ClusterMember {
        let members = self.members.read().unwrap_or_else(|p| p.into_inner());
        rendezvous(&members, stream_id).cloned().unwrap_or_else(|| self.me())
    }

    /// The stream's owner: the live node running its PutMedia session, else the preferred owner.
    pub async fn owner_of(&self, stream_id: i64) -> Result<ClusterMember, IndexError> {
        Ok(match self.archive.active_writer(stream_id).await? {
            Some(writer) => writer,
            None => self.preferred_owner(stream_id),
        })
    }

    /// Whether this node runs a PutMedia session on the stream (holds its writer lease).
    pub fn owns(&self, stream_id: i64) -> bool {
        self.epoch(stream_id).is_some()
    }

    /// The writer epoch this node holds for the stream, if it runs its PutMedia session.
    pub fn epoch(&self, stream_id: i64) -> Option<i64> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).get(&stream_id).copied()
    }

    /// Claims the stream for a PutMedia session on this node: a new epoch and its lease, or
    /// [`ClaimError::HeldElsewhere`] while another live node's session holds it. The caller has
    /// already made sure no other session of this node runs on the stream.
    pub async fn claim_writer(self: &Arc<Self>, stream_id: i64) -> Result<WriterLease, ClaimError> {
        let ttl = self.config.member_ttl_ms as i64;
        match self.archive.claim_writer(stream_id, &self.node_id, ttl).await? {
            WriterClaim::Granted { epoch } => {
                self.held.lock().unwrap_or_else(|p| p.into_inner()).insert(stream_id, epoch);
                Ok(WriterLease { cluster: self.clone(), stream_id, epoch })
            }
            WriterClaim::Held { node_id } => Err(ClaimError::HeldElsewhere { node_id }),
        }
    }

    fn me(&self) -> ClusterMember {
        ClusterMember { node_id: self.node_id.clone(), url: self.url.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize) -> Vec<ClusterMember> {
        (0..n).map(|i| ClusterMember { node_id: format!("node-{i}"), url: format!("http://h:{i}") }).collect()
    }

    #[test]
    fn rendezvous_spreads_streams_and_moves_only_a_dead_members_share() {
        let three = members(3);
        let mut per_node = [0usize; 3];
        for s in 0..3000 {
            let owner = rendezvous(&three, s).unwrap();
            per_node[three.iter().position(|m| m == owner).unwrap()] += 1;
        }
        assert!(per_node.iter().all(|&n| n > 800), "{per_node:?}");
        let two: Vec<ClusterMember> = three.iter().filter(|m| m.node_id != "node-1").cloned().collect();
        for s in 0..3000 {
            let before = rendezvous(&three, s).unwrap();
            let after = rendezvous(&two, s).unwrap();
            if before.node_id != "node-1" {
                assert_eq!(before, after, "stream {s} moved although its owner lives");
            }
        }
        assert!(rendezvous(&[], 1).is_none());
    }
}
