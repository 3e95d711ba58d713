-- Encryption at rest (PostgreSQL dialect; design/0018-encryption-at-rest.md).

CREATE TABLE stream_data_keys (
    stream_id     BIGINT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    version       BIGINT NOT NULL,
    master_key_id TEXT   NOT NULL,
    wrapped_key   BYTEA  NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (stream_id, version)
);

COMMENT ON TABLE stream_data_keys IS 'Per-stream data keys, stored wrapped by a master key of the keyring (design/0018-encryption-at-rest.md).';
COMMENT ON COLUMN stream_data_keys.stream_id IS 'The stream whose fragments this key seals; deleting the stream deletes its keys (crypto-shredding).';
COMMENT ON COLUMN stream_data_keys.version IS '1, 2, ...: fragments.key_version names the key that sealed a fragment.';
COMMENT ON COLUMN stream_data_keys.master_key_id IS 'Keyring id of the master key that wraps it ([encryption.keys]; "default" for the generated one).';
COMMENT ON COLUMN stream_data_keys.wrapped_key IS 'nonce (12) || AES-256-GCM(master key, the 32-byte data key) (32) || tag (16); never the key itself.';
COMMENT ON COLUMN stream_data_keys.created_at_ms IS 'When it was generated, epoch ms.';

ALTER TABLE fragments ADD COLUMN key_version BIGINT NOT NULL DEFAULT 0;

COMMENT ON COLUMN fragments.key_version IS '0: the bytes are stored in plaintext (persisted before encryption at rest existed); N: sealed by the stream''s data key version N.';
