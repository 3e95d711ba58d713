-- Track headers and fragments (SQLite dialect).

CREATE TABLE track_headers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,                              -- referenced by fragments.header_id
    stream_id     INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,     -- the stream that sent it
    sha256        TEXT    NOT NULL,                                               -- hex SHA-256 of bytes, to store each header set once
    bytes         BLOB    NOT NULL,                                               -- EBML header + Segment (unknown size) + Info + Tracks, verbatim as sent
    created_at_ms INTEGER NOT NULL,                                               -- when it was first seen, epoch ms
    CONSTRAINT track_headers_stream_sha_key UNIQUE (stream_id, sha256)
);

CREATE TABLE fragments (
    stream_id        INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,      -- owning stream
    fragment_number  TEXT    NOT NULL,                                                -- 47-digit FragmentNumber; text order = ingest order
    cluster_timecode INTEGER NOT NULL,                                                -- Cluster Timecode as the producer sent it (ACK FragmentTimecode)
    producer_ts_ms   INTEGER NOT NULL,                                                -- ProducerTimestamp of the first frame, epoch ms
    server_ts_ms     INTEGER NOT NULL,                                                -- ServerTimestamp: arrival of the fragment's first byte, epoch ms
    duration_ms      INTEGER NOT NULL,                                                -- FragmentLengthInMilliseconds
    size_bytes       INTEGER NOT NULL,                                                -- FragmentSizeInBytes (the stored Cluster)
    header_id        INTEGER NOT NULL REFERENCES track_headers (id) ON DELETE CASCADE, -- header set the fragment was sent under
    segment          INTEGER NOT NULL,                                                -- store segment file number
    byte_offset      INTEGER NOT NULL,                                                -- offset of the Cluster in the segment
    byte_length      INTEGER NOT NULL,                                                -- length of the Cluster in the segment
    key_frame        INTEGER NOT NULL,                                                -- 1 when the first frame is a key frame
    tracks           TEXT    NOT NULL,                                                -- comma-separated track numbers that have frames
    frame_count      INTEGER NOT NULL,                                                -- number of frames
    metadata         TEXT    NOT NULL,                                                -- producer metadata tags, JSON [[name, value], ...]
    PRIMARY KEY (stream_id, fragment_number)
);

CREATE INDEX fragments_server_ts_idx ON fragments (stream_id, server_ts_ms);
CREATE INDEX fragments_producer_ts_idx ON fragments (stream_id, producer_ts_ms);
