"""The invocation being handled now, and a Lambda-like context object.

``WebSocketApp.dispatch`` sets :func:`current_event` and :func:`current_context` for the
duration of the handler call (``contextvars``, so per thread and per asyncio task) and resets
them afterwards. Code deep in a handler (the sender, the gateway functions) reads them to find
the management endpoint without threading the event through every call.

:class:`LambdaContext` is what the local emulator and the test client pass as ``context`` so
that handlers see the same attributes as on AWS Lambda.
"""

from __future__ import annotations

import os
import time
from contextvars import ContextVar

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from typing import Any

    from wsgate.events import WebSocketEvent
    from wsgate.router import WebSocketApp

__all__ = ["LambdaContext", "current_context", "current_event"]

_current_event: ContextVar[WebSocketEvent | None] = ContextVar("wsgate_event", default=None)
_current_context: ContextVar[Any] = ContextVar("wsgate_context", default=None)
# The app whose dispatch is running (read by wsgate.gateway for its authorizer's user id key).
_current_app: ContextVar[WebSocketApp | None] = ContextVar("wsgate_app", default=None)


def current_event() -> WebSocketEvent | None:
    """The event whose handler is running in this thread/task, or ``None`` outside a handler."""
    return _current_event.get()


def current_context() -> Any:
    """The Lambda context of the running handler, or ``None`` outside a handler."""
    return _current_context.get()


class LambdaContext:
    """A stand-in for the AWS Lambda context object, for running handlers locally.

    Attributes match the Python Lambda runtime's context: ``function_name``,
    ``function_version``, ``invoked_function_arn``, ``memory_limit_in_mb``, ``aws_request_id``,
    ``log_group_name``, ``log_stream_name``, ``identity``, ``client_context``. Create one per
    invocation: the deadline starts when it is created.
    """

    __slots__ = (
        "_deadline",
        "aws_request_id",
        "client_context",
        "function_name",
        "function_version",
        "identity",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
    )

    def __init__(
        self,
        function_name: str = "wsgate-local",
        *,
        function_version: str = "$LATEST",
        invoked_function_arn: str | None = None,
        memory_limit_in_mb: int = 128,
        aws_request_id: str | None = None,
        log_group_name: str | None = None,
        log_stream_name: str | None = None,
        timeout: float = 29.0,
        deadline: float | None = None,
        region: str | None = None,
        account_id: str = "123456789012",
    ) -> None:
        """Describe one local invocation.

        Args:
            function_name: The function's name.
            function_version: The version (``$LATEST`` by default).
            invoked_function_arn: The ARN; built from ``region`` and ``account_id`` if omitted.
            memory_limit_in_mb: The configured memory, as an int.
            aws_request_id: The request id; a fresh UUID4 if omitted.
            log_group_name: Defaults to ``/aws/lambda/{function_name}``.
            log_stream_name: Defaults to a stream name in Lambda's format.
            timeout: Seconds from now until the invocation deadline (29 s: API Gateway's limit).
            deadline: The deadline as epoch seconds (``time.time()`` clock); overrides
                ``timeout`` when given.
            region: Used for the default ARN; defaults to ``AWS_REGION`` or ``us-east-1``.
            account_id: Used for the default ARN.
        """
        region = region or os.environ.get("AWS_REGION") or "us-east-1"
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = (
            invoked_function_arn or f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        )
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = aws_request_id or _uuid4()
        self.log_group_name = log_group_name or f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name or (
            time.strftime("%Y/%m/%d", time.gmtime())
            + f"/[{function_version}]"
            + os.urandom(16).hex()
        )
        self.identity: Any = None
        self.client_context: Any = None
        if deadline is not None:
            timeout = deadline - time.time()
        self._deadline = time.monotonic() + timeout

    def __repr__(self) -> str:
        return (
            f"LambdaContext(function_name={self.function_name!r}, "
            f"aws_request_id={self.aws_request_id!r})"
        )

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left until the deadline (never negative), as on Lambda."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _uuid4() -> str:
    h = bytearray(os.urandom(16))
    h[6] = (h[6] & 0x0F) | 0x40
    h[8] = (h[8] & 0x3F) | 0x80
    s = h.hex()
    return f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}"
