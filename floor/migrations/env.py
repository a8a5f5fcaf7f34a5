"""Alembic environment: runs on the connection ``floor.database.migrate`` hands over."""

from alembic import context

from floor.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
