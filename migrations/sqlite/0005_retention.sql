-- Retention enforcement (SQLite dialect): what the retention janitor needs (design/0010-retention.md).

-- The lowest segment a stream's rows still reference (MIN(segment)): segment files below it hold only
-- expired bytes and are unlinked.
CREATE INDEX fragments_segment_idx ON fragments (stream_id, segment);

CREATE TABLE deleted_streams (
    stream_id INTEGER PRIMARY KEY -- id of a stream DeleteStream removed (ids are never reused); its store directory, if one is left, is the janitor's to remove
);
