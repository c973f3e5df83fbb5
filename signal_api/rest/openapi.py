"""OpenAPI 3.1 generated from the registry: a GET route per operation, ``POST /invoke`` and
``GET /invoke/operations``; and its GPT Actions subset (``GET /gpt/action-schema``).

GPT Actions take at most 30 operations, flat parameters, descriptions of at most 300 characters and a
schema under about 1 MB: the subset keeps the GET routes of the operations marked ``gpt``, turns list
parameters into comma-separated strings and leaves out operations with object parameters.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLList, GraphQLNonNull

from signal_api.rest.jsonschema import input_schema, nullable
from signal_api.rest.params import PRECISIONS, canonical_spelling

if TYPE_CHECKING:
    from collections.abc import Iterable

    from signal_api.rest.catalog import RestOperation
    from signal_api.rest.params import Param
    from signal_api.settings import Settings

GPT_MAX_OPERATIONS = 30
GPT_MAX_DESCRIPTION = 300
VERSION = "0.1.0"

STATUS_DESCRIPTIONS = {
    "200": "The answer (ok=true), or a Problem the caller should read (ok=false: INSUFFICIENT_DATA, NO_PRICE).",
    "400": (
        "INVALID_ARGUMENT (a parameter missing, unknown or mistyped), INVALID_INPUT (a value refused), "
        "CAPABILITY_NOT_SUPPORTED (that exchange lacks this data); POST /invoke also MALFORMED_REQUEST, "
        "INVALID_JSON, INVALID_ENCODING, NESTING_TOO_DEEP (the body is not one UTF-8 JSON object, ≤ 64 levels)."
    ),
    "401": (
        "UNAUTHENTICATED: the API key is unknown, malformed or revoked, or a key is required (anonymous access "
        "is off); send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."
    ),
    "403": "FORBIDDEN: the API key (or anonymous access) lacks this operation's scope (read, history, ...).",
    "404": "SYMBOL_NOT_FOUND, EXCHANGE_NOT_FOUND, or UNKNOWN_OPERATION (POST /invoke).",
    "413": "RESPONSE_TOO_LARGE (too large even compacted) or PAYLOAD_TOO_LARGE (request body).",
    "429": "RATE_LIMITED: the caller's request or cost budget is spent; Retry-After says when to retry.",
    "503": (
        "UPSTREAM_UNAVAILABLE: the market-data providers this answer needs failed; KEY_STORE_UNAVAILABLE: an "
        "API key was sent but cannot be checked now."
    ),
    "504": "TIMEOUT: the operation took longer than its timeout.",
}

COMPACT_PARAM_DESCRIPTION = (
    "true forces the compact mode (long lists and texts trimmed, diagnostics dropped); it also applies by "
    "itself when an answer would exceed the size limit. meta.truncated and meta.dropped say what it trimmed."
)
PRECISION_PARAM_DESCRIPTION = (
    "trader (default): numbers rounded as a trader reads them (percentages and scores to 2 decimals, prices "
    "to 6 significant digits, USD amounts to whole dollars); full: every digit, as /graphql answers."
)

ERROR = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable error code."},
        "message": {"type": "string", "description": "What went wrong, for a human."},
        "parameter": {"type": "string", "description": "The parameter at fault (INVALID_ARGUMENT)."},
    },
    "additionalProperties": False,
}
META = {
    "type": "object",
    "required": ["duration_ms", "data_quality", "truncated", "operation_timeout_s"],
    "properties": {
        "duration_ms": {"type": "number", "description": "Time spent answering, in milliseconds."},
        "data_quality": {
            "description": "dataQuality.score of the answer (0..100), one per item for lists; null if none.",
            "anyOf": [{"type": "number"}, {"type": "array", "items": {"type": ["number", "null"]}}, {"type": "null"}],
        },
        "truncated": {"type": "boolean", "description": "true when the compact mode trimmed the answer."},
        "operation_timeout_s": {"type": ["number", "null"], "description": "The operation's timeout."},
        "dropped": {
            "type": "array",
            "description": "Items of a batch left out of the answer, each with its symbol and why.",
            "items": {
                "type": "object",
                "required": ["symbol", "reason"],
                "properties": {"symbol": {"type": "string"}, "reason": {"type": "string"}},
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}
ERROR_ENVELOPE = {
    "type": "object",
    "required": ["ok", "error"],
    "properties": {"ok": {"const": False}, "error": {"$ref": "#/components/schemas/Error"}},
}


SECURITY_SCHEMES = {
    "bearerKey": {"type": "http", "scheme": "bearer", "description": "An API key (signal-api keys create)."},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The same key."},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _envelope(data: dict[str, Any], *, operation: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["ok", "operation", "data", "error", "meta"],
        "properties": {
            "ok": {"type": "boolean"},
            "operation": operation,
            "data": data,
            "error": {"anyOf": [_ref("Error"), {"type": "null"}]},
            "meta": _ref("Meta"),
        },
        "additionalProperties": False,
    }


def _responses(envelope_ref: str) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, description in STATUS_DESCRIPTIONS.items():
        schema: dict[str, Any]
        if status in ("401", "413", "429"):  # answered before the operation runs: no operation, data or meta
            schema = _ref("ErrorEnvelope")
        elif status == "503":  # UPSTREAM_UNAVAILABLE is the operation's envelope, KEY_STORE_UNAVAILABLE is not
            schema = {"anyOf": [_ref(envelope_ref), _ref("ErrorEnvelope")]}
        else:
            schema = _ref(envelope_ref)
        responses[status] = {"description": description, "content": {"application/json": {"schema": schema}}}
    responses["429"]["headers"] = {
        "Retry-After": {"description": "Seconds until the budget's window resets.", "schema": {"type": "integer"}}
    }
    return responses


def _is_list(param: Param) -> bool:
    inner = param.type.of_type if isinstance(param.type, GraphQLNonNull) else param.type
    return isinstance(inner, GraphQLList)


def _is_flat(param: Param) -> bool:
    inner = param.type.of_type if isinstance(param.type, GraphQLNonNull) else param.type
    while isinstance(inner, GraphQLList | GraphQLNonNull):
        inner = inner.of_type
    return not isinstance(inner, GraphQLInputObjectType)


def _param_description(param: Param, *, gpt: bool) -> str:
    """What to pass: the registry's text (``ParamDoc``), else the argument's schema description; never just
    the parameter's name (the catalog refuses an operation whose variable has neither)."""
    if param.doc is not None:
        return param.doc.description
    parts = [param.description] if param.description else []
    if _is_list(param):
        parts.append("Comma-separated, e.g. a,b,c." if gpt else "Comma-separated (a,b,c) or repeated (x=a&x=b).")
    if param.has_default and param.default is not None:
        parts.append(f"Default {param.default}.")
    return " ".join(parts)


