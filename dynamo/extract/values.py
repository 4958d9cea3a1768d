"""Data API results to Python values: typed JSON fields and CSV pages (pure, no I/O).

The Redshift Data API returns each value as a typed field
(``GetStatementResult``: ``{"longValue": 7}``, ``{"stringValue": "12.50"}``,
``{"isNull": true}``) or, with ``ResultFormat="CSV"``, one CSV text a page
(``GetStatementResultV2``). This module turns both into the values
redshift-connector returns, typed by each column's ``ColumnMetadata.typeName``:

- :func:`column_converter` / :func:`record_converter`: one JSON field / one record;
- :func:`csv_column_converter` / :class:`CsvPageParser`: one CSV field / one page;
- :func:`parse_timestamp`: the API's timestamp text.

Integers are ``int``, DECIMAL/NUMERIC ``decimal.Decimal`` (never float), floats
``float``, booleans ``bool``, text ``str``, NULL ``None``; TIMESTAMP, TIMESTAMPTZ
(UTC), DATE and TIME are parsed to :mod:`datetime` objects. CSV cannot tell NULL
from the empty string in a text column: both read as ``''``.

Nothing here calls AWS; :class:`~dynamo.extract.data_api.DataApiSource` does, and
uses these functions on the pages it fetches.

>>> convert = record_converter([{"typeName": "int8"}, {"typeName": "numeric"}])
>>> convert([{"longValue": 7}, {"stringValue": "1.10"}])
(7, Decimal('1.10'))
>>> parser = CsvPageParser([{"name": "id", "typeName": "int8"},
...                         {"name": "amount", "typeName": "numeric"}])
>>> list(parser.rows([{"CSVRecords": "id,amount\\n7,1.10\\n8,\\n"}], first_page=True))
[(7, Decimal('1.10')), (8, None)]
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any, Callable

from dynamo.extract import Row

__all__ = [
    "Converter",
    "CsvPageParser",
    "Field",
    "TextConverter",
    "column_converter",
    "csv_column_converter",
    "parse_timestamp",
    "record_converter",
]

#: One Data API field, as the API returns it: a dict with exactly one of
#: ``isNull``, ``longValue``, ``doubleValue``, ``booleanValue``, ``stringValue``, ``blobValue``.
Field = Mapping[str, Any]
#: Turns one field of a column into its Python value.
Converter = Callable[[Field], Any]
#: Turns one CSV field (its text; ``''`` when empty) of a column into its Python value.
TextConverter = Callable[[str], Any]


# --------------------------------------------------------------------------- values


def _string_or_plain(field: Field) -> Any:
    """The field's only value; ``None`` for NULL."""
    for key, value in field.items():
        return None if key == "isNull" else value
    return None


def _to_int(field: Field) -> Any:
    value = field.get("longValue")
    if value is None and "stringValue" in field:
        return int(field["stringValue"])
    return value


def _to_decimal(field: Field) -> Any:
    value = field.get("stringValue")
    if value is not None:
        return Decimal(value)
    if "longValue" in field:
        return Decimal(field["longValue"])
    if "doubleValue" in field:
        # Never keep a binary float: go through its shortest decimal repr.
        return Decimal(repr(field["doubleValue"]))
    return None


def _to_float(field: Field) -> Any:
    value = field.get("doubleValue")
    if value is None and "stringValue" in field:
        return float(field["stringValue"])  # 'NaN', 'Infinity'
    if value is None and "longValue" in field:
        return float(field["longValue"])
    return value


def _to_bool(field: Field) -> Any:
    value = field.get("booleanValue")
    if value is None and "stringValue" in field:
        return field["stringValue"].lower() in ("t", "true", "1", "y", "yes", "on")
    return value


_DATETIME = re.compile(
    r"(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6})\d*)?"
    r"(?:\s*([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?$"
)
_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6})\d*)?(?:\s*([+-])(\d\d)(?::?(\d\d))?)?$")


def _offset(sign: str | None, hours: str | None, minutes: str | None) -> timezone | None:
    if sign is None or hours is None:
        return None
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return timezone(-delta if sign == "-" else delta)


def parse_timestamp(text: str, *, utc: bool = False) -> datetime | str:
    """Parse a Data API timestamp (``2024-03-01 12:00:00.5``, optionally ``+00``).

    With ``utc`` (TIMESTAMPTZ), the result is aware and in UTC, as redshift-connector
    returns it; a value without an offset is taken as UTC. Text that is no timestamp
    (``infinity``) is returned unchanged.

    >>> parse_timestamp("2024-03-01 12:00:00.5")
    datetime.datetime(2024, 3, 1, 12, 0, 0, 500000)
    """
    match = _DATETIME.match(text)
    if match is None:
        return text
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m, _ = match.groups()
    value = datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second),
        int((fraction or "0").ljust(6, "0")),
        tzinfo=_offset(sign, off_h, off_m),
    )
    if utc:
        value = (
            value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
        )
    return value


def _parse_date(text: str) -> date | str:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text


