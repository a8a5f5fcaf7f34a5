"""Money as people read it: one formatting rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from floor.money import format_money


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("-7.56"), "\u2212$7.56"),
        (Decimal("0"), "$0.00"),
        (Decimal("-0.004"), "$0.00"),  # rounds to no money at all: no minus sign
        (Decimal("10000"), "$10,000.00"),
        (-1234567.891, "\u2212$1,234,567.89"),  # floats at the edge (JSON reports) read the same
        ("0.005", "$0.01"),  # half up, the one rounding rule
    ],
)
def test_format_money(amount, text):
    assert format_money(amount) == text


def test_signed_money_marks_gains_too():
    assert format_money(Decimal("3.2"), signed=True) == "+$3.20"
    assert format_money(Decimal("-3.2"), signed=True) == "\u2212$3.20"
    assert format_money(Decimal("0"), signed=True) == "$0.00"
