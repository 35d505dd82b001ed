"""serverless.yml variables: ``${self:...}``, ``${opt:stage, 'dev'}``, ``${sls:stage}``,
``${env:X, default}``, ``${aws:region}``, ``${param:X}``, ``${file(path):key}`` and fallbacks
(Serverless Framework documentation, "Variables"). Variables nest (``${self:custom.${sls:stage}}``).

A source that needs AWS (``ssm``, ``cf``, ``s3``) or is unknown is named in ``unsupported``;
text that is not a variable of a known source (``${AWS::Region}`` inside a ``Fn::Sub``) stays.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["Variables"]

_KNOWN = ("self", "opt", "sls", "env", "aws", "param", "file", "ssm", "cf", "s3", "strToBool")
_MAX_DEPTH = 32
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


class _Missing(Exception):
    pass


class Variables:
    """Resolves the variables of one serverless.yml against its own content and the run."""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        base: Path,
        options: Mapping[str, str],
        sls: Mapping[str, str],
        aws: Mapping[str, str],
        params: Mapping[str, str],
        note: Callable[[str], None],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.base = base
        self.options = dict(options)
        self.sls = dict(sls)
        self.aws = dict(aws)
        self.params = dict(params)
        self.note = note
        self.environ = os.environ if environ is None else environ

    def resolve(self, data: Any, depth: int = 0) -> Any:
        """``data`` with every variable replaced (strings inside lists and maps too)."""
        if depth > _MAX_DEPTH:
            self.note("serverless variables nested too deep")
            return data
        if isinstance(data, str):
            return self._string(data, depth)
        if isinstance(data, list):
            return [self.resolve(item, depth + 1) for item in data]
        if isinstance(data, dict):
            return {key: self.resolve(value, depth + 1) for key, value in data.items()}
        return data

    def _string(self, value: str, depth: int) -> Any:
        spans = _spans(value)
        if not spans:
            return value
        if len(spans) == 1 and spans[0] == (0, len(value)):
            return self._variable(value[2:-1], value, depth)
        out, last = [], 0
        for start, end in spans:
            out.append(value[last:start])
            resolved = self._variable(value[start + 2 : end - 1], value[start:end], depth)
            out.append(resolved if isinstance(resolved, str) else _scalar_text(resolved))
            last = end
        out.append(value[last:])
        return "".join(out)

    def _variable(self, inner: str, whole: str, depth: int) -> Any:
        inner = str(self._string(inner, depth + 1)) if "${" in inner else inner
        first = _split_fallbacks(inner)[0].strip()
        source = first.split(":", 1)[0].split("(", 1)[0]
        if source not in _KNOWN and not _literal(first):
            return whole  # not a serverless variable (e.g. CloudFormation's ${AWS::Region})
        for candidate in _split_fallbacks(inner):
            try:
                return self._one(candidate.strip(), depth)
            except _Missing:
                continue
        self.note(f"variable {whole} has no value")
        return ""

    def _one(self, ref: str, depth: int) -> Any:
        if _literal(ref):
            if ref[:1] in "'\"":
                return ref[1:-1]
            if ref in ("true", "false"):
                return ref == "true"
            return float(ref) if "." in ref else int(ref)
        source, _, address = ref.partition(":")
        if source == "self":
            return self.resolve(_path(self.config, address), depth + 1)
        if source == "opt":
            return _found(self.options.get(address))
        if source == "sls":
            return _found(self.sls.get(address))
        if source == "aws":
            return _found(self.aws.get(address))
        if source == "env":
            return _found(self.environ.get(address))
        if source == "param":
            return _found(self.params.get(address))
        if source.startswith("file("):
            return self._file(ref, depth)
        self.note(f"${{{ref}}} (the {source} source needs AWS)")
        raise _Missing

    def _file(self, ref: str, depth: int) -> Any:
        match = re.fullmatch(r"file\(([^)]+)\)(?::(.*))?", ref)
        if not match:
            raise _Missing
        target = (self.base / match.group(1).strip().strip("'\"")).resolve()
        if target.suffix in (".js", ".ts", ".cjs", ".mjs"):
            self.note(f"${{{ref}}} (JavaScript variable files)")
            raise _Missing
        from wsgate.local.apptemplate.reader import read_document

        try:
            if target.suffix == ".json":
                data: Any = json.loads(target.read_text(encoding="utf-8"))
            else:
                data = read_document(target)
        except Exception as exc:
            self.note(f"${{{ref}}}: {exc}")
            raise _Missing from exc
        nested = Variables(
            data,
            base=target.parent,
            options=self.options,
            sls=self.sls,
            aws=self.aws,
            params=self.params,
            note=self.note,
            environ=self.environ,
        )
        return nested.resolve(_path(data, match.group(2) or ""), depth + 1)


def _found(value: Any) -> Any:
    if value is None:
        raise _Missing
    return value


def _path(data: Any, address: str) -> Any:
    for part in [p for p in address.split(".") if p]:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            raise _Missing
    return data


def _literal(text: str) -> bool:
    return (
        (len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"")
        or text in ("true", "false")
        or bool(_NUMBER.fullmatch(text))
    )


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _spans(value: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each outermost ``${...}`` (nesting counted)."""
    spans, index = [], 0
    while (start := value.find("${", index)) != -1:
        depth, position = 0, start
        while position < len(value):
            if value.startswith("${", position):
                depth += 1
                position += 2
                continue
            if value[position] == "}":
                depth -= 1
                if depth == 0:
                    break
            position += 1
        if depth != 0:
            break
        spans.append((start, position + 1))
        index = position + 1
    return spans


def _split_fallbacks(inner: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quote, depth = "", 0
    for char in inner:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts
