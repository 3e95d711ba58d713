-- Streams and their tags (SQLite dialect). Every column is described in a comment on its line.

CREATE TABLE streams (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- index-internal id; never shown on the wire, never reused
    region          TEXT    NOT NULL,                  -- region from the creating request's SigV4 scope; names are unique per region
    name            TEXT    NOT NULL,                  -- StreamName, [a-zA-Z0-9_.-]{1,256}
    arn             TEXT    NOT NULL,                  -- StreamARN: arn:aws:kinesisvideo:REGION:ACCOUNT:stream/NAME/CREATED_MILLIS
    device_name     TEXT,                              -- DeviceName given at create/update, NULL when never set
    media_type      TEXT,                              -- MediaType given at create/update, e.g. video/h264, NULL when never set
    kms_key_id      TEXT,                              -- KmsKeyId given at create, NULL = the default aws/kinesisvideo key
    retention_hours INTEGER NOT NULL,                  -- DataRetentionInHours, 0..87600; 0 = nothing is archived
    version         TEXT    NOT NULL,                  -- opaque Version token, replaced on every metadata update
    status          TEXT    NOT NULL,                  -- CREATING | ACTIVE | UPDATING | DELETING
    storage_tier    TEXT    NOT NULL DEFAULT 'HOT',    -- StreamStorageConfiguration.DefaultStorageTier: HOT | WARM
    created_at_ms   INTEGER NOT NULL,                  -- creation time, epoch milliseconds (also the ARN suffix)
    CONSTRAINT streams_region_name_key UNIQUE (region, name),
    CONSTRAINT streams_arn_key UNIQUE (arn)
);

CREATE TABLE stream_tags (
    stream_id INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE, -- the tagged stream
    key       TEXT    NOT NULL,                                           -- tag key, 1..128 characters
    value     TEXT    NOT NULL,                                           -- tag value, 0..256 characters
    PRIMARY KEY (stream_id, key)
);
