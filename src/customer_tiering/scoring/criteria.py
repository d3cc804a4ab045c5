"""The scorecard as configuration: criteria, their bands and scoring kinds, and the checks on load.

A card (``serving/config/scorecard.yaml``) has a ``version``, a declared ``total`` and criteria.
Each criterion maps one feature to points, within its ``max_points``, by one of:

* ``steps``: bands ``[lower, upper)``; the band hit gives its points (seed 001's monthly sales);
* ``piecewise_linear``: inside a band, points go linearly from ``points_from`` at ``lower`` to
  ``points_to`` at ``upper`` (seed 001's "high growth: 10-20 points");
* ``judgement``: a rep-entered score on a range (0-10) passed through, scaled to the criterion's
  points, with a range check; optional labelled bands only name the ranges (健全/一般/差);
* ``categorical``: a map from category (customer type, region) to points.

A missing input follows the criterion's ``missing`` policy: ``zero`` points, ``neutral`` (fixed)
points, ``impute`` a value, or ``provisional`` (fixed points, and the grade is marked provisional).
``cap`` limits a criterion's points below its maximum (for example while a criterion is phased in).

Every rule that a card must keep is checked when it is parsed: bands contiguous and covering every
value, points within ``max_points``, the maxima adding up to the declared ``total``; a broken card
fails naming the field (``@bands[2].lower``). Scoring a card is
:mod:`customer_tiering.scoring.scorecard`.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from customer_tiering.core.config_io import StrictModel, Version
from customer_tiering.ingest.contract import FEATURE_COLUMNS

__all__ = [
    "MODEL_SCORE_COLUMNS",
    "Band",
    "CategoricalScoring",
    "Criterion",
    "FittedOn",
    "JudgementScoring",
    "Label",
    "LinearScoring",
    "MissingPolicy",
    "ScorecardConfig",
    "Scoring",
    "StepScoring",
]

# Columns that the models add before the blend; a card may score them like features.
MODEL_SCORE_COLUMNS: tuple[str, ...] = ("churn_probability", "expected_value_next_period")
_KNOWN_INPUTS = frozenset((*FEATURE_COLUMNS, *MODEL_SCORE_COLUMNS, "monetary_amount_365d"))


class Label(StrictModel):
    """A text in Chinese and English."""

    zh: str
    en: str

    def text(self, lang: str) -> str:
        """The text in ``lang``.

        Parameters
        ----------
        lang : str
            ``zh`` for Chinese; anything else gives English.

        Returns
        -------
        str
        """
        return self.zh if lang == "zh" else self.en


class Band(StrictModel):
    """``[lower, upper)``; ``None`` is minus or plus infinity."""

    lower: float | None = None
    upper: float | None = None
    points: float | None = None
    points_from: float | None = None
    points_to: float | None = None
    label: Label | None = None


def _check_contiguous(bands: list[Band], lo: float | None = None, hi: float | None = None,
                      open_ends: bool = True) -> list[Band]:
    if not bands:
        raise ValueError("needs at least one band")
    if open_ends and bands[0].lower is not None:
        raise ValueError(f"@bands[0].lower: the first band must start at minus infinity "
                         f"(lower: null), not {bands[0].lower}, so every value is scored")
    if open_ends and bands[-1].upper is not None:
        raise ValueError(f"@bands[{len(bands) - 1}].upper: the last band must end at plus "
                         f"infinity (upper: null), not {bands[-1].upper}")
    if not open_ends:
        if bands[0].lower != lo:
            raise ValueError(f"@bands[0].lower: must be the range start {lo}")
        if bands[-1].upper != hi:
            raise ValueError(f"@bands[{len(bands) - 1}].upper: must be the range end {hi}")
    for i, band in enumerate(bands):
        if band.lower is not None and band.upper is not None and band.lower >= band.upper:
            raise ValueError(f"@bands[{i}]: lower {band.lower} must be below upper {band.upper}")
        if i and band.lower != bands[i - 1].upper:
            before = bands[i - 1].upper
            kind = "overlap" if (band.lower is not None and before is not None
                                 and band.lower < before) else "leave a gap"
            raise ValueError(f"@bands[{i}].lower: {band.lower} does not meet the previous band's "
                             f"upper {bands[i - 1].upper} (bands {kind}; they must be contiguous)")
    return bands


class StepScoring(StrictModel):
    type: Literal["steps"]
    bands: list[Band]

    @field_validator("bands")
    @classmethod
    def _bands(cls, bands: list[Band]) -> list[Band]:
        for i, b in enumerate(bands):
            if b.points is None or b.points_from is not None or b.points_to is not None:
                raise ValueError(f"@bands[{i}].points: a step band has exactly `points`")
        return _check_contiguous(bands)


class LinearScoring(StrictModel):
    type: Literal["piecewise_linear"]
    bands: list[Band]

    @field_validator("bands")
    @classmethod
    def _bands(cls, bands: list[Band]) -> list[Band]:
        for i, b in enumerate(bands):
            linear = b.points_from is not None or b.points_to is not None
            if linear and (b.points_from is None or b.points_to is None or b.points is not None):
                raise ValueError(f"@bands[{i}]: a linear band has `points_from` and `points_to` "
                                 "(and no `points`)")
            if linear and (b.lower is None or b.upper is None):
                raise ValueError(f"@bands[{i}]: a linear band needs finite lower and upper")
            if not linear and b.points is None:
                raise ValueError(f"@bands[{i}].points: a flat band needs `points`")
        return _check_contiguous(bands)


class JudgementScoring(StrictModel):
    type: Literal["judgement"]
    min: float = 0.0
    max: float = 10.0
    bands: list[Band] = Field(default_factory=list)  # labels of ranges only

    @model_validator(mode="after")
    def _range(self) -> JudgementScoring:
        if self.min >= self.max:
            raise ValueError(f"@min: {self.min} must be below max {self.max}")
        if self.bands:
            lo_band = [b.model_copy(update={"lower": b.lower}) for b in self.bands]
            last = lo_band[-1]
            if last.upper is not None and last.upper != self.max:
                raise ValueError(f"@bands[{len(lo_band) - 1}].upper: must be the range end "
                                 f"{self.max} or null")
            _check_contiguous(
                [*lo_band[:-1], last.model_copy(update={"upper": self.max})],
                self.min, self.max, open_ends=False,
            )
        return self


class CategoricalScoring(StrictModel):
    type: Literal["categorical"]
    points: dict[str, float]
    default: float | None = None  # points for a category not listed; None: treated as missing


Scoring = Annotated[
    StepScoring | LinearScoring | JudgementScoring | CategoricalScoring,
    Field(discriminator="type"),
]


class MissingPolicy(StrictModel):
    policy: Literal["zero", "neutral", "impute", "provisional"] = "zero"
    points: float | None = None  # neutral / provisional points
    value: float | str | None = None  # imputed input value


class Criterion(StrictModel):
    """One criterion of the card."""

    id: str
    label: Label
    feature: str
    max_points: float = Field(gt=0)
    cap: float | None = None
    unit: str | None = None
    scoring: Scoring
    missing: MissingPolicy = MissingPolicy()
    note: Label | None = None

    @field_validator("feature")
    @classmethod
    def _known_feature(cls, feature: str) -> str:
        if feature not in _KNOWN_INPUTS:
            raise ValueError(f"{feature!r} is not a feature (known: {', '.join(sorted(_KNOWN_INPUTS))})")
        return feature

    @model_validator(mode="after")
    def _points_within_max(self) -> Criterion:
        top = self.max_points

        def check(value: float | None, where: str) -> None:
            if value is not None and not (0 <= value <= top):
                raise ValueError(f"@{where}: {value} points is outside 0..{top:g} (max_points)")

        scoring = self.scoring
        if isinstance(scoring, StepScoring | LinearScoring):
            for i, b in enumerate(scoring.bands):
                check(b.points, f"scoring.bands[{i}].points")
                check(b.points_from, f"scoring.bands[{i}].points_from")
                check(b.points_to, f"scoring.bands[{i}].points_to")
        elif isinstance(scoring, CategoricalScoring):
            for key, value in scoring.points.items():
                check(value, f"scoring.points.{key}")
            check(scoring.default, "scoring.default")
        check(self.cap, "cap")
        check(self.missing.points, "missing.points")
        if self.missing.policy == "neutral" and self.missing.points is None:
            raise ValueError("@missing.points: the neutral policy needs `points`")
        if self.missing.policy == "impute" and self.missing.value is None:
            raise ValueError("@missing.value: the impute policy needs `value`")
        if self.feature in ("customer_type", "region") and not isinstance(scoring,
                                                                          CategoricalScoring):
            raise ValueError(f"@scoring.type: {self.feature} is a category; use `categorical`")
        return self


class FittedOn(StrictModel):
    """What a card's band edges were fitted on (``tiering scorecard fit``), and where each edge
    sits in that book: ``edge_quantiles[criterion][k]`` is the share of customers (with an input)
    below the card's k-th inner edge. A later fit on another book puts each edge at the same
    share of that book, so the card keeps its meaning across currencies and customer scales."""

    description: str
    method: Literal["quantile", "supervised", "locate"]
    as_of: date
    customers: int = Field(ge=0)
    data_fingerprint: str | None = None
    edge_quantiles: dict[str, list[float]] = Field(default_factory=dict)

    @field_validator("edge_quantiles")
    @classmethod
    def _shares(cls, quantiles: dict[str, list[float]]) -> dict[str, list[float]]:
        for key, shares in quantiles.items():
            if any(not 0 <= q <= 1 for q in shares) or shares != sorted(shares):
                raise ValueError(f"@{key}: shares must lie in 0..1 and never fall ({shares})")
        return quantiles


class ScorecardConfig(StrictModel):
    """A whole card: version, declared total, criteria, and what its amounts are in."""

    version: Version
    name: Label
    total: float = Field(gt=0)
    currency: str | None = None  # ISO 4217 code of the amounts the bands are in (CNY, USD)
    amount_unit: str | None = None  # how amounts are written in the data: 元, 万元, USD
    fitted: FittedOn | None = None
    criteria: list[Criterion] = Field(min_length=1)

    @property
    def amounts_in(self) -> str:
        """How the card's amounts read, e.g. ``CNY (元)``; empty when the card does not say."""
        parts = [p for p in (self.currency, f"({self.amount_unit})" if self.amount_unit
                             else None) if p]
        return " ".join(parts)

    @model_validator(mode="after")
    def _maxima_add_up(self) -> ScorecardConfig:
        seen: set[str] = set()
        for i, c in enumerate(self.criteria):
            if c.id in seen:
                raise ValueError(f"@criteria[{i}].id: {c.id!r} is used twice")
            seen.add(c.id)
        if self.fitted is not None:
            banded = {c.id: len(getattr(c.scoring, "bands", [])) for c in self.criteria
                      if isinstance(c.scoring, StepScoring | LinearScoring)}
            for key, shares in self.fitted.edge_quantiles.items():
                if key not in banded:
                    raise ValueError(f"@fitted.edge_quantiles.{key}: not a banded criterion of "
                                     f"this card ({', '.join(banded)})")
                if len(shares) != banded[key] - 1:
                    raise ValueError(f"@fitted.edge_quantiles.{key}: {len(shares)} shares for "
                                     f"{banded[key] - 1} inner edges")
        total = sum(c.max_points for c in self.criteria)
        if not math.isclose(total, self.total, abs_tol=1e-9):
            raise ValueError(f"@total: the criteria's max_points add up to {total:g}, not the "
                             f"declared total {self.total:g}")
        return self
