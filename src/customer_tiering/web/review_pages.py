"""The review queue (paged, counted, ordered by what matters; bulk decisions) and the audit log."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from customer_tiering.api.bounds import plain_text
from customer_tiering.api.deps import State
from customer_tiering.api.service import grade_lines
from customer_tiering.core.errors import TieringError
from customer_tiering.i18n import catalogue as i18n
from customer_tiering.rating.reviews import audit_log, decide, work_queue
from customer_tiering.store.keys import ApiKey
from customer_tiering.web.page_kit import (
    FormText,
    audit_rows,
    check_csrf,
    gate,
    page_lang,
    render,
    router,
)

__all__ = ["audit_page", "decide_many", "reviews_page"]

_QUEUE_PAGE = 50


def _why(row: dict[str, Any], lang: str, labels: dict[str, str]) -> str:
    """Why a queue row is there, in the page's language (the words from the catalogue)."""
    def tr(key: str, **params: Any) -> str:
        return i18n.text(key, lang, **params)

    if row["kind"] == "expiring":
        grade = row["override_grade"]
        return tr("why_expiring", grade=labels.get(grade, grade),
                  date=row["expires_at"].date().isoformat())
    if row["kind"] == "provisional":
        return tr("why_provisional")
    steps = row["steps"]
    text = tr("why_change", old=labels.get(row["previous_grade"], row["previous_grade"]),
              new=labels.get(row["grade"], row["grade"]),
              move=tr("why_up" if steps > 0 else "why_down", n=abs(steps)))
    if row["kind"] == "vip_change":
        text = tr("why_vip") + text
    if row["provisional"]:
        text += tr("why_also_provisional")
    return text


@router.get("/reviews", response_model=None)
def reviews_page(request: Request, state: State,
                 page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:
    user = gate(request, state, "reviewer")
    if not isinstance(user, ApiKey):
        return user
    lang = page_lang(request)
    rating = state.store.rating_or_latest()
    order, _ = grade_lines(state, rating)
    found = work_queue(state.store, rating.id, order, limit=_QUEUE_PAGE,
                       offset=(page - 1) * _QUEUE_PAGE)
    labels = {g: v[lang] for g, v in rating.grade_labels.items()}
    for r in found.rows:
        r["why"] = _why(r, lang, labels)
    done = {k: request.query_params.get(k, "") for k in ("accepted", "rejected", "failed")}
    return render(request, "reviews.html", {
        "queue": found.rows, "labels": labels, "count": found.total_count,
        "counts": found.counts, "page": page, "rating": rating,
        "pages": max(math.ceil(found.total_count / _QUEUE_PAGE), 1),
        "done": {k: int(v) for k, v in done.items() if v.isdigit()}}, user=user)


@router.post("/reviews/decide", response_model=None)
def decide_many(request: Request, state: State,
                customer_id: Annotated[list[str], Form(max_length=_QUEUE_PAGE)] = [],  # noqa: B006
                action: FormText = "", reason: FormText = "", csrf: FormText = "",
                page: Annotated[int, Form(ge=1, le=1_000_000)] = 1) -> Response:
    """Accept (or reject) the ticked grade changes of the queue with one reason."""
    user = gate(request, state, "reviewer")
    if not isinstance(user, ApiKey):
        return user
    check_csrf(request, csrf)
    if action not in ("accept", "reject"):
        raise TieringError(f"action {action!r}: accept or reject", key="error_unknown_action")
    if not reason.strip():
        raise TieringError("reason: a review needs a reason", key="error_reason_required")
    done, failed = 0, 0
    for cid in customer_id:
        try:
            decide(state.store, plain_text(cid), action,  # type: ignore[arg-type]
                   reviewer=user.name, reason=reason)
            done += 1
        except (TieringError, ValueError):  # not a change, no such customer: counted, not fatal
            failed += 1
    key = "accepted" if action == "accept" else "rejected"
    return RedirectResponse(f"/reviews?page={page}&{key}={done}&failed={failed}", 303)


@router.get("/audit", response_model=None)
def audit_page(request: Request, state: State) -> Response:
    user = gate(request, state, "reviewer")
    if not isinstance(user, ApiKey):
        return user
    lang = page_lang(request)
    rating = state.store.rating_or_latest()
    labels = {g: v[lang] for g, v in rating.grade_labels.items()}
    entries = audit_rows(audit_log(state.store, limit=500), labels, lang)
    return render(request, "audit.html", {"entries": entries}, user=user)

