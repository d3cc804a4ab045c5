"""Errors as JSON that name the field, never a stack trace; and the request body size limit."""

from __future__ import annotations

import html
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from customer_tiering.core.errors import ModelMismatchError, TieringError
from customer_tiering.registry.versions import NoChampionError
from customer_tiering.store.tier_store import UnknownRatingError

__all__ = ["BodySizeLimit", "BodyTooLarge", "install_error_handlers"]

log = logging.getLogger("customer_tiering.api")


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _is_page(request: Request) -> bool:
    """Pages get an HTML error; the API (``/v1``, ``/health``, ``/metrics``) gets JSON."""
    return not request.url.path.startswith(("/v1/", "/health", "/metrics", "/openapi", "/docs"))


def _answer(request: Request, detail: str, status: int, headers: Any = None) -> Response:
    if _is_page(request):
        text = html.escape(detail)
        body = (f'<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" '
                f'content="width=device-width, initial-scale=1"><title>{status}</title>'
                f'<link rel="stylesheet" href="/static/style.css"></head><body><main>'
                f'<div class="card"><h1 id="error">{status}</h1><p class="error">{text}</p>'
                f'<p><a href="javascript:history.back()">←</a> · <a href="/grades">/grades</a>'
                f"</p></div></main></body></html>")
        return HTMLResponse(body, status_code=status, headers=headers)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map our errors and FastAPI's to ``{"detail": ..., "errors": [{"field", "message"}]}``
    (an HTML page instead for the web pages)."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "invalid")}
                  for e in exc.errors()]
        fields = ", ".join(e["field"] for e in errors[:5])
        if _is_page(request):
            reasons = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
            return _answer(request, f"invalid request: {reasons}", 422)
        return JSONResponse({"detail": f"invalid request: {fields}", "errors": errors},
                            status_code=422)

    @app.exception_handler(UnknownRatingError)
    async def unknown(request: Request, exc: UnknownRatingError) -> Response:
        return _answer(request, str(exc), 404)

    @app.exception_handler(NoChampionError)
    @app.exception_handler(ModelMismatchError)
    async def no_model(request: Request, exc: TieringError) -> Response:
        return _answer(request, str(exc), 503)

    @app.exception_handler(TieringError)
    async def ours(request: Request, exc: TieringError) -> Response:
        return _answer(request, str(exc), 400)

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> Response:
        return _answer(request, str(exc.detail), exc.status_code, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _answer(request, "internal error; the server log has the details", 500)


class BodyTooLarge(StarletteHTTPException):
    """A request body past the limit, noticed while reading it (a chunked body has no length).

    An HTTP error on purpose: FastAPI turns any other exception raised while it reads a body into
    "400 There was an error parsing the body", but passes HTTP errors on to the handlers above,
    which answer 413 as JSON or as a page.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body larger than {max_bytes:,} bytes")


class BodySizeLimit:
    """Refuse request bodies above ``max_bytes`` with 413: by the declared ``Content-Length``
    before reading, and by counting the bytes read, so a chunked body is refused alike."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            if seen > self.max_bytes:  # asked again after the refusal: read no further
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except BodyTooLarge:
            if started:  # the body was read after the answer began (a streamed response)
                raise
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        response = _answer(Request(scope), f"request body larger than {self.max_bytes:,} bytes",
                           413)
        await response(scope, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
