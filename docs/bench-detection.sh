#!/usr/bin/env bash
# Issue 21 benchmark: the detection worker's cost, in one run.
#  1. ms per key frame at 640x360 and 1280x720 with server and detector pinned to one core
#     (`taskset -c 0`): a clip is ingested in a burst (every key frame analysed, motion gate off)
#     and the time from the last PERSISTED ACK to the detection cursor reaching the last fragment
#     is divided by the number of key frames; the detector process is warmed up first.
#  2. PERSISTED latency of N real-time producers with detection off, then on (1 picture per
#     second of every stream, motion gate off: the worst case), same binary, same file; plus the
#     detection lag when the producers stop.
# Usage: docs/bench-detection.sh BIN FILE STREAMS [SECONDS]   (detection/ installed with `npm ci`)
# See docs/BENCHMARKS.md "Object and face detection".
set -euo pipefail
BIN=$1 FILE=$2 N=$3 SECS=${4:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export AWS_ACCESS_KEY_ID=openkvs AWS_SECRET_ACCESS_KEY=openkvs-secret
export OPENKVS_DETECTOR_DIR="$ROOT/detection"
ulimit -n 65536 || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # start CONFIG [taskset-prefix...]; sets PORT PID DATA
  DATA=$(mktemp -d); PORT=$(free_port)
  cp "$1" "$DATA/openkvs.toml"; shift
  "$@" "$BIN" serve --config "$DATA/openkvs.toml" --listen "127.0.0.1:$PORT" --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
}
stop() { kill -TERM "$PID"; wait "$PID" || true; rm -rf "$DATA"; }
api() { curl -s --aws-sigv4 "aws:amz:us-east-1:kinesisvideo" --user openkvs:openkvs-secret \
  -H 'content-type: application/json' -d "$2" "http://127.0.0.1:$PORT/openkvs/$1"; }
processed() { api describeWorkers '{"WorkerName":"detection"}' | python3 -c 'import json,sys
print(json.load(sys.stdin)["Workers"][0]["FragmentsProcessed"])'; }
ingest() { # ingest STREAM CLIP: as fast as possible (every fragment starts with a key frame)
  "$BIN" put --endpoint "http://127.0.0.1:$PORT" --stream "$1" --create --retention-hours 1 \
    --timecode-type RELATIVE "$2" >/dev/null 2>&1
}
wait_processed() { while [ "$(processed)" -lt "$1" ]; do sleep 0.05; done; }

cfg=$(mktemp)
cat >"$cfg" <<'EOF'
[workers.detection]
streams = ["*"]
labels = ["ALL"]
motion_gate = false
EOF
echo "== ms per key frame, one core (taskset -c 0)"
start "$cfg" taskset -c 0
ingest warmup "$ROOT/tests/fixtures/detection_astronaut.mkv"; wait_processed 6
for clip in h264_640x360_20s_2sgop.mkv h264_1280x720_4s.mkv; do
  frames=$(ffprobe -v error -select_streams v -skip_frame nokey -show_entries frame=pts_time -of csv=p=0 \
    "$ROOT/tests/fixtures/$clip" | wc -l)
  s="k-${clip%%.*}"; s=${s//_/-}
  before=$(processed)
  t0=$(date +%s.%N); ingest "$s" "$ROOT/tests/fixtures/$clip"; wait_processed $((before + frames)); t1=$(date +%s.%N)
  python3 -c "import sys; t=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print(f'{sys.argv[4]}: {n} key frames in {t:.2f} s (ingest included): {t*1000/n:.0f} ms per key frame')" "$t0" "$t1" "$frames" "$clip"
done
stop

echo "== PERSISTED latency, $N real-time streams, detection off then on (1 picture/s/stream)"
cat >"$cfg" <<'EOF'
[workers.detection]
streams = ["bench-*"]
labels = ["ALL"]
interval_ms = 1000
motion_gate = false
EOF
off=$(mktemp); echo "" >"$off"
for mode in off on; do
  if [ "$mode" = on ]; then start "$cfg"; else start "$off"; fi
  "$BIN" bench ingest --endpoint "http://127.0.0.1:$PORT" --streams "$N" --file "$FILE" --realtime \
    --duration-secs "$SECS" --ramp-up-secs 2 --json >"$DATA/ingest.json"
  lag=$(api describeWorkers '{"WorkerName":"detection"}' | python3 -c 'import json,sys
w=json.load(sys.stdin)["Workers"][0]
print(sum(s.get("FragmentsBehind",0) for s in w["Streams"]), "fragments behind;", w["FragmentsProcessed"], "analysed")')
  python3 - "$DATA/ingest.json" "$mode" "$lag" <<'PY'
import json, sys
ing = json.load(open(sys.argv[1])); lat = ing.get("persisted_latency_ms", {})
print(f"detection {sys.argv[2]}: {ing.get('fragments_persisted')} fragments, error ACKs {ing.get('error_acks')}, "
      f"PERSISTED p50 {lat.get('p50_ms')} ms p99 {lat.get('p99_ms')} ms; detection: {sys.argv[3]}")
PY
  stop
done
rm -f "$cfg" "$off"
