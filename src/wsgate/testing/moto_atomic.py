"""moto's server with one request at a time: DynamoDB's single-item atomicity, locally.

moto's own ``moto_server`` answers each connection on its own thread, and moto's backends take
no lock. One request can therefore run in the middle of another: an upserting UpdateItem first
inserts the bare key and then applies its SET, so a GetItem racing it reads an item that has
only its key; two conditional UpdateItems on one item can both pass their condition. DynamoDB
applies every single-item write atomically with its condition (docs/aws-behaviour.md §9), and
wsgate's registry and the apps the template runner starts rely on that.

This module serves moto's own WSGI application behind one lock: every request is handled and
its whole answer read before the next one starts. Connections are still served on threads and
kept alive, so clients see the same server, only linearizable. Run it as
``python -m wsgate.testing.moto_atomic -H 127.0.0.1 -p PORT``; it stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["SerialApp", "main"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class SerialApp:
    """A WSGI application that runs ``app`` for one request at a time.

    The wrapped application's answer is read completely inside the lock, so nothing of one
    request runs while another is in progress (a lazily produced body included).
    """

    def __init__(self, app: WSGIApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        started: list[tuple[Any, ...]] = []

        def record(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [(status, headers, exc_info)]
            return lambda data: body.append(data)  # the legacy write() callable

        body: list[bytes] = []
        with self._lock:
            answer = self._app(environ, record)
            try:
                body.extend(answer)
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()
        if not started:
            raise RuntimeError("the wrapped application never called start_response")
        status, headers, exc_info = started[0]
        start_response(status, headers, exc_info)
        return body


def main(argv: list[str] | None = None) -> int:
    """Serve moto on ``--host``/``--port`` until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m wsgate.testing.moto_atomic",
        description="moto's server, handling one request at a time",
    )
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    try:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server
    except ImportError as exc:
        print(
            f"moto's server is not installed ({exc}): pip install 'moto[server]'", file=sys.stderr
        )
        return 2
    app = SerialApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
    )

    def stop(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever, which runs on this thread: hand it to another.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"moto (one request at a time) on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
