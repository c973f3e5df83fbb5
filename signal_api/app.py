"""The ASGI app factory: Starlette routes, the GraphQL view, and the lifespan that owns every resource."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import orjson
import structlog
from cross_web import HTTPException as ViewHTTPError
from graphql import GraphQLError
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from providers.binance.raw import PING_PATH as BINANCE_PING_PATH
from providers.binance.raw import PROVIDER as BINANCE
from providers.errors import UpstreamError
from providers.okx.venue import OkxProvider
from providers.replay import Cassette, ReplayApp, serve_in_thread
from resolvers.context import RequestContext
from schema.build import build_schema
from signal_api.alerts import open_alerts
from signal_api.cluster import open_cluster, redis_client, run_outcome_job, run_spike_poller
from signal_api.container import build_container, system_clock
from signal_api.graphiql import GRAPHIQL_HTML, graphiql_routes
from signal_api.health import build_health_monitor, count_embedded_restart, health, live, ready
from signal_api.http_guards import BodyGuard, BufferedReceive, RequestRefused, decode_json
from signal_api.logging import configure_logging, secret_values
from signal_api.metrics import GraphQLMetrics
from signal_api.persisted_queries import PersistedQueries, load_trusted_documents
from signal_api.prewarm import prewarm_documents, prewarm_execution
from signal_api.redis_response_cache import RedisResponseCache
from signal_api.request_log import RequestLog
from signal_api.response_cache import MemoryResponseCache, ResponseCache
from signal_api.response_cache_middleware import ResponseCacheMiddleware
from signal_api.rest import build_rest_routes
from signal_api.rest.docs import REDOC_HTML, SWAGGER_HTML
from signal_api.security.auth import AuthenticationMiddleware, Authenticator, StartupRefused, anonymous_allowed
from signal_api.security.headers import security_middleware
from signal_api.security.ratelimit import RateLimitMiddleware, build_rate_limits
from signal_api.security.scopes import ScopeCheck
from signal_api.security.ws import ScopedFanoutHandler, authenticate_connection
from signal_api.settings import Settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from datetime import datetime

    from starlette.requests import Request
    from starlette.types import ASGIApp, Receive, Scope, Send
    from starlette.websockets import WebSocket

    from persistence.db import Database
    from providers.streams.parsers import VenueStream
    from signal_api.container import Container

# The collector's thresholds while serving: a young collection every 10,000 allocations instead of 700; the
# older generations keep their default ratios (every 10th young one, every 10th of those). A query allocates
# tens of thousands of short-lived objects (tasks, futures, parsed rows) that are garbage long before a
# collection sees them; at the default, collections took ~15 % of a cold query's CPU (the 20-symbol ``market``:
# 40 -> 38 ms, a cold ``signal`` 13.9 -> 12.7 ms of its own; bench/bench_signal.py; 10/10 measured the same as
# 50/100 for the older ones). Garbage cycles wait up to ~14 x more allocations before a collection looks at them.
GC_THRESHOLDS = (10_000, 10, 10)

log = structlog.get_logger(__name__)
CACHE_STATS = Gauge(
    "cache_operations", "Upstream cache counters (hits, misses, coalesced, evictions, entries)", ["kind"]
)

RESPONSE_CACHE_STATS = Gauge(
    "response_cache_operations", "Response cache counters (hits, misses, stores, evictions, entries)", ["kind"]
)

VIEW_ERROR_CODES = {405: "METHOD_NOT_ALLOWED", 404: "NOT_FOUND", 415: "UNSUPPORTED_MEDIA_TYPE"}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with HTTP 413 and a JSON error, before any parsing."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        # inner layers look at the body through it (http_guards.buffered_body) instead of reading it again
        await self.app(scope, BufferedReceive(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            error_body("PAYLOAD_TOO_LARGE", f"request body exceeds {self.max_bytes} bytes"), status_code=413
        )
        await response(scope, receive, send)


class SignalGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view with our context (fresh loaders per request) and orjson encoding; with
    ``persisted`` it resolves APQ hashes and, in trusted-documents mode, accepts only registered documents.

    Over graphql-transport-ws, identical market-stream subscriptions share one execution per process
    (:mod:`signal_api.fanout`); their execution does not see the per-connection context."""

    persisted: PersistedQueries = PersistedQueries()  # set by create_app from the settings
    graphql_transport_ws_handler_class = ScopedFanoutHandler
    authenticator: Authenticator | None = None  # set by create_app: checks connection_init keys

    @property
    def graphql_ide_html(self) -> str:
        """Our GraphiQL page: its assets come from this service, not a CDN (signal_api.graphiql)."""
        return GRAPHIQL_HTML

    async def execute_single(self, request, request_adapter, sub_response, context, root_value, request_data):  # type: ignore[no-untyped-def]
        # APQ: the document from its sha256Hash (or learned with it); trusted documents (signal_api.persisted_queries)
        resolved = self.persisted.resolve(request_data.query, request_data.extensions)
        if isinstance(resolved, GraphQLError):
            return ExecutionResult(data=None, errors=[resolved])
        request_data.query = resolved
        if resolved is not None and not self.persisted.allowed(resolved):
            return ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        "only the registry's documents are accepted (see GET /invoke/operations)",
                        extensions={"code": "PERSISTED_QUERY_NOT_FOUND"},
                    )
                ],
            )
        return await super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)

    async def on_ws_connect(self, context: RequestContext) -> UnsetType | dict[str, object] | None:
        """Authenticate the connection from its ``connection_init`` payload (signal_api.security.ws);
        a refusal raises ``ConnectionRejectionError`` (close 4403)."""
        if self.authenticator is not None:
            await authenticate_connection(self.authenticator, context)
        return cast("UnsetType", UNSET)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> RequestContext:
        container: Container = request.app.state.container
        return RequestContext.create(container.services, request=request, response=response)

    def decode_json(self, data: str | bytes) -> object:
        """Bounded nesting, UTF-8, no NaN (WebSocket frames; HTTP bodies were checked by BodyGuard)."""
        try:
            return decode_json(data, what="the message")
        except RequestRefused as refused:
            raise json.JSONDecodeError(refused.message, "", 0) from None

    def encode_json(self, data: object) -> str:
        # str, not bytes: over WebSockets bytes would go out as binary frames
        return orjson.dumps(data).decode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry answers its own HTTP errors (no query, batching, a mutation over GET) in plain text;
        here they get the app's JSON envelope and a code, like every other 4xx."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(StarletteRequest(scope, receive))
        except ViewHTTPError as error:
            code = VIEW_ERROR_CODES.get(error.status_code, "BAD_REQUEST")
            response = JSONResponse(error_body(code, error.reason), status_code=error.status_code)
        await response(scope, receive, send)


