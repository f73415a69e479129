"""Loopback ports for the processes openturk starts (the embedded SQS/SNS endpoint, test servers)."""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

# Where the kernel's ephemeral range is published (Linux); elsewhere the usual Linux default.
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL_RANGE = (32768, 60999)
# The ports chosen from: a band just below the ephemeral range, above the well-known services.
BAND_WIDTH = 12_000
LOWEST_PORT = 10_000

_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, outside the kernel's ephemeral range.

    Why outside it: between this check and the bind of the process that will listen, a port of the
    ephemeral range can be given to any outgoing connection as its source port, and the bind then
    fails with "address already in use" (CI saw a test server's own PostgreSQL connection take the
    port it was about to listen on). Ports below the range are only ever taken by an explicit bind.
    One process is never handed the same port twice, so ports chosen together (a server's API, task
    origin and SQS/SNS endpoint) differ even before any of them is bound.
    """
    low, _ = ephemeral_range()
    first = max(LOWEST_PORT, low - BAND_WIDTH)
    if first < low:
        for _ in range(64):
            port = random.randrange(first, low)
            if _claim(port):
                return port
    return _kernel_chosen_port()  # no band below the range (an unusual set-up): the kernel's choice


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range of source ports for outgoing connections (and of ``bind(port 0)``)."""
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL_RANGE
    return low, high


def _claim(port: int) -> bool:
    with _handed_out_lock:
        if port in _handed_out or not _bindable(port):
            return False
        _handed_out.add(port)
        return True


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _kernel_chosen_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
