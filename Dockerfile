# Futures Signal API: one stateless replica. Configure with environment variables (see README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    LOG_JSON=true \
    DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY signal_api ./signal_api
COPY schema ./schema
COPY resolvers ./resolvers
COPY providers ./providers
COPY engine ./engine
COPY persistence ./persistence
RUN pip install . && useradd --system --uid 10001 signal && mkdir /data && chown signal /data

# the embedded PostgreSQL and the durable spool live here; several replicas: DATABASE_URL and REDIS_URL
# (compose.yaml)
VOLUME /data

USER signal
EXPOSE 8000
# /health answers 503 only when the service is down (no price source at all); degraded stays 200.
# urlopen raises on any non-2xx, so the exit code follows the status (python is there; curl is not).
# Load balancers should use /health/ready (503 also while the database is down or the spool is full).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health', timeout=4)"
CMD ["signal-api", "serve"]
