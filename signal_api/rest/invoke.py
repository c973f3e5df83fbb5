"""Running a registry operation for REST: parameters in, the envelope out.

Every answer is ``{ok, operation, data, error, meta}``; ``data`` is the value of the operation's root
field exactly as ``/graphql`` returns it (unless the compact mode trimmed it). HTTP statuses:

====== =====================================================================================
200    ok=true; or ok=false with a Problem that is an answer, not a fault (INSUFFICIENT_DATA,
       NO_PRICE and any other Problem code not listed below): ``data`` holds the Problem
400    INVALID_ARGUMENT (missing, unknown or mistyped parameter, bad enum value; ``error.parameter``
       names it), MALFORMED_REQUEST (body not a JSON object), INVALID_INPUT (a Problem: the value
       is refused, e.g. the symbol's spelling), CAPABILITY_NOT_SUPPORTED (a Problem: that exchange
       does not serve this data)
401    UNAUTHENTICATED and 503 KEY_STORE_UNAVAILABLE come from the authentication middleware
403    FORBIDDEN: the caller's key (or anonymous access) lacks the operation's scope
404    UNKNOWN_OPERATION, SYMBOL_NOT_FOUND and EXCHANGE_NOT_FOUND (Problems)
413    RESPONSE_TOO_LARGE (still over the limit when compacted); PAYLOAD_TOO_LARGE comes from the
       app's body-size middleware
429    RATE_LIMITED (the caller's request or cost budget is spent; ``Retry-After`` says when to retry)
503    UPSTREAM_UNAVAILABLE, HISTORY_UNAVAILABLE, HISTORY_NOT_AVAILABLE, BACKTEST_TIMEOUT (Problems)
504    TIMEOUT
500    INTERNAL_ERROR: only for a masked, unexpected resolver failure
====== =====================================================================================

A list result (``signals.batch``) whose items are all Problems is answered as the first one's
error (with all of them in ``data``); a mix of results and Problems is ok=true.

``data`` is the GraphQL answer in the REST view (:mod:`signal_api.rest.numbers`): ratios as percentages
named ``...Pct`` and, unless ``precision=full``, numbers rounded as a trader reads them. When the compact
mode leaves items of a batch out, ``meta.dropped`` names each symbol and why.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from graphql import GraphQLInterfaceType, GraphQLObjectType
from starlette.responses import Response

from resolvers.context import RequestContext
from schema.finite import NON_FINITE_NUMBER
from schema.operations import CURSOR_PATTERN
from schema.ratelimit import RATE_LIMITED
from signal_api.rest.cursors import cursors_to_rest, from_rest
from signal_api.rest.numbers import rest_view
from signal_api.rest.openapi import operation_info
from signal_api.rest.params import (
    PRECISIONS,
    RESERVED,
    ArgumentError,
    coerce_params,
    parse_flag,
    parse_precision,
    query_values,
)
from signal_api.security.scopes import FORBIDDEN

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    import strawberry
    from starlette.requests import Request

    from signal_api.rest.catalog import RestOperation
    from signal_api.settings import Settings

PROBLEM_STATUS = {
    "INVALID_INPUT": 400,
    "CAPABILITY_NOT_SUPPORTED": 400,
    "SYMBOL_NOT_FOUND": 404,
    "EXCHANGE_NOT_FOUND": 404,
    "UPSTREAM_UNAVAILABLE": 503,
    "HISTORY_UNAVAILABLE": 503,
    "HISTORY_NOT_AVAILABLE": 503,
    "BACKTEST_TIMEOUT": 503,
}
QUALITY_KEYS = ("dataQuality", "quality")  # where a result carries its data-quality block (``score``)


@dataclass(frozen=True, slots=True)
class CompactLevel:
    series: int  # numeric series (numbers, or rows of numbers such as candles): keep the last N
    items: int  # other lists: keep the first N
    text: int  # strings: cut to N characters


COMPACT_LEVELS = (
    CompactLevel(series=50, items=1_000, text=200),  # first shrink every item, keeping them all
    CompactLevel(series=50, items=20, text=200),
    CompactLevel(series=20, items=10, text=120),
    CompactLevel(series=10, items=5, text=80),
    CompactLevel(series=5, items=2, text=40),
)


class Invoker:
    """The REST endpoints over one schema and its registry catalog."""

    def __init__(self, schema: strawberry.Schema, settings: Settings, catalog: dict[str, RestOperation]) -> None:
        self.schema = schema
        self.settings = settings
        self.catalog = catalog
        problem = schema._schema.get_type("Problem")
        self.problem_types = frozenset(
            name
            for name, gql_type in schema._schema.type_map.items()
            if isinstance(problem, GraphQLInterfaceType)
            and isinstance(gql_type, GraphQLObjectType)
            and problem in gql_type.interfaces
        )

    def timeout_for(self, rest: RestOperation) -> float:
        """The ``operation_timeouts`` setting, else the registry's own, else the default."""
        return (
            self.settings.operation_timeouts.get(rest.name)
            or rest.op.timeout_seconds
            or self.settings.rest_default_timeout_seconds
        )

    # --- endpoints -------------------------------------------------------------------------------

    async def invoke(self, request: Request) -> Response:
        """``POST /invoke``: ``{"operation": ..., <flat parameters>}`` or ``{"operation": ..., "args": {...}}``."""
        started = time.perf_counter()
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:  # BodyGuard answers INVALID_JSON first; no parser text in answers
            return self.failure(400, "INVALID_JSON", "the body is not one valid JSON document", started=started)
        if not isinstance(payload, dict):
            return self.failure(
                400,
                "MALFORMED_REQUEST",
                'the body must be a JSON object such as {"operation": "signals.get"}',
                started=started,
            )
        name = payload.get("operation")
        if not isinstance(name, str):
            return self.failure(
                400,
                "INVALID_ARGUMENT",
                f"'operation' must name one of: {', '.join(self.catalog)}",
                started=started,
                parameter="operation",
            )
        rest = self.catalog.get(name)
        if rest is None:
            return self.failure(
                404,
                "UNKNOWN_OPERATION",
                f"unknown operation {name!r}; known: {', '.join(self.catalog)}",
                started=started,
                operation=name,
            )
        args = payload.get("args")
        if args is not None and not isinstance(args, dict):
            return self.failure(
                400,
                "INVALID_ARGUMENT",
                "'args' must be an object of parameters",
                started=started,
                operation=name,
                parameter="args",
            )
        raw = {key: value for key, value in payload.items() if key not in RESERVED} | (args or {})
        try:
            compact = parse_flag("compact", payload.get("compact", False))
            precision = parse_precision(payload.get("precision") or PRECISIONS[0])
        except ArgumentError as exc:
            return self.argument_failure(rest, exc, started)
        return await self.run(request, rest, raw, query=False, compact=compact, precision=precision, started=started)

    def get_endpoint(self, rest: RestOperation) -> Callable[[Request], Awaitable[Response]]:
        """``GET /v1/<operation>``: the parameters in the query string."""

        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            items = list(request.query_params.multi_items())
            flags = [value for key, value in items if key == "compact"]
            precisions = [value for key, value in items if key == "precision"]
            try:
                compact = parse_flag("compact", flags[-1]) if flags else False
                precision = parse_precision(precisions[-1] if precisions else PRECISIONS[0])
                raw = query_values(
                    rest.params, [(key, value) for key, value in items if key not in ("compact", "precision")]
                )
            except ArgumentError as exc:
                return self.argument_failure(rest, exc, started)
            return await self.run(request, rest, raw, query=True, compact=compact, precision=precision, started=started)

        endpoint.__name__ = f"get_{rest.op.operation_id}"
        return endpoint

    async def list_operations(self, request: Request) -> Response:
        """``GET /invoke/operations``."""
        operations = [operation_info(rest, self.timeout_for(rest)) for rest in self.catalog.values()]
        return Response(orjson.dumps({"operations": operations}), media_type="application/json")

    # --- execution -------------------------------------------------------------------------------

    async def run(
        self,
        request: Request,
        rest: RestOperation,
        raw: Mapping[str, object],
        *,
        query: bool,
        compact: bool,
        started: float,
        precision: str = PRECISIONS[0],
    ) -> Response:
        try:
            variables = coerce_params(rest.params, raw, query=query)
        except ArgumentError as exc:
            return self.argument_failure(rest, exc, started)
        for param in rest.params:  # cursors arrive in the REST form (signal_api.rest.cursors)
            value = variables.get(param.name)
            if param.doc is not None and param.doc.pattern == CURSOR_PATTERN and isinstance(value, str):
                variables[param.name] = from_rest(value)
        timeout = self.timeout_for(rest)
        context = RequestContext.create(request.app.state.container.services, request=request)
        try:
            async with asyncio.timeout(timeout):
                result = await self.schema.execute(
                    rest.op.document,
                    variable_values=variables,
                    context_value=context,
                    operation_name=rest.op.operation_name,
                )
        except TimeoutError:
            return self.failure(
                504,
                "TIMEOUT",
                f"{rest.name} did not finish within {timeout:g} s",
                started=started,
                operation=rest.name,
                timeout=timeout,
            )
        codes = {(error.extensions or {}).get("code") for error in result.errors or ()}
        if result.errors and not (codes == {NON_FINITE_NUMBER} and result.data):
            # (a non-finite upstream number nulls only its own field: the rest of the answer stands, as on /graphql)
            if "INTERNAL_SERVER_ERROR" in codes:
                return self.failure(
                    500, "INTERNAL_ERROR", "unexpected error", started=started, operation=rest.name, timeout=timeout
                )
            message = "; ".join(error.message for error in result.errors)
            if RATE_LIMITED in codes:  # the cost budget is spent (Retry-After: the rate-limit middleware)
                return self.failure(429, RATE_LIMITED, message, started=started, operation=rest.name, timeout=timeout)
            if FORBIDDEN in codes:  # the principal (from the request in the context) lacks the scope
                return self.failure(403, FORBIDDEN, message, started=started, operation=rest.name, timeout=timeout)
            return self.failure(400, "INVALID_ARGUMENT", message, started=started, operation=rest.name, timeout=timeout)
        data = cursors_to_rest(rest_view((result.data or {}).get(rest.op.root_field), trader=precision == "trader"))
        problem = self.problem_of(data)
        asked = _list_input(variables)
        if problem is None:
            return self.envelope(
                200, rest.name, data, None, started=started, timeout=timeout, compact=compact, asked=asked
            )
        code, message = str(problem["code"]), str(problem["message"])
        status = PROBLEM_STATUS.get(code, 200)
        error = {"code": code, "message": message}
        return self.envelope(
            status, rest.name, data, error, started=started, timeout=timeout, compact=compact, asked=asked
        )

    def problem_of(self, data: object) -> dict[str, Any] | None:
        """The Problem the answer is: the root value (or the one result it wraps), or the first item of a list
        of Problems."""
        if isinstance(data, dict):
            if self._is_problem(data):
                return data
            fields = [value for key, value in data.items() if key != "__typename"]
            # a wrapper around one nested result, e.g. exchange(name) { candles(...) }: its Problem counts
            return self.problem_of(fields[0]) if len(fields) == 1 and isinstance(fields[0], dict) else None
        if isinstance(data, list) and data and all(isinstance(item, dict) and self._is_problem(item) for item in data):
            first: dict[str, Any] = data[0]
            return first
        return None

    def _is_problem(self, value: dict[str, Any]) -> bool:
        typename = value.get("__typename")
        if isinstance(typename, str):
            return typename in self.problem_types
        return isinstance(value.get("code"), str) and isinstance(value.get("message"), str)

    # --- envelopes -------------------------------------------------------------------------------

    def argument_failure(self, rest: RestOperation, exc: ArgumentError, started: float) -> Response:
        return self.failure(
            400,
            "INVALID_ARGUMENT",
            exc.message,
            started=started,
            operation=rest.name,
            parameter=exc.parameter,
            timeout=self.timeout_for(rest),
        )

    def failure(
        self,
        status: int,
        code: str,
        message: str,
        *,
        started: float,
        operation: str | None = None,
        parameter: str | None = None,
        timeout: float | None = None,
    ) -> Response:
        error: dict[str, Any] = {"code": code, "message": message}
        if parameter is not None:
            error["parameter"] = parameter
        return self.envelope(status, operation, None, error, started=started, timeout=timeout, compact=False)

    def envelope(
        self,
        status: int,
        operation: str | None,
        data: Any,
        error: dict[str, Any] | None,
        *,
        started: float,
        timeout: float | None,
        compact: bool,
        asked: list[str] | None = None,
    ) -> Response:
        """Serialize; past ``rest_max_response_chars`` (or when asked) trim ``data`` level by level. A batch
        (``data`` a list) that loses items says which in ``meta.dropped``, by the item's ``symbol`` or else
        the one ``asked`` for at that position."""
        meta = {
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "data_quality": data_quality(data),
            "truncated": False,
            "operation_timeout_s": timeout,
        }
        body = {"ok": error is None, "operation": operation, "data": data, "error": error, "meta": meta}
        raw = orjson.dumps(body)
        limit = self.settings.rest_max_response_chars
        if not compact and _chars(raw) <= limit:
            return _json(raw, status)
        for level in COMPACT_LEVELS:
            trimmed, changed = compact_value(data, level)
            levelled: dict[str, Any] = {**meta, "truncated": changed}
            if isinstance(data, list) and isinstance(trimmed, list) and len(trimmed) < len(data):
                why = "compact=true" if compact else f"to fit {limit} characters"
                reason = f"left out {why}; ask for it in a smaller batch"
                levelled["dropped"] = [
                    {"symbol": _symbol_of(item, asked, index), "reason": reason}
                    for index, item in enumerate(data[len(trimmed) :], start=len(trimmed))
                ]
            raw = orjson.dumps({**body, "data": trimmed, "meta": levelled})
            if _chars(raw) <= limit:
                return _json(raw, status)
        too_large = {
            "code": "RESPONSE_TOO_LARGE",
            "message": f"the answer exceeds {limit} characters even in compact mode; narrow the request",
        }
        return _json(orjson.dumps({**body, "ok": False, "data": None, "error": too_large}), 413)


