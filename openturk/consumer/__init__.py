"""The requester-side toolkit: consume MTurk-shaped notifications reliably.

Imports nothing from the openturk server: it works against openturk and against any MTurk-shaped
stream (real SQS/SNS included).

    from openturk.consumer import Router, SQLiteDedup
    router = Router(dedup=SQLiteDedup("seen.db"))

    @router.on("AssignmentSubmitted")
    def review(event): ...
"""

from __future__ import annotations

from openturk.consumer.answers import UploadedFile, Value, parse_answers
from openturk.consumer.context import Assignment
from openturk.consumer.context import Context as MTurkContext
from openturk.consumer.dedup import DedupStore, MemoryDedup, SQLDedup, SQLiteDedup, open_dedup
from openturk.consumer.events import Document, Event, MalformedNotification, documents_from, parse_document
from openturk.consumer.lambda_adapter import LambdaHandler, SQSBatchFailed, lambda_handler
from openturk.consumer.observed import MemoryObserved, SQLObserved
from openturk.consumer.reconcile import Reconciler
from openturk.consumer.router import ForeignCustomer, HandlerFailed, Router
from openturk.consumer.sns import (
    CertificateUnavailable,
    InvalidSNSMessage,
    SNSMessage,
    SNSReceiver,
    SNSVerifier,
    UntrustedSNSMessage,
    sns_receiver,
)

__all__ = [
    "Assignment",
    "CertificateUnavailable",
    "DedupStore",
    "Document",
    "Event",
    "ForeignCustomer",
    "HandlerFailed",
    "InvalidSNSMessage",
    "LambdaHandler",
    "MTurkContext",
    "MalformedNotification",
    "MemoryDedup",
    "MemoryObserved",
    "Reconciler",
    "Router",
    "SNSMessage",
    "SNSReceiver",
    "SNSVerifier",
    "SQLDedup",
    "SQLObserved",
    "SQLiteDedup",
    "SQSBatchFailed",
    "UntrustedSNSMessage",
    "UploadedFile",
    "Value",
    "documents_from",
    "lambda_handler",
    "open_dedup",
    "parse_answers",
    "parse_document",
    "sns_receiver",
]
