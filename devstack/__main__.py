"""``python -m devstack``: the same as the ``contabyx-local`` command."""

from __future__ import annotations

from devstack.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
