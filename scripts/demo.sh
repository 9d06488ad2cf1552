#!/usr/bin/env bash
# Set up Anagen on SQLite with the demo clinic and serve it at http://127.0.0.1:8000.
# Safe to run again: migrations and the demo loader are idempotent.
source "$(dirname "$0")/_env.sh"

"$UV" sync --frozen --quiet
"$UV" run --frozen anagen migrate --noinput -v0
"$UV" run --frozen anagen demo
"$UV" run --frozen anagen collectstatic --noinput -v0

# The database-backed task worker runs beside the web server and stops with it.
"$UV" run --frozen anagen db_worker >var/worker.log 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT INT TERM

echo
echo "Anagen is serving at http://${ANAGEN_ADDR:-127.0.0.1:8000}  (Ctrl-C to stop)"
"$UV" run --frozen anagen runserver "${ANAGEN_ADDR:-127.0.0.1:8000}" --noreload