def _value_schema(param: Param, *, gpt: bool, max_items: int | None) -> dict[str, Any]:
    """The schema of one value: the GraphQL type narrowed by the registry's bounds; enums list their canonical
    spelling only in the GPT schema (the runtime still accepts every alias, which the full schema lists)."""
    schema = input_schema(param.type, allow_null=False, canonical=gpt)
    target = schema["items"] if schema.get("type") == "array" else schema
    doc = param.doc
    if doc is not None:
        if doc.choices is not None:
            listed = target.get("enum")
            target["enum"] = list(doc.choices) if listed is None else [v for v in listed if _chosen(v, doc.choices)]
        if doc.pattern is not None and target.get("type") == "string":
            target["pattern"], target["minLength"] = doc.pattern, max(doc.min_length or 1, 1)
        elif doc.min_length is not None:
            target["minLength"] = doc.min_length
        if doc.minimum is not None:
            target["minimum"] = doc.minimum
        if doc.maximum is not None:
            target["maximum"] = doc.maximum
    if schema.get("type") == "array":
        schema["minItems"] = 1
        if max_items is not None:
            schema["maxItems"] = max_items
        if gpt:  # GPT Actions want flat scalars: the list travels as one comma-separated string
            schema = {"type": "string", "minLength": 1}
            item_pattern = target.get("pattern")
            if item_pattern is None and target.get("enum"):  # a closed set: the comma string lists only its values
                item_pattern = "^(?:" + "|".join(re.escape(str(v)) for v in target["enum"]) + ")$"
            if item_pattern is not None:
                item = item_pattern.removeprefix("^").removesuffix("$")
                repeat = "*" if max_items is None else f"{{0,{max_items - 1}}}"
                schema["pattern"] = rf"^\s*(?:{item})\s*(?:,\s*(?:{item})\s*){repeat}$"
    if param.has_default and param.default is not None:
        schema["default"] = _canonical_default(param, schema) if gpt else param.default
    return schema


