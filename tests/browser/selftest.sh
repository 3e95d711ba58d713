#!/usr/bin/env bash
# Self-test of play.mjs without openkvs: ffmpeg makes HLS (fMP4, TS) and DASH
# VODs from the fixtures plus one fake live HLS stream (-re, program date time),
# a tiny node server serves them with Access-Control-Allow-Origin: *, and
# play.mjs must pass on each. Needs: chromium, ffmpeg, node >= 20, npm ci done.
# Takes about 3 minutes. Exit 0 iff every run was ok.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
FIX="$HERE/../fixtures"
WORK="$(mktemp -d /tmp/openkvs-play-selftest.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v ffmpeg >/dev/null || { echo "selftest: ffmpeg missing (apt-get install -y ffmpeg)"; exit 2; }
[ -d "$HERE/node_modules/hls.js" ] || { echo "selftest: run npm ci in $HERE"; exit 2; }

# --- media
for n in h264_640x360_20s_2sgop gst_h264_aac_10s; do
  mkdir -p "$WORK/$n/fmp4" "$WORK/$n/ts" "$WORK/$n/dash"
  ffmpeg -v error -y -i "$FIX/$n.mkv" -c copy -f hls -hls_time 2 -hls_segment_type fmp4 \
    -hls_playlist_type vod -hls_fmp4_init_filename init.mp4 \
    -hls_segment_filename "$WORK/$n/fmp4/seg%03d.m4s" "$WORK/$n/fmp4/index.m3u8" || exit 2
  ffmpeg -v error -y -i "$FIX/$n.mkv" -c copy -bsf:v h264_mp4toannexb -f hls -hls_time 2 \
    -hls_segment_type mpegts -hls_playlist_type vod \
    -hls_segment_filename "$WORK/$n/ts/seg%03d.ts" "$WORK/$n/ts/index.m3u8" || exit 2
  (cd "$WORK/$n/dash" && ffmpeg -v error -y -i "$FIX/$n.mkv" -c copy -f dash -seg_duration 2 \
    -use_template 1 -use_timeline 1 manifest.mpd) || exit 2
done

# --- CORS static server (node, no dependencies); prints its port
node -e '
const http = require("http"), fs = require("fs"), path = require("path");
const root = process.argv[1];
const srv = http.createServer((req, res) => {
  const p = path.join(root, decodeURIComponent(new URL(req.url, "http://x").pathname));
  if (!p.startsWith(root)) { res.writeHead(403); return res.end(); }
  fs.readFile(p, (err, buf) => {
    const h = { "Access-Control-Allow-Origin": "*", "Cache-Control": "no-store" };
    if (err) { res.writeHead(404, h); return res.end("not found"); }
    if (p.endsWith(".m3u8")) h["Content-Type"] = "application/vnd.apple.mpegurl";
    else if (p.endsWith(".mpd")) h["Content-Type"] = "application/dash+xml";
    res.writeHead(200, h); res.end(buf);
  });
});
srv.listen(0, "127.0.0.1", () => console.log(srv.address().port));
' "$WORK" > "$WORK/port" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT="$(cat "$WORK/port")"
BASE="http://127.0.0.1:$PORT"

# --- fake live: loop the A/V fixture in real time, fMP4 HLS with PDT
mkdir -p "$WORK/live"
ffmpeg -v error -re -stream_loop -1 -i "$FIX/gst_h264_aac_10s.mkv" -c copy -f hls -hls_time 2 \
  -hls_list_size 5 -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 \
  -hls_flags delete_segments+program_date_time \
  -hls_segment_filename "$WORK/live/seg%05d.m4s" "$WORK/live/index.m3u8" </dev/null &
PIDS+=($!)

pass=0; fail=0
out=""
run() {
  local name="$1"; shift
  local rc
  out="$(node "$HERE/play.mjs" "$@")"; rc=$?
  if [ $rc -eq 0 ]; then pass=$((pass+1)); echo "PASS $name"; else fail=$((fail+1)); echo "FAIL $name (exit $rc)"; fi
  echo "  $out" | cut -c1-600
}
for n in h264_640x360_20s_2sgop gst_h264_aac_10s; do
  run "$n hls-fmp4" --kind hls --mode ondemand --expect-end --url "$BASE/$n/fmp4/index.m3u8"
  run "$n hls-ts"   --kind hls --mode ondemand --expect-end --url "$BASE/$n/ts/index.m3u8"
  run "$n dash"     --kind dash --mode ondemand --expect-end --url "$BASE/$n/dash/manifest.mpd"
done
run "live hls-fmp4" --kind hls --mode live --seconds 20 --url "$BASE/live/index.m3u8"
if ! grep -q '"latencyMs":{"p50"' <<<"$out"; then
  fail=$((fail+1)); echo "FAIL live hls-fmp4: no latency measured"
fi
echo "browser selftest: $pass passed, $fail failed"
[ $fail -eq 0 ]
