"""Bringing a tier store's schema to the newest migration, one migrator at a time.

Every :meth:`~customer_tiering.store.tier_store.TierStore.open` migrates, so processes that open
a new store at the same moment (two ratings started together, a rating and the server) each set
out to create the tables, and on SQLite the slower one failed on "table alembic_version already
exists" (PostgreSQL already took an advisory lock). Now a store at the newest revision is left
alone without any lock: a reader opening it while a rating is being written must not wait for
the rating. A store that needs migrating is migrated under a lock that lets one migrator through
at a time (PostgreSQL's advisory lock; SQLite's write lock, taken with ``BEGIN IMMEDIATE``), and
Alembic reads the revision again under it, so the ones that waited find nothing left to do.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

__all__ = ["MIGRATIONS", "upgrade_to_head"]

MIGRATIONS = Path(__file__).parent / "migrations"
_ADVISORY_LOCK = 727274  # any fixed number: the one PostgreSQL lock all migrators take


def upgrade_to_head(engine: sa.Engine) -> None:
    """Run the Alembic migrations of :data:`MIGRATIONS` up to ``head`` on ``engine``'s database.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The tier store (SQLite or PostgreSQL).
    """
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == head:
            return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})"))
        elif engine.dialect.name == "sqlite":
            # pysqlite opens no transaction before DDL: take the write lock ourselves (waits up
            # to busy_timeout); its commit and rollback end this transaction
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
