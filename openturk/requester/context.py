"""What an operation knows about the call it serves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from openturk.clock import Clock
from openturk.notify.transports.base import Transport
from openturk.settings import Settings
from openturk.store.database import Database


@dataclass(frozen=True)
class Context:
    db: Database
    clock: Clock
    settings: Settings
    customer_id: str
    request_id: str
    transports: Mapping[str, Transport] = field(default_factory=dict)
