"""Read a template file (YAML with CloudFormation's short-form tags, or JSON) into plain data.

``!Ref X`` becomes ``{"Ref": "X"}``, ``!GetAtt A.B`` ``{"Fn::GetAtt": ["A", "B"]}``,
``!Condition C`` ``{"Condition": "C"}`` and every other ``!Name v`` ``{"Fn::Name": v}``, the
long forms CloudFormation itself uses, so the resolver sees one shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wsgate.exceptions import ConfigurationError

__all__ = ["read_document"]

_PLAIN_TAGS = frozenset({"Ref", "Condition"})


def _long_form(tag: str, value: Any) -> dict[str, Any]:
    if tag in _PLAIN_TAGS:
        return {tag: value}
    if tag == "GetAtt" and isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [logical_id, attribute]}
    return {f"Fn::{tag}": value}


def _yaml_loader() -> Any:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - PyYAML is in the `local` extra
        raise ConfigurationError("reading YAML templates needs PyYAML (wsgate[local])") from exc

    class Loader(yaml.SafeLoader):
        """A SafeLoader that keeps CloudFormation's tags as their long forms."""

    def tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            assert isinstance(node, yaml.MappingNode)
            value = loader.construct_mapping(node, deep=True)
        return _long_form(suffix, value)

    Loader.add_multi_constructor("!", tag)
    # CloudFormation reads dates and times as strings ("2010-09-09" stays a string).
    Loader.yaml_implicit_resolvers = {
        key: [(t, r) for t, r in resolvers if t != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def read_document(path: Path) -> dict[str, Any]:
    """Parse ``path`` as JSON (when it starts with ``{``) or YAML.

    Raises:
        ConfigurationError: The file is unreadable, not valid, or not a mapping at the top.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read template {path}: {exc}") from exc
    try:
        if text.lstrip().startswith("{"):
            data = json.loads(text)
        else:
            import yaml

            data = yaml.load(text, Loader=_yaml_loader())
    except (ValueError, ImportError) as exc:
        raise ConfigurationError(f"cannot read template {path}: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError and its subclasses
        raise ConfigurationError(f"cannot read template {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: the top level is not a mapping")
    return data
