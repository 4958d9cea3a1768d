"""A local Redshift Data API emulator on PostgreSQL, for development and tests only.

It speaks the real service's JSON protocol, so an unmodified
``boto3.client("redshift-data", endpoint_url=...)`` works against it, and runs the
SQL on a local PostgreSQL server through psycopg.

Example::

    import boto3
    from devstack.dataapi import DataApiServer

    with DataApiServer("host=/tmp/pg user=postgres dbname=dev", page_size=7) as server:
        client = boto3.client(
            "redshift-data",
            endpoint_url=server.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        statement = client.execute_statement(Sql="SELECT 1", WorkgroupName="local")
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from .api import DataApi
from .server import DataApiHTTPServer, make_http_server
from .statements import MAX_ACTIVE_STATEMENTS, StatementStore

__all__ = ["DataApi", "DataApiServer", "StatementStore", "sent_statements", "serve"]


def sent_statements(client: Any) -> dict[str, list[str]]:
    """Every statement the Data API holds (ListStatements, every status): its id -> its
    SQL, several for a batch. What tests and benchmarks count the run's statements by."""
    out: dict[str, list[str]] = {}
    for page in client.get_paginator("list_statements").paginate(Status="ALL"):
        for statement in page["Statements"]:
            sqls = statement.get("QueryStrings") or [statement.get("QueryString", "")]
            out[statement["Id"]] = sqls
    return out


class DataApiServer:
    """The emulator (HTTP server, worker pool, statement store) as a context manager.

    ``conninfo`` names the PostgreSQL server (a libpq key/value string or URI); each
    request's ``Database`` replaces its ``dbname``. ``port=0`` picks a free port.
    ``csv_header`` and ``csv_null`` choose the shape of CSV pages (see
    :class:`~devstack.dataapi.api.DataApi`); ``max_active_statements`` is the quota of
    statements running at once per cluster or workgroup (AWS's 200 by default).

    Example::

        with DataApiServer(conninfo, port=0, page_size=100) as server:
            print(server.endpoint_url)  # http://127.0.0.1:54321
    """

    def __init__(
        self,
        conninfo: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size: int = 1000,
        workers: int = 8,
        max_statements: int = 10_000,
        retention_seconds: float = 24 * 3600,
        max_active_statements: int = MAX_ACTIVE_STATEMENTS,
        csv_header: str = "first",
        csv_null: str = "empty",
    ) -> None:
        self._store = StatementStore(
            conninfo,
            workers=workers,
            max_statements=max_statements,
            retention_seconds=retention_seconds,
            max_active_statements=max_active_statements,
        )
        try:
            api = DataApi(
                self._store, page_size=page_size, csv_header=csv_header, csv_null=csv_null
            )
        except ValueError:
            self._store.close()
            raise
        self._http: DataApiHTTPServer = make_http_server(api, host, port)
        self._thread: Optional[threading.Thread] = None

    @property
    def host(self) -> str:
        """The bound address."""
        return str(self._http.server_address[0])

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._http.server_address[1])

    @property
    def endpoint_url(self) -> str:
        """The URL to give boto3 as ``endpoint_url``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> DataApiServer:
        """Serve in a background thread; returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._http.serve_forever, name="dataapi-http", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cancel running statements and release the port."""
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
            self._thread = None
        self._http.server_close()
        self._store.close()

    def __enter__(self) -> DataApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    conninfo: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    page_size: int = 1000,
    stop: Optional[threading.Event] = None,
) -> None:
    """Serve until ``stop`` is set (forever without one), then shut down cleanly.

    Example::

        stop = threading.Event()
        threading.Thread(target=serve, args=(conninfo,), kwargs={"stop": stop}).start()
        stop.set()
    """
    event = stop or threading.Event()
    with DataApiServer(conninfo, host=host, port=port, page_size=page_size):
        event.wait()
