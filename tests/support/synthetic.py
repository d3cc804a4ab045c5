"""A small stacked snapshot frame with a known, learnable signal (for estimator tests).

Each customer has a latent activity rate; every snapshot's features are noisy views of it, churn
is drawn from a logistic model of recency and frequency (plus a customer-type effect), and the
future amount is zero for churners and gamma-distributed around the recent monthly spend otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from customer_tiering.ingest import contract as schemas

TYPES = ("hospital", "chain_pharmacy", "single_pharmacy", "clinic", "distributor")
REGIONS = ("north", "south", "east", "west")


def _interaction_recency(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Days since the last complaint / visit / survey (NaN: none) and the last survey score."""
    def days(share_none: float, scale: float) -> np.ndarray:
        return np.where(rng.random(n) < share_none, np.nan, np.floor(rng.exponential(scale, n)))

    return {"days_since_last_complaint": days(0.4, 200.0),
            "days_since_last_visit": days(0.05, 40.0),
            "days_since_last_survey": days(0.2, 120.0),
            "last_survey_score": np.where(rng.random(n) < 0.2, np.nan,
                                          rng.integers(-100, 101, n).astype(float))}


def _btyd_triple(frame: pd.DataFrame, rate: np.ndarray, rng: np.random.Generator
                 ) -> dict[str, np.ndarray]:
    """The BTYD columns, consistent with the frame's recency, tenure and spend (own generator)."""
    first = frame["tenure_days"].to_numpy()
    days = frame["days_since_last_order"].to_numpy()
    span = np.clip(first - days, 0, None)
    span = np.nan_to_num(span)
    repeat = np.where(span > 0, 1 + rng.poisson(rate * span / 30.0), 0).astype(float)
    per_day = frame["monetary_amount_365d"].to_numpy() / np.maximum(
        frame["order_count_365d"].to_numpy(), 1)
    known = ~np.isnan(days)
    return {"repeat_purchase_days": np.where(known, repeat, np.nan),
            "days_first_to_last_purchase": np.where(known, span, np.nan),
            "days_since_first_purchase": np.where(known, first, np.nan),
            "mean_repeat_purchase_amount": np.where(known & (repeat > 0), np.abs(per_day),
                                                    np.where(known, 0.0, np.nan))}


def make_snapshots(n_customers: int = 600, n_snapshots: int = 4, seed: int = 0,
                   base_rate_shift: float = 0.0, shifted_snapshots: int = 1) -> pd.DataFrame:
    """Return one row per (customer_id, as_of) with FEATURE_COLUMNS, LABEL_COLUMNS and as_of.

    ``base_rate_shift`` is added to the churn log-odds of the last ``shifted_snapshots`` snapshots,
    so a model fitted on earlier dates is miscalibrated on them (a seasonal or market shift).
    """
    rng = np.random.default_rng(seed)
    rate = rng.lognormal(mean=0.5, sigma=0.8, size=n_customers)  # orders per month
    ticket = rng.lognormal(mean=8.0, sigma=0.6, size=n_customers)
    ctype = rng.choice(TYPES, size=n_customers)
    region = rng.choice(REGIONS, size=n_customers)
    type_effect = {"hospital": -1.0, "chain_pharmacy": -0.5, "single_pharmacy": 0.8,
                   "clinic": 0.5, "distributor": 0.0}
    dates = pd.date_range("2024-01-31", periods=n_snapshots, freq="ME")
    frames = []
    for s, as_of in enumerate(dates):
        r = rate * rng.lognormal(0.0, 0.25, n_customers)
        n365 = rng.poisson(r * 12)
        n180 = rng.binomial(n365, 0.5)
        n90 = rng.binomial(n180, 0.5)
        monetary365 = n365 * ticket * rng.lognormal(0, 0.2, n_customers)
        recency = np.where(n365 > 0, rng.exponential(30.0 / np.maximum(r, 0.05)), np.nan)
        recency = np.minimum(recency, 365.0)
        logit = (-1.0 + 0.015 * np.nan_to_num(recency, nan=400.0) - 0.6 * np.log1p(n90)
                 + np.array([type_effect[t] for t in ctype]))
        if s >= n_snapshots - shifted_snapshots:
            logit = logit + base_rate_shift
        churned = (rng.random(n_customers) < 1 / (1 + np.exp(-logit))).astype(int)
        # a growing customer buys more next quarter than its past year suggests (trend signal)
        growth = rng.normal(0.0, 0.4, n_customers)
        future = np.where(churned == 1, 0.0,
                          rng.gamma(2.0, np.maximum(monetary365, ticket) / 4 / 2.0 * (r / rate)
                                    * np.exp(growth)))
        # a few customers return more than they buy in the horizon
        future = np.where(rng.random(n_customers) < 0.01, -ticket * 0.2, future)
        frame = pd.DataFrame({
            "customer_id": [f"C{i:05d}" for i in range(n_customers)],
            "as_of": as_of,
            "days_since_last_order": recency,
            "order_count_90d": n90.astype(float),
            "order_count_180d": n180.astype(float),
            "order_count_365d": n365.astype(float),
            "monetary_amount_90d": monetary365 * n90 / np.maximum(n365, 1),
            "monetary_amount_180d": monetary365 * n180 / np.maximum(n365, 1),
            "monetary_amount_365d": monetary365,
            "avg_monthly_amount_12m": monetary365 / 12,
            "avg_monthly_units_12m": monetary365 / 12 / 50,
            "yoy_growth": np.expm1(growth + rng.normal(0, 0.1, n_customers)),
            "tenure_days": rng.uniform(100, 3000, n_customers),
            "mean_days_between_orders": np.where(n365 > 1, 30 / r, np.nan),
            "std_days_between_orders": np.where(n365 > 1, 10 / r, np.nan),
            "last_gap_days": np.where(n365 > 1, 30 / r, np.nan),
            "recency_to_mean_gap": np.where(n365 > 1, recency * r / 30, np.nan),
            "distinct_products_365d": np.minimum(n365, 20).astype(float),
            "return_share_365d": rng.beta(1, 30, n_customers),
            "complaint_count_365d": rng.poisson(0.3, n_customers).astype(float),
            "open_complaint_count": rng.poisson(0.05, n_customers).astype(float),
            # interaction recency from a generator of its own: the draws above stay as they were
            **_interaction_recency(np.random.default_rng([seed, s, 7]), n_customers),
            "channel_coverage": np.where(rng.random(n_customers) < 0.3, np.nan,
                                         rng.integers(0, 11, n_customers)),
            "loyalty": rng.integers(0, 11, n_customers).astype(float),
            "prospects": rng.integers(0, 11, n_customers).astype(float),
            "nps": rng.integers(-100, 101, n_customers).astype(float),
            "customer_type": pd.array(np.where(rng.random(n_customers) < 0.05, None, ctype),
                                      dtype="str"),
            "region": pd.array(region, dtype="str"),
            "churned": churned,
            "future_amount": future,
        })
        frame = frame.assign(**_btyd_triple(frame, rate, np.random.default_rng([seed, s, 11])))
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    assert set(schemas.FEATURE_COLUMNS) <= set(out.columns)
    assert set(schemas.LABEL_COLUMNS) <= set(out.columns)
    return out
