"""The upload and review-policy acceptance tests again, on a server whose database is PostgreSQL.

The test functions are those of ``test_uploads.py`` and ``test_review_policies.py``, collected here
a second time; this module's ``server`` fixture (a server on a temporary PostgreSQL) overrides the
session's SQLite one for them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess
from tests.acceptance.test_review_policies import *  # noqa: F403
from tests.acceptance.test_uploads import *  # noqa: F403
from tests.conftest import FAST_RETRIES
from tests.support import stores
from tests.support.postgres import TemporaryPostgres
from tests.support.smtp import SMTPServer

# Under OPENTURK_TEST_DB=postgresql the modules themselves already run on PostgreSQL.
pytestmark = pytest.mark.skipif(stores.on_postgres(), reason="the whole suite runs on PostgreSQL in this pass")


@pytest.fixture(scope="module")
def postgres() -> Iterator[TemporaryPostgres]:
    database = TemporaryPostgres().start()
    yield database
    database.stop()


@pytest.fixture(scope="module")
def server(postgres: TemporaryPostgres, local_aws: LocalAWS, smtp: SMTPServer) -> Iterator[ServerProcess]:
    args = ["--aws-endpoint", local_aws.url, "--smtp-port", str(smtp.port), *FAST_RETRIES]
    with ServerProcess(db_url=postgres.url, virtual_clock=True, extra_args=args, startup_timeout=90) as running:
        yield running


def test_this_module_runs_on_postgres(server: ServerProcess) -> None:
    assert server.db_url.startswith("postgresql")
