"""The HTTP API (FastAPI): grades, explanations, what-if scoring, reviews, operations."""

from customer_tiering.api.app import create_app

__all__ = ["create_app"]
