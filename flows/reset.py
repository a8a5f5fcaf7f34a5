"""Reset the floor from the Prefect UI: every trader back to $10,000 and its persona's strategy."""

from __future__ import annotations

from prefect import flow, get_run_logger

from floor.ledger.accounts import reset_accounts
from floor.traders import load_traders
from tasks import runtime


@flow(name="reset-floor")
def reset_floor() -> list[str]:
    traders = load_traders(runtime.settings())
    reset_accounts(runtime.engine(), traders)
    names = [t.display_name for t in traders]
    get_run_logger().info("Reset %d traders: %s", len(names), ", ".join(names))
    return names
