"""What a generated SAM template needs for :mod:`wsgate.presence`: a scheduled sweep.

Presence state lives in the connection table, so no resource but the schedule is needed:
Lambda has no timers, and the sweep is what removes connections whose ``$disconnect`` never
came.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["SWEEP_SCHEDULE", "add_presence_resources"]

SWEEP_SCHEDULE = "rate(1 minute)"
"""How often the deployed sweep looks for silent connections (EventBridge's finest rate)."""


def add_presence_resources(resources: dict[str, Any], *, handler: str) -> None:
    """Schedule ``<module>.sweep`` (expose ``sweep = presence.scheduled_handler``, or a function
    that runs both sweeps when the app also has acked delivery) in a template's ``resources``.

    With acked delivery the ``DeliverySweepFunction`` already runs ``<module>.sweep`` on the
    same schedule, so only its description changes; otherwise a ``PresenceSweepFunction`` with
    the code, environment and permissions of ``WebSocketFunction`` is added.

    Args:
        resources: The template's ``Resources`` (must hold ``WebSocketFunction``).
        handler: The app's Lambda handler, ``module.attribute``.
    """
    existing = resources.get("DeliverySweepFunction")
    if existing is not None:
        existing["Properties"]["Description"] = (
            "wsgate sweep: redeliver unacked messages, remove presence ghosts"
        )
        return
    sweep = copy.deepcopy(resources["WebSocketFunction"])
    properties = sweep["Properties"]
    properties["Description"] = "wsgate presence sweep: remove connections gone silent"
    properties["Handler"] = handler.rsplit(".", 1)[0] + ".sweep"
    properties["Events"] = {
        "Sweep": {"Type": "Schedule", "Properties": {"Schedule": SWEEP_SCHEDULE}}
    }
    resources["PresenceSweepFunction"] = sweep
