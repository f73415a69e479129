"""free_port: loopback ports outside the kernel's ephemeral range, never the same one twice."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from openturk import ports


def test_ports_are_below_the_ephemeral_range_and_distinct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "ephemeral_range", lambda: (32768, 60999))  # Linux's default, whatever this machine's
    low, _ = ports.ephemeral_range()
    chosen = [ports.free_port() for _ in range(50)]
    assert len(set(chosen)) == 50
    assert all(max(ports.LOWEST_PORT, low - ports.BAND_WIDTH) <= port < low for port in chosen)


def test_a_port_something_listens_on_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        taken_port, free = taken.getsockname()[1], ports._kernel_chosen_port()
        candidates = iter([taken_port, free])
        monkeypatch.setattr(ports.random, "randrange", lambda first, stop: next(candidates))
        assert ports.free_port() == free


def test_a_port_already_handed_out_is_not_handed_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    first = ports.free_port()
    free = ports._kernel_chosen_port()
    candidates = iter([first, free])
    monkeypatch.setattr(ports.random, "randrange", lambda start, stop: next(candidates))
    assert ports.free_port() == free


def test_without_a_band_below_the_range_the_kernel_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "ephemeral_range", lambda: (ports.LOWEST_PORT, 60999))
    chosen = []
    monkeypatch.setattr(ports, "_kernel_chosen_port", lambda: chosen.append(1) or 4242)
    assert ports.free_port() == 4242 and chosen == [1]


def test_the_range_is_read_from_the_kernel_and_defaults_when_unreadable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    published = tmp_path / "ip_local_port_range"
    published.write_text("40000\t50000\n")
    monkeypatch.setattr(ports, "EPHEMERAL_RANGE_FILE", published)
    assert ports.ephemeral_range() == (40000, 50000)
    published.write_text("nonsense")
    assert ports.ephemeral_range() == ports.DEFAULT_EPHEMERAL_RANGE
