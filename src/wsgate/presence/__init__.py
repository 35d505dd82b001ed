"""Presence: who is online in a room, join/leave/update events, and no ghosts.

::

    from wsgate.presence import Presence, enable

    app = WebSocketApp()
    presence = enable(app, Presence(heartbeat=30))   # routes, heartbeat, $disconnect cleanup
    sweep = presence.scheduled_handler               # EventBridge schedule: removes ghosts

    presence.members("lobby")   # [Member(user_id, data, connections, since), ...]

Clients send ``{"action": "presence.enter", "room": "lobby", "data": {"name": "Ada"}}`` and a
``presence.heartbeat`` every ``heartbeat`` seconds; ``wsgate-presence.js``
(:func:`client_js_path`) does it for ``wsgate-client.js``. See ``docs/presence.md``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from wsgate.presence.protocol import Member

__all__ = ["Member", "Presence", "client_js_path", "enable"]

CLIENT_JS_ROUTE = "/wsgate-presence.js"
"""Where the emulator serves the JavaScript presence client."""


def __getattr__(name: str) -> object:
    # enable pulls in the router; keep `import wsgate.presence` light.
    if name == "Presence":
        from wsgate.presence.service import Presence

        return Presence
    if name == "enable":
        from wsgate.presence.middleware import enable

        return enable
    raise AttributeError(f"module 'wsgate.presence' has no attribute {name!r}")


def client_js_path() -> Path:
    """The path of ``wsgate-presence.js`` inside the installed package (to serve or copy)."""
    return Path(str(resources.files("wsgate.presence").joinpath("static/wsgate-presence.js")))
