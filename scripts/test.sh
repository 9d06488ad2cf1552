#!/usr/bin/env bash
# Set up and run the whole test suite (SQLite unless DATABASE_URL says otherwise).
# Browser tests use Debian's Chromium; this installs it with apt when it can.
if [ -z "${BASH_VERSION:-}" ]; then echo "error: run this with bash: bash $0" >&2; exit 2; fi
# shellcheck source=scripts/_env.sh
source "$(dirname "$0")/_env.sh"

anagen_step "installing the locked dependencies (uv sync)" \
  "uv says why above (PyPI unreachable? an old uv on PATH: upgrade it or set ANAGEN_UV=/path/to/uv)." \
  "$UV" sync --frozen --quiet

if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's Chromium (browser tests) and poppler-utils (PDF page rendering) …"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null) \
      || echo "Could not install chromium: browser tests will be skipped." >&2
  else
    echo "chromium is not installed (apt-get install chromium): browser tests will be skipped." >&2
  fi
fi

# axe-core for the accessibility checks, from the npm registry at the locked version.
if command -v npm >/dev/null 2>&1; then
  anagen_step "installing axe-core for the accessibility checks (npm ci)" \
    "npm says why above (is the npm registry reachable?)." \
    npm ci --prefix e2e/a11y --no-audit --no-fund --silent
else
  echo "npm is not installed (apt-get install npm): the accessibility checks will be skipped." >&2
fi

export DJANGO_ALLOW_ASYNC_UNSAFE=true  # sync Playwright inside pytest-django
exec "$UV" run --frozen pytest "$@"
