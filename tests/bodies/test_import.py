"""Apps without models never load Pydantic or wsgate.bodies; dataclass apps never load Pydantic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EVENT = Path(__file__).resolve().parent.parent / "events" / "message_custom.json"

PLAIN = """
from typing import Any
import wsgate

app = wsgate.WebSocketApp()

@app.route("sendmessage")
def send(event, context):
    return {"echo": event.json["data"]}

@app.route("other")
def other(event: wsgate.MessageEvent) -> None: ...
"""

ANNOTATED = """
from typing import Any
import wsgate

app = wsgate.WebSocketApp()

@app.route("sendmessage")
def send(event: wsgate.MessageEvent, context: Any) -> Any:
    return {"echo": event.json["data"]}
"""

DATACLASS = """
from dataclasses import dataclass
import wsgate

@dataclass
class Body:
    action: str
    data: str

app = wsgate.WebSocketApp()

@app.route("sendmessage")
def send(event, body: Body):
    return {"echo": body.data}
"""

RUN = """
import json, sys
with open(sys.argv[1]) as f:
    raw = json.load(f)
out = app(raw, None)
print(json.dumps({"out": out, "loaded": sorted(m for m in ("pydantic", "wsgate.bodies",
      "wsgate.validator", "inspect") if m in sys.modules)}))
"""


def run(app_code: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", app_code + RUN, str(EVENT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"WSGATE_METRICS": "off", "PYTHONPATH": ":".join(sys.path)},
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return result


def test_an_app_without_annotations_loads_neither_bodies_nor_pydantic() -> None:
    result = run(PLAIN)
    assert result["out"] == {"statusCode": 200, "body": '{"echo":"hi"}'}
    assert result["loaded"] == []


def test_annotated_handlers_without_models_load_no_pydantic() -> None:
    result = run(ANNOTATED)
    assert result["out"] == {"statusCode": 200, "body": '{"echo":"hi"}'}
    assert "pydantic" not in result["loaded"]  # type: ignore[operator]


def test_a_dataclass_body_app_loads_the_validator_but_not_pydantic() -> None:
    result = run(DATACLASS)
    assert result["out"] == {"statusCode": 200, "body": '{"echo":"hi"}'}
    assert result["loaded"] == ["inspect", "wsgate.bodies", "wsgate.validator"]
