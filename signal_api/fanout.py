"""Shared subscription fan-out for graphql-transport-ws: one execution per distinct operation, many sockets.

Strawberry executes a subscription once per subscriber: every event is resolved, serialized and sent
N times. For the market streams (``liquidations``, ``largeTrades``, ``candles``, ``spikes``) and
``signalUpdates`` the result depends only on the operation, not on who asked, so
:class:`SharedFanoutHandler` runs identical operations once per process (``signalUpdates`` also shares
its evaluations across different operations: :mod:`resolvers.signal_feeds`):

- Key: the normalized document (parsed and printed, so whitespace and comments do not matter), the
  variables (sorted JSON) and the operation name. The first subscriber starts ``schema.subscribe``;
  later subscribers with the same key join the running :class:`SharedGroup`.
- Context: the shared execution does **not** run with any subscriber's own context. It runs with
  :meth:`SharedFanoutHandler.shared_context`, built from the *first* connection's services (fresh
  loaders, no subscription count, no request/response), so it can outlive that connection. Anything
  per-connection (``connection_params``, authentication, the rate-limit status) is therefore not seen by
  shared operations, which is why sharing is limited to :data:`SHAREABLE_FIELDS`; everything else
  (``alerts``: per caller; queries, mutations, unparsable documents) goes through Strawberry's handler.
- Each result's payload is serialized once (orjson, ``str``), and each ``next`` frame once per distinct
  subscription id of a broadcast (clients that all say ``"id": "1"`` share one frame string).
- State streams (:data:`STATE_FIELDS`: ``signalUpdates``): the group keeps its newest payload per
  symbol and sends them to a subscriber that joins later, so it gets each signal first as it would
  alone. To know whose state a payload is, the shared execution also selects ``symbol`` under
  :data:`STATE_ALIAS` and removes it before serializing.
- A frame is written at once to a socket that is not behind (no task, see :class:`_Connection`); a
  socket that is behind queues it in its subscriber's bounded queue (``queue_size`` frames, oldest dropped
  first and counted) and one task drains it, so a slow or stalled client only loses its own old events
  and never delays the group or other connections.
- The last subscriber to leave (``complete`` or disconnect) cancels the group's execution, which
  closes the resolver's generator and so releases the hub streams and the broker subscription.

Protocol semantics kept per id: errors raised before the stream starts (validation and every
``resolvers.streams.StreamRefused`` code: ``INVALID_INPUT``, ``EXCHANGE_NOT_FOUND``, ``SYMBOL_NOT_FOUND``,
``STREAM_UNSUPPORTED``, ``STREAM_NOT_RECORDED``, ``STREAMS_UNAVAILABLE``) become an ``error`` message for
every subscriber of that group; a typed error raised while streaming is a ``next`` carrying it, then
``complete``; an unexpected failure of the execution is an ``error`` with code ``INTERNAL_SERVER_ERROR``
(details in the log); the end of the stream becomes ``complete`` per id; a duplicate id closes with 4409.

Per-connection limit: the resolvers count a connection's subscriptions in
``RequestContext.active_subscriptions`` (``TOO_MANY_SUBSCRIPTIONS``), but a shared execution runs with
its own context. The handler therefore checks and counts each shared subscription in the
*connection's* context, so shared and unshared subscriptions of one connection share one limit and the error
(code ``TOO_MANY_SUBSCRIPTIONS``) is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    parse,
    print_ast,
)
from graphql.error import GraphQLSyntaxError
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.http.typevars import Context, RootValue
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from resolvers.context import RequestContext
from schema.cost import query_cost
from schema.ratelimit import cost_refusal
from signal_api.metrics import WS_SUBSCRIPTIONS
from signal_api.security.ratelimit import limits_of
from signal_api.ws_frames import frame_problem

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Generator

    from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
        CompleteMessage,
        ConnectionInitMessage,
        Message,
        SubscribeMessage,
    )

    from resolvers.streams import StreamServices

log = logging.getLogger(__name__)

SHAREABLE_FIELDS = frozenset({"liquidations", "largeTrades", "candles", "spikes", "signalUpdates"})
"""Root subscription fields whose results depend only on the operation, never on the connection."""

STATE_FIELDS = {"signalUpdates": "symbol"}
"""Root fields whose events are states, by the field naming whose state: a subscriber joining a running
group is sent the group's latest payload of each (``signalUpdates`` pushes each symbol's signal first)."""

STATE_ALIAS = "fanoutStateKey_"
"""The alias under which a shared execution also selects the state field; removed before serializing."""

DEFAULT_QUEUE_SIZE = 256

BROADCAST_CHUNK = 128
"""Frames written between two loop turns of a broadcast (~2 ms): handshakes and requests interleave."""

INTERNAL_FAILURE = {"message": "the stream failed on the server", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
"""The ``error`` payload for a shared execution that raised unexpectedly (the details are logged)."""

GroupKey = tuple[str, str, str | None]


@functools.lru_cache(maxsize=1024)
def _normalized(query: str, operation_name: str | None) -> str | None:
    """The printed document when its selected operation is a subscription of shareable root fields only;
    ``None`` (not shareable: Strawberry's own path handles it, errors included) otherwise."""
    shared = _shared_operation(query, operation_name)
    return None if shared is None else print_ast(shared[0])


@functools.lru_cache(maxsize=1024)
def executed_document(normalized: str) -> tuple[str, str | None]:
    """What a shared execution runs, and the response key of its state field (None: events, not states).

    For a :data:`STATE_FIELDS` root field, the document also selects the state's key field under
    :data:`STATE_ALIAS`, so each payload says whose state it is whatever the subscriber selected."""
    document = parse(normalized)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        for selection in definition.selection_set.selections:
            if isinstance(selection, FieldNode) and selection.name.value in STATE_FIELDS and selection.selection_set:
                name = NameNode(value=STATE_FIELDS[selection.name.value])
                extra = FieldNode(name=name, alias=NameNode(value=STATE_ALIAS), arguments=(), directives=())
                fields = dataclasses.replace(
                    selection.selection_set, selections=(*selection.selection_set.selections, extra)
                )
                field = dataclasses.replace(selection, selection_set=fields)
                root = tuple(field if s is selection else s for s in definition.selection_set.selections)
                operation = dataclasses.replace(
                    definition, selection_set=dataclasses.replace(definition.selection_set, selections=root)
                )
                definitions = tuple(operation if d is definition else d for d in document.definitions)
                document = dataclasses.replace(document, definitions=definitions)
                response_key = (selection.alias or selection.name).value
                return print_ast(document), response_key
    return normalized, None


def _shared_operation(query: str, operation_name: str | None) -> tuple[DocumentNode] | None:
    try:
        document = parse(query)
    except GraphQLSyntaxError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        chosen = operations[0] if len(operations) == 1 else None
    else:
        named = [o for o in operations if o.name is not None and o.name.value == operation_name]
        chosen = named[0] if len(named) == 1 else None
    if chosen is None or chosen.operation is not OperationType.SUBSCRIPTION:
        return None
    selections = chosen.selection_set.selections
    if not selections or not all(
        isinstance(s, FieldNode) and s.name.value in SHAREABLE_FIELDS and not s.directives for s in selections
    ):
        return None
    return (document,)


def group_key(query: str, variables: dict[str, object] | None, operation_name: str | None) -> GroupKey | None:
    """The sharing key of an operation, or ``None`` when it must run per subscriber."""
    if not isinstance(query, str) or not isinstance(variables, dict | None):
        return None  # malformed: Strawberry's path answers it
    if operation_name is not None and not isinstance(operation_name, str):
        return None
    normalized = _normalized(query, operation_name)
    if normalized is None:
        return None
    try:
        encoded = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return None
    return normalized, encoded, operation_name


class SharedSubscriber:
    """One subscription id of one connection: a bounded drop-oldest queue of its ``next`` frames."""

    __slots__ = ("connection", "dropped", "final", "group", "id", "on_done", "prefix", "queue")

    def __init__(
        self, connection: _Connection, op_id: str, group: SharedGroup, maxsize: int, on_done: Callable[[str], object]
    ) -> None:
        self.connection = connection
        self.on_done = on_done
        self.id = op_id
        self.group = group
        self.prefix = '{"id":' + orjson.dumps(op_id).decode() + ',"type":"next","payload":'
        self.queue: deque[str] = deque(maxlen=maxsize)
        self.final: str | None = None  # the terminal frame (error/complete), sent after the queue drains
        self.dropped = 0

    def frame(self, payload: str) -> str:
        return self.prefix + payload + "}"

    def push(self, frame: str) -> None:
        """``frame``: this subscriber's ``next`` frame (:meth:`frame`), often shared with others of its id."""
        if self.connection.idle:  # the usual case: written now, no queue, no task
            self.connection.write(frame)
            return
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1  # deque(maxlen) discards the oldest on append
        self.queue.append(frame)
        self.connection.wake(self)

    def finish(self, frame: str) -> None:
        """The group ended: the id is de-registered at once (as Strawberry does before its final
        message), then the queued payloads and ``frame`` are still written."""
        self.on_done(self.id)
        self.final = frame
        self.connection.wake(self)


class SharedGroup:
    """One running execution of an operation and the subscribers it fans out to."""

    def __init__(self, registry: FanoutRegistry, key: GroupKey) -> None:
        self.registry = registry
        self.key = key
        self.subscribers: dict[tuple[int, str], SharedSubscriber] = {}
        self.task: asyncio.Task[None] | None = None
        self.events = 0  # results serialized (once each)
        self.broadcasting = False  # an event is being written (a broadcast spans several loop turns)
        self.document = key[0]  # what start() executes (the state field's key added)
        self.state_key: str | None = None
        self.latest: dict[str, str] = {}  # state fields: the newest payload per state (sent to late joiners)

    def start(
        self, schema: Any, query: str, variables: dict[str, object] | None, context: object, root: object
    ) -> None:
        self.document, self.state_key = executed_document(self.key[0])
        self.task = asyncio.create_task(self._run(schema, query, variables, context, root))
        self.task.add_done_callback(_retrieve)

    def add(self, subscriber: SharedSubscriber) -> None:
        self.subscribers[(id(subscriber.connection), subscriber.id)] = subscriber
        for payload in self.latest.values():  # a state stream's current states first
            subscriber.push(subscriber.frame(payload))

    def remove(self, subscriber: SharedSubscriber) -> None:
        """Detach; the last one out cancels the execution (releasing the streams it holds)."""
        self.subscribers.pop((id(subscriber.connection), subscriber.id), None)
        if not self.subscribers:
            self.registry.forget(self)
            if self.task is not None:
                self.task.cancel()

    async def _run(
        self, schema: Any, query: str, variables: dict[str, object] | None, context: object, root: object
    ) -> None:
        frames: list[Any] | None = None  # error payload, or None for a plain complete
        try:
            source = await schema.subscribe(
                self.document,
                variable_values=variables,
                context_value=context,
                root_value=root,
                operation_name=self.key[2],
            )
            if isinstance(source, ExecutionResult):  # defensive: older Strawberry returned a single result
                frames = [e.formatted for e in source.errors or []]
            else:
                async with aclosing(source):
                    first = True
                    async for result in source:
                        if first and isinstance(result, PreExecutionError):
                            frames = [e.formatted for e in result.errors or []]
                            break
                        first = False
                        await self._broadcast_fairly(self._serialize(result))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("shared subscription failed", extra={"operation": self.key[2]})
            frames = [INTERNAL_FAILURE]  # every subscriber is told, with a code (never a bare complete)
        self.registry.forget(self)  # before the final frames: a new subscriber starts a fresh execution
        for subscriber in tuple(self.subscribers.values()):
            body = ',"type":"complete"}' if frames is None else ',"type":"error","payload":' + _dumps(frames) + "}"
            subscriber.finish('{"id":' + _dumps(subscriber.id) + body)
        self.subscribers.clear()

    def _serialize(self, result: ExecutionResult) -> str:
        state = None
        if self.state_key is not None and isinstance(result.data, dict):
            value = result.data.get(self.state_key)
            if isinstance(value, dict):
                state = value.pop(STATE_ALIAS, None)  # ours, not the subscriber's
        payload: dict[str, object] = {"data": result.data}
        if result.errors:
            payload["errors"] = [e.formatted for e in result.errors]
        if result.extensions:
            payload["extensions"] = result.extensions
        self.events += 1
        text = _dumps(payload)
        if isinstance(state, str):
            self.latest[state] = text
        return text

    def _broadcast(self, payload: str) -> None:
        frames: dict[str, str] = {}
        for subscriber in tuple(self.subscribers.values()):
            frame = frames.get(subscriber.prefix)
            if frame is None:
                frame = frames[subscriber.prefix] = subscriber.frame(payload)
            subscriber.push(frame)

    async def _broadcast_fairly(self, payload: str) -> None:
        """Every subscriber, :data:`BROADCAST_CHUNK` at a time with a loop turn after each chunk.

        Why: writing 3,000 frames takes ~50 ms of one core; done in one step, every handshake, ping and
        request of the process waited behind each event (3,000 subscribers took minutes to connect while
        events flowed). The turns also let catching-up writers run: with a backlog the source never
        suspends, and a burst larger than the queues would otherwise overflow even fast subscribers."""
        subscribers = tuple(self.subscribers.values())
        frames: dict[str, str] = {}  # by id prefix: one frame string per distinct subscription id
        self.broadcasting = True
        try:
            for start in range(0, len(subscribers), BROADCAST_CHUNK):
                members = self.subscribers
                for subscriber in subscribers[start : start + BROADCAST_CHUNK]:
                    if start and (id(subscriber.connection), subscriber.id) not in members:
                        continue  # left during the broadcast
                    frame = frames.get(subscriber.prefix)
                    if frame is None:
                        frame = frames[subscriber.prefix] = subscriber.frame(payload)
                    subscriber.push(frame)
                await asyncio.sleep(0)
        finally:
            self.broadcasting = False


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


class FanoutRegistry:
    """The running groups of one view (one schema), by :func:`group_key`."""

    def __init__(self) -> None:
        self.groups: dict[GroupKey, SharedGroup] = {}
        self.executions = 0  # groups ever started: one per distinct operation while it has subscribers

    def get_or_start(
        self,
        key: GroupKey,
        schema: Any,
        query: str,
        variables: dict[str, object] | None,
        context_factory: Any,
        root: object,
    ) -> SharedGroup:
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = SharedGroup(self, key)
            self.executions += 1
            group.start(schema, query, variables, context_factory(), root)
        return group

    def forget(self, group: SharedGroup) -> None:
        if self.groups.get(group.key) is group:
            del self.groups[group.key]


_REGISTRIES: weakref.WeakKeyDictionary[object, FanoutRegistry] = weakref.WeakKeyDictionary()


def registry_of(view: object) -> FanoutRegistry:
    """The view's registry (created on first use): groups are shared by every connection of a view."""
    registry = _REGISTRIES.get(view)
    if registry is None:
        registry = _REGISTRIES[view] = FanoutRegistry()
    return registry


_GONE = (WebSocketDisconnected, OSError, RuntimeError)
"""What a send to a closed socket raises (the Starlette adapter's are all WebSocketDisconnected)."""


class _Resumed:
    """Awaiting this continues a coroutine that already ran up to its first suspension (``waiting``)."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, None]:
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                sent = yield waiting
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # thrown in by the task (a cancellation): passed on
                try:
                    waiting = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = coro.send(sent)
                except StopIteration:
                    return


class _Connection:
    """A connection's writer: frames in arrival order, round robin over its subscribers.

    A frame with nothing queued before it is written at once: the send runs synchronously up to its first
    suspension, and uvicorn writes to the transport without suspending unless the socket is paused, so a
    usual frame costs neither a task nor a loop turn. When a send does suspend (a client not reading),
    one task continues it and drains the queued frames (each subscriber's queue drops its oldest), then
    ends: a connection holds a task only while it is behind."""

    __slots__ = ("broken", "pending", "ready", "send_text", "task")

    behind = 0
    """Connections of the process whose send is suspended now (a client not reading fast enough)."""

    def __init__(self, send_text: Callable[[str], Coroutine[Any, Any, None]]) -> None:
        self.send_text = send_text
        self.ready: deque[SharedSubscriber] = deque()  # subscribers with something to send
        self.pending: set[SharedSubscriber] = set()
        self.task: asyncio.Task[None] | None = None  # while a send is suspended or frames wait behind it
        self.broken = False

    @property
    def idle(self) -> bool:
        """Nothing queued or in flight: the next frame can be written now."""
        return self.task is None and not self.ready and not self.broken

    def write(self, frame: str) -> None:
        """Write ``frame`` now (call only when :attr:`idle`); a suspended send continues in a task."""
        coro = self.send_text(frame)
        try:
            waiting = coro.send(None)
        except StopIteration:
            return
        except _GONE:
            self.broken = True  # the socket is gone; the read loop ends and shutdown detaches
            return
        _Connection.behind += 1
        task = self.task = asyncio.create_task(self._catch_up(coro, waiting))
        task.add_done_callback(self._caught_up)

    def _caught_up(self, task: asyncio.Task[None]) -> None:
        """Also after a cancellation before the task's first step (its ``finally`` never ran)."""
        _Connection.behind -= 1
        _retrieve(task)
        if self.task is task:
            self.task = None

    def wake(self, subscriber: SharedSubscriber) -> None:
        if subscriber not in self.pending:
            self.pending.add(subscriber)
            self.ready.append(subscriber)
        while self.task is None and not self.broken:  # written now until a send suspends
            frame = self._next_frame()
            if frame is None:
                return
            self.write(frame)

    def discard(self, subscriber: SharedSubscriber) -> None:
        subscriber.queue.clear()
        subscriber.final = None
        self.pending.discard(subscriber)  # a stale entry in ``ready`` is skipped by _next_frame

    def _next_frame(self) -> str | None:
        while self.ready:
            subscriber = self.ready.popleft()
            if subscriber not in self.pending:
                continue
            if subscriber.queue:
                frame = subscriber.queue.popleft()
            elif subscriber.final is not None:
                frame, subscriber.final = subscriber.final, None
            else:
                self.pending.discard(subscriber)
                continue
            if subscriber.queue or subscriber.final is not None:
                self.ready.append(subscriber)  # round robin: one frame per subscriber per turn
            else:
                self.pending.discard(subscriber)
            return frame
        return None

    async def _catch_up(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        try:
            await _Resumed(coro, waiting)
            while (frame := self._next_frame()) is not None:
                await self.send_text(frame)
        except _GONE:
            self.broken = True
        finally:
            self.task = None  # now, not in the done callback: a frame pushed before it runs must be written

    async def aclose(self) -> None:
        task = self.task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


_LIVE_HANDLERS: weakref.WeakSet[SharedFanoutHandler[Any, Any]] = weakref.WeakSet()
# active subscriptions (Strawberry's operations and shared ids) of every open connection, read at scrape time
WS_SUBSCRIPTIONS.set_function(lambda: sum(len(h.operations) + len(h.shared) for h in tuple(_LIVE_HANDLERS)))


class SharedFanoutHandler(BaseGraphQLTransportWSHandler[Context, RootValue]):
    """graphql-transport-ws with shared executions for :data:`SHAREABLE_FIELDS` (see the module docstring).

    Plug in with ``graphql_transport_ws_handler_class = SharedFanoutHandler`` on the view.
    """

    queue_size: int = DEFAULT_QUEUE_SIZE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared: dict[str, SharedSubscriber] = {}
        self._connection: _Connection | None = None
        self._key_slot: str | None = None  # this connection's place in its key's connection limit
        _LIVE_HANDLERS.add(self)

    def _scope(self) -> dict[str, Any] | None:
        scope = getattr(getattr(self.websocket, "ws", None), "scope", None)
        return scope if isinstance(scope, dict) else None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """Strawberry's, then the per-key connection limit: the key arrives with ``connection_init``."""
        await super().handle_connection_init(message)
        scope = self._scope()
        limits = limits_of(scope) if scope is not None else None
        if self.connection_acknowledged and self._key_slot is None and limits is not None and scope is not None:
            slot = limits.admit_key_connection(scope)
            if slot is None:
                await self.websocket.close(code=4429, reason="too many WebSocket connections for this key")
                return
            self._key_slot = slot

    async def handle_message(self, message: Message) -> None:
        """A malformed frame closes with 4400 and a reason (:mod:`signal_api.ws_frames`); a failure while
        handling a well-formed one is logged in one line and closes with 4500, never a traceback."""
        problem = frame_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        try:
            await super().handle_message(message)
        except WebSocketDisconnected:
            raise
        except Exception as exc:
            log.warning("websocket message failed: %s", type(exc).__name__)
            with contextlib.suppress(Exception):
                await self.websocket.close(code=4500, reason="internal error")

    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        """A document that does not parse is answered with an ``error`` message for its id (as a
        validation error is), not by closing the connection."""
        if isinstance(error, GraphQLSyntaxError):
            return None
        return BaseGraphQLTransportWSHandler._get_pre_execution_close_reason(error)

    def shared_context(self) -> object:
        """The context of a shared execution: the first connection's services, nothing of its own."""
        context: object = self.context
        if isinstance(context, RequestContext):
            return RequestContext.create(context.services)
        return context

    def _request_context(self) -> RequestContext | None:
        return self.context if isinstance(self.context, RequestContext) else None

    def _streams(self) -> StreamServices | None:
        context = self._request_context()
        return context.services.streams if context is not None else None

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        op_id = message["id"]
        if self.connection_acknowledged and op_id in self.shared:
            await self.websocket.close(code=4409, reason=f"Subscriber for {op_id} already exists")
            return
        payload = message["payload"]
        variables = payload.get("variables")
        key = group_key(payload["query"], variables, payload.get("operationName"))
        streams, context = self._streams(), self._request_context()
        if key is None or streams is None or context is None or not self.connection_acknowledged:
            await self._with_shared_counted(message)
            return
        if op_id in self.operations:
            await self.websocket.close(code=4409, reason=f"Subscriber for {op_id} already exists")
            return
        limit = self.max_subscriptions_per_connection
        if limit is not None and len(self.operations) + len(self.shared) >= limit:
            await self._send_error(op_id, GraphQLError("Subscription limit reached"))
            return
        if context.active_subscriptions >= streams.max_subscriptions_per_connection:
            error = GraphQLError(
                f"at most {streams.max_subscriptions_per_connection} subscriptions per connection",
                extensions={"code": "TOO_MANY_SUBSCRIPTIONS"},
            )
            await self._send_error(op_id, error)
            return
        refusal = await self._charge_shared(payload["query"], variables, payload.get("operationName"))
        if refusal is not None:
            await self._send_error(op_id, refusal)
            return
        context.active_subscriptions += 1
        group = registry_of(self.view).get_or_start(
            key, self.schema, payload["query"], variables, self.shared_context, self.root_value
        )
        subscriber = SharedSubscriber(self._writer(), op_id, group, self.queue_size, self._forget_shared)
        self.shared[op_id] = subscriber
        group.add(subscriber)

    async def _charge_shared(
        self, query: str, variables: dict[str, object] | None, operation_name: str | None
    ) -> GraphQLError | None:
        """The cost budget for a shared subscription: its execution runs without this connection's
        context, so ``schema.ratelimit.CostBudget`` cannot see who to charge; it is charged here."""
        scope = self._scope()
        limits = limits_of(scope) if scope is not None else None
        if scope is None or limits is None or not limits.enabled:
            return None
        schema: Any = self.schema  # a strawberry.Schema (BaseSchema does not declare what query_cost reads)
        cost = query_cost(schema, parse(query), variables, operation_name)
        charge = await limits.charge_cost_of(scope, cost)
        return None if charge.allowed else cost_refusal(cost, charge)

    async def _with_shared_counted(self, message: SubscribeMessage) -> None:
        """Strawberry's path, with its operation limit also counting this connection's shared ids."""
        limit = self.max_subscriptions_per_connection
        if limit is not None and self.shared and self.connection_acknowledged:
            self.max_subscriptions_per_connection = max(limit - len(self.shared), 0)
            try:
                await super().handle_subscribe(message)
            finally:
                self.max_subscriptions_per_connection = limit
            return
        await super().handle_subscribe(message)

    async def _send_error(self, op_id: str, error: GraphQLError) -> None:
        await self.send_message({"id": op_id, "type": "error", "payload": [error.formatted]})

    def _writer(self) -> _Connection:
        if self._connection is None:
            websocket = self.websocket
            if isinstance(websocket, ASGIWebSocketAdapter):
                ws = websocket.ws

                async def send_text(text: str) -> None:
                    try:
                        await ws.send_text(text)
                    except Exception as exc:  # starlette raises several types for a closed socket
                        raise WebSocketDisconnected from exc

            else:  # another integration: decode and let its adapter encode again

                async def send_text(text: str) -> None:
                    await websocket.send_json(orjson.loads(text))

            self._connection = _Connection(send_text)
        return self._connection

    def _forget_shared(self, op_id: str) -> SharedSubscriber | None:
        subscriber = self.shared.pop(op_id, None)
        if subscriber is not None:
            context = self._request_context()
            if context is not None:
                context.active_subscriptions -= 1
        return subscriber

    def _detach(self, op_id: str) -> None:
        subscriber = self._forget_shared(op_id)
        if subscriber is None:
            return
        subscriber.connection.discard(subscriber)
        subscriber.group.remove(subscriber)

    async def handle_complete(self, message: CompleteMessage) -> None:
        if message["id"] in self.shared:
            self._detach(message["id"])
            return
        await super().handle_complete(message)

    async def shutdown(self) -> None:
        for op_id in tuple(self.shared):
            self._detach(op_id)
        if self._connection is not None:
            await self._connection.aclose()
        scope = self._scope()
        limits = limits_of(scope) if scope is not None else None
        if self._key_slot and limits is not None:
            limits.close_connection(self._key_slot)
        self._key_slot = None
        _LIVE_HANDLERS.discard(self)
        await super().shutdown()


__all__ = ["SHAREABLE_FIELDS", "FanoutRegistry", "SharedFanoutHandler", "group_key", "registry_of"]
