"""PostgreSQL result values as the Redshift Data API returns them.

Rows are kept as PostgreSQL's text output (``str`` or ``None`` per cell) and only
turned into API shapes when a page is served:

* :func:`encode_field` -> a ``Field`` (``longValue``, ``doubleValue``, ``booleanValue``,
  ``stringValue``, ``blobValue`` or ``isNull``), typed as Redshift types it;
* :func:`column_metadata` -> a ``ColumnMetadata`` with Redshift's ``typeName``;
* :func:`to_csv` -> the text of a ``CSVRecords`` page.

Example::

    >>> encode_field("12.50", NUMERIC)
    {'stringValue': '12.50'}
    >>> encode_field("42", INT8)
    {'longValue': 42}
    >>> column_metadata(Column("amount", NUMERIC, type_modifier=(12 << 16 | 2) + 4))["precision"]
    12
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

__all__ = [
    "BOOL",
    "BPCHAR",
    "BYTEA",
    "CSV_HEADERS",
    "CSV_NULLS",
    "DATE",
    "FLOAT4",
    "FLOAT8",
    "INT2",
    "INT4",
    "INT8",
    "NUMERIC",
    "TEXT",
    "TIMESTAMP",
    "TIMESTAMPTZ",
    "VARCHAR",
    "Column",
    "Row",
    "column_metadata",
    "encode_field",
    "encode_row",
    "redshift_type_name",
    "to_csv",
]

Row = Sequence[Optional[str]]
"""One result row: PostgreSQL's text output per column, None for NULL."""

BOOL = 16
BYTEA = 17
CHAR = 18
NAME = 19
INT8 = 20
INT2 = 21
INT4 = 23
TEXT = 25
OID = 26
JSON = 114
FLOAT4 = 700
FLOAT8 = 701
UNKNOWN = 705
BPCHAR = 1042
VARCHAR = 1043
DATE = 1082
TIME = 1083
TIMESTAMP = 1114
TIMESTAMPTZ = 1184
INTERVAL = 1186
TIMETZ = 1266
NUMERIC = 1700

_TYPE_NAMES: dict[int, str] = {
    BOOL: "bool",
    BYTEA: "varbyte",
    CHAR: "char",
    NAME: "name",
    INT8: "int8",
    INT2: "int2",
    INT4: "int4",
    TEXT: "text",
    OID: "oid",
    JSON: "json",
    FLOAT4: "float4",
    FLOAT8: "float8",
    UNKNOWN: "unknown",
    BPCHAR: "bpchar",
    VARCHAR: "varchar",
    DATE: "date",
    TIME: "time",
    TIMESTAMP: "timestamp",
    TIMESTAMPTZ: "timestamptz",
    INTERVAL: "interval",
    TIMETZ: "timetz",
    NUMERIC: "numeric",
}

_LONGS = frozenset({INT2, INT4, INT8, OID})
_DOUBLES = frozenset({FLOAT4, FLOAT8})
_STRINGS = frozenset({CHAR, NAME, TEXT, JSON, UNKNOWN, BPCHAR, VARCHAR})
_SIGNED = _LONGS - {OID} | _DOUBLES | {NUMERIC}

# (precision, scale) the Redshift driver reports for fixed-size types.
_FIXED_PRECISION: dict[int, tuple[int, int]] = {
    BOOL: (1, 0),
    INT2: (5, 0),
    INT4: (10, 0),
    INT8: (19, 0),
    OID: (10, 0),
    FLOAT4: (8, 8),
    FLOAT8: (17, 17),
    DATE: (13, 0),
    TIME: (15, 6),
    TIMETZ: (21, 6),
    TIMESTAMP: (29, 6),
    TIMESTAMPTZ: (35, 6),
}

# Redshift's VARCHAR limit stands in for the length of unbounded text.
_UNBOUNDED_STRING = 65535
_VARHDRSZ = 4
_CSV_SPECIAL = frozenset(',"\r\n')


@dataclass(frozen=True)
class Column:
    """What is known of one result column.

    ``type_modifier`` is PostgreSQL's typmod (``-1`` when none); ``nullable`` follows
    JDBC: 0 no nulls, 1 nullable, 2 unknown.

    Example::

        >>> Column("id", INT8, schema_name="public", table_name="t", nullable=0)
        Column(name='id', type_oid=20, ...)
    """

    name: str
    type_oid: int
    type_modifier: int = -1
    type_name: Optional[str] = None
    schema_name: str = ""
    table_name: str = ""
    nullable: int = 1


def redshift_type_name(type_oid: int, fallback: Optional[str] = None) -> str:
    """Redshift's name for a PostgreSQL type, e.g. ``20 -> "int8"``, ``1043 -> "varchar"``.

    ``fallback`` (the PostgreSQL ``typname``) names types Redshift has no alias for.

    Example::

        >>> redshift_type_name(NUMERIC)
        'numeric'
    """
    name = _TYPE_NAMES.get(type_oid)
    if name is not None:
        return name
    return fallback or "unknown"


