"""Physical names and ARNs a deployed stack would give, made deterministic for a local run."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

__all__ = [
    "default_api_id",
    "function_arn",
    "function_name_of",
    "guess_runtime",
    "integration_function",
]

_LAMBDA_ARN = re.compile(r"arn:[\w-]+:lambda:[\w-]*:\d*:function:([\w-]+)(?::[\w$-]+)?")


def default_api_id(source: Path) -> str:
    """A stable 10-character id like API Gateway's, derived from the template's path."""
    digest = hashlib.sha256(str(source.resolve()).encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:10])


def function_arn(region: str, account_id: str, name: str) -> str:
    """``arn:aws:lambda:{region}:{account}:function:{name}``."""
    return f"arn:aws:lambda:{region}:{account_id}:function:{name}"


def function_name_of(uri: str) -> str | None:
    """The function name in an integration URI or a Lambda ARN (``None`` if neither).

    Accepts ``arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations``,
    a bare function ARN (with or without a qualifier) and a plain function name.
    """
    match = _LAMBDA_ARN.search(uri)
    if match:
        return match.group(1)
    if re.fullmatch(r"[\w-]{1,140}", uri):
        return uri
    return None


def integration_function(uri: str, by_name: dict[str, str]) -> str | None:
    """The logical id of the template function ``uri`` invokes, if it is one of ``by_name``."""
    name = function_name_of(uri)
    return by_name.get(name) if name else None


def guess_runtime(code_root: Path, handler: str) -> str:
    """``python3.12`` or ``nodejs20.x`` from the handler's file, when the template names none."""
    module = handler.rpartition(".")[0] or handler
    for suffix, runtime in ((".py", "python3.12"), (".mjs", "nodejs20.x"), (".js", "nodejs20.x")):
        if (code_root / f"{module}{suffix}").is_file():
            return runtime
    return "python3.12"
