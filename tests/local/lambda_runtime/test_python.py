"""Python functions in their own processes: results, context, errors, timeouts, instances."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import wsgate
from wsgate.local.lambda_runtime import FunctionPool
from wsgate.local.lambda_runtime.launch import DUMMY_CREDENTIALS

from .conftest import APP, LogLines

FnFactory = Callable[..., FunctionPool]


def test_result_and_cold_then_warm_on_the_same_process(make_pool: FnFactory) -> None:
    pool = make_pool(APP)
    first = pool.invoke({"n": 1})
    second = pool.invoke({"n": 2})
    assert first.error is None and first.payload["event"] == {"n": 1}
    assert (first.cold, second.cold) == (True, False)
    assert second.payload["pid"] == first.payload["pid"] != os.getpid()
    assert first.request_id != second.request_id
    assert pool.instances == 1


def test_context_fields_and_remaining_time(make_pool: FnFactory) -> None:
    pool = make_pool(
        {
            "app.py": """
                import time
                def handler(event, context):
                    before = context.get_remaining_time_in_millis()
                    time.sleep(0.3)
                    return {
                        "ids": [context.aws_request_id, context.function_name,
                                context.function_version, context.invoked_function_arn,
                                context.memory_limit_in_mb, context.log_group_name,
                                context.log_stream_name],
                        "before": before, "after": context.get_remaining_time_in_millis(),
                    }
            """
        },
        name="Ctx",
        timeout=5,
    )
    result = pool.invoke({})
    ids = result.payload["ids"]
    assert ids[0] == result.request_id
    assert ids[1:3] == ["Ctx", "$LATEST"]
    assert ids[3] == "arn:aws:lambda:us-east-1:123456789012:function:Ctx"
    assert ids[4] == "128" and ids[5] == "/aws/lambda/Ctx"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", ids[6])
    assert 1000 < result.payload["before"] <= 5000  # generous: a loaded machine
    assert result.payload["after"] <= result.payload["before"] - 250


def test_handler_error_in_lambdas_shape(make_pool: FnFactory) -> None:
    pool = make_pool(
        {
            "app.py": """
                def handler(event, context):
                    raise KeyError("missing")
            """
        }
    )
    result = pool.invoke({})
    assert result.payload is None and not result.timed_out
    assert result.error is not None
    assert result.error["errorType"] == "KeyError"
    assert result.error["errorMessage"] == "'missing'"
    assert result.error["requestId"] == result.request_id
    trace = result.error["stackTrace"]
    assert len(trace) == 1 and "app.py" in trace[0] and "raise KeyError" in trace[0]
    assert pool.invoke({}).cold is False  # a handled error keeps the instance


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"app.py": "x = 1\n"},
            "nothere.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'nothere': No module named 'nothere'",
        ),
        (
            {"app.py": "x = 1\n"},
            "app.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
        ),
        (
            {"app.py": "def handler(:\n"},
            "app.handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'app'",
        ),
        ({"app.py": "raise RuntimeError('no table')\n"}, "app.handler", "RuntimeError", "no table"),
        ({"app.py": "x = 1\n"}, "app", "Runtime.MalformedHandlerName", "Bad handler 'app'"),
    ],
)
def test_init_errors(
    make_pool: FnFactory, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    pool = make_pool(files, handler=handler)
    result = pool.invoke({})
    assert result.error is not None
    assert result.error["errorType"] == error_type
    assert result.error["errorMessage"].startswith(message)
    assert result.cold
    # Lambda retries the init on the next call: a new instance, the same error.
    again = pool.invoke({})
    assert again.cold and again.error is not None and again.error["errorType"] == error_type


def test_same_module_name_and_conflicting_variables_are_isolated(
    make_pool: FnFactory,
) -> None:
    code = """
        import os, lambda_function_helper
        def lambda_handler(event, context):
            return {"who": lambda_function_helper.WHO, "table": os.environ["TABLE"],
                    "cwd": os.getcwd(), "file": __file__}
    """
    pools = [
        make_pool(
            {"lambda_function.py": code, "lambda_function_helper.py": f"WHO = {who!r}\n"},
            name=who,
            handler="lambda_function.lambda_handler",
            environment={"TABLE": f"table-{who}"},
        )
        for who in ("connect", "disconnect", "send")
    ]
    for _ in range(2):
        for pool, who in zip(pools, ("connect", "disconnect", "send"), strict=True):
            payload = pool.invoke({}).payload
            assert payload["who"] == who and payload["table"] == f"table-{who}"
            root = str(pool.spec.code_root)
            assert payload["cwd"] == root and payload["file"].startswith(root)


def test_environment_is_lambdas_and_nothing_of_the_emulators(
    make_pool: FnFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSGATE_LEAK_SENTINEL", "secret")
    monkeypatch.setenv("AWS_PROFILE", "real-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    pool = make_pool(
        {
            "app.py": """
                import os
                def handler(event, context):
                    return dict(os.environ)
            """
        },
        name="EnvFn",
        environment={"TABLE_NAME": "chat", "AWS_REGION": "template-cannot-set-this"},
        extra_env={"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1"},
        python_path=["/opt/hooks"],
    )
    env = pool.invoke({}).payload
    root = str(pool.spec.code_root)
    assert env["TABLE_NAME"] == "chat"
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:1"
    expected = {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "EnvFn",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/EnvFn",
        "_HANDLER": "app.handler",
        "LAMBDA_TASK_ROOT": root,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{pool.spec.runtime}",
        "TZ": ":UTC",
    }
    assert {k: env[k] for k in expected} == expected
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["AWS_ACCESS_KEY_ID"] != "AKIAREALKEY" and env["AWS_SECRET_ACCESS_KEY"]
    assert env["AWS_SESSION_TOKEN"] and env["LAMBDA_RUNTIME_DIR"] and env["PATH"]
    assert env["PYTHONPATH"].split(os.pathsep)[0] == "/opt/hooks"
    assert "WSGATE_LEAK_SENTINEL" not in env and "AWS_PROFILE" not in env
    allowed = {
        *expected,
        "TABLE_NAME",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "PATH",
        "PYTHONPATH",
        "LANG",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "_X_AMZN_TRACE_ID",
        "LC_CTYPE",  # set by the interpreter itself when it coerces the C locale (PEP 538)
    }
    assert set(env) - allowed == set()


def test_boto3_imports_in_the_function(make_pool: FnFactory) -> None:
    pool = make_pool(
        {
            "app.py": """
                import boto3
                def handler(event, context):
                    session = boto3.session.Session()
                    return [session.region_name, session.get_credentials().access_key]
            """
        }
    )
    result = pool.invoke({})
    assert result.error is None, result.error
    assert result.payload == ["us-east-1", DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]]


def test_logs_are_prefixed_with_the_function_name(make_pool: FnFactory, logs: LogLines) -> None:
    pool = make_pool(
        {
            "app.py": """
                import logging, sys
                logger = logging.getLogger()
                logger.setLevel(logging.INFO)
                def handler(event, context):
                    print("to stdout")
                    print("to stderr", file=sys.stderr)
                    logger.info("via logging")
                    return None
            """
        },
        name="Talker",
    )
    result = pool.invoke({})
    assert result.error is None and result.payload is None
    logs.wait("Talker", "to stdout")
    logs.wait("Talker", "to stderr")
    line = logs.wait("Talker", "via logging")
    assert line.startswith("[INFO]\t") and result.request_id in line


def test_default_log_sink_writes_the_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    from wsgate.local.lambda_runtime import terminal_log

    terminal_log("SendMessage", "hello")
    assert capsys.readouterr().err == "[SendMessage] hello\n"


def test_response_over_six_megabytes_is_an_error(make_pool: FnFactory) -> None:
    pool = make_pool(
        {
            "app.py": """
                def handler(event, context):
                    return "x" * (event["size"])
            """
        }
    )
    too_big = pool.invoke({"size": 7 * 1024 * 1024})
    assert too_big.error is not None
    assert too_big.error["errorType"] == "Function.ResponseSizeTooLarge"
    ok = pool.invoke({"size": 1024})
    assert ok.error is None and ok.payload == "x" * 1024


def test_unserialisable_event_and_oversized_event(make_pool: FnFactory) -> None:
    pool = make_pool(APP)
    with pytest.raises(TypeError):
        pool.invoke({"x": object()})
    result = pool.invoke({"blob": "x" * (7 * 1024 * 1024)})
    assert result.error is not None and result.error["errorType"] == "RequestTooLargeException"
    assert pool.instances == 0  # refused before any instance started


def test_decimal_results_are_serialised_like_lambda(make_pool: FnFactory) -> None:
    pool = make_pool(
        {
            "app.py": """
                from decimal import Decimal
                def handler(event, context):
                    return {"n": Decimal("3"), "f": Decimal("1.5"), "s": "é"}
            """
        }
    )
    assert pool.invoke({}).payload == {"n": 3, "f": 1.5, "s": "é"}


def test_missing_interpreter_is_an_error_result(make_pool: FnFactory, tmp_path: Path) -> None:
    pool = make_pool(APP, python=str(tmp_path / "no-such-python"))
    result = pool.invoke({})
    assert result.error is not None and result.error["errorType"] == "Runtime.InvalidEntrypoint"
    assert "no-such-python" in result.error["errorMessage"]


def test_a_wsgate_app_runs_unchanged_as_a_function(make_pool: FnFactory) -> None:
    from wsgate.testing.factories import message_event

    pool = make_pool(
        {
            "app.py": """
                import wsgate
                from wsgate import WebSocketApp

                app = WebSocketApp()

                @app.route("echo", two_way=True)
                def echo(event):
                    return {"echo": event.json["text"], "from": wsgate.__file__}
            """
        },
        handler="app.app",
    )
    result = pool.invoke(message_event({"action": "echo", "text": "hi"}, route_key="echo"))
    assert result.error is None, result.error
    assert result.payload["statusCode"] == 200
    body = json.loads(result.payload["body"])
    assert body["echo"] == "hi"
    # The same wsgate as the emulator's (the function imports it from where it is installed).
    assert body["from"] == wsgate.__file__
