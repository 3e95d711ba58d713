-- Track headers and fragments (PostgreSQL dialect).

CREATE TABLE track_headers (
    id            BIGSERIAL PRIMARY KEY,
    stream_id     BIGINT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    sha256        TEXT   NOT NULL,
    bytes         BYTEA  NOT NULL,
    created_at_ms BIGINT NOT NULL,
    CONSTRAINT track_headers_stream_sha_key UNIQUE (stream_id, sha256)
);

COMMENT ON TABLE track_headers IS 'Matroska header sets (EBML/Segment/Info/Tracks), stored once per change per stream.';
COMMENT ON COLUMN track_headers.id IS 'Referenced by fragments.header_id.';
COMMENT ON COLUMN track_headers.stream_id IS 'The stream that sent it.';
COMMENT ON COLUMN track_headers.sha256 IS 'Hex SHA-256 of bytes, so each header set is stored once.';
COMMENT ON COLUMN track_headers.bytes IS 'EBML header + Segment (unknown size) + Info + Tracks, verbatim as sent.';
COMMENT ON COLUMN track_headers.created_at_ms IS 'When it was first seen, epoch ms.';

CREATE TABLE fragments (
    stream_id        BIGINT  NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    fragment_number  TEXT    COLLATE "C" NOT NULL,
    cluster_timecode BIGINT  NOT NULL,
    producer_ts_ms   BIGINT  NOT NULL,
    server_ts_ms     BIGINT  NOT NULL,
    duration_ms      BIGINT  NOT NULL,
    size_bytes       BIGINT  NOT NULL,
    header_id        BIGINT  NOT NULL REFERENCES track_headers (id) ON DELETE CASCADE,
    segment          BIGINT  NOT NULL,
    byte_offset      BIGINT  NOT NULL,
    byte_length      BIGINT  NOT NULL,
    key_frame        BOOLEAN NOT NULL,
    tracks           TEXT    NOT NULL,
    frame_count      BIGINT  NOT NULL,
    metadata         TEXT    NOT NULL,
    PRIMARY KEY (stream_id, fragment_number)
);

CREATE INDEX fragments_server_ts_idx ON fragments (stream_id, server_ts_ms);
CREATE INDEX fragments_producer_ts_idx ON fragments (stream_id, producer_ts_ms);

COMMENT ON TABLE fragments IS 'One row per persisted fragment (one Matroska Cluster).';
COMMENT ON COLUMN fragments.stream_id IS 'Owning stream.';
COMMENT ON COLUMN fragments.fragment_number IS '47-digit FragmentNumber; text order equals ingest order.';
COMMENT ON COLUMN fragments.cluster_timecode IS 'Cluster Timecode as the producer sent it (the ACK FragmentTimecode).';
COMMENT ON COLUMN fragments.producer_ts_ms IS 'ProducerTimestamp of the first frame, epoch ms.';
COMMENT ON COLUMN fragments.server_ts_ms IS 'ServerTimestamp: arrival of the fragment''s first byte, epoch ms.';
COMMENT ON COLUMN fragments.duration_ms IS 'FragmentLengthInMilliseconds.';
COMMENT ON COLUMN fragments.size_bytes IS 'FragmentSizeInBytes (the stored Cluster).';
COMMENT ON COLUMN fragments.header_id IS 'Header set the fragment was sent under.';
COMMENT ON COLUMN fragments.segment IS 'Store segment file number.';
COMMENT ON COLUMN fragments.byte_offset IS 'Offset of the Cluster in the segment.';
COMMENT ON COLUMN fragments.byte_length IS 'Length of the Cluster in the segment.';
COMMENT ON COLUMN fragments.key_frame IS 'Whether the first frame is a key frame.';
COMMENT ON COLUMN fragments.tracks IS 'Comma-separated track numbers that have frames.';
COMMENT ON COLUMN fragments.frame_count IS 'Number of frames.';
COMMENT ON COLUMN fragments.metadata IS 'Producer metadata tags, JSON [[name, value], ...].';
