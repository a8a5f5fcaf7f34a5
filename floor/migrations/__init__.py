"""Alembic migrations of the floor's schema, applied by ``floor.database.migrate``."""