def _parse_time(text: str) -> time_of_day | str:
    match = _TIME.match(text)
    if match is None:
        return text
    hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    return time_of_day(
        int(hour),
        int(minute),
        int(second),
        int((fraction or "0").ljust(6, "0")),
        tzinfo=_offset(sign, off_h, off_m),
    )


def _string_parser(parse: Callable[[str], Any]) -> Converter:
    def convert(field: Field) -> Any:
        value = field.get("stringValue")
        return _string_or_plain(field) if value is None else parse(value)

    return convert


_INT_TYPES = frozenset({"int2", "int4", "int8", "smallint", "integer", "int", "bigint", "oid"})
_DECIMAL_TYPES = frozenset({"numeric", "decimal"})
_FLOAT_TYPES = frozenset({"float4", "float8", "float", "real", "double precision", "double"})
_BOOL_TYPES = frozenset({"bool", "boolean"})


def _utc_timestamp(text: str) -> Any:
    return parse_timestamp(text, utc=True)


#: Dates and times: the same text parsers serve JSON string fields and CSV fields.
_TEMPORAL: dict[str, Callable[[str], Any]] = {
    "timestamp": parse_timestamp,
    "timestamp without time zone": parse_timestamp,
    "timestamptz": _utc_timestamp,
    "timestamp with time zone": _utc_timestamp,
    "date": _parse_date,
    "time": _parse_time,
    "time without time zone": _parse_time,
    "timetz": _parse_time,
    "time with time zone": _parse_time,
}

_CONVERTERS: dict[str, Converter] = {
    **dict.fromkeys(_INT_TYPES, _to_int),
    **dict.fromkeys(_DECIMAL_TYPES, _to_decimal),
    **dict.fromkeys(_FLOAT_TYPES, _to_float),
    **dict.fromkeys(_BOOL_TYPES, _to_bool),
    **{name: _string_parser(parse) for name, parse in _TEMPORAL.items()},
}


def column_converter(type_name: str | None) -> Converter:
    """The function that turns one field of a column of ``type_name`` into a Python value.

    ``type_name`` is ``ColumnMetadata.typeName`` (``int8``, ``numeric``, ``varchar``...).
    Unknown types (text, SUPER, ...) keep the field's own value: ``stringValue`` as
    ``str``, ``blobValue`` as ``bytes``.

    >>> column_converter("numeric")({"stringValue": "12.50"})
    Decimal('12.50')
    >>> column_converter("int8")({"isNull": True}) is None
    True
    """
    if not type_name:
        return _string_or_plain
    name = type_name.lower()
    # "numeric(12,2)" and "_int4"-style array names: judge by the base name.
    return _CONVERTERS.get(name.split("(", 1)[0].strip(), _string_or_plain)


def record_converter(
    column_metadata: Sequence[Mapping[str, Any]] | None, width: int = 0
) -> Callable[[Sequence[Field]], Row]:
    """Build, once per statement, the function that turns one API record into a tuple.

    Without column metadata (an API that leaves it out), every column of the
    ``width`` columns keeps its field's own value.

    >>> convert = record_converter([{"typeName": "int8"}, {"typeName": "numeric"}])
    >>> convert([{"longValue": 7}, {"stringValue": "1.10"}])
    (7, Decimal('1.10'))
    """
    if column_metadata:
        converters = [column_converter(column.get("typeName")) for column in column_metadata]
    else:
        converters = [_string_or_plain] * width

    def convert(record: Sequence[Field]) -> Row:
        return tuple([to_value(field) for to_value, field in zip(converters, record)])

    return convert


# --------------------------------------------------------------------------- CSV values


def _csv_text(text: str) -> Any:
    return text


def _csv_int(text: str) -> Any:
    return int(text) if text else None


def _csv_decimal(text: str) -> Any:
    return Decimal(text) if text else None  # exactly the digits sent, scale kept


def _csv_float(text: str) -> Any:
    return float(text) if text else None  # 'NaN', 'Infinity' too


_CSV_TRUE = frozenset({"t", "true", "1", "y", "yes", "on"})
_CSV_FALSE = frozenset({"f", "false", "0", "n", "no", "off"})


def _csv_bool(text: str) -> Any:
    if not text:
        return None
    lowered = text.lower()
    if lowered in _CSV_TRUE:
        return True
    if lowered in _CSV_FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _csv_parser(parse: Callable[[str], Any]) -> TextConverter:
    def convert(text: str) -> Any:
        return parse(text) if text else None

    return convert


_CSV_CONVERTERS: dict[str, TextConverter] = {
    **dict.fromkeys(_INT_TYPES, _csv_int),
    **dict.fromkeys(_DECIMAL_TYPES, _csv_decimal),
    **dict.fromkeys(_FLOAT_TYPES, _csv_float),
    **dict.fromkeys(_BOOL_TYPES, _csv_bool),
    **{name: _csv_parser(parse) for name, parse in _TEMPORAL.items()},
}


#: The builtin that does a converter's work when its field is not empty.
_CSV_BUILTINS: dict[TextConverter, TextConverter] = {
    _csv_text: str,
    _csv_int: int,
    _csv_decimal: Decimal,
    _csv_float: float,
}


