"""Sanity checks on a rating: do the grades say something about this book?

A card written for one company's customers can grade another's into one grade (amounts in another
currency or scale), or in an order the data contradicts. Every rating runs these checks, prints
them in its summary, stores them with the rating and shows them on the rating page:

* ``grade_share``: no grade holds more than the scheme's ``max_grade_share`` of the customers
  (default 0.8 for threshold schemes; quota schemes set their shares themselves);
* ``grade_order_revenue``: a grade's customers bought at least as much over the last 365 days, on
  average, as those of the grade below it;
* ``grade_order_churn``: a grade's customers are no likelier to churn, on average, than those of
  the grade below it (when a churn model serves);
* ``policy_only``: at most ``max_policy_only_share`` of the customers have card points made only
  by missing-input policies (no input at all for any criterion).

Each check is a plain dict (JSON in the store): ``id``, ``passed``, ``message`` and ``fix`` in
both languages, and ``details``. Pure: arrays in, dicts out.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from customer_tiering.scoring.grading import GradeScheme
from customer_tiering.scoring.scorecard import Scores

__all__ = ["failed_checks", "rating_checks"]

_FIT = ("`tiering scorecard fit --data DIR --as-of DATE` proposes bands from this book",
        "`tiering scorecard fit --data DIR --as-of DATE` 可按本数据提出分档")


def _check(check_id: str, passed: bool, en: str, zh: str, fix_en: str, fix_zh: str,
           details: dict[str, Any]) -> dict[str, Any]:
    return {"id": check_id, "passed": bool(passed), "message": {"en": en, "zh": zh},
            "fix": {"en": fix_en, "zh": fix_zh} if not passed else None, "details": details}


def _grade_share(grade: np.ndarray, scheme: GradeScheme) -> dict[str, Any] | None:
    limit = scheme.checks.grade_share_limit(scheme.method)
    if limit is None or not len(grade):
        return None
    shares = {g: float(np.mean(grade == g)) for g in scheme.grade_ids}
    top = max(shares, key=lambda g: shares[g])
    passed = shares[top] <= limit
    label = next(g.label for g in scheme.grades if g.id == top)
    if passed:
        en = f"no grade holds more than {limit:.0%} of customers (largest: {label.en} {shares[top]:.1%})"
        zh = f"没有等级超过 {limit:.0%} 的客户（最大：{label.zh} {shares[top]:.1%}）"
    else:
        en = (f"grade {label.en} holds {shares[top]:.1%} of customers (limit {limit:.0%}): the "
              "grading says little about them; the card's bands may be in another currency or "
              "scale than this book")
        zh = (f"等级 {label.zh} 占客户 {shares[top]:.1%}（上限 {limit:.0%}）：分级区分不出客户；"
              "评分卡的分档可能与本数据的币种或规模不符")
    return _check("grade_share", passed, en, zh,
                  f"{_FIT[0]}, or grade by quota (e.g. --scheme seed003_pareto)",
                  f"{_FIT[1]}，或按配额分级（如 --scheme seed003_pareto）",
                  {"limit": limit, "shares": shares, "largest": top})


def _grade_order(check_id: str, grade: np.ndarray, values: np.ndarray, scheme: GradeScheme, *,
                 higher_is_better: bool, what: tuple[str, str]) -> dict[str, Any]:
    minimum = scheme.checks.min_customers_for_order
    means: dict[str, float] = {}
    for g in scheme.grade_ids:
        held = values[(grade == g) & np.isfinite(values)]
        if len(held) >= minimum:
            means[g] = float(held.mean())
    labels = {g.id: g.label for g in scheme.grades}
    present = list(means)  # best first, as the scheme lists them
    wrong = []
    for upper, lower in pairwise(present):
        if (means[lower] > means[upper]) if higher_is_better else (means[lower] < means[upper]):
            wrong.append((upper, lower))
    en_what, zh_what = what
    if not wrong:
        en = f"mean {en_what} follows the grades ({len(present)} grades with ≥{minimum} customers)"
        zh = f"平均{zh_what}与等级顺序一致（{len(present)} 个等级各有 ≥{minimum} 位客户）"
    else:
        en = "; ".join(f"grade {labels[lo].en} has {'higher' if higher_is_better else 'lower'} "
                       f"mean {en_what} ({means[lo]:,.4g}) than grade {labels[up].en} above it "
                       f"({means[up]:,.4g})" for up, lo in wrong)
        zh = "；".join(f"等级 {labels[lo].zh} 的平均{zh_what}（{means[lo]:,.4g}）"
                      f"{'高于' if higher_is_better else '低于'}上一等级 {labels[up].zh}"
                      f"（{means[up]:,.4g}）" for up, lo in wrong)
    return _check(check_id, not wrong, en, zh,
                  f"the card's bands or weights do not follow this book: {_FIT[0]} "
                  "(--method supervised places edges where the churn or value rate changes)",
                  f"评分卡的分档或权重与本数据不符：{_FIT[1]}（--method supervised 按流失或价值变化处分档）",
                  {"means": means, "contradictions": [list(p) for p in wrong],
                   "min_customers": minimum})


def _policy_only(scores: Scores, scheme: GradeScheme) -> dict[str, Any] | None:
    missing = scores.missing
    if not missing.size:
        return None
    limit = scheme.checks.max_policy_only_share
    share = float(missing.all(axis=1).mean())
    by_criterion = {c.id: float(missing[:, j].mean()) for j, c in enumerate(scores.card.criteria)}
    absent = [c for c, s in by_criterion.items() if s == 1.0]
    passed = share <= limit
    en = (f"{share:.1%} of customers have card points from missing-input policies only "
          f"(limit {limit:.0%})")
    zh = f"{share:.1%} 的客户评分卡得分全部来自缺失值规则（上限 {limit:.0%}）"
    if absent:
        en += f"; no customer has an input for: {', '.join(absent)}"
        zh += f"；以下指标没有任何客户有数据：{', '.join(absent)}"
    return _check("policy_only", passed, en, zh,
                  "load the inputs those criteria read (customers, interactions files), or give "
                  f"them a neutral missing policy; {_FIT[0]}",
                  f"补充这些指标所需的数据（客户、互动文件），或为其设置中性缺失值规则；{_FIT[1]}",
                  {"limit": limit, "share": share, "missing_by_criterion": by_criterion,
                   "absent": absent})


def rating_checks(grade: np.ndarray, scheme: GradeScheme, scores: Scores, *,
                  revenue: np.ndarray | None, churn_probability: np.ndarray | None
                  ) -> list[dict[str, Any]]:
    """Run the sanity checks of a periodic rating.

    Parameters
    ----------
    grade : numpy.ndarray
        Each customer's grade id.
    scheme : GradeScheme
        The scheme graded under (its ``checks`` hold the limits).
    scores : Scores
        The card's points, for which inputs were missing.
    revenue : numpy.ndarray, optional
        Each customer's revenue over the last 365 days.
    churn_probability : numpy.ndarray, optional
        Each customer's churn probability (None when no churn model serves).

    Returns
    -------
    list of dict
        One per check that applies, in a fixed order; ``passed`` says whether it held.
    """
    grade = np.asarray(grade, dtype=object)
    checks = [_grade_share(grade, scheme)]
    if revenue is not None:
        checks.append(_grade_order("grade_order_revenue", grade, np.asarray(revenue, dtype=float),
                                   scheme, higher_is_better=True,
                                   what=("revenue over the last 365 days", "近365天销售额")))
    if churn_probability is not None:
        checks.append(_grade_order("grade_order_churn", grade,
                                   np.asarray(churn_probability, dtype=float), scheme,
                                   higher_is_better=False,
                                   what=("churn probability", "流失概率")))
    checks.append(_policy_only(scores, scheme))
    return [c for c in checks if c is not None]


def failed_checks(checks: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The checks of a stored rating that did not hold (none for a rating stored before them)."""
    return [c for c in checks or [] if not c["passed"]]
