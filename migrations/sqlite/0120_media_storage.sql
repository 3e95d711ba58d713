-- WebRTC ingestion: which stream a signaling channel records into (SQLite dialect). Every column is described in a comment on its line.

CREATE TABLE media_storage_configurations (
    channel_id    INTEGER NOT NULL PRIMARY KEY REFERENCES signaling_channels (id) ON DELETE CASCADE, -- the signaling channel (one configuration each)
    stream_id     INTEGER REFERENCES streams (id) ON DELETE CASCADE,                               -- MediaStorageConfiguration.StreamARN's stream; NULL when none was given
    status        TEXT    NOT NULL,                                                                -- MediaStorageConfiguration.Status: ENABLED | DISABLED
    updated_at_ms INTEGER NOT NULL,                                                                -- last UpdateMediaStorageConfiguration, epoch milliseconds
    CONSTRAINT media_storage_configurations_stream_key UNIQUE (stream_id)
);
