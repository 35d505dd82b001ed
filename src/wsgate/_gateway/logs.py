"""The seed's logging helpers (``log_info``, ``log_error``...) over the standard ``logging``.

They write to the ``wsgate.app`` logger and configure nothing: on Lambda the runtime's handler
prints the records (add wsgate's JSON formatter from :mod:`wsgate.observe` for structured
logs); locally, call :func:`logging.basicConfig` or let ``wsgate serve`` set up output.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["LOGGER_NAME", "log_debug", "log_error", "log_info", "log_warning", "logger"]

LOGGER_NAME: Final = "wsgate.app"
"""Name of the logger the seed helpers write to (a child of ``wsgate``)."""

logger = logging.getLogger(LOGGER_NAME)

# Attributes a LogRecord already has: ``extra`` may not overwrite them (logging raises
# KeyError), so a field with such a name is renamed rather than crashing the handler.
_RESERVED: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _log(level: int, message: object, args: tuple[object, ...], kwargs: dict[str, Any]) -> None:
    if not logger.isEnabledFor(level):
        return
    exc_info = kwargs.pop("exc_info", None)
    stack_info = bool(kwargs.pop("stack_info", False))
    extra = kwargs.pop("extra", None)
    fields: dict[str, Any] = dict(extra) if isinstance(extra, Mapping) else {}
    # Remaining keyword arguments are structured fields (``log_info("sent", count=3)``);
    # they become attributes of the record, as ``extra=`` would make them.
    fields.update(kwargs)
    fields = {(f"{key}_" if key in _RESERVED else key): value for key, value in fields.items()}
    # stacklevel 3: the record names the caller of log_info, not this module.
    logger.log(
        level,
        message,
        *args,
        exc_info=exc_info,
        stack_info=stack_info,
        extra=fields or None,
        stacklevel=3,
    )


def log_debug(message: object, *args: object, **kwargs: Any) -> None:
    """Log at DEBUG on the ``wsgate.app`` logger. Keyword arguments become record fields."""
    _log(logging.DEBUG, message, args, kwargs)


def log_info(message: object, *args: object, **kwargs: Any) -> None:
    """Log at INFO on the ``wsgate.app`` logger (seed: ``log_info(f"connected: {cid}")``).

    ``args`` are %-style arguments as for :meth:`logging.Logger.info`; ``exc_info``,
    ``stack_info`` and ``extra`` work as there; other keyword arguments become fields of the
    record (``log_info("broadcast", recipients=12)`` sets ``record.recipients``).
    """
    _log(logging.INFO, message, args, kwargs)


def log_warning(message: object, *args: object, **kwargs: Any) -> None:
    """Log at WARNING on the ``wsgate.app`` logger. Keyword arguments become record fields."""
    _log(logging.WARNING, message, args, kwargs)


def log_error(message: object, *args: object, **kwargs: Any) -> None:
    """Log at ERROR on the ``wsgate.app`` logger (seed: ``log_error(f"send failed: {e}")``).

    Pass ``exc_info=True`` inside an ``except`` block to include the traceback.
    """
    _log(logging.ERROR, message, args, kwargs)
