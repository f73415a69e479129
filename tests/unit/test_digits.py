"""Whole numbers from request text: ASCII digits only, bounded before int() reads them."""

from __future__ import annotations

import pytest

from openturk import digits


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("7", 7),
        ("007", 7),
        ("123456789", 123_456_789),
        ("", None),
        ("1234567890", None),
        (" 1", None),
        ("-1", None),
        ("+1", None),
        ("1.0", None),
        ("\u00b2", None),
        ("\u0663", None),
        ("\uff11", None),
        ("9" * 5000, None),
    ],
)
def test_non_negative_reads_only_ascii_digits_up_to_the_bound(text: str, expected: int | None) -> None:
    assert digits.non_negative(text) == expected


def test_positive_refuses_zero_and_the_bound_is_a_parameter() -> None:
    assert digits.positive("0") is None and digits.positive("000") is None
    assert digits.positive("1") == 1
    assert digits.positive("123456789012", max_digits=12) == 123_456_789_012
    assert digits.positive("1234567890123", max_digits=12) is None


def test_a_row_id_fits_a_32_bit_autoincrement_column() -> None:
    assert digits.row_id("1") == 1 and digits.row_id(str(2**31 - 1)) == 2**31 - 1
    assert digits.row_id(str(2**31)) is None and digits.row_id("0") is None and digits.row_id("9" * 11) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("+5", 5),
        (" -12 ", -12),
        ("-2147483648", -(2**31)),
        ("2147483647", 2**31 - 1),
        ("000000000000000000001", None),  # more digits than any xs:int needs, read no further
        ("2147483648", None),
        ("-2147483649", None),
        ("", None),
        ("-", None),
        ("+-1", None),
        ("٣", None),
        ("1e3", None),
        ("9" * 5000, None),
    ],
)
def test_xs_int_is_xml_schemas_32_bit_integer(text: str, expected: int | None) -> None:
    assert digits.xs_int(text) == expected
