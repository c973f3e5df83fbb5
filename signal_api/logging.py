"""Logging: one format for our structlog lines and every stdlib logger (uvicorn, strawberry, asyncio), with
secrets redacted in whatever renders them.

- Format: JSON lines when stderr is not a terminal (``LOG_JSON`` unset), key=value lines on a terminal;
  ``LOG_JSON=true/false`` forces either. uvicorn's loggers propagate to the root handler installed here,
  whose :class:`structlog.stdlib.ProcessorFormatter` runs the same processors and renderer as ours.
- Request ids: :mod:`signal_api.request_log` binds ``request_id`` with structlog contextvars, which both
  chains merge, so every line logged while a request runs carries it.
- Tracebacks are plain (:func:`traceback.format_exception`): no local variables, no rich rendering
  (which cost about 0.8 s of CPU per 500 and printed request headers held in locals).
- Redaction, twice: values of sensitive keys (``authorization``, ``cookie``, ``set-cookie``,
  ``x-api-key``) in the event, and then the *final rendered string* is scrubbed of header values in
  any quoting (``'authorization': '...'``, ``"Authorization": "..."``, ``(b'cookie', b'...')``,
  ``Authorization: ...``), of ``Bearer`` tokens and of every secret setting value, tracebacks included.
  An ASCII string holding none of the words those patterns need (``authorization``, ``cookie``,
  ``api-key``/``api_key``, ``bearer``, ``basic`` in any case, ``fsa_``, a secret) is returned as it is
  after a few substring checks: the same answer the patterns would give, without their 28 passes (an
  access line spent ~25 µs in them: ``bench/bench_request_log.py``). Other text takes every pass.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import logging
import re
import sys
import threading
import time
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
import structlog
from pydantic import SecretStr

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pydantic import BaseModel
    from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"
SENSITIVE_KEYS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "api_key", "x_api_key"}
    | {"apikey"}  # a WebSocket connection_init payload's {"apiKey": ...}
)
MIN_SECRET_LENGTH = 6
"""Shorter secret values are not scrubbed from text: they would erase ordinary words."""

_HEADER_NAMES = r"(?:proxy[-_])?authorization|set[-_]cookie|cookie|x[-_]api[-_]key"
_HEADER_VALUE = re.compile(
    rf"(?i)\b(?P<name>{_HEADER_NAMES})\b(?P<sep>\\?[\"']?\s*[:=,]\s*b?\\?[\"']?)(?P<value>[^\"'\\\r\n]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
# our API keys (persistence.api_keys) wherever they appear; their 12-character display prefix stays
_SERVICE_KEY = re.compile(r"\bfsa_[A-Za-z0-9_-]{16,}")
# a word every match of _HEADER_VALUE, _BEARER or _SERVICE_KEY contains, lower-cased (Redactor.text's fast path)
_TRIGGER_WORDS = ("authorization", "cookie", "api-key", "api_key", "bearer", "basic", "fsa_")
_HANDLER_NAME = "signal-api"
_CONTEXT_PREFIX = structlog.contextvars.STRUCTLOG_KEY_PREFIX
_CONTEXT_PREFIX_LENGTH = len(_CONTEXT_PREFIX)
_PLAIN = frozenset({int, float, bool})
# no pattern matches fewer characters: a secret form (MIN_SECRET_LENGTH), "basic x" (7), "cookie:x" (8)
_SHORTEST_MATCH = min(MIN_SECRET_LENGTH, 7)


class Redactor:
    """Scrubs sensitive header values, bearer tokens and the given secret values out of text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) < MIN_SECRET_LENGTH:
                continue
            # as written, as JSON escapes it, as repr() escapes it
            forms.update({secret, orjson.dumps(secret).decode()[1:-1], repr(secret)[1:-1]})
        self._secrets = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in self._secrets)) if self._secrets else None

    def _may_hold_secret(self, value: str) -> bool:
        """False only when no pattern of :meth:`text` can match: cheap substring checks instead of regexes.

        Every pattern needs one of these (case-insensitive) words or ``fsa_`` or a secret form, verbatim.
        ASCII only: there ``str.lower`` folds case exactly as the patterns' IGNORECASE does (on other text
        the regex engine also folds e.g. ``ſ`` to ``s``), so anything else goes through the patterns.
        """
        if len(value) < _SHORTEST_MATCH:
            return False
        if not value.isascii():
            return True
        low = value.lower()
        for word in _TRIGGER_WORDS:
            if word in low:
                return True
        for secret in self._secrets:  # noqa: SIM110 (a loop: any() over a generator costs more per call)
            if secret in value:
                return True
        return False

    def text(self, value: str) -> str:
        return self.scrub(value) if self._may_hold_secret(value) else value

    def scrub(self, value: str) -> str:
        """Every pattern over ``value``, with no fast path (what :meth:`text` answers)."""
        if self._pattern is not None:
            value = self._pattern.sub(REDACTED, value)
        value = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
        value = _SERVICE_KEY.sub(REDACTED, value)
        return _HEADER_VALUE.sub(lambda m: f"{m.group('name')}{m.group('sep')}{REDACTED}", value)

    def value(self, value: Any) -> Any:
        """Sensitive keys of mappings (headers) redacted; strings scrubbed; other values untouched."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: REDACTED if _sensitive(k) else self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            if len(value) == 2 and _sensitive(value[0]):  # an ASGI header pair
                return (value[0], REDACTED)
            return [self.value(v) for v in value]
        return value

    def event(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
        """structlog processor: redact the event's values before rendering.

        Fast path (an access line per request): when every key is an ordinary name and every value a
        string, number or None, one :meth:`_may_hold_secret` over all the strings joined decides for all
        of them (a word or secret inside one of them is inside the join), and the event goes on as it is.
        """
        strings: list[str] = []
        for key, value in event_dict.items():
            if key.__class__ is not str or key.lower() in SENSITIVE_KEYS:
                break
            if value.__class__ is str:
                strings.append(value)
            elif value is not None and value.__class__ not in _PLAIN:
                break
        else:
            if not self._may_hold_secret("\n".join(strings)):
                return event_dict
        redacted: EventDict = {}
        for key, value in event_dict.items():
            if _sensitive(key):
                redacted[key] = REDACTED
            elif value is None or value.__class__ in _PLAIN:  # nothing to scrub in a number
                redacted[key] = value
            else:
                redacted[key] = self.value(value)
        return redacted


def _sensitive(key: object) -> bool:
    if isinstance(key, bytes):
        key = key.decode("latin-1")
    return isinstance(key, str) and key.lower() in SENSITIVE_KEYS


class RedactingRenderer:
    """The last processor: render, then scrub the final string (a traceback is only text by now)."""

    def __init__(self, renderer: Processor, redactor: Redactor) -> None:
        self.renderer = renderer
        self.redactor = redactor

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        rendered = self.renderer(logger, name, event_dict)
        text = rendered.decode() if isinstance(rendered, bytes) else str(rendered)
        return self.redactor.text(text)


def secret_values(settings: BaseModel) -> list[str]:
    """Every ``SecretStr`` value of a settings object (and the password inside a secret URL)."""
    values: list[str] = []
    for name in type(settings).model_fields:
        field = getattr(settings, name)
        secrets = field.values() if isinstance(field, dict) else [field]
        for secret in secrets:
            if isinstance(secret, SecretStr):
                plain = secret.get_secret_value()
                values.append(plain)
                password = _url_password(plain)
                if password:
                    values.append(password)
    return values


def _url_password(value: str) -> str | None:
    try:
        return urlsplit(value).password if "://" in value else None
    except ValueError:
        return None


class _Stderr:
    """``sys.stderr`` looked up at each write: it may be replaced after configuration (pytest does)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


