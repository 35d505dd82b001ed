"""`import wsgate` and dispatching a MESSAGE stay light: no boto3, no asyncio."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EVENT = Path(__file__).parent / "events" / "message_custom.json"

SCRIPT = """
import json, sys
import wsgate

app = wsgate.WebSocketApp()

@app.route("sendmessage")
def send(event, context):
    return {"echo": event.json["data"], "remaining": context.get_remaining_time_in_millis() > 0}

with open(sys.argv[1]) as f:
    raw = json.load(f)
out = app(raw, wsgate.LambdaContext())
HEAVY = ("boto3", "botocore", "asyncio")
heavy = sorted(m for m in HEAVY if m in sys.modules)
print(json.dumps({"out": out, "heavy": heavy}))
"""


def test_import_and_dispatch_load_no_boto3_or_asyncio() -> None:
    proc = subprocess.run(
        [sys.executable, "-I", "-c", SCRIPT, str(EVENT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    # The last line is ours (the default observe middleware may print EMF lines first).
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["out"] == {"statusCode": 200, "body": '{"echo":"hi","remaining":true}'}
    assert result["heavy"] == []
