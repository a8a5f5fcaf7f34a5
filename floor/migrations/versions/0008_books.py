"""books: ledgers of their own for backtests, each a Postgres schema with the floor's tables

One row per book; the book's tables live in the schema ``schema_name`` (see ``floor/books.py``,
which creates and drops them). The live floor stays where it is, in the database's own schema.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "books",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("schema_name", sa.String(63), nullable=False, unique=True),
        sa.Column("label", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    # Each book's schema goes with its row.
    op.execute(
        """
        DO $$
        DECLARE name text;
        BEGIN
            FOR name IN SELECT schema_name FROM books LOOP
                EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', name);
            END LOOP;
        END $$;
        """
    )
    op.drop_table("books")
