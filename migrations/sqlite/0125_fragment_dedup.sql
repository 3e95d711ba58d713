-- One fragment per producer timestamp within a stream (SQLite dialect;
-- design/0022-producer-failover.md, "Server-side deduplication").
--
-- A resent fragment that was committed after all is answered with the existing fragment's number
-- and not stored again; this unique index makes that hold under any race. Rows that already
-- collide keep the earliest fragment number (the later copies' bytes go with their segment at the
-- stream's retention).
DELETE FROM fragments
    WHERE EXISTS (SELECT 1 FROM fragments b
                  WHERE b.stream_id = fragments.stream_id
                    AND b.producer_ts_ms = fragments.producer_ts_ms
                    AND b.fragment_number < fragments.fragment_number);

CREATE UNIQUE INDEX fragments_producer_ts_key ON fragments (stream_id, producer_ts_ms);
DROP INDEX fragments_producer_ts_idx;
