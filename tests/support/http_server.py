"""``contabyx serve`` in a child process on a free loopback port, for tests and bench.

>>> with Served(["--clients-info-table", "t1", "--clients-info-by-year-table", "t2"]) as s:
...     status, headers, body = s.get("/health")
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from devstack.procs import free_port

ROOT = Path(__file__).resolve().parents[2]


class Served:
    """A running ``contabyx [options] serve --port N``; its stderr goes to a file."""

    def __init__(
        self,
        options: list[str],
        *,
        env: Optional[dict[str, str]] = None,
        log: Optional[Path] = None,
        serve_args: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.options = options
        self.env = {**os.environ, **(env or {})}
        self.log_path = log
        self.serve_args = serve_args
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._log: Any = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "contabyx.cli",
            *self.options,
            "serve",
            "--port",
            str(self.port),
            *self.serve_args,
        ]

    def __enter__(self) -> Served:
        self._log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self._process = subprocess.Popen(
            self.command(), env=self.env, cwd=ROOT, stdout=self._log, stderr=self._log
        )
        deadline = time.monotonic() + 60
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"contabyx serve exited with {self._process.returncode}")
            try:
                if self.get("/health")[0] == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("contabyx serve did not answer /health within 60 s")
            time.sleep(0.1)

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()

    @property
    def returncode(self) -> Optional[int]:
        return None if self._process is None else self._process.returncode

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def get(
        self, path: str, headers: Optional[dict[str, str]] = None, method: str = "GET"
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a new connection: status, headers (lower-case names), body."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            body = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            conn.close()

    def json(self, path: str, headers: Optional[dict[str, str]] = None) -> tuple[int, Any]:
        status, _, body = self.get(path, headers)
        return status, json.loads(body) if body else None