def _list_input(variables: Mapping[str, object]) -> list[str] | None:
    """The list of strings the request asked for (the batch's symbols), if any."""
    for value in variables.values():
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return [str(item) for item in value]
    return None


def _symbol_of(item: object, asked: list[str] | None, index: int) -> str:
    if isinstance(item, dict) and isinstance(item.get("symbol"), str):
        return str(item["symbol"])
    if asked is not None and index < len(asked):
        return asked[index]
    return f"item {index}"


def _json(raw: bytes, status: int) -> Response:
    return Response(raw, status_code=status, media_type="application/json")


def _chars(raw: bytes) -> int:
    """Characters of UTF-8 JSON: the byte count bounds it, so decode only when that is over a limit."""
    return len(raw.decode()) if any(byte > 0x7F for byte in raw) else len(raw)


def data_quality(data: object) -> float | list[float | None] | None:
    """``dataQuality.score`` of the answer; for a list, one score (or null) per item."""
    if isinstance(data, dict):
        return _quality_score(data)
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        scores = [_quality_score(item) for item in data]
        return scores if any(score is not None for score in scores) else None
    return None


def _quality_score(item: dict[str, Any]) -> float | None:
    for key in QUALITY_KEYS:
        block = item.get(key)
        if isinstance(block, dict) and isinstance(block.get("score"), int | float):
            return float(block["score"])
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_series(values: list[Any]) -> bool:
    return all(_is_number(v) or (isinstance(v, list) and all(_is_number(x) for x in v)) for v in values)


def compact_value(value: Any, level: CompactLevel) -> tuple[Any, bool]:
    """``value`` trimmed at ``level``: long numeric series keep their last points, other long lists their
    first items, long texts are cut, verbose diagnostics dropped. Returns ``(trimmed, changed)``."""
    from signal_api.rest.jsonschema import VERBOSE_FIELDS

    changed = False

    def walk(node: Any) -> Any:
        nonlocal changed
        if isinstance(node, dict):
            if VERBOSE_FIELDS & node.keys():
                changed = True
            return {key: walk(item) for key, item in node.items() if key not in VERBOSE_FIELDS}
        if isinstance(node, list):
            if _is_series(node):
                if len(node) > level.series:
                    changed = True
                    return node[-level.series :]
                return node
            if len(node) > level.items:
                changed = True
                node = node[: level.items]
            return [walk(item) for item in node]
        if isinstance(node, str) and len(node) > level.text:
            changed = True
            return node[: level.text - 1] + "…"
        return node

    return walk(value), changed
