"""backtests: a row per backtest, books that belong to one, cycles that replay a session

- ``backtests``: the span, traders, model and seeds of a backtest, its status and results.
- ``books.backtest_id``, ``books.trader``, ``books.seed``: which backtest, trader and seed a book plays.
- ``cycles.session``: the NYSE session a book's cycle replays (NULL on the live floor), one cycle
  per session; ``cycles.closing_state``: the accounts as the completed session left them, where a
  stopped or killed backtest resumes.
- ``daily_close_fetches``: each upstream fetch of a symbol's daily closes (its sessions' range and
  when), so a range fetched once is not asked again where upstream has no rows (a later listing).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backtests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("label", sa.Text(), nullable=False, server_default=""),
        sa.Column("start_day", sa.Date(), nullable=False),
        sa.Column("end_day", sa.Date(), nullable=False),
        sa.Column("traders", JSONB(), nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("seeds", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("status", sa.String(16), nullable=False, server_default="running"),
        sa.Column("flow_run_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("results", JSONB()),
        sa.Column("note", sa.Text()),
        sa.CheckConstraint(
            "status IN ('running', 'stopped', 'completed', 'failed')", name="ck_backtests_status"
        ),
        sa.CheckConstraint("start_day <= end_day", name="ck_backtests_span"),
        sa.CheckConstraint("seeds >= 1", name="ck_backtests_seeds"),
    )
    op.add_column(
        "books",
        sa.Column("backtest_id", sa.Integer(), sa.ForeignKey("backtests.id", ondelete="CASCADE")),
    )
    op.add_column("books", sa.Column("trader", sa.String(64)))
    op.add_column("books", sa.Column("seed", sa.Integer()))
    op.create_unique_constraint("uq_books_backtest_trader_seed", "books", ["backtest_id", "trader", "seed"])
    op.add_column("cycles", sa.Column("session", sa.Date()))
    op.add_column("cycles", sa.Column("closing_state", JSONB()))
    op.create_index(
        "ix_cycles_session",
        "cycles",
        ["session"],
        unique=True,
        postgresql_where=sa.text("session IS NOT NULL"),
    )
    op.create_table(
        "daily_close_fetches",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("first_day", sa.Date(), primary_key=True),
        sa.Column("last_day", sa.Date(), primary_key=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("daily_close_fetches")
    op.drop_index("ix_cycles_session", table_name="cycles")
    op.drop_column("cycles", "closing_state")
    op.drop_column("cycles", "session")
    op.drop_constraint("uq_books_backtest_trader_seed", "books", type_="unique")
    op.drop_column("books", "seed")
    op.drop_column("books", "trader")
    op.drop_column("books", "backtest_id")
    op.drop_table("backtests")
