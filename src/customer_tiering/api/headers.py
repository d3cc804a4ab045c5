"""Security headers on every answer of the app, pages and API alike (pure ASGI middleware).

* ``Content-Security-Policy``: pages load nothing from elsewhere (styles are packaged, charts are
  SVG drawn on the server) and may not be framed (``frame-ancestors 'none'``); left off the
  interactive OpenAPI pages (``/docs``, ``/redoc``), which FastAPI builds from a CDN.
* ``X-Frame-Options: DENY``: no framing for browsers that predate ``frame-ancestors``
  (clickjacking of the override form).
* ``Referrer-Policy: no-referrer``: page addresses hold customer ids, and no page needs the
  referrer (forms are guarded by CSRF tokens, not by the ``Referer`` header).
* ``Cache-Control: no-store``: grades, explanations and exports are customer data; no browser
  or proxy keeps a copy. Packaged static files (``/static``) stay cacheable, and a route that
  set its own ``Cache-Control`` keeps it.
* ``X-Content-Type-Options: nosniff``: a CSV or JSON answer is never run as a script.

``Strict-Transport-Security`` is not sent: the app speaks plain HTTP on the loopback by default,
and the TLS proxy in front of it is where HSTS belongs (docs/security.md).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "SecurityHeaders"]

CSP = (b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       b"frame-ancestors 'none'; form-action 'self'")
"""The pages' Content-Security-Policy."""

_ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"no-referrer"))
_OPENAPI_PAGES = ("/docs", "/redoc")


class SecurityHeaders:
    """Add the headers above to every HTTP answer (the ``@app.middleware`` decorator costs about
    a millisecond a request; this costs a list copy)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        framed_from_cdn = path.startswith(_OPENAPI_PAGES)
        cacheable = path.startswith("/static/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in _ALWAYS if h[0] not in names]
                if not framed_from_cdn and b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP))
                if not cacheable and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)
