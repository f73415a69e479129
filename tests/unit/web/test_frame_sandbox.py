"""Which sandbox an ExternalQuestion's frame gets: its own origin kept, unless that origin is ours."""

from __future__ import annotations

import pytest

from openturk.web.task_origin import EXTERNAL_SANDBOX_FLAGS, SANDBOX_FLAGS
from openturk.web.work_pages import frame_sandbox

OURS = ("http://127.0.0.1:8443/work/hits/H1", "http://127.0.0.1:8443", "http://127.0.0.1:8445")


@pytest.mark.parametrize(
    "url", ["https://lab.example.org/pub?mode=sandbox", "http://127.0.0.1:22362/pub", "http://localhost:8443/x"]
)
def test_a_page_of_another_origin_keeps_its_origin_and_opens_unsandboxed_popups(url: str) -> None:
    assert frame_sandbox(url, OURS) == EXTERNAL_SANDBOX_FLAGS
    assert "allow-same-origin" in EXTERNAL_SANDBOX_FLAGS.split()
    assert "allow-popups-to-escape-sandbox" in EXTERNAL_SANDBOX_FLAGS.split()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8443/mturk/externalSubmit", "HTTP://127.0.0.1:8443/", "http://127.0.0.1:8445/task/T"]
)
def test_a_page_of_the_sites_or_the_task_origins_own_origin_stays_opaque(url: str) -> None:
    assert frame_sandbox(url, OURS) == SANDBOX_FLAGS
    assert "allow-same-origin" not in SANDBOX_FLAGS.split()
