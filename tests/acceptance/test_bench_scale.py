"""bench/scale.py runs end to end in quick mode and its last line carries every figure, so it cannot rot."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETUP_FIGURES = {
    "cold_first_delivery_ms",
    "p50_ms",
    "p99_ms",
    "achieved_rate",
    "call_p50_ms",
    "sent",
    "errors",
    "lost",
    "duplicates",
    "first_error",
    "commit_to_send_p50_ms",
    "commit_to_send_p99_ms",
    "ceiling_acked_eps",
    "ceiling_delivered_eps",
    "ceiling_received_eps",
    "ceiling_acked",
    "ceiling_delivered",
    "ceiling_lost",
    "ceiling_errors",
    "ceiling_first_error",
    "ceiling_drain_s",
    "ceiling_delivery_drain_s",
    "ceiling_sends_by_dispatcher",
    "ceiling_pg_transactions_per_event",
    "latency_cpu_cores",
    "ceiling_cpu_cores",
    "ceiling_cpu_ms_per_event",
    "events_per_message",
    "ceiling_events_per_message",
    "events_in_two_messages",
    "backlog_eps",
    "backlog_first_delivery_s",
    "backlog_events_per_message",
    "backlog_failed_attempts",
    "backlog_cpu_cores",
}
CPU_ROLES = {"server", "dispatchers", "postgres", "moto", "producers", "receiver"}
BARE_FIGURES = {
    "p50_ms",
    "p99_ms",
    "achieved_rate",
    "sent",
    "errors",
    "lost",
    "ceiling_sent_eps",
    "ceiling_received_eps",
    "ceiling_lost",
    "ceiling_errors",
    "latency_cpu_cores",
    "ceiling_cpu_cores",
}
TARGETS = {
    "sqlite_p50_le_bare_p50_plus_5ms",
    "sqlite_p99_le_50ms",
    "sqlite_delivered_ge_1000_eps",
    "pg2_delivered_ge_pg1",
    "pg2_backlog_ge_pg1",
}


def run_scale(arguments: str, timeout: float) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """bench/scale.py with these arguments (split as a shell would), which must succeed: the run and
    its last line's JSON."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), *shlex.split(arguments)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-5000:]

    def strictly(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON line: not JSON, which jq and most parsers refuse")

    return run, json.loads(run.stdout.strip().splitlines()[-1], parse_constant=strictly)


@pytest.mark.timeout(1200)
def test_scale_bench_quick_mode_reports_every_figure() -> None:
    run, result = run_scale(
        # Many destinations and slower sends: the backlog goes through the slowing proxy.
        "--seconds 1 --warmup 0 --backlog-events 2000 --backlog-destinations 20 --backlog-send-delay-ms 5",
        timeout=1100,
    )
    assert result["seconds"] == 1 and result["rate"] == 200
    assert result["backlog_events"] == 2000 and result["backlog_send_delay_ms"] == 5
    assert result["threads"] == 4 and result["ceiling_threads"] == 16  # 2 × 16 calls in flight in the ceiling
    assert set(result["bare"]) == BARE_FIGURES
    for name in ("sqlite", "pg1", "pg2"):
        figures = result[name]
        assert set(figures) == SETUP_FIGURES, name
        # Every event acknowledged in both phases was received and is in the delivery log: nothing lost.
        assert figures["sent"] == 200 and figures["errors"] == 0 and figures["lost"] == 0, (name, figures)
        assert figures["ceiling_acked"] > 0 and figures["ceiling_errors"] == 0, (name, figures)
        assert figures["ceiling_lost"] == 0 and figures["ceiling_delivered"] == figures["ceiling_acked"], name
        assert set(figures["ceiling_cpu_cores"]) == CPU_ROLES | {"machine_load1"}, name
        assert set(figures["ceiling_cpu_ms_per_event"]) == CPU_ROLES, name
        assert figures["ceiling_cpu_cores"]["server"] > 0, name  # the right process was sampled
        assert (figures["ceiling_cpu_cores"]["dispatchers"] > 0) == (name != "sqlite"), name
        assert (figures["ceiling_cpu_cores"]["postgres"] > 0) == (name != "sqlite"), name
        assert figures["events_per_message"] >= 1 and figures["ceiling_events_per_message"] >= 1, name
        sends = figures["ceiling_sends_by_dispatcher"]  # by each dispatcher that sent, most first
        assert sends and len(sends) <= {"sqlite": 1, "pg1": 1, "pg2": 2}[name] and sends == sorted(sends)[::-1], name
        # PostgreSQL's statistics lag up to a second per backend: over the quick run's 1 s, only present.
        transactions = figures["ceiling_pg_transactions_per_event"]
        assert (transactions is None) == (name == "sqlite") and (transactions or 0) >= 0, (name, transactions)
        # The backlog phase raises unless every one of its events is delivered.
        assert figures["backlog_eps"] > 0 and figures["backlog_events_per_message"] >= 1, name
        assert (figures["backlog_cpu_cores"]["dispatchers"] > 0) == (name != "sqlite"), name
        for key in ("p50_ms", "p99_ms", "commit_to_send_p50_ms", "commit_to_send_p99_ms", "ceiling_delivered_eps"):
            assert isinstance(figures[key], float | int) and figures[key] >= 0, (name, key, figures[key])
    assert result["bare"]["lost"] == 0 and result["bare"]["ceiling_lost"] == 0
    assert set(result["targets"]) == TARGETS
    for check in result["targets"].values():
        assert isinstance(check["pass"], bool) and check["value"] is not None and check["limit"] is not None
    assert "PASS" in run.stdout or "FAIL" in run.stdout  # the table's verdicts, before the JSON line


@pytest.mark.timeout(300)
def test_idle_bench_reports_commit_to_send() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "idle.py"), "--seconds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-5000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["events"] >= 3 and result["events_delivered"] == result["events"]
    assert 0 <= result["commit_to_send_min_ms"] <= result["commit_to_send_p50_ms"] <= result["commit_to_send_p99_ms"]
    assert result["commit_to_send_p50_ms"] <= result["end_to_end_p50_ms"]


