-- WebRTC ingestion: which stream a signaling channel records into (PostgreSQL dialect).

CREATE TABLE media_storage_configurations (
    channel_id    BIGINT NOT NULL PRIMARY KEY REFERENCES signaling_channels (id) ON DELETE CASCADE,
    stream_id     BIGINT REFERENCES streams (id) ON DELETE CASCADE,
    status        TEXT   NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    CONSTRAINT media_storage_configurations_stream_key UNIQUE (stream_id)
);

COMMENT ON TABLE media_storage_configurations IS 'WebRTC ingestion: which stream a signaling channel records into (UpdateMediaStorageConfiguration).';
COMMENT ON COLUMN media_storage_configurations.channel_id IS 'The signaling channel (one configuration each).';
COMMENT ON COLUMN media_storage_configurations.stream_id IS 'MediaStorageConfiguration.StreamARN''s stream; NULL when none was given. A stream is mapped to at most one channel.';
COMMENT ON COLUMN media_storage_configurations.status IS 'MediaStorageConfiguration.Status: ENABLED | DISABLED.';
COMMENT ON COLUMN media_storage_configurations.updated_at_ms IS 'Last UpdateMediaStorageConfiguration, epoch milliseconds.';
