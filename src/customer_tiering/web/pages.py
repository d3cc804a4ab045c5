"""The page routes: sign-in into a session cookie, grade list, customer, rating overview, review
queue, audit log, models. Pages call the same use-case functions as the API.

Security: the session cookie is signed, HttpOnly and SameSite=Strict and holds a session token
whose live record is on the server (:mod:`customer_tiering.store.sessions`: sign-out ends it);
every form carries a CSRF token bound to the session; roles are those of the API (a viewer gets
403 on reviewer pages and forms). Pages load nothing from outside the machine: styles are
packaged, charts are SVG drawn on the server, and the Content-Security-Policy says ``'self'``.
"""

from __future__ import annotations

import hmac
import math
import secrets
import tempfile
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi import Path as InPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import AfterValidator

from customer_tiering.api.bounds import MAX_ID, CustomerIdPath, expiry_in_range, plain_text
from customer_tiering.api.deps import State
from customer_tiering.api.service import customer_explanation, customer_grade, customer_story, grade_lines
from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import Settings
from customer_tiering.i18n import catalogue as i18n
from customer_tiering.i18n import numbers
from customer_tiering.ingest.contract import FEATURE_LABELS
from customer_tiering.rating.reviews import audit_log, decide, work_queue
from customer_tiering.store.keys import ApiKey, Role, verify_key
from customer_tiering.store.queries import GradeFilters
from customer_tiering.store.sessions import end_session, session_key, start_session
from customer_tiering.store.tier_store import GONE, NEW
from customer_tiering.web import charts

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Every word and number a page shows goes through the catalogue and the one number format.
templates.env.filters.update({
    "num": numbers.number, "pct": numbers.percent, "pts": numbers.points,
    "val": numbers.value, "minute": lambda v: _minute(v)})
_SORTS = ("-total", "total", "-churn_probability", "customer_id")  # offered on the page
_PAGE_SIZE = 50
_HOME = "/"
_PLOTS = ("calibration_curve", "capture_curve", "shap_summary")
# What the pages take (api/bounds.py): text without NUL characters, of bounded length.
FormText = Annotated[str, Form(max_length=2000), AfterValidator(plain_text)]
QueryText = Annotated[str, Query(max_length=128), AfterValidator(plain_text)]
PathText = Annotated[str, InPath(max_length=128), AfterValidator(plain_text)]


def _lang(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in ("zh", "en"):
        request.session["lang"] = asked
    return str(request.session.get("lang", "zh"))


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return str(token)


def _check_csrf(request: Request, token: str) -> None:
    if not hmac.compare_digest(str(request.session.get("csrf", "")), token or ""):
        raise TieringError("the form expired or did not come from this site (CSRF); reload it",
                           key="error_csrf")


def _user(request: Request, state: State) -> ApiKey | None:
    """The signed-in key, while the session is live on the server (not signed out, not expired,
    its key not revoked); a cookie naming a dead session is cleared."""
    token = request.session.get("sid")
    if not token:
        return None
    found = session_key(state.store, str(token))
    if found is None:
        request.session.clear()
    return found


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200,
          user: ApiKey | None = None) -> HTMLResponse:
    lang = _lang(request)
    return templates.TemplateResponse(request, name, {
        "t": i18n.messages(lang), "lang": lang, "user": user, "csrf": _csrf(request),
        "tr": lambda key, **params: i18n.text(key, lang, **params),
        "code": lambda group, value: i18n.code(group, value, lang),
        "seg": lambda value: i18n.segment_name(value, lang),
        "policy_value": lambda field, value: i18n.policy_value(field, value, lang),
        **context}, status_code=status)


def _same_site_path(target: str) -> str | None:
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


def _gate(request: Request, state: State, role: Role) -> ApiKey | Response:
    user = _user(request, state)
    if user is None:
        if request.method != "GET":  # a form post cannot be repeated by a redirect after sign-in
            return RedirectResponse("/login", 303)
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={urllib.parse.quote(wanted, safe='/')}", 303)
    if not user.allows(role):
        return _page(request, "forbidden.html", {"needed": role}, status=403, user=user)
    return user


