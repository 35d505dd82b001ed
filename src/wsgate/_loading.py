"""Import an app's file the way ``wsgate serve`` and ``wsgate template`` both need (stdlib only)."""

from __future__ import annotations

import importlib.util
import linecache
import sys
import traceback
from pathlib import Path
from types import ModuleType

from wsgate.exceptions import AppImportError, ConfigurationError

__all__ = ["import_error", "import_file"]

# Frames of the import machinery and of wsgate's loaders: never the place to point a user at.
_OWN_FILES = frozenset({__file__})


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


def import_error(target: str, exc: BaseException) -> AppImportError:
    """An :class:`AppImportError` naming the file and line where importing ``target`` failed.

    A ``SyntaxError`` carries its own place; any other exception is placed at its deepest
    frame in a real source file (the app, or a module the app imports), skipping the import
    machinery (``<frozen importlib...>``) and wsgate's loaders.
    """
    if isinstance(exc, SyntaxError) and exc.filename:
        text = (exc.text or "").strip() or None
        return AppImportError(target, exc, exc.filename, exc.lineno, text)
    place = None
    for frame in traceback.extract_tb(exc.__traceback__):
        name = frame.filename
        if name.startswith("<") or name in _OWN_FILES or "importlib" in Path(name).parts:
            continue
        if name.endswith(("/wsgate/local/invoke.py", "/wsgate/deploy/cli.py")):
            continue
        place = frame
    if place is None:
        return AppImportError(target, exc)
    line = place.line or linecache.getline(place.filename, place.lineno or 0).strip()
    return AppImportError(target, exc, place.filename, place.lineno, line or None)
