# alpaca-fleece in a container: `make build`, then `make run` (docker compose up -d).
# The image holds the locked environment (uv sync --frozen, no dev tools) and runs the bot as
# the unprivileged user `bot`; data/ and logs/ are volumes, so the SQLite store and the log
# outlive the container. Docker's HEALTHCHECK asks the bot itself: `fleece status --check`
# fails when the bot process is gone or its heartbeat is stale.
FROM python:3.12-slim

# uv, pinned to the version that wrote uv.lock.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/

# The bot's user; match your own ids (make build passes them) so that the bind-mounted
# data/ and logs/ stay writable from both sides.
ARG UID=1000
ARG GID=1000
RUN groupadd --gid "${GID}" bot \
    && useradd --uid "${UID}" --gid "${GID}" --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin bot

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1
WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when uv.lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the bot itself.
COPY README.md orchestrator.py bot.sh daemon.py ./
COPY src ./src
COPY config ./config
RUN uv sync --frozen --no-dev \
    && mkdir -p data logs \
    && chown bot:bot data logs

ENV PATH="/app/.venv/bin:${PATH}"
USER bot
VOLUME ["/app/data", "/app/logs"]

# SIGTERM starts the graceful shutdown (cancel orders, close positions while the market is
# open); give it time with `docker stop -t 90` (docker-compose.yml sets stop_grace_period).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=60s --timeout=30s --start-period=120s --retries=3 \
    CMD ["fleece", "status", "--check"]
CMD ["python", "orchestrator.py"]
