"""Time the BG/NBD + Gamma-Gamma baseline at training scale (run by hand, not in tests).

    PYTHONPATH=src python benchmarks/bench_bgnbd.py --customers 100000

Simulates customers from the BG/NBD process (first purchase spread over two years), writes them as
canonical transactions, then times ``summary_from_transactions``, the two fits and the scoring, and
prints the recovered parameters beside the truth.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from customer_tiering.models.baselines import bgnbd_scores
from customer_tiering.models.clv import BetaGeoModel, summary_from_transactions
from customer_tiering.models.clv_simulation import simulate_bgnbd

TRUTH = {"r": 0.6, "alpha": 40.0, "a": 0.8, "b": 2.5}


def _transactions(n: int, seed: int) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Expand a BG/NBD simulation into one row per purchase day (recency and T preserved)."""
    rng = np.random.default_rng(seed)
    T = rng.integers(30, 730, n).astype(float)
    sim = simulate_bgnbd(n, **TRUTH, T=T, seed=seed)
    as_of = pd.Timestamp("2025-01-01")
    first = as_of - pd.to_timedelta(T, unit="D")
    ids, days = [np.arange(n)], [np.zeros(n)]
    x = sim["frequency"].to_numpy().astype(int)
    t_x = np.floor(sim["recency"].to_numpy())
    # repeat purchases: the last at recency, the others uniform before it (days are integers, so a
    # few collide and merge; good enough for timing)
    rep = np.repeat(np.arange(n), x)
    last_flag = np.r_[np.diff(rep) != 0, True] if rep.size else np.array([], bool)
    offs = np.where(last_flag, t_x[rep], np.floor(rng.uniform(0, 1, rep.size) * t_x[rep]))
    ids.append(rep)
    days.append(offs)
    cid = np.concatenate(ids)
    day = np.concatenate(days)
    tx = pd.DataFrame({
        "customer_id": pd.Series(cid).map("C{:06d}".format),
        "order_date": first.values[cid] + pd.to_timedelta(day, unit="D"),
        "amount": rng.lognormal(6, 0.6, cid.size),
    })
    return tx, as_of


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tx, as_of = _transactions(args.customers, args.seed)
    print(f"{args.customers} customers, {len(tx)} transaction rows")
    t0 = time.perf_counter()
    summary = summary_from_transactions(tx, as_of)
    t1 = time.perf_counter()
    model = BetaGeoModel().fit(summary)
    t2 = time.perf_counter()
    churn, value = bgnbd_scores(summary, 90)
    t3 = time.perf_counter()
    print(f"summary {t1 - t0:.2f} s; BG/NBD fit {t2 - t1:.2f} s; "
          f"fit both + score {t3 - t2:.2f} s")
    print("truth    ", TRUTH)
    print("recovered", {k: round(v, 3) for k, v in model.params_.items()})
    print(f"mean P(no purchase in 90 d) {churn.mean():.3f}; mean value {value.mean():.1f}")


if __name__ == "__main__":
    main()
