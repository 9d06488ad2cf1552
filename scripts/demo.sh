#!/usr/bin/env bash
# Set up Anagen on SQLite with the demo clinic and serve it at http://127.0.0.1:8000
# (ANAGEN_ADDR=127.0.0.1:8001 serves elsewhere). Installs uv into var/uv when it is not on PATH.
# Safe to run again: migrations and the demo loader are idempotent.
if [ -z "${BASH_VERSION:-}" ]; then echo "error: run this with bash: bash $0" >&2; exit 2; fi
# shellcheck source=scripts/_env.sh
source "$(dirname "$0")/_env.sh"
addr="${ANAGEN_ADDR:-127.0.0.1:8000}"

anagen_step "installing the locked dependencies (uv sync)" \
  "uv says why above (PyPI unreachable? an old uv on PATH: upgrade it or set ANAGEN_UV=/path/to/uv)." \
  "$UV" sync --frozen --quiet
anagen_step "migrating the database" \
  "read the message above; to start the demo database afresh delete var/anagen.sqlite3." \
  "$UV" run --frozen anagen migrate --noinput -v0
anagen_step "loading the demo clinic" \
  "read the message above; to start the demo database afresh delete var/anagen.sqlite3." \
  "$UV" run --frozen anagen demo
anagen_step "collecting static files" \
  "read the message above; delete staticfiles/ and run this again." \
  "$UV" run --frozen anagen collectstatic --noinput -v0

# The database-backed task worker runs beside the web server and stops with it.
"$UV" run --frozen anagen db_worker >var/worker.log 2>&1 &
worker=$!
trap 'kill "$worker" 2>/dev/null || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo
echo "Anagen is serving at http://${addr}  (Ctrl-C to stop; the task worker logs to var/worker.log)"
anagen_step "serving on ${addr}" \
  "if the address is in use, serve elsewhere with ANAGEN_ADDR=127.0.0.1:8001 bash scripts/demo.sh." \
  "$UV" run --frozen anagen runserver "$addr" --noreload
