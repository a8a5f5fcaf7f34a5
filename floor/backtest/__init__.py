"""Backtests: past NYSE sessions replayed through the same traders, tools and ledger, point in time.

- :mod:`floor.backtest.records`: a backtest's row (span, traders, model, seeds, status, results)
  and its books, one per (trader, seed), each a ledger of its own (:mod:`floor.books`);
- :mod:`floor.backtest.sessions`: one book played session by session, each session a cycle of
  its own at that session's clock, resumable after the last finished session;
- :mod:`floor.backtest.results`: each book's equity curve and metrics beside SPY bought and held
  and an equal-weight universe, from the same prices.

Nothing here knows Prefect: the ``backtest`` flow (``flows/backtest.py``) and ``floor backtest``
only call these functions.
"""
