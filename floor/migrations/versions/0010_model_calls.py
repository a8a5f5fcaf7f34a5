"""model calls: every provider call of a backtest's book, recorded; a backtest may replay another

- ``model_calls``: in the live schema and in every book's schema (books made before this revision
  get it here; later books get it with their other tables).
- ``backtests.replay_of``: the backtest whose recording a replay answers from.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _create_model_calls(schema: str | None) -> None:
    op.create_table(
        "model_calls",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("session", sa.Date(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("request", JSONB(), nullable=False),
        sa.Column("response", JSONB(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("output_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cost", sa.Numeric(14, 6), nullable=False, server_default="0"),
        sa.Column("latency_ms", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("session", "seq", name="uq_model_calls_session_seq"),
        schema=schema,
    )


def _book_schemas() -> list[str]:
    return list(op.get_bind().execute(sa.text("SELECT schema_name FROM books ORDER BY id")).scalars())


def upgrade() -> None:
    _create_model_calls(None)
    for schema in _book_schemas():
        _create_model_calls(schema)
    op.add_column(
        "backtests",
        sa.Column("replay_of", sa.Integer(), sa.ForeignKey("backtests.id", ondelete="RESTRICT")),
    )


def downgrade() -> None:
    op.drop_column("backtests", "replay_of")
    for schema in _book_schemas():
        op.drop_table("model_calls", schema=schema)
    op.drop_table("model_calls")
