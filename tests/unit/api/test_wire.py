"""The wire layer against botocore's own serializer and parser, so our bugs cannot hide behind the test's."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from openturk.api import parser, serializer, spec
from openturk.errors import InvalidParameterValue, MissingParameter, ParameterOutOfRange, ProtocolError, RequestError


def _wire(operation: str, params: dict) -> dict:  # type: ignore[type-arg]
    model = spec.service_model().operation_model(operation)
    request = create_serializer("json").serialize_to_request(params, model)
    return parser.parse_input(model, parser.parse_body(request["body"]))


def test_botocore_requests_parse_to_typed_params() -> None:
    params = _wire("UpdateExpirationForHIT", {"HITId": "ABC", "ExpireAt": datetime(2030, 1, 1, tzinfo=UTC)})
    assert params == {"HITId": "ABC", "ExpireAt": int(datetime(2030, 1, 1, tzinfo=UTC).timestamp() * 1000)}
    assert _wire("UpdateExpirationForHIT", {"HITId": "ABC", "ExpireAt": 0})["ExpireAt"] == 0
    nested = _wire(
        "CreateHITType",
        {
            "AssignmentDurationInSeconds": 60,
            "Reward": "1",
            "Title": "t",
            "Description": "d",
            "QualificationRequirements": [
                {
                    "QualificationTypeId": "00000000000000000071",
                    "Comparator": "In",
                    "LocaleValues": [{"Country": "US"}, {"Country": "CA"}],
                }
            ],
        },
    )
    assert nested["QualificationRequirements"][0]["LocaleValues"][1] == {"Country": "CA"}


@pytest.mark.parametrize(
    ("operation", "body", "error", "field"),
    [
        ("GetHIT", {}, MissingParameter, "HITId"),
        ("GetHIT", {"HITId": 5}, InvalidParameterValue, "HITId"),
        ("GetHIT", {"HITId": "lower-case"}, InvalidParameterValue, "HITId"),
        ("GetHIT", {"HITId": "A" * 65}, ParameterOutOfRange, "HITId"),
        ("ListHITs", {"MaxResults": 0}, ParameterOutOfRange, "MaxResults"),
        ("ListHITs", {"MaxResults": 1.5}, InvalidParameterValue, "MaxResults"),
        ("ListHITs", {"MaxResults": True}, InvalidParameterValue, "MaxResults"),
        # The model's integer is 32 bits (its long, LifetimeInSeconds' shape, 64).
        (
            "AssociateQualificationWithWorker",
            {"QualificationTypeId": "Q", "WorkerId": "A1", "IntegerValue": 2**31},
            ParameterOutOfRange,
            "IntegerValue",
        ),
        (
            "AssociateQualificationWithWorker",
            {"QualificationTypeId": "Q", "WorkerId": "A1", "IntegerValue": -(2**31) - 1},
            ParameterOutOfRange,
            "IntegerValue",
        ),
        ("ListReviewableHITs", {"Status": "Open"}, InvalidParameterValue, "Status"),
        ("UpdateExpirationForHIT", {"HITId": "A", "ExpireAt": "soon"}, InvalidParameterValue, "ExpireAt"),
        ("UpdateExpirationForHIT", {"HITId": "A", "ExpireAt": float("inf")}, InvalidParameterValue, "ExpireAt"),
        # NUL: PostgreSQL's text cannot hold it; refused on either store.
        ("AcceptQualificationRequest", {"QualificationRequestId": "\x00"}, InvalidParameterValue, "RequestId"),
        ("UpdateExpirationForHIT", {"HITId": "A\x00", "ExpireAt": 0}, InvalidParameterValue, "HITId"),
        (
            "CreateHITType",
            {
                "AssignmentDurationInSeconds": 60,
                "Reward": "1",
                "Title": "t",
                "Description": "d",
                "QualificationRequirements": [{"QualificationTypeId": "X", "Comparator": "Most"}],
            },
            InvalidParameterValue,
            "QualificationRequirements[0].Comparator",
        ),
        (
            "CreateHITType",
            {
                "AssignmentDurationInSeconds": 60,
                "Reward": "1",
                "Title": "t",
                "Description": "d",
                "QualificationRequirements": "nope",
            },
            InvalidParameterValue,
            "QualificationRequirements",
        ),
    ],
)
def test_bad_values_name_the_field(operation: str, body: dict, error: type[RequestError], field: str) -> None:  # type: ignore[type-arg]
    model = spec.service_model().operation_model(operation)
    with pytest.raises(error) as excinfo:
        parser.parse_input(model, body)
    assert field in excinfo.value.message


def test_integers_take_32_bits_and_longs_64() -> None:
    associate = spec.service_model().operation_model("AssociateQualificationWithWorker")
    for edge in (2**31 - 1, -(2**31)):
        params = {"QualificationTypeId": "Q", "WorkerId": "A1", "IntegerValue": edge}
        assert parser.parse_input(associate, params)["IntegerValue"] == edge
    create = spec.service_model().operation_model("CreateHITWithHITType")
    params = {"HITTypeId": "T", "LifetimeInSeconds": 2**40}  # the domain checks its range; the wire takes it
    assert parser.parse_input(create, params)["LifetimeInSeconds"] == 2**40
    with pytest.raises(ParameterOutOfRange, match="9223372036854775807"):
        parser.parse_input(create, {**params, "LifetimeInSeconds": 2**63})


def test_serialized_output_is_what_botocore_parses() -> None:
    model = spec.service_model().operation_model("GetAssignment")
    result = {
        "Assignment": {"AssignmentId": "A1", "AcceptTime": 1_700_000_000_500, "Secret": "dropped", "Answer": None},
        "HIT": {"HITId": "H1", "QualificationRequirements": []},
    }
    body = serializer.serialize_output(model, result)
    assert "Secret" not in json.loads(body)["Assignment"]
    parsed = create_parser("json").parse({"status_code": 200, "headers": {}, "body": body}, model.output_shape)
    assert parsed["Assignment"]["AcceptTime"] == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC).astimezone(
        parsed["Assignment"]["AcceptTime"].tzinfo
    )
    assert parsed["HIT"]["QualificationRequirements"] == []
    assert "Answer" not in parsed["Assignment"]


def test_error_bodies_parse_into_modeled_fields() -> None:
    model = spec.service_model().operation_model("GetHIT")
    error = RequestError("Hit X does not exist.", "AWS.MechanicalTurk.HITDoesNotExist")
    parsed = create_parser("json").parse(
        {"status_code": 400, "headers": {}, "body": json.dumps(error.body()).encode()}, model.output_shape
    )
    assert parsed["Error"]["Code"] == "RequestError"
    assert parsed["Error"]["Message"].startswith("Hit X does not exist. (")


def test_a_number_of_thousands_of_digits_is_named_not_echoed() -> None:
    model = spec.service_model().operation_model("ListHITs")
    with pytest.raises(ParameterOutOfRange) as excinfo:
        parser.parse_input(model, {"MaxResults": 10**4000})
    assert len(excinfo.value.message) < 200 and "4001 digits" in excinfo.value.message
    with pytest.raises(ProtocolError) as refused:
        parser.parse_body(b'{"MaxResults": ' + b"9" * 5000 + b"}")
    assert "set_int_max_str_digits" not in refused.value.message and "4,300 digits" in refused.value.message
