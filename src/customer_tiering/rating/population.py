"""Grading a population: scorecard points + model scores -> blend -> grade -> rows to store.

Pure: no store, no MLflow. :func:`grade_population` scores, blends and grades every customer at
once (phase 1); :meth:`GradedPopulation.rows` builds the explanation documents and reasons slice
by slice, so a million customers never hold a million JSON documents at once. The features come
as a frame or as :class:`~customer_tiering.core.columns.Columns` (a what-if builds those straight from
the request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.core.columns import Columns
from customer_tiering.rating.champions import ChampionSet, ServingConfigs
from customer_tiering.scoring.blend import Blended, blend
from customer_tiering.scoring.explain import explanation_records, reason_lines, reference_means
from customer_tiering.scoring.grading import GradeScheme, assign_grades
from customer_tiering.scoring.scorecard import score
from customer_tiering.store.tier_store import TierStore

__all__ = ["GradedPopulation", "grade_cutoffs", "grade_population"]


@dataclass(frozen=True)
class GradedPopulation:
    """Every customer's points, total and grade (phase 1); rows are made by :meth:`rows`."""

    features: Columns
    blended: Blended
    grade: np.ndarray
    previous: np.ndarray
    churn_probability: np.ndarray | None
    expected_value: np.ndarray | None
    means: dict[str, float]

    def __len__(self) -> int:
        return len(self.grade)

    def rows(self, start: int = 0, stop: int | None = None) -> pd.DataFrame:
        """Grade rows of customers ``start:stop``, the columns of the store's ``GRADE_COLUMNS``.

        The explanation documents and reasons are built here, slice by slice, so a million
        customers never hold a million JSON documents in memory at once.

        Parameters
        ----------
        start, stop : int
            Positions of the first customer and one past the last (default: to the end).

        Returns
        -------
        pandas.DataFrame
        """
        return pd.DataFrame(self.row_columns(start, stop))

    def row_columns(self, start: int = 0, stop: int | None = None) -> dict[str, Any]:
        """:meth:`rows` as named columns (arrays and lists), without building the frame.

        Parameters
        ----------
        start, stop : int
            As in :meth:`rows`.

        Returns
        -------
        dict of str to array or list
        """
        part = slice(start, len(self) if stop is None else stop)
        blended = self.blended.subset(part)
        features = self.features.take(part)
        n = len(blended.customer_id)
        reasons_zh, reasons_en = reason_lines(blended, self.means)

        def column(name: str) -> Any:
            return features.get(name, None)

        nan = np.full(n, np.nan)
        return {
            "customer_id": blended.customer_id,
            "customer_name": column("customer_name"),
            "region": column("region"),
            "customer_type": column("customer_type"),
            "segment": blended.segment,
            "churn_probability": (nan if self.churn_probability is None
                                  else self.churn_probability[part]),
            "expected_value": nan if self.expected_value is None else self.expected_value[part],
            "revenue_365d": features.numeric("monetary_amount_365d"),
            "scorecard_total": blended.scorecard_points.sum(axis=1),
            "total": blended.total,
            "grade": self.grade[part],
            "previous_grade": self.previous[part],
            "provisional": blended.scorecard.provisional,
            "points": _points_documents(blended),
            "explanation": explanation_records(blended, features),
            "reason_zh": reasons_zh,
            "reason_en": reasons_en,
        }


