"""Typed message bodies: a route declares its body type, wsgate validates it before the handler.

::

    @dataclass
    class SendMessage:
        room: str
        text: str

    @app.route("sendMessage")
    def send(event: MessageEvent, body: SendMessage) -> None:   # by annotation
        ...

    @app.route("sendMessage", body=SendMessage)                   # or by argument
    def send(event, body): ...

A body type is a Pydantic v2 model (``pip install wsgate[models]``), a dataclass or a
``TypedDict``; dataclasses and TypedDicts are checked by :mod:`wsgate.validator` (no
dependency). The handler parameter that receives the body is the one annotated with a model
type, or the one named ``body`` when ``body=`` is given. The body is parsed once
(``event.json``), the routing keys (the top-level fields of the route selection expression,
e.g. ``action``, and the delivery ``ackId``) are left out unless the model declares them, and
the typed value is passed as a keyword argument.

An invalid body never reaches the handler: wsgate raises
:class:`~wsgate.exceptions.BodyValidationError` before the call, logs it and counts it
(``InvalidBodies``); the router then answers the client with one frame (:func:`error_frame`,
size-bounded, field paths and messages only), and an acked message gets ``rejected``.

Handlers may return models: :func:`encode` is the ``json.dumps`` default used for responses.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from wsgate.context import _current_app
from wsgate.exceptions import BodyValidationError, InvalidBodyError

if TYPE_CHECKING:
    from wsgate.events import WebSocketEvent
    from wsgate.responses import Response
    from wsgate.routes import Route

__all__ = [
    "FRAME_TYPE",
    "Binding",
    "BodyType",
    "bind",
    "body_type",
    "dump",
    "encode",
    "error_frame",
    "forbid_extra",
    "is_model",
]

FRAME_TYPE = "wsgate.invalid"
"""The ``type`` of the frame that tells a client its message body was refused."""
MAX_FRAME_ERRORS = 10
"""At most this many errors are listed in the frame (``total`` says how many there were)."""
MAX_TEXT = 200
"""Paths and messages in the frame are cut to this many characters."""
ACK_FIELD = "ackId"

T = TypeVar("T", bound=type)


def forbid_extra(cls: T) -> T:
    """Class decorator: a dataclass or TypedDict body with fields it does not declare is invalid.

    (Pydantic models say it themselves: ``model_config = ConfigDict(extra="forbid")``.)
    """
    cls.__wsgate_extra__ = "forbid"  # type: ignore[attr-defined]
    return cls


def _pydantic_kind(tp: Any) -> bool:
    pydantic = sys.modules.get("pydantic")  # a model implies pydantic is already imported
    if pydantic is None or not isinstance(tp, type):
        return False
    return issubclass(tp, pydantic.BaseModel) or hasattr(tp, "__pydantic_validator__")


def is_model(tp: Any) -> bool:
    """Whether ``tp`` is a body type: a Pydantic model, a dataclass or a TypedDict class."""
    if not isinstance(tp, type):
        return False
    import typing

    return _pydantic_kind(tp) or hasattr(tp, "__dataclass_fields__") or typing.is_typeddict(tp)


class BodyType:
    """A model type compiled for validation: ``kind`` is ``pydantic``, ``dataclass`` or
    ``typeddict``; ``fields`` the top-level field names it declares; ``strict`` whether extra
    fields are refused (or kept), so the routing keys must be left out first."""

    __slots__ = ("_adapter", "_checker", "_invalid", "fields", "kind", "model", "strict")

    def __init__(self, model: type) -> None:
        """Compile ``model``.

        Raises:
            TypeError: ``model`` is not a body type, or has a field type JSON cannot carry.
        """
        self.model = model
        self._adapter: Any = None
        self._checker: Any = None
        self._invalid: Any = None
        if _pydantic_kind(model):
            import pydantic

            self.kind = "pydantic"
            self._adapter = pydantic.TypeAdapter(model)
            self._invalid = pydantic.ValidationError
            declared = getattr(model, "model_fields", None) or getattr(
                model, "__pydantic_fields__", {}
            )
            names: set[str] = set()
            for name, info in declared.items():
                names.add(name)
                alias = getattr(info, "alias", None)
                if isinstance(alias, str):
                    names.add(alias)
            self.fields = frozenset(names)
            config = getattr(model, "model_config", None) or getattr(
                model, "__pydantic_config__", {}
            )
            self.strict = config.get("extra") in ("forbid", "allow")
        elif is_model(model):
            import typing

            from wsgate.validator import compile_type

            self.kind = "typeddict" if typing.is_typeddict(model) else "dataclass"
            self._checker = compile_type(model)
            _load_validator()
            self.fields = frozenset(typing.get_type_hints(model))
            self.strict = getattr(model, "__wsgate_extra__", "ignore") == "forbid"
        else:
            raise TypeError(
                f"{model!r} is not a body type (a Pydantic model, a dataclass or a TypedDict)"
            )

    def __repr__(self) -> str:
        return f"BodyType({self.model.__qualname__}, kind={self.kind!r})"

    def validate(self, document: Any, route_key: str = "") -> Any:
        """The typed value of ``document`` (a parsed JSON value).

        Raises:
            BodyValidationError: ``document`` does not match (the errors are bounded).
        """
        if self._adapter is not None:
            try:
                return self._adapter.validate_python(document)
            except self._invalid as exc:
                found = [
                    (_path(e.get("loc", ())), str(e.get("msg", "invalid")))
                    for e in exc.errors(
                        include_url=False, include_context=False, include_input=False
                    )[:MAX_FRAME_ERRORS]
                ]
                raise BodyValidationError(route_key, found, exc.error_count()) from None
        value, errors = _run(self._checker, document)
        if value is _BAD or errors.total:
            found = [(_format_path(p), m) for p, m in errors.items[:MAX_FRAME_ERRORS]]
            raise BodyValidationError(route_key, found, max(errors.total, 1))
        return value


_BAD: Any = None
_run: Any = None
_format_path: Any = None


def _load_validator() -> None:
    global _BAD, _run, _format_path
    from wsgate import validator

    _BAD, _run, _format_path = validator.BAD, validator.run, validator.format_path


def _path(loc: Any) -> str:
    from wsgate.validator import format_path

    return format_path(tuple(step for step in loc if isinstance(step, str | int)))


_TYPES: dict[type, BodyType] = {}


def body_type(model: type) -> BodyType:
    """The compiled :class:`BodyType` of ``model`` (compiled once per process).

    Raises:
        TypeError: see :class:`BodyType`.
    """
    found = _TYPES.get(model)
    if found is None:
        found = _TYPES[model] = BodyType(model)
    return found


class Binding:
    """How one route gets its typed inputs: ``(source, parameter, BodyType)`` parts, where
    ``source`` is ``body`` (a message route) or ``query`` / ``headers`` (``$connect``).

    ``parameter`` is ``None`` when the handler does not take that input (it is still validated).
    """

    __slots__ = ("parts", "route_key", "takes_context")

    def __init__(
        self,
        route_key: str,
        parts: tuple[tuple[str, str | None, BodyType], ...],
        takes_context: bool,
    ) -> None:
        self.route_key = route_key
        self.parts = parts
        self.takes_context = takes_context

    def __repr__(self) -> str:
        return f"Binding({self.route_key!r}, {self.parts!r})"

    def model(self, source: str = "body") -> type | None:
        """The model declared for ``source``, or ``None``."""
        for part_source, _, body in self.parts:
            if part_source == source:
                return body.model
        return None

    def renamed(self, route_key: str) -> Binding:
        """The same binding under another route key (``include_router(prefix=...)``)."""
        return Binding(route_key, self.parts, self.takes_context)

    def parse(self, event: WebSocketEvent, source: str = "body") -> Any:
        """Parse and validate ``event``'s body (or ``$connect`` query / headers): the value.

        Raises:
            BodyValidationError: not JSON, or no match (logged and counted before raising).
        """
        for part_source, _, body in self.parts:
            if part_source == source:
                try:
                    return body.validate(_document(event, source, body), self.route_key)
                except BodyValidationError as exc:
                    exc.route_key = exc.route_key or self.route_key
                    _report(event, exc)
                    raise
        raise KeyError(source)

    def bind(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap ``handler``: validate first, then call it with the typed values as keyword
        arguments.

        The wrapper returns whatever the handler returns (a coroutine for an ``async def``
        handler: nothing is awaited here), so it works for sync and async handlers alike.
        """
        parse = self.parse
        parts = tuple((source, param) for source, param, _ in self.parts)
        call: Callable[..., Any]
        only = parts[0]
        if len(parts) == 1 and only[1] is not None:
            source, name = only[0], only[1]

            def call(event: WebSocketEvent, *args: Any) -> Any:
                return handler(event, *args, **{name: parse(event, source)})
        else:

            def call(event: WebSocketEvent, *args: Any) -> Any:
                kwargs = {}
                for source, name in parts:
                    value = parse(event, source)
                    if name is not None:
                        kwargs[name] = value
                return handler(event, *args, **kwargs)

        call.__wrapped__ = handler  # type: ignore[attr-defined]
        return call


