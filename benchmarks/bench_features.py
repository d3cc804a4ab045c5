"""Features for every customer from Parquet: ours (``compute_features``) side by side with one
hand-written DuckDB SQL query computing the same columns, in the same run, alternating.

    .venv/bin/python benchmarks/bench_features.py --data /work/bench-data/1m --as-of 2025-12-31 --repeat 3

Both run with the same DuckDB settings: all cores, a 3 GB memory limit spilling to the system temp
folder (``customer_tiering.features.snapshot.connect``). The results are
compared column by column (to 1e-9) before timing is reported. Targets (issue 3): ours within
1.5x of the hand-written query's median time and under 4 GB peak RSS.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _measure import measure, median

HAND_WRITTEN = """
WITH t AS (SELECT * REPLACE (CAST(order_date AS DATE) AS order_date)
           FROM read_parquet('{d}/transactions.parquet') WHERE order_date <= DATE '{a}'),
o AS (
  SELECT customer_id, COALESCE(order_id, customer_id || '|' || CAST(order_date AS VARCHAR)) k,
         MIN(order_date) d
  FROM t WHERE amount > 0 GROUP BY 1, 2),
oc AS (
  SELECT customer_id,
         SUM(CASE WHEN d > DATE '{a}' - INTERVAL 90 DAY THEN 1 ELSE 0 END) c90,
         SUM(CASE WHEN d > DATE '{a}' - INTERVAL 180 DAY THEN 1 ELSE 0 END) c180,
         SUM(CASE WHEN d > DATE '{a}' - INTERVAL 365 DAY THEN 1 ELSE 0 END) c365
  FROM o GROUP BY 1),
g AS (
  SELECT customer_id, AVG(gap) mg, STDDEV_POP(gap) sg, arg_max(gap, order_date) lg FROM (
    SELECT customer_id, order_date, order_date - LAG(order_date) OVER (PARTITION BY customer_id
           ORDER BY order_date) gap
    FROM (SELECT DISTINCT customer_id, order_date FROM t WHERE amount > 0)) WHERE gap IS NOT NULL
  GROUP BY 1),
pd AS (SELECT customer_id, order_date pday, SUM(amount) net FROM t GROUP BY 1, 2
       HAVING SUM(amount) > 0),
ps AS (SELECT customer_id, COUNT(*) - 1 rep, MIN(pday) fp, MAX(pday) lp,
              SUM(net) - arg_min(net, pday) rnet FROM pd GROUP BY 1),
a AS (
  SELECT customer_id, MIN(order_date) first_day,
         MAX(order_date) FILTER (WHERE amount > 0) last_day,
         SUM(amount) FILTER (WHERE order_date > DATE '{a}' - INTERVAL 90 DAY) m90,
         SUM(amount) FILTER (WHERE order_date > DATE '{a}' - INTERVAL 180 DAY) m180,
         SUM(amount) FILTER (WHERE order_date > DATE '{a}' - INTERVAL 365 DAY) m365,
         SUM(amount) FILTER (WHERE order_date > DATE '{a}' - INTERVAL 730 DAY
                             AND order_date <= DATE '{a}' - INTERVAL 365 DAY) mprev,
         SUM(COALESCE(quantity, 0)) FILTER (WHERE order_date > DATE '{a}' - INTERVAL 365 DAY) u365,
         COUNT(quantity) nq,
         COUNT(DISTINCT product_id) FILTER (WHERE order_date > DATE '{a}' - INTERVAL 365 DAY
                                            AND amount > 0) np,
         SUM(amount) FILTER (WHERE order_date > DATE '{a}' - INTERVAL 365 DAY AND amount > 0) pos,
         SUM(-amount) FILTER (WHERE order_date > DATE '{a}' - INTERVAL 365 DAY AND amount < 0) neg
  FROM t GROUP BY 1),
c AS (SELECT * REPLACE (CAST(first_contract_date AS DATE) AS first_contract_date)
      FROM read_parquet('{d}/customers.parquet')),
k AS (
  SELECT customer_id,
         COUNT(*) FILTER (WHERE opened_at >= DATE '{a}' - INTERVAL 364 DAY) k365,
         COUNT(*) FILTER (WHERE closed_at IS NULL OR closed_at >= DATE '{a}' + INTERVAL 1 DAY) kopen
  FROM read_parquet('{d}/interactions.parquet')
  WHERE interaction_type = 'complaint' AND opened_at < DATE '{a}' + INTERVAL 1 DAY GROUP BY 1),
r AS (
  SELECT customer_id,
         DATE '{a}' - CAST(MAX(opened_at) FILTER (WHERE interaction_type = 'complaint') AS DATE) dlc,
         DATE '{a}' - CAST(MAX(opened_at) FILTER (WHERE interaction_type = 'visit') AS DATE) dlv,
         DATE '{a}' - CAST(MAX(opened_at) FILTER (WHERE interaction_type = 'survey') AS DATE) dls,
         arg_max(score, (opened_at, score)) FILTER (WHERE interaction_type = 'survey'
                                                      AND score IS NOT NULL) lss
  FROM read_parquet('{d}/interactions.parquet')
  WHERE opened_at < DATE '{a}' + INTERVAL 1 DAY GROUP BY 1),
