"""Grading 1M customers with the default card, side by side with a plain NumPy implementation of
the same card (``np.select``), in the same run, alternating.

    .venv/bin/python benchmarks/bench_scorecard.py --customers 1000000 --repeat 5

What is timed, for both: from a features frame in memory to the points of the five criteria, the
total and the grade (seed 001 thresholds) of every customer. Ours also builds the points/band
matrices the explanation needs (``Scores``); the long points table (one row per customer and
criterion) is built on demand and timed separately. The two results are checked equal first.
Targets (issue 4): under 2 s and 1 GB, within 2x of the NumPy reference.
"""

from __future__ import annotations

import argparse

from _measure import measure, median

SETUP = """
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
n = {n}
features = pd.DataFrame({{
    "customer_id": np.char.add("C", np.arange(n).astype(str)).astype(object),
    "avg_monthly_units_12m": rng.lognormal(1, 1.2, n),
    "yoy_growth": np.where(rng.random(n) < 0.1, np.nan, rng.normal(0.1, 0.5, n)),
    "channel_coverage": np.where(rng.random(n) < 0.08, np.nan, rng.integers(0, 11, n) * 1.0),
    "loyalty": np.where(rng.random(n) < 0.05, np.nan, rng.integers(0, 11, n) * 1.0),
    "prospects": np.where(rng.random(n) < 0.05, np.nan, rng.integers(0, 11, n) * 1.0),
}})
"""

OURS = """
from customer_tiering.core.config_io import default_config_dir, load_yaml_model
from customer_tiering.scoring.grading import GradesConfig, assign_grades
from customer_tiering.scoring.scorecard import ScorecardConfig, score
card = load_yaml_model(default_config_dir() / "scorecard.yaml", ScorecardConfig)
scheme = load_yaml_model(default_config_dir() / "grades.yaml", GradesConfig).scheme()
"""

OURS_BODY = """
s = score(features, card)
grades = assign_grades(s.total, scheme)
RESULT = [float(s.total.sum()), int((grades == "VIP").sum())]
"""

NUMPY_BODY = """
u = features["avg_monthly_units_12m"].to_numpy()
sales = np.select([u >= 10, u >= 5, u >= 3, u >= 2, u >= 1], [50, 40, 30, 20, 10], 0.0)
g = features["yoy_growth"].to_numpy()
growth = np.select(
    [np.isnan(g), g < 0, g < 0.2, g < 0.5, g < 1.0],
    [5.0, 0.0, g / 0.2 * 5, 5 + (g - 0.2) / 0.3 * 5, 10 + (g - 0.5) / 0.5 * 10], 20.0)
judged = [np.nan_to_num(np.clip(features[c].to_numpy(), 0, 10))
          for c in ("channel_coverage", "loyalty", "prospects")]
total = sales + growth + judged[0] + judged[1] + judged[2]
grades = np.select([total >= 90, total >= 75, total >= 60, total >= 50],
                   ["VIP", "core", "effective", "dormant"], "potential")
RESULT = [float(total.sum()), int((grades == "VIP").sum())]
"""

TABLE_BODY = """
s = score(features, card)
table = s.table()
RESULT = [len(table)]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup = SETUP.format(n=args.customers)
    ours_check = measure(OURS_BODY, setup + OURS)
    ref_check = measure(NUMPY_BODY, setup)
    assert abs(ours_check.extra[0] - ref_check.extra[0]) <= 1e-6 * abs(ref_check.extra[0]), (
        ours_check.extra, ref_check.extra)
    assert ours_check.extra[1] == ref_check.extra[1]
    print(f"results agree: sum of totals {ref_check.extra[0]:,.2f}, VIP {ref_check.extra[1]:,}")
    ours, ref = [], []
    for _ in range(args.repeat):
        ours.append(measure(OURS_BODY, setup + OURS))
        ref.append(measure(NUMPY_BODY, setup))
    table = [measure(TABLE_BODY, setup + OURS) for _ in range(max(1, args.repeat // 2))]
    t_ours, t_ref = median([r.seconds for r in ours]), median([r.seconds for r in ref])
    print(f"customers: {args.customers:,}")
    print(f"ours s: {[round(r.seconds, 3) for r in ours]}; numpy np.select s: "
          f"{[round(r.seconds, 3) for r in ref]}")
    print(f"median ours {t_ours:.3f} s, numpy {t_ref:.3f} s, ratio {t_ours / t_ref:.2f} "
          f"(targets: < 2 s, <= 2x)")
    print(f"peak RSS of the whole process (features frame included): ours "
          f"{max(r.peak_mb for r in ours):,.0f} MB, numpy {max(r.peak_mb for r in ref):,.0f} MB "
          f"(target < 1024)")
    print(f"long points table ({args.customers * 5:,} rows), built on demand: median "
          f"{median([r.seconds for r in table]):.2f} s, peak RSS "
          f"{max(r.peak_mb for r in table):,.0f} MB")


if __name__ == "__main__":
    main()
