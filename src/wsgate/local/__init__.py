"""``wsgate serve``: a faithful local emulator of an API Gateway WebSocket API.

One port serves the WebSocket endpoint ``ws://HOST:PORT/{stage}``, the ``@connections``
Management API at ``http://HOST:PORT/{stage}/@connections/{id}`` (unmodified boto3 works against
it) and a dashboard at ``/_wsgate/``. Needs the ``local`` extra (``websockets``); the event
builders in :mod:`wsgate.local.eventgen` need nothing beyond the standard library.

Example::

    from wsgate.local import Emulator, EmulatorConfig

    async with Emulator("app.py", EmulatorConfig(port=0)) as emulator:
        print(emulator.ws_url, emulator.endpoint)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wsgate.local.config import EmulatorConfig, Faults

if TYPE_CHECKING:
    from wsgate.local.invoke import AppSpec, load_app
    from wsgate.local.server import Emulator

__all__ = ["AppSpec", "Emulator", "EmulatorConfig", "Faults", "load_app"]


def __getattr__(name: str) -> Any:
    # The server needs `websockets`; import it only when asked, so `wsgate.local.eventgen`
    # stays usable without the `local` extra.
    if name == "Emulator":
        from wsgate.local.server import Emulator

        return Emulator
    if name in ("AppSpec", "load_app"):
        from wsgate.local import invoke

        return getattr(invoke, name)
    raise AttributeError(name)
