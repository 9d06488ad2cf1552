# Anagen: the web application (gunicorn) and, with another command, the task worker.
#   docker build -t anagen .        docker compose up   (see compose.yaml and the README)
FROM python:3.12-slim

# WeasyPrint (PDF reports and invoices) draws with Pango and HarfBuzz; fonts for the PDFs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# The same uv as the repository's scripts (var/uv), from its official image.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.12 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH

WORKDIR /app

# The locked dependencies first (a layer that changes only with uv.lock), then the code.
# (not .python-version: it pins the developers' patch release; the image's 3.12 is the one)
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY README.md manage.py ./
COPY anagen ./anagen
RUN uv sync --frozen --no-dev

# Static files are collected into the image (served by WhiteNoise); the secret here is only
# for this build step: the container refuses to start without its own SECRET_KEY.
RUN ANAGEN_ENV=production SECRET_KEY=collectstatic-only ANAGEN_VAR_DIR=/tmp/anagen-build \
    anagen collectstatic --noinput -v0 && rm -rf /tmp/anagen-build

RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home anagen \
    && mkdir -p /var/lib/anagen/media \
    && chown -R anagen:anagen /var/lib/anagen
ENV ANAGEN_ENV=production \
    ANAGEN_VAR_DIR=/var/lib/anagen \
    MEDIA_ROOT=/var/lib/anagen/media
VOLUME ["/var/lib/anagen/media"]
USER anagen

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "anagen.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--timeout", "60"]
