"""dashboard reader: a NOLOGIN role that may only SELECT, for the dashboard to read as

Created only where the migrating user may create roles (superuser or CREATEROLE); elsewhere this
does nothing and the dashboard keeps to read-only transactions alone. SELECT is granted on every
table there is and, through default privileges, on every table this user creates later, so
later migrations need not mention the role. The migrating user is made a member, so the
dashboard's engine (same login) can ``SET ROLE floor_reader``.

Roles belong to the whole server, not one database: a second floor database on the same server
shares the role, each granting SELECT on its own tables.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:00:00
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Kept self-contained (no imports from the application): the role's name is also in dashboard/app.py.
UPGRADE = """
DO $$
DECLARE
    may_create_roles boolean;
BEGIN
    SELECT rolsuper OR rolcreaterole INTO may_create_roles FROM pg_roles WHERE rolname = current_user;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'floor_reader') THEN
        IF NOT coalesce(may_create_roles, false) THEN
            RAISE NOTICE 'floor_reader not created: % may not create roles', current_user;
            RETURN;
        END IF;
        BEGIN
            CREATE ROLE floor_reader NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created this moment by the migration of another database on the same server
        END;
    END IF;
    BEGIN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO floor_reader', current_schema());
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO floor_reader', current_schema());
        EXECUTE format(
            'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO floor_reader', current_schema()
        );
        EXECUTE format('GRANT floor_reader TO %I', current_user);
    EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN
        -- A role made by someone else that this user may not hand out: leave it to them.
        RAISE NOTICE 'floor_reader not granted: %', SQLERRM;
    END;
END
$$;
"""

DOWNGRADE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'floor_reader') THEN
        RETURN;
    END IF;
    EXECUTE format(
        'ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE SELECT ON TABLES FROM floor_reader', current_schema()
    );
    EXECUTE format('REVOKE SELECT ON ALL TABLES IN SCHEMA %I FROM floor_reader', current_schema());
    EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM floor_reader', current_schema());
    BEGIN
        DROP ROLE floor_reader;
    EXCEPTION WHEN insufficient_privilege OR dependent_objects_still_exist THEN
        -- Still granted in another database on this server, or not ours to drop: keep it.
        RAISE NOTICE 'floor_reader kept: %', SQLERRM;
    END;
END
$$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
