#!/usr/bin/env bash
# The README's quick start with the Node first on PATH: `npm start` (compiles the service and
# starts it with its embedded S3-compatible store), the README's curl of one sample, then
# SIGTERM to what `npm start` started, as Ctrl-C would. Three checks, each printed with its
# result, and written to $1 as a JSON summary in the shape .ci/summary.mjs reads.
# Uses a free port on 127.0.0.1 and its own data directory instead of :8080 and .data/, so
# it runs beside anything else on the machine; the commands are the README's.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: .ci/quick-start.sh <result.json>}
label="quick start on Node $(node --version)"
passed=0
failed=0
check() { # check <name> <ok: 0|1>
  if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "  ✓ $label: $1"; else failed=$((failed + 1)); echo "  ✗ $label: $1"; fi
}

data=$(mktemp -d)
log="$data.log"
body="$data.answer"
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
# setsid: npm, its shell, node and the embedded store form one process group, signalled as one.
PORT=$port HOST=127.0.0.1 DATA_DIR=$data setsid npm start >"$log" 2>&1 &
group=$!

up=1
for _ in $(seq 1 240); do
  if curl -sf -o /dev/null "http://127.0.0.1:$port/health"; then up=0; break; fi
  kill -0 "$group" 2>/dev/null || break
  sleep 0.5
done
check "npm start compiles and serves http://127.0.0.1:$port" "$up"

stored=1
if [ "$up" = 0 ]; then
  status=$(curl -sS -o "$body" -w '%{http_code}' --data-binary @dcm-samples/ct-1.dcm -H 'Content-Type: application/dicom' "http://127.0.0.1:$port/studies")
  # The README's promise: 200, the instance listed in 00081199, and the object in the store
  # byte for byte (wherever the embedded store keeps it under DATA_DIR).
  if [ "$status" = 200 ] && grep -q '"00081199"' "$body" \
    && [ -n "$(find "$data" -type f -size "$(stat -c %s dcm-samples/ct-1.dcm)c" -exec cmp -s {} dcm-samples/ct-1.dcm \; -print -quit)" ]; then
    stored=0
  else
    echo "    answer: HTTP $status $(head -c 300 "$body" 2>/dev/null)"
  fi
fi
check "stores dcm-samples/ct-1.dcm as the README's curl does" "$stored"

stopped=1
if kill -0 "$group" 2>/dev/null; then
  kill -TERM -- "-$group" 2>/dev/null
  # SHUTDOWN_TIMEOUT_SECONDS is 30 by default; leave it room.
  for _ in $(seq 1 90); do
    if ! pgrep -g "$group" >/dev/null 2>&1; then stopped=0; break; fi
    sleep 0.5
  done
fi
check "stops on SIGTERM (no process left, port $port free)" "$stopped"
if [ "$stopped" != 0 ] && pgrep -g "$group" >/dev/null 2>&1; then kill -KILL -- "-$group" 2>/dev/null; fi
if [ "$failed" != 0 ]; then
  echo "    npm start's output (last lines):"
  tail -n 20 "$log" | sed 's/^/      /'
fi
rm -rf "$data" "$log" "$body"

printf '{"label":"%s","numPassedTests":%d,"numFailedTests":%d,"testResults":[]}\n' "$label" "$passed" "$failed" >"$out"
[ "$failed" = 0 ]
