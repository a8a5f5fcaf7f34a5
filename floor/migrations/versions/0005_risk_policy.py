"""risk policy: drawdown halts on accounts, the turn and realized P&L of each transaction

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("halted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("accounts", sa.Column("halt_reason", sa.Text(), nullable=True))
    op.add_column("accounts", sa.Column("peak_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("transactions", sa.Column("turn_key", sa.String(length=200), nullable=True))
    op.add_column("transactions", sa.Column("realized", sa.Numeric(16, 2), nullable=True))
    op.create_index("ix_transactions_account_turn", "transactions", ["account_id", "turn_key"])


def downgrade() -> None:
    op.drop_index("ix_transactions_account_turn", table_name="transactions")
    op.drop_column("transactions", "realized")
    op.drop_column("transactions", "turn_key")
    op.drop_column("accounts", "peak_since")
    op.drop_column("accounts", "halt_reason")
    op.drop_column("accounts", "halted_at")
