"""``GET /llms.txt``: the operations as a short markdown index for agents (the llms.txt convention).

Generated from the same catalog as the OpenAPI documents, so it cannot list an operation, a route or a
parameter the service does not have: what the service is, how to authenticate, and per operation its
route, summary and parameters (what to pass, default, allowed values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from signal_api.rest.openapi import query_parameter

if TYPE_CHECKING:
    from signal_api.rest.catalog import RestOperation
    from signal_api.settings import Settings


def build_llms_txt(catalog: dict[str, RestOperation], settings: Settings, base_url: str) -> str:
    """The index, with ``base_url`` (the ``servers`` entry of the schemas) in every example."""
    lines = [
        "# Futures Signal API",
        "",
        "> Explainable LONG / SHORT / NEUTRAL signals, market snapshots, candles, a tracked signal history and a",
        "> backtest for crypto USDT-margined perpetual futures, from several exchanges at once.",
        "",
        f"Base URL: {base_url}",
        "",
        "Auth: send `Authorization: Bearer <key>` or `X-API-Key: <key>` (keys come from `signal-api keys create`);",
        "anonymous calls are served only where the operator allows them.",
        "",
        "Every operation is a GET route with query parameters, or `POST /invoke` with a JSON body",
        '`{"operation": "<name>", <parameters>}`. Answers are `{ok, operation, data, error, meta}`; `error.code`',
        "is stable (INVALID_ARGUMENT, SYMBOL_NOT_FOUND, UPSTREAM_UNAVAILABLE, RATE_LIMITED, ...). Numbers are",
        "rounded as a trader reads them (`precision=full` for every digit); ratios are percentages named `...Pct`.",
        "`compact=true` trims long answers; `meta.dropped` names batch items left out and why.",
        "",
        f"- [OpenAPI]({base_url}/openapi.json): the full REST API",
        f"- [GPT action schema]({base_url}/gpt/action-schema): import it into a custom GPT's Actions",
        f"- [GraphQL]({base_url}/graphql): the same data, typed, with subscriptions",
        "",
        "## Operations",
        "",
    ]
    for rest in catalog.values():
        lines.append(f"### {rest.name}: GET {rest.op.path}")
        lines.append("")
        lines.append(rest.op.summary + ".")
        lines.append("")
        for param in rest.params:
            spec = query_parameter(param, gpt=True, max_items=settings.max_symbols_per_request)
            lines.append(f"- `{param.name}`{' (required)' if param.required else ''}: {_describe(spec)}")
        if not rest.params:
            lines.append("- no parameters")
        example = "&".join(f"{p.name}={_example(p.name)}" for p in rest.params if p.required)
        lines.append("")
        lines.append(f"Example: `GET {base_url}{rest.op.path}{'?' + example if example else ''}`")
        lines.append("")
    return "\n".join(lines)


def _describe(spec: dict[str, Any]) -> str:
    schema = spec.get("schema", {})
    text = str(spec["description"])
    extras = []
    if "enum" in schema:
        extras.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    if "default" in schema:
        extras.append(f"default {_shown(schema['default'])}")
    if "minimum" in schema and "maximum" in schema:
        extras.append(f"{schema['minimum']} to {schema['maximum']}")
    return text + (f" ({'; '.join(extras)})" if extras else "")


def _shown(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


_EXAMPLES = {"symbol": "BTC", "symbols": "BTC,ETH,SOL", "exchange": "binance"}


def _example(name: str) -> str:
    return _EXAMPLES.get(name, "...")
