"""`import wsgate` and dispatching a MESSAGE stay light: no boto3, no asyncio."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsgate.testing.servers import LocalServer

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


# A cold ``$connect`` that stores the connection in DynamoDB (the registry's default stdlib
# client), as bench/bench_coldstart.py measures it: none of these may load. Each was once on
# this path and cost a cold start milliseconds (boto3 hundreds; the others a few each).
COLD_CONNECT_FORBIDDEN = (
    "boto3",
    "botocore",
    "asyncio",
    "logging",
    "inspect",
    "dataclasses",
    "typing",
    "uuid",
    "decimal",
    "datetime",
    "urllib.parse",
    "queue",
    "random",
)

CONNECT_SCRIPT = """
import json, sys
from wsgate.router import WebSocketApp
from wsgate.gateway import ws_store_connection

app = WebSocketApp()

@app.connect
def on_connect(event):
    ws_store_connection(event.connection_id, user_id="ada")
    return {"statusCode": 200}

with open(sys.argv[1]) as f:
    event = json.load(f)
event["requestContext"]["connectionId"] = sys.argv[2]
answer = app(event, None)
loaded = sorted(m for m in json.loads(sys.argv[3]) if m in sys.modules)
print(json.dumps({"answer": answer, "loaded": loaded}))
"""


def test_cold_connect_with_dynamodb_registry_loads_nothing_heavy(
    dynalite_server: LocalServer,
) -> None:
    from wsgate.registry.dynamodb import DynamoDBRegistry
    from wsgate.testing.servers import TEST_CREDENTIALS

    table = f"cold-{uuid.uuid4().hex[:8]}"
    client = dynalite_server.stdlib_client()
    registry = DynamoDBRegistry(table, client=client)
    registry.create_table()
    connection_id = f"cold-{uuid.uuid4().hex[:8]}="
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WSGATE_"))},
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
        "AWS_ACCESS_KEY_ID": TEST_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIALS["aws_secret_access_key"],
        "AWS_REGION": TEST_CREDENTIALS["region_name"],
        "AWS_ENDPOINT_URL_DYNAMODB": dynalite_server.endpoint_url,
        "WSGATE_TABLE": table,
        "WSGATE_METRICS": "off",
    }
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                CONNECT_SCRIPT,
                str(Path(__file__).parent / "events" / "connect_query.json"),
                connection_id,
                json.dumps(COLD_CONNECT_FORBIDDEN),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout.splitlines()[-1])
        assert result["answer"]["statusCode"] == 200
        stored = registry.get(connection_id)  # the write really happened, in that table
        assert stored is not None and stored.user_id == "ada"
        assert result["loaded"] == []
    finally:
        registry.delete_table()
        registry.close()
        client.close()