@router.get("/", response_model=None)
def home(request: Request, state: State) -> Response:
    return RedirectResponse("/grades" if _user(request, state) else "/login", 303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    """The sign-in form; it carries a same-site ``next`` on to the sign-in (a hidden field)."""
    return _page(request, "login.html",
                 {"next": _same_site_path(request.query_params.get("next", "")) or ""})


@router.post("/login", response_model=None)
def login(request: Request, state: State, api_key: FormText = "", csrf: FormText = "",
          next_path: Annotated[str, Form(alias="next", max_length=2000),
                               AfterValidator(plain_text)] = "") -> Response:
    """Sign in with an API key, then go to ``next`` if it is a path of this site, else home."""
    _check_csrf(request, csrf)
    target = _same_site_path(next_path or request.query_params.get("next", ""))
    found = verify_key(state.store, api_key.strip())
    if found is None:
        return _page(request, "login.html", {"error": i18n.text("bad_key", _lang(request)),
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
    _check_csrf(request, csrf)
    end_session(state.store, request.session.get("sid"))
    request.session.clear()
    return RedirectResponse("/login", 303)


@router.get("/grades", response_model=None)
def grade_list(request: Request, state: State, q: QueryText = "", grade: QueryText = "",
               region: QueryText = "", customer_type: QueryText = "", segment: QueryText = "",
               changed: QueryText = "", provisional: QueryText = "", sort: QueryText = "-total",
               page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:
    user = _gate(request, state, "viewer")
    if not isinstance(user, ApiKey):
        return user
    lang = _lang(request)
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
    return _page(request, "grades.html", {
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
    reviews = _audit_rows(audit_log(state.store, customer_id=customer_id), labels, lang)
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


def _audit_rows(frame: Any, labels: dict[str, str], lang: str) -> list[dict[str, Any]]:
    """Review rows as people read them: the action and the grades in words, times to the
    minute."""
    rows: list[dict[str, Any]] = frame.to_dict(orient="records")
    for r in rows:
        r["action"] = i18n.action_name(r["action"], lang)
        r["old_grade"] = labels.get(r["old_grade"], r["old_grade"] or "")
        r["new_grade"] = labels.get(r["new_grade"], r["new_grade"] or "")
        r["created_at"] = _minute(r["created_at"])
        r["expires_at"] = _minute(r.get("expires_at"))
    return rows


def _minute(value: Any) -> str:
    """A stored time as ``YYYY-MM-DD HH:MM`` (UTC), '' for none."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    try:
        return f"{value:%Y-%m-%d %H:%M}"
    except (TypeError, ValueError):
        return str(value)[:16]


@router.get("/customers/{customer_id}", response_model=None)
def customer_page(request: Request, state: State, customer_id: CustomerIdPath) -> Response:
    user = _gate(request, state, "viewer")
    if not isinstance(user, ApiKey):
        return user
    lang = _lang(request)
    return _page(request, "customer.html", _customer_context(request, state, customer_id, lang),
                 user=user)


@router.post("/customers/{customer_id}/override", response_model=None)
def override_form(request: Request, state: State, customer_id: CustomerIdPath,
                  new_grade: FormText = "", reason: FormText = "", expires: FormText = "",
                  csrf: FormText = "") -> Response:
    user = _gate(request, state, "reviewer")
    if not isinstance(user, ApiKey):
        return user
    _check_csrf(request, csrf)
    lang = _lang(request)
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
    return _page(request, "customer.html", {**context, "error": message}, 400, user=user)


@router.post("/customers/{customer_id}/review", response_model=None)
def review_form(request: Request, state: State, customer_id: CustomerIdPath,
                action: FormText = "", reason: FormText = "", csrf: FormText = "") -> Response:
    user = _gate(request, state, "reviewer")
    if not isinstance(user, ApiKey):
        return user
    _check_csrf(request, csrf)
    lang = _lang(request)
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
    user = _gate(request, state, "viewer")
    if not isinstance(user, ApiKey):
        return user
    lang = _lang(request)
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
    return _page(request, "rating.html", {
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
                      "column": _feature_name(d["column"], lang),
                      "change": i18n.code("drift_change", d["change"], lang) if d["change"]
                      else None}
                     for d in rating.drift if d["warning"]],
        "checks": [{"passed": c["passed"], "message": c["message"].get(lang, c["message"]["en"]),
                    "fix": (c["fix"] or {}).get(lang)} for c in rating.checks or []],
        "amounts_in": rating.configs.get("amounts_in")}, user=user)


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
    user = _gate(request, state, "reviewer")
    if not isinstance(user, ApiKey):
        return user
    lang = _lang(request)
    rating = state.store.rating_or_latest()
    order, _ = grade_lines(state, rating)
    found = work_queue(state.store, rating.id, order, limit=_QUEUE_PAGE,
                       offset=(page - 1) * _QUEUE_PAGE)
    labels = {g: v[lang] for g, v in rating.grade_labels.items()}
    for r in found.rows:
        r["why"] = _why(r, lang, labels)
    done = {k: request.query_params.get(k, "") for k in ("accepted", "rejected", "failed")}
    return _page(request, "reviews.html", {
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
    user = _gate(request, state, "reviewer")
    if not isinstance(user, ApiKey):
        return user
    _check_csrf(request, csrf)
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
    user = _gate(request, state, "reviewer")
    if not isinstance(user, ApiKey):
        return user
    lang = _lang(request)
    rating = state.store.rating_or_latest()
    labels = {g: v[lang] for g, v in rating.grade_labels.items()}
    entries = _audit_rows(audit_log(state.store, limit=500), labels, lang)
    return _page(request, "audit.html", {"entries": entries}, user=user)


def _feature_name(column: str, lang: str) -> str:
    """A model input's name in words (the column name when none is known)."""
    names = FEATURE_LABELS.get(column)
    return names[0 if lang == "zh" else 1] if names else i18n.code("column", column, lang)


@router.get("/models", response_model=None)
def models_page(request: Request, state: State) -> Response:
    user = _gate(request, state, "viewer")
    if not isinstance(user, ApiKey):
        return user
    from mlflow.exceptions import MlflowException

    from customer_tiering.registry.mlflow_ui import ui_url
    from customer_tiering.registry.names import MODEL_NAMES
    from customer_tiering.registry.tracking import use_store
    from customer_tiering.registry.versions import CHALLENGER, CHAMPION

    lang = _lang(request)
    shown = []
    with use_store(state.settings) as client:
        for name in MODEL_NAMES:
            for alias in (CHAMPION, CHALLENGER):
                try:
                    version = client.get_model_version_by_alias(name, alias)
                except MlflowException:  # no such model or alias yet: nothing to show
                    continue
                run_id = str(version.run_id)
                run = client.get_run(run_id)
                metrics = run.data.metrics
                scorers = sorted({k.split(".", 1)[0] for k in metrics if "." in k
                                  and not k.startswith(("seconds", "k_search"))})
                columns = sorted({k.split(".", 1)[1] for k in metrics if "." in k
                                  and k.split(".", 1)[0] in scorers})
                # keys are "<metric>.<scorer>": a row per metric, a column per scorer
                rows = [(i18n.metric_name(s, lang), [metrics.get(f"{s}.{c}") for c in columns])
                        for s in scorers]
                plots = [{"url": f"/models/{name}/{version.version}/{p}.png",
                          "name": i18n.code("plot", p, lang)}
                         for p in _PLOTS
                         if any(a.path == f"figures/{p}.png" for a in
                                client.list_artifacts(run_id, "figures"))]
                tags = version.tags or {}
                shown.append({"name": name, "version": version.version, "alias": alias,
                              "scorer_kind": tags.get("scorer.kind", "model"),
                              "scorer_name": i18n.code("scorer", tags.get("scorer.name", ""),
                                                       lang),
                              "why": i18n.code("why", tags.get("champion.reason", ""), lang)
                              if alias == CHAMPION
                              else i18n.gate_reason(tags.get("gate.reasons", "").split("\n")[0],
                                                    lang),
                              "run_id": run_id,
                              "metric_columns": [i18n.code("scorer", c, lang) for c in columns],
                              "metric_rows": rows, "plots": plots,
                              "mlflow_url": ui_url(state.settings.mlflow_ui_url,
                                                   run.info.experiment_id, run_id)})
    return _page(request, "models.html", {"models": shown}, user=user)


@router.get("/models/{name}/{version}/{plot}.png", response_model=None)
def model_plot(request: Request, state: State, name: PathText, version: PathText, plot: PathText
               ) -> Response:
    """A figure the model version's training run logged; 404 for an unknown model, version or
    figure."""
    user = _gate(request, state, "viewer")
    if not isinstance(user, ApiKey):
        return user
    if plot not in _PLOTS:
        raise HTTPException(404, f"no figure {plot!r}: one of {', '.join(_PLOTS)}")
    return Response(_plot_png(state.settings, name, version, plot), media_type="image/png")


def _plot_png(settings: Settings, name: str, version: str, plot: str) -> bytes:
    """The bytes of ``figures/<plot>.png`` of model ``name`` version ``version``.

    Downloaded into a temporary folder removed before returning: MLflow's download without a
    destination makes a new folder on every call and never removes it.
    """
    from mlflow.exceptions import MlflowException

    from customer_tiering.registry.tracking import use_store

    missing = HTTPException(404, f"model {name!r} version {version!r} has no figure {plot!r}")
    try:
        with (use_store(settings) as client,
              tempfile.TemporaryDirectory(prefix="tiering-plot-") as folder):
            run_id = client.get_model_version(name, version).run_id
            if run_id is None:  # registered from files, not from a training run
                raise missing
            local = client.download_artifacts(run_id, f"figures/{plot}.png", folder)
            return Path(local).read_bytes()
    except MlflowException as exc:
        # Unknown model or version, a version that is not a number, a figure never logged.
        if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
        raise missing from None
