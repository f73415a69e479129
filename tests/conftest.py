"""Shared fixtures: one real server process per test session, a fresh requester per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess, Worker
from tests.support import stores
from tests.support.browser import browser_context, chromium, page  # noqa: F401  (fixtures)
from tests.support.cli import cli_keys  # noqa: F401  (re-exported: tests import it from here)
from tests.support.postgres import TemporaryPostgres
from tests.support.smtp import SMTPServer

# Retries fast enough for an outage test to finish in seconds.
FAST_RETRIES = ["--retry-base", "0.2", "--retry-cap", "1.0", "--max-attempts", "6"]

HTML_QUESTION = (
    '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">'
    "<HTMLContent><![CDATA[<!DOCTYPE html><html><body><form><input name='answer'></form></body></html>]]>"
    "</HTMLContent><FrameHeight>400</FrameHeight></HTMLQuestion>"
)
EXTERNAL_QUESTION = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">'
    "<ExternalURL>https://example.com/task?x=1</ExternalURL><FrameHeight>0</FrameHeight></ExternalQuestion>"
)


_SESSION_CLUSTER = pytest.StashKey[TemporaryPostgres | None]()


def pytest_configure(config: pytest.Config) -> None:
    """Under OPENTURK_TEST_DB=postgresql: one throwaway cluster for the whole session (tests/support/stores.py)."""
    config.stash[_SESSION_CLUSTER] = stores.start_session_cluster()


def pytest_unconfigure(config: pytest.Config) -> None:
    stores.stop_session_cluster(config.stash.get(_SESSION_CLUSTER, None))


def pytest_report_header() -> str:
    return f"openturk store: {stores.store()}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The real frameworks' tests run last: scripts/test makes their venvs in the background meanwhile.
    Tests of what only SQLite has are skipped on PostgreSQL, with their reason."""
    items.sort(key=lambda item: item.get_closest_marker("frameworks") is not None)
    if stores.on_postgres():
        for item in items:
            marker = item.get_closest_marker("sqlite_only")
            if marker is not None:
                item.add_marker(pytest.mark.skip(reason=f"SQLite only: {marker.args[0]}"))


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    """A new, empty database on this run's store (OPENTURK_TEST_DB), for tests that open a Database."""
    url = stores.scratch_database_url(tmp_path)
    yield url
    stores.release_scratch_database(url)


@pytest.fixture
def migrated_store_url(tmp_path: Path) -> Iterator[str]:
    """A new database on this run's store, already at the newest revision (copied, not migrated: Alembic
    takes 0.1-0.5 s a database)."""
    url = stores.scratch_database_url(tmp_path, migrated=True)
    yield url
    stores.release_scratch_database(url)


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAWS]:
    """moto's server as a real SQS/SNS endpoint process."""
    aws = LocalAWS().start()
    yield aws
    aws.stop()


@pytest.fixture(scope="session")
def aws_args(local_aws: LocalAWS) -> list[str]:
    """``serve`` arguments for a test server that needs no SQS/SNS of its own: the session's moto, not
    an embedded one started (~1.5 s of CPU, moto's imports) for each server."""
    return ["--aws-endpoint", local_aws.url]


@pytest.fixture(scope="session")
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def server(local_aws: LocalAWS, smtp: SMTPServer) -> Iterator[ServerProcess]:
    args = ["--aws-endpoint", local_aws.url, "--smtp-port", str(smtp.port), *FAST_RETRIES]
    with ServerProcess(virtual_clock=True, extra_args=args) as running:
        yield running


@pytest.fixture
def mturk(server: ServerProcess) -> Any:
    """A boto3 client for a brand-new requester (open mode: the access key names it)."""
    return server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")


@pytest.fixture
def worker(server: ServerProcess) -> Worker:
    return Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper())


def new_worker(server: ServerProcess) -> Worker:
    return Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper())


def hit_params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "Title": "Label an image",
        "Description": "Say what is in the picture",
        "Reward": "0.50",
        "AssignmentDurationInSeconds": 600,
        "LifetimeInSeconds": 3600,
        "AutoApprovalDelayInSeconds": 86400,
        "MaxAssignments": 1,
        "Question": HTML_QUESTION,
    }
    params.update(overrides)
    return params


def events_of(server: ServerProcess, hit_id: str) -> list[tuple[str, str | None]]:
    """The lifecycle event rows of a HIT, in commit order: (EventType, AssignmentId)."""
    rows = server.sql(
        "SELECT event_type, assignment_id FROM events WHERE hit_id = :hit_id ORDER BY event_id", hit_id=hit_id
    )
    return [(row[0], row[1]) for row in rows]


def error_code(excinfo: pytest.ExceptionInfo[Any]) -> str:
    return str(excinfo.value.response["TurkErrorCode"])
