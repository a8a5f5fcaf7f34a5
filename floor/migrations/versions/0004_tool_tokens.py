"""tool tokens: one hashed bearer credential per trader turn for the tool service

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tool_tokens",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("turn_key", sa.String(length=200), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("kinds", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_tool_tokens_expires_at", "tool_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_tool_tokens_expires_at", table_name="tool_tokens")
    op.drop_table("tool_tokens")
