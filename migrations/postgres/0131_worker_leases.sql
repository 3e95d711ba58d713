-- Analysis-worker leases of a cluster (PostgreSQL dialect; design/0025-cluster-coordination.md). Unused by a single node.

CREATE TABLE worker_leases (
    worker     TEXT        NOT NULL,
    stream_id  BIGINT      NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    node_id    TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (worker, stream_id)
);

CREATE INDEX worker_leases_node ON worker_leases (node_id);

COMMENT ON TABLE worker_leases IS 'Which node runs each analysis worker on each stream: the holder renews its rows every third of the lease TTL; an expired row, or one whose node is no live member, may be taken by another node.';
COMMENT ON COLUMN worker_leases.expires_at IS 'Database time after which another node may take the lease.';
