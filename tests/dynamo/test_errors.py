"""One error base for the sync: the CLI catches SyncError, and every error the sync
defines on purpose is one."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import dynamo
from dynamo.errors import SyncError


def _modules() -> list[str]:
    names = [dynamo.__name__]
    for info in pkgutil.walk_packages(dynamo.__path__, prefix="dynamo."):
        names.append(info.name)
    return names


def test_every_public_exception_of_the_sync_is_a_sync_error() -> None:
    found = {}
    for name in _modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            is_error = isinstance(value, type) and issubclass(value, BaseException)
            if is_error and value.__module__.startswith("dynamo") and not attr.startswith("_"):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    assert len(found) >= 7, sorted(found)  # the six of dynamo.errors, their base, ParameterError
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, SyncError))
    assert outside == [], f"not SyncError subclasses: {outside}"


def test_errors_are_defined_in_dynamo_errors_only() -> None:
    # Subclasses with a narrower meaning (ParameterError) may live beside their use;
    # a new root error may not.
    for name in _modules():
        module = importlib.import_module(name)
        source = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        for node in ast.walk(source):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
                roots = bases & {"Exception", "RuntimeError", "ValueError", "LookupError"}
                if roots and name != "dynamo.errors":
                    assert bases - roots, f"{name}.{node.name} derives from {roots} only"
