#!/usr/bin/env bash
# The shared side-by-side harness (../shared/bench/side_by_side.sh: nginx-rtmp, then openkvs, same
# media, same publisher harness, one run) at any N. That script leaves peer_ingest.py at its default
# bound of 200 publishers; this wrapper runs an identical copy of it that passes `--max-n N`, from a
# scratch folder beside links to the shared harness files, and raises the open-file limit first
# (N publishers hold N sockets in the server, plus a process and pipes each on the client side).
#
# Usage: LAB=/scratch OPENKVS=/path/to/openkvs benches/side_by_side_any_n.sh N [MEDIA_MKV]
#   SHARED_BENCH=dir of side_by_side.sh (default: ../shared/bench beside the repository)
set -euo pipefail
N=${1:?number of publishers}
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED_BENCH:-$here/../shared/bench}
shared=$(cd "$shared" && pwd)
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
ln -s "$shared/peer_ingest.py" "$shared/nginx-rtmp-hls.conf" "$copy/"
# The one difference: every peer_ingest.py invocation gets --max-n N.
sed 's/ --n \$N / --n $N --max-n $N /' "$shared/side_by_side.sh" > "$copy/side_by_side.sh"
grep -q -- '--max-n \$N' "$copy/side_by_side.sh" || { echo "side_by_side.sh changed: --n \$N not found" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
MEDIA=${2:-$shared/../media/h264_1280x720_60s_1500k.mkv}
bash "$copy/side_by_side.sh" "$N" "$MEDIA"
