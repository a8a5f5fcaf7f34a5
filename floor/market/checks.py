"""Great Expectations checks on one fetched price batch, before any of it is used.

Prices present and positive, one row per symbol, every price at least as new as the plan demands,
and no move from the previous close beyond a set bound. A batch that fails is not stored for the
cycle: the cycle falls back to the last good prices, marked stale. GX and pandas are imported
on first use, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from floor.market import Quote
from floor.quality import QualityReport, expectation_types, validate_frame

SUITE = "price_batch"


def check_price_batch(
    quotes: Sequence[Quote],
    *,
    fresh_from: datetime,
    previous: Mapping[str, Decimal],
    jump_bound: float,
) -> QualityReport:
    """Check one batch; every failing row is named in the report.

    Args:
        quotes: The batch as fetched.
        fresh_from: The oldest acceptable as-of time for the plan.
        previous: Each symbol's previous close, where known; a move beyond ``jump_bound`` from it fails.
        jump_bound: The largest relative move allowed, e.g. 0.5 for 50%.
    """
    import pandas as pd

    gxe = expectation_types()
    frame = pd.DataFrame(
        {
            "symbol": pd.Series([q.symbol for q in quotes], dtype=object),
            "price": pd.Series([_float(q.price) for q in quotes], dtype="float64"),
            "minutes_too_old": pd.Series(
                [None if q.as_of is None else (fresh_from - q.as_of).total_seconds() / 60 for q in quotes],
                dtype="float64",
            ),
            "jump_from_previous_close": pd.Series([_jump(q, previous) for q in quotes], dtype="float64"),
        }
    )
    expectations: list[Any] = [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="symbol"),
        gxe.ExpectColumnValuesToBeUnique(column="symbol"),
        gxe.ExpectColumnValuesToNotBeNull(column="price"),
        gxe.ExpectColumnValuesToBeBetween(column="price", min_value=0, strict_min=True),
        gxe.ExpectColumnValuesToNotBeNull(column="minutes_too_old"),
        gxe.ExpectColumnValuesToBeBetween(column="minutes_too_old", max_value=0),
        gxe.ExpectColumnValuesToBeBetween(
            column="jump_from_previous_close", min_value=-jump_bound, max_value=jump_bound
        ),
    ]
    return QualityReport(tuple(validate_frame(SUITE, frame, expectations, ["symbol"])))


def _jump(quote: Quote, previous: Mapping[str, Decimal]) -> float | None:
    before = quote.previous_close or previous.get(quote.symbol)
    if before is None or before <= 0 or quote.price is None:
        return None
    return float(quote.price / before - 1)


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
