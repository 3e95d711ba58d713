#!/usr/bin/env bash
# Issue 17 benchmark: the same PutMedia load on Postgres + local disk and on Postgres + S3
# (SeaweedFS on loopback), one after the other in one run. Prints, per backend: server CPU ms per
# Mbit ingested, PERSISTED p50/p99, object PUTs per fragment (objects in the bucket ÷ fragments),
# HLS segment fetch p50/p99 (10 LIVE viewers of bench-0 during the run).
# Usage: docs/bench-s3.sh BIN FILE STREAMS [SECONDS]   (SeaweedFS S3 on 127.0.0.1:18333, bucket
# openkvs-test; Postgres on 127.0.0.1:5432) — see docs/BENCHMARKS.md "Fragments in S3".
set -euo pipefail
BIN=$1 FILE=$2 N=$3 SECS=${4:-20}
export AWS_ACCESS_KEY_ID=openkvs AWS_SECRET_ACCESS_KEY=openkvs-secret
ulimit -n 65536 || true
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
for backend in local s3; do
  db="openkvs_bench_$backend"
  psql -h 127.0.0.1 -U postgres -d postgres -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  data=$(mktemp -d); prefix="bench-$(date +%s)-$backend"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  store=()
  [ "$backend" = s3 ] && store=(--store-kind s3 --s3-endpoint http://127.0.0.1:18333 --s3-bucket openkvs-test --s3-prefix "$prefix")
  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" \
    --database-url "postgres://postgres@127.0.0.1:5432/$db" "${store[@]}" >"$data/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  weed=$(pgrep -f "weed server" | head -1 || true)
  c0=$(cpu $pid); w0=$([ -n "$weed" ] && cpu "$weed" || echo 0)
  "$BIN" bench ingest --endpoint "http://127.0.0.1:$port" --streams "$N" --file "$FILE" --realtime \
    --duration-secs "$SECS" --ramp-up-secs 5 --json >"$data/ingest.json" &
  ing=$!
  sleep 8
  "$BIN" bench hls --endpoint "http://127.0.0.1:$port" --stream bench-0 --viewers 10 --duration-secs 10 --json >"$data/hls.json" || true
  wait $ing
  c1=$(cpu $pid); w1=$([ -n "$weed" ] && cpu "$weed" || echo 0)
  objects=""
  if [ "$backend" = s3 ]; then
    objects=$(python3 -c 'import sys, boto3
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:18333", aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
n = sum(len(p.get("Contents", [])) for p in s3.get_paginator("list_objects_v2").paginate(Bucket="openkvs-test", Prefix=sys.argv[1] + "/"))
print(n)' "$prefix")
  fi
  python3 - "$data" "$c0" "$c1" "$backend" "$objects" "$((w1 - w0))" <<'PY'
import json, sys
d, c0, c1, backend, objects, weed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
ing = json.load(open(f"{d}/ingest.json"))
try: hls = json.load(open(f"{d}/hls.json"))
except Exception: hls = {}
cpu_s = (c1 - c0) / 100.0
mbit = ing.get("bytes", 0) * 8 / 1e6
lat = ing.get("persisted_latency_ms", {})
frags = ing.get("fragments_persisted", 0)
seg = hls.get("segment_fetch_ms") or {}
print(json.dumps({"backend": backend, "streams": ing.get("streams"), "fragments_persisted": frags,
  "error_acks": ing.get("error_acks"), "server_cpu_s": cpu_s, "mbit": round(mbit, 1),
  "cpu_ms_per_mbit": round(cpu_s * 1000 / mbit, 3) if mbit else None,
  "s3_server_cpu_ms_per_mbit": round(weed * 10 / mbit, 3) if mbit and backend == "s3" else None,
  "persisted_p50_ms": lat.get("p50_ms"), "persisted_p99_ms": lat.get("p99_ms"),
  "objects": objects, "objects_per_fragment": round(int(objects) / frags, 3) if objects.isdigit() and frags else None,
  "hls_segment_fetch": seg}))
PY
  kill -TERM $pid; wait $pid || true
  rm -rf "$data"
done