async def metrics(request: Request) -> Response:
    stats = request.app.state.container.cache.stats()
    for kind in ("hits", "misses", "coalesced", "evictions", "entries"):
        CACHE_STATS.labels(kind).set(getattr(stats, kind))
    responses = request.app.state.response_cache.stats()
    for kind in ("hits", "misses", "stores", "evictions", "entries"):
        RESPONSE_CACHE_STATS.labels(kind).set(getattr(responses, kind))
    request.app.state.health.export_metrics()  # broker drops, spool, pool, not-durable rows
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    # the route's headers (a 405's Allow: the methods it serves) go out with the JSON error
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


async def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", path=request.url.path)
    return JSONResponse(error_body("INTERNAL_SERVER_ERROR", "unexpected error"), status_code=500)


async def _open_history(
    stack: contextlib.AsyncExitStack, container: Container, settings: Settings, now: Callable[[], datetime]
) -> Database | None:
    """The signal history: database (embedded when DATABASE_URL is unset), recorder, outcome job. It
    closes before the HTTP client (LIFO), so pending records are drained while providers still work.
    Returns the database (None when it could not be opened): the API keys live there too."""
    from persistence.outcomes import RegistryCandleSource
    from persistence.runtime import open_history
    from signal_api.history_cli import history_config

    registry = container.registry
    replaying = settings.replay_cassette is not None or settings.replay_url is not None
    history = await stack.enter_async_context(
        open_history(
            # serve --replay --record-history: rows are tagged replayed (signals.replayed, migration 0007)
            dataclasses.replace(
                history_config(settings), replayed=replaying, run_outcome_job=container.cluster is None
            ),
            RegistryCandleSource(registry),
            clock=now,
            on_embedded_restart=count_embedded_restart,
        )
    )
    container.attach_history(history)  # the history fields, the recorder, and /health's storage view
    if container.cluster is not None and history.outcomes is not None:  # REDIS_URL: one replica runs it (lease)
        from persistence.outcomes import OutcomeJob

        interval = settings.outcome_job_interval_seconds
        job = OutcomeJob(history.outcomes, RegistryCandleSource(registry), interval_seconds=interval, clock=now)
        outcomes = asyncio.ensure_future(run_outcome_job(container.cluster, job, interval, now))
        stack.push_async_callback(_cancel, outcomes)
    return history.database


