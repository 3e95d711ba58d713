-- Retention enforcement (PostgreSQL dialect): what the retention janitor needs (design/0010-retention.md).

CREATE INDEX fragments_segment_idx ON fragments (stream_id, segment);

CREATE TABLE deleted_streams (
    stream_id BIGINT PRIMARY KEY
);

COMMENT ON INDEX fragments_segment_idx IS 'The lowest segment a stream still references: segment files below it hold only expired bytes.';
COMMENT ON TABLE deleted_streams IS 'Streams DeleteStream removed (ids are never reused); a store directory left for one is the retention janitor''s to remove.';
COMMENT ON COLUMN deleted_streams.stream_id IS 'The deleted stream''s index id.';
