"""What every page shares: the router, the templates, sign-in and CSRF checks, the page frame.

The routes themselves are in :mod:`customer_tiering.web.pages` (sign-in, grades, customer,
rating), :mod:`customer_tiering.web.review_pages` (queue, audit) and
:mod:`customer_tiering.web.model_pages` (models and their figures), all on :data:`router`.
"""

from __future__ import annotations

import hmac
import secrets
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as InPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import AfterValidator

from customer_tiering.api.bounds import plain_text
from customer_tiering.api.deps import State
from customer_tiering.core.errors import TieringError
from customer_tiering.i18n import catalogue as i18n
from customer_tiering.i18n import numbers
from customer_tiering.ingest.contract import FEATURE_LABELS
from customer_tiering.store.keys import ApiKey, Role
from customer_tiering.store.sessions import session_key

__all__ = ["FormText", "PathText", "QueryText", "audit_rows", "check_csrf", "csrf_token",
           "feature_name", "gate", "minute", "page_lang", "render", "router", "same_site_path", "signed_in",
           "templates"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Every word and number a page shows goes through the catalogue and the one number format.
templates.env.filters.update({
    "num": numbers.number, "pct": numbers.percent, "pts": numbers.points,
    "val": numbers.value, "minute": lambda v: minute(v)})
# What the pages take (api/bounds.py): text without NUL characters, of bounded length.
FormText = Annotated[str, Form(max_length=2000), AfterValidator(plain_text)]
QueryText = Annotated[str, Query(max_length=128), AfterValidator(plain_text)]
PathText = Annotated[str, InPath(max_length=128), AfterValidator(plain_text)]



def page_lang(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in ("zh", "en"):
        request.session["lang"] = asked
    return str(request.session.get("lang", "zh"))


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, token: str) -> None:
    if not hmac.compare_digest(str(request.session.get("csrf", "")), token or ""):
        raise TieringError("the form expired or did not come from this site (CSRF); reload it",
                           key="error_csrf")


def signed_in(request: Request, state: State) -> ApiKey | None:
    """The signed-in key, while the session is live on the server (not signed out, not expired,
    its key not revoked); a cookie naming a dead session is cleared."""
    token = request.session.get("sid")
    if not token:
        return None
    found = session_key(state.store, str(token))
    if found is None:
        request.session.clear()
    return found


def render(request: Request, name: str, context: dict[str, Any], status: int = 200,
          user: ApiKey | None = None) -> HTMLResponse:
    lang = page_lang(request)
    return templates.TemplateResponse(request, name, {
        "t": i18n.messages(lang), "lang": lang, "user": user, "csrf": csrf_token(request),
        "tr": lambda key, **params: i18n.text(key, lang, **params),
        "code": lambda group, value: i18n.code(group, value, lang),
        "seg": lambda value: i18n.segment_name(value, lang),
        "policy_value": lambda field, value: i18n.policy_value(field, value, lang),
        **context}, status_code=status)


def same_site_path(target: str) -> str | None:
    """``target`` when it is a path on this site, else None: sign-in sends the browser there.

    Only an absolute path with one leading ``/`` passes. Browsers read ``//host`` and ``/\\host``
    as another host (a backslash counts as a slash) and drop tabs and line breaks from a URL
    (``/<tab>/host`` becomes ``//host``), so those, control characters anywhere, and anything
    with a scheme (``https:``, ``javascript:``) are refused.
    """
    if not target.startswith("/") or target[1:2] in ("/", "\\"):
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    return target


def gate(request: Request, state: State, role: Role) -> ApiKey | Response:
    user = signed_in(request, state)
    if user is None:
        if request.method != "GET":  # a form post cannot be repeated by a redirect after sign-in
            return RedirectResponse("/login", 303)
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={urllib.parse.quote(wanted, safe='/')}", 303)
    if not user.allows(role):
        return render(request, "forbidden.html", {"needed": role}, status=403, user=user)
    return user



def audit_rows(frame: Any, labels: dict[str, str], lang: str) -> list[dict[str, Any]]:
    """Review rows as people read them: the action and the grades in words, times to the
    minute."""
    rows: list[dict[str, Any]] = frame.to_dict(orient="records")
    for r in rows:
        r["action"] = i18n.action_name(r["action"], lang)
        r["old_grade"] = labels.get(r["old_grade"], r["old_grade"] or "")
        r["new_grade"] = labels.get(r["new_grade"], r["new_grade"] or "")
        r["created_at"] = minute(r["created_at"])
        r["expires_at"] = minute(r.get("expires_at"))
    return rows


def minute(value: Any) -> str:
    """A stored time as ``YYYY-MM-DD HH:MM`` (UTC), '' for none."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    try:
        return f"{value:%Y-%m-%d %H:%M}"
    except (TypeError, ValueError):
        return str(value)[:16]


def feature_name(column: str, lang: str) -> str:
    """A model input's name in words (the column name when none is known)."""
    names = FEATURE_LABELS.get(column)
    return names[0 if lang == "zh" else 1] if names else i18n.code("column", column, lang)
