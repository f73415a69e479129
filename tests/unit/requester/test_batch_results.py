"""The batch results CSV cannot carry a formula into a spreadsheet, and rates read as MTurk's did."""

from __future__ import annotations

import pytest

from openturk.requester import batch_results


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_a_cell_a_spreadsheet_would_evaluate_is_prefixed(value: str) -> None:
    assert batch_results.safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["", "cat", "1", "a=b", " =x", "'=x"])
def test_other_cells_are_left_as_they_are(value: str) -> None:
    assert batch_results.safe_cell(value) == value


def test_an_approval_rate_reads_as_mturks() -> None:
    assert batch_results.ApprovalRate(2, 3).text() == "66% (2/3)"
    assert batch_results.ApprovalRate(0, 0).text() == "0% (0/0)"
