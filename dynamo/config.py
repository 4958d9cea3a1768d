"""Configuration of the sync: ``config/.env``, the process environment, then overrides.

Precedence, lowest first: built-in defaults, the dotenv file, the process
environment, keyword overrides (``Insert(workers=4)``). Every value is checked
here, before any I/O, so that a bad setting fails with a clear message.

>>> settings = load_settings({"workers": 4})
>>> settings.workers
4
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from dotenv import dotenv_values

from contabyx import layout
from dynamo.errors import ConfigError as ConfigError  # its home before dynamo.errors

log = logging.getLogger(__name__)

#: SQL identifiers that come from configuration (schema.name) must match this;
#: they are the only part of any statement not passed as a bound parameter.
SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
#: DynamoDB's own rule for table names.
TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")

SOURCES = ("data-api", "direct")

#: Keys whose values are secrets: never logged, never in a repr.
SECRET_KEYS = frozenset({"REDSHIFT_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})


def _env_key(name: str) -> str:
    return name.upper()


@dataclass(frozen=True)
class Settings:
    """Every setting of the sync. Field names are the environment keys, lower-cased."""

    # The warehouse, through the Data API: CLUSTER with DBUSER, SECRET_ARN or WORKGROUP.
    database: str = "dev"
    cluster: Optional[str] = None
    dbuser: str = "awsuser"
    secret_arn: Optional[str] = None
    workgroup: Optional[str] = None
    aws_region: Optional[str] = None
    source: str = "data-api"
    data_api_result_format: str = "csv"
    # The warehouse, through redshift-connector (SOURCE=direct).
    redshift_host: Optional[str] = None
    redshift_port: int = 5439
    redshift_user: Optional[str] = None
    redshift_password: Optional[str] = field(default=None, repr=False)
    redshift_iam: bool = False
    redshift_ssl: bool = True
    # Where the figures are read from, kept, and written to.
    views_schema: str = "contabyx"
    #: The schema of the tables the sync owns (its copy of the views).
    sync_schema: str = "contabyx_sync"
    clients_info_table: str = layout.CLIENTS_INFO_TABLE
    clients_info_by_year_table: str = layout.CLIENTS_INFO_BY_YEAR_TABLE
    #: The DynamoDB table the sync owns: its lease and the record of each run.
    sync_table: str = "contabyx_sync"
    # How much runs at once, and how hard a failure is retried.
    workers: int = 8
    readers: int = 4
    chunk_clients: int = 1000
    max_retries: int = 20
    #: Write units per second the run may send, over any 5 seconds (0: no cap).
    max_write_units: int = 0
    #: ``--prune`` refuses to delete more than this share of the stored clients.
    prune_max_share: float = 0.05
    # Time limits, in seconds: nothing waits forever.
    statement_timeout: float = 3600.0
    aws_connect_timeout: float = 5.0
    aws_read_timeout: float = 20.0
    # Endpoints other than AWS's (the local stack, a VPC endpoint), and the log.
    aws_endpoint_url_dynamodb: Optional[str] = None
    aws_endpoint_url_redshift_data: Optional[str] = None
    aws_endpoint_url_cloudwatch: Optional[str] = None
    #: The CloudWatch namespace of each run's metrics (dynamo.metrics); None: publish none.
    metrics_namespace: Optional[str] = None
    log_level: str = "WARNING"

    def __post_init__(self) -> None:
        _check(self)

    def check_source(self) -> None:
        """Raise ConfigError unless the warehouse can be reached with these settings."""
        if self.source == "data-api" and not (self.cluster or self.secret_arn or self.workgroup):
            raise ConfigError(
                "the Data API needs CLUSTER (with DBUSER), SECRET_ARN or WORKGROUP; "
                "set one in config/.env or the environment"
            )
        if self.source == "direct" and not (self.redshift_host or self.redshift_iam):
            raise ConfigError(
                "SOURCE=direct needs REDSHIFT_HOST (or REDSHIFT_IAM=true with CLUSTER)"
            )


def _check(s: Settings) -> None:
    if s.source not in SOURCES:
        raise ConfigError(f"SOURCE must be one of {', '.join(SOURCES)}, not {s.source!r}")
    for key in ("views_schema", "sync_schema"):
        if not SQL_NAME.fullmatch(getattr(s, key)):
            raise ConfigError(f"{_env_key(key)} {getattr(s, key)!r} is not a plain SQL identifier")
    if s.views_schema.lower() == s.sync_schema.lower():
        raise ConfigError("VIEWS_SCHEMA and SYNC_SCHEMA must differ")
    for key in ("clients_info_table", "clients_info_by_year_table", "sync_table"):
        if not TABLE_NAME.fullmatch(getattr(s, key)):
            raise ConfigError(
                f"{_env_key(key)} {getattr(s, key)!r} is not a valid DynamoDB table name "
                "(3-255 characters: letters, digits, '_', '-', '.')"
            )
    if s.clients_info_table == s.clients_info_by_year_table:
        raise ConfigError("CLIENTS_INFO_TABLE and CLIENTS_INFO_BY_YEAR_TABLE must differ")
    if s.sync_table in (s.clients_info_table, s.clients_info_by_year_table):
        raise ConfigError("SYNC_TABLE must differ from CLIENTS_INFO_TABLE and its by-year table")
    for key, low, high in (
        ("workers", 1, 256),
        ("readers", 1, 64),
        ("chunk_clients", 1, 1_000_000),
        ("max_retries", 0, 100),
        ("max_write_units", 0, 10**9),
        ("redshift_port", 1, 65535),
    ):
        value = getattr(s, key)
        if not low <= value <= high:
            raise ConfigError(f"{_env_key(key)} must be between {low} and {high}, not {value}")
    if s.data_api_result_format.lower() not in ("csv", "json"):
        raise ConfigError("DATA_API_RESULT_FORMAT must be csv or json")
    if not 0 <= s.prune_max_share <= 1:
        raise ConfigError(f"PRUNE_MAX_SHARE must be between 0 and 1, not {s.prune_max_share}")
    for key in ("statement_timeout", "aws_connect_timeout", "aws_read_timeout"):
        if not getattr(s, key) > 0:
            raise ConfigError(f"{_env_key(key)} must be a positive number of seconds")
    check_metrics_namespace(s.metrics_namespace)
    check_log_level(s.log_level)


#: CloudWatch's rule for a namespace (PutMetricData): 1-255 ASCII characters, no control
#: characters, not starting with a colon; not only spaces.
METRICS_NAMESPACE = re.compile(r"^(?!:)(?=.*\S)[\x20-\x7e]{1,255}$")


def check_metrics_namespace(namespace: Optional[str]) -> None:
    """ConfigError unless ``namespace`` is unset or one CloudWatch accepts for custom metrics.

    >>> check_metrics_namespace("Contabyx"), check_metrics_namespace(None)
    (None, None)
    >>> check_metrics_namespace("AWS/DynamoDB")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    dynamo.errors.ConfigError: METRICS_NAMESPACE 'AWS/DynamoDB' starts with AWS/, which ...
    """
    if not namespace:
        return
    if not METRICS_NAMESPACE.fullmatch(namespace):
        raise ConfigError(
            f"METRICS_NAMESPACE {namespace!r} is not a CloudWatch namespace (1-255 printable "
            "ASCII characters, not starting with ':')"
        )
    if namespace.startswith("AWS/"):
        raise ConfigError(
            f"METRICS_NAMESPACE {namespace!r} starts with AWS/, which AWS reserves for its "
            "own services"
        )


#: The levels ``LOG_LEVEL`` (and ``--log-level``) accept.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def check_log_level(level: str) -> str:
    """``level`` upper-cased, or ConfigError naming the valid ones.

    >>> check_log_level("info")
    'INFO'
    """
    name = str(level).strip().upper()
    if name not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    return name


ENV_FILE_VARIABLE = "CONTABYX_ENV_FILE"


def default_env_file(environ: Mapping[str, str] | None = None) -> Path:
    """``$CONTABYX_ENV_FILE``, else ``config/.env`` in the working directory, else in the
    source checkout this package was imported from.

    A ``CONTABYX_ENV_FILE`` naming no file is a ConfigError: the user meant a file,
    and running on defaults instead would hide the mistake. ``os.devnull`` is the
    explicit way to read no file at all (the environment only).
    """
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_FILE_VARIABLE)
    if explicit:
        path = Path(explicit)
        if not path.is_file() and explicit != os.devnull:
            raise ConfigError(
                f"{ENV_FILE_VARIABLE} names {explicit}, which is not a file; "
                f"create it, set it to {os.devnull} to read none, or unset it"
            )
        return path
    here = Path("config/.env")
    if here.exists():
        return here
    return Path(__file__).resolve().parents[1] / "config" / ".env"


#: Read as a fallback for a setting when its own key is not given (boto3's older name).
FALLBACK_KEYS = {"AWS_DEFAULT_REGION": "aws_region"}
#: Keys a user may keep in the env file that belong to other programs: not reported.
FOREIGN_KEYS = frozenset({"CONTABYX_LOG", "CONTABYX_LOCK", "CONTABYX_ETL"})
#: How alike an unknown key must be to a known one to count as a misspelling of it
#: (difflib's ratio). Standard AWS variables (``AWS_ENDPOINT_URL``, ``AWS_PROFILE``)
#: look alike among themselves, so an unknown ``AWS_`` key must be closer.
_MISSPELLING_CUTOFF = 0.75
_AWS_MISSPELLING_CUTOFF = 0.85


def known_keys() -> frozenset[str]:
    """Every key the env file and the environment may set.

    >>> "CLUSTER" in known_keys() and "LOG_LEVEL" in known_keys()
    True
    """
    return frozenset(_env_key(f.name) for f in fields(Settings)) | frozenset(FALLBACK_KEYS)


def check_keys(keys: Iterable[str], where: str) -> None:
    """Report the keys of an env file that no setting reads.

    A key close to a known one (``CLUSTR``) is a ConfigError naming it: the user
    meant that setting, and the run would silently use its default. Any other
    unknown key is a warning with the nearest known key, and is ignored.
    """
    known = known_keys()
    for key in keys:
        if key in known or key in FOREIGN_KEYS:
            continue
        aws = key.upper().startswith("AWS_")
        cutoff = _AWS_MISSPELLING_CUTOFF if aws else _MISSPELLING_CUTOFF
        close = difflib.get_close_matches(key.upper(), known, n=1, cutoff=cutoff)
        if close:
            raise ConfigError(f"unknown key {key} in {where}: did you mean {close[0]}?")
        nearest = difflib.get_close_matches(key.upper(), known, n=1, cutoff=0.0)
        hint = f" (nearest known key: {nearest[0]})" if nearest else ""
        if aws:
            hint += "; boto3 reads its own AWS_ variables from the environment only"
        log.warning("%s: key %s is not a contabyx setting and is ignored%s", where, key, hint)


def _raw_values(path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Known keys with a non-empty value: the env file's, then the environment's on top."""
    file_values = dotenv_values(path) if path.is_file() else {}
    check_keys(file_values, str(path))
    out: dict[str, str] = {}
    for source in (file_values, environ):
        for key in known_keys():
            value = source.get(key)
            if value not in (None, ""):
                out[key] = str(value)
    return out


