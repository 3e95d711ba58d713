-- Analysis configuration and results (PostgreSQL dialect): the KVS image-generation and
-- notification configurations of a stream, where each analysis worker has got to, and what the
-- analyzers found.

CREATE TABLE image_generation_configurations (
    stream_id            BIGINT PRIMARY KEY REFERENCES streams (id) ON DELETE CASCADE,
    status               TEXT   NOT NULL,
    image_selector_type  TEXT   NOT NULL,
    destination_uri      TEXT   NOT NULL,
    destination_region   TEXT   NOT NULL,
    sampling_interval_ms BIGINT NOT NULL,
    format               TEXT   NOT NULL,
    jpeg_quality         BIGINT,
    width_pixels         BIGINT,
    height_pixels        BIGINT,
    updated_at_ms        BIGINT NOT NULL
);

COMMENT ON TABLE image_generation_configurations IS 'ImageGenerationConfiguration of a stream (UpdateImageGenerationConfiguration); at most one per stream.';
COMMENT ON COLUMN image_generation_configurations.stream_id IS 'The configured stream.';
COMMENT ON COLUMN image_generation_configurations.status IS 'Status: ENABLED | DISABLED.';
COMMENT ON COLUMN image_generation_configurations.image_selector_type IS 'ImageSelectorType: SERVER_TIMESTAMP | PRODUCER_TIMESTAMP (which clock samples are taken on).';
COMMENT ON COLUMN image_generation_configurations.destination_uri IS 'DestinationConfig.Uri as given, 1..255 characters, e.g. s3://bucket/prefix.';
COMMENT ON COLUMN image_generation_configurations.destination_region IS 'DestinationConfig.DestinationRegion (equals the stream''s region).';
COMMENT ON COLUMN image_generation_configurations.sampling_interval_ms IS 'SamplingInterval: one image every this many milliseconds, >= 200.';
COMMENT ON COLUMN image_generation_configurations.format IS 'Format: JPEG | PNG.';
COMMENT ON COLUMN image_generation_configurations.jpeg_quality IS 'FormatConfig.JPEGQuality, 1..100; NULL when not given.';
COMMENT ON COLUMN image_generation_configurations.width_pixels IS 'WidthPixels, 1..3840; NULL keeps the source width (or the aspect ratio).';
COMMENT ON COLUMN image_generation_configurations.height_pixels IS 'HeightPixels, 1..2160; NULL keeps the source height (or the aspect ratio).';
COMMENT ON COLUMN image_generation_configurations.updated_at_ms IS 'When UpdateImageGenerationConfiguration last stored it, epoch ms.';

CREATE TABLE notification_configurations (
    stream_id       BIGINT PRIMARY KEY REFERENCES streams (id) ON DELETE CASCADE,
    status          TEXT   NOT NULL,
    destination_uri TEXT   NOT NULL,
    updated_at_ms   BIGINT NOT NULL
);

COMMENT ON TABLE notification_configurations IS 'NotificationConfiguration of a stream (UpdateNotificationConfiguration); at most one per stream.';
COMMENT ON COLUMN notification_configurations.stream_id IS 'The configured stream.';
COMMENT ON COLUMN notification_configurations.status IS 'Status: ENABLED | DISABLED.';
COMMENT ON COLUMN notification_configurations.destination_uri IS 'DestinationConfig.Uri as given: http(s) webhook, nats://SUBJECT or an SNS topic ARN.';
COMMENT ON COLUMN notification_configurations.updated_at_ms IS 'When UpdateNotificationConfiguration last stored it, epoch ms.';

CREATE TABLE worker_cursors (
    worker          TEXT   NOT NULL,
    stream_id       BIGINT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    fragment_number TEXT   COLLATE "C" NOT NULL,
    updated_at_ms   BIGINT NOT NULL,
    PRIMARY KEY (worker, stream_id)
);

COMMENT ON TABLE worker_cursors IS 'How far each analysis worker has got in each stream.';
COMMENT ON COLUMN worker_cursors.worker IS 'The analysis worker''s name, e.g. images or motion.';
COMMENT ON COLUMN worker_cursors.stream_id IS 'The stream it works through.';
COMMENT ON COLUMN worker_cursors.fragment_number IS 'The last fragment the worker finished; only ever moves forward (byte-order collation, like fragments.fragment_number).';
COMMENT ON COLUMN worker_cursors.updated_at_ms IS 'When the cursor last moved, epoch ms.';

CREATE TABLE analyzer_events (
    id              BIGSERIAL PRIMARY KEY,
    stream_id       BIGINT           NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    worker          TEXT             NOT NULL,
    kind            TEXT             NOT NULL,
    fragment_number TEXT             COLLATE "C",
    producer_ts_ms  BIGINT           NOT NULL,
    server_ts_ms    BIGINT           NOT NULL,
    end_ts_ms       BIGINT,
    score           DOUBLE PRECISION,
    detail          TEXT             NOT NULL,
    created_at_ms   BIGINT           NOT NULL
);

CREATE INDEX analyzer_events_stream_producer_ts_idx ON analyzer_events (stream_id, producer_ts_ms, id);

COMMENT ON TABLE analyzer_events IS 'What the analyzers found (motion, generated images, analyzer failures), one row per event.';
COMMENT ON COLUMN analyzer_events.id IS 'Event id; orders events of the same millisecond; never reused.';
COMMENT ON COLUMN analyzer_events.stream_id IS 'The stream the event is about.';
COMMENT ON COLUMN analyzer_events.worker IS 'The worker that recorded it.';
COMMENT ON COLUMN analyzer_events.kind IS 'What happened: motion_start | motion_end | image | analyzer_error | ...';
COMMENT ON COLUMN analyzer_events.fragment_number IS 'The fragment it was found in; NULL when not tied to one.';
COMMENT ON COLUMN analyzer_events.producer_ts_ms IS 'When it happened, producer time, epoch ms.';
COMMENT ON COLUMN analyzer_events.server_ts_ms IS 'When it happened, server (arrival) time, epoch ms.';
COMMENT ON COLUMN analyzer_events.end_ts_ms IS 'End of the interval it covers (producer time, epoch ms); NULL for instants.';
COMMENT ON COLUMN analyzer_events.score IS 'Analyzer-specific strength (e.g. changed-area fraction); NULL when none.';
COMMENT ON COLUMN analyzer_events.detail IS 'Analyzer-specific detail, JSON text.';
COMMENT ON COLUMN analyzer_events.created_at_ms IS 'When the row was written, epoch ms.';