def grade_population(
    features: pd.DataFrame | Columns,
    configs: ServingConfigs,
    models: ChampionSet,
    *,
    scheme: GradeScheme,
    previous_grade: pd.Series | None = None,
    cutoffs: dict[str, float] | None = None,
    means: dict[str, float] | None = None,
) -> GradedPopulation:
    """Score, blend and grade every customer of ``features`` (pure: no store, no MLflow).

    Parameters
    ----------
    features : pandas.DataFrame or Columns
        One row per customer (``customer_id`` + feature columns).
    configs : ServingConfigs
        The scorecard, grade schemes, policies and blend.
    models : ChampionSet
        The champion models the blend needs.
    scheme : GradeScheme
        The grade scheme to apply (quota schemes rank the whole population here).
    previous_grade : pandas.Series, optional
        Each customer's previous grade in ``scheme``, by ``customer_id`` (hysteresis; stored as
        ``previous_grade``).
    cutoffs : dict of str to float, optional
        Lowest total per grade (best first) to grade against instead of the scheme's own
        method (special ratings under a quota scheme).
    means : dict of str to float, optional
        Reference mean points per criterion for the reasons (default: this population's).

    Returns
    -------
    GradedPopulation
        Points, totals and grades; :meth:`GradedPopulation.rows` makes the stored rows.
    """
    features = Columns.of(features)  # each column taken from a frame once, for every step
    scores = score(features, configs.rules.card)
    churn_contrib = value_contrib = None
    churn_probability = expected_value = None
    if models.churn is not None:
        churn_contrib = models.churn.calibrated_contribution_values(features)
        churn_probability = 1.0 / (1.0 + np.exp(-churn_contrib.values.sum(axis=1)))
    if models.value is not None:
        value_contrib = models.value.contribution_values(features)
        expected_value = np.exp(value_contrib.values.sum(axis=1))
    segment = (models.segments.predict_names(features) if models.segments is not None else None)
    blended = blend(scores, configs.blend, churn_contributions=churn_contrib,
                    value_contributions=value_contrib, segment=segment,
                    horizon_days=models.horizon_days)
    del churn_contrib, value_contrib
    total = blended.total
    ids = blended.customer_id
    previous = (previous_grade.reindex(ids).to_numpy(dtype=object)
                if previous_grade is not None else np.full(len(ids), None, dtype=object))
    if cutoffs is not None:
        grade = _grade_by_cutoffs(total, cutoffs, scheme)
    else:
        revenue = None
        if scheme.method == "revenue_quota":
            revenue = features.numeric(scheme.revenue_feature)
        grade = assign_grades(total, scheme, customer_id=ids, revenue=revenue,
                              previous_grade=previous if previous_grade is not None else None)
    reference = means if means is not None else reference_means(blended)
    return GradedPopulation(features, blended, np.asarray(grade, dtype=object), previous,
                            churn_probability, expected_value, reference)


def _grade_by_cutoffs(total: np.ndarray, cutoffs: dict[str, float], scheme: GradeScheme
                      ) -> np.ndarray:
    out = np.full(len(total), scheme.grade_ids[-1], dtype=object)
    assigned = np.zeros(len(total), dtype=bool)
    for gid in scheme.grade_ids:
        if gid not in cutoffs:
            continue
        hit = ~assigned & (total >= cutoffs[gid])
        out[hit] = gid
        assigned |= hit
    return out


def _points_documents(blended: Blended) -> list[str]:
    """Per customer ``{criterion or model part: points}`` as JSON (the export's columns)."""
    names = [c.id for c in blended.scorecard.card.criteria]
    columns = [blended.scorecard_points[:, j] for j in range(len(names))]
    for name, part in blended.models.items():
        names.append(name)
        columns.append(part.points)
    if blended.segment_points is not None:
        names.append("segment")
        columns.append(blended.segment_points)
    if not columns:
        return ["{}"] * len(blended.customer_id)
    import orjson

    matrix = np.column_stack(columns).tolist()
    return [orjson.dumps(dict(zip(names, row, strict=True))).decode() for row in matrix]


def grade_cutoffs(store: TierStore, rating_id: int) -> dict[str, float]:
    """The lowest total each grade held in a rating: what a lone customer is graded against
    under a quota scheme.

    Parameters
    ----------
    store : TierStore
        The tier store.
    rating_id : int
        The periodic rating to take the cut-offs from.

    Returns
    -------
    dict of str to float
        By grade id.
    """
    frame = store.grades(rating_id, columns=["grade", "total"])
    return {str(g): float(t) for g, t in frame.groupby("grade")["total"].min().items()}