def configured_log_level(
    *, env_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """``LOG_LEVEL`` from the env file or the environment (default WARNING), checked.

    Logging is set up before anything else, so the level is read on its own.
    """
    env = os.environ if environ is None else environ
    path = env_file if env_file is not None else default_env_file(env)
    file_values = dotenv_values(path) if path.is_file() else {}
    level = env.get("LOG_LEVEL") or file_values.get("LOG_LEVEL") or Settings.log_level
    return check_log_level(level)


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    if raw is None:
        return None
    text = str(raw).strip()
    wrong = ConfigError(f"{_env_key(name)} must be {kind.__name__}, not {raw!r}")
    if kind is bool:
        if isinstance(raw, bool) or text.lower() in _TRUE | _FALSE:
            return raw if isinstance(raw, bool) else text.lower() in _TRUE
        raise wrong
    if isinstance(raw, bool):
        raise wrong
    if kind is int:
        if isinstance(raw, float) or not re.fullmatch(r"-?\d+", text):
            raise wrong
        return int(text)
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise wrong from None
    return text


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})

_KINDS: dict[str, Any] = {
    "redshift_port": int,
    "redshift_iam": bool,
    "redshift_ssl": bool,
    "workers": int,
    "readers": int,
    "chunk_clients": int,
    "max_retries": int,
    "max_write_units": int,
    "prune_max_share": float,
    "statement_timeout": float,
    "aws_connect_timeout": float,
    "aws_read_timeout": float,
}

#: Friendlier override names accepted by ``Insert(**settings)``.
ALIASES = {"region": "aws_region", "db_user": "dbuser", "endpoint_url": "aws_endpoint_url_dynamodb"}


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge defaults, the dotenv file, the environment and ``overrides`` into checked Settings.

    Unknown override names raise ``TypeError`` listing the valid ones.
    """
    names = {f.name for f in fields(Settings)}
    env = os.environ if environ is None else environ
    path = env_file if env_file is not None else default_env_file(env)
    raw = _raw_values(path, env)
    given: dict[str, Any] = {
        name: raw[fallback]
        for fallback, name in FALLBACK_KEYS.items()
        if fallback in raw and _env_key(name) not in raw
    }
    given.update({name: raw[_env_key(name)] for name in names if _env_key(name) in raw})
    for raw_name, value in (overrides or {}).items():
        name = ALIASES.get(raw_name, raw_name)
        if name not in names:
            valid = ", ".join(sorted(names | set(ALIASES)))
            raise TypeError(f"unknown setting {raw_name!r}; valid settings: {valid}")
        given[name] = value
    values = {name: _coerce(name, _KINDS.get(name, str), raw) for name, raw in given.items()}
    return Settings(**values)
