#!/usr/bin/env bash
# Issue 18 benchmark: cross-node live frame latency (design/0021-cluster-feeds.md). Two cluster
# nodes on loopback share Postgres, SeaweedFS S3 and NATS. Node A starts alone, so it owns every
# stream, and `bench ingest` sends STREAMS real-time producers of FILE to it; then node B joins.
# During the ingest, in the same run, `bench getmedia` reads every stream with one reader on node B
# (frames cross NATS) and one on node A (same node, for comparison). Prints both summaries (JSON).
# Usage: docs/bench-cluster-feeds.sh BIN FILE STREAMS [SECONDS]   (Postgres on 127.0.0.1:5432, S3 on
# http://127.0.0.1:18333 bucket openkvs-test, NATS on 127.0.0.1:4222) — see docs/BENCHMARKS.md "Cluster".
set -euo pipefail
BIN=$1 FILE=$2 N=$3 SECS=${4:-30}
export AWS_ACCESS_KEY_ID=openkvs AWS_SECRET_ACCESS_KEY=openkvs-secret
ulimit -n 65536 || true
db="openkvs_bench_cluster"
psql -h 127.0.0.1 -U postgres -d postgres -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
work=$(mktemp -d); prefix="bench-cluster-$(date +%s)"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/master.key"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null || true; wait || true; rm -rf "$work"' EXIT
start_node() { # name port
  mkdir -p "$work/$1"
  cat >"$work/$1/openkvs.toml" <<EOF
listen = "127.0.0.1:$2"
database_url = "postgres://postgres@127.0.0.1:5432/$db"

[store]
kind = "s3"

[store.s3]
bucket = "openkvs-test"
prefix = "$prefix"
endpoint = "http://127.0.0.1:18333"
access_key_id = "openkvs-test"
secret_access_key = "openkvs-test-secret"

[encryption.keys.cluster]
file = "$work/master.key"

[cluster]
node_id = "$1"
nats_url = "nats://127.0.0.1:4222"
subject_prefix = "openkvs.$prefix"
EOF
  "$BIN" serve --data-dir "$work/$1" --config "$work/$1/openkvs.toml" >"$work/$1/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return; sleep 0.1; done
  echo "node $1 did not start"; cat "$work/$1/server.log"; exit 1
}
pa=$(port); pb=$(port)
start_node node-a "$pa"
"$BIN" bench ingest --endpoint "http://127.0.0.1:$pa" --streams "$N" --file "$FILE" --realtime \
  --duration-secs "$SECS" --json >"$work/ingest.json" &
ing=$!
start_node node-b "$pb"
sleep 5 # every producer is past its first fragment and holds its stream's writer lease on node A
streams=(); for i in $(seq 0 $((N - 1))); do streams+=(--stream "bench-$i"); done
read_secs=$((SECS - 10))
"$BIN" bench getmedia --endpoint "http://127.0.0.1:$pa" --data-endpoint "http://127.0.0.1:$pb" "${streams[@]}" \
  --readers 1 --duration-secs "$read_secs" --json >"$work/cross.json" &
cross=$!
"$BIN" bench getmedia --endpoint "http://127.0.0.1:$pa" --data-endpoint "http://127.0.0.1:$pa" "${streams[@]}" \
  --readers 1 --duration-secs "$read_secs" --json >"$work/same.json" || true
wait $cross || true
wait $ing || true
python3 - "$work" <<'PY'
import json, sys
d = sys.argv[1]
ing = json.load(open(f"{d}/ingest.json"))
print(json.dumps({"ingest": {k: ing.get(k) for k in ("streams", "fragments_persisted", "error_acks", "mbit_per_s")}}))
for name in ("cross", "same"):
    s = json.load(open(f"{d}/{name}.json"))
    print(json.dumps({"readers": "node B (cross-node, NATS)" if name == "cross" else "node A (same node)",
      "frames": s["frames"], "duplicate_frames": s["duplicate_frames"], "errors": s["errors"],
      "frame_latency_ms": s["frame_latency_ms"], "first_fragment_latency_ms": s["first_fragment_latency_ms"]}))
PY
