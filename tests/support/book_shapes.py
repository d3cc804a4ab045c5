"""Books unlike the demo, made from it (as ``shared/tools/book_variant.py`` does): a young cohort
with a short history, another currency, transactions only."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd


def short_cohort_transactions(transactions: pd.DataFrame, *, months: int, cohort_months: int = 3,
                              end: date = date(2025, 12, 31), amount_scale: float = 1.0,
                              seed: int = 7) -> pd.DataFrame:
    """Each customer's first ``months`` of orders, re-based to start in the first
    ``cohort_months`` of a window of ``months`` ending at ``end``; amounts times ``amount_scale``.
    Only the three required columns are kept."""
    rng = np.random.default_rng(seed)
    tx = transactions[["customer_id", "order_date", "amount"]].copy()
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    days = int(months * 30.44)
    first = tx.groupby("customer_id")["order_date"].transform("min")
    customers = tx["customer_id"].unique()
    offsets = pd.Series(rng.integers(0, max(1, int(cohort_months * 30.44)), len(customers)),
                        index=customers)
    since_first = (tx["order_date"] - first).dt.days + tx["customer_id"].map(offsets)
    start = pd.Timestamp(end) - pd.Timedelta(days=days - 1)
    keep = since_first < days
    out = pd.DataFrame({"customer_id": tx["customer_id"][keep],
                        "order_date": (start + pd.to_timedelta(since_first[keep], unit="D")).dt.date,
                        "amount": tx["amount"][keep] * amount_scale})
    return out.reset_index(drop=True)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path