def csv_column_converter(type_name: str | None) -> TextConverter:
    """The function that turns one CSV field of a column of ``type_name`` into a value.

    The same types as :func:`column_converter`; an empty field is ``None`` for every
    non-text column. Text and unknown types keep the field's text: CSV writes NULL and
    ``''`` alike, so both read as ``''`` (binary columns stay text too).

    >>> csv_column_converter("numeric")("12.50")
    Decimal('12.50')
    >>> csv_column_converter("int8")("") is None
    True
    >>> csv_column_converter("varchar")("")
    ''
    """
    if not type_name:
        return _csv_text
    name = type_name.lower()
    return _CSV_CONVERTERS.get(name.split("(", 1)[0].strip(), _csv_text)


class CsvPageParser:
    """Turns the pages of one CSV result (``GetStatementResultV2``) into typed rows.

    Built once per statement from its ``ColumnMetadata``; each page's ``Records`` (a
    list of ``{"CSVRecords": text}``) is parsed by :mod:`csv` (RFC 4180 quoting: commas,
    quotes and line breaks inside quoted fields) and each field converted by its
    column's :func:`csv_column_converter`.

    AWS documents neither which pages start with a header line nor how NULL is
    written, so every plausible shape is read alike. A page's first line equal to the
    column names (or labels) is a header, and skipped: on the first page; on a later
    page when the first page had one, or when the line cannot be a row (a name in a
    numeric column). So a header on the first page only, on every page, or on none
    reads the same rows; a first data row of text equal to the names would be taken
    for a header, which the sync's views, with numeric columns, cannot produce.
    In a non-text column an empty field and a quoted empty string (``""``) are both
    NULL (``None``); in a text column both are ``''``.

    Without column metadata, every field keeps its text and no header is recognised.

    >>> parser = CsvPageParser([{"name": "id", "typeName": "int8"},
    ...                         {"name": "amount", "typeName": "numeric"}])
    >>> list(parser.rows([{"CSVRecords": "id,amount\\n7,1.10\\n8,\\n"}], first_page=True))
    [(7, Decimal('1.10')), (8, None)]
    """

    def __init__(self, column_metadata: Sequence[Mapping[str, Any]] | None) -> None:
        columns = list(column_metadata or [])
        self.width = len(columns)
        self._converters = [csv_column_converter(column.get("typeName")) for column in columns]
        # The fast path calls the builtin itself; an empty field (ValueError) or a bad one
        # takes the slow path, field by field, which gives None or names the field.
        self._fast = [_CSV_BUILTINS.get(convert, convert) for convert in self._converters]
        self._headers = [
            [str(column.get(key) or "") for column in columns] for key in ("name", "label")
        ]
        #: Whether the first page started with a header line (None: no page read yet).
        self._first_page_header: bool | None = None

    def rows(self, records: Sequence[Mapping[str, Any]], *, first_page: bool) -> Iterator[Row]:
        """The typed rows of one page, in order.

        Raises :class:`ValueError` naming the line and column of a field that does not
        fit its column, or of a line with the wrong number of fields, and
        :class:`csv.Error` for text that is no CSV.
        """
        text = "".join(_csv_chunks(records))
        if not text:
            return
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        if self.width:
            first = next(reader, None)
            if first is None:
                return
            if not self._is_header(first, first_page):
                yield self._checked(first, reader.line_num)
        if not self.width:
            for fields in reader:
                yield tuple(fields)
            return
        converters, width = self._fast, self.width
        for fields in reader:
            if len(fields) != width:
                self._checked(fields, reader.line_num)  # raises, naming the line
            try:
                row = tuple([convert(field) for convert, field in zip(converters, fields)])
            except (ValueError, ArithmeticError):
                row = self._checked(fields, reader.line_num)  # raises, naming the column
            yield row

    def _is_header(self, fields: list[str], first_page: bool) -> bool:
        """Whether a page's first line is a header line (see the class)."""
        header = fields in self._headers
        if first_page:
            self._first_page_header = header
            return header
        if not header:
            return False
        if self._first_page_header:
            return True
        try:
            self._checked(fields, 1)
        except ValueError:
            return True  # names in a numeric column: no row could read so
        return False

    def _checked(self, fields: list[str], line: int) -> Row:
        """One row, field by field, with a message naming the line and column that fail."""
        if len(fields) != self.width:
            raise ValueError(
                f"CSV line {line} has {len(fields)} fields, the result has {self.width} columns"
            )
        values = []
        for number, (convert, field) in enumerate(zip(self._converters, fields), 1):
            try:
                values.append(convert(field))
            except (ValueError, ArithmeticError) as err:
                raise ValueError(
                    f"CSV line {line} column {number}: cannot read {field[:40]!r}: {err}"
                ) from None
        return tuple(values)


def _csv_chunks(records: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """The CSV texts of a page's records, each ended by a line break."""
    for record in records:
        chunk = record.get("CSVRecords")
        if chunk:
            yield chunk if chunk.endswith(("\n", "\r")) else chunk + "\n"
