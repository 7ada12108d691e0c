# syntax=docker/dockerfile:1
# Build stage: build a wheel of newsbot and its dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install --no-cache-dir --upgrade pip \
 && pip wheel --no-cache-dir --wheel-dir /wheels .

# Run stage: only the installed package, a non-root user and a data volume.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 newsbot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY config ./config
RUN mkdir -p /data && chown newsbot:newsbot /data
ENV NEWSBOT_DATA_DIR=/data \
    NEWSBOT_CONFIG=/app/config/newsbot.toml \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
USER newsbot
HEALTHCHECK --interval=60s --timeout=10s CMD ["python", "-m", "bot.healthcheck"]
CMD ["newsbot", "run"]
