"""The rules that list a wire enum's values take them from the mturk model, and handle all of them."""

from __future__ import annotations

from typing import get_args

import pytest

from openturk.api import enums
from openturk.domain import lifecycle, model, qualifications
from openturk.errors import InvalidParameterValue
from openturk.notify import specification, transports
from openturk.requester import assignments
from openturk.settings import Settings


def test_enum_reads_the_model_and_refuses_a_non_enum_shape() -> None:
    assert enums.enum("HITStatus") == ("Assignable", "Unassignable", "Reviewable", "Reviewing", "Disposed")
    with pytest.raises(KeyError, match="EntityId"):
        enums.enum("EntityId")


def test_literal_types_agree_with_the_model() -> None:
    assert get_args(model.HITStatus) == enums.HIT_STATUSES
    # openturk's assignment states are the wire's plus its own (Accepted, Returned, Abandoned).
    assert set(enums.ASSIGNMENT_STATUSES) < set(get_args(model.AssignmentStatus))


def test_derived_lists_are_the_models() -> None:
    assert tuple(e for e in enums.enum("EventType") if e != "Ping") == model.EVENT_TYPES
    assert enums.enum("ReviewableHITStatus") == lifecycle.REVIEW
    assert enums.enum("AssignmentStatus") == assignments.VISIBLE
    assert enums.enum("QualificationTypeStatus") == qualifications.TYPE_STATUSES


@pytest.mark.parametrize("comparator", enums.COMPARATORS)
def test_every_comparator_of_the_model_is_evaluated(comparator: str) -> None:
    requirement = {"QualificationTypeId": qualifications.NUMBER_HITS_APPROVED, "Comparator": comparator}
    if comparator not in ("Exists", "DoesNotExist"):
        requirement["IntegerValues"] = [5]
    qualifications.validate([requirement])
    standing = qualifications.WorkerStanding(record=qualifications.AssignmentRecord(approved=5))
    assert qualifications.meets(requirement, standing) in (True, False)


def test_every_actions_guarded_value_guards_accept_and_widens_in_model_order() -> None:
    guarded = [
        [qualifications.guards({"ActionsGuarded": value}, action) for action in ("Accept", "Preview", "Discover")]
        for value in enums.HIT_ACCESS_ACTIONS
    ]
    assert guarded == [[True, False, False], [True, True, False], [True, True, True]]


@pytest.mark.parametrize("transport", enums.NOTIFICATION_TRANSPORTS)
def test_every_transport_of_the_model_is_checked_and_built(transport: str) -> None:
    with pytest.raises(InvalidParameterValue, match=transport):
        specification.check_destination(transport, "not a destination")
    assert transport in transports.build(Settings())


def test_no_transport_is_built_that_the_model_lacks() -> None:
    assert set(transports.build(Settings())) == set(enums.NOTIFICATION_TRANSPORTS)
