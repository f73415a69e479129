"""openturk: a self-hosted Amazon Mechanical Turk Requester API (2017-01-17)."""

from __future__ import annotations

__version__ = "0.1.0"
