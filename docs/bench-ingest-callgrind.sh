#!/usr/bin/env bash
# The server's user-space instructions for one `openkvs bench ingest` run, counted by callgrind
# (docs/BENCHMARKS.md, "The two next candidates, measured", "Instruction counts"): repeatable for
# the same binary and input whatever else the machine does, unlike CPU time, so two builds can be
# compared to a fraction of a percent.
# It counts instructions, not cache misses or kernel work (syscalls, page cache, scheduling).
#
#   docs/bench-ingest-callgrind.sh BINARY FILE STREAMS DURATION_SECS RAMP_SECS OUT_PREFIX
#
# Writes OUT_PREFIX.<pid> (callgrind's profile) and prints the bench's PERSISTED count and the
# instructions of the tokio workers' tasks (everything the server does per request, without its
# start-up), of AES-GCM sealing, and of memcpy and malloc/free.
set -euo pipefail
BIN=$1 FILE=$2 N=$3 DUR=$4 RAMP=$5 OUT=$6
command -v valgrind >/dev/null || { echo "needs valgrind (Debian package valgrind)" >&2; exit 1; }
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AWS_ACCESS_KEY_ID=openkvs AWS_SECRET_ACCESS_KEY=openkvs-secret
valgrind --tool=callgrind --callgrind-out-file="$OUT.%p" \
  "$BIN" serve --listen 127.0.0.1:$PORT --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 240); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.5; done
"$BIN" bench ingest --endpoint http://127.0.0.1:$PORT --file "$FILE" --realtime --json \
  --streams "$N" --duration-secs "$DUR" --ramp-up-secs "$RAMP" >"$DATA/bench.json"
kill -INT $SRV; wait $SRV || true
trap 'rm -rf "$DATA"' EXIT
PROFILE=$(ls -t "$OUT".* | head -1)
python3 - "$DATA/bench.json" "$PROFILE" <<'PY'
import json, re, subprocess, sys
b = json.load(open(sys.argv[1]))
def table(inclusive):
    out = subprocess.run(["callgrind_annotate", f"--inclusive={inclusive}", sys.argv[2]],
                         capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(.*?)\s*\[", line)
        if m:
            rows[m.group(2)] = rows.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
    return rows
inc, exc = table("yes"), table("no")
def pick(rows, pat):
    return sum(v for k, v in rows.items() if re.search(pat, k))
tasks = max((v for k, v in inc.items() if k.endswith("worker::Context::run_task")), default=0)
print(f"PERSISTED {b['fragments_persisted']}/{b['fragments_sent']}, {b['bytes'] * 8 / 1e6:.0f} Mbit | "
      f"tasks {tasks / 1e6:.1f} M instructions | sealing "
      f"{max((v for k, v in inc.items() if k.endswith('ChunkSealer::seal_chunk')), default=0) / 1e6:.1f} M | "
      f"memcpy {pick(exc, r'memcpy|memmove') / 1e6:.1f} M | malloc/free "
      f"{pick(exc, r'malloc.c:') / 1e6:.1f} M")
PY
