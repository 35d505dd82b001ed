"""The hooks route the API's AWS hostname to the emulator inside real Python and Node processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from support import ThreadedEmulator
from wsgate.local.hooks import (
    NODE_REDIRECT,
    PYTHON_DIR,
    REDIRECT_VARIABLE,
    format_redirect_table,
    parse_redirect_table,
)
from wsgate.local.services import function_network
from wsgate.local.tls import LocalCA

from .conftest import API_HOST, API_ID, connection_id, sdk_v3_node_modules

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def _base_env() -> dict[str, str]:
    """What a function process starts with: no inherited AWS settings, dummy credentials."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": "function",
        "AWS_SECRET_ACCESS_KEY": "function",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _function_env(emulator: ThreadedEmulator, ca: LocalCA) -> tuple[dict[str, str], list[str]]:
    network = function_network(
        emulator_port=emulator.port, api_hostnames=[API_HOST], ca=ca, services=None
    )
    env = {**_base_env(), **network.env, "PYTHONPATH": os.pathsep.join(network.python_path)}
    return env, list(network.node_options)


def _run(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    done = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


PYTHON_SENDER = textwrap.dedent(
    """
    import sys, boto3
    endpoint = f"https://{sys.argv[1]}/local"
    client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    client.post_to_connection(ConnectionId=sys.argv[2], Data=b"from a python function")
    print("sent")
    """
)


def test_python_boto3_reaches_the_emulator_through_the_api_hostname(
    tls_emulator: ThreadedEmulator, ca: LocalCA
) -> None:
    env, _ = _function_env(tls_emulator, ca)
    with connect(tls_emulator.ws_url) as ws:
        target = connection_id(tls_emulator, set())
        out = _run([sys.executable, "-c", PYTHON_SENDER, API_HOST, target], env)
        assert out.strip() == "sent"
        assert ws.recv(10) == "from a python function"


def test_python_without_the_ca_bundle_refuses_the_certificate(
    tls_emulator: ThreadedEmulator, ca: LocalCA
) -> None:
    env, _ = _function_env(tls_emulator, ca)
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        del env[name]
    done = subprocess.run(
        [sys.executable, "-c", PYTHON_SENDER, API_HOST, "nobody"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in done.stderr


URLLIB_SENDER = textwrap.dedent(
    """
    import sys, urllib.request
    url = f"https://{sys.argv[1]}/local/@connections/{sys.argv[2]}"
    request = urllib.request.Request(url, data=b"from urllib", method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        print(answer.status)
    """
)


def test_python_urllib_trusts_the_local_ca_through_ssl_cert_file(
    tls_emulator: ThreadedEmulator, ca: LocalCA
) -> None:
    env, _ = _function_env(tls_emulator, ca)
    with connect(tls_emulator.ws_url) as ws:
        target = connection_id(tls_emulator, set())
        assert _run([sys.executable, "-c", URLLIB_SENDER, API_HOST, target], env).strip() == "200"
        assert ws.recv(10) == "from urllib"


PYTHON_RESOLVE = textwrap.dedent(
    """
    import socket, sys, sitecustomize
    print(socket.getaddrinfo("localhost", 443, socket.AF_INET, socket.SOCK_STREAM)[0][4][1])
    print(hasattr(socket.getaddrinfo, "__wrapped__"))
    print(sitecustomize.__file__)
    """
)


def test_the_python_hook_is_inert_without_the_variable(tmp_path: Path) -> None:
    env = {**_base_env(), "PYTHONPATH": str(PYTHON_DIR)}
    port, wrapped, origin = _run([sys.executable, "-c", PYTHON_RESOLVE], env).split()
    assert (port, wrapped) == ("443", "False")
    assert Path(origin).parent == PYTHON_DIR  # the hook was loaded, and did nothing

    env[REDIRECT_VARIABLE] = "localhost=127.0.0.1:4321"
    port, wrapped, _ = _run([sys.executable, "-c", PYTHON_RESOLVE], env).split()
    assert (port, wrapped) == ("4321", "True")


def test_the_python_hook_runs_the_sitecustomize_it_shadows(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text("import os\nos.environ['SHADOWED_RAN'] = 'yes'\n")
    script = "import os; print(os.environ.get('SHADOWED_RAN'))"
    for extra in ({}, {REDIRECT_VARIABLE: "localhost=127.0.0.1:4321"}):
        env = {**_base_env(), **extra, "PYTHONPATH": f"{PYTHON_DIR}{os.pathsep}{tmp_path}"}
        assert _run([sys.executable, "-c", script], env).strip() == "yes"


def test_a_bad_entry_is_named_and_skipped() -> None:
    env = {
        **_base_env(),
        "PYTHONPATH": str(PYTHON_DIR),
        REDIRECT_VARIABLE: "nonsense,localhost=127.0.0.1:4321",
    }
    done = subprocess.run(
        [sys.executable, "-c", PYTHON_RESOLVE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "ignoring bad WSGATE_REDIRECT entry 'nonsense'" in done.stderr
    assert done.stdout.split()[0] == "4321"
    with pytest.raises(ValueError, match="nonsense"):
        parse_redirect_table("nonsense")


def test_the_table_round_trips() -> None:
    text = format_redirect_table([API_HOST, "Other.Example."], "::1", 3001)
    assert parse_redirect_table(text) == {API_HOST: ("::1", 3001), "other.example": ("::1", 3001)}
    with pytest.raises(ValueError):
        format_redirect_table(["a=b"], "127.0.0.1", 1)


NODE_SENDER = textwrap.dedent(
    """
    const https = require('https');
    const [host, id] = process.argv.slice(1);
    const req = https.request(
      { host, path: `/local/@connections/${id}`, method: 'POST' },
      (res) => { console.log(res.statusCode); res.resume(); },
    );
    req.on('error', (e) => { console.error(e.message); process.exit(1); });
    req.end('from a node function');
    """
)


NODE_ESM_SENDER = NODE_SENDER.replace(
    "const https = require('https');", "import https from 'node:https';"
)


@needs_node
@pytest.mark.parametrize("module", ["commonjs", "module"])
def test_node_https_reaches_the_emulator_through_the_api_hostname(
    tls_emulator: ThreadedEmulator, ca: LocalCA, module: str
) -> None:
    assert NODE is not None
    env, node_options = _function_env(tls_emulator, ca)
    env["NODE_OPTIONS"] = " ".join(node_options)
    script = NODE_SENDER if module == "commonjs" else NODE_ESM_SENDER
    with connect(tls_emulator.ws_url) as ws:
        target = connection_id(tls_emulator, set())
        out = _run([NODE, f"--input-type={module}", "-e", script, API_HOST, target], env)
        assert out.strip() == "200"
        assert ws.recv(10) == "from a node function"


@needs_node
def test_node_without_extra_ca_certs_refuses_the_certificate(
    tls_emulator: ThreadedEmulator, ca: LocalCA
) -> None:
    assert NODE is not None
    env, node_options = _function_env(tls_emulator, ca)
    env["NODE_OPTIONS"] = " ".join(node_options)
    del env["NODE_EXTRA_CA_CERTS"]
    done = subprocess.run(
        [NODE, "-e", NODE_SENDER, API_HOST, "nobody"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "certificate" in done.stderr.lower()


NODE_CONNECT = textwrap.dedent(
    """
    const net = require('net');
    const s = net.connect({ host: 'localhost', port: Number(process.argv[1]) }, () => {
      console.log(s.remotePort); s.destroy();
    });
    s.on('error', (e) => { console.log('error', e.code); });
    """
)


@needs_node
def test_the_node_hook_is_inert_without_the_variable() -> None:
    assert NODE is not None
    with socket.create_server(("127.0.0.1", 0)) as a, socket.create_server(("127.0.0.1", 0)) as b:
        port_a, port_b = a.getsockname()[1], b.getsockname()[1]
        env: dict[str, Any] = {**_base_env(), "NODE_OPTIONS": f"--require {NODE_REDIRECT}"}
        assert _run([NODE, "-e", NODE_CONNECT, str(port_a)], env).strip() == str(port_a)
        env[REDIRECT_VARIABLE] = f"localhost=127.0.0.1:{port_b}"
        assert _run([NODE, "-e", NODE_CONNECT, str(port_a)], env).strip() == str(port_b)


SDK_SENDER = textwrap.dedent(
    """
    // As AWS's simple-websockets-chat-app builds its client: an explicit endpoint of the
    // API's AWS hostname, which no environment variable overrides.
    const {
      ApiGatewayManagementApiClient, PostToConnectionCommand,
    } = require('@aws-sdk/client-apigatewaymanagementapi');
    const [apiId, id] = process.argv.slice(1);
    const client = new ApiGatewayManagementApiClient({
      apiVersion: '2018-11-29',
      endpoint: `https://${apiId}.execute-api.${process.env.AWS_REGION}.amazonaws.com/local`,
    });
    client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'from the sdk v3' }))
      .then(() => console.log('sent'))
      .catch((e) => { console.error(e); process.exit(1); });
    """
)


@needs_node
def test_node_sdk_v3_with_the_samples_explicit_endpoint_reaches_the_emulator(
    tls_emulator: ThreadedEmulator, ca: LocalCA
) -> None:
    assert NODE is not None
    modules = sdk_v3_node_modules()
    if modules is None:
        pytest.skip("the AWS SDK for JavaScript v3 is not installed in the per-user cache")
    env, node_options = _function_env(tls_emulator, ca)
    env["NODE_OPTIONS"] = " ".join(node_options)
    env["NODE_PATH"] = str(modules)
    with connect(tls_emulator.ws_url) as ws:
        target = connection_id(tls_emulator, set())
        out = _run([NODE, "-e", SDK_SENDER, API_ID, target], env)
        assert out.strip() == "sent"
        assert ws.recv(10) == "from the sdk v3"
