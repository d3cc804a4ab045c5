"""The tier store's tables, as SQLAlchemy Core metadata (the schema the migrations build).

Kept beside :mod:`customer_tiering.store.tier_store` so the queries and the Alembic environment share one
definition; a schema change is a new file in ``migrations/versions`` plus the matching edit here
(``tests/store/test_tier_store.py`` checks that the migrated database and this metadata agree).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

__all__ = ["GRADE_COLUMNS", "api_keys", "grade_records", "grades", "metadata", "ratings", "reviews",
           "web_sessions"]

metadata = sa.MetaData()


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC time stamp on every backend.

    PostgreSQL keeps the zone; SQLite has no zone type and returns naive values, which would
    reach API clients as times without an offset (not RFC 3339). Stored as UTC, read back aware.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive time stamp {value!r}: give it a timezone")
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

ratings = sa.Table(
    "ratings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rating_key", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("scheme", sa.String(64), nullable=False),
    sa.Column("horizon_days", sa.Integer, nullable=True),
    sa.Column("customer_id", sa.String(128), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("seconds", sa.Float, nullable=True),
    sa.Column("customer_count", sa.Integer, nullable=False),
    sa.Column("data_fingerprint", sa.String(128), nullable=True),
    sa.Column("configs", sa.JSON, nullable=False),
    sa.Column("models", sa.JSON, nullable=False),
    sa.Column("criteria", sa.JSON, nullable=False),
    sa.Column("grade_labels", sa.JSON, nullable=False),
    sa.Column("policies", sa.JSON, nullable=False),
    sa.Column("reference", sa.JSON, nullable=False),
    sa.Column("drift", sa.JSON, nullable=False),
    sa.Column("counts", sa.JSON, nullable=False),
    sa.Column("checks", sa.JSON, nullable=True),  # sanity checks of the rating (0003)
    sa.Index("ix_ratings_kind_as_of", "kind", "as_of"),
)

grades = sa.Table(
    "grades",
    metadata,
    sa.Column("rating_id", sa.Integer, sa.ForeignKey("ratings.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("customer_id", sa.String(128), primary_key=True),
    sa.Column("customer_name", sa.Text, nullable=True),
    sa.Column("region", sa.String(128), nullable=True),
    sa.Column("customer_type", sa.String(64), nullable=True),
    sa.Column("segment", sa.String(128), nullable=True),
    sa.Column("churn_probability", sa.Float, nullable=True),
    sa.Column("expected_value", sa.Float, nullable=True),
    sa.Column("revenue_365d", sa.Float, nullable=True),
    sa.Column("scorecard_total", sa.Float, nullable=False),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("grade", sa.String(32), nullable=False),
    sa.Column("previous_grade", sa.String(32), nullable=True),
    sa.Column("provisional", sa.Boolean, nullable=False),
    sa.Column("points", sa.Text, nullable=False),
    sa.Column("explanation", sa.Text, nullable=False),
    sa.Column("reason_zh", sa.Text, nullable=False),
    sa.Column("reason_en", sa.Text, nullable=False),
    sa.Index("ix_grades_customer", "customer_id", "rating_id"),
    sa.Index("ix_grades_rating_grade", "rating_id", "grade"),
)

GRADE_COLUMNS: tuple[str, ...] = tuple(c.name for c in grades.columns if c.name != "rating_id")

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.String(128), nullable=False),
    sa.Column("rating_id", sa.Integer, sa.ForeignKey("ratings.id"), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("old_grade", sa.String(32), nullable=True),
    sa.Column("new_grade", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("reviewer", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Index("ix_reviews_customer", "customer_id", "id"),
)

web_sessions = sa.Table(  # signed-in page sessions (0004): signing out ends one on the server
    "web_sessions",
    metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(32), sa.ForeignKey("api_keys.key_id"), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("ended_at", UTCDateTime(), nullable=True),
    sa.Index("ix_web_sessions_expires_at", "expires_at"),
)


def grade_records(chunk: pd.DataFrame, rating_id: int) -> list[dict[str, Any]]:
    """A chunk of grade rows as the driver takes them (NaN -> NULL, NumPy scalars -> Python).

    Parameters
    ----------
    chunk : rows with :data:`GRADE_COLUMNS`.
    rating_id : the rating they belong to.

    Returns
    -------
    list of dict
        One ``grades`` row per customer.
    """
    out = chunk.astype(object).where(chunk.notna(), None)
    records: list[dict[str, Any]] = out.to_dict(orient="records")  # type: ignore[assignment]
    for r in records:
        r["rating_id"] = rating_id
        r["provisional"] = bool(r["provisional"])
    return records
