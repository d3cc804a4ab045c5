"""Request dependencies, defined once for every route: the app state, the caller's API key with
its role, and the language of labels and reasons.

A route that uses the key (to name the reviewer) takes a ``Viewer``, ``Reviewer`` or ``Admin``
parameter; a route that only needs the role lists ``Depends(require_viewer)`` (or
``require_reviewer``, ``require_admin``) in ``dependencies=[...]`` on the route or its router.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader

from customer_tiering.api.state import AppState
from customer_tiering.store.keys import ApiKey, Role, verify_key

__all__ = ["Admin", "Caller", "Lang", "Reviewer", "State", "Viewer", "require", "require_admin",
           "require_reviewer", "require_viewer"]

_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False,
                           description="An API key from `tiering keys create --role ROLE`.")
_CACHE_SECONDS = 30.0  # a revoked key stops working within this time

# The dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in the thread pool,
# a hop that costs more than the work here; the one store lookup (a key not in the cache) still
# goes to the thread pool.


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.tiering
    return state


State = Annotated[AppState, Depends(get_state)]


async def _caller(request: Request, state: State,
            key: Annotated[str | None, Security(_KEY_HEADER)] = None) -> ApiKey:
    presented = key
    if presented is None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            presented = auth[7:].strip()
    if presented is None and request.method == "GET" and "session" in request.scope:
        # Signed-in pages may read (e.g. the CSV export link); writes always need the header,
        # so a cookie alone can never change anything (no CSRF through the API).
        token = request.session.get("sid")
        if token:  # a live session on the server, not just a well-signed cookie (sign-out ends it)
            from customer_tiering.store.sessions import session_key

            found = await run_in_threadpool(session_key, state.store, str(token))
            if found is not None:
                return found
    if not presented:
        raise HTTPException(401, "missing API key: send it in the X-API-Key header",
                            headers={"WWW-Authenticate": "APIKey"})
    now = time.monotonic()
    cached = state.key_cache.get(presented)
    if cached is not None and now - cached[1] < _CACHE_SECONDS:
        return cached[0]  # type: ignore[no-any-return]
    found = await run_in_threadpool(verify_key, state.store, presented)
    if found is None:
        raise HTTPException(401, "invalid or revoked API key",
                            headers={"WWW-Authenticate": "APIKey"})
    state.key_cache[presented] = (found, now)
    return found


def require(role: Role) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that lets in keys with ``role`` or a higher one, and refuses others (403)."""

    async def check(caller: Annotated[ApiKey, Depends(_caller)]) -> ApiKey:
        if not caller.allows(role):
            raise HTTPException(403, f"this needs the {role} role; key {caller.key_id} is "
                                     f"{caller.role}")
        return caller

    return check


# One callable per role: FastAPI runs a dependency once per request per callable, and these are
# what ``dependencies=[Depends(require_viewer)]`` and the types below share.
require_viewer = require("viewer")
require_reviewer = require("reviewer")
require_admin = require("admin")

Viewer = Annotated[ApiKey, Depends(require_viewer)]
"""The caller's key, which has the viewer role or a higher one (else 401 or 403)."""
Reviewer = Annotated[ApiKey, Depends(require_reviewer)]
"""The caller's key, which has the reviewer role or a higher one (else 401 or 403)."""
Admin = Annotated[ApiKey, Depends(require_admin)]
"""The caller's key, which has the admin role (else 401 or 403)."""
Lang = Annotated[Literal["zh", "en"], Query(description="language of labels and reasons")]
"""The language of grade labels, reasons and export headers (``zh`` or ``en``)."""

Caller = ApiKey
