"""The dashboard: static page, a small JSON API and a Server-Sent Events live feed.

API (all under ``/_wsgate/api/``):

- ``GET connections``: live connections with user, rooms (from the app's registry), connected-at,
  last activity and message counts; and ``presence``: each presence room (``wsgate.presence``)
  with its members (user, data, connection ids);
- ``POST connections/{id}/messages`` (raw body): send to one connection (410 when gone);
- ``DELETE connections/{id}``: disconnect it (``$disconnect`` sees 1000);
- ``POST broadcast`` (raw body): send to every live connection;
- ``GET faults`` / ``PUT faults`` (JSON): read or change the fault-injection switches;
- ``GET events``: the live feed (``connect``, ``disconnect``, ``message``, ``faults``);
- ``GET metrics``: the app's metric totals since the start (``{"metrics": {name: {value,
  unit}}}``; the feed's ``metrics`` events carry each batch);
- ``GET info``: ``{"actions": bool, "signed": bool, "note": str | None}``, what the page may do.

The actions (send, broadcast, disconnect, changing faults) keep the server's promises: with
``--verify-signatures`` they need a SigV4 signature like the Management API (403 otherwise),
and an emulator listening beyond loopback serves a read-only dashboard unless started with
``--dashboard-actions`` (:attr:`EmulatorConfig.dashboard_actions`).
>>>>>>> harden
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import time
from collections import deque
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsgate.local.http import HttpRequest, decode_path_segment, response

if TYPE_CHECKING:
    from wsgate.local.server import Emulator
    from wsgate.local.session import Session
    from wsgate.local.telemetry import DashboardSink

__all__ = ["Dashboard", "Feed"]

logger = logging.getLogger("wsgate.local")

_PREVIEW = 2000  # characters of a message shown in the feed
#: Bytes of feed events a page may leave unread before it is dropped (a stalled stream
#: would otherwise buffer every event without limit). The page's EventSource reconnects.
MAX_FEED_BACKLOG = 1024 * 1024
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


class Feed:
    """Pushes emulator events to dashboard pages over Server-Sent Events."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Transport] = set()
        self.recent: deque[dict[str, Any]] = deque(maxlen=300)

    def subscribe(self, transport: asyncio.Transport) -> None:
        """Turn an HTTP connection into a feed stream."""
        transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n: wsgate feed\n\n"
        )
        self._subscribers.add(transport)

    def unsubscribe(self, transport: asyncio.Transport) -> None:
        """Forget a closed stream."""
        self._subscribers.discard(transport)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Send an event to every page (cheap when no page is open)."""
        if not self._subscribers:
            return
        chunk = f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()
        for transport in list(self._subscribers):
            if transport.is_closing():
                self._subscribers.discard(transport)
            elif transport.get_write_buffer_size() > MAX_FEED_BACKLOG:
                logger.warning(
                    "dropping a dashboard event stream that left %d bytes unread",
                    transport.get_write_buffer_size(),
                )
                self._subscribers.discard(transport)
                transport.abort()
            else:
                transport.write(chunk)

    @property
    def subscribers(self) -> int:
        """How many event streams are open."""
        return len(self._subscribers)

    def publish_message(self, session: Session, direction: str, data: str | bytes) -> None:
        """Record a message in or out of a connection and show it on open pages."""
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        item = {
            "connectionId": session.connection_id,
            "direction": direction,
            "data": text[:_PREVIEW],
            "size": len(data),
            "at": time.time(),
        }
        self.recent.append(item)
        self.publish("message", item)


class Dashboard:
    """Serves the dashboard page and its API for one :class:`Emulator`."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.feed = Feed()
        #: The app's metrics, when the emulator routes them here (see ``telemetry``).
        self.metrics: DashboardSink | None = None
        self._registry: Any = None
        self._static_root: Path | None = None

    def set_static(self, folder: str | None, app_source: Path | None) -> None:
        """Choose the folder served at ``/`` (explicit, else the app's if it has index.html)."""
        if folder is not None:
            self._static_root = Path(folder).resolve()
        elif app_source is not None and (app_source.parent / "index.html").is_file():
            self._static_root = app_source.parent.resolve()

    def app_file(self, path: str, keep: bool) -> bytes | None:
        """The app's own web file for ``GET path`` (only web file types), or None.

        ``/wsgate-client.js`` (the delivery client) and ``/wsgate-presence.js`` (its presence
        add-on) are shipped in the package, unless the app's folder has a file of that name;
        ``/favicon.ico`` likewise falls back to wsgate's icon (browsers ask for it on every
        page: a 403 there reads like a broken setup).
        """
        root = self._static_root
        shipped = {"/wsgate-client.js": "wsgate.delivery", "/wsgate-presence.js": "wsgate.presence"}
        if path == "/favicon.ico" and (root is None or not (root / path[1:]).is_file()):
            return self._static("favicon.png", keep)
        if path in shipped and (root is None or not (root / path[1:]).is_file()):
            module = importlib.import_module(shipped[path])
            body = module.client_js_path().read_bytes()
            return response(200, body, keep_alive=keep, content_type=_TYPES[".js"])
        if root is None:
            return None
        name = "index.html" if path == "/" else decode_path_segment(path.lstrip("/"))
        file = (root / name).resolve()
        suffix = file.suffix.lower()
        if suffix not in _TYPES or not file.is_relative_to(root) or not file.is_file():
            return None
        body = file.read_bytes()
        return response(200, body, keep_alive=keep, content_type=_TYPES[suffix])

    def describe(self, session: Session) -> dict[str, Any]:
        """A connection as the page shows it (without registry fields)."""
        return {
            "connectionId": session.connection_id,
            "connectedAt": session.connected_at,
            "lastActiveAt": session.last_active_at,
            "sourceIp": session.source_ip,
            "userAgent": session.user_agent,
            "messagesIn": session.messages_in,
            "messagesOut": session.messages_out,
        }

    @property
    def actions_enabled(self) -> bool:
        """Whether the actions are on: as configured, else only while on loopback."""
        config = self.emulator.config
        if config.dashboard_actions is not None:
            return config.dashboard_actions
        from wsgate.local.origin import is_loopback_host

        return is_loopback_host(config.host)

    def info(self) -> dict[str, Any]:
        """What the page may do, and why not (``GET info``)."""
        signed = self.emulator.config.verify_signatures
        note = None
        if not self.actions_enabled:
            note = (
                "read-only: the emulator listens beyond loopback; start it with "
                "--dashboard-actions to send, disconnect and change faults from here"
            )
        elif signed:
            note = (
                "actions need SigV4-signed requests (--verify-signatures), as the "
                "Management API does; a browser page cannot sign them"
            )
        return {"actions": self.actions_enabled and not signed, "signed": signed, "note": note}

    def action_refusal(self, request: HttpRequest) -> bytes | None:
        """A 403 for an action the rules above forbid; ``None`` when it may run."""
        route = request.path[len("/_wsgate/api/") :]
        method = request.method
        action = (
            (route == "broadcast" and method == "POST")
            or (route == "faults" and method in ("PUT", "POST"))
            or (route.startswith("connections/") and method in ("POST", "DELETE"))
        )
        if not action:
            return None
        if not self.actions_enabled:
            message = self.info()["note"]
            return _json({"message": message}, False, status=403)
        if self.emulator.config.verify_signatures:
            from wsgate.local.server import signature_refusal

            return signature_refusal(request)
        return None

    def handle(self, request: HttpRequest, transport: asyncio.Transport) -> Any:
        """Answer a dashboard request: bytes, an awaitable of bytes, or None for the feed."""
        path = request.path
        keep = request.keep_alive
        if path in ("/_wsgate/", "/_wsgate/index.html"):
            return self._static("index.html", keep)
        if path in ("/_wsgate/asyncapi", "/_wsgate/asyncapi.json"):
            return self._asyncapi(path.endswith(".json"), keep)
        if path.startswith("/_wsgate/static/"):
            return self._static(path.rsplit("/", 1)[1], keep)
        if not path.startswith("/_wsgate/api/"):
            return response(404, b"not found", keep_alive=keep)
        refused = self.action_refusal(request)
        if refused is not None:
            return refused
        route = path[len("/_wsgate/api/") :]
        method = request.method
        if route == "info" and method == "GET":
            return _json(self.info(), keep)
        if route == "metrics" and method == "GET":
            totals = self.metrics.totals() if self.metrics is not None else {}
            return _json({"metrics": totals, "onDashboard": self.metrics is not None}, keep)
        if route == "events" and method == "GET":
            self.feed.subscribe(transport)
            return None
        if route == "connections" and method == "GET":
            return self._connections(keep)
        if route == "broadcast" and method == "POST":
            sent = 0
            for session in list(self.emulator.connections.values()):
                if session.is_open:
                    self.emulator.routing._send(session, request.body)
                    sent += 1
            return _json({"sent": sent}, keep)
        if route == "faults":
            faults = self.emulator.config.faults
            if method in ("PUT", "POST"):
                try:
                    values = json.loads(request.body or b"{}")
                    if not isinstance(values, dict):
                        raise ValueError("expected a JSON object")
                    faults.update(values)
                except ValueError as exc:
                    return _json({"error": str(exc)}, keep, status=400)
                self.feed.publish("faults", faults.as_dict())
            return _json(faults.as_dict(), keep)
        if route.startswith("connections/"):
            return self._connection_action(request, route[len("connections/") :], keep)
        return response(404, b"not found", keep_alive=keep)

    def _connection_action(self, request: HttpRequest, rest: str, keep: bool) -> bytes:
        raw_id, _, action = rest.partition("/")
        session = self.emulator.connections.get(decode_path_segment(raw_id))
        if session is None or not session.is_open:
            return _json({"error": "gone"}, keep, status=410)
        if request.method == "DELETE" and not action:
            session.close(1000, "Connection Closed Normally")
            return response(204, keep_alive=keep)
        if request.method == "POST" and action == "messages":
            self.emulator.routing._send(session, request.body)
            return _json({"sent": 1}, keep)
        return response(405, keep_alive=keep)

    def _static(self, name: str, keep: bool) -> bytes:
        if name.startswith(".") or "/" in name or "\\" in name:
            return response(404, keep_alive=keep)
        file = resources.files("wsgate.local").joinpath("static", name)
        if not file.is_file():
            return response(404, b"not found", keep_alive=keep)
        suffix = os.path.splitext(name)[1]
        content_type = _TYPES.get(suffix, "application/octet-stream")
        return response(200, file.read_bytes(), keep_alive=keep, content_type=content_type)

    def _asyncapi(self, as_json: bool, keep: bool) -> bytes:
        """The app's AsyncAPI document (JSON), or the page that shows it."""
        if not as_json:
            return self._static("asyncapi.html", keep)
        spec = self.emulator.app
        app = getattr(spec, "app", None)
        if app is None:
            return _json(
                {"error": "the app is not a WebSocketApp: no routes to describe"}, keep, status=404
            )
        from wsgate.asyncapi import build_document

        try:
            document = build_document(app, url=self.emulator.ws_url)
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, keep, status=500)
        return _json(document, keep)

    async def _connections(self, keep: bool) -> bytes:
        sessions = [s for s in self.emulator.connections.values() if s.is_open]
        rows = [self.describe(s) for s in sessions]
        ids = [row["connectionId"] for row in rows]
        records = await asyncio.to_thread(self._records, ids)
        from wsgate.presence.protocol import presence_by_room, room_of

        for row in rows:
            record = records.get(row["connectionId"])
            row["userId"] = getattr(record, "user_id", None)
            rooms = getattr(record, "rooms", ()) or ()
            row["rooms"] = sorted(r for r in rooms if room_of(r) is None and r != "wsgate.presence")
        presence = presence_by_room(r for r in records.values() if r is not None)
        body = {"connections": rows, "presence": presence, "recent": list(self.feed.recent)}
        return _json(body, keep)

    def _records(self, ids: list[str]) -> dict[str, Any]:
        """Registry records for ``ids`` (user, rooms); empty when no registry is usable."""
        url = os.environ.get("WSGATE_REGISTRY")
        if not url or not ids:
            return {}
        try:
            if self._registry is None:
                from wsgate.registry import open_registry

                self._registry = open_registry(url)
            found: dict[str, Any] = {}
            for connection_id in ids:
                try:
                    found[connection_id] = self._registry.get(connection_id)
                except KeyError:
                    continue
            return found
        except Exception:
            logger.debug("registry not readable for the dashboard", exc_info=True)
            return {}


def _json(data: Any, keep: bool, *, status: int = 200) -> bytes:
    body = json.dumps(data).encode()
    return response(status, body, keep_alive=keep, content_type="application/json")
