"""The rule-based half of a grade, loaded together: scorecard + grade schemes + service policies.

:func:`load_ruleset` reads and cross-checks the three YAML files (the only I/O here);
:func:`grade` is pure: features in, one row per customer out, with each criterion's points, the
total, the grade and the grade's service policy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from customer_tiering.core.config_io import config_hash, default_config_dir, load_yaml_model
from customer_tiering.scoring.criteria import ScorecardConfig
from customer_tiering.scoring.grading import GradeScheme, GradesConfig, assign_grades
from customer_tiering.scoring.policies import PoliciesConfig, check_policies_cover_grades
from customer_tiering.scoring.scorecard import Scores, score

__all__ = ["RuleSet", "grade", "load_ruleset"]


@dataclass(frozen=True)
class RuleSet:
    """A validated scorecard, its grade schemes and their policies, with content hashes."""

    card: ScorecardConfig
    grades: GradesConfig
    policies: PoliciesConfig
    hashes: dict[str, str]

    def scheme(self, name: str | None = None) -> GradeScheme:
        """The grade scheme named ``name`` (default: the file's ``default_scheme``).

        Parameters
        ----------
        name : str, optional

        Returns
        -------
        GradeScheme

        Raises
        ------
        TieringError
            When there is no such scheme.
        """
        return self.grades.scheme(name)


def load_ruleset(
    config_dir: str | os.PathLike[str] | None = None,
    *,
    card: str | os.PathLike[str] | None = None,
    grades: str | os.PathLike[str] | None = None,
    policies: str | os.PathLike[str] | None = None,
) -> RuleSet:
    """Load ``scorecard.yaml``, ``grades.yaml`` and ``policies.yaml`` (or the files given).

    Parameters
    ----------
    config_dir : str or os.PathLike, optional
        The folder of the three files (default:
        :func:`~customer_tiering.core.config_io.default_config_dir`).
    card, grades, policies : str or os.PathLike, optional
        Files to use instead of the folder's.

    Returns
    -------
    RuleSet
        The validated configs and their content hashes.

    Raises
    ------
    ConfigError
        Naming the file, the field and the line of the first problem.
    """
    base = Path(config_dir) if config_dir is not None else default_config_dir()
    card_path = Path(card) if card is not None else base / "scorecard.yaml"
    grades_path = Path(grades) if grades is not None else base / "grades.yaml"
    policies_path = Path(policies) if policies is not None else base / "policies.yaml"
    card_cfg = load_yaml_model(card_path, ScorecardConfig)
    grades_cfg = load_yaml_model(grades_path, GradesConfig)
    policies_cfg = load_yaml_model(policies_path, PoliciesConfig)
    check_policies_cover_grades(policies_cfg, grades_cfg, str(policies_path))
    hashes = {"scorecard": config_hash(card_cfg), "grades": config_hash(grades_cfg),
              "policies": config_hash(policies_cfg)}
    return RuleSet(card_cfg, grades_cfg, policies_cfg, hashes)


def grade(
    features: pd.DataFrame,
    rules: RuleSet,
    *,
    scheme: str | None = None,
    previous_grade: pd.Series | None = None,
    lang: str = "en",
) -> tuple[pd.DataFrame, Scores]:
    """Score and grade every customer of ``features``.

    Parameters
    ----------
    features : ``customer_id`` + the card's feature columns (+ the revenue column for a
        ``revenue_quota`` scheme).
    scheme : grade scheme name (default: the file's ``default_scheme``).
    previous_grade : last period's grade by ``customer_id`` (for hysteresis).
    lang : language of the grade labels and recommended actions.

    Returns
    -------
    (graded, scores): ``graded`` has ``customer_id``, ``points_<criterion>``..., ``total``,
    ``provisional``, ``grade``, ``grade_label`` and the policy columns; ``scores.table()`` is the
    long points table whose rows add up to ``total``.
    """
    name = scheme or rules.grades.default_scheme
    chosen = rules.scheme(name)
    scores = score(features, rules.card)
    wide = scores.wide()
    previous = None
    if previous_grade is not None:
        previous = previous_grade.reindex(wide["customer_id"]).to_numpy(dtype=object)
    revenue = None
    if chosen.method == "revenue_quota" and chosen.revenue_feature in features:
        revenue = pd.to_numeric(features[chosen.revenue_feature], errors="coerce").to_numpy(
            dtype=float)
    wide["grade"] = assign_grades(scores.total, chosen, customer_id=wide["customer_id"].to_numpy(),
                                  revenue=revenue, previous_grade=previous)
    labels = {g.id: g.label.text(lang) for g in chosen.grades}
    wide["grade_label"] = wide["grade"].map(labels)
    table = rules.policies.schemes[name]
    for field in ("account_manager", "visits_per_month", "complaint_priority",
                  "complaint_response_days", "discount_tier"):
        wide[field] = wide["grade"].map({g: getattr(p, field) for g, p in table.items()})
    wide["recommended_actions"] = wide["grade"].map(
        {g: p.recommended_actions.text(lang) for g, p in table.items()})
    return wide, scores
