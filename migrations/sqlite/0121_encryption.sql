-- Encryption at rest (SQLite dialect; design/0018-encryption-at-rest.md). Every column is described in a comment on its line.

CREATE TABLE stream_data_keys (
    stream_id     INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE, -- the stream whose fragments this key seals; deleting the stream deletes its keys (crypto-shredding)
    version       INTEGER NOT NULL,                                           -- 1, 2, …: fragments.key_version names the key that sealed a fragment
    master_key_id TEXT    NOT NULL,                                           -- keyring id of the master key that wraps it ([encryption.keys]; "default" for the generated one)
    wrapped_key   BLOB    NOT NULL,                                           -- nonce (12) || AES-256-GCM(master key, the 32-byte data key) (32) || tag (16); never the key itself
    created_at_ms INTEGER NOT NULL,                                           -- when it was generated, epoch ms
    PRIMARY KEY (stream_id, version)
);

-- 0: the fragment's bytes are stored in plaintext (persisted before encryption at rest existed); N: sealed by the stream's data key version N
ALTER TABLE fragments ADD COLUMN key_version INTEGER NOT NULL DEFAULT 0;