class _BatchedStderr(_Stderr):
    """``serve``'s log output: the lines one event-loop iteration logs are written together when it ends.

    Every line is written, in order, within the iteration that logged it (a ``call_soon`` callback), but
    the requests a busy loop answers in one iteration share one system call instead of one each (~5-15
    µs apiece: ``bench/bench_signal.py``). Outside a running loop, writes go through at once (after what a
    stopped loop of the same thread left); what is pending at interpreter exit is flushed by ``atexit``.
    """

    def __init__(self) -> None:
        # per thread: the loop that will flush, and the lines waiting (looked up by thread id, which costs
        # no system call: asyncio's running-loop lookup calls getpid(), once per iteration here)
        self._pending: dict[int, tuple[asyncio.AbstractEventLoop, list[str]]] = {}
        atexit.register(self.flush_all)

    def write(self, text: str) -> int:
        thread = threading.get_ident()
        pending = self._pending.get(thread)
        if pending is not None:
            if pending[0].is_running():
                pending[1].append(text)
                return len(text)
            self._flush_thread(thread)  # its loop stopped before flushing
        loop = asyncio._get_running_loop()
        if loop is None:  # (another thread's pending lines are its own loop's to write: no race on them)
            return sys.stderr.write(text)
        self._pending[thread] = (loop, [text])
        loop.call_soon(self._flush_thread, thread)
        return len(text)

    def flush(self) -> None:
        if threading.get_ident() not in self._pending:  # else flushed when the loop iteration ends
            sys.stderr.flush()

    def _flush_thread(self, thread: int) -> None:
        pending = self._pending.pop(thread, None)  # one pop: two flushers never write the same lines
        if pending is not None and pending[1]:
            try:
                sys.stderr.write("".join(pending[1]))
                sys.stderr.flush()
            except (OSError, ValueError):
                # stderr is gone (a closed pipe): the lines are lost, as an unbatched write's would be. Raised
                # from this callback, the error would go to the loop's handler, which logs it here again:
                # a write that fails forever, a loop that never idles.
                pass

    def flush_all(self) -> None:
        for thread in list(self._pending):
            self._flush_thread(thread)


