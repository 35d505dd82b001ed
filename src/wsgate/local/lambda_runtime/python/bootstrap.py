"""The Python runtime of a local Lambda function: speaks the Lambda Runtime API, stdlib only.

Started by wsgate as ``python bootstrap.py`` in the function's code root with the environment
Lambda defines (``AWS_LAMBDA_RUNTIME_API``, ``_HANDLER``, ``LAMBDA_TASK_ROOT``, ...). It imports
the handler once (the init phase; a failure goes to ``/runtime/init/error`` and the process
exits), then loops: ``GET /runtime/invocation/next``, call the handler, ``POST`` the response or
the error in the shape Lambda's Python runtime uses.

It runs on any Python 3 interpreter (the one named by the runtime, or the emulator's), so it
imports nothing outside the standard library.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import os
import socket
import sys
import time
import traceback
from typing import Any

API = "/2018-06-01/runtime"
_HERE = os.path.dirname(os.path.abspath(__file__))


class LambdaContext:
    """The ``context`` argument, with the attributes Lambda's Python runtime gives it."""

    def __init__(self, request_id: str, deadline_ms: int, arn: str) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = arn
        # A string, as on Lambda (the runtime reads it from the environment).
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout."""
        return max(self._deadline_ms - int(time.time() * 1000), 0)


class _Fault(Exception):
    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type, self.message, self.trace = error_type, message, trace or []


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):  # DynamoDB numbers, as Lambda's runtime writes them
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _install_logging() -> _RequestIdFilter:
    # Lambda's runtime gives the root logger a handler of this format (the level stays WARNING).
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    ids = _RequestIdFilter()
    handler.addFilter(ids)
    logging.getLogger().addHandler(handler)
    return ids


def _error(error_type: str, message: str, trace: list[str], request_id: str = "") -> bytes:
    body = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": trace,
    }
    return json.dumps(body).encode()


def _user_trace(tb: Any) -> list[str]:
    frames = [f for f in traceback.extract_tb(tb) if not f.filename.startswith(_HERE)]
    return traceback.format_list(frames)


def _load_handler(spec: str) -> Any:
    try:
        module_name, attr = spec.rsplit(".", 1)
    except ValueError as exc:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {exc}") from None
    if module_name.split(".")[0] in sys.builtin_module_names:
        message = f"Cannot use built-in module {module_name} as a handler module"
        raise _Fault("Runtime.BuiltInModuleConflict", message)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise _Fault("Runtime.ImportModuleError", message) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        message = f"Syntax error in module '{module_name}': {exc}"
        raise _Fault("Runtime.UserCodeSyntaxError", message, trace) from None
    handler = getattr(module, attr, None)
    if handler is None:
        message = f"Handler '{attr}' missing on module '{module_name}'"
        raise _Fault("Runtime.HandlerNotFound", message)
    return handler


class _Client:
    """One keep-alive HTTP/1.1 connection to this instance's Runtime API endpoint.

    A plain socket rather than ``http.client``: the Runtime API's exchanges are small and of a
    known shape, and ``http.client`` parses every response's headers with the ``email``
    package, most of this loop's cost on a warm invocation (measured in docs/lambda-runtime.md).
    Responses with ``Content-Length`` or chunked bodies are read; the connection is opened again
    when the server closed it.
    """

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))
        self.host = address
        self.sock: socket.socket | None = None
        self.buffer = b""

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request and read its response: status, headers (lower-case names), body."""
        payload = body or b""
        lines = [f"{method} {API}{path} HTTP/1.1", f"Host: {self.host}"]
        lines.append(f"Content-Length: {len(payload)}")
        lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
        reused = self.sock is not None
        try:
            self._send(request)
            return self._response()
        except (ConnectionError, _Closed):
            if not reused:
                raise
        self._close()  # the server closed the kept-alive connection: once more on a new one
        self._send(request)
        return self._response()

    def _send(self, request: bytes) -> None:
        if self.sock is None:
            self.sock = socket.create_connection(self.address)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.sock.sendall(request)

    def _close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _Closed()
        self.buffer += chunk

    def _line(self) -> bytes:
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
                return line
            self._fill()

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _response(self) -> tuple[int, dict[str, str], bytes]:
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._fill()
        head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
        status_line, *header_lines = head.split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        fields: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if fields.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self._line().split(b";", 1)[0], 16)
                if size == 0:
                    while self._line():  # trailers, then the blank line
                        pass
                    break
                parts.append(self._take(size))
                self._take(2)
            body = b"".join(parts)
        else:
            body = self._take(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            self._close()
        return status, fields, body


class _Closed(Exception):
    """The server closed the connection before a whole response arrived."""


def main() -> None:
    """Run the init phase, then invocations until the process is killed."""
    root = os.environ["LAMBDA_TASK_ROOT"]
    # The script's own folder is not an import root; the code root is, first (as /var/task is).
    sys.path[:] = [root, *(p for p in sys.path if p and os.path.abspath(p) != _HERE)]
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    client = _Client(os.environ["AWS_LAMBDA_RUNTIME_API"])
    ids = _install_logging()
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except _Fault as fault:
        _init_failed(client, fault.error_type, fault.message, fault.trace)
    except Exception as exc:
        _init_failed(client, type(exc).__name__, str(exc), _user_trace(exc.__traceback__))
    while True:
        status, fields, body = client.call("GET", "/invocation/next")
        if status != 200:
            sys.exit(f"the Runtime API answered {status} to /invocation/next")
        request_id = fields.get("lambda-runtime-aws-request-id", "")
        ids.request_id = request_id
        trace_id = fields.get("lambda-runtime-trace-id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        context = LambdaContext(
            request_id,
            int(fields.get("lambda-runtime-deadline-ms", "0")),
            fields.get("lambda-runtime-invoked-function-arn", ""),
        )
        _invoke(client, handler, body, context)


def _invoke(client: _Client, handler: Any, body: bytes, context: LambdaContext) -> None:
    request_id = context.aws_request_id
    try:
        event = json.loads(body)
        result = handler(event, context)
        try:
            payload = json.dumps(result, cls=_Encoder, ensure_ascii=False).encode()
        except (TypeError, ValueError) as exc:
            raise _Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None
    except _Fault as fault:
        error = _error(fault.error_type, fault.message, fault.trace, request_id)
    except Exception as exc:
        error = _error(type(exc).__name__, str(exc), _user_trace(exc.__traceback__), request_id)
    else:
        client.call("POST", f"/invocation/{request_id}/response", payload)
        return
    _print_error(json.loads(error))
    headers = {"Lambda-Runtime-Function-Error-Type": "Unhandled"}
    client.call("POST", f"/invocation/{request_id}/error", error, headers)


def _print_error(error: dict[str, Any]) -> None:
    # As Lambda's runtime logs it: the type and message, then the user's frames.
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(frame.rstrip("\n") for frame in error["stackTrace"])
    print("\n".join(lines), file=sys.stderr)


def _init_failed(client: _Client, error_type: str, message: str, trace: list[str]) -> None:
    body = _error(error_type, message, trace)
    _print_error(json.loads(body))
    headers = {"Lambda-Runtime-Function-Error-Type": error_type}
    client.call("POST", "/init/error", body, headers)
    sys.exit(1)


if __name__ == "__main__":
    main()