def _precision_scale(type_oid: int, type_modifier: int) -> tuple[int, int]:
    if type_oid == NUMERIC:
        if type_modifier < _VARHDRSZ:
            return 0, 0
        packed = type_modifier - _VARHDRSZ
        return (packed >> 16) & 0xFFFF, packed & 0xFFFF
    if type_oid in (VARCHAR, BPCHAR):
        return (type_modifier - _VARHDRSZ if type_modifier >= _VARHDRSZ else _UNBOUNDED_STRING), 0
    if type_oid in (TEXT, JSON, UNKNOWN, NAME, CHAR):
        return _UNBOUNDED_STRING, 0
    precision, scale = _FIXED_PRECISION.get(type_oid, (0, 0))
    if type_oid in (TIME, TIMETZ, TIMESTAMP, TIMESTAMPTZ) and 0 <= type_modifier <= 6:
        # The typmod of timestamp(p) is its fractional-second digits.
        return precision, type_modifier
    return precision, scale


def column_metadata(column: Column) -> dict[str, Any]:
    """The ``ColumnMetadata`` shape for ``column``.

    Example::

        >>> column_metadata(Column("n", INT4))["typeName"]
        'int4'
    """
    precision, scale = _precision_scale(column.type_oid, column.type_modifier)
    return {
        "isCaseSensitive": column.type_oid in _STRINGS,
        "isCurrency": False,
        "isSigned": column.type_oid in _SIGNED,
        "label": column.name,
        "length": 0,
        "name": column.name,
        "nullable": column.nullable,
        "precision": precision,
        "scale": scale,
        "schemaName": column.schema_name,
        "tableName": column.table_name,
        "typeName": redshift_type_name(column.type_oid, column.type_name),
    }


def _bytea(text: str) -> bytes:
    if text.startswith("\\x"):
        return bytes.fromhex(text[2:])
    # Escape format only appears when bytea_output=escape; keep its bytes verbatim.
    return text.encode("latin-1", "backslashreplace")


def encode_field(text: Optional[str], type_oid: int) -> dict[str, Any]:
    """One ``Field`` from PostgreSQL's text output of a value of type ``type_oid``.

    Integers -> ``longValue``; float4/float8 -> ``doubleValue``; bool -> ``booleanValue``;
    bytea -> ``blobValue`` (base64, as the JSON protocol carries blobs); everything
    else, numeric included (its exact text), -> ``stringValue``; NULL -> ``isNull``.

    Example::

        >>> encode_field(None, INT4)
        {'isNull': True}
        >>> encode_field("t", BOOL)
        {'booleanValue': True}
    """
    if text is None:
        return {"isNull": True}
    if type_oid in _LONGS:
        return {"longValue": int(text)}
    if type_oid in _DOUBLES:
        return {"doubleValue": float(text)}
    if type_oid == BOOL:
        return {"booleanValue": text == "t"}
    if type_oid == BYTEA:
        return {"blobValue": base64.b64encode(_bytea(text)).decode("ascii")}
    return {"stringValue": text}


def encode_row(row: Row, type_oids: Sequence[int]) -> list[dict[str, Any]]:
    """A record (list of ``Field``) from one text row.

    Example::

        >>> encode_row(["1", None], [INT4, TEXT])
        [{'longValue': 1}, {'isNull': True}]
    """
    return [encode_field(text, oid) for text, oid in zip(row, type_oids)]


#: How a CSV page writes NULL: an empty field (``1,,2``) or a quoted empty string
#: (``1,"",2``). AWS does not document which; the emulator can send either.
CSV_NULLS = ("empty", "quoted")
#: Which CSV pages start with a header line of column names: the first page only,
#: every page, or none. AWS does not document it; the emulator can send each.
CSV_HEADERS = ("first", "every", "none")


def _csv_field(value: Optional[str], null: str = "") -> str:
    if value is None:
        return null
    # Quoted when empty too, so an empty string stays distinct from NULL.
    if value == "" or any(ch in value for ch in _CSV_SPECIAL):
        return '"' + value.replace('"', '""') + '"'
    return value


def to_csv(
    rows: Iterable[Row], header: Optional[Sequence[str]] = None, *, null: str = "empty"
) -> str:
    """CSV text of ``rows``, optionally led by a header line.

    RFC 4180 quoting, ``\\n`` line ends; the empty string is ``""``; NULL is an empty
    field, or with ``null="quoted"`` a quoted empty string (see :data:`CSV_NULLS`).

    Example::

        >>> to_csv([["1", "a,b"], ["2", None]], header=["id", "s"])
        'id,s\\n1,"a,b"\\n2,\\n'
    """
    lines = [] if header is None else [",".join(_csv_field(name) for name in header)]
    if null not in CSV_NULLS:
        raise ValueError(f"null must be one of {', '.join(CSV_NULLS)}, not {null!r}")
    written = "" if null == "empty" else '""'
    lines.extend(",".join(_csv_field(value, written) for value in row) for row in rows)
    return "".join(line + "\n" for line in lines)
