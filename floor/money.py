"""Money and quantities as exact values: one rounding rule for the whole floor.

Floats appear only at the edges (JSON for humans, charts); everything stored or compared is a
``Decimal`` rounded to cents with half-up rounding; execution prices are whole cents too.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
PRICE_QUANTUM = Decimal("0.0001")  # execution prices keep four places, cash keeps two
INITIAL_CASH = Decimal("10000.00")
BUY_SPREAD = Decimal("1.002")
SELL_SPREAD = Decimal("0.998")


def to_decimal(value: object) -> Decimal:
    """Convert ``value`` (str, int, float, Decimal) to a Decimal without float artefacts."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc


def cents(value: object) -> Decimal:
    """Round to cents, half up: the only rounding rule for money."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def price(value: object) -> Decimal:
    """Round a per-share price to four decimal places, half up."""
    return to_decimal(value).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP)


def buy_fill(market_price: Decimal) -> Decimal:
    """Execution price of a buy: market price plus the 0.2% spread, in whole cents.

    Fills are whole cents so that quantity x fill is exact and a ledger can be re-added from
    its transactions to the cent.
    """
    return cents(market_price * BUY_SPREAD)


def sell_fill(market_price: Decimal) -> Decimal:
    """Execution price of a sell: market price minus the 0.2% spread, in whole cents."""
    return cents(market_price * SELL_SPREAD)


MINUS = "\u2212"  # a typographic minus: "−$7.56" reads as money, "$-7.56" does not


def format_money(amount: object, *, signed: bool = False) -> str:
    """Money as people read it: ``$1,234.50``, ``−$7.56``; with ``signed``, ``+$3.20`` for a gain.

    The one formatting rule for money shown to people (reports, logs); JSON keeps plain numbers.
    """
    value = cents(amount)
    sign = MINUS if value < 0 else ("+" if signed and value > 0 else "")
    return f"{sign}${abs(value):,.2f}"
