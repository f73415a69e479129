"""Run a real ``openturk serve`` process for tests and benchmarks (yours and ours).

    with ServerProcess(virtual_clock=True) as server:
        mturk = server.client("AKIDEXAMPLE")
        ...

The server gets a free loopback port and its own SQLite file unless a database URL is given, and
its embedded SQS/SNS endpoint (used when no ``--aws-endpoint`` is given) a free port of its own, so
servers run side by side; ``stop()`` then ``start()`` restarts it on the same ports and files.

When the environment names a PostgreSQL server in ``OPENTURK_TEST_POSTGRES`` (the test suite's
``OPENTURK_TEST_DB=postgresql`` sets it: tests/support/stores.py), a server made without a database
URL gets a brand-new database of its own there instead of the SQLite file, dropped when it exits.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import sqlalchemy
from sqlalchemy.pool import NullPool

from openturk.ports import free_port
from openturk.store.database import Database, normalise_url

# A PostgreSQL server URL (any database on it): servers made without a database URL get one of their own there.
POSTGRES_ENV = "OPENTURK_TEST_POSTGRES"


@functools.cache
def default_tls() -> ssl.SSLContext:
    """httpx's default verifying context, made once: httpx makes a new one for every client or
    top-level call given ``verify=True``, ~50 ms of CPU reading the CA bundle each time."""
    return httpx.create_ssl_context()


def create_scratch_database(server_url: str, *, migrated: bool = False) -> str:
    """CREATE a database with a unique name on the PostgreSQL server of ``server_url``; return its URL.

    ``migrated``: a copy of a database already migrated to the newest revision (``CREATE DATABASE …
    TEMPLATE``, ~0.1 s, where Alembic takes ~0.5 s on PostgreSQL), instead of an empty one.
    """
    url = sqlalchemy.engine.make_url(normalise_url(server_url))
    name = f"openturk_{uuid.uuid4().hex}"
    template = f' TEMPLATE "{_postgres_template(server_url)}"' if migrated else ""
    _run_autocommit(url, f'CREATE DATABASE "{name}"{template}')
    return url.set(database=name).render_as_string(hide_password=False)


_templates_lock = threading.Lock()
_postgres_templates: dict[str, str] = {}  # server URL -> the name of this process's migrated template there


def _postgres_template(server_url: str) -> str:
    """This process's migrated template database on ``server_url``'s server, made on first use and
    dropped at exit (nobody may stay connected to a template: it is migrated, then left alone)."""
    with _templates_lock:
        if server_url not in _postgres_templates:
            template_url = create_scratch_database(server_url)
            _migrate(template_url)
            atexit.register(_drop_quietly, template_url)
            _postgres_templates[server_url] = str(sqlalchemy.engine.make_url(template_url).database)
        return _postgres_templates[server_url]


@functools.cache
def _sqlite_template() -> Path:
    """This process's migrated SQLite file, copied for each server (removed at exit)."""
    folder = Path(tempfile.mkdtemp(prefix="openturk-template-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


def copy_migrated_sqlite(target: Path) -> None:
    """Make ``target`` a SQLite database at the newest revision: a copy of this process's migrated template."""
    # SQLite's backup API, not a file copy: it reads what the write-ahead log holds too.
    with (
        contextlib.closing(sqlite3.connect(_sqlite_template())) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


def _migrate(url: str) -> None:
    db = Database(url)
    try:
        db.migrate()
    finally:
        db.dispose()


def _drop_quietly(database_url: str) -> None:
    # At exit the throwaway cluster may already be gone, and the template with it.
    with contextlib.suppress(Exception):
        drop_scratch_database(database_url)


def drop_scratch_database(database_url: str) -> None:
    """DROP the database of ``database_url``, closing whatever connections are still open to it."""
    url = sqlalchemy.engine.make_url(normalise_url(database_url))
    _run_autocommit(url.set(database="postgres"), f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def _run_autocommit(url: sqlalchemy.URL, statement: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    engine = sqlalchemy.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


class ServerProcess:
    def __init__(
        self,
        *,
        db_url: str | None = None,
        virtual_clock: bool = True,
        auth: str = "open",
        extra_args: list[str] | None = None,
        port: int | None = None,
        local_aws_port: int | None = None,
        startup_timeout: float = 60.0,  # two test passes at once on a loaded 2-core machine start slowly
        admin_token: str | None = None,
        tls: bool = False,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="openturk-")
        self.db_path = Path(self._tmp.name) / "openturk.db"
        postgres = os.environ.get(POSTGRES_ENV) if db_url is None else None
        # Set when this object made the database (on OPENTURK_TEST_POSTGRES's server) and drops it on exit.
        # Already migrated (a copy of a template), so the server's start-up migration finds nothing to do:
        # Alembic's 0.2-0.5 s run once per test process instead of once per server.
        self._scratch_database = create_scratch_database(postgres, migrated=True) if postgres else None
        self.db_url = db_url or self._scratch_database or f"sqlite:///{self.db_path}"
        if self.db_url == f"sqlite:///{self.db_path}":
            copy_migrated_sqlite(self.db_path)
        # A server on a scratch database keeps its local AWS state under the name it has beside a SQLite file.
        self._local_aws_state = Path(self._tmp.name) / ("openturk.local-aws" if db_url else "openturk.db.local-aws")
        self.port = port or free_port()
        self.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        # With tls: the local CA `openturk serve --tls` makes here, which clients must trust (``verify``).
        self.tls_dir = Path(self._tmp.name) / "tls"
        self.ca_file = self.tls_dir / "ca.pem" if tls else None
        self.local_aws_port = local_aws_port or free_port()
        # The task origin (requester content) listens on a free port of its own.
        self.task_port = free_port()
        self.task_url = f"{'https' if tls else 'http'}://127.0.0.1:{self.task_port}"
        self.log_path = Path(self._tmp.name) / "server.log"
        # The admin routes (clock, deliveries, metrics) need it when set; without it they answer
        # loopback clients under --auth open, and nobody under --auth sigv4.
        self.admin_token = admin_token
        self._args = [
            sys.executable,
            "-m",
            "openturk.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db",
            self.db_url,
            "--auth",
            auth,
            *(["--virtual-clock"] if virtual_clock else []),
            *(["--admin-token", admin_token] if admin_token else []),
            *(["--tls", "--tls-dir", str(self.tls_dir)] if tls else []),
            "--local-aws-port",
            str(self.local_aws_port),
            "--task-port",
            str(self.task_port),
            # Beside the server's own SQLite file it goes there by default; never into the cwd.
            *([] if self.db_url == f"sqlite:///{self.db_path}" else ["--local-aws-state", str(self._local_aws_state)]),
            *(extra_args or []),
        ]
        self._startup_timeout = startup_timeout
        self._engine: sqlalchemy.Engine | None = None  # sql()'s, made on first use
        self._http: httpx.Client | None = None  # http's, made on first use
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self._args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"openturk serve exited early:\n{self.log()}")
            try:
                if self.ca_file is not None and not self.ca_file.exists():
                    raise httpx.ConnectError("the server has not made its certificate yet")
                verify = self.http_verify
                with httpx.Client(timeout=1.0, verify=verify) as http:
                    if (
                        http.get(f"{self.base_url}/health").status_code == 200
                        and http.get(f"{self.task_url}/externalHIT_v1.js").status_code == 200
                    ):
                        return self
            except (httpx.HTTPError, ssl.SSLError):  # SSLError: the CA file is still being written
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"openturk serve did not answer /health in {self._startup_timeout}s:\n{self.log()}")

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def verify(self) -> str | bool:
        """What botocore takes as ``verify``: the local CA's file under tls, else True."""
        return str(self.ca_file) if self.ca_file is not None else True

    @property
    def http_verify(self) -> ssl.SSLContext:
        """What httpx takes as ``verify``: a context trusting the local CA under tls, else httpx's default."""
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file is not None else default_tls()

    def client(self, access_key_id: str = "AKIDOPENTURKTEST", secret: str = "secret", **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "mturk",
            endpoint_url=self.base_url,
            region_name="us-east-1",
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret,
            verify=self.verify,
            config=Config(retries={"max_attempts": 1}, **config),
        )

    def sql(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        """Run one SQL statement on the server's database, SQLite or PostgreSQL, and commit.

        Named parameters (``:hit_id``) work on both stores; returns the rows (empty for a statement
        that returns none). For tests that read or set what the API does not show.
        """
        if self._engine is None:  # kept: a new engine first reads the server's types, many round trips
            self._engine = sqlalchemy.create_engine(normalise_url(self.db_url))
        with self._engine.begin() as conn:
            result = conn.execute(sqlalchemy.text(query), params)
            return [tuple(row) for row in result] if result.returns_rows else []

    @property
    def http(self) -> httpx.Client:
        """An HTTP client of this server (``server.http.get("/api/deliveries")``), kept for the
        server's life: polling with a new client per call spent ~50 ms of CPU on each."""
        if self._http is None:
            self._http = httpx.Client(base_url=self.base_url, timeout=30, verify=self.http_verify)
        return self._http

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the virtual clock; every timer due in the span fires before this returns."""
        response = httpx.post(
            f"{self.base_url}/api/clock/advance",
            json={"Seconds": seconds},
            headers=self.admin_headers(),
            timeout=60,
            verify=self.http_verify,
        )
        response.raise_for_status()
        return dict(response.json())

    def clock_now(self) -> float:
        """The server's time in epoch seconds (``GET /api/clock``; --virtual-clock servers only)."""
        response = httpx.get(
            f"{self.base_url}/api/clock", headers=self.admin_headers(), timeout=30, verify=self.http_verify
        )
        response.raise_for_status()
        return float(response.json()["Now"])

    def admin_headers(self) -> dict[str, str]:
        """What an admin route needs from this test process (a loopback client)."""
        return {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if self._engine is not None:
            self._engine.dispose()
        if self._http is not None:
            self._http.close()
        self._tmp.cleanup()
        if self._scratch_database is not None:
            drop_scratch_database(self._scratch_database)


class Worker:
    """A worker driving the worker API, as a person on the worker site would."""

    def __init__(
        self, base_url: str, worker_id: str, token: str | None = None, verify: ssl.SSLContext | bool = True
    ) -> None:
        self.base_url, self.worker_id = base_url, worker_id
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        tls = default_tls() if verify is True else verify
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=30, verify=tls)

    def hits(self) -> list[dict[str, Any]]:
        response = self.http.get("/api/worker/hits", params={"WorkerId": self.worker_id})
        response.raise_for_status()
        return list(response.json()["HITs"])

    def accept(self, hit_id: str) -> httpx.Response:
        return self.http.post(f"/api/worker/hits/{hit_id}/accept", json={"WorkerId": self.worker_id})

    def submit(self, assignment_id: str, answers: dict[str, Any]) -> httpx.Response:
        return self.http.post(
            f"/api/worker/assignments/{assignment_id}/submit", json={"WorkerId": self.worker_id, "Answers": answers}
        )

    def return_(self, assignment_id: str) -> httpx.Response:
        return self.http.post(f"/api/worker/assignments/{assignment_id}/return", json={"WorkerId": self.worker_id})

    def do(self, hit_id: str, answers: dict[str, Any] | None = None) -> str:
        """Accept and submit; return the AssignmentId."""
        accepted = self.accept(hit_id)
        accepted.raise_for_status()
        assignment_id = str(accepted.json()["AssignmentId"])
        self.submit(assignment_id, answers or {"answer": "yes"}).raise_for_status()
        return assignment_id
