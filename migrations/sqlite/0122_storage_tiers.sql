-- Storage tiers (SQLite dialect; design/0017-object-store.md, "WARM tier").

-- HOT | WARM: the tier the fragment's segment was written to (the stream's tier when it was persisted); the store reads it there
ALTER TABLE fragments ADD COLUMN tier TEXT NOT NULL DEFAULT 'HOT';