def _chosen(value: str, choices: tuple[str, ...]) -> bool:
    return value.lower() in {choice.lower() for choice in choices}


def _canonical_default(param: Param, schema: dict[str, Any]) -> Any:
    """The document's default (a GraphQL enum name such as ``AGGRESSIVE``) in the GPT schema's spelling."""
    inner = param.type.of_type if isinstance(param.type, GraphQLNonNull) else param.type
    if isinstance(inner, GraphQLEnumType) and isinstance(param.default, str):
        return canonical_spelling(inner, param.default)
    return param.default


def query_parameter(param: Param, *, gpt: bool = False, max_items: int | None = None) -> dict[str, Any]:
    """An operation variable as an OpenAPI query parameter of its GET route."""
    spec: dict[str, Any] = {
        "name": param.name,
        "in": "query",
        "required": param.required,
        "description": _param_description(param, gpt=gpt),
    }
    schema = _value_schema(param, gpt=gpt, max_items=max_items)
    if not _is_flat(param):
        spec["content"] = {"application/json": {"schema": schema}}
        return spec
    if _is_list(param) and not gpt:
        spec["style"], spec["explode"] = "form", False
    spec["schema"] = schema
    return spec


def _shim_parameters() -> list[dict[str, Any]]:
    """``compact`` and ``precision``: how the shim renders any operation's answer."""
    return [
        {
            "name": "compact",
            "in": "query",
            "required": False,
            "description": COMPACT_PARAM_DESCRIPTION,
            "schema": {"type": "boolean", "default": False},
        },
        {
            "name": "precision",
            "in": "query",
            "required": False,
            "description": PRECISION_PARAM_DESCRIPTION,
            "schema": {"type": "string", "enum": list(PRECISIONS), "default": PRECISIONS[0]},
        },
    ]


def _get_route(rest: RestOperation, *, gpt: bool, max_items: int | None) -> dict[str, Any]:
    description = rest.op.description
    return {
        "get": {
            "operationId": rest.op.operation_id,
            "summary": rest.op.summary,
            "description": description + ("" if gpt else f" Same as POST /invoke with operation {rest.name}."),
            "tags": [rest.name.split(".")[0]],
            "parameters": [
                *(query_parameter(p, gpt=gpt, max_items=max_items) for p in rest.params),
                *_shim_parameters(),
            ],
            "responses": _responses(f"{rest.schema_name}Envelope"),
        }
    }


def _request_schema(rest: RestOperation, max_items: int | None) -> dict[str, Any]:
    variables = {p.name: _body_property(p, max_items) for p in rest.params}
    return {
        "type": "object",
        "title": f"{rest.schema_name}Request",
        "required": ["operation", *(p.name for p in rest.params if p.required)],
        "properties": {
            "operation": {"type": "string", "const": rest.name},
            **variables,
            "args": {
                "type": "object",
                "description": "The parameters nested instead of flat (flat ones are overridden by these).",
                "properties": variables,
                "additionalProperties": False,
            },
            "compact": {"type": "boolean", "description": COMPACT_PARAM_DESCRIPTION},
            "precision": {"type": "string", "enum": list(PRECISIONS), "description": PRECISION_PARAM_DESCRIPTION},
        },
        "additionalProperties": False,
    }


