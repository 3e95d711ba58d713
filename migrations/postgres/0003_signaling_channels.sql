-- KVS WebRTC signaling channels and their tags (PostgreSQL dialect).

CREATE TABLE signaling_channels (
    id                  BIGSERIAL PRIMARY KEY,
    region              TEXT   NOT NULL,
    name                TEXT   COLLATE "C" NOT NULL,
    arn                 TEXT   NOT NULL,
    channel_type        TEXT   NOT NULL,
    status              TEXT   NOT NULL,
    message_ttl_seconds BIGINT NOT NULL,
    version             TEXT   NOT NULL,
    created_at_ms       BIGINT NOT NULL,
    CONSTRAINT signaling_channels_region_name_key UNIQUE (region, name),
    CONSTRAINT signaling_channels_arn_key UNIQUE (arn)
);

COMMENT ON TABLE signaling_channels IS 'One row per KVS WebRTC signaling channel.';
COMMENT ON COLUMN signaling_channels.id IS 'Index-internal id; the signaling hub keys live connections by it; never shown on the wire, never reused.';
COMMENT ON COLUMN signaling_channels.region IS 'Region from the creating request''s SigV4 scope; names are unique per region.';
COMMENT ON COLUMN signaling_channels.name IS 'ChannelName, [a-zA-Z0-9_.-]{1,256}, independent of stream names; byte-order collation so listing order matches SQLite.';
COMMENT ON COLUMN signaling_channels.arn IS 'ChannelARN: arn:aws:kinesisvideo:REGION:ACCOUNT:channel/NAME/CREATED_MILLIS.';
COMMENT ON COLUMN signaling_channels.channel_type IS 'ChannelType: SINGLE_MASTER (FULL_MESH is refused at create).';
COMMENT ON COLUMN signaling_channels.status IS 'ChannelStatus: CREATING | ACTIVE | UPDATING | DELETING (created ACTIVE).';
COMMENT ON COLUMN signaling_channels.message_ttl_seconds IS 'SingleMasterConfiguration.MessageTtlSeconds, 5..120: how long undelivered messages are kept.';
COMMENT ON COLUMN signaling_channels.version IS 'Opaque Version token, replaced by UpdateSignalingChannel.';
COMMENT ON COLUMN signaling_channels.created_at_ms IS 'Creation time in epoch milliseconds (also the ARN suffix).';

CREATE TABLE signaling_channel_tags (
    channel_id BIGINT NOT NULL REFERENCES signaling_channels (id) ON DELETE CASCADE,
    key        TEXT   NOT NULL,
    value      TEXT   NOT NULL,
    PRIMARY KEY (channel_id, key)
);

COMMENT ON TABLE signaling_channel_tags IS 'Tags of signaling channels (CreateSignalingChannel / TagResource).';
COMMENT ON COLUMN signaling_channel_tags.channel_id IS 'The tagged channel.';
COMMENT ON COLUMN signaling_channel_tags.key IS 'Tag key, 1..128 characters.';
COMMENT ON COLUMN signaling_channel_tags.value IS 'Tag value, 0..256 characters.';
