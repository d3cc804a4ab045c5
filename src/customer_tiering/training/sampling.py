"""Which customers a fit learns from when the snapshot table is larger than the config's budget.

A churn or value config's ``max_fit_rows`` bounds the rows the fits learn from (the serving refit
learns every snapshot date, holdout included, so the budget is counted over all of them). Above it,
whole customers are sampled (every date of a chosen customer is kept, so no customer's history is
split between learnt and not learnt), the same share in each label stratum:

* churn: the share of a customer's training snapshots labelled churned, in fifths (0, 1/4, ..,
  1 rounded to quarters);
* value: customers whose mean future amount over their training snapshots is zero or below, then
  the quartiles of the positive means;
* customers with no training snapshot (new at the holdout, learnt by the serving refit only):
  one stratum of their own.

The strata come from the training dates' labels only: the holdout's labels do not choose who is
learnt. The holdout itself is never sampled: the gate scores every holdout customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.training.snapshot_files import SnapshotFiles

__all__ = ["FitSample", "customer_labels", "sample_customers", "stratify"]


@dataclass(frozen=True)
class FitSample:
    """A stratified sample of customers for the fits, and what it kept."""

    customers: np.ndarray  # the chosen ids, sorted
    budget: int
    fraction: float
    table_rows: int  # rows of every snapshot date before sampling
    table_customers: int
    strata: dict[str, tuple[int, int]]  # stratum -> (customers, chosen)
    label: str

    def params(self) -> dict[str, Any]:
        """MLflow params of the sample."""
        return {"fit_sample.budget_rows": self.budget,
                "fit_sample.fraction": round(self.fraction, 6),
                "fit_sample.customers": len(self.customers),
                "fit_sample.table_customers": self.table_customers,
                "fit_sample.table_rows": self.table_rows,
                "fit_sample.stratified_by": self.stratified_by}

    @property
    def stratified_by(self) -> str:
        return ("churned share of the training snapshots, in quarters" if self.label == "churned"
                else "mean future amount: zero or below, then quartiles of the positive means")

    def note(self) -> str:
        """One line for the model card and the version's description."""
        strata = ", ".join(f"{name} {chosen:,}/{count:,}" for name, (count, chosen)
                           in self.strata.items())
        return (f"fit on a sample: the snapshot table had {self.table_rows:,} rows "
                f"({self.table_customers:,} customers), over the config's max_fit_rows "
                f"{self.budget:,}; {len(self.customers):,} customers ({self.fraction:.1%}) were "
                f"learnt, stratified by {self.stratified_by} ({strata}); the holdout was scored "
                "whole")


def customer_labels(files: SnapshotFiles, train_dates: list[date], holdout: date, label: str
                    ) -> pd.DataFrame:
    """Each customer's mean ``label`` over its training snapshots and its row count.

    Parameters
    ----------
    files : the snapshot files.
    train_dates, holdout : the training dates and the holdout date.
    label : ``churned`` or ``future_amount``.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``mean`` (NaN: no training snapshot), ``rows`` (every date), sorted by id.
    """
    import duckdb

    def paths(days: list[date]) -> list[str]:
        return [str(files.files[d]) for d in days]

    with duckdb.connect() as con:
        return con.execute(f"""
            WITH train AS (
                SELECT customer_id, AVG(CAST("{label}" AS DOUBLE)) AS mean, COUNT(*) AS n
                FROM read_parquet(?) GROUP BY customer_id),
            hold AS (SELECT customer_id, COUNT(*) AS n FROM read_parquet(?) GROUP BY customer_id)
            SELECT COALESCE(train.customer_id, hold.customer_id) AS customer_id, train.mean,
                   CAST(COALESCE(train.n, 0) + COALESCE(hold.n, 0) AS BIGINT) AS rows
            FROM train FULL OUTER JOIN hold ON train.customer_id = hold.customer_id
            ORDER BY customer_id
        """, [paths(train_dates), paths([holdout])]).df()


def stratify(means: pd.Series, label: str) -> pd.Series:
    """Each customer's stratum name from its mean label (NaN: ``new at the holdout``).

    Parameters
    ----------
    means : the mean label per customer.
    label : ``churned`` or ``future_amount``.

    Returns
    -------
    pandas.Series
        Stratum names, aligned with ``means``.
    """
    values = means.to_numpy(dtype=float)
    known = ~np.isnan(values)
    names = np.full(len(values), "new at the holdout", dtype=object)
    if label == "churned":
        quarters = np.round(values[known] * 4).astype(int)
        names[known] = [f"churned {q}/4" for q in quarters]
    else:
        positive = known & (values > 0)
        names[known & ~positive] = "zero or below"
        if positive.any():
            edges = np.quantile(values[positive], [0.25, 0.5, 0.75])
            quartile = np.searchsorted(edges, values[positive], side="right") + 1
            names[positive] = [f"positive Q{q}" for q in quartile]
    return pd.Series(names, index=means.index)


def sample_customers(per_customer: pd.DataFrame, budget: int, label: str, seed: int
                     ) -> FitSample | None:
    """The stratified sample of customers whose rows fit ``budget``, or None when all fit.

    Parameters
    ----------
    per_customer : :func:`customer_labels`.
    budget : the config's ``max_fit_rows``.
    label : ``churned`` or ``future_amount``.
    seed : the config's seed (the same data and seed choose the same customers).

    Returns
    -------
    FitSample or None
    """
    total = int(per_customer["rows"].sum())
    if total <= budget:
        return None
    fraction = budget / total
    strata = stratify(per_customer["mean"], label)
    ids = per_customer["customer_id"].to_numpy(dtype=object)
    rng = np.random.default_rng(seed)
    chosen: list[np.ndarray] = []
    counts: dict[str, tuple[int, int]] = {}
    for name in sorted(strata.unique()):
        members = ids[(strata == name).to_numpy()]
        take = round(fraction * len(members))
        picked = rng.choice(len(members), size=take, replace=False) if take else np.array([], int)
        chosen.append(members[np.sort(picked)])
        counts[name] = (len(members), take)
    customers = np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=object)
    return FitSample(customers=customers, budget=budget, fraction=fraction, table_rows=total,
                     table_customers=len(ids), strata=counts, label=label)
