"""What the routes call: reading grades and explanations, what-if scoring. No HTTP here."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from customer_tiering.api import schemas as api
from customer_tiering.api.state import AppState
from customer_tiering.core.columns import Columns
from customer_tiering.ingest.contract import FEATURE_COLUMNS
from customer_tiering.rating.population import grade_population
from customer_tiering.rating.reviews import effective_grade
from customer_tiering.scoring.explain import criteria_meta, record_rows
from customer_tiering.scoring.story import GradeStory, grade_story
from customer_tiering.store.tier_store import RatingRecord

__all__ = ["customer_explanation", "customer_grade", "customer_story", "grade_lines",
           "what_if"]


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) else f


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def customer_grade(state: AppState, customer_id: str, lang: str) -> api.CustomerGrade:
    """The customer's latest grade with its policy, and the grade in force after reviews."""
    row = state.store.customer_grade(customer_id)
    record = state.rating(row["rating_id"])
    effective = effective_grade(state.store, customer_id, rated=row)
    policy = record.policies.get(effective.grade)
    labels = record.grade_labels.get(effective.grade, {})
    return api.CustomerGrade(
        customer_id=customer_id, customer_name=row["customer_name"], region=row["region"],
        customer_type=row["customer_type"], rating_id=record.id, rating_kind=record.kind,
        as_of=record.as_of, grade=effective.grade,
        grade_label=labels.get(lang, effective.grade), rated_grade=row["grade"],
        override_id=effective.review_id, override_expires_at=effective.expires_at,
        previous_grade=row["previous_grade"], provisional=bool(row["provisional"]),
        total=row["total"], scorecard_total=row["scorecard_total"],
        churn_probability=_num(row["churn_probability"]),
        expected_value_next_period=_num(row["expected_value"]), segment=row["segment"],
        reason=row["reason_zh" if lang == "zh" else "reason_en"],
        policy=None if policy is None else api.Policy(
            **{k: policy[k] for k in ("account_manager", "visits_per_month",
                                      "complaint_priority", "complaint_response_days",
                                      "discount_tier")},
            recommended_actions=policy["recommended_actions"][lang]),
    )


def _explanation(customer_id: str, rows: list[tuple[Any, ...]], total: float, reason: str,
                 rating_id: int | None) -> api.Explanation:
    """``rows``: :func:`explain.record_rows` tuples (``ROW_COLUMNS`` order)."""
    items = [api.ExplanationRow(part=part, item=item, label=label, value=_clean(value),
                                band=band or "", points=float(points))
             for _, part, item, label, value, band, points in rows]
    scorecard = float(sum(r.points for r in items if r.part == "scorecard"))
    return api.Explanation(customer_id=customer_id, rating_id=rating_id, total=total,
                           scorecard_points=scorecard, model_points=total - scorecard,
                           rows=items, reason=reason)


def grade_lines(state: AppState, record: RatingRecord) -> tuple[list[str], dict[str, float | None]]:
    """The grades of a rating's scheme, highest first, and the lowest total of each: the
    scheme's thresholds, or under a quota scheme the lowest total each grade held in the
    (latest periodic) rating."""
    schemes = state.configs.rules.grades.schemes
    scheme = schemes.get(record.scheme)
    order = scheme.grade_ids if scheme is not None else list(record.grade_labels)
    if scheme is not None and scheme.method == "thresholds":
        return order, {g.id: g.min_total for g in scheme.grades}
    source = record if record.kind == "periodic" else state.latest_periodic(record.scheme)
    found = state.cutoffs(source.id) if source is not None else {}
    return order, {g: found.get(g) for g in order}


def customer_story(state: AppState, record: RatingRecord, customer_id: str,
                   rows: list[tuple[Any, ...]], total: float, grade: str,
                   lang: str) -> GradeStory:
    """:func:`story.grade_story` of a stored explanation, with the rating's grade lines."""
    order, lines = grade_lines(state, record)
    return grade_story(rows, record.criteria, total=total, grade=grade, lines=lines, order=order,
                       means=record.reference,
                       scorecard_weight=state.configs.blend.scorecard_weight, lang=lang)


