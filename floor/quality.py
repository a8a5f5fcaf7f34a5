"""Data-quality checks of one cycle's data: prices, positions and snapshots, with Great Expectations.

The rows come as the persistence layer returns them (lists of dicts, money as ``Decimal``). Each
call builds pandas frames from them, runs one expectation suite per table (:func:`validate_frame`,
which the price-batch checks use too) and returns a plain :class:`QualityReport`. Great
Expectations (~2-5 s to import) and pandas are imported on first use, so importing this module
stays cheap.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from floor.money import cents, to_decimal

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

VALUE_TOLERANCE = 0.005  # a recomputed value must agree to the cent
_NAMED_ROWS = 10  # how many offending rows an observed text names before "and N more"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation on one table.

    Attributes:
        suite: The table checked: ``"prices"``, ``"positions"`` or ``"snapshots"``.
        expectation: The GX expectation type, e.g. ``"expect_column_values_to_be_between"``.
        column: The column (or ``"a, b"`` for a compound key); ``None`` for table-level checks.
        success: Whether the expectation held.
        observed: Short human text; on failure it names the offending rows and values.
    """

    suite: str
    expectation: str
    column: str | None
    success: bool
    observed: str


@dataclass(frozen=True)
class QualityReport:
    """Every check of a cycle, grouped by suite (prices, positions, snapshots)."""

    results: tuple[CheckResult, ...]

    @property
    def success(self) -> bool:
        """True when every check passed."""
        return all(result.success for result in self.results)

    def failures(self) -> list[CheckResult]:
        """The checks that failed."""
        return [result for result in self.results if not result.success]

    def failure_summary(self) -> str:
        """The failed checks on one line, for a log line or an error."""
        return "; ".join(f"{r.suite}.{r.expectation}({r.column}): {r.observed}" for r in self.failures())

    def as_markdown(self) -> str:
        """A markdown table of every check, for a Prefect markdown artifact."""
        passed = len(self.results) - len(self.failures())
        lines = [
            f"**Data quality: {passed} of {len(self.results)} checks passed**",
            "",
            "| suite | check | column | result | observed |",
            "|---|---|---|---|---|",
        ]
        for r in self.results:
            cells = (r.suite, r.expectation, r.column or "—", "✅" if r.success else "❌", r.observed)
            lines.append("| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |")
        return "\n".join(lines) + "\n"


def check_cycle(engine: Engine, cycle_id: int) -> QualityReport:
    """:func:`check_cycle_data` on what cycle ``cycle_id`` stored: its prices, every position and
    its snapshots."""
    from floor.market.cache import cycle_quotes
    from floor.portfolio.valuation import position_rows, snapshot_rows

    prices = [
        {"symbol": q.symbol, "price": q.price, "as_of": q.as_of}
        for q in cycle_quotes(engine, cycle_id).values()
    ]
    return check_cycle_data(prices, position_rows(engine), snapshot_rows(engine, cycle_id))


