"""OpenAPI 3.1 generated from the registry: a GET route per operation, ``POST /invoke`` and
``GET /invoke/operations``; and its GPT Actions subset (``GET /gpt/action-schema``).

GPT Actions take at most 30 operations, flat parameters, descriptions of at most 300 characters and a
schema under about 1 MB: the subset keeps the GET routes of the operations marked ``gpt``, turns list
parameters into comma-separated strings and leaves out operations with object parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull

from signal_api.rest.jsonschema import input_schema, nullable

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
        "INVALID_ARGUMENT (a parameter is missing, unknown or of the wrong type), MALFORMED_REQUEST (the body "
        "is not a JSON object), INVALID_JSON, INVALID_ENCODING or NESTING_TOO_DEEP (POST /invoke: the body is "
        "not one JSON document, not UTF-8, or nested deeper than 64 levels), INVALID_INPUT (the value is "
        "refused, e.g. a symbol's spelling) or "
        "CAPABILITY_NOT_SUPPORTED (that exchange does not serve this data)."
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
    "itself when an answer would exceed the size limit. meta.truncated says whether it trimmed anything."
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
    parts = [param.description] if param.description else []
    schema = input_schema(param.type, allow_null=False)
    items = schema.get("items", schema)
    if "enum" in items:
        parts.append("Case-insensitive.")
    if _is_list(param):
        parts.append("Comma-separated, e.g. a,b,c." if gpt else "Comma-separated (a,b,c) or repeated (x=a&x=b).")
    if not _is_flat(param):
        parts.append("A JSON object.")
    if param.has_default and param.default is not None:
        parts.append(f"Default {param.default}.")
    return " ".join(parts) or param.name


def query_parameter(param: Param, *, gpt: bool = False) -> dict[str, Any]:
    """An operation variable as an OpenAPI query parameter of its GET route."""
    schema = input_schema(param.type, allow_null=False)
    spec: dict[str, Any] = {
        "name": param.name,
        "in": "query",
        "required": param.required,
        "description": _param_description(param, gpt=gpt),
    }
    if param.has_default and param.default is not None:
        schema["default"] = param.default
    if not _is_flat(param):
        spec["content"] = {"application/json": {"schema": schema}}
        return spec
    if _is_list(param):
        if gpt:  # GPT Actions want flat scalars: the list travels as one comma-separated string
            schema = {"type": "string"}
        else:
            spec["style"], spec["explode"] = "form", False
    spec["schema"] = schema
    return spec


def _compact_parameter() -> dict[str, Any]:
    return {
        "name": "compact",
        "in": "query",
        "required": False,
        "description": COMPACT_PARAM_DESCRIPTION,
        "schema": {"type": "boolean", "default": False},
    }


def _get_route(rest: RestOperation, *, gpt: bool) -> dict[str, Any]:
    description = rest.op.description
    return {
        "get": {
            "operationId": rest.op.operation_id,
            "summary": description.split(". ")[0].rstrip(".")[:120],
            "description": description + ("" if gpt else f" Same as POST /invoke with operation {rest.name}."),
            "tags": [rest.name.split(".")[0]],
            "parameters": [*(query_parameter(p, gpt=gpt) for p in rest.params), _compact_parameter()],
            "responses": _responses(f"{rest.schema_name}Envelope"),
        }
    }


def _request_schema(rest: RestOperation) -> dict[str, Any]:
    variables = {p.name: _body_property(p) for p in rest.params}
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
        },
        "additionalProperties": False,
    }


def _body_property(param: Param) -> dict[str, Any]:
    schema = input_schema(param.type, allow_null=not param.required)
    if param.has_default and param.default is not None:
        schema["default"] = param.default
    return {**schema, "description": _param_description(param, gpt=False)}


def build_openapi(catalog: dict[str, RestOperation], settings: Settings) -> dict[str, Any]:
    """The full REST API: GET /v1/<operation>, POST /invoke and GET /invoke/operations."""
    operations = list(catalog.values())
    schemas: dict[str, Any] = {"Error": ERROR, "Meta": META, "ErrorEnvelope": ERROR_ENVELOPE}
    paths: dict[str, Any] = {}
    for rest in operations:
        schemas[f"{rest.schema_name}Data"] = rest.result_schema
        schemas[f"{rest.schema_name}Envelope"] = _envelope(
            {"anyOf": [_ref(f"{rest.schema_name}Data"), {"type": "null"}]}, operation={"const": rest.name}
        )
        schemas[f"{rest.schema_name}Request"] = _request_schema(rest)
        paths[rest.op.path] = _get_route(rest, gpt=False)
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
    return _document(paths, schemas, settings)


def build_gpt_schema(catalog: dict[str, RestOperation], settings: Settings) -> dict[str, Any]:
    """The GPT Actions subset: GET routes with flat query parameters, ≤ 30 operations, short texts."""
    chosen = [r for r in catalog.values() if r.op.gpt and all(_is_flat(p) for p in r.params)][:GPT_MAX_OPERATIONS]
    schemas: dict[str, Any] = {"Error": ERROR, "Meta": META, "ErrorEnvelope": ERROR_ENVELOPE}
    paths: dict[str, Any] = {}
    for rest in chosen:
        schemas[f"{rest.schema_name}Data"] = rest.result_schema
        schemas[f"{rest.schema_name}Envelope"] = _envelope(
            {"anyOf": [_ref(f"{rest.schema_name}Data"), {"type": "null"}]}, operation={"const": rest.name}
        )
        paths[rest.op.path] = _get_route(rest, gpt=True)
    document = _document(paths, schemas, settings)
    document["info"]["description"] = "Explainable LONG / SHORT / NEUTRAL signals for crypto USDT perpetual futures."
    shortened: dict[str, Any] = shorten_descriptions(document, GPT_MAX_DESCRIPTION)
    return shortened


def _document(paths: dict[str, Any], schemas: dict[str, Any], settings: Settings) -> dict[str, Any]:
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
        "servers": [{"url": settings.public_base_url}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
        # a key, or none: anonymous callers are served on loopback or with ALLOW_ANONYMOUS=true
        "security": [{"bearerKey": []}, {"apiKeyHeader": []}, {}],
    }


def shorten_descriptions(node: Any, limit: int) -> Any:  # a JSON document, any shape
    """A copy with every ``description`` and ``summary`` text cut to ``limit`` characters."""
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
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