async def _open_keys(
    authenticator: Authenticator, database: Database | None, settings: Settings, *, replay: bool
) -> None:
    """Give the authenticator its key store (the history's database), then refuse to start when nobody
    could get in or anonymous callers would be served where they must not be (``StartupRefused``)."""
    from persistence.api_keys import ApiKeyRepository

    if database is not None:
        authenticator.store = ApiKeyRepository(database)
    elif replay:
        authenticator.store_problem = "replay mode opens no database"
    elif not settings.history_enabled:
        authenticator.store_problem = "the service runs without a database (HISTORY_ENABLED=false)"
    else:
        authenticator.store_problem = "the database could not be opened"
    problem = await authenticator.startup_problem(settings.host)
    if problem is not None:
        log.error(problem)
        raise StartupRefused(problem)
    if authenticator.store is None:
        log.info("API keys cannot be checked; a request with a key gets 503", reason=authenticator.store_problem)


async def _open_streams(
    stack: contextlib.AsyncExitStack,
    container: Container,
    settings: Settings,
    now: Callable[[], datetime],
    replay: ReplayApp | None = None,
) -> None:
    """The broker and the stream hub (one upstream socket per stream, started by the first subscriber),
    and the always-on Binance liquidation stream feeding the keyless liquidation window. In replay
    (``replay``: the in-process server, or the outline of a ``--replay-url`` one), a subscription to a stream
    the cassette lacks is refused (``STREAM_NOT_RECORDED``) and the window covers the recorded span of the
    cassette's ``!forceOrder@arr``."""
    from providers.streams import StreamKey, StreamKind
    from providers.streams.hub import StreamHub
    from resolvers.broker import InProcessBroker
    from resolvers.leases import LeasedHub, LeaseGate
    from resolvers.streams import StreamServices

    cluster = container.cluster  # REDIS_URL: events cross replicas; each stream is ingested by its lease holder
    broker = cluster.broker if cluster is not None else InProcessBroker()
    contract_values: dict[str, float] = {}  # OKX instId → coins per contract, filled in the background
    gate = LeaseGate(broker) if cluster is not None else None  # only the lease holder's events go out
    hub = StreamHub(
        publisher=gate if gate is not None else broker,
        ws_base_urls=settings.ws_urls(),
        clock=system_clock,  # receipt time is real time, also in replay
        grace_seconds=settings.stream_grace_seconds,
        silence_seconds=settings.stream_silence_seconds,
        ctval=contract_values.__getitem__,  # unknown yet: the event is counted as a parse error, never guessed
        recorded=None if replay is None else _recorded_in(replay),
    )
    stack.push_async_callback(hub.aclose)
    leased = LeasedHub(hub, cluster.leases, broker) if cluster is not None else None
    if cluster is not None and leased is not None and gate is not None:
        cluster.hub = gate.hub = leased
        stack.push_async_callback(leased.aclose)
    streams_hub: StreamHub | LeasedHub = leased if leased is not None else hub
    okx = container.registry.providers.get("okx")
    if isinstance(okx, OkxProvider):
        loading = asyncio.ensure_future(_load_contract_values(okx, contract_values))
        stack.push_async_callback(_cancel, loading)
    container.attach_streams(
        StreamServices(
            broker,
            streams_hub,
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            liquidation_min_value_usd=settings.liquidation_min_value_usd,
            large_trade_threshold_usd=settings.large_trade_threshold_usd,
            check=hub.check,
            known_venues=frozenset(container.registry.status),
        )
    )
    window = container.liquidation_window
    if window is not None:
        if replay is not None:  # the recording is the coverage (replay's clock stands still)
            window.start(since=replay.cassette.stream_since("binance", "!forceOrder@arr"))
        subscription = broker.subscribe("liquidations:binance:*", maxsize=10_000)
        feeding = asyncio.ensure_future(window.run(subscription))
        release = streams_hub.acquire(StreamKey(StreamKind.LIQUIDATIONS, "binance"))
        stack.push_async_callback(_cancel, feeding)
        stack.callback(subscription.close)
        stack.callback(release)
    # flow and scalping: the trade streams of the symbols asked for, kept while they are asked for
    import dataclasses

    from providers.streams.client import STREAM_VENUES
    from resolvers.trade_window import TradeWindow

    def reconnects(key: StreamKey) -> int:
        status = hub.stats().get(key)
        # REDIS_URL: another replica taking the stream over is a gap too
        return (0 if status is None else status.reconnects) + (leased.takeovers(key) if leased is not None else 0)

    trades = TradeWindow(now, streams_hub.acquire, hub.check, reconnects=reconnects)
    trade_feed = broker.subscribe([f"trades:{venue}:*" for venue in sorted(STREAM_VENUES)], maxsize=50_000)
    trade_feeding = asyncio.ensure_future(trades.run(trade_feed))
    stack.callback(trades.close)
    stack.push_async_callback(_cancel, trade_feeding)
    stack.callback(trade_feed.close)
    container.services = dataclasses.replace(container.services, trades=trades)


