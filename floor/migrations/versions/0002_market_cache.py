"""market cache: daily closes for price history, cached per source

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 04:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_closes",
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("close", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("close > 0", name="ck_daily_closes_positive"),
        sa.PrimaryKeyConstraint("symbol", "day", "source"),
    )
    # The cycle's cache-first lookup: the newest batch of one source.
    op.create_index("ix_prices_source_fetched", "prices", ["source", "fetched_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_prices_source_fetched", table_name="prices")
    op.drop_table("daily_closes")
