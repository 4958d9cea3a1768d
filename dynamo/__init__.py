"""The sync: Redshift views -> shaped items -> DynamoDB (see docs/architecture.md).

It needs the ``sync`` extra (``pip install 'contabyx[sync]'``); the library,
:mod:`contabyx`, needs boto3 only.
"""

from importlib.util import find_spec

from contabyx import redact

#: Import names of the ``sync`` extra's distributions (pyproject.toml).
SYNC_EXTRA_MODULES = ("redshift_connector", "dotenv", "tqdm")

_missing = [name for name in SYNC_EXTRA_MODULES if find_spec(name) is None]
if _missing:
    # Said once, here, rather than as a bare ModuleNotFoundError deep in a submodule.
    raise ImportError(
        f"the sync needs {', '.join(_missing)}, from the sync extra: "
        "pip install 'contabyx[sync]' (or '.[sync]' in a checkout)"
    )

redact.install()