def _body_property(param: Param, max_items: int | None) -> dict[str, Any]:
    schema = _value_schema(param, gpt=False, max_items=max_items)
    if not param.required:
        schema = nullable(schema)
    return {**schema, "description": _param_description(param, gpt=False)}


def build_openapi(catalog: dict[str, RestOperation], settings: Settings, base_url: str) -> dict[str, Any]:
    """The full REST API: GET /v1/<operation>, POST /invoke and GET /invoke/operations; ``base_url`` is its
    ``servers`` entry (:func:`server_url`)."""
    max_items = settings.max_symbols_per_request
    operations = list(catalog.values())
    schemas: dict[str, Any] = {"Error": ERROR, "Meta": META, "ErrorEnvelope": ERROR_ENVELOPE}
    paths: dict[str, Any] = {}
    for rest in operations:
        schemas[f"{rest.schema_name}Data"] = rest.result_schema
        schemas[f"{rest.schema_name}Envelope"] = _envelope(
            {"anyOf": [_ref(f"{rest.schema_name}Data"), {"type": "null"}]}, operation={"const": rest.name}
        )
        schemas[f"{rest.schema_name}Request"] = _request_schema(rest, max_items)
        paths[rest.op.path] = _get_route(rest, gpt=False, max_items=max_items)
    schemas["InvokeEnvelope"] = _envelope(
        {"anyOf": [*(_ref(f"{r.schema_name}Data") for r in operations), {"type": "null"}]},
        operation=nullable({"type": "string"}),
    )
    paths["/invoke"] = {
        "post": {
            "operationId": "invoke",
            "summary": "Run any operation by name",
            "description": (
                'Body {"operation": "signals.get", "symbol": "BTC"} with flat parameters, or nested as '
                '{"operation": ..., "args": {...}}. Answers the same envelope as the GET routes.'
            ),
            "tags": ["invoke"],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [_ref(f"{r.schema_name}Request") for r in operations],
                            "discriminator": {
                                "propertyName": "operation",
                                "mapping": {r.name: f"#/components/schemas/{r.schema_name}Request" for r in operations},
                            },
                        }
                    }
                },
            },
            "responses": {
                **_responses("InvokeEnvelope"),
                "415": {
                    "description": "UNSUPPORTED_MEDIA_TYPE: the body is not sent as Content-Type: application/json.",
                    "content": {"application/json": {"schema": _ref("InvokeEnvelope")}},
                },
            },
        }
    }
    paths["/invoke/operations"] = {
        "get": {
            "operationId": "listOperations",
            "summary": "List the operations and their parameters",
            "tags": ["invoke"],
            "responses": {
                "200": {
                    "description": "Every operation of the registry.",
                    "content": {"application/json": {"schema": OPERATIONS_LIST}},
                }
            },
        }
    }
    return _document(paths, schemas, base_url)


def build_gpt_schema(catalog: dict[str, RestOperation], settings: Settings, base_url: str) -> dict[str, Any]:
    """The GPT Actions subset: GET routes with flat query parameters, ≤ 30 operations, short texts."""
    chosen = [r for r in catalog.values() if r.op.gpt and all(_is_flat(p) for p in r.params)][:GPT_MAX_OPERATIONS]
    schemas: dict[str, Any] = {"Error": ERROR, "Meta": META, "ErrorEnvelope": ERROR_ENVELOPE}
    paths: dict[str, Any] = {}
    for rest in chosen:
        schemas[f"{rest.schema_name}Data"] = rest.result_schema
        schemas[f"{rest.schema_name}Envelope"] = _envelope(
            {"anyOf": [_ref(f"{rest.schema_name}Data"), {"type": "null"}]}, operation={"const": rest.name}
        )
        paths[rest.op.path] = _get_route(rest, gpt=True, max_items=settings.max_symbols_per_request)
    document = _document(paths, schemas, base_url)
    document["info"]["description"] = "Explainable LONG / SHORT / NEUTRAL signals for crypto USDT perpetual futures."
    shortened: dict[str, Any] = shorten_descriptions(document, GPT_MAX_DESCRIPTION)
    return shortened


