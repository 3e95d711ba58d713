-- Analysis-worker leases (design/0025-cluster-coordination.md) live in the Postgres index only:
-- cluster mode needs Postgres. Nothing to create for a single node.
SELECT 1;
