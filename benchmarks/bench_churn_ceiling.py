"""How much of the possible churn AUC the champion reaches on demo data (run by hand, not in tests).

    .venv/bin/python benchmarks/bench_churn_ceiling.py --work /work/bench-train

``--work`` is the folder of ``benchmarks/bench_train.sh``: ``raw/`` (the demo data and its hidden
truth), ``clean/`` (loaded) and ``mlflow/mlflow.db`` (the champion trained there).

On the training job's holdout (the same customers, snapshot and 90-day label), prints the ROC AUC
of the champion churn model, of the BG/NBD baseline, and of two scorers that read the generator's
hidden truth:

* **oracle, future known**: knows each customer's true order rate and the churn date, including a
  churn still to come; nothing observable can reach it (the upper bound of any model);
* **oracle, today known**: knows each customer's true order rate, trend and churn hazard, and
  whether the customer has churned by the snapshot date, but not when a living customer will
  churn; it averages over the churn date. A model has to estimate the rates and the state from
  a few dozen orders, so this is the reference it works towards; it is not a strict bound,
  since the precursors of a churn still to come (the slump, a complaint) are visible to a model
  and not used by this oracle.

The margin the issue asks for is read against the gap from BG/NBD to the second oracle, with a
paired bootstrap interval (customers resampled) for the model's margin over BG/NBD.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from customer_tiering.core.config_io import load_yaml_model
from customer_tiering.core.settings import Settings
from customer_tiering.demo.activity import SEASON as _SEASON
from customer_tiering.features.compute import build_snapshots
from customer_tiering.models.baselines import churn_baselines
from customer_tiering.models.evaluation import roc_auc
from customer_tiering.models.spec import TrainingConfig, plan_dates
from customer_tiering.registry.loading import load_version

ROOT = Path(__file__).resolve().parents[1]
_EPOCH = date(1970, 1, 1)


def _day(d: date) -> int:
    return (d - _EPOCH).days


def _month_windows(first: date, last_day: int) -> list[tuple[int, int, int]]:
    """(first day, first day of the next month, month index 0-11) from ``first``'s month on."""
    out, d = [], date(first.year, first.month, 1)
    while _day(d) <= last_day:
        nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        out.append((_day(d), _day(nxt), d.month - 1))
        d = nxt
    return out