p AS (SELECT DISTINCT customer_id FROM t UNION SELECT customer_id FROM c
      WHERE first_contract_date IS NULL OR first_contract_date <= DATE '{a}')
SELECT p.customer_id,
  DATE '{a}' - a.last_day AS days_since_last_order,
  COALESCE(c90, 0) order_count_90d, COALESCE(c180, 0) order_count_180d,
  COALESCE(c365, 0) order_count_365d,
  COALESCE(m90, 0) monetary_amount_90d, COALESCE(m180, 0) monetary_amount_180d,
  COALESCE(m365, 0) monetary_amount_365d, COALESCE(m365, 0) / 12 avg_monthly_amount_12m,
  CASE WHEN nq > 0 THEN COALESCE(u365, 0) / 12 END avg_monthly_units_12m,
  CASE WHEN mprev > 0 THEN COALESCE(m365, 0) / mprev - 1 END yoy_growth,
  DATE '{a}' - LEAST(COALESCE(a.first_day, c.first_contract_date),
                     COALESCE(CASE WHEN c.first_contract_date <= DATE '{a}'
                                   THEN c.first_contract_date END, a.first_day)) tenure_days,
  mg mean_days_between_orders, sg std_days_between_orders, lg last_gap_days,
  CASE WHEN mg > 0 THEN (DATE '{a}' - a.last_day) / mg END recency_to_mean_gap,
  rep repeat_purchase_days, lp - fp days_first_to_last_purchase,
  DATE '{a}' - fp days_since_first_purchase,
  CASE WHEN rep > 0 THEN rnet / rep WHEN rep = 0 THEN 0 END mean_repeat_purchase_amount,
  COALESCE(np, 0) distinct_products_365d,
  CASE WHEN pos > 0 THEN COALESCE(neg, 0) / pos END return_share_365d,
  COALESCE(k365, 0) complaint_count_365d, COALESCE(kopen, 0) open_complaint_count,
  dlc days_since_last_complaint, dlv days_since_last_visit, dls days_since_last_survey,
  lss last_survey_score,
  c.channel_coverage, c.loyalty, c.prospects, c.nps, c.customer_type, c.region
FROM p LEFT JOIN a USING (customer_id) LEFT JOIN oc USING (customer_id)
LEFT JOIN g USING (customer_id) LEFT JOIN k USING (customer_id) LEFT JOIN r USING (customer_id)
LEFT JOIN ps USING (customer_id) LEFT JOIN c USING (customer_id)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--as-of", default="2025-12-31")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    d, a = args.data.resolve(), args.as_of
    ours_body = f"""
        from datetime import date
        from customer_tiering.features.compute import compute_features
        f = compute_features({str(d / 'transactions.parquet')!r}, {str(d / 'customers.parquet')!r},
                             {str(d / 'interactions.parquet')!r}, as_of=date.fromisoformat({a!r}))
        RESULT = len(f)
    """
    ref_body = f"""
        from customer_tiering.features.snapshot import connect
        con = connect()
        f = con.execute({HAND_WRITTEN.format(d=d, a=a)!r}).df()
        RESULT = len(f)
    """
    check = measure(f"""
        import duckdb, numpy as np
        from datetime import date
        from customer_tiering.features.compute import compute_features
        from customer_tiering.ingest.contract import FEATURE_COLUMNS
        ours = compute_features({str(d / 'transactions.parquet')!r},
                                {str(d / 'customers.parquet')!r},
                                {str(d / 'interactions.parquet')!r},
                                as_of=date.fromisoformat({a!r})).set_index("customer_id")
        from customer_tiering.features.snapshot import connect
        ref = connect().execute({HAND_WRITTEN.format(d=d, a=a)!r}).df()
        ref = ref.set_index("customer_id").loc[ours.index]
        worst = 0.0
        for c in FEATURE_COLUMNS:
            if c in ("customer_type", "region"):
                assert (ours[c].fillna("") == ref[c].fillna("")).all(), c
                continue
            x, y = ours[c].to_numpy(float), ref[c].to_numpy(float)
            assert (np.isnan(x) == np.isnan(y)).all(), c
            ok = ~np.isnan(x)
            diff = np.abs(x[ok] - y[ok]) / np.maximum(1.0, np.abs(y[ok]))
            worst = max(worst, float(diff.max()) if diff.size else 0.0)
        assert worst < 1e-9, worst
        RESULT = [len(ours), worst]
    """)
    print(f"results agree: {check.extra[0]:,} customers, max relative difference "
          f"{check.extra[1]:.1e}")
    ours, ref = [], []
    for _ in range(args.repeat):
        ours.append(measure(ours_body))
        ref.append(measure(ref_body))
    t_ours, t_ref = median([r.seconds for r in ours]), median([r.seconds for r in ref])
    print(f"ours s: {[round(r.seconds, 1) for r in ours]}; hand-written SQL s: "
          f"{[round(r.seconds, 1) for r in ref]}")
    print(f"median ours {t_ours:.1f} s, hand-written {t_ref:.1f} s, ratio {t_ours / t_ref:.2f} "
          f"(target <= 1.5)")
    print(f"peak RSS ours {max(r.peak_mb for r in ours):,.0f} MB (target < 4096), hand-written "
          f"{max(r.peak_mb for r in ref):,.0f} MB")


if __name__ == "__main__":
    main()