def _document(event: WebSocketEvent, source: str, body: BodyType) -> Any:
    if source == "query":
        return dict(event.query_params.items())
    if source == "headers":
        # Clients and proxies add headers of their own: only the declared ones are checked.
        lowered = {name.lower(): value for name, value in event.headers.items()}
        return {name: value for name, value in lowered.items() if name in body.fields}
    try:
        document = event.json
    except InvalidBodyError:
        raise BodyValidationError("", [("", "not valid JSON")], 1) from None
    except RecursionError:
        raise BodyValidationError("", [("", "nested too deeply")], 1) from None
    if body.strict and isinstance(document, dict):  # extra fields matter: drop routing keys
        strip = _envelope(body.fields)
        if strip and not strip.isdisjoint(document):
            document = {k: v for k, v in document.items() if k not in strip}
    return document


_ENVELOPES: dict[tuple[str, frozenset[str]], frozenset[str]] = {}


def _envelope(fields: frozenset[str]) -> frozenset[str]:
    """Top-level keys that route the message (not the app's data), minus declared fields."""
    app = _current_app.get(None)
    expression = getattr(app, "route_selection_expression", "$request.body.action")
    found = _ENVELOPES.get((expression, fields))
    if found is None:
        found = _routing_keys(expression) - fields
        if len(_ENVELOPES) < 256:
            _ENVELOPES[(expression, fields)] = found
    return found


_ROUTING: dict[str, frozenset[str]] = {}


def _routing_keys(expression: str) -> frozenset[str]:
    keys = _ROUTING.get(expression)
    if keys is None:
        from wsgate.selection import compile_expression

        paths = compile_expression(expression).paths
        keys = frozenset({p[0] for p in paths if len(p) == 1 and isinstance(p[0], str)})
        keys |= {ACK_FIELD}
        if len(_ROUTING) < 64:
            _ROUTING[expression] = keys
    return keys


def _report(event: WebSocketEvent, exc: BodyValidationError) -> None:
    """Log and count a refused body (never raises)."""
    import logging

    ctx = event.request_context
    logging.getLogger("wsgate").warning(
        "invalid body for route %r (request_id=%s connection_id=%s): %s",
        exc.route_key,
        ctx.get("requestId"),
        ctx.get("connectionId"),
        exc.reason,
        extra={"wsgate": {"route_key": exc.route_key, "connection_id": ctx.get("connectionId")}},
    )
    try:
        from wsgate.observe.metrics import get_metrics

        get_metrics().invalid_body(event)
    except Exception:  # metrics must never fail the invocation
        logging.getLogger("wsgate").debug("could not count an invalid body", exc_info=True)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def error_frame(exc: BodyValidationError, request_id: str | None = None) -> str:
    """The frame sent to the client for a refused body (at most about 4.5 KB)::

    {"type": "wsgate.invalid", "route": "sendMessage", "message": "invalid message body",
     "errors": [{"path": "room", "message": "field required"}], "total": 1}
    """
    frame: dict[str, Any] = {
        "type": FRAME_TYPE,
        "route": _cut(exc.route_key),
        "message": "invalid message body",
        "errors": [
            {"path": _cut(path), "message": _cut(message)}
            for path, message in exc.errors[:MAX_FRAME_ERRORS]
        ],
        "total": exc.total,
    }
    if request_id:
        frame["requestId"] = _cut(request_id)
    return json.dumps(frame, separators=(",", ":"))


def answer(event: WebSocketEvent, route: Route, exc: BodyValidationError) -> Response:
    """What the router answers for a refused body: the frame as the body of a two-way route,
    else the frame posted to the connection (a one-way route's body never reaches it). A
    refused ``$connect`` is a 400: the handshake fails, nothing is posted."""
    from wsgate.responses import Response

    frame = error_frame(exc, event.request_context.get("requestId"))
    if not route.two_way and event.request_context.get("eventType") == "MESSAGE":
        try:
            from wsgate.config import get_sender

            get_sender().send(event.connection_id, frame)
        except Exception as send_error:  # the client may be gone; the refusal stands
            import logging

            logging.getLogger("wsgate").info(
                "could not send the invalid-body frame to %s: %s",
                event.request_context.get("connectionId"),
                send_error,
            )
    return Response(400, frame)


def bind(
    route_key: str,
    handler: Callable[..., Any],
    body: Any = None,
    *,
    query: Any = None,
    headers: Any = None,
) -> Binding | None:
    """Find the typed inputs of ``handler``: the body parameter (annotated with a model, or
    named ``body`` when ``body`` is given), and on ``$connect`` the ``query`` / ``headers``
    models (passed to the parameters of those names, if the handler has them). ``None`` when
    the handler declares nothing.

    Raises:
        TypeError: a declared type is not a body type, the handler has no parameter for the
            body, two parameters are annotated with models, or a model has a field type JSON
            cannot carry.
    """
    from wsgate.signatures import body_parameter, takes_context

    parts: list[tuple[str, str | None, BodyType]] = []
    names: list[str] = []
    for source, model in (("query", query), ("headers", headers)):
        if model is not None:
            if not is_model(model):
                raise TypeError(f"{source}={model!r} is not a model")
            param = source if _has_parameter(handler, source) else None
            parts.append((source, param, body_type(model)))
            names += [source] if param else []
    if not parts:
        found = body_parameter(handler, body, is_model)
        if found is None:
            return None
        model, param, context = found
        return Binding(route_key, (("body", param, body_type(model)),), context)
    return Binding(route_key, tuple(parts), takes_context(handler, exclude=names))


def _has_parameter(handler: Callable[..., Any], name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(handler).parameters
    except (TypeError, ValueError):
        return False


def dump(value: Any) -> Any:
    """A JSON-ready copy of ``value``: models (Pydantic, dataclass) become dicts, recursively."""
    return json.loads(json.dumps(value, default=encode))


def encode(value: Any) -> Any:
    """``json.dumps`` ``default=``: Pydantic models, dataclass instances, enums and sets.

    Raises:
        TypeError: any other object.
    """
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump) and not isinstance(value, type):
        return model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        import dataclasses

        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    import enum

    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
