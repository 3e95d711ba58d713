-- Several nodes on one database (PostgreSQL dialect; design/0020-cluster.md). Unused by a single node.

CREATE TABLE cluster_members (
    node_id     TEXT        PRIMARY KEY,
    url         TEXT        NOT NULL,
    incarnation TEXT        NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL
);

COMMENT ON TABLE cluster_members IS 'Live openkvs nodes of a cluster: each renews its row every heartbeat; a row past expires_at is a dead node.';
COMMENT ON COLUMN cluster_members.url IS 'The node''s advertised base URL (GetDataEndpoint answers it for the streams the node owns).';
COMMENT ON COLUMN cluster_members.incarnation IS 'Random per process: tells a restarted node from its previous life.';
COMMENT ON COLUMN cluster_members.expires_at IS 'Database time after which the node counts as dead (last heartbeat + member TTL).';

CREATE TABLE stream_writers (
    stream_id        BIGINT      PRIMARY KEY REFERENCES streams (id) ON DELETE CASCADE,
    epoch            BIGINT      NOT NULL,
    node_id          TEXT        NOT NULL,
    lease_expires_at TIMESTAMPTZ
);

COMMENT ON TABLE stream_writers IS 'The fencing epoch of each stream written in cluster mode: a fragment commit carrying another epoch is refused.';
COMMENT ON COLUMN stream_writers.epoch IS 'Raised by one every time a PutMedia session claims the stream.';
COMMENT ON COLUMN stream_writers.node_id IS 'The node that claimed the current epoch.';
COMMENT ON COLUMN stream_writers.lease_expires_at IS 'While a PutMedia session of that node runs: renewed every heartbeat; NULL once it ended.';

ALTER TABLE fragments ADD COLUMN writer_epoch BIGINT;

COMMENT ON COLUMN fragments.writer_epoch IS 'The stream_writers epoch the fragment was committed under (NULL: single node).';