def _story_out(story: GradeStory, record: RatingRecord, lang: str) -> api.ExplanationStory:
    labels = {g: v.get(lang, g) for g, v in record.grade_labels.items()}

    def gap(found: Any) -> api.StoryGap | None:
        if found is None:
            return None
        return api.StoryGap(grade=found.grade, grade_label=labels.get(found.grade, found.grade),
                            line=found.line, points=found.points,
                            items=[p.item for p in found.movers])

    return api.ExplanationStory(
        scorecard_weight=story.scorecard_weight, max_total=story.max_total,
        parts=[api.StoryPart(part=p.part, item=p.item, label=p.label, points=p.points,
                             max_points=p.max_points) for p in story.parts],
        next_up=gap(story.up), next_down=gap(story.down),
        missing_inputs=[p.item for p in story.missing])


def customer_explanation(state: AppState, customer_id: str, rating_id: int | None,
                         lang: str) -> api.Explanation:
    """The stored explanation of a customer's grade (latest rating, or ``rating_id``), with
    its story (:func:`customer_story`)."""
    row = state.store.customer_grade(customer_id, rating_id, documents=True)
    record = state.rating(row["rating_id"])
    rows = record_rows(customer_id, row["explanation"], record.criteria, lang)
    explanation = _explanation(customer_id, rows, float(row["total"]),
                               row["reason_zh" if lang == "zh" else "reason_en"], record.id)
    story = customer_story(state, record, customer_id, rows, float(row["total"]),
                           str(row["grade"]), lang)
    explanation.story = _story_out(story, record, lang)
    return explanation


_TEXT_FEATURES = ("customer_type", "region")


def _indicator_columns(customers: list[api.Indicators]) -> Columns:
    """Posted indicators as feature columns, straight from the request (no frame: building one
    costs more than scoring one customer). Row ids are positions: ids may repeat in a what-if."""
    records = [c.model_dump() for c in customers]
    columns: dict[str, np.ndarray] = {
        "customer_id": np.array([str(i) for i in range(len(records))], dtype=object)}
    for column in FEATURE_COLUMNS:
        values = [r.get(column) for r in records]
        if column in _TEXT_FEATURES:
            columns[column] = np.array(values, dtype=object)
        else:
            columns[column] = np.array([np.nan if v is None else v for v in values],
                                       dtype="float64")
    return Columns(columns, len(records))


def what_if(state: AppState, customers: list[api.Indicators], lang: str,
            explain: bool) -> api.ScoreResponse:
    """Grade and explain posted indicators with the models in use; nothing is stored."""
    model_set = state.holder.current  # one set for the whole request
    features = _indicator_columns(customers)
    given_ids = [str(c.customer_id) for c in customers]
    configs = state.configs
    scheme = configs.rules.scheme()
    latest = state.latest_periodic(configs.rules.grades.default_scheme)
    cutoffs = None
    if scheme.method != "thresholds" and latest is not None:
        cutoffs = state.cutoffs(latest.id)
    graded = grade_population(features, configs, model_set.models, scheme=scheme,
                              cutoffs=cutoffs,
                              means=latest.reference if latest is not None else None)
    columns = graded.row_columns()  # no frame: for one customer it costs more than the scoring
    labels = {g.id: g.label.text(lang) for g in scheme.grades}
    criteria = criteria_meta(graded.blended) if explain else []
    reasons = columns["reason_zh" if lang == "zh" else "reason_en"]
    results = []
    for i, customer_id in enumerate(given_ids):  # rows are in the order posted
        total = float(columns["total"][i])
        explanation = None
        if explain:  # the rows' own explanation documents, not a second pass over the models
            details = record_rows(customer_id, columns["explanation"][i], criteria, lang)
            explanation = _explanation(customer_id, details, total, "", None).rows
        grade = str(columns["grade"][i])
        segment = columns["segment"][i] if columns["segment"] is not None else None
        results.append(api.ScoreResult(
            customer_id=customer_id, total=total, grade=grade,
            grade_label=labels.get(grade, grade), provisional=bool(columns["provisional"][i]),
            churn_probability=_num(columns["churn_probability"][i]),
            expected_value_next_period=_num(columns["expected_value"][i]),
            segment=None if segment is None else str(segment),
            reason=str(reasons[i]), explanation=explanation))
    return api.ScoreResponse(model_versions=model_set.versions, results=results)
