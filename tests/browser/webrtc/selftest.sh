#!/usr/bin/env bash
# Checks the WebRTC harness itself, without openkvs (about 15 s):
#   1. webrtc.mjs --dry-run (bundle globals, SigV4 presign, fake camera)
#   2. a full master + 2 viewers run against webrtc/mock-signaling.mjs (HTTPS + WSS
#      on 127.0.0.1 with a throwaway self-signed certificate)
#   3. exit codes: unknown channel -> 1, missing bundle is not tested (it would
#      remove the bundle)
# Needs: npm ci, npm run build:webrtc, chromium, openssl.
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
cd "$HERE"
[ -f webrtc/dist/bundle.js ] || npm run --silent build:webrtc
TMP="$(mktemp -d)"
MOCK_PID=
cleanup() { [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== dry run" >&2
out="$(node webrtc.mjs --dry-run)" || fail "dry run: $out"
echo "$out" | node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8"));if(!d.ok||d.dryRun.localVideoSize!=="640x480")process.exit(1)' || fail "dry run: $out"

echo "== mock signaling, 2 viewers" >&2
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=openkvs-selftest \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
node webrtc/mock-signaling.mjs --cert "$TMP/cert.pem" --key "$TMP/key.pem" >"$TMP/mock.out" 2>"$TMP/mock.err" &
MOCK_PID=$!
for _ in $(seq 50); do grep -q listening "$TMP/mock.out" 2>/dev/null && break; sleep 0.1; done
EP="$(awk '/listening/{print $2}' "$TMP/mock.out")"
[ -n "$EP" ] || fail "mock did not start: $(cat "$TMP/mock.err")"
out="$(node webrtc.mjs --endpoint "$EP" --channel selftest --create --viewers 2 --seconds 20)" || fail "mock run: $out"
echo "$out" | node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8"));if(!(d.ok&&d.connected===2&&d.timeToFirstFrameMs.max>0))process.exit(1)' || fail "mock run: $out"
echo "$out" | node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8"));console.error("   ttff",JSON.stringify(d.timeToFirstFrameMs))'

echo "== unknown channel -> exit 1" >&2
set +e
out="$(node webrtc.mjs --endpoint "$EP" --channel no-such-channel --seconds 10)"; rc=$?
set -e
[ "$rc" = 1 ] || fail "unknown channel: exit $rc, $out"

echo "webrtc selftest: 3 passed, 0 failed" >&2
