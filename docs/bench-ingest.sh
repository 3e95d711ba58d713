#!/usr/bin/env bash
# One `openkvs bench ingest` run against a fresh server, with the server's CPU and RSS read from
# /proc every 0.5 s (docs/BENCHMARKS.md, "Setup used for every server run").
#
#   docs/bench-ingest.sh BINARY FILE STREAMS DURATION_SECS RAMP_SECS
#
# Prints one line: load average at start, the bench's PERSISTED count and latencies, server CPU
# seconds, Mbit ingested, CPU ms per Mbit, RSS base (idle server 2 s after start) and peak, and
# RSS per stream = (peak - base) / STREAMS.
set -euo pipefail
BIN=$1 FILE=$2 N=$3 DUR=$4 RAMP=$5
ulimit -n 20000
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AWS_ACCESS_KEY_ID=openkvs AWS_SECRET_ACCESS_KEY=openkvs-secret
"$BIN" serve --listen 127.0.0.1:$PORT --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null; rm -rf "$DATA"' EXIT
sleep 2
rss() { awk '/VmRSS/ {print $2}' /proc/$SRV/status; }
cpu() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' /proc/$SRV/stat; }
BASE=$(rss)
CPU0=$(cpu)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
PEAK=$BASE
"$BIN" bench ingest --endpoint http://127.0.0.1:$PORT --file "$FILE" --realtime --json \
  --streams "$N" --duration-secs "$DUR" --ramp-up-secs "$RAMP" >"$DATA/bench.json" 2>"$DATA/bench.err" &
BENCH=$!
while kill -0 $BENCH 2>/dev/null; do
  R=$(rss); [ "$R" -gt "$PEAK" ] && PEAK=$R
  sleep 0.5
done
wait $BENCH || { cat "$DATA/bench.err" >&2; exit 1; }
CPU1=$(cpu)
python3 - "$DATA/bench.json" "$CPU0" "$CPU1" "$BASE" "$PEAK" "$N" "$LOAD" <<'EOF'
import json, sys
b = json.load(open(sys.argv[1]))
cpu = float(sys.argv[3]) - float(sys.argv[2])
base, peak, n = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
mbit = b["bytes"] * 8 / 1e6
p = b["persisted_latency_ms"]
print(f"load at start {sys.argv[7]} | PERSISTED {b['fragments_persisted']}/{b['fragments_sent']}, "
      f"p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms, errors {b['error_acks']} | server CPU {cpu:.2f} s for "
      f"{mbit:.0f} Mbit = {1000 * cpu / mbit:.3f} ms/Mbit | RSS base {base / 1024:.1f} MB, peak "
      f"{peak / 1024:.1f} MB, per stream {(peak - base) / n:.0f} KiB")
EOF
