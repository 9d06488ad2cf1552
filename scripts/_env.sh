# Sourced by the scripts: find Python 3.12 and uv, installing uv with that Python if needed.
# uv must never try to download a Python (no network for that here): pyproject says so too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

find_python() {
  local candidate
  for candidate in "${ANAGEN_PYTHON:-}" python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 \
      /usr/local/bin/python3.12 /usr/bin/python3.12; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
      # The real interpreter, not a pyenv shim, so uv keeps the same .venv between runs.
      "$candidate" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  return 1
}

PY="$(find_python)" || {
  echo "Anagen needs Python 3.12 (Django 6 refuses 3.11). Install it (e.g. 'pyenv install 3.12.1') or set ANAGEN_PYTHON." >&2
  exit 2
}
export UV_PYTHON="$PY"
export UV_PYTHON_DOWNLOADS=never

if ! uv --version >/dev/null 2>&1; then
  echo "Installing uv with $PY …"
  "$PY" -m pip install --quiet --disable-pip-version-check uv
  hash -r
fi
UV="$(command -v uv)"
if ! "$UV" --version >/dev/null 2>&1; then
  UV="$(dirname "$PY")/uv"
fi
export UV
