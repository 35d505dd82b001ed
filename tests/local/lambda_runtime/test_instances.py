"""Instances of a function: warm reuse, overlap bounded, timeouts, crashes, restart, close."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support import wait_until
from wsgate.local.lambda_runtime import FunctionPool

from .conftest import APP, LogLines

FnFactory = Callable[..., FunctionPool]


def test_timeout_kills_the_instance_and_the_next_call_gets_a_new_one(
    make_pool: FnFactory,
) -> None:
    pool = make_pool(APP, timeout=1.0)
    first = pool.invoke({"n": 1})
    began = time.monotonic()
    slow = pool.invoke({"sleep": 30})
    assert time.monotonic() - began < 15
    assert slow.timed_out and slow.error is not None
    assert slow.error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in slow.error["errorMessage"]
    with pytest.raises(ProcessLookupError):
        os.kill(first.payload["pid"], 0)
    after = pool.invoke({"n": 2})
    assert after.cold and after.error is None
    assert after.payload["pid"] != first.payload["pid"]


def test_invoke_timeout_argument_overrides_the_functions(make_pool: FnFactory) -> None:
    pool = make_pool(APP, timeout=30.0)
    result = pool.invoke({"sleep": 30}, timeout=0.5)
    assert result.timed_out
    assert "after 0.50 seconds" in result.error["errorMessage"]  # type: ignore[index]


def test_a_dying_instance_is_reported_and_replaced(make_pool: FnFactory) -> None:
    pool = make_pool(APP)
    first = pool.invoke({"n": 1})
    died = pool.invoke({"exit": True})
    assert died.error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {died.request_id} Error: Runtime exited with error: "
        "exit status 3",
    }
    assert not died.timed_out
    after = pool.invoke({"n": 2})
    assert after.cold and after.payload["pid"] != first.payload["pid"]


def test_overlapping_calls_start_instances_up_to_the_bound(make_pool: FnFactory) -> None:
    pool = make_pool(APP, max_instances=2)
    pool.invoke({"n": 0})  # one warm instance
    results = []
    lock = threading.Lock()

    def call(n: int) -> None:
        result = pool.invoke({"n": n, "sleep": 0.6})
        with lock:
            results.append(result)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(5)]
    seen = 0
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        seen = max(seen, pool.instances)
        time.sleep(0.01)
    assert all(r.error is None for r in results) and len(results) == 5
    pids = {r.payload["pid"] for r in results}
    assert len(pids) == 2  # overlap made a second instance, never a third
    assert seen == 2 and pool.instances == 2
    assert sum(r.cold for r in results) == 1


def test_restart_replaces_instances_with_new_code(make_pool: FnFactory) -> None:
    pool = make_pool({"app.py": "def handler(e, c):\n    return 'v1'\n"})
    assert pool.invoke({}).payload == "v1"
    (pool.spec.code_root / "app.py").write_text("def handler(e, c):\n    return 'v2'\n")
    assert pool.invoke({}).payload == "v1"  # warm: the module stays loaded, as on Lambda
    pool.restart()
    result = pool.invoke({})
    assert result.payload == "v2" and result.cold
    assert not (pool.spec.code_root / "__pycache__").exists()  # read-only, as on Lambda


def test_close_leaves_no_process(make_pool: FnFactory) -> None:
    pool = make_pool(APP, max_instances=3)
    threads = [threading.Thread(target=pool.invoke, args=({"sleep": 0.3},)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pids = _pids(pool)
    pool.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _pids(pool: FunctionPool) -> list[int]:
    return [instance.pid for instance in pool._all]


def test_a_killed_instance_takes_what_it_started_with_it(
    make_pool: FnFactory, logs: LogLines
) -> None:
    pool = make_pool(
        {
            "app.py": """
                import subprocess, sys, time
                def handler(event, context):
                    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
                    print("child", child.pid, flush=True)
                    time.sleep(60)
            """
        },
        timeout=1.0,
    )
    assert pool.invoke({}).timed_out
    child = int(logs.wait("Fn", "child ").split()[1])
    wait_until(lambda: not _alive(child), 10, f"the function's child {child} to end")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie nobody reaped yet is dead too
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def test_many_threads_share_a_bounded_pool(make_pool: FnFactory) -> None:
    pool = make_pool(APP, max_instances=3)
    results = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for n in range(5):
            result = pool.invoke({"n": k * 10 + n, "sleep": 0.05})
            with lock:
                results.append(result)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 60 and all(r.error is None for r in results)
    assert sorted(r.payload["event"]["n"] for r in results) == sorted(
        k * 10 + n for k in range(12) for n in range(5)
    )
    assert len({r.payload["pid"] for r in results}) <= 3
    assert sum(r.cold for r in results) == pool.instances <= 3


def test_close_does_not_hang_on_a_child_that_left_the_process_group(
    make_pool: FnFactory, logs: LogLines
) -> None:
    pool = make_pool(
        {
            "app.py": """
                import os, subprocess, sys
                def handler(event, context):
                    code = "import time; time.sleep(60)"
                    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
                    print("escaped", child.pid, flush=True)
                    return None
            """
        }
    )
    assert pool.invoke({}).error is None
    escaped = int(logs.wait("Fn", "escaped ").split()[1])
    try:
        began = time.monotonic()
        pool.close()
        assert time.monotonic() - began < 20
    finally:
        os.kill(escaped, 9)


def test_init_that_never_ends_is_cut_at_the_init_limit(make_pool: FnFactory) -> None:
    pool = make_pool(
        {"app.py": "import time\ntime.sleep(60)\ndef handler(e, c):\n    return 1\n"},
        init_timeout=1.0,
        timeout=30.0,
    )
    began = time.monotonic()
    result = pool.invoke({})
    assert time.monotonic() - began < 15
    assert result.timed_out and result.error is not None
    assert "Init timed out after 1.00 seconds" in result.error["errorMessage"]
    assert pool.instances == 0
