-- One fragment per producer timestamp within a stream (PostgreSQL dialect;
-- design/0022-producer-failover.md, "Server-side deduplication").
--
-- A producer that lost its connection resends every fragment it had no PERSISTED ACK for; the
-- ones that were committed after all must not be stored twice. The ingest session answers such a
-- resend with the existing fragment's number; this unique index is what makes that hold under any
-- race (two sessions of one producer, or a takeover, committing the same fragment).
--
-- Rows that already collide (a producer resent them to a server without this rule) keep the
-- earliest fragment number; the later copies lose their rows, and their bytes, now unreferenced,
-- go with their segment at the stream's retention.
DELETE FROM fragments a
    USING fragments b
    WHERE a.stream_id = b.stream_id
      AND a.producer_ts_ms = b.producer_ts_ms
      AND a.fragment_number > b.fragment_number;

CREATE UNIQUE INDEX fragments_producer_ts_key ON fragments (stream_id, producer_ts_ms);
DROP INDEX fragments_producer_ts_idx;

COMMENT ON INDEX fragments_producer_ts_key IS 'One fragment per (stream, ProducerTimestamp): a resent fragment is acknowledged with the existing number, not stored again.';