def _recorded_in(replay: ReplayApp) -> Callable[[str, VenueStream], str | None]:
    """Why the replayed cassette cannot serve a stream (the replay server's own matching), or None."""
    return lambda venue, spec: replay.stream_refusal(venue, spec.path, spec.subscribe)


async def _load_contract_values(okx: OkxProvider, into: dict[str, float]) -> None:
    try:
        into.update(await okx.contract_values())
    except UpstreamError as exc:
        log.warning("OKX contract values unavailable; OKX streams cannot size events", error=exc.describe())


async def _warm_up(container: Container, settings: Settings) -> None:
    """Fetch the symbol list once at start-up (cached 1 h), then open ``UPSTREAM_WARM_CONNECTIONS`` to
    Binance (its ping endpoint; :meth:`UpstreamClient.preconnect` stops at a refusal): the HTTP stack's lazy
    imports are loaded and a cold query soon after start-up finds a connection open for each call it sends at
    once, so it pays one upstream round, not a handshake per call first. Nothing is cached from the pings;
    connections nobody uses close after the 5 s keep-alive, after which queries open their own as before."""
    listing = await container.services.gateway.symbol_list()  # never raises: failures are named in it
    if not listing.available:  # said once; the streams retry quietly (providers.streams.client)
        log.warning(
            "upstreams unreachable: no listing source answered; the first request will try again. "
            "No network? Serve a recorded market: signal-api serve --replay <cassette.json>",
            error=listing.error,
        )
        return  # no venue answered (no network): pinging one would fail the same way
    wanted, timeout = settings.upstream_warm_connections, settings.upstream_timeout_seconds
    ping = settings.binance_base_url.rstrip("/") + BINANCE_PING_PATH
    answered = await container.upstream.preconnect(BINANCE, ping, wanted, timeout_seconds=timeout)
    log.info("upstream connections opened ahead", provider=BINANCE, answered=answered, wanted=wanted)


