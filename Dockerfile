# cryptotrack's one image: web, worker, beat and release all run from it (docker-compose.yml
# picks the Procfile line per service). Build: docker build -t cryptotrack .
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# uv from PyPI, the version the project's uv.lock is written with.
RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /app
# Dependencies first (a layer that changes only with uv.lock), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
COPY Procfile manage.py ./
RUN uv sync --frozen --no-dev

# A non-root user; it may write only var/ (static files root, beat's state file).
RUN useradd --system --uid 10001 --no-create-home --home-dir /app cryptotrack \
    && mkdir -p /app/var/static \
    && chown -R cryptotrack /app/var
USER cryptotrack

ENV PATH=/app/.venv/bin:$PATH \
    VAR_DIR=/app/var \
    ENVIRONMENT=production
EXPOSE 8000

# The Procfile's `web` line (exec: uvicorn, not the shell, receives docker stop's SIGTERM).
CMD exec uvicorn cryptotrack.asgi:application --host 0.0.0.0 --port ${PORT:-8000} --workers ${WEB_CONCURRENCY:-2} --forwarded-allow-ips=${TRUSTED_PROXIES:-}
