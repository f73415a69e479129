"""Configuration, read once at the edge (the CLI) into one typed object passed down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8443
    db_url: str = "sqlite:///openturk.db"
    auth: Literal["open", "sigv4"] = "open"
    virtual_clock: bool = False
    aws_endpoint: str | None = None
    # Every new requester's ledger opens with this credit (MTurk's sandbox showed $10,000.00).
    starting_balance_cents: int = 1_000_000
    minimum_reward_cents: int = 1
    # How often the real-time timer loop looks for due expiries, deadlines and auto-approvals.
    timer_interval_s: float = 1.0

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