def check_cycle_data(
    prices: Sequence[Mapping[str, Any]],
    positions: Sequence[Mapping[str, Any]],
    snapshots: Sequence[Mapping[str, Any]],
) -> QualityReport:
    """Run the prices, positions and snapshots suites and report every check.

    Args:
        prices: ``{"symbol", "price", "as_of"}`` rows: the prices the cycle fetched.
        positions: ``{"trader", "symbol", "shares"}`` rows: every position on the floor.
        snapshots: ``{"trader", "cash", "holdings_value", "portfolio_value", "positions"}`` rows, one
            valuation per trader; ``positions`` is a list of ``{"symbol", "shares", "price"}`` (a
            ``price`` of None with the ``value`` it was counted at: no price, valued at cost).

    Returns:
        The report; an empty ``prices`` list fails, empty ``positions`` or ``snapshots`` pass.
    """
    gxe = expectation_types()
    suites: dict[str, tuple[pd.DataFrame, list[str], list[Any]]] = {
        "prices": (
            _prices_frame(prices),
            ["symbol"],
            [
                gxe.ExpectTableRowCountToBeBetween(min_value=1),
                gxe.ExpectColumnValuesToNotBeNull(column="symbol"),
                gxe.ExpectColumnValuesToBeUnique(column="symbol"),
                gxe.ExpectColumnValuesToNotBeNull(column="price"),
                gxe.ExpectColumnValuesToBeBetween(column="price", min_value=0, strict_min=True),
            ],
        ),
        "positions": (
            _positions_frame(positions),
            ["trader", "symbol"],
            [
                gxe.ExpectColumnValuesToNotBeNull(column="shares"),
                gxe.ExpectColumnValuesToBeInTypeList(column="shares", type_list=["int"]),
                gxe.ExpectColumnValuesToBeBetween(column="shares", min_value=0),
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["trader", "symbol"]),
            ],
        ),
        "snapshots": (
            _snapshots_frame(snapshots),
            ["trader"],
            [
                gxe.ExpectColumnValuesToBeUnique(column="trader"),
                gxe.ExpectColumnValuesToBeBetween(column="cash", min_value=0),
                gxe.ExpectColumnValuesToBeBetween(column="portfolio_value", min_value=0),
                gxe.ExpectColumnValuesToNotBeNull(column="value_error"),
                gxe.ExpectColumnValuesToBeBetween(
                    column="holdings_error", min_value=-VALUE_TOLERANCE, max_value=VALUE_TOLERANCE
                ),
                gxe.ExpectColumnValuesToBeBetween(
                    column="value_error", min_value=-VALUE_TOLERANCE, max_value=VALUE_TOLERANCE
                ),
            ],
        ),
    }
    results: list[CheckResult] = []
    for name, (frame, keys, expectations) in suites.items():
        results.extend(validate_frame(name, frame, expectations, keys))
    return QualityReport(tuple(results))


def expectation_types():
    """``great_expectations.expectations``, imported on first use (GX takes seconds to import)."""
    _great_expectations()
    import great_expectations.expectations as gxe

    return gxe


def _great_expectations():
    """The ``great_expectations`` module, imported with its usage analytics off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # before the import: GX reads it then
    import great_expectations as gx

    return gx


_gx_lock = threading.Lock()
_gx_batches: dict[str, Any] = {}  # suite name -> its whole-dataframe batch definition


def validate_frame(
    suite: str, frame: pd.DataFrame, expectations: list[Any], keys: list[str]
) -> list[CheckResult]:
    """Validate ``frame`` against ``expectations`` as the suite ``suite``: one :class:`CheckResult` each.

    ``keys`` are the columns that name an offending row. One in-memory GX context serves the
    process, with one pandas asset per suite, made on first use: building a context and its assets
    costs more than a validation, as GX writes its whole configuration out as YAML at each step.
    Each call hands GX its own frame, so nothing of an earlier call is seen. Calls take turns, as a
    GX context is not safe to share between threads.
    """
    gx = _great_expectations()
    with _gx_lock:
        batch = _batch_definition(suite).get_batch(batch_parameters={"dataframe": frame})
        outcome = batch.validate(
            gx.ExpectationSuite(name=suite, expectations=expectations),
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": keys},
        )
    return [check_result(suite, result, keys) for result in outcome.results]


def _batch_definition(suite: str) -> Any:
    """The suite's batch definition, made on first use; the caller holds ``_gx_lock``."""
    if suite not in _gx_batches:
        asset = _gx_source().add_dataframe_asset(suite)
        _gx_batches[suite] = asset.add_batch_definition_whole_dataframe(suite)
    return _gx_batches[suite]


