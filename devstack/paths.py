"""Where the local stack keeps its files, and how to run its Python servers.

Example::

    state = state_dir()            # .devstack/ at the repository root
    argv = python_module("devstack.wire", "--port", "5439", "--pg-socket", sock)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

# The repository root is the parent of the devstack package.
REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_SQL = REPO_ROOT / "sql" / "schema.sql"
STATE_DIR_ENV = "CONTABYX_LOCAL_DIR"
PAGE_SIZE_ENV = "CONTABYX_LOCAL_PAGE_SIZE"
DEFAULT_PAGE_SIZE = 1000


def state_dir(explicit: Optional[Path] = None) -> Path:
    """The state directory: ``explicit``, else ``$CONTABYX_LOCAL_DIR``, else ``.devstack/``."""
    if explicit is not None:
        return Path(explicit).expanduser().resolve()
    from_env = os.environ.get(STATE_DIR_ENV)
    if from_env:
        return Path(from_env).expanduser().resolve()
    return REPO_ROOT / ".devstack"


def page_size(explicit: Optional[int] = None) -> int:
    """The Data API page size: ``explicit``, else ``$CONTABYX_LOCAL_PAGE_SIZE``, else 1000."""
    if explicit is not None:
        value = explicit
    else:
        value = int(os.environ.get(PAGE_SIZE_ENV) or DEFAULT_PAGE_SIZE)
    if value <= 0:
        raise ValueError(f"page size must be positive, got {value}")
    return value


def python_module(module: str, *args: str) -> List[str]:
    """argv running ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def python_env() -> Dict[str, str]:
    """Environment for child Python servers: the repository root importable.

    devstack is not part of the installed distribution, so children find it
    through PYTHONPATH wherever they are started from.
    """
    env = dict(os.environ)
    parts = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    return env