def test_rounds_combine_into_medians_and_sums_of_events() -> None:
    """``--rounds``: a figure is the rounds' median; an event count their sum, so a loss in any round shows."""
    sys.path.insert(0, str(ROOT))
    from bench.scale import combine_rounds

    rounds = [
        {
            "bare": {"p50_ms": 10.0, "lost": 0},
            "sqlite": {"p50_ms": 30.0, "lost": 0, "first_error": None, "ceiling_cpu_cores": {"server": 0.8}},
        },
        {
            "bare": {"p50_ms": 14.0, "lost": 0},
            "sqlite": {"p50_ms": 20.0, "lost": 1, "first_error": "boom", "ceiling_cpu_cores": {"server": 0.6}},
        },
        {
            "bare": {"p50_ms": 12.0, "lost": 0},
            "sqlite": {"p50_ms": 90.0, "lost": 0, "first_error": None, "ceiling_cpu_cores": {"server": 0.7}},
        },
    ]
    combined = combine_rounds(rounds)
    assert combined["bare"] == {"p50_ms": 12.0, "lost": 0}
    assert combined["sqlite"] == {
        "p50_ms": 30.0,
        "lost": 1,
        "first_error": "boom",
        "ceiling_cpu_cores": {"server": 0.7},
    }
    assert combine_rounds(rounds[:1]) is rounds[0]


def test_rounds_pair_set_ups_round_by_round() -> None:
    """``paired``: per pair of set-ups in every round, the rounds the first was behind and the median ratio."""
    sys.path.insert(0, str(ROOT))
    from bench.scale import paired

    def at(eps: float) -> dict[str, float]:
        return {"ceiling_delivered_eps": eps}

    rounds = [
        {"pg1": at(400.0), "pg2": at(380.0), "pg1idle": at(390.0)},
        {"pg1": at(300.0), "pg2": at(330.0), "pg1idle": at(300.0)},
        {"pg1": at(500.0), "pg2": at(450.0), "pg1idle": at(400.0)},
    ]
    compared = paired(rounds)
    assert compared["pg2_vs_pg1"] == {"rounds": 3, "rounds_behind": 2, "median_ratio": 0.95}
    assert compared["pg2_vs_pg1idle"]["rounds_behind"] == 1
    assert compared["pg2_vs_pg1idle"]["median_ratio"] == pytest.approx(1.1)  # of 0.97, 1.1 and 1.125
    assert compared["pg1idle_vs_pg1"] == {"rounds": 3, "rounds_behind": 2, "median_ratio": 0.975}
    # A pair missing from a round is not compared.
    assert set(paired([{"pg1": at(1.0), "pg2": at(1.0)}])) == {"pg2_vs_pg1"}


@pytest.mark.timeout(900)
def test_ceiling_only_rounds_with_the_idle_dispatcher_control() -> None:
    """``--ceiling-only`` measures no latency (null figures); ``pg1idle``'s second dispatcher runs, on a
    database of its own, and sends nothing of the set-up's."""
    run, result = run_scale(
        "--seconds 1 --setups pg1,pg1idle --rounds 2 --ceiling-only --backlog-events 0",
        timeout=850,
    )
    assert result["ceiling_only"] is True and result["rounds"] == 2 and len(result["each_round"]) == 2
    assert "Lbare" not in run.stderr and "Lpg1" not in run.stderr  # no latency phase ran
    assert result["bare"]["p50_ms"] is None and result["bare"]["ceiling_sent_eps"] > 0
    for name in ("pg1", "pg1idle"):
        figures = result[name]
        assert set(figures) == SETUP_FIGURES, name
        assert figures["p50_ms"] is None and figures["sent"] == 0, name
        assert figures["ceiling_acked"] > 0 and figures["ceiling_lost"] == 0, name
        assert figures["ceiling_delivered"] == figures["ceiling_acked"], name
        assert len(figures["ceiling_sends_by_dispatcher"]) == 1, name  # the idle one sent none of them
    for each in result["each_round"]:
        # The bench fails a set-up whose dispatcher ended (its idle one among them); both were sampled.
        assert each["pg1idle"]["ceiling_cpu_cores"]["dispatchers"] > 0
        assert each["pg1"]["p50_ms"] is None  # each round's figures are JSON too: null, not NaN
    assert set(result["paired"]) == {"pg1idle_vs_pg1"} and result["paired"]["pg1idle_vs_pg1"]["rounds"] == 2
