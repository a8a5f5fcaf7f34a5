"""crash hygiene and bounded prices: run owners, a crashed status, fills that name their price

- ``run_owners``: the owner numbers of process leases (see ``floor/runs/leases.py``); ``cycles.owner``
  and ``turns.owner`` say which lease started a row, so a running row whose owner is gone can be
  marked ``crashed``. Rows from before this migration have no owner: a running one is crashed by
  the next cycle.
- ``crashed`` joins the turn statuses; cycle statuses get the check they lacked.
- ``transactions.price_id``: the cached price a fill used, so pruning old prices keeps it. Existing
  fills get the row their price book would have read: the newest price of the symbol fetched
  before the fill, in the fill's cycle (or outside any, for a fill outside a cycle).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BACKFILL_PRICE_IDS = """
UPDATE transactions AS t
SET price_id = (
    SELECT p.id FROM prices AS p
    WHERE p.symbol = t.symbol
      AND p.fetched_at <= t.created_at
      AND p.cycle_id IS NOT DISTINCT FROM t.cycle_id
    ORDER BY p.fetched_at DESC, p.id DESC
    LIMIT 1
)
"""


def upgrade() -> None:
    op.execute("CREATE SEQUENCE run_owners AS integer CYCLE")
    op.add_column("cycles", sa.Column("owner", sa.Integer(), nullable=True))
    op.add_column("turns", sa.Column("owner", sa.Integer(), nullable=True))
    op.drop_constraint("ck_turns_status", "turns", type_="check")
    op.create_check_constraint(
        "ck_turns_status", "turns", "status IN ('running', 'succeeded', 'failed', 'skipped', 'crashed')"
    )
    op.create_check_constraint(
        "ck_cycles_status", "cycles", "status IN ('running', 'completed', 'failed', 'crashed')"
    )
    op.add_column("transactions", sa.Column("price_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key("fk_transactions_price_id", "transactions", "prices", ["price_id"], ["id"])
    op.create_index("ix_transactions_price_id", "transactions", ["price_id"])
    op.execute(BACKFILL_PRICE_IDS)
    # Pruning looks for old prices fetched outside any cycle.
    op.create_index(
        "ix_prices_uncycled_fetched", "prices", ["fetched_at"], postgresql_where=sa.text("cycle_id IS NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_prices_uncycled_fetched", table_name="prices")
    op.drop_index("ix_transactions_price_id", table_name="transactions")
    op.drop_constraint("fk_transactions_price_id", "transactions", type_="foreignkey")
    op.drop_column("transactions", "price_id")
    op.drop_constraint("ck_cycles_status", "cycles", type_="check")
    op.execute("UPDATE turns SET status = 'failed' WHERE status = 'crashed'")
    op.execute("UPDATE cycles SET status = 'failed' WHERE status = 'crashed'")
    op.drop_constraint("ck_turns_status", "turns", type_="check")
    op.create_check_constraint(
        "ck_turns_status", "turns", "status IN ('running', 'succeeded', 'failed', 'skipped')"
    )
    op.drop_column("turns", "owner")
    op.drop_column("cycles", "owner")
    op.execute("DROP SEQUENCE run_owners")
