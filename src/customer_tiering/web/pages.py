"""The page routes: sign-in into a session cookie, grade list, customer, rating overview, review
queue, audit log, models. Pages call the same use-case functions as the API.

Security: the session cookie is signed, HttpOnly and SameSite=Strict and holds a session token
whose live record is on the server (:mod:`customer_tiering.store.sessions`: sign-out ends it);
every form carries a CSRF token bound to the session; roles are those of the API (a viewer gets
403 on reviewer pages and forms). Pages load nothing from outside the machine: styles are
packaged, charts are SVG drawn on the server, and the Content-Security-Policy says ``'self'``.
"""

from __future__ import annotations

import math
import secrets
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi import Path as InPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import AfterValidator

from customer_tiering.api.bounds import MAX_ID, CustomerIdPath, expiry_in_range, plain_text
from customer_tiering.api.deps import State
from customer_tiering.api.service import customer_explanation, customer_grade, customer_story
from customer_tiering.core.errors import TieringError
from customer_tiering.i18n import catalogue as i18n
from customer_tiering.i18n import numbers
from customer_tiering.rating.reviews import audit_log, decide
from customer_tiering.store.keys import ApiKey, verify_key
from customer_tiering.store.queries import GradeFilters
from customer_tiering.store.sessions import end_session, start_session
from customer_tiering.store.tier_store import GONE, NEW
from customer_tiering.web import charts, model_pages, review_pages  # noqa: F401  (their routes join router)
from customer_tiering.web.page_kit import (
    FormText,
    QueryText,
    audit_rows,
    check_csrf,
    feature_name,
    gate,
    page_lang,
    render,
    router,
    same_site_path,
    signed_in,
)

__all__ = ["router"]

_SORTS = ("-total", "total", "-churn_probability", "customer_id")  # offered on the page
_PAGE_SIZE = 50
_HOME = "/"