_second: tuple[int, str] = (-1, "")  # the last whole second stamped and its text: one strftime a second


def _utc_timestamp(logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
    """``timestamp`` as structlog's ``TimeStamper(fmt="iso", utc=True)`` writes it
    (``2026-01-02T03:04:05.123456Z``, no fraction when it is 0), the date part formatted once a second."""
    global _second  # one tuple swapped whole: threads never see half an update
    second, nanos = divmod(time.time_ns(), 1_000_000_000)
    cached = _second
    if cached[0] != second:
        cached = _second = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    micros = nanos // 1000
    event_dict["timestamp"] = f"{cached[1]}.{micros:06d}Z" if micros else f"{cached[1]}Z"
    return event_dict


def _json_renderer(logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
    """One JSON object per line, ``timestamp``, ``level`` and ``event`` first."""
    head = {key: event_dict.pop(key) for key in ("timestamp", "level", "event") if key in event_dict}
    return orjson.dumps({**head, **event_dict}, default=repr).decode()


_RESERVED = frozenset({"timestamp", "level", "event", "exc_info"})
_PLAIN_VALUES = frozenset({str, int, float, bool, type(None)})


class FastJsonLogger:
    """``log.info(event, **fields)`` rendering the very line the configured JSON chain renders, without the
    chain: one dict built in the renderer's key order (``timestamp``, ``level``, ``event``, the fields, then
    structlog's context variables, as :func:`structlog.contextvars.merge_contextvars` adds them), redacted
    by the same :meth:`Redactor.event` and the renderer's :meth:`Redactor.text`, handed to the same
    ``WriteLogger.msg``. A hot line (the access line) then costs
    a few µs less than structlog's generic path (``tests/test_cached_path.py`` proves the bytes equal).
    Only :func:`fast_json_logger` hands it out, and only while that configuration is the one in force."""

    def __init__(
        self, processors: list[Processor], wrapper: Any, factory: structlog.WriteLoggerFactory, level: int
    ) -> None:
        self.processors = tuple(processors)  # the chain this stands for (compared on every use)
        self.wrapper = wrapper
        self.factory = factory
        final = processors[-1]
        assert isinstance(final, RedactingRenderer)
        self.redactor = final.redactor
        self._msg = factory().msg  # what structlog's bound logger calls with the rendered line
        self.enabled = level <= logging.INFO
        self._ordinary_keys: set[tuple[str, ...]] = set()

    def info(self, event: str, **fields: Any) -> None:
        if not self.enabled:
            return
        if not _RESERVED.isdisjoint(fields):  # the chain would move or format these: let it
            structlog.get_logger().info(event, **fields)
            return
        event_dict: EventDict = {"timestamp": None, "level": "info", "event": event, **fields}
        context = contextvars.copy_context()
        for var in context:  # merge_contextvars' loop
            if var.name.startswith(_CONTEXT_PREFIX) and context[var] is not Ellipsis:
                event_dict.setdefault(var.name[_CONTEXT_PREFIX_LENGTH:], context[var])
        _utc_timestamp(None, "info", event_dict)
        if self._plain(event_dict):
            # Strings, numbers and None under ordinary names: if the rendered line holds no trigger word and no
            # secret form, neither did any value (orjson escapes character by character, and no word or
            # JSON-escaped secret form is broken by that), so both redaction passes would return it unchanged.
            line = orjson.dumps(event_dict).decode()
            if not self.redactor._may_hold_secret(line):
                self._msg(line)
                return
        event_dict = self.redactor.event(None, "info", event_dict)
        self._msg(self.redactor.text(orjson.dumps(event_dict, default=repr).decode()))

    def _plain(self, event_dict: EventDict) -> bool:
        """Every value a str, int, float, bool or None, and no key a sensitive header name."""
        if not _PLAIN_VALUES.issuperset(map(type, event_dict.values())):
            return False
        keys = tuple(event_dict)
        if keys in self._ordinary_keys:
            return True
        if any(key.lower() in SENSITIVE_KEYS for key in keys):
            return False
        if len(self._ordinary_keys) < 64:  # a handful of key sets per process; bounded whatever is logged
            self._ordinary_keys.add(keys)
        return True


_fast_json: FastJsonLogger | None = None


def fast_json_logger() -> FastJsonLogger | None:
    """The :class:`FastJsonLogger` of the JSON configuration :func:`configure_logging` installed, while that
    configuration is in force unchanged (not replaced, and its processor list not edited in place as
    ``structlog.testing.capture_logs`` does); None otherwise (use structlog)."""
    fast = _fast_json
    if fast is None:
        return None
    config = structlog.get_config()
    if (
        config["wrapper_class"] is not fast.wrapper
        or config["logger_factory"] is not fast.factory
        or tuple(config["processors"]) != fast.processors
    ):
        return None
    return fast


def configure_logging(
    level: str = "INFO",
    json: bool | None = None,
    *,
    secrets: Iterable[str] = (),
    stream: IO[str] | None = None,
    batched: bool = False,
) -> None:
    """Configure structlog and the stdlib root logger once for the process (idempotent).

    ``json=None`` chooses JSON unless ``stream`` (stderr by default) is a terminal; ``secrets`` are the
    values scrubbed from every line (pass :func:`secret_values` of the settings). ``batched`` (stderr
    only; ``serve``): the lines of one event-loop iteration go out in one write (:class:`_BatchedStderr`).
    """
    out: Any = stream if stream is not None else _BatchedStderr() if batched else _Stderr()
    if json is None:
        json = not (hasattr(out, "isatty") and out.isatty())
    redactor = Redactor(secrets)
    renderer: Processor = (
        _json_renderer
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    final = RedactingRenderer(renderer, redactor)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _utc_timestamp,
        structlog.processors.format_exc_info,  # plain traceback text, never locals
        redactor.event,
    ]
    numeric = logging.getLevelName(level.upper())
    numeric = numeric if isinstance(numeric, int) else logging.INFO
    global _fast_json
    processors: list[Processor] = [*shared, final]
    wrapper = structlog.make_filtering_bound_logger(numeric)
    factory = structlog.WriteLoggerFactory(file=out)  # one write per line (print makes two)
    structlog.configure(
        processors=processors,
        wrapper_class=wrapper,
        logger_factory=factory,
        cache_logger_on_first_use=False,  # reconfiguring (tests, CLI commands) takes effect everywhere
    )
    _fast_json = FastJsonLogger(processors, wrapper, factory, numeric) if json else None
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, final],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()  # lines go to the root handler, in our format
        uvicorn_logger.propagate = True
    for name in ("httpx2", "httpcore", "websockets"):  # a line per upstream call is noise at INFO
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    # our access line (signal_api.request_log) replaces uvicorn's
    logging.getLogger("uvicorn.access").disabled = True


__all__ = ["REDACTED", "FastJsonLogger", "Redactor", "configure_logging", "fast_json_logger", "secret_values"]
