"""ASGI entry point: ``uvicorn serving.asgi:app`` (``tiering serve`` does this for you).

Settings come from the environment (``TIERING_*``); see the README's configuration table.
"""

from customer_tiering.api.asgi import app

__all__ = ["app"]
