"""``wsgate.auth`` stays light on the Lambda import path: PyJWT only when a JWT class is used."""

from __future__ import annotations

import subprocess
import sys

import wsgate.auth


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(result.stdout.split())


def test_importing_auth_loads_no_jwt_crypto_boto3_or_asyncio() -> None:
    loaded = _modules_after("import wsgate.auth; from wsgate.auth import user_id_from_event")
    assert "wsgate.auth" in loaded
    for heavy in ("jwt", "cryptography", "boto3", "botocore", "asyncio", "urllib.request"):
        assert heavy not in loaded, heavy


def test_registering_a_plain_authorizer_stays_light() -> None:
    code = (
        "from wsgate.router import WebSocketApp\n"
        "app = WebSocketApp()\n"
        "app.authorizer(lambda request: 'user')\n"
    )
    loaded = _modules_after(code)
    assert "wsgate.auth.authorizer" in loaded
    assert "jwt" not in loaded and "asyncio" not in loaded


def test_jwt_classes_load_on_first_use() -> None:
    loaded = _modules_after("from wsgate.auth import JWTAuthorizer")
    assert "jwt" in loaded and "wsgate.auth.jwt" in loaded
    assert wsgate.auth.JWTAuthorizer.__name__ == "JWTAuthorizer"


def test_public_names() -> None:
    assert set(wsgate.auth.__all__) >= {
        "AuthorizerRequest",
        "CognitoAuthorizer",
        "JWTAuthorizer",
        "Principal",
        "RequestAuthorizer",
        "allow",
        "deny",
        "request_authorizer",
        "user_id_from_event",
    }
    for name in wsgate.auth.__all__:
        assert getattr(wsgate.auth, name) is not None
