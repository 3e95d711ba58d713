-- Storage tiers (PostgreSQL dialect; design/0017-object-store.md, "WARM tier").

ALTER TABLE fragments ADD COLUMN tier TEXT NOT NULL DEFAULT 'HOT';

COMMENT ON COLUMN fragments.tier IS 'HOT | WARM: the tier the fragment''s segment was written to (the stream''s tier when it was persisted); the store reads it there.';
