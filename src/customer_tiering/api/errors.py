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
from customer_tiering.i18n.catalogue import error_text, text
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


def _page_lang(request: Request) -> str:
    """The language of the reader's pages (their session's; Chinese by default)."""
    session = request.scope.get("session") or {}
    asked = request.query_params.get("lang")
    lang = asked if asked in ("zh", "en") else session.get("lang", "zh")
    return lang if lang in ("zh", "en") else "zh"


def _answer(request: Request, detail: str, status: int, headers: Any = None,
            message: str | None = None) -> Response:
    """JSON ``{"detail": detail}`` for the API; for a page, an HTML page with ``message`` (the
    catalogue's words in the reader's language), or ``detail`` when there is none."""
    if _is_page(request):
        lang = _page_lang(request)
        shown = html.escape(message if message is not None else detail)
        body = (f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
                f'<meta charset="utf-8"><meta name="viewport" '
                f'content="width=device-width, initial-scale=1"><title>{status}</title>'
                f'<link rel="stylesheet" href="/static/style.css"></head><body><main>'
                f'<div class="card"><h1 id="error">{status} · {html.escape(text("error", lang))}'
                f'</h1><p class="error">{shown}</p>'
                f'<p><a href="javascript:history.back()">← {html.escape(text("back", lang))}</a>'
                f' · <a href="/grades">{html.escape(text("grades", lang))}</a>'
                f"</p></div></main></body></html>")
        return HTMLResponse(body, status_code=status, headers=headers)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _words(request: Request, exc: BaseException) -> str | None:
    """A page's words for an error that carries a catalogue key (None: its own words)."""
    return error_text(exc, _page_lang(request)) if getattr(exc, "key", None) else None


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
            return _answer(request, f"invalid request: {reasons}", 422,
                           message=text("error_invalid_request", _page_lang(request)))
        return JSONResponse({"detail": f"invalid request: {fields}", "errors": errors},
                            status_code=422)

    @app.exception_handler(UnknownRatingError)
    async def unknown(request: Request, exc: UnknownRatingError) -> Response:
        return _answer(request, str(exc), 404, message=_words(request, exc))

    @app.exception_handler(NoChampionError)
    @app.exception_handler(ModelMismatchError)
    async def no_model(request: Request, exc: TieringError) -> Response:
        return _answer(request, str(exc), 503)

    @app.exception_handler(TieringError)
    async def ours(request: Request, exc: TieringError) -> Response:
        return _answer(request, str(exc), 400, message=_words(request, exc))

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> Response:
        return _answer(request, str(exc.detail), exc.status_code, getattr(exc, "headers", None),
                       message=text("error_not_found", _page_lang(request))
                       if exc.status_code == 404 else None)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _answer(request, "internal error; the server log has the details", 500,
                       message=text("error_internal", _page_lang(request)))


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
