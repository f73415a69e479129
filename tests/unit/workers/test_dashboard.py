"""The dashboard's pure parts: a day's earnings and how the site writes money, days and page numbers."""

from __future__ import annotations

from openturk.web import display
from openturk.workers.dashboard import AssignmentLine, BonusLine, earnings_of


def _line(status: str, cents: int) -> AssignmentLine:
    return AssignmentLine(
        assignment_id=f"A-{status}-{cents}",
        hit_id="H",
        title="t",
        requester_id="R",
        requester_name="r",
        status=status,
        reward_cents=cents,
        accept_time=0,
        submit_time=None,
        auto_approval_time=None,
        decided_time=None,
        feedback=None,
    )


def test_earnings_count_approved_rewards_and_bonuses_and_keep_pending_apart() -> None:
    lines = [_line("Approved", 37), _line("Approved", 5), _line("Submitted", 25), _line("Rejected", 110)]
    lines += [_line("Returned", 900), _line("Abandoned", 900), _line("Accepted", 900)]
    bonus = BonusLine(1, "A", "t", "R", "r", 129, "why", 0)
    earnings = earnings_of(lines, [bonus])
    assert (earnings.approved_count, earnings.approved_cents) == (2, 42)
    assert (earnings.pending_count, earnings.pending_cents) == (1, 25)
    assert earnings.rejected_count == 1
    assert (earnings.bonus_count, earnings.bonus_cents) == (1, 129)
    assert earnings.earned_cents == 171  # rejected, returned, abandoned and in-progress work earns nothing


def test_money_days_and_times_are_written_in_utc() -> None:
    assert display.dollars(166) == "$1.66" and display.dollars(5) == "$0.05"
    assert display.utc_day(0) == "Thursday 1 January 1970"
    assert display.iso_day(86_400_000 * 365) == "1971-01-01"
    assert display.utc_time(90_061_000) == "1970-01-02 01:01 UTC"
    assert display.iso_time(90_061_000) == "1970-01-02T01:01:01Z"


def test_page_numbers_are_whole_numbers_from_one() -> None:
    assert display.page_number(None) == 1 and display.page_number("") == 1 and display.page_number("12") == 12
    for bad in ("0", "-1", "x", "1.5", "١", "9999999999"):
        assert display.page_number(bad) is None, bad