async def _replay_clock(replay_url: str) -> ReplayApp:
    """Ask a running replay server for its cassette's clock and streams (an outline: no messages); fail
    start-up loudly if it cannot answer."""
    from providers.http import create_http_client

    async with create_http_client() as client:
        response = await client.get(f"{replay_url.rstrip('/')}/__replay__/clock", timeout=5.0)
        response.raise_for_status()
        return ReplayApp.outline(response.json())


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None) -> Starlette:
    """Build the app; resources (HTTP client, replay server) are created in the lifespan, not here.

    ``clock`` overrides "now" (tests pointing at a standalone replay server pass the cassette's clock).
    """
    settings = settings or Settings()
    if not structlog.is_configured():  # `serve` configures first; tests and embedders get the same redaction
        configure_logging(settings.log_level, settings.log_json, secrets=secret_values(settings))
    schema = build_schema(
        max_depth=settings.max_query_depth,
        max_tokens=settings.max_query_tokens,
        max_aliases=settings.max_query_aliases,
        max_cost=settings.max_query_cost,
        metrics=GraphQLMetrics(),
        access_check=ScopeCheck,
    )
    graphql = SignalGraphQL(
        schema,
        graphql_ide="graphiql" if settings.graphiql else None,
        keep_alive=True,
        keep_alive_interval=15,
        connection_init_wait_timeout=timedelta(seconds=10),
        # the legacy graphql-ws protocol has no init timeout: only graphql-transport-ws is spoken
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        allowed_origins=settings.cors_origins,  # browser WebSocket handshakes from other origins
    )
    extra_trusted = settings.trusted_documents_file
    graphql.persisted = PersistedQueries(
        trusted_only=settings.persisted_queries_only,
        extra_trusted=load_trusted_documents(extra_trusted) if extra_trusted is not None else None,
        max_entries=settings.apq_max_entries,
    )
    authenticator = Authenticator(allow_anonymous=anonymous_allowed(settings.allow_anonymous, settings.host))
    graphql.authenticator = authenticator
    rate_limits = build_rate_limits(settings)
    redis = redis_client(settings.redis_url.get_secret_value()) if settings.redis_url is not None else None
    response_cache: ResponseCache = (
        MemoryResponseCache(max_entries=settings.response_cache_max_entries)
        if redis is None
        else RedisResponseCache(redis)  # every replica serves what one of them computed
    )
    cache_seconds = settings.response_cache_max_seconds

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(rate_limits.aclose)
            effective, now = settings, clock or system_clock
            app.state.replay_cassette = None
            replay: ReplayApp | None = None
            if settings.replay_cassette is not None:
                cassette = Cassette.load(settings.replay_cassette)
                # streams loop: a subscriber joining at any time sees the recorded events flow
                replay = ReplayApp(cassette, latency_ms=settings.replay_latency_ms, ws_loop=True)
                # its own thread and loop: the replay keeps its pace while this loop is busy
                running = await stack.enter_async_context(serve_in_thread(replay.app))
                effective = settings.with_replay_base(running.base_url)
                now = clock or (lambda: cassette.now)  # the cassette's moment is "now"
                app.state.replay_cassette = str(settings.replay_cassette)
                log.info(
                    "replay mode",
                    cassette=str(settings.replay_cassette),
                    upstream=running.base_url,
                    now=cassette.now.isoformat(),
                    streams=[f"{e.get('provider')} {e.get('stream')}" for e in cassette.ws],
                )
            elif settings.replay_url is not None:
                effective = settings.with_replay_base(settings.replay_url)
                replay = await _replay_clock(settings.replay_url)  # its streams: STREAM_NOT_RECORDED here too
                moment = replay.cassette.now
                now = clock or (lambda: moment)
                app.state.replay_cassette = settings.replay_url
                log.info("replay mode", upstream=settings.replay_url, now=moment.isoformat())
            cluster = None
            if redis is not None:  # REDIS_URL: refuses to start when Redis does not answer
                cluster = await stack.enter_async_context(open_cluster(redis, settings.redis_lease_seconds))
            container = build_container(effective, now, redis=redis)
            container.cluster = cluster
            stack.push_async_callback(container.aclose)
            database: Database | None = None
            # replays stay out of history unless HISTORY_IN_REPLAY (tests, demos)
            if settings.history_enabled and (app.state.replay_cassette is None or settings.history_in_replay):
                database = await _open_history(stack, container, settings, now)
            await _open_keys(authenticator, database, settings, replay=app.state.replay_cassette is not None)
            if settings.streams_enabled:
                await _open_streams(stack, container, effective, now, replay)
            await open_alerts(stack, container, effective, database, replayed=replay is not None)
            app.state.container = container
            app.state.response_cache = response_cache  # its counters for /metrics
            app.state.health = build_health_monitor(container, settings, replay=app.state.replay_cassette)
            stack.push_async_callback(app.state.health.aclose)  # a running price probe, before the client
            warm_up = asyncio.ensure_future(_warm_up(container, effective))
            stack.push_async_callback(_cancel, warm_up)
            app.state.warm_up = warm_up  # beside the server; in-process tests await it before counting calls
            # the spike monitor's history, first sample after one interval (a replay's frozen clock builds none)
            if settings.spike_poll_seconds > 0 and app.state.replay_cassette is None:
                spikes, gateway = container.services.spikes, container.services.gateway
                every = settings.spike_poll_seconds
                if cluster is None:
                    poller = asyncio.ensure_future(spikes.poll(gateway, every))
                else:  # one replica samples upstream, the others read the same answers from the shared cache
                    poller = asyncio.ensure_future(run_spike_poller(cluster, spikes, gateway, every))
                stack.push_async_callback(_cancel, poller)
            # the trusted documents parsed and validated now, so their first request skips both (no upstream)
            prewarm_documents(schema, graphql.persisted.trusted_documents())
            prewarm_execution(schema)  # and graphql-core's executor, on the introspection (no data, no metric)
            # Modules, schema and services live as long as the process: keep them out of every later full
            # garbage collection, which would otherwise scan them all again (~100 ms each on 2 cores).
            gc.freeze()
            previous = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLDS)
            stack.callback(gc.set_threshold, *previous)
            yield

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/health/live", live, methods=["GET"]),
            Route("/health/ready", ready, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *(graphiql_routes() if settings.graphiql else []),
            *build_rest_routes(schema, settings),
        ],
        middleware=[
            Middleware(RequestLog),  # 1: request id, access line, HTTP metrics, last-resort 500
            *security_middleware(
                settings.cors_origins,
                pages=(SWAGGER_HTML, REDOC_HTML, graphql.graphql_ide_html if settings.graphiql else ""),
                https=(settings.public_base_url or "").startswith("https://"),
            ),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
            Middleware(BodyGuard),  # 4: JSON object bodies (415/400 with a code), bounded nesting
            # 5: a Principal for every request; refused keys are counted per address (key guessing)
            Middleware(AuthenticationMiddleware, authenticator=authenticator, failures=rate_limits),
            Middleware(RateLimitMiddleware, limits=rate_limits),  # after authentication: reads the principal
            # 7: identical queries of callers with the same scopes, from stored bytes (charged one request)
            *(
                [Middleware(ResponseCacheMiddleware, cache=response_cache, max_seconds=cache_seconds)]
                if settings.response_cache_enabled
                else []
            ),
        ],
        exception_handlers={HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )
