"""Logging for wsgate apps: the event's ids on every record, JSON lines that CloudWatch reads.

wsgate logs through the standard :mod:`logging` module under the ``wsgate`` logger and
configures nothing on import. Three small parts make the records useful:

* :class:`EventContextFilter` puts ``apiRequestId``, ``connectionId`` and ``routeKey`` (from
  :func:`wsgate.context.current_event`) and ``aws_request_id`` (from the Lambda context) on
  every record that passes through it. Lambda's own JSON log format and Powertools' Logger both
  copy such record attributes into their JSON output, so attach the filter to their handler
  with :func:`add_event_context`.
* :func:`get_logger` returns a :class:`logging.LoggerAdapter` that adds the same fields to each
  record it makes, whatever handlers are configured: wsgate's own modules log through it.
* :class:`JsonFormatter` writes one JSON object per line with the keys Lambda's JSON log format
  uses (``timestamp``, ``level``, ``message``, ``logger``, ``requestId``, ``errorType``, ...),
  for local runs and the emulator. :func:`configure_logging` wires it up when you ask.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = [
    "EVENT_FIELDS",
    "LOGGER_NAME",
    "EventContextFilter",
    "JsonFormatter",
    "add_event_context",
    "configure_logging",
    "event_fields",
    "get_logger",
]

LOGGER_NAME = "wsgate"
#: Record attributes the filter and the adapter set, in the order the formatter writes them.
EVENT_FIELDS = ("apiRequestId", "connectionId", "routeKey")

# LogRecord's own attributes: everything else on a record is an "extra" worth writing out.
_RESERVED = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "aws_request_id", "taskName", "_frame_type"}
)


def event_fields(event: Any = None) -> dict[str, Any]:
    """The log fields of an event (the current one when not given), ``None`` where unknown.

    Returns ``apiRequestId``, ``connectionId``, ``routeKey`` and ``aws_request_id``.
    """
    context_obj: Any = None
    if event is None:
        event, context_obj = _current()
    raw = getattr(event, "raw", event)
    request: Mapping[str, Any] = {}
    if isinstance(raw, Mapping):
        found = raw.get("requestContext")
        if isinstance(found, Mapping):
            request = found
    return {
        "apiRequestId": request.get("requestId"),
        "connectionId": request.get("connectionId"),
        "routeKey": request.get("routeKey"),
        "aws_request_id": getattr(context_obj, "aws_request_id", None),
    }


def _current() -> tuple[Any, Any]:
    """The event and Lambda context being handled now, or ``(None, None)``."""
    try:
        from wsgate.context import current_context, current_event
    except ImportError:  # the core is not installed with this build: no fields to add
        return None, None
    return current_event(), current_context()


class EventContextFilter(logging.Filter):
    """Adds the current event's ids to each record; never drops a record.

    Attach it to a handler (handler filters see records from every logger), e.g. Lambda's
    root handler or Powertools' ``logger.registered_handler`` — :func:`add_event_context` does
    that. Fields already on the record (set by :func:`get_logger` or ``extra=``) are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Set the missing event fields on ``record`` and let it through."""
        fields = event_fields()
        for key, value in fields.items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


class _EventAdapter(logging.LoggerAdapter[logging.Logger]):
    """A LoggerAdapter adding the current event's fields (and its own ``extra``) to records."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        fields = {k: v for k, v in event_fields().items() if v is not None}
        fields.update(self.extra or {})
        fields.update(kwargs.get("extra") or {})
        kwargs["extra"] = fields
        return msg, kwargs


def get_logger(name: str = LOGGER_NAME, **extra: Any) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose records carry the current event's ids (plus any ``extra`` given).

    Call it once per module (``log = get_logger(__name__)``); the fields are read at each
    logging call, so one adapter serves every invocation.
    """
    return _EventAdapter(logging.getLogger(name), extra)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the keys of Lambda's JSON log format.

    Keys: ``timestamp`` (ISO 8601, ms, UTC), ``level``, ``message``, ``logger``, ``requestId``
    (the Lambda request id), the event fields, ``errorType``/``errorMessage``/``stackTrace``
    when an exception is attached, then every ``extra`` attribute. ``None`` values are left
    out; values JSON cannot encode are written with ``str()``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as one line of JSON (no trailing newline)."""
        result: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None),
        }
        for key in EVENT_FIELDS:
            result[key] = getattr(record, key, None)
        if record.exc_info and record.exc_info[0] is not None:
            result["errorType"] = record.exc_info[0].__name__
            result["errorMessage"] = str(record.exc_info[1])
            result["stackTrace"] = traceback.format_tb(record.exc_info[2])
            result["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        if record.stack_info:
            result["stackInfo"] = record.stack_info
        for key, value in vars(record).items():
            if key not in _RESERVED and key not in result:
                result[key] = value
        compact = {k: v for k, v in result.items() if v is not None}
        return json.dumps(compact, default=str, ensure_ascii=False)


def add_event_context(target: Any) -> EventContextFilter:
    """Attach an :class:`EventContextFilter` to a handler, a logger's handlers, or Powertools.

    ``target`` may be a :class:`logging.Handler`, a :class:`logging.Logger` (the filter goes on
    the logger and each of its handlers), or a Powertools ``Logger`` (its registered handler).
    Adding twice is harmless: an existing wsgate filter is reused.
    """
    context_filter = EventContextFilter()
    handlers: list[Any] = []
    registered = getattr(target, "registered_handler", None)
    if isinstance(registered, logging.Handler):
        handlers.append(registered)
    elif isinstance(target, logging.Handler):
        handlers.append(target)
    elif isinstance(target, logging.Logger):
        handlers.append(target)
        handlers.extend(target.handlers)
    else:
        raise TypeError(f"cannot attach a log filter to {type(target).__name__}")
    for item in handlers:
        existing = [f for f in item.filters if isinstance(f, EventContextFilter)]
        if existing:
            context_filter = existing[0]
        else:
            item.addFilter(context_filter)
    return context_filter


def _in_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ and "AWS_EXECUTION_ENV" in os.environ


def configure_logging(
    level: int | str = logging.INFO,
    *,
    stream: TextIO | None = None,
    json_format: bool = True,
    logger: str = LOGGER_NAME,
) -> logging.Handler:
    """Make wsgate's records visible: call once at startup (the emulator does for you).

    Inside Lambda the runtime already writes records (as JSON when the function's log format
    is JSON), so this only adds the event fields to the runtime's handlers and sets the level.
    Elsewhere it adds one stream handler to ``logger`` writing :class:`JsonFormatter` lines
    (or plain text lines with the ids when ``json_format`` is false) to ``stream`` (default
    stdout). Calling it again replaces the handler it added before instead of adding another.

    Returns:
        The handler that now writes the records.
    """
    target = logging.getLogger(logger)
    target.setLevel(level)
    if _in_lambda() and logging.getLogger().handlers and stream is None:
        root = logging.getLogger()
        for handler in root.handlers:
            add_event_context(handler)
        return root.handlers[0]
    for old in [h for h in target.handlers if getattr(h, "_wsgate_handler", False)]:
        target.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler._wsgate_handler = True  # type: ignore[attr-defined]
    if json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s [%(connectionId)s %(routeKey)s "
                "%(apiRequestId)s] %(message)s"
            )
        )
    handler.addFilter(EventContextFilter())
    target.addHandler(handler)
    return handler
