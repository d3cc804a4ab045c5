"""The tier store: SQLAlchemy tables, Alembic migrations, ratings and reviews on disk, API keys.

Imports only ``core``."""