def _document(paths: dict[str, Any], schemas: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Futures Signal API",
            "version": VERSION,
            "description": (
                "REST shim over the GraphQL API, generated from its registry of named operations: every route "
                "runs the same GraphQL document as /graphql and answers the envelope {ok, operation, data, "
                "error, meta}."
            ),
        },
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
        # a key, or none: anonymous callers are served on loopback or with ALLOW_ANONYMOUS=true
        "security": [{"bearerKey": []}, {"apiKeyHeader": []}, {}],
    }


def shorten_descriptions(node: Any, limit: int) -> Any:  # a JSON document, any shape
    """A copy with every ``description`` and ``summary`` text within ``limit`` characters: the registry's own
    texts are written to fit (a test holds them to it); schema field descriptions longer than that keep
    their whole sentences that fit."""
    if isinstance(node, dict):
        return {
            key: _shorten(value, limit)
            if key in ("description", "summary") and isinstance(value, str)
            else shorten_descriptions(value, limit)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [shorten_descriptions(item, limit) for item in node]
    return node


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = head.rfind(". ")
    if end > limit // 3:
        return head[: end + 1]
    return head[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def walk_descriptions(node: Any) -> Iterable[str]:
    """Every ``description`` and ``summary`` text in an OpenAPI document (for tests and checks)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str):
                yield value
            else:
                yield from walk_descriptions(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_descriptions(item)


PARAMETER_INFO = {
    "type": "object",
    "required": ["name", "type", "graphql_type", "required", "default", "enum", "description"],
    "properties": {
        "name": {"type": "string"},
        "type": {"type": "string"},
        "graphql_type": {"type": "string"},
        "required": {"type": "boolean"},
        "default": {},
        "enum": {"type": ["array", "null"], "items": {"type": "string"}},
        "description": {"type": "string"},
    },
}
OPERATIONS_LIST = {
    "type": "object",
    "required": ["operations"],
    "properties": {
        "operations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "description", "method", "path", "parameters", "timeout_seconds"],
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "method": {"type": "string"},
                    "path": {"type": "string"},
                    "invoke": {"type": "object"},
                    "parameters": {"type": "array", "items": PARAMETER_INFO},
                    "timeout_seconds": {"type": "number"},
                    "gpt": {"type": "boolean"},
                },
            },
        }
    },
}


def operation_info(rest: RestOperation, timeout_seconds: float) -> dict[str, Any]:
    """One entry of ``GET /invoke/operations``."""
    parameters = []
    for param in rest.params:
        schema = input_schema(param.type, allow_null=False)
        items = schema.get("items", schema)
        kind = schema.get("type", "object")
        parameters.append(
            {
                "name": param.name,
                "type": f"array<{items.get('type', 'object')}>" if kind == "array" else str(kind),
                "graphql_type": param.graphql_type,
                "required": param.required,
                "default": param.default,
                "enum": items.get("enum"),
                "description": _param_description(param, gpt=False),
            }
        )
    return {
        "name": rest.name,
        "description": rest.op.description,
        "method": "GET",
        "path": rest.op.path,
        "invoke": {"method": "POST", "path": "/invoke", "body": {"operation": rest.name}},
        "parameters": parameters,
        "timeout_seconds": timeout_seconds,
        "gpt": rest.op.gpt,
    }
