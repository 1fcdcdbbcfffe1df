#!/usr/bin/env bash
# Make docs/screenshot-index.png: serve a private copy of the sample seeds with
# `feedsvc serve` on 127.0.0.1 and photograph the index page with headless Chromium.
#   docs/screenshot.sh [OUTPUT.png]      (PORT=8123 by default)
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PORT:-8123}"
output="$(realpath -m "${1:-docs/screenshot-index.png}")"
url="http://127.0.0.1:$port/"
work="$(mktemp -d)"
server=""

cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/seeds" "$work/profile"
cp seeds/*.txt seeds/feedsvc.toml "$work/seeds/"

# A fixed clock makes the served dates, and so the picture, repeatable.
FEEDSVC_SEEDS="$work/seeds" FEEDSVC_BASE_URL="$url" SOURCE_DATE_EPOCH=1760000000 \
  feedsvc serve --host 127.0.0.1 --port "$port" --workers 1 >"$work/server.log" 2>&1 &
server=$!

for _ in $(seq 100); do
  curl -fsS -o /dev/null "$url" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS -o /dev/null "$url" || { echo "the server did not answer on $url" >&2; cat "$work/server.log" >&2; exit 1; }

chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size=1200,1400 \
  --screenshot="$output" "$url" >"$work/chromium.log" 2>&1 \
  || { cat "$work/chromium.log" >&2; exit 1; }
echo "wrote $output"
