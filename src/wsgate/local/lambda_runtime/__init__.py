"""Functions run as Lambda runs them: the Lambda Runtime API, one process per instance.

Each function instance is a child process with exactly the environment Lambda gives a function,
its code root as working directory and import root, and a runtime (Python or Node.js) that
speaks the Lambda Runtime API to an endpoint of its own on 127.0.0.1 (standard library only;
the emulator that uses it needs the ``local`` extra)::

    from wsgate.local.lambda_runtime import FunctionPool

    pool = FunctionPool(spec)                # a wsgate.local.apptemplate.FunctionSpec
    try:
        result = pool.invoke({"hello": "world"})
        print(result.payload, result.error, result.cold)
    finally:
        pool.close()

See ``docs/lambda-runtime.md``.
"""

from __future__ import annotations

from wsgate.local.lambda_runtime.host import FunctionHost
from wsgate.local.lambda_runtime.launch import FunctionLike
from wsgate.local.lambda_runtime.logs import terminal_log
from wsgate.local.lambda_runtime.pool import FunctionPool, InvokeResult

__all__ = ["FunctionHost", "FunctionLike", "FunctionPool", "InvokeResult", "terminal_log"]
