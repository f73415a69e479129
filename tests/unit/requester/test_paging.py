"""NextToken: a forged token of any shape is InvalidParameterValue, never a store error."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from openturk.errors import InvalidParameterValue
from openturk.requester import paging


def _forged(key: Any, operation: str = "ListHITs") -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": operation, "k": key}).encode()).decode().rstrip("=")


def test_a_token_round_trips() -> None:
    token = paging.encode([1_700_000_000_000, "3ABC"], "ListHITs")
    assert paging.decode(token, "ListHITs", [0, ""]) == [1_700_000_000_000, "3ABC"]


@pytest.mark.parametrize(
    "key",
    [
        [1, "\ud800"],  # a lone surrogate: no store can encode it (it was a 500)
        [1, "a\x00b"],  # NUL: PostgreSQL's text refuses it
        [1, "x" * 65],
        [2**63, "a"],
        [True, "a"],
        ["1", "a"],
        [1],
    ],
)
def test_a_forged_key_is_an_invalid_token(key: Any) -> None:
    with pytest.raises(InvalidParameterValue, match="NextToken"):
        paging.decode(_forged(key), "ListHITs", [0, ""])


@pytest.mark.parametrize("key", [2**31, -1, 2**63 - 1])
def test_a_row_id_position_past_what_its_column_holds_is_an_invalid_token(key: int) -> None:
    """Bonus and review-item ids are 32-bit on PostgreSQL: a larger position was a 500 there."""
    with pytest.raises(InvalidParameterValue):
        paging.decode(_forged(key, "ListBonusPayments"), "ListBonusPayments", paging.ROW_ID)
    assert paging.decode(_forged(2**31 - 1, "ListBonusPayments"), "ListBonusPayments", paging.ROW_ID) == 2**31 - 1


def test_a_token_of_another_operation_is_invalid() -> None:
    with pytest.raises(InvalidParameterValue):
        paging.decode(paging.encode([1, "a"], "ListHITs"), "ListQualificationTypes", [0, ""])
