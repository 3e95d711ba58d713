-- Analysis configuration and results (SQLite dialect): the KVS image-generation and notification
-- configurations of a stream, where each analysis worker has got to, and what the analyzers found.
-- Every column is described in a comment on its line.

CREATE TABLE image_generation_configurations (
    stream_id            INTEGER PRIMARY KEY REFERENCES streams (id) ON DELETE CASCADE, -- the configured stream (one configuration per stream)
    status               TEXT    NOT NULL,                                              -- Status: ENABLED | DISABLED
    image_selector_type  TEXT    NOT NULL,                                              -- ImageSelectorType: SERVER_TIMESTAMP | PRODUCER_TIMESTAMP (which clock samples are taken on)
    destination_uri      TEXT    NOT NULL,                                              -- DestinationConfig.Uri as given, 1..255 characters, e.g. s3://bucket/prefix
    destination_region   TEXT    NOT NULL,                                              -- DestinationConfig.DestinationRegion (equals the stream's region)
    sampling_interval_ms INTEGER NOT NULL,                                              -- SamplingInterval: one image every this many milliseconds, >= 200
    format               TEXT    NOT NULL,                                              -- Format: JPEG | PNG
    jpeg_quality         INTEGER,                                                       -- FormatConfig.JPEGQuality, 1..100; NULL when not given
    width_pixels         INTEGER,                                                       -- WidthPixels, 1..3840; NULL keeps the source width (or the aspect ratio)
    height_pixels        INTEGER,                                                       -- HeightPixels, 1..2160; NULL keeps the source height (or the aspect ratio)
    updated_at_ms        INTEGER NOT NULL                                               -- when UpdateImageGenerationConfiguration last stored it, epoch ms
);

CREATE TABLE notification_configurations (
    stream_id       INTEGER PRIMARY KEY REFERENCES streams (id) ON DELETE CASCADE, -- the configured stream (one configuration per stream)
    status          TEXT    NOT NULL,                                             -- Status: ENABLED | DISABLED
    destination_uri TEXT    NOT NULL,                                             -- DestinationConfig.Uri as given: http(s) webhook, nats://SUBJECT or an SNS topic ARN
    updated_at_ms   INTEGER NOT NULL                                              -- when UpdateNotificationConfiguration last stored it, epoch ms
);

CREATE TABLE worker_cursors (
    worker          TEXT    NOT NULL,                                             -- the analysis worker's name, e.g. images or motion
    stream_id       INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,   -- the stream it works through
    fragment_number TEXT    NOT NULL,                                             -- the last fragment the worker finished; only ever moves forward
    updated_at_ms   INTEGER NOT NULL,                                             -- when the cursor last moved, epoch ms
    PRIMARY KEY (worker, stream_id)
);

CREATE TABLE analyzer_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,                            -- event id; orders events of the same millisecond; never reused
    stream_id       INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,   -- the stream the event is about
    worker          TEXT    NOT NULL,                                             -- the worker that recorded it
    kind            TEXT    NOT NULL,                                             -- what happened: motion_start | motion_end | image | analyzer_error | ...
    fragment_number TEXT,                                                         -- the fragment it was found in; NULL when not tied to one
    producer_ts_ms  INTEGER NOT NULL,                                             -- when it happened, producer time, epoch ms
    server_ts_ms    INTEGER NOT NULL,                                             -- when it happened, server (arrival) time, epoch ms
    end_ts_ms       INTEGER,                                                      -- end of the interval it covers (producer time, epoch ms); NULL for instants
    score           REAL,                                                         -- analyzer-specific strength (e.g. changed-area fraction); NULL when none
    detail          TEXT    NOT NULL,                                             -- analyzer-specific detail, JSON text
    created_at_ms   INTEGER NOT NULL                                              -- when the row was written, epoch ms
);

CREATE INDEX analyzer_events_stream_producer_ts_idx ON analyzer_events (stream_id, producer_ts_ms, id);
