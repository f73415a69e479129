"""Tables, in SQLAlchemy Core. Alembic migrations in ``migrations/`` create them.

Conventions: times are epoch milliseconds (BIGINT) read from the server's ``Clock``; money is
integer cents; structured values MTurk echoes back verbatim (qualification requirements, review
policies) are JSON text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(64)
# The largest value of an autoincrement ``Integer`` row id: PostgreSQL's integer is 32 bits, and a
# larger number compared with one is an error there (a 500), not an empty match.
ROW_ID_MAX = 2**31 - 1

requesters = Table(
    "requesters",
    metadata,
    Column("customer_id", ID, primary_key=True),
    Column("name", String(255), nullable=False),
    # Running totals kept in step with ``ledger`` and ``hits.held_cents`` in the same transactions
    # (only by ``openturk.ledger``), so a balance check costs one row read however many HITs a
    # requester has. ``balance_cents`` is everything not yet paid: available plus on hold.
    Column("balance_cents", BigInteger, nullable=False, default=0),
    Column("on_hold_cents", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    Column("customer_id", ID, ForeignKey("requesters.customer_id"), nullable=False),
    # NULL in open mode, where keys are created on first use and never verified.
    Column("secret_access_key", String(128)),
    Column("created_at", BigInteger, nullable=False),
)

ledger = Table(
    "ledger",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", ID, ForeignKey("requesters.customer_id"), nullable=False, index=True),
    # One movement of ``amount_cents`` (never negative) between two of a requester's accounts:
    # outside -> available (credit), available <-> held (escrow), held or available -> paid.
    Column("amount_cents", BigInteger, nullable=False),
    Column("from_account", String(16), nullable=False),
    Column("to_account", String(16), nullable=False),
    # Why it moved: the transition or payment (HITCreated, UpdateHITTypeOfHIT, reward, bonus_fee...).
    Column("kind", String(32), nullable=False),
    # The assignment paid, or the HIT whose escrow moved.
    Column("reference", ID),
    Column("hit_id", ID),
    Column("created_at", BigInteger, nullable=False),
)

workers = Table(
    "workers",
    metadata,
    Column("worker_id", ID, primary_key=True),
    Column("name", String(255)),
    Column("token_hash", String(128), unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("email", String(254)),
)

# What a worker told the site about themselves, feeding the system qualifications Locale and Adult,
# and the admin's Masters grant. No row: the defaults of ``openturk.domain.profiles``.
worker_profiles = Table(
    "worker_profiles",
    metadata,
    Column("worker_id", ID, ForeignKey("workers.worker_id"), primary_key=True),
    Column("country", String(2), nullable=False),  # ISO 3166-1 alpha-2
    Column("subdivision", String(3)),  # ISO 3166-2 suffix (the part after "US-"), or NULL
    Column("adult", Boolean, nullable=False),
    Column("masters_granted_at", BigInteger),
    Column("updated_at", BigInteger, nullable=False),
)

hit_types = Table(
    "hit_types",
    metadata,
    Column("hit_type_id", ID, primary_key=True),
    Column("customer_id", ID, ForeignKey("requesters.customer_id"), nullable=False),
    Column("title", String(128), nullable=False),
    Column("description", String(2000), nullable=False),
    Column("keywords", String(1000)),
    Column("reward_cents", BigInteger, nullable=False),
    Column("assignment_duration_s", BigInteger, nullable=False),
    Column("auto_approval_delay_s", BigInteger, nullable=False),
    Column("qualification_requirements", Text, nullable=False),
    # A digest of every property: CreateHITType answers an existing id when all of them match.
    Column("properties_digest", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("customer_id", "properties_digest", name="uq_hit_types_properties"),
)

hits = Table(
    "hits",
    metadata,
    Column("hit_id", ID, primary_key=True),
    Column("customer_id", ID, ForeignKey("requesters.customer_id"), nullable=False),
    Column("hit_type_id", ID, ForeignKey("hit_types.hit_type_id"), nullable=False),
    Column("hit_layout_id", ID),
    # HITLayoutParameters as given (a JSON list of [Name, Value]): the batch results' Input.* columns
    Column("hit_layout_parameters", Text),
    Column("question", Text, nullable=False),
    Column("requester_annotation", String(255)),
    Column("max_assignments", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("review_status", String(32), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("expiration", BigInteger, nullable=False),
    # True once the expiry at ``expiration`` has been processed; an extension clears it.
    Column("expiry_processed", Boolean, nullable=False, default=False),
    # Reward plus fee of every slot that may still be paid: open (unexpired) or in progress/submitted.
    Column("held_cents", BigInteger, nullable=False, default=0),
    Column("assignment_review_policy", Text),
    Column("hit_review_policy", Text),
    Index("ix_hits_customer_created", "customer_id", "creation_time", "hit_id"),
    Index("ix_hits_expiry_due", "expiry_processed", "expiration"),
    Index("ix_hits_customer_status", "customer_id", "status", "hit_type_id"),
    Index("ix_hits_dispose_due", "status", "creation_time"),
)

# Requesters' HIT layouts (MTurk's project templates): HTML with ${name} placeholders.
hit_layouts = Table(
    "hit_layouts",
    metadata,
    Column("hit_layout_id", ID, primary_key=True),
    Column("customer_id", ID, ForeignKey("requesters.customer_id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("template", Text, nullable=False),
    Column("frame_height", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

assignments = Table(
    "assignments",
    metadata,
    Column("assignment_id", ID, primary_key=True),
    Column("hit_id", ID, ForeignKey("hits.hit_id"), nullable=False),
    Column("worker_id", ID, nullable=False),
    # Accepted (in progress), Submitted, Approved, Rejected, Returned, Abandoned.
    Column("status", String(16), nullable=False),
    Column("accept_time", BigInteger, nullable=False),
    Column("deadline", BigInteger, nullable=False),
    Column("submit_time", BigInteger),
    Column("auto_approval_time", BigInteger),
    Column("approval_time", BigInteger),
    Column("rejection_time", BigInteger),
    Column("answer", Text),
    Column("requester_feedback", String(1024)),
    # Reward and fee fixed at accept time: a later UpdateHITTypeOfHIT does not change them.
    Column("reward_cents", BigInteger, nullable=False),
    Column("fee_cents", BigInteger, nullable=False),
    Index("ix_assignments_hit", "hit_id", "status"),
    Index("ix_assignments_worker_hit", "worker_id", "hit_id"),
    Index("ix_assignments_deadline_due", "status", "deadline"),
    Index("ix_assignments_auto_approval_due", "status", "auto_approval_time"),
)

bonus_payments = Table(
    "bonus_payments",
    metadata,
    Column("bonus_id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", ID, ForeignKey("requesters.customer_id"), nullable=False),
    Column("worker_id", ID, nullable=False),
    Column("assignment_id", ID, ForeignKey("assignments.assignment_id"), nullable=False),
    Column("hit_id", ID, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("grant_time", BigInteger, nullable=False),
    Index("ix_bonus_hit", "hit_id", "bonus_id"),
    Index("ix_bonus_assignment", "assignment_id", "bonus_id"),
    Index("ix_bonus_worker", "worker_id", "grant_time"),  # the worker's dashboard
)

request_tokens = Table(
    "request_tokens",
    metadata,
    Column("customer_id", ID, primary_key=True),
    Column("token", String(64), primary_key=True),
    Column("operation", String(64), nullable=False),
    Column("result_id", ID, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# The lifecycle event log: written in the same transaction as the transition that implies it.
# The notification engine delivers from here; nothing else may write to it.
events = Table(
    "events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", ID, nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("event_time", BigInteger, nullable=False),
    Column("hit_type_id", ID, nullable=False),
    Column("hit_id", ID, nullable=False),
    Column("assignment_id", ID),
    # The message this event was batched into, once the batcher formed it (NULL if not notified).
    Column("message_id", Integer),
    Index("ix_events_hit", "hit_id", "event_id"),
)

# Keys every process of a deployment must share, made once by the first server that starts: the
# HMAC key of task tokens and file download URLs (a page issued by one server is loaded from another).
deployment_secrets = Table(
    "deployment_secrets",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", String(128), nullable=False),
)

# One row: the virtual clock's offset, so a restarted server keeps the time tests moved it to.
clock_state = Table(
    "clock_state",
    metadata,
    Column("singleton", Integer, primary_key=True),
    Column("offset_ms", BigInteger, nullable=False),
)

# One row: which dispatcher forms messages and hears commits, until when (wall ms) unless it renews
# (notify/forming_lead.py). PostgreSQL only; a lapsed or stepped-down lead is taken by the next to look.
forming_lead = Table(
    "forming_lead",
    metadata,
    Column("singleton", Integer, primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("until_ms", BigInteger, nullable=False),
)

# Timer items whose firing raised. Each waits here until ``retry_at`` (exponential backoff) while
# every other due item fires; the firing that succeeds deletes its row. Stored, not remembered in a
# process, so restarts and several servers back off the same item alike.
timer_failures = Table(
    "timer_failures",
    metadata,
    Column("kind", String(16), primary_key=True),  # expire | abandon | auto_approve | dispose
    Column("item_id", ID, primary_key=True),  # the HITId or AssignmentId
    Column("attempts", Integer, nullable=False),
    Column("retry_at", BigInteger, nullable=False),
    Column("first_failed_at", BigInteger, nullable=False),
    Column("last_error", Text, nullable=False),
    Index("ix_timer_failures_retry", "retry_at"),
)


# -- notifications ------------------------------------------------------------------------------

# One specification per HIT type (UpdateNotificationSettings replaces it).
notification_settings = Table(
    "notification_settings",
    metadata,
    Column("hit_type_id", ID, ForeignKey("hit_types.hit_type_id"), primary_key=True),
    Column("customer_id", ID, nullable=False),
    Column("transport", String(8), nullable=False),
    Column("destination", String(1024), nullable=False),
    Column("version", String(32), nullable=False),
    Column("event_types", String(512), nullable=False),  # comma-separated, in the order given
    Column("active", Boolean, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Events waiting to be batched into a message: written with the event, in its transaction, with
# the destination the specification in force named. Deleted when the batcher forms the message.
outbox = Table(
    "outbox",
    metadata,
    Column("event_id", Integer, ForeignKey("events.event_id"), primary_key=True),
    Column("customer_id", ID, nullable=False),
    Column("transport", String(8), nullable=False),
    Column("destination", String(1024), nullable=False),
    Column("version", String(32), nullable=False),
    # Wall-clock ms when the event committed: the start of delivery latency.
    Column("committed_at", BigInteger, nullable=False),
)

# A formed message: its EventDocId and byte-exact body never change, whatever re-sends it.
messages = Table(
    "messages",
    metadata,
    Column("message_id", Integer, primary_key=True, autoincrement=True),
    Column("doc_id", String(64), nullable=False, unique=True),
    Column("customer_id", ID, nullable=False),
    Column("transport", String(8), nullable=False),
    Column("destination", String(1024), nullable=False),
    Column("version", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("event_types", String(512), nullable=False),
    Column("hit_type_ids", Text, nullable=False),
    # pending → sending (leased) → delivered | pending (retry) | dead
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", BigInteger),
    Column("first_committed_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger),
    Column("last_error", Text),
    Column("is_test", Boolean, nullable=False, default=False),
    Index("ix_messages_due", "state", "next_attempt_at"),
    Index("ix_messages_customer_created", "customer_id", "created_at"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("attempt_id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", Integer, ForeignKey("messages.message_id"), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # delivered | failed | dead
    Column("error", Text),
    Column("dispatcher", String(64), nullable=False),
    Index("ix_attempts_message", "message_id", "attempt_id"),
)


# A requester's block of a worker: the worker sees nothing of that requester (CreateWorkerBlock).
worker_blocks = Table(
    "worker_blocks",
    metadata,
    Column("customer_id", ID, ForeignKey("requesters.customer_id"), primary_key=True),
    Column("worker_id", ID, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_worker_blocks_worker", "worker_id"),
)

# NotifyWorkers messages: the durable inbox the worker API lists; email is sent from these rows.
worker_messages = Table(
    "worker_messages",
    metadata,
    Column("message_id", Integer, primary_key=True, autoincrement=True),
    Column("worker_id", ID, nullable=False),
    Column("customer_id", ID, ForeignKey("requesters.customer_id"), nullable=False),
    Column("subject", Text, nullable=False),
    Column("message_text", Text, nullable=False),
    Column("sent_time", BigInteger, nullable=False),
    Column("emailed_at", BigInteger),
    Column("email_error", Text),
    Index("ix_worker_messages_worker", "worker_id", "message_id"),
)

# The email of a NotifyWorkers message, queued in the call's transaction and sent after it (retried
# with backoff while SMTP fails). ``next_attempt_at`` (wall-clock ms) is NULL once sent or given up;
# a sender claims a row by moving it a lease ahead, so two senders never send one row at once.
worker_emails = Table(
    "worker_emails",
    metadata,
    Column("message_id", Integer, ForeignKey("worker_messages.message_id"), primary_key=True),
    Column("address", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger),
    Column("sent_at", BigInteger),
    Column("last_error", Text),
    Index("ix_worker_emails_due", "next_attempt_at"),
)

# -- qualifications -----------------------------------------------------------------------------

# Requesters' own qualification types. ``name_key`` is the name while the type is live and NULL once
# it is disposed, so names are unique among a requester's live types and free again at once.
qualification_types = Table(
    "qualification_types",
    metadata,
    Column("qualification_type_id", ID, primary_key=True),
    Column("customer_id", ID, ForeignKey("requesters.customer_id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("name_key", String(255)),
    Column("description", String(2000), nullable=False),
    Column("keywords", String(1000)),
    # Active | Inactive | Disposing (DeleteQualificationType)
    Column("status", String(16), nullable=False),
    Column("retry_delay_s", BigInteger),
    Column("test", Text),
    Column("answer_key", Text),
    Column("test_duration_s", BigInteger),
    Column("auto_granted", Boolean, nullable=False, default=False),
    Column("auto_granted_value", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("customer_id", "name_key", name="uq_qualification_types_name"),
    Index("ix_qualification_types_customer", "customer_id", "created_at", "qualification_type_id"),
)

# A worker's qualification of one type: granted (with its value) or revoked (kept, visible as Revoked).
qualifications = Table(
    "qualifications",
    metadata,
    Column("qualification_type_id", ID, ForeignKey("qualification_types.qualification_type_id"), primary_key=True),
    Column("worker_id", ID, primary_key=True),
    Column("integer_value", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # Granted | Revoked
    Column("grant_time", BigInteger, nullable=False),
    Column("reason", Text),
    Index("ix_qualifications_worker", "worker_id", "status"),
)

qualification_requests = Table(
    "qualification_requests",
    metadata,
    Column("qualification_request_id", ID, primary_key=True),
    Column("qualification_type_id", ID, ForeignKey("qualification_types.qualification_type_id"), nullable=False),
    Column("customer_id", ID, nullable=False),
    Column("worker_id", ID, nullable=False),
    Column("status", String(16), nullable=False),  # Pending | Approved | Rejected
    Column("test", Text),
    Column("answer", Text),
    Column("submit_time", BigInteger, nullable=False),
    Column("reason", Text),
    Index("ix_qualification_requests_customer", "customer_id", "status", "submit_time"),
    Index("ix_qualification_requests_worker", "qualification_type_id", "worker_id", "submit_time"),
)

# FileUploadAnswer uploads: the bytes live in the database beside the assignment they belong to
# (docs/decisions.md), capped per file by the worker upload route (openturk.web.access).
uploaded_files = Table(
    "uploaded_files",
    metadata,
    Column("file_key", ID, primary_key=True),
    Column("assignment_id", ID, ForeignKey("assignments.assignment_id"), nullable=False),
    Column("question_identifier", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_uploaded_files_assignment", "assignment_id"),
)

# What review policies found and did, in the order they ran: ReviewResultDetail / ReviewActionDetail.
review_items = Table(
    "review_items",
    metadata,
    Column("item_id", Integer, primary_key=True, autoincrement=True),
    Column("hit_id", ID, ForeignKey("hits.hit_id"), nullable=False),
    Column("policy_level", String(16), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("body", Text, nullable=False),
    Index("ix_review_items_hit", "hit_id", "item_id"),
)

# -- the web site -------------------------------------------------------------------------------

# A worker's log-in for the web site: the e-mail address it signs in with (lower-cased, unique), an
# argon2 hash of its password, and whether an admin disabled it. Workers made with ``openturk
# workers create`` (bearer tokens) have no row here until they sign up.
worker_accounts = Table(
    "worker_accounts",
    metadata,
    Column("worker_id", ID, ForeignKey("workers.worker_id"), primary_key=True),
    Column("login", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger),
    # "Auto-accept next HIT" on the work page: on unless the worker turned it off.
    Column("auto_accept_next", Boolean, nullable=False, server_default="1"),
)

# Server-side sessions of the web site. The cookie carries a random token; only its SHA-256 is kept,
# so a copy of the database opens no session. ``kind`` is anonymous (a visitor with a CSRF token, before
# log-in), worker, requester or admin; ``principal`` the WorkerId or CustomerId.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("principal", ID),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_web_sessions_expires", "expires_at"),
    Index("ix_web_sessions_principal", "principal"),
)

# Failed log-ins, kept for the rate limit (per login name and per client address) and pruned after it.
login_failures = Table(
    "login_failures",
    metadata,
    Column("failure_id", Integer, primary_key=True, autoincrement=True),
    Column("login", String(254), nullable=False),
    Column("client", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_login_failures_login", "login", "at"),
    Index("ix_login_failures_client", "client", "at"),
)

# When a worker started a qualification type's Test: answers are taken until TestDurationInSeconds
# after it; the row goes when the answers are taken (a retake starts again).
qualification_test_starts = Table(
    "qualification_test_starts",
    metadata,
    Column("qualification_type_id", ID, ForeignKey("qualification_types.qualification_type_id"), primary_key=True),
    Column("worker_id", ID, primary_key=True),
    Column("started_at", BigInteger, nullable=False),
)
