"""One story per customer: the waterfall, the points table and the reason line from the same points.

:func:`grade_story` reads a stored explanation's rows (:func:`customer_tiering.scoring.explain.record_rows`)
and gives :class:`StoryPart` points measured from zero (the points each criterion or model part
adds to the total), with the blend's weights, and names the parts that separate the customer from
the next grade up (most points still to gain) and down (most points held).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from customer_tiering.scoring.explain import REASON_MIN

__all__ = ["GradeStory", "StoryGap", "StoryPart", "grade_story"]

_STORY_MOVERS = 3  # parts named per direction in a story


@dataclass(frozen=True)
class StoryPart:
    """One bar of the waterfall: a scorecard criterion, a model part or the segment part.

    ``points`` is what the part adds to the total from zero (a model part's rows summed);
    ``card_points`` a criterion's points on the card's own scale (``points / weight``);
    ``typical`` the population's mean points on it (criteria and segment, when stored);
    ``detail`` a model part's rows (baseline, top features, other features).
    """

    part: str
    item: str
    label: str
    points: float
    max_points: float | None
    weight: float | None = None
    card_points: float | None = None
    value: Any = None
    band: str = ""
    missing: bool = False
    typical: float | None = None
    detail: list[tuple[str, str, Any, float]] = field(default_factory=list)


@dataclass(frozen=True)
class StoryGap:
    """The distance to a neighbouring grade's line and the parts that make it.

    ``grade``: the neighbouring grade (up: the next higher; down: the grade a customer would fall
    to); ``line``: the lowest total of the higher of the two grades; ``points``: how far the
    customer's total is from it (always >= 0); ``movers``: up, the parts with the most points
    still to gain (``max_points - points``); down, the parts adding the most points.
    """

    grade: str
    line: float
    points: float
    movers: list[StoryPart]


@dataclass(frozen=True)
class GradeStory:
    """What the customer page tells about a total: parts from zero, weights, nearby grades."""

    total: float
    max_total: float
    scorecard_weight: float | None
    parts: list[StoryPart]
    up: StoryGap | None
    down: StoryGap | None

    @property
    def missing(self) -> list[StoryPart]:
        """The scorecard criteria whose input was missing."""
        return [p for p in self.parts if p.missing]


def grade_story(rows: Sequence[tuple[Any, ...]], criteria: Sequence[Mapping[str, Any]], *,
                total: float, grade: str, lines: Mapping[str, float | None],
                order: Sequence[str], means: Mapping[str, float] | None = None,
                scorecard_weight: float | None = None, lang: str = "en") -> GradeStory:
    """One customer's explanation as parts measured from zero, with its neighbouring grades.

    Parameters
    ----------
    rows : sequence of tuple
        :func:`record_rows` of the customer (:data:`ROW_COLUMNS`).
    criteria : sequence of Mapping
        The rating's :func:`criteria_meta` (maximum points, and the weight when stored).
    total : float
        The customer's total (the parts add up to it).
    grade : str
        The grade the rating gave.
    lines : Mapping of str to float or None
        The lowest total of each grade (a threshold, or the lowest total a quota grade held).
    order : sequence of str
        The grades, highest first.
    means : Mapping of str to float, optional
        The population's mean points per criterion (the rating's ``reference``).
    scorecard_weight : float, optional
        The blend's ``scorecard_weight`` when the criteria do not carry it (older ratings).
    lang : str
        ``zh`` or ``en``: the model parts' labels.

    Returns
    -------
    GradeStory
    """
    meta = {m["id"]: m for m in criteria}
    weights = {float(m["weight"]) for m in criteria
               if m.get("part") == "scorecard" and m.get("weight") is not None}
    weight = next(iter(weights)) if len(weights) == 1 else scorecard_weight
    means = means or {}
    parts: list[StoryPart] = []
    models: dict[str, list[tuple[str, str, Any, float]]] = {}
    for _, part, item, label, value, band, points in rows:
        if part == "scorecard":
            m = meta.get(item, {})
            parts.append(StoryPart(
                part, item, label, float(points), m.get("max_points"), weight,
                None if not weight else float(points) / weight, value, band or "",
                band == "missing" or value is None, means.get(item)))
        elif part == "segment":
            m = meta.get("segment", {})
            parts.append(StoryPart(part, item, label, float(points), m.get("max_points"),
                                   value=value, typical=means.get("segment")))
        else:
            models.setdefault(part, []).append((item, label, value, float(points)))
    for name, detail in models.items():
        m = meta.get(name, {})
        summed = math.fsum(p for *_, p in detail)
        position = len([p for p in parts if p.part == "scorecard"]) + list(models).index(name)
        parts.insert(position, StoryPart(name, name, str(m.get(lang, name)), summed,
                                         m.get("max_points"), detail=detail))
    max_total = math.fsum(float(m.get("max_points") or 0.0) for m in criteria)
    up = down = None
    if grade in order:
        at = list(order).index(grade)
        if at > 0:
            higher = order[at - 1]
            line = lines.get(higher)
            if line is not None and line > total:
                gain = sorted((p for p in parts if p.max_points is not None
                               and p.max_points - p.points >= REASON_MIN),
                              key=lambda p: -(float(p.max_points or 0) - p.points))
                up = StoryGap(higher, float(line), float(line) - total, gain[:_STORY_MOVERS])
        if at + 1 < len(order):
            line = lines.get(grade)
            if line is not None and total >= line:
                held = sorted((p for p in parts if p.points >= REASON_MIN),
                              key=lambda p: -p.points)
                down = StoryGap(order[at + 1], float(line), total - float(line),
                                held[:_STORY_MOVERS])
    return GradeStory(float(total), max_total, weight, parts, up, down)

