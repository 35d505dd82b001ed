"""Node.js functions through wsgate's own bootstrap: CommonJS and ES modules, async and callback
handlers, context, errors, init errors, and the AWS SDK v3 resolved from the per-user cache."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from wsgate.local.lambda_runtime import FunctionPool

from .conftest import LogLines

FnFactory = Callable[..., FunctionPool]
NODE = "nodejs20.x"

pytestmark = pytest.mark.usefixtures("node")


def node_pool(make_pool: FnFactory, files: dict[str, str], **kwargs: object) -> FunctionPool:
    kwargs.setdefault("handler", "index.handler")
    return make_pool(files, runtime=NODE, **kwargs)


ECHO = "async (event) => ({ event, pid: process.pid })"
CALLBACK = """
    exports.handler = function (event, context, callback) {
      setTimeout(() => callback(null, { event, pid: process.pid }), 20);
    };
"""


@pytest.mark.parametrize(
    ("files", "handler"),
    [
        ({"index.js": f"exports.handler = {ECHO};"}, "index.handler"),
        ({"index.cjs": f"module.exports.handler = {ECHO};"}, "index.handler"),
        ({"index.mjs": f"export const handler = {ECHO};"}, "index.handler"),
        (
            {"package.json": '{"type": "module"}', "src/app.js": f"export const handler = {ECHO};"},
            "src/app.handler",
        ),
        ({"index.js": CALLBACK}, "index.handler"),
    ],
    ids=["cjs-js", "cjs-cjs", "esm-mjs", "esm-type-module-nested", "callback"],
)
def test_handler_forms(make_pool: FnFactory, files: dict[str, str], handler: str) -> None:
    pool = node_pool(make_pool, files, handler=handler)
    first = pool.invoke({"n": 1})
    assert first.error is None, first.error
    assert first.payload["event"] == {"n": 1} and first.cold
    second = pool.invoke({"n": 2})
    assert second.payload["pid"] == first.payload["pid"] and not second.cold


def test_context_fields(make_pool: FnFactory) -> None:
    pool = node_pool(
        make_pool,
        {
            "index.mjs": """
                export const handler = async (event, context) => {
                  const before = context.getRemainingTimeInMillis();
                  await new Promise((r) => setTimeout(r, 300));
                  return {
                    ids: [context.awsRequestId, context.functionName, context.functionVersion,
                          context.invokedFunctionArn, context.memoryLimitInMB,
                          context.logGroupName, context.logStreamName],
                    waits: context.callbackWaitsForEmptyEventLoop,
                    before, after: context.getRemainingTimeInMillis(),
                  };
                };
            """
        },
        name="NodeCtx",
        timeout=5,
    )
    result = pool.invoke({})
    ids = result.payload["ids"]
    assert ids[:3] == [result.request_id, "NodeCtx", "$LATEST"]
    assert ids[3].endswith(":function:NodeCtx") and ids[4] == "128"
    assert ids[5] == "/aws/lambda/NodeCtx" and ids[6]
    assert result.payload["waits"] is True
    assert 1000 < result.payload["before"] <= 5000  # generous: a loaded machine
    assert result.payload["after"] <= result.payload["before"] - 250


def test_errors_in_lambdas_shape(make_pool: FnFactory) -> None:
    pool = node_pool(
        make_pool,
        {
            "index.js": """
                exports.handler = async (event) => {
                  if (event.kind === 'throw') throw new TypeError('bad input');
                  return 'fine';
                };
                exports.cb = (event, context, callback) => callback(new RangeError('too far'));
            """
        },
    )
    result = pool.invoke({"kind": "throw"})
    assert result.error is not None
    assert result.error["errorType"] == "TypeError"
    assert result.error["errorMessage"] == "bad input"
    assert result.error["trace"][0] == "TypeError: bad input"
    assert any("index.js" in line for line in result.error["trace"])
    assert pool.invoke({}).payload == "fine"


def test_callback_error(make_pool: FnFactory) -> None:
    pool = node_pool(
        make_pool,
        {"index.js": "exports.handler = (e, c, callback) => callback(new RangeError('too far'));"},
    )
    error = pool.invoke({}).error
    assert error is not None and (error["errorType"], error["errorMessage"]) == (
        "RangeError",
        "too far",
    )


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"index.js": "exports.x = 1;"},
            "missing.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'missing'",
        ),
        (
            {"index.js": "exports.x = 1;"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is undefined or not exported",
        ),
        (
            {"index.js": "exports.handler = 1;"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is not a function",
        ),
        (
            {"index.js": "exports.handler = async () => {"},
            "index.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError",
        ),
        (
            {"index.mjs": "import 'no-such-package-anywhere';\nexport const handler = 1;"},
            "index.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find package",
        ),
        (
            {"index.js": "throw new Error('config missing');"},
            "index.handler",
            "Error",
            "config missing",
        ),
    ],
    ids=[
        "no-module",
        "no-export",
        "not-function",
        "syntax-error",
        "missing-package",
        "throws-at-load",
    ],
)
def test_init_errors(
    make_pool: FnFactory, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    pool = node_pool(make_pool, files, handler=handler)
    result = pool.invoke({})
    assert result.error is not None, result.payload
    assert result.error["errorType"] == error_type
    assert result.error["errorMessage"].startswith(message), result.error
    again = pool.invoke({})
    assert again.cold and again.error is not None


def test_timeout_and_unhandled_rejection(make_pool: FnFactory) -> None:
    pool = node_pool(
        make_pool,
        {
            "index.js": """
                exports.handler = async (event) => {
                  if (event.hang) return new Promise(() => {});
                  if (event.reject) {
                    Promise.reject(new Error('lost'));
                    await new Promise((r) => setTimeout(r, 2000));
                  }
                  return process.pid;
                };
            """
        },
        timeout=1.0,
    )
    pid = pool.invoke({}).payload
    began = time.monotonic()
    hung = pool.invoke({"hang": True})
    assert hung.timed_out and time.monotonic() - began < 15
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    fresh = pool.invoke({})
    assert fresh.cold and fresh.payload != pid
    rejected = pool.invoke({"reject": True}, timeout=10)
    assert rejected.error is not None
    assert rejected.error["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert pool.invoke({}).cold


def test_sdk_v3_resolves_from_the_cache_for_esm_and_cjs(make_pool: FnFactory) -> None:
    esm = node_pool(
        make_pool,
        {
            "package.json": '{"type": "module"}',
            "app.js": """
                import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
                import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
                import { ApiGatewayManagementApiClient as Api }
                  from "@aws-sdk/client-apigatewaymanagementapi";
                export const handler = async () => {
                  const client = new DynamoDBClient({});
                  return [typeof DynamoDBDocumentClient.from, typeof Api,
                          await client.config.region()];
                };
            """,
        },
        name="EsmSdk",
        handler="app.handler",
    )
    result = esm.invoke({})
    assert result.error is None, result.error
    assert result.payload == ["function", "function", "us-east-1"]
    cjs = node_pool(
        make_pool,
        {
            "index.js": """
                const { SQSClient } = require("@aws-sdk/client-sqs");
                exports.handler = async () => typeof SQSClient;
            """
        },
        name="CjsSdk",
    )
    assert cjs.invoke({}).payload == "function"


def test_the_apps_own_node_modules_win(make_pool: FnFactory) -> None:
    fake = {
        "package.json": json.dumps(
            {
                "name": "@aws-sdk/client-dynamodb",
                "version": "0.0.1-app",
                "exports": {"import": "./index.mjs", "require": "./index.js"},
            }
        ),
        "index.js": "exports.DynamoDBClient = 'the app copy';",
        "index.mjs": "export const DynamoDBClient = 'the app copy';",
    }
    files = {f"node_modules/@aws-sdk/client-dynamodb/{k}": v for k, v in fake.items()}
    files["index.mjs"] = """
        import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
        import { createRequire } from "node:module";
        const require = createRequire(import.meta.url);
        const fromRequire = require("@aws-sdk/client-dynamodb").DynamoDBClient;
        export const handler = async () => [DynamoDBClient, fromRequire];
    """
    pool = node_pool(make_pool, files)
    assert pool.invoke({}).payload == ["the app copy", "the app copy"]


def test_environment_and_logs(
    make_pool: FnFactory, logs: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSGATE_LEAK_SENTINEL", "secret")
    pool = node_pool(
        make_pool,
        {
            "index.js": """
                console.log("init line");
                exports.handler = async () => {
                  console.log("hello", { a: 1 });
                  process.stderr.write("raw stderr\\n");
                  return process.env;
                };
            """
        },
        name="NodeEnv",
        environment={"TABLE": "t1"},
        node_options=["--no-deprecation"],
    )
    result = pool.invoke({})
    env = result.payload
    assert env["TABLE"] == "t1" and env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["_HANDLER"] == "index.handler" and env["NODE_OPTIONS"] == "--no-deprecation"
    assert env["NODE_PATH"].split(os.pathsep)[0].endswith("node_modules")
    assert "WSGATE_LEAK_SENTINEL" not in env
    line = logs.wait("NodeEnv", "hello { a: 1 }")
    assert f"\t{result.request_id}\tINFO\t" in line
    logs.wait("NodeEnv", "init line")
    logs.wait("NodeEnv", "raw stderr")


def test_two_functions_same_file_name_different_variables(make_pool: FnFactory) -> None:
    code = {"index.js": "exports.handler = async () => [process.env.WHO, __dirname];"}
    a = node_pool(make_pool, code, name="A", environment={"WHO": "a"})
    b = node_pool(make_pool, code, name="B", environment={"WHO": "b"})
    assert a.invoke({}).payload == ["a", str(Path(a.spec.code_root))]
    assert b.invoke({}).payload == ["b", str(Path(b.spec.code_root))]


def test_plain_return_is_not_the_result_but_context_succeed_is(make_pool: FnFactory) -> None:
    pool = node_pool(
        make_pool,
        {
            "index.js": """
                exports.plain = (event) => 5;
                exports.succeed = (event, context) => { setTimeout(() => context.succeed(7), 10); };
            """
        },
        handler="index.plain",
    )
    result = pool.invoke({})
    assert result.error is None and result.payload is None
    succeed = node_pool(
        make_pool,
        {"index.js": "exports.succeed = (e, context) => { context.succeed(7); };"},
        name="Succeed",
        handler="index.succeed",
    )
    assert succeed.invoke({}).payload == 7


def test_node_options_words_reach_node_even_with_spaces(
    make_pool: FnFactory, tmp_path: Path
) -> None:
    hook = tmp_path / "hook dir" / "pre load.cjs"
    hook.parent.mkdir()
    hook.write_text("globalThis.preloaded = 'yes';\n")
    pool = node_pool(
        make_pool,
        {"index.js": "exports.handler = async () => globalThis.preloaded ?? 'no';"},
        node_options=["--require", str(hook)],
    )
    result = pool.invoke({})
    assert result.error is None, result.error
    assert result.payload == "yes"


def test_callback_results_wait_for_an_empty_event_loop_unless_told_not_to(
    make_pool: FnFactory,
) -> None:
    pool = node_pool(
        make_pool,
        {
            "index.js": """
                exports.handler = (event, context, callback) => {
                  context.callbackWaitsForEmptyEventLoop = event.waits;
                  globalThis.late = false;
                  setTimeout(() => { globalThis.late = true; }, event.leftover);
                  callback(null, "sent");
                };
                exports.late = async () => globalThis.late;
            """
        },
        timeout=30,
    )
    waited = pool.invoke({"waits": True, "leftover": 400})
    assert waited.error is None and waited.payload == "sent"
    assert waited.duration_ms >= 400  # the leftover timer ran before the response went out
    at_once = pool.invoke({"waits": False, "leftover": 20_000})
    assert at_once.error is None and at_once.payload == "sent"
    assert at_once.duration_ms < 15_000 and not at_once.timed_out


def test_a_callback_handler_that_leaves_an_interval_times_out_as_on_lambda(
    make_pool: FnFactory,
) -> None:
    pool = node_pool(
        make_pool,
        {
            "index.js": """
                let pool = null;  // a connection pool's keep-alive timer, the classic case
                exports.handler = (event, context, callback) => {
                  pool = pool || setInterval(() => {}, 1000);
                  callback(null, "never sent");
                };
            """
        },
        timeout=1.5,
    )
    result = pool.invoke({})
    assert result.timed_out and result.payload is None
