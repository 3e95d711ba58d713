-- Streams and their tags (PostgreSQL dialect).

CREATE TABLE streams (
    id              BIGSERIAL PRIMARY KEY,
    region          TEXT   NOT NULL,
    name            TEXT   COLLATE "C" NOT NULL,
    arn             TEXT   NOT NULL,
    device_name     TEXT,
    media_type      TEXT,
    kms_key_id      TEXT,
    retention_hours BIGINT NOT NULL,
    version         TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    storage_tier    TEXT   NOT NULL DEFAULT 'HOT',
    created_at_ms   BIGINT NOT NULL,
    CONSTRAINT streams_region_name_key UNIQUE (region, name),
    CONSTRAINT streams_arn_key UNIQUE (arn)
);

COMMENT ON TABLE streams IS 'One row per Kinesis video stream.';
COMMENT ON COLUMN streams.id IS 'Index-internal id; never shown on the wire, never reused.';
COMMENT ON COLUMN streams.region IS 'Region from the creating request''s SigV4 scope; names are unique per region.';
COMMENT ON COLUMN streams.name IS 'StreamName, [a-zA-Z0-9_.-]{1,256}; byte-order collation so listing order matches SQLite.';
COMMENT ON COLUMN streams.arn IS 'StreamARN: arn:aws:kinesisvideo:REGION:ACCOUNT:stream/NAME/CREATED_MILLIS.';
COMMENT ON COLUMN streams.device_name IS 'DeviceName given at create/update; NULL when never set.';
COMMENT ON COLUMN streams.media_type IS 'MediaType given at create/update, e.g. video/h264; NULL when never set.';
COMMENT ON COLUMN streams.kms_key_id IS 'KmsKeyId given at create; NULL means the default aws/kinesisvideo key.';
COMMENT ON COLUMN streams.retention_hours IS 'DataRetentionInHours, 0..87600; 0 means nothing is archived.';
COMMENT ON COLUMN streams.version IS 'Opaque Version token, replaced on every metadata update.';
COMMENT ON COLUMN streams.status IS 'CREATING | ACTIVE | UPDATING | DELETING.';
COMMENT ON COLUMN streams.storage_tier IS 'StreamStorageConfiguration.DefaultStorageTier: HOT | WARM.';
COMMENT ON COLUMN streams.created_at_ms IS 'Creation time in epoch milliseconds (also the ARN suffix).';

CREATE TABLE stream_tags (
    stream_id BIGINT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    key       TEXT   NOT NULL,
    value     TEXT   NOT NULL,
    PRIMARY KEY (stream_id, key)
);

COMMENT ON TABLE stream_tags IS 'Tags of streams (TagStream / TagResource).';
COMMENT ON COLUMN stream_tags.stream_id IS 'The tagged stream.';
COMMENT ON COLUMN stream_tags.key IS 'Tag key, 1..128 characters.';
COMMENT ON COLUMN stream_tags.value IS 'Tag value, 0..256 characters.';
