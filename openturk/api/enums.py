"""Enum values the ``mturk`` model defines, read from it rather than kept by hand.

The model is the only definition of the wire (``api/spec.py``): a value added to one of its enums
reaches every rule that lists them. States only openturk has (an assignment that is Accepted,
Returned or Abandoned; a qualification request's Pending) are not on the wire and stay where they
are used; ``tests/unit/api/test_enums.py`` checks the ``Literal`` types against these tuples.
"""

from __future__ import annotations

from openturk.api.spec import service_model


def enum(shape_name: str) -> tuple[str, ...]:
    """The values of the model's string shape ``shape_name``, in the model's order."""
    values = service_model().shape_for(shape_name).enum
    if not values:
        raise KeyError(f"The mturk model's shape {shape_name} is not an enum.")
    return tuple(values)


HIT_STATUSES = enum("HITStatus")
# The statuses a HIT in review has; ListReviewableHITs' Status takes exactly these.
REVIEWABLE_HIT_STATUSES = enum("ReviewableHITStatus")
# The assignment statuses the wire shows (openturk's Accepted, Returned and Abandoned are internal).
ASSIGNMENT_STATUSES = enum("AssignmentStatus")
# Ping is not a transition: it is sent only by SendTestEventNotification.
EVENT_TYPES = tuple(name for name in enum("EventType") if name != "Ping")
# From the narrowest to the widest: each guards what the one before does and more.
HIT_ACCESS_ACTIONS = enum("HITAccessActions")
COMPARATORS = enum("Comparator")
NOTIFICATION_TRANSPORTS = enum("NotificationTransport")
QUALIFICATION_TYPE_STATUSES = enum("QualificationTypeStatus")
QUALIFICATION_STATUSES = enum("QualificationStatus")
REVIEW_ACTION_STATUSES = enum("ReviewActionStatus")
HIT_REVIEW_STATUSES = enum("HITReviewStatus")
