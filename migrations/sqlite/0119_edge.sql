-- KVS Edge Agent configurations and the Secrets Manager-compatible secret store (sqlite dialect).
-- Numbered 0119 so that it sorts after the migrations of work done in parallel. Every column is
-- described in a comment on its line.

CREATE TABLE edge_configurations (
    stream_id             INTEGER PRIMARY KEY REFERENCES streams (id) ON DELETE CASCADE, -- the configured stream (one edge configuration per stream)
    hub_device_arn        TEXT    NOT NULL,   -- EdgeConfig.HubDeviceArn: the agent (IoT thing) that runs it
    config_json           TEXT    NOT NULL,   -- the EdgeConfig as given, JSON with the botocore member names
    sync_status           TEXT    NOT NULL,   -- SyncStatus: SYNCING | ACKNOWLEDGED | IN_SYNC | SYNC_FAILED | DELETING | DELETE_FAILED | DELETING_ACKNOWLEDGED
    failed_details        TEXT,               -- FailedStatusDetails, NULL unless the agent reported a failure
    created_at_ms         INTEGER NOT NULL,   -- CreationTime: the first StartEdgeConfigurationUpdate, epoch ms
    updated_at_ms         INTEGER NOT NULL,   -- LastUpdatedTime: the last update or sync status change, epoch ms
    generation            INTEGER NOT NULL,   -- +1 per StartEdgeConfigurationUpdate; agent reports name the generation they apply
    recorder_status       TEXT,               -- LastRecorderStatus.RecorderStatus: SUCCESS | USER_ERROR | SYSTEM_ERROR, NULL before the first report
    recorder_details      TEXT,               -- LastRecorderStatus.JobStatusDetails
    recorder_collected_ms INTEGER,            -- LastRecorderStatus.LastCollectedTime (agent clock), epoch ms
    recorder_updated_ms   INTEGER,            -- LastRecorderStatus.LastUpdatedTime (server clock), epoch ms
    uploader_status       TEXT,               -- LastUploaderStatus.UploaderStatus, NULL before the first report
    uploader_details      TEXT,               -- LastUploaderStatus.JobStatusDetails
    uploader_collected_ms INTEGER,            -- LastUploaderStatus.LastCollectedTime (agent clock), epoch ms
    uploader_updated_ms   INTEGER             -- LastUploaderStatus.LastUpdatedTime (server clock), epoch ms
);

CREATE INDEX edge_configurations_hub ON edge_configurations (hub_device_arn, stream_id);

CREATE TABLE secrets (
    arn            TEXT    PRIMARY KEY,  -- ARN: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME (no random suffix)
    region         TEXT    NOT NULL,     -- region of the creating request's SigV4 scope
    name           TEXT    NOT NULL,     -- Name, 1..512 characters
    description    TEXT,                 -- Description, NULL when not given
    kms_key_id     TEXT,                 -- KmsKeyId as given (stored, not used: no KMS here)
    secret_string  TEXT,                 -- the current SecretString (plain text at rest: see design/0015-edge-agent.md)
    secret_binary  BLOB,                -- the current SecretBinary
    version_id     TEXT    NOT NULL,     -- VersionId of the current (AWSCURRENT) version
    created_at_ms  INTEGER NOT NULL,     -- CreatedDate, epoch ms
    changed_at_ms  INTEGER NOT NULL,     -- LastChangedDate, epoch ms
    deleted_at_ms  INTEGER,              -- DeletedDate: when DeleteSecret was called, NULL while live
    purge_at_ms    INTEGER,              -- DeletionDate: from then on the secret is gone (rows are removed lazily)
    CONSTRAINT secrets_region_name_key UNIQUE (region, name)
);
