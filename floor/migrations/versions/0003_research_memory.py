"""research memory: a per-trader knowledge graph

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 04:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memory_entities",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("entity_type", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name", name="uq_memory_entities_account_name"),
    )
    op.create_table(
        "memory_observations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["memory_entities.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_memory_observations_entity_id", "memory_observations", ["entity_id", "id"], unique=False
    )
    op.create_table(
        "memory_relations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("from_id", sa.BigInteger(), nullable=False),
        sa.Column("to_id", sa.BigInteger(), nullable=False),
        sa.Column("relation_type", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["from_id"], ["memory_entities.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["to_id"], ["memory_entities.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("from_id", "to_id", "relation_type", name="uq_memory_relations_edge"),
    )
    op.create_index("ix_memory_relations_account_id", "memory_relations", ["account_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_memory_relations_account_id", table_name="memory_relations")
    op.drop_table("memory_relations")
    op.drop_index("ix_memory_observations_entity_id", table_name="memory_observations")
    op.drop_table("memory_observations")
    op.drop_table("memory_entities")
