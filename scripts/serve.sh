#!/usr/bin/env bash
# `make run`: gunicorn and the follow-up worker side by side; Ctrl-C stops both.
# HTTPS=1 serves a self-signed certificate on all interfaces so a phone on the same Wi-Fi can use
# the camera and the service worker (both need HTTPS off localhost).
set -euo pipefail
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
TLS=()
if [ "${HTTPS:-0}" = "1" ]; then
  HOST=0.0.0.0
  export BASE_URL=${BASE_URL:-$($BIN/python scripts/phone.py url "$PORT")}
  $BIN/python scripts/phone.py cert instance/dev-tls
  TLS=(--certfile instance/dev-tls/cert.pem --keyfile instance/dev-tls/key.pem)
  $BIN/python scripts/phone.py banner "$BASE_URL"
elif [ -z "${BASE_URL:-}" ] && { [ "$HOST" = "127.0.0.1" ] || [ "$HOST" = "localhost" ]; }; then
  # The same server, named: browsers refuse passkeys for an IP address but allow them on http://localhost.
  export BASE_URL="http://localhost:$PORT"
elif [ -z "${BASE_URL:-}" ] && [ "$HOST" != "0.0.0.0" ]; then
  export BASE_URL="http://$HOST:$PORT"  # links in QR codes and emails point where the app really listens
fi
export BASE_URL=${BASE_URL:-http://127.0.0.1:$PORT}
# `flask followups …` run by hand in another terminal reads this, so its emails link here too.
mkdir -p instance && printf '%s\n' "$BASE_URL" > instance/base_url

$BIN/flask followups worker --interval "${WORKER_INTERVAL:-30}" &
worker=$!
trap 'kill "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true' EXIT INT TERM
echo "Relbuild on ${BASE_URL:-http://$HOST:$PORT} with the follow-up worker beside it (Ctrl-C stops both)"
# --timeout 120: a badge sheet for a thousand attendees takes WeasyPrint half a minute (BENCHMARKS.md).
$BIN/gunicorn --workers "${WEB_CONCURRENCY:-2}" --threads 4 --timeout 120 --bind "$HOST:$PORT" --access-logfile - "${TLS[@]}" app:app
