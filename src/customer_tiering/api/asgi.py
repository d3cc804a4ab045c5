"""The ASGI application object for uvicorn (settings from the environment)."""

from customer_tiering.api.app import create_app

app = create_app()