@router.get("/", response_model=None)
def home(request: Request, state: State) -> Response:
    return RedirectResponse("/grades" if signed_in(request, state) else "/login", 303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    """The sign-in form; it carries a same-site ``next`` on to the sign-in (a hidden field)."""
    return render(request, "login.html",
                 {"next": same_site_path(request.query_params.get("next", "")) or ""})


@router.post("/login", response_model=None)
def login(request: Request, state: State, api_key: FormText = "", csrf: FormText = "",
          next_path: Annotated[str, Form(alias="next", max_length=2000),
                               AfterValidator(plain_text)] = "") -> Response:
    """Sign in with an API key, then go to ``next`` if it is a path of this site, else home."""
    check_csrf(request, csrf)
    target = same_site_path(next_path or request.query_params.get("next", ""))
    found = verify_key(state.store, api_key.strip())
    if found is None:
        return render(request, "login.html", {"error": i18n.text("bad_key", page_lang(request)),
                                             "next": target or ""}, 401)
    lang = request.session.get("lang", "zh")
    request.session.clear()  # a new session on sign-in (no fixation)
    lifetime = timedelta(seconds=state.settings.session_max_age_seconds)
    request.session.update({"sid": start_session(state.store, found.key_id, lifetime),
                            "lang": lang, "csrf": secrets.token_urlsafe(24)})
    return RedirectResponse(target or _HOME, 303)


@router.post("/logout", response_model=None)
def logout(request: Request, state: State, csrf: FormText = "") -> Response:
    """Sign out: the session ends on the server, so a copy of its cookie stops working too."""
    check_csrf(request, csrf)
    end_session(state.store, request.session.get("sid"))
    request.session.clear()
    return RedirectResponse("/login", 303)


@router.get("/grades", response_model=None)
def grade_list(request: Request, state: State, q: QueryText = "", grade: QueryText = "",
               region: QueryText = "", customer_type: QueryText = "", segment: QueryText = "",
               changed: QueryText = "", provisional: QueryText = "", sort: QueryText = "-total",
               page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:
    user = gate(request, state, "viewer")
    if not isinstance(user, ApiKey):
        return user
    lang = page_lang(request)
    rating = state.store.rating_or_latest()
    listing = state.store.grade_list(
        rating.id, GradeFilters(grade=grade, region=region, customer_type=customer_type,
                                segment=segment, changed=True if changed else None, search=q,
                                provisional=True if provisional else None),
        sort=sort if sort in _SORTS else _SORTS[0], page=page, page_size=_PAGE_SIZE)
    options = state.store.grade_filter_options(rating.id)
    labels = {g: v[lang] for g, v in rating.grade_labels.items()}
    filters = {"q": q, "grade": grade, "region": region, "customer_type": customer_type,
               "segment": segment, "changed": changed, "provisional": provisional, "sort": sort}
    kept = {k: v for k, v in filters.items() if v}
    export = {k: v for k, v in {**kept, "format": "csv", "lang": lang, "rating_id": rating.id,
                                "changed": "true" if changed else "",
                                "provisional": "true" if provisional else ""}.items()
              if v and k != "q" and k != "sort"}
    return render(request, "grades.html", {
        "rating": rating, "rows": listing.rows, "count": listing.total_count, "f": filters,
        "labels": labels, "grade_options": list(labels.items()),
        "regions": [(r, i18n.region_name(r, lang)) for r in options["region"]],
        "types": [(r, i18n.customer_type_name(r, lang)) for r in options["customer_type"]],
        "segments": [(r, i18n.segment_name(r, lang)) for r in options["segment"]],
        "sorts": [(s, i18n.text(f"sort_{s}", lang)) for s in _SORTS], "page": page,
        "pages": max(math.ceil(listing.total_count / _PAGE_SIZE), 1),
        "page_query": urllib.parse.urlencode(kept),
        "export_query": urllib.parse.urlencode(export)}, user=user)


def _customer_context(request: Request, state: State, customer_id: str, lang: str
                      ) -> dict[str, Any]:
    g = customer_grade(state, customer_id, lang)
    explanation = customer_explanation(state, customer_id, None, lang)
    record = state.rating(g.rating_id)
    labels = {gid: v[lang] for gid, v in record.grade_labels.items()}
    rows = [(customer_id, r.part, r.item, r.label, r.value, r.band, r.points)
            for r in explanation.rows]
    story = customer_story(state, record, customer_id, rows, explanation.total, g.rated_grade,
                           lang)
    for r in explanation.rows:  # the stored "missing" band, in words
        r.band = i18n.band_name(r.band, lang)
    steps = [(p.item, p.label, p.points) for p in story.parts]
    history = state.store.customer_history(customer_id)
    points = [(f"#{int(r['rating_id'])} {r['as_of']}", float(r["total"]))
              for r in history.to_dict(orient="records")]
    reviews = audit_rows(audit_log(state.store, customer_id=customer_id), labels, lang)
    models = [p for p in story.parts if p.detail]
    card_max = sum(p.max_points or 0.0 for p in story.parts if p.part == "scorecard")
    return {"g": g, "explanation": explanation, "story": story, "labels": labels,
            "grade_options": list(labels.items()), "models": models,
            "card_max": card_max / story.scorecard_weight if story.scorecard_weight else None,
            "card_weighted": card_max,
            "waterfall": charts.waterfall(steps, explanation.total,
                                          i18n.text("explanation", lang),
                                          i18n.text("total", lang)),
            "history_chart": charts.line(points, i18n.text("history", lang),
                                         y_label=i18n.text("chart_total", lang)),
            "reviews": reviews}




@router.get("/customers/{customer_id}", response_model=None)
def customer_page(request: Request, state: State, customer_id: CustomerIdPath) -> Response:
    user = gate(request, state, "viewer")
    if not isinstance(user, ApiKey):
        return user
    lang = page_lang(request)
    return render(request, "customer.html", _customer_context(request, state, customer_id, lang),
                 user=user)


@router.post("/customers/{customer_id}/override", response_model=None)
def override_form(request: Request, state: State, customer_id: CustomerIdPath,
                  new_grade: FormText = "", reason: FormText = "", expires: FormText = "",
                  csrf: FormText = "") -> Response:
    user = gate(request, state, "reviewer")
    if not isinstance(user, ApiKey):
        return user
    check_csrf(request, csrf)
    lang = page_lang(request)
    try:
        expires_at = expiry_in_range(datetime.fromisoformat(expires).replace(tzinfo=UTC)
                                     if expires else None)
        decide(state.store, customer_id, "override", reviewer=user.name, reason=reason,
               new_grade=new_grade, expires_at=expires_at)
    except TieringError as exc:
        return _form_error(request, state, customer_id, lang, user, i18n.error_text(exc, lang))
    except ValueError:  # a date that is not one, or one more than a century away
        return _form_error(request, state, customer_id, lang, user,
                           i18n.text("error_bad_date", lang))
    return RedirectResponse(f"/customers/{urllib.parse.quote(customer_id)}", 303)


def _form_error(request: Request, state: State, customer_id: str, lang: str, user: ApiKey,
                message: str) -> HTMLResponse:
    """The customer page again, with the form's error in the reader's language (400)."""
    context = _customer_context(request, state, customer_id, lang)
    return render(request, "customer.html", {**context, "error": message}, 400, user=user)


@router.post("/customers/{customer_id}/review", response_model=None)
def review_form(request: Request, state: State, customer_id: CustomerIdPath,
                action: FormText = "", reason: FormText = "", csrf: FormText = "") -> Response:
    user = gate(request, state, "reviewer")
    if not isinstance(user, ApiKey):
        return user
    check_csrf(request, csrf)
    lang = page_lang(request)
    try:
        if action not in ("accept", "reject"):
            raise TieringError(f"action {action!r}: accept or reject", key="error_unknown_action")
        decide(state.store, customer_id, action, reviewer=user.name, reason=reason)  # type: ignore[arg-type]
    except TieringError as exc:
        return _form_error(request, state, customer_id, lang, user, i18n.error_text(exc, lang))
    return RedirectResponse(f"/customers/{urllib.parse.quote(customer_id)}", 303)


@router.get("/ratings", response_model=None)
def latest_rating_page(request: Request, state: State) -> Response:
    return rating_page(request, state, None)


@router.get("/ratings/{rating_id}", response_model=None)
def rating_page(request: Request, state: State,
                rating_id: Annotated[int | None, InPath(ge=1, le=MAX_ID)]) -> Response:
    user = gate(request, state, "viewer")
    if not isinstance(user, ApiKey):
        return user
    lang = page_lang(request)
    rating = state.store.rating_or_latest(rating_id)
    shares = state.store.grade_shares(rating.id)
    labels = {g: v[lang] for g, v in rating.grade_labels.items()}
    share_rows = [{"label": labels.get(str(r["grade"]), r["grade"]), **r}
                  for r in shares.to_dict(orient="records")]
    revenue = state.store.revenues_desc(rating.id)
    previous = state.store.previous_periodic(rating.id) if rating.kind == "periodic" else None
    migration = None
    if previous is not None:
        matrix = state.store.migration_matrix(previous.id, rating.id)
        top = float(matrix.to_numpy().max()) if matrix.size else 0.0
        named = {**labels, **{c: i18n.code("migration", c, lang) for c in (NEW, GONE)}}
        migration = {"columns": [named.get(c, c) for c in matrix.columns],
                     "rows": [(named.get(f, f), [(int(v), charts.heat_colour(float(v), top))
                                                 for v in row])
                              for f, row in zip(matrix.index, matrix.to_numpy(), strict=True)]}
    return render(request, "rating.html", {
        "rating": rating, "shares": share_rows, "labels": labels,
        "distribution": charts.bars([(s["label"], s["customer_share"]) for s in share_rows],
                                    i18n.text("distribution", lang)),
        "pareto": charts.pareto(revenue, i18n.text("pareto", lang),
                                x_label=i18n.text("chart_customer_share", lang),
                                y_label=i18n.text("chart_revenue_share", lang),
                                mark=lambda share: i18n.text("chart_top20", lang,
                                                             share=numbers.percent(share, 0))),
        "migration": migration,
        "previous_id": previous.id if previous else None,
        "warnings": [{**d, "source": i18n.code("model", d["source"], lang),
                      "column": feature_name(d["column"], lang),
                      "change": i18n.code("drift_change", d["change"], lang) if d["change"]
                      else None}
                     for d in rating.drift if d["warning"]],
        "checks": [{"passed": c["passed"], "message": c["message"].get(lang, c["message"]["en"]),
                    "fix": (c["fix"] or {}).get(lang)} for c in rating.checks or []],
        "amounts_in": rating.configs.get("amounts_in")}, user=user)
