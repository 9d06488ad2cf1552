# Sourced by scripts/demo.sh, scripts/test.sh and .ci/run: find Python 3.12 and uv, installing
# uv into var/uv (a small venv of its own) with that Python when uv is not on PATH.
# uv must never download a Python: pyproject says so too, and UV_PYTHON pins the one found here.
# Nothing here may exit silently: every failure prints one line naming what failed and the fix.
# shellcheck shell=bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Backstop for any command without its own message (the steps below have theirs).
_anagen_on_err() {
  local status=$? line=$1 cmd=$2 file=$3
  echo "error: '${cmd}' failed (exit ${status}, ${file} line ${line}); the lines above say why." >&2
  exit "$status"
}
trap '_anagen_on_err "$LINENO" "$BASH_COMMAND" "${BASH_SOURCE[0]:-script}"' ERR

# anagen_fail "what failed: how to fix it" — one line on stderr, exit 2.
anagen_fail() {
  echo "error: $*" >&2
  exit 2
}

# anagen_step "what" "how to fix it" command args… — run one step; on failure say which and why.
anagen_step() {
  local what=$1 fix=$2 status=0
  shift 2
  "$@" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "error: ${what} failed (exit ${status}); ${fix}" >&2
    exit "$status"
  fi
}

_anagen_is_312() {
  "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1
}

_anagen_find_python() {
  local candidate
  if [ -n "${ANAGEN_PYTHON:-}" ]; then
    # Asked for by name: use it or say why not, never quietly pick another one.
    if ! command -v "$ANAGEN_PYTHON" >/dev/null 2>&1; then
      anagen_fail "ANAGEN_PYTHON=$ANAGEN_PYTHON does not exist; point it at a python3.12 (e.g. /root/.pyenv/versions/3.12.1/bin/python3.12) or unset it."
    fi
    if ! _anagen_is_312 "$ANAGEN_PYTHON"; then
      anagen_fail "ANAGEN_PYTHON=$ANAGEN_PYTHON is not a working Python 3.12; point it at a python3.12 or unset it."
    fi
    "$ANAGEN_PYTHON" -c 'import sys; print(sys.executable)'
    return 0
  fi
  for candidate in python3.12 \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 \
      "$HOME"/.pyenv/versions/3.12*/bin/python3.12 /root/.pyenv/versions/3.12*/bin/python3.12 \
      /usr/local/bin/python3.12 /usr/bin/python3.12 python3; do
    if _anagen_is_312 "$candidate"; then
      # The real interpreter, not a pyenv shim, so uv keeps the same .venv between runs.
      "$candidate" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  anagen_fail "Anagen needs Python 3.12 (Django 6 refuses 3.11) and none was found; install it (e.g. 'pyenv install 3.12.1') or set ANAGEN_PYTHON=/path/to/python3.12."
}

PY="$(_anagen_find_python)" || exit $?  # the function printed the reason
export UV_PYTHON="$PY" UV_PYTHON_DOWNLOADS=never

# uv on PATH if it runs; otherwise our own copy in var/uv (a venv of its own, so it never depends
# on where pip puts scripts or on that folder being on PATH). ANAGEN_UV names a uv to use.
UV_HOME="$PWD/var/uv"
if [ -n "${ANAGEN_UV:-}" ]; then
  "$ANAGEN_UV" --version >/dev/null 2>&1 \
    || anagen_fail "ANAGEN_UV=$ANAGEN_UV does not run; point it at a uv binary or unset it."
  UV="$ANAGEN_UV"
elif command -v uv >/dev/null 2>&1 && uv --version >/dev/null 2>&1; then
  UV="$(command -v uv)"
elif [ -x "$UV_HOME/bin/uv" ] && "$UV_HOME/bin/uv" --version >/dev/null 2>&1; then
  UV="$UV_HOME/bin/uv"
else
  echo "uv is not on PATH: installing it into var/uv with $PY …"
  mkdir -p var
  anagen_step "creating a venv for uv in var/uv with $PY" \
    "on Debian install python3.12-venv (or use a pyenv Python), then run this again." \
    "$PY" -m venv --clear "$UV_HOME"
  anagen_step "installing uv from PyPI into var/uv" \
    "check that PyPI is reachable (proxy: set HTTPS_PROXY), or install uv yourself (https://docs.astral.sh/uv/), then run this again." \
    "$UV_HOME/bin/python" -m pip install --quiet --disable-pip-version-check uv
  UV="$UV_HOME/bin/uv"
  "$UV" --version >/dev/null 2>&1 \
    || anagen_fail "uv was installed into var/uv but does not run; delete var/uv and run this again."
  echo "Installed $("$UV" --version) into var/uv."
fi
export UV
