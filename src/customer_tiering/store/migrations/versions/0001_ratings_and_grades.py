"""Ratings and the grades they give: the first tier store.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rating_key", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("scheme", sa.String(64), nullable=False),
        sa.Column("horizon_days", sa.Integer, nullable=True),
        sa.Column("customer_id", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
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
    )
    op.create_index("ix_ratings_kind_as_of", "ratings", ["kind", "as_of"])
    op.create_table(
        "grades",
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
    )
    op.create_index("ix_grades_customer", "grades", ["customer_id", "rating_id"])
    op.create_index("ix_grades_rating_grade", "grades", ["rating_id", "grade"])


def downgrade() -> None:
    op.drop_table("grades")
    op.drop_table("ratings")