class _Truth:
    """Expected orders in a label window from the generator's latent values (demo/population.py)."""

    def __init__(self, truth: pd.DataFrame, start: date, as_of: date, horizon_days: int) -> None:
        self.rate = truth["expected_orders_per_month"].to_numpy(dtype=float)
        self.growth = truth["growth_per_year"].to_numpy(dtype=float)
        self.hazard = truth["monthly_churn_hazard"].to_numpy(dtype=float)
        churned = pd.to_datetime(truth["churn_date"])
        days = (churned - pd.Timestamp(_EPOCH)).dt.days
        self.churn_day = days.fillna(1e9).to_numpy(dtype=float)
        self.start, self.h, self.horizon = _day(start), _day(as_of), horizon_days
        self.months = _month_windows(as_of, self.h + horizon_days)

    def expected_orders(self, churn_day: np.ndarray) -> np.ndarray:
        """Orders expected in ``(as_of, as_of + horizon]`` if each customer churns on ``churn_day``.

        The generator's rate: monthly base x season x growth trend x the slump of the 180 days
        before churn, spread evenly over the month's days, none from the churn day on.
        """
        total = np.zeros_like(self.rate)
        for lo, hi, month in self.months:
            mid = (lo + hi) / 2.0
            slump = np.clip(0.1 + 0.9 * (churn_day - mid) / 180.0, 0.1, 1.0)
            rate = (self.rate * _SEASON[month] * np.exp(self.growth * (mid - self.start) / 365.25)
                    * slump)
            a, b = max(lo, self.h + 1), min(hi, self.h + self.horizon + 1)
            if b > a:
                total += rate * np.clip(np.minimum(b, churn_day) - a, 0, None) / (hi - lo)
        return total

    def future_known(self) -> np.ndarray:
        """P(no order in the window) knowing the churn date."""
        return np.exp(-self.expected_orders(self.churn_day))

    def today_known(self) -> np.ndarray:
        """P(no order in the window) knowing whether churned by as_of, averaging over the date."""
        mean_days = 30.44 / self.hazard  # the generator's exponential time to churn
        acc, mass = np.zeros_like(self.rate), np.zeros_like(self.rate)
        for s in range(1, 400):  # churn s days after as_of (memoryless), then beyond the slump
            w = np.exp(-(s - 1) / mean_days) - np.exp(-s / mean_days)
            acc += w * np.exp(-self.expected_orders(np.full_like(self.rate, self.h + s)))
            mass += w
        acc += (1.0 - mass) * np.exp(-self.expected_orders(np.full_like(self.rate, 1e9)))
        return np.where(self.churn_day > self.h, acc, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 12, 31))
    parser.add_argument("--config", type=Path, default=ROOT / "training/config/churn.yaml")
    parser.add_argument("--resamples", type=int, default=300)
    args = parser.parse_args()

    cfg = load_yaml_model(args.config, TrainingConfig)
    _, holdout = plan_dates(args.as_of, cfg.data)
    clean = args.work / "clean"
    hold = build_snapshots(clean / "transactions.parquet", clean / "customers.parquet",
                           clean / "interactions.parquet", as_of_dates=[holdout],
                           horizon_days=cfg.data.horizon_days, with_labels=True)
    if cfg.data.active_within_days is not None:
        hold = hold[hold["days_since_last_order"] <= cfg.data.active_within_days]
    hold = hold.reset_index(drop=True)
    y = hold["churned"].to_numpy(dtype=float)

    uri = os.environ.get("TIERING_MLFLOW_URI", f"sqlite:///{args.work / 'mlflow' / 'mlflow.db'}")
    champion = load_version("tiering-churn", settings=Settings(mlflow_uri=uri))
    tx = pd.read_parquet(clean / "transactions.parquet",
                         columns=["customer_id", "order_date", "amount"])
    manifest = json.loads((args.work / "raw" / "manifest.json").read_text(encoding="utf-8"))
    truth = pd.read_parquet(args.work / "raw" / "truth" / "customers_truth.parquet")
    truth = truth.set_index("customer_id").loc[hold["customer_id"].to_numpy()]
    oracle = _Truth(truth, date.fromisoformat(manifest["start"]), holdout,
                    cfg.data.horizon_days)
    scores = {
        f"model (champion v{champion.version})": np.asarray(
            champion.model.predict_proba(hold))[:, 1],
        "BG/NBD": churn_baselines(hold, tx, as_of=holdout,
                                  horizon_days=cfg.data.horizon_days)["bgnbd"],
        "oracle, today known": oracle.today_known(),
        "oracle, future known": oracle.future_known(),
    }
    auc = {name: roc_auc(y, s) for name, s in scores.items()}
    model_name, bg, ceiling = next(iter(scores)), auc["BG/NBD"], auc["oracle, today known"]
    print(f"holdout {holdout}: {len(hold):,} customers, churn rate {y.mean():.4f}")
    print("| scorer | ROC AUC | over BG/NBD |\n| --- | --- | --- |")
    for name, value in auc.items():
        print(f"| {name} | {value:.4f} | {value - bg:+.4f} |")
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(args.resamples):
        i = rng.integers(0, len(y), len(y))
        diffs.append(roc_auc(y[i], scores[model_name][i]) - roc_auc(y[i], scores["BG/NBD"][i]))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    print(f"model margin over BG/NBD {auc[model_name] - bg:+.4f}, 95% interval "
          f"[{lo:+.4f}, {hi:+.4f}] ({args.resamples} paired resamples)")
    print(f"share of the BG/NBD-to-ceiling gap the model closes: "
          f"{(auc[model_name] - bg) / (ceiling - bg):.1%}; a +0.02 margin needs "
          f"{0.02 / (ceiling - bg):.1%}")


if __name__ == "__main__":
    main()
