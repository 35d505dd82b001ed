"""Routes, the selection expression and two-way routes of a template, for a plain handler.

Used by ``AppSpec.from_object(..., template=)`` when the app is one Lambda handler function,
which cannot say which routes it serves. Built on :mod:`wsgate.local.apptemplate`, so every
template kind and intrinsic it reads works here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wsgate.exceptions import ConfigurationError

__all__ = ["TemplateRoutes", "load_template"]


@dataclass(frozen=True)
class TemplateRoutes:
    """What the emulator needs from a template.

    Attributes:
        route_keys: Every route key the API defines.
        two_way_route_keys: Routes whose response body goes back to the client.
        route_selection_expression: The API's expression.
        timeouts: Integration timeout in seconds per route key, where the template sets one.
        stage: The stage name the template deploys, if any.
    """

    route_keys: frozenset[str]
    two_way_route_keys: frozenset[str]
    route_selection_expression: str
    timeouts: dict[str, float] = field(default_factory=dict)
    stage: str | None = None


def load_template(path: str | Path) -> TemplateRoutes:
    """Read a template's WebSocket API.

    Raises:
        ConfigurationError: The file is unreadable, not a template, or defines no WebSocket API.
    """
    from wsgate.local.apptemplate import load_template_app

    app = load_template_app(path)
    if not app.has_api:
        raise ConfigurationError(f"{path}: no WebSocket API (ProtocolType WEBSOCKET) found")
    timeouts = {k: r.timeout for k, r in app.routes.items() if r.timeout is not None}
    return TemplateRoutes(
        app.route_keys,
        app.two_way_route_keys,
        app.route_selection_expression,
        timeouts,
        app.declared_stage,
    )
