# Sourced by the scripts: find Python 3.12 and uv, installing uv with that Python if needed.
# uv must never try to download a Python (no network for that here): pyproject says so too.
# Nothing here may exit silently: every failure names what went wrong and how to fix it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

_anagen_fail() {
  local status=$? line=$1 cmd=$2
  echo "error: '${cmd}' failed (exit ${status}, ${BASH_SOURCE[1]:-script} line ${line}); see the output above." >&2
  exit "$status"
}
trap '_anagen_fail "$LINENO" "$BASH_COMMAND"' ERR

find_python() {
  local candidate
  for candidate in "${ANAGEN_PYTHON:-}" python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 \
      /root/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do
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
  echo "error: Anagen needs Python 3.12 (Django 6 refuses 3.11); install it (e.g. 'pyenv install 3.12.1') or set ANAGEN_PYTHON=/path/to/python3.12." >&2
  exit 2
}
export UV_PYTHON="$PY"
export UV_PYTHON_DOWNLOADS=never

# uv on PATH if it works; otherwise our own copy in var/uv (a small venv of its own, so it
# never depends on where pip would put scripts or on that folder being on PATH).
UV_HOME="$PWD/var/uv"
if command -v uv >/dev/null 2>&1 && uv --version >/dev/null 2>&1; then
  UV="$(command -v uv)"
elif [ -x "$UV_HOME/bin/uv" ] && "$UV_HOME/bin/uv" --version >/dev/null 2>&1; then
  UV="$UV_HOME/bin/uv"
else
  echo "Installing uv into var/uv with $PY …"
  mkdir -p var
  if ! { "$PY" -m venv --clear "$UV_HOME" >/dev/null \
      && "$UV_HOME/bin/python" -m pip install --quiet --disable-pip-version-check uv; }; then
    echo "error: could not install uv with $PY (is PyPI reachable?); install it by hand ('pip install uv') and run this again." >&2
    exit 2
  fi
  UV="$UV_HOME/bin/uv"
fi
if ! "$UV" --version >/dev/null 2>&1; then
  echo "error: uv at $UV does not run; remove var/uv and run this again." >&2
  exit 2
fi
export UV
export PATH="$(dirname "$UV"):$PATH"
