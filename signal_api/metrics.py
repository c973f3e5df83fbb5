"""Every Prometheus metric the service exports for operators, defined in one place.

Each area imports the metric it updates from here, so ``/metrics`` has one catalogue and no name is
registered twice. Labels are bounded sets (route templates, operation names from the document, error
codes, scopes): never a raw path, symbol or client address.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("http_requests", "Inbound HTTP requests by route template and status", ["route", "status"])
GRAPHQL_OPERATIONS = Histogram(
    "graphql_operation_seconds",
    "GraphQL operations by operation name, with their duration",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
ERRORS = Counter("errors", "Errors answered to clients, by code (GraphQL extensions.code or REST error.code)", ["code"])
RATE_LIMIT_REFUSALS = Counter("rate_limit_refusals", "Requests refused by a limit", ["limit"])
WS_CONNECTIONS = Gauge("websocket_connections_active", "Open WebSocket connections")
WS_SUBSCRIPTIONS = Gauge("websocket_subscriptions_active", "Active GraphQL subscriptions")


class GraphQLMetrics:
    """The schema's operation recorder (``schema.metrics.OperationRecorder``) on the metrics above."""

    def operation(self, label: str, seconds: float) -> None:
        GRAPHQL_OPERATIONS.labels(label).observe(seconds)

    def error(self, code: str) -> None:
        ERRORS.labels(code).inc()


BROKER_DROPS = Gauge("broker_dropped_events", "Events dropped for slow subscribers since start")
SPOOL_DEPTH = Gauge("history_spool_records", "Signal rows waiting in the durable spool")
SPOOL_BYTES = Gauge("history_spool_bytes", "Size of the durable spool on disk")
SPOOL_OVER_CAP = Gauge("history_spool_over_cap", "1 while the spool is at or past its size cap")
DB_POOL_SIZE = Gauge("db_pool_connections", "Database pool connections", ["state"])
EMBEDDED_DB_RESTARTS = Counter("embedded_db_restarts", "Restarts of the embedded PostgreSQL by its supervisor")
HISTORY_ROWS_NOT_DURABLE = Counter(
    "history_rows_not_durable",
    "Answered LONG/SHORT rows neither committed nor spooled (reason: spool_full, spool_error, invalid)",
    ["reason"],
)

# alerts (signal_api/alerts.py sets them from the live state when /metrics is scraped)
TELEGRAM_MESSAGES = Gauge(
    "telegram_messages", "Telegram alert messages since start, by state (sent, failed, rate_limited, ...)", ["state"]
)
ALERT_DELIVERIES = Gauge(
    "alert_deliveries", "Alert deliveries since start, by channel and outcome", ["channel", "outcome"]
)
SCANNER_ROUNDS = Gauge("scanner_rounds", "Scanner rounds since start (run: this replica scanned; skipped)", ["kind"])
SCANNER_LAST_FINISHED = Gauge("scanner_last_finished_timestamp_seconds", "When the last scanner round ended")
