"""The requester-side toolkit: consume MTurk-shaped notifications reliably.

Imports nothing from the openturk server: it works against openturk and against any MTurk-shaped
stream (real SQS/SNS included).

    from openturk.consumer import Router, SQLiteDedup
    router = Router(dedup=SQLiteDedup("seen.db"))

    @router.on("AssignmentSubmitted")
    def review(event): ...
"""

from __future__ import annotations

from openturk.consumer.answers import UploadedFile, parse_answers
from openturk.consumer.dedup import DedupStore, MemoryDedup, SQLDedup, SQLiteDedup, open_dedup
from openturk.consumer.events import Document, Event, MalformedNotification, documents_from, parse_document
from openturk.consumer.router import HandlerFailed, Router

__all__ = [
    "DedupStore",
    "Document",
    "Event",
    "HandlerFailed",
    "MalformedNotification",
    "MemoryDedup",
    "Router",
    "SQLDedup",
    "SQLiteDedup",
    "UploadedFile",
    "documents_from",
    "open_dedup",
    "parse_answers",
    "parse_document",
]
