-- KVS WebRTC signaling channels and their tags (SQLite dialect). Every column is described in a comment on its line.

CREATE TABLE signaling_channels (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT, -- index-internal id; the signaling hub keys live connections by it; never shown on the wire, never reused
    region              TEXT    NOT NULL,                  -- region from the creating request's SigV4 scope; names are unique per region
    name                TEXT    NOT NULL,                  -- ChannelName, [a-zA-Z0-9_.-]{1,256}; independent of stream names
    arn                 TEXT    NOT NULL,                  -- ChannelARN: arn:aws:kinesisvideo:REGION:ACCOUNT:channel/NAME/CREATED_MILLIS
    channel_type        TEXT    NOT NULL,                  -- ChannelType: SINGLE_MASTER (FULL_MESH is refused at create)
    status              TEXT    NOT NULL,                  -- ChannelStatus: CREATING | ACTIVE | UPDATING | DELETING (created ACTIVE)
    message_ttl_seconds INTEGER NOT NULL,                  -- SingleMasterConfiguration.MessageTtlSeconds, 5..120: how long undelivered messages are kept
    version             TEXT    NOT NULL,                  -- opaque Version token, replaced by UpdateSignalingChannel
    created_at_ms       INTEGER NOT NULL,                  -- creation time, epoch milliseconds (also the ARN suffix)
    CONSTRAINT signaling_channels_region_name_key UNIQUE (region, name),
    CONSTRAINT signaling_channels_arn_key UNIQUE (arn)
);

CREATE TABLE signaling_channel_tags (
    channel_id INTEGER NOT NULL REFERENCES signaling_channels (id) ON DELETE CASCADE, -- the tagged channel
    key        TEXT    NOT NULL,                                                     -- tag key, 1..128 characters
    value      TEXT    NOT NULL,                                                     -- tag value, 0..256 characters
    PRIMARY KEY (channel_id, key)
);