@functools.cache
def _gx_source() -> Any:
    """The process's GX context and its pandas data source; first called under ``_gx_lock``."""
    gx = _great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX announces an ephemeral context's temporary docs site at INFO (it sets that logger's
    # level itself, so the parent's level is not enough); only problems matter here.
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # tqdm bars on stderr otherwise
    return context.data_sources.add_pandas("floor")


def _prices_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {
            "symbol": pd.Series([row.get("symbol") for row in rows], dtype=object),
            "price": pd.Series([_to_float(row.get("price")) for row in rows], dtype="float64"),
        }
    )


def _positions_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    # object dtype keeps each share count as given, so the type check sees a 2.5 or a None as such.
    return pd.DataFrame(
        {
            name: pd.Series([row.get(name) for row in rows], dtype=object)
            for name in ("trader", "symbol", "shares")
        }
    )


def _snapshots_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    errors = [_valuation_errors(row) for row in rows]
    columns: dict[str, list[Any]] = {
        "trader": [row.get("trader") for row in rows],
        "cash": [_to_float(row.get("cash")) for row in rows],
        "portfolio_value": [_to_float(row.get("portfolio_value")) for row in rows],
        "holdings_error": [_to_float(holdings) for holdings, _ in errors],
        "value_error": [_to_float(value) for _, value in errors],
    }
    dtypes = {name: object if name == "trader" else "float64" for name in columns}
    return pd.DataFrame({name: pd.Series(values, dtype=dtypes[name]) for name, values in columns.items()})


def _valuation_errors(row: Mapping[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    """Stored minus recomputed holdings and portfolio value, exact; ``None`` when not recomputable.

    Recomputed by the read model's rule (:mod:`floor.portfolio.read_model`): each position is
    ``cents(price x shares)``, or its stored ``value`` (its cost) when it had no price.
    """
    try:
        held = sum((_position_value(p) for p in row.get("positions") or []), Decimal(0))
        cash = to_decimal(row["cash"])
        holdings_error = to_decimal(row["holdings_value"]) - held
        value_error = to_decimal(row["portfolio_value"]) - (cash + held)
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return None, None
    return holdings_error, value_error


def _position_value(position: Mapping[str, Any]) -> Decimal:
    if position.get("price") is None:
        return to_decimal(position["value"])  # no price: valued at cost, as stored (KeyError if not)
    return cents(to_decimal(position["price"]) * to_decimal(position["shares"]))


def _to_float(value: Any) -> float | None:
    return None if value is None else float(value)


def check_result(suite: str, result: Any, keys: list[str]) -> CheckResult:
    """One Great Expectations validation result as a row of our report (suites share this mapping)."""
    config = result.expectation_config
    column = config.kwargs.get("column") or ", ".join(config.kwargs.get("column_list") or []) or None
    return CheckResult(
        suite=suite,
        expectation=config.type,
        column=column,
        success=bool(result.success),
        observed=_observed(result, column, keys),
    )


def _observed(result: Any, column: str | None, keys: list[str]) -> str:
    """What GX saw, for a human: the offending rows named by their keys, with the bad value."""
    exception = result.exception_info or {}
    if exception.get("raised_exception"):
        return f"error: {exception.get('exception_message')}"
    details = result.result or {}
    if "element_count" not in details:  # a table-level expectation
        unit = " rows" if "row_count" in result.expectation_config.type else ""
        return f"observed {details.get('observed_value')}{unit}"
    total, bad = details["element_count"], details.get("unexpected_count") or 0
    if not bad:
        return f"{total} rows ok"
    names: list[str] = []
    for row in details.get("unexpected_index_list") or []:
        name = "/".join(_text(row.get(key)) for key in keys)
        if column in row and column not in keys:
            name += f" ({column}={_text(row[column])})"
        if name not in names:
            names.append(name)
    more = f", and {len(names) - _NAMED_ROWS} more" if len(names) > _NAMED_ROWS else ""
    return f"{bad} of {total} rows unexpected: {', '.join(names[:_NAMED_ROWS])}{more}"


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    return str(value)


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
