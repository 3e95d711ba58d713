-- Several nodes on one database (SQLite dialect; design/0020-cluster.md). Cluster mode needs
-- Postgres: SQLite only keeps the fragment column so both dialects share the fragment insert.

-- The stream_writers epoch the fragment was committed under (NULL: single node)
ALTER TABLE fragments ADD COLUMN writer_epoch INTEGER;
