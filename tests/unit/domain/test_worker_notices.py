"""The pure rules of worker blocks and NotifyWorkers."""

from __future__ import annotations

import pytest

from openturk.domain import worker_notices
from openturk.errors import InvalidParameterValue, ParameterOutOfRange


def test_reason_required_only_when_blocking() -> None:
    worker_notices.check_reason("", required=False)
    worker_notices.check_reason("r" * 100_000, required=True)
    with pytest.raises(InvalidParameterValue, match="Reason"):
        worker_notices.check_reason(" \n", required=True)
    with pytest.raises(ParameterOutOfRange, match="Reason"):
        worker_notices.check_reason("r" * 100_001, required=False)


def test_notice_keeps_limits_and_sends_each_worker_once() -> None:
    notice = worker_notices.notice("s" * 200, "m" * 4096, ["AB1", "AC2", "AB1"])
    assert notice.worker_ids == ("AB1", "AC2")
    for subject, text, ids, field in [
        ("s" * 201, "m", ["AB1"], "Subject"),
        ("s", "m" * 4097, ["AB1"], "MessageText"),
        ("s", "m", [], "WorkerIds"),
        ("s", "m", ["AB1"] * 101, "WorkerIds"),
    ]:
        with pytest.raises(ParameterOutOfRange, match=field):
            worker_notices.notice(subject, text, ids)
    with pytest.raises(InvalidParameterValue, match="Subject"):
        worker_notices.notice("", "m", ["AB1"])


def test_failure_is_a_hard_failure_in_mturks_words() -> None:
    failure = worker_notices.failure("AB1")
    assert failure == {
        "NotifyWorkersFailureCode": "HardFailure",
        "NotifyWorkersFailureMessage": "Cannot send a notification to a worker who has not done any work for you",
        "WorkerId": "AB1",
    }


def test_room_for_one_more_block_below_100000() -> None:
    worker_notices.check_room_for_block(99_999)
    with pytest.raises(InvalidParameterValue, match="up to 100,000 Workers"):
        worker_notices.check_room_for_block(100_000)
