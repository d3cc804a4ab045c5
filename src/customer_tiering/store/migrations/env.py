"""Alembic environment for the tier store.

Run by :meth:`customer_tiering.store.tier_store.TierStore.open` (``alembic upgrade head`` on the connection it
passes in ``config.attributes["connection"]``), or by hand::

    alembic -x url=sqlite:///data/tiering.db -c src/customer_tiering/store/migrations/alembic.ini upgrade head
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from customer_tiering.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url")
    engine = sa.create_engine(str(url))
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        context.run_migrations()
    engine.dispose()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
