"""Import an app's file the way ``wsgate serve`` and ``wsgate template`` both need (stdlib only)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from wsgate.exceptions import ConfigurationError

__all__ = ["import_file"]


def import_file(path: Path) -> ModuleType:
    """Execute ``path`` afresh as the module named after its stem, and return it.

    The file's folder goes on ``sys.path`` first, so the app can import its sibling modules as
    it would in Lambda; a module of that name imported earlier is replaced (``--reload``).

    Raises:
        ConfigurationError: The file cannot be loaded as a module.
        Exception: Whatever the module's own code raises.
    """
    module_name = path.stem
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules.pop(module_name, None)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigurationError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
