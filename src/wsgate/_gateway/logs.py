"""The seed's logging helpers (``log_info``, ``log_error``...) over the standard ``logging``.

They write to the ``wsgate.app`` logger and configure nothing: on Lambda the runtime's handler
prints the records (add wsgate's JSON formatter from :mod:`wsgate.observe` for structured
logs); locally, call :func:`logging.basicConfig` or let ``wsgate serve`` set up output.
"""

from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING = False  # typing and logging are loaded only when something logs
if TYPE_CHECKING:
    import logging
    from typing import Any, Final

    logger: logging.Logger

__all__ = ["LOGGER_NAME", "log_debug", "log_error", "log_info", "log_warning", "logger"]

LOGGER_NAME: Final = "wsgate.app"
"""Name of the logger the seed helpers write to (a child of ``wsgate``)."""

# The standard levels (logging.DEBUG ...), so that importing this module loads no logging.
_DEBUG, _INFO, _WARNING, _ERROR = 10, 20, 30, 40

_reserved: frozenset[str] | None = None


def _get_logger() -> logging.Logger:
    import logging

    return logging.getLogger(LOGGER_NAME)


def __getattr__(name: str) -> object:
    # ``logger`` (public) is built on first use: ``import logging`` costs a cold start ~5 ms.
    if name == "logger":
        return _get_logger()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _reserved_names() -> frozenset[str]:
    # Attributes a LogRecord already has: ``extra`` may not overwrite them (logging raises
    # KeyError), so a field with such a name is renamed rather than crashing the handler.
    global _reserved
    if _reserved is None:
        import logging

        _reserved = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
    return _reserved


def _log(level: int, message: object, args: tuple[object, ...], kwargs: dict[str, Any]) -> None:
    logger = _get_logger()
    if not logger.isEnabledFor(level):
        return
    exc_info = kwargs.pop("exc_info", None)
    stack_info = bool(kwargs.pop("stack_info", False))
    extra = kwargs.pop("extra", None)
    fields: dict[str, Any] = dict(extra) if isinstance(extra, Mapping) else {}
    # Remaining keyword arguments are structured fields (``log_info("sent", count=3)``);
    # they become attributes of the record, as ``extra=`` would make them.
    fields.update(kwargs)
    reserved = _reserved_names()
    fields = {(f"{key}_" if key in reserved else key): value for key, value in fields.items()}
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
    _log(_DEBUG, message, args, kwargs)


def log_info(message: object, *args: object, **kwargs: Any) -> None:
    """Log at INFO on the ``wsgate.app`` logger (seed: ``log_info(f"connected: {cid}")``).

    ``args`` are %-style arguments as for :meth:`logging.Logger.info`; ``exc_info``,
    ``stack_info`` and ``extra`` work as there; other keyword arguments become fields of the
    record (``log_info("broadcast", recipients=12)`` sets ``record.recipients``).
    """
    _log(_INFO, message, args, kwargs)


def log_warning(message: object, *args: object, **kwargs: Any) -> None:
    """Log at WARNING on the ``wsgate.app`` logger. Keyword arguments become record fields."""
    _log(_WARNING, message, args, kwargs)


def log_error(message: object, *args: object, **kwargs: Any) -> None:
    """Log at ERROR on the ``wsgate.app`` logger (seed: ``log_error(f"send failed: {e}")``).

    Pass ``exc_info=True`` inside an ``except`` block to include the traceback.
    """
    _log(_ERROR, message, args, kwargs)
