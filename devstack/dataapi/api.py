"""The Redshift Data API operations: request dict in, response dict out.

:class:`DataApi` validates each request against the service model, applies the
semantic rules the service enforces, drives the :class:`StatementStore` and shapes
the responses exactly as the service model names them. It knows nothing of HTTP.

Example::

    api = DataApi(StatementStore(conninfo), page_size=100)
    out = api.call("ExecuteStatement", {"Sql": "SELECT 1", "WorkgroupName": "wg"})
    api.call("DescribeStatement", {"Id": out["Id"]})["Status"]
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable
from typing import Any, Optional

from .errors import ApiError, not_found, validation
from .model import operation_names, validate_request
from .params import ParameterError
from .statements import (
    FINISHED,
    Statement,
    StatementRequest,
    StatementStore,
    SubStatement,
)
from .values import CSV_HEADERS, CSV_NULLS, column_metadata, encode_row, to_csv

__all__ = ["DataApi"]

_Handler = Callable[[dict[str, Any]], dict[str, Any]]

_NO_RESULT = "Query does not have result. Please check query status with DescribeStatement."
_DEFAULT_DB_USER = "IAMR:local"
_LIST_PAGE = 100


def _drop_none(shape: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in shape.items() if value is not None}


class DataApi:
    """Dispatches Data API operations to the statement store.

    ``page_size`` is the number of rows per GetStatementResult page (the real service
    pages by size, up to 100 MB; a small page size lets tests cross many pages).

    AWS documents neither which CSV pages (``GetStatementResultV2``) start with a header
    line nor how NULL is written in them, so the emulator can send each shape:
    ``csv_header`` is ``"first"`` (the first page only), ``"every"`` or ``"none"``;
    ``csv_null`` is ``"empty"`` (``1,,2``) or ``"quoted"`` (``1,"",2``).

    Example::

        api = DataApi(store, page_size=7)
        api.call("GetStatementResult", {"Id": statement_id})["Records"]
    """

    def __init__(
        self,
        store: StatementStore,
        *,
        page_size: int = 1000,
        csv_header: str = "first",
        csv_null: str = "empty",
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if csv_header not in CSV_HEADERS:
            raise ValueError(f"csv_header must be one of {', '.join(CSV_HEADERS)}")
        if csv_null not in CSV_NULLS:
            raise ValueError(f"csv_null must be one of {', '.join(CSV_NULLS)}")
        self._store = store
        self._page_size = page_size
        self._csv_header = csv_header
        self._csv_null = csv_null
        # Tokens from another server instance are refused, as expired tokens are.
        self._token_key = secrets.token_hex(8)
        self._handlers: dict[str, _Handler] = {
            "ExecuteStatement": self._execute_statement,
            "BatchExecuteStatement": self._batch_execute_statement,
            "DescribeStatement": self._describe_statement,
            "GetStatementResult": self._get_statement_result,
            "GetStatementResultV2": self._get_statement_result_v2,
            "CancelStatement": self._cancel_statement,
            "ListStatements": self._list_statements,
        }

    def call(self, operation: str, request: Any) -> dict[str, Any]:
        """Run ``operation`` on the JSON-decoded ``request``; raises :class:`ApiError`."""
        handler = self._handlers.get(operation)
        if handler is None:
            if operation in operation_names():
                raise ApiError(
                    "InternalServerException",
                    f"{operation} is not supported by the local emulator.",
                    status=500,
                )
            raise ApiError("UnknownOperationException", f"Unknown operation {operation}.")
        validate_request(operation, request)
        return handler(request)

    # -- submission ---------------------------------------------------------------

    def _statement_request(self, body: dict[str, Any], sqls: list[str]) -> StatementRequest:
        cluster = body.get("ClusterIdentifier")
        workgroup = body.get("WorkgroupName")
        if body.get("SessionId") is not None:
            raise validation("Sessions (SessionId) are not supported by the local emulator.")
        if cluster is not None and workgroup is not None:
            raise validation("You can't specify both ClusterIdentifier and WorkgroupName.")
        if cluster is None and workgroup is None:
            raise validation("Either ClusterIdentifier or WorkgroupName must be specified.")
        return StatementRequest(
            sqls=sqls,
            database=body.get("Database") or self._store.default_database,
            is_batch="Sqls" in body,
            parameters=body.get("Parameters"),
            result_format=body.get("ResultFormat") or "JSON",
            execution_mode=body.get("ExecutionMode") or "TRANSACTION",
            db_user=body.get("DbUser"),
            cluster_identifier=cluster,
            workgroup_name=workgroup,
            secret_arn=body.get("SecretArn"),
            statement_name=body.get("StatementName"),
            client_token=body.get("ClientToken"),
        )

    def _submit(self, request: StatementRequest) -> dict[str, Any]:
        try:
            statement = self._store.submit(request)
        except ParameterError as exc:
            raise validation(str(exc)) from exc
        return _drop_none(
            {
                "Id": statement.id,
                "CreatedAt": statement.created_at,
                "ClusterIdentifier": request.cluster_identifier,
                "WorkgroupName": request.workgroup_name,
                "SecretArn": request.secret_arn,
                "Database": request.database,
                "DbUser": request.db_user or _DEFAULT_DB_USER,
                "DbGroups": [] if request.cluster_identifier is not None else None,
            }
        )

    def _execute_statement(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._submit(self._statement_request(body, [body["Sql"]]))

    def _batch_execute_statement(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._submit(self._statement_request(body, list(body["Sqls"])))

    # -- status -------------------------------------------------------------------

    @staticmethod
    def _sub_shape(sub: SubStatement) -> dict[str, Any]:
        return _drop_none(
            {
                "Id": sub.id,
                "Status": sub.status,
                "QueryString": sub.sql,
                "CreatedAt": sub.created_at,
                "UpdatedAt": sub.updated_at,
                "Duration": sub.duration_ns,
                "Error": sub.error,
                "HasResultSet": sub.has_result_set,
                "ResultRows": sub.result_rows,
                "ResultSize": sub.result_size,
                "RedshiftQueryId": sub.query_id,
            }
        )

    def _describe_statement(self, body: dict[str, Any]) -> dict[str, Any]:
        statement, sub = self._store.get(body["Id"])
        request = statement.request
        shape: dict[str, Any] = {
            "Id": statement.id,
            "SecretArn": request.secret_arn,
            "DbUser": request.db_user or _DEFAULT_DB_USER,
            "Database": request.database,
            "ClusterIdentifier": request.cluster_identifier,
            "WorkgroupName": request.workgroup_name,
            "Status": statement.status,
            "CreatedAt": statement.created_at,
            "UpdatedAt": statement.updated_at,
            "Duration": statement.duration_ns,
            "Error": statement.error,
            "RedshiftPid": statement.pid,
            "ResultFormat": request.result_format,
            "QueryParameters": request.parameters,
        }
        if sub is not None:
            shape.update(self._sub_shape(sub))
            shape["Id"] = sub.id
        elif request.is_batch:
            finished = statement.status == FINISHED
            shape["HasResultSet"] = any(s.has_result_set for s in statement.subs)
            shape["ResultRows"] = sum(s.result_rows for s in statement.subs) if finished else -1
            shape["ResultSize"] = sum(s.result_size for s in statement.subs) if finished else -1
            shape["SubStatements"] = [self._sub_shape(s) for s in statement.subs]
            shape["ExecutionMode"] = request.execution_mode
        else:
            only = statement.subs[0]
            shape.update(
                HasResultSet=only.has_result_set,
                QueryString=only.sql,
                ResultRows=only.result_rows,
                ResultSize=only.result_size,
                RedshiftQueryId=only.query_id,
            )
        return _drop_none(shape)

    def _cancel_statement(self, body: dict[str, Any]) -> dict[str, Any]:
        self._store.cancel(body["Id"])
        return {"Status": True}

    def _list_statements(self, body: dict[str, Any]) -> dict[str, Any]:
        status = body.get("Status") or "ALL"
        name = body.get("StatementName")
        limit = body.get("MaxResults") or _LIST_PAGE
        wanted = [
            s
            for s in self._store.snapshot()
            if (status == "ALL" or s.status == status)
            and (name is None or (s.request.statement_name or "").startswith(name))
            and body.get("Database") in (None, s.request.database)
            and body.get("ClusterIdentifier") in (None, s.request.cluster_identifier)
            and body.get("WorkgroupName") in (None, s.request.workgroup_name)
        ]
        start = self._decode_token(body.get("NextToken"), "list", "", len(wanted))
        page = wanted[start : start + limit]
        out: dict[str, Any] = {"Statements": [self._statement_data(s) for s in page]}
        if start + limit < len(wanted):
            out["NextToken"] = self._encode_token("list", "", start + limit)
        return out

    @staticmethod
    def _statement_data(statement: Statement) -> dict[str, Any]:
        request = statement.request
        return _drop_none(
            {
                "Id": statement.id,
                "QueryString": None if request.is_batch else request.sqls[0],
                "QueryStrings": list(request.sqls) if request.is_batch else None,
                "SecretArn": request.secret_arn,
                "Status": statement.status,
                "StatementName": request.statement_name,
                "CreatedAt": statement.created_at,
                "UpdatedAt": statement.updated_at,
                "QueryParameters": request.parameters,
                "IsBatchStatement": request.is_batch,
                "ResultFormat": request.result_format,
            }
        )

    # -- results ------------------------------------------------------------------

    def _encode_token(self, kind: str, statement_id: str, offset: int) -> str:
        raw = json.dumps({"k": self._token_key, "t": kind, "i": statement_id, "o": offset})
        return base64.urlsafe_b64encode(raw.encode()).decode()

    def _decode_token(self, token: Optional[str], kind: str, statement_id: str, total: int) -> int:
        if token is None:
            return 0
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
        except (ValueError, binascii.Error) as exc:
            raise validation("The NextToken is not valid.") from exc
        offset = data.get("o") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or data.get("k") != self._token_key
            or data.get("t") != kind
            or data.get("i") != statement_id
            or not isinstance(offset, int)
            or not 0 < offset <= total
        ):
            raise validation("The NextToken is not valid.")
        return offset

    def _result_of(self, statement_id: str) -> tuple[Statement, SubStatement]:
        statement, sub = self._store.get(statement_id)
        if sub is None:
            if statement.request.is_batch:
                raise not_found(_NO_RESULT, statement_id)
            sub = statement.subs[0]
        if statement.status != FINISHED or sub.result is None:
            raise not_found(_NO_RESULT, statement_id)
        return statement, sub

    def _page(self, body: dict[str, Any], kind: str) -> tuple[Statement, SubStatement, int, int]:
        statement, sub = self._result_of(body["Id"])
        assert sub.result is not None  # checked by _result_of
        total = len(sub.result.rows)
        start = self._decode_token(body.get("NextToken"), kind, sub.id, total)
        return statement, sub, start, min(start + self._page_size, total)

    def _get_statement_result(self, body: dict[str, Any]) -> dict[str, Any]:
        statement, sub, start, end = self._page(body, "json")
        if statement.request.result_format != "JSON":
            raise validation(
                "GetStatementResult supports only JSON result format. "
                "Use GetStatementResultV2 for CSV results."
            )
        result = sub.result
        assert result is not None
        oids = [column.type_oid for column in result.columns]
        out: dict[str, Any] = {
            "Records": [encode_row(row, oids) for row in result.rows[start:end]],
            "ColumnMetadata": [column_metadata(column) for column in result.columns],
            "TotalNumRows": len(result.rows),
        }
        if end < len(result.rows):
            out["NextToken"] = self._encode_token("json", sub.id, end)
        return out

    def _get_statement_result_v2(self, body: dict[str, Any]) -> dict[str, Any]:
        statement, sub, start, end = self._page(body, "csv")
        if statement.request.result_format != "CSV":
            raise validation(
                "GetStatementResultV2 supports only CSV result format. "
                "Use GetStatementResult for JSON results."
            )
        result = sub.result
        assert result is not None
        names = [column.name for column in result.columns]
        header = {"first": names if start == 0 else None, "every": names, "none": None}
        text = to_csv(result.rows[start:end], header=header[self._csv_header], null=self._csv_null)
        out: dict[str, Any] = {
            "Records": [{"CSVRecords": text}],
            "ColumnMetadata": [column_metadata(column) for column in result.columns],
            "TotalNumRows": len(result.rows),
            "ResultFormat": "CSV",
        }
        if end < len(result.rows):
            out["NextToken"] = self._encode_token("csv", sub.id, end)
        return out
