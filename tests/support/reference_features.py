"""A plain pandas implementation of the feature and label definitions, written independently of
the SQL in ``customer_tiering.features.compute`` to cross-check it (row by row, straightforward groupby
code; slow, for small test data only)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd


def _window(tx: pd.DataFrame, as_of: pd.Timestamp, days: int) -> pd.DataFrame:
    return tx[(tx["order_date"] > as_of - pd.Timedelta(days=days)) & (tx["order_date"] <= as_of)]


def reference_features(
    transactions: pd.DataFrame,
    customers: pd.DataFrame | None,
    interactions: pd.DataFrame | None,
    as_of: date,
) -> pd.DataFrame:
    day = pd.Timestamp(as_of)
    tx = transactions.copy()
    tx["order_date"] = pd.to_datetime(tx["order_date"]).dt.normalize()
    tx = tx[tx["order_date"] <= day]
    known = set(tx["customer_id"])
    if customers is not None:
        c = customers.copy()
        c["first_contract_date"] = pd.to_datetime(c["first_contract_date"])
        known |= set(c.loc[c["first_contract_date"].isna() | (c["first_contract_date"] <= day),
                           "customer_id"])
    rows = []
    for cid in sorted(known):
        mine = tx[tx["customer_id"] == cid]
        pos = mine[mine["amount"] > 0]
        row: dict[str, object] = {"customer_id": cid, "as_of": day}
        row["days_since_last_order"] = (
            float((day - pos["order_date"].max()).days) if len(pos) else np.nan
        )
        keys = pos["order_id"].where(pos["order_id"].notna(),
                                     cid + "|" + pos["order_date"].dt.strftime("%Y-%m-%d"))
        first_day = pos.assign(key=keys).groupby("key")["order_date"].min()
        for w in (90, 180, 365):
            row[f"order_count_{w}d"] = float((first_day > day - pd.Timedelta(days=w)).sum())
        for w in (90, 180, 365):
            row[f"monetary_amount_{w}d"] = float(_window(mine, day, w)["amount"].sum())
        last_year = _window(mine, day, 365)
        prev_year = mine[(mine["order_date"] > day - pd.Timedelta(days=730))
                         & (mine["order_date"] <= day - pd.Timedelta(days=365))]
        row["avg_monthly_amount_12m"] = float(last_year["amount"].sum()) / 12.0
        row["avg_monthly_units_12m"] = (
            float(last_year["quantity"].fillna(0).sum()) / 12.0
            if mine["quantity"].notna().any() else np.nan
        )
        prev = float(prev_year["amount"].sum())
        row["yoy_growth"] = float(last_year["amount"].sum()) / prev - 1 if prev > 0 else np.nan
        firsts = []
        if len(mine):
            firsts.append(mine["order_date"].min())
        if customers is not None:
            cc = customers[customers["customer_id"] == cid]
            contract = pd.to_datetime(cc["first_contract_date"]).dropna()
            contract = contract[contract <= day]
            if len(contract):
                firsts.append(contract.min())
        row["tenure_days"] = float((day - min(firsts)).days) if firsts else np.nan
        days = np.sort(pos["order_date"].drop_duplicates().to_numpy())
        gaps = np.diff(days).astype("timedelta64[D]").astype(float)
        row["mean_days_between_orders"] = float(gaps.mean()) if len(gaps) else np.nan
        row["std_days_between_orders"] = float(gaps.std(ddof=0)) if len(gaps) else np.nan
        row["last_gap_days"] = float(gaps[-1]) if len(gaps) else np.nan
        row["recency_to_mean_gap"] = (row["days_since_last_order"] / gaps.mean()
                                      if len(gaps) and gaps.mean() > 0 else np.nan)
        daily = mine.groupby("order_date")["amount"].sum().sort_index()
        daily = daily[daily > 0]
        if len(daily):
            repeat = len(daily) - 1
            row["repeat_purchase_days"] = float(repeat)
            row["days_first_to_last_purchase"] = float((daily.index[-1] - daily.index[0]).days)
            row["days_since_first_purchase"] = float((day - daily.index[0]).days)
            row["mean_repeat_purchase_amount"] = (float(daily.iloc[1:].sum()) / repeat
                                                  if repeat else 0.0)
        else:
            for name in ("repeat_purchase_days", "days_first_to_last_purchase",
                         "days_since_first_purchase", "mean_repeat_purchase_amount"):
                row[name] = np.nan
        ly_pos = last_year[last_year["amount"] > 0]
        row["distinct_products_365d"] = float(ly_pos["product_id"].dropna().nunique())
        positive = float(ly_pos["amount"].sum())
        negative = float(-last_year.loc[last_year["amount"] < 0, "amount"].sum())
        row["return_share_365d"] = negative / positive if positive > 0 else np.nan
        complaints_365 = 0.0
        open_now = 0.0
        if interactions is not None and len(interactions):
            it = interactions[(interactions["customer_id"] == cid)
                              & (interactions["interaction_type"] == "complaint")]
            end_of_day = day + pd.Timedelta(days=1)
            opened = pd.to_datetime(it["opened_at"])
            closed = pd.to_datetime(it["closed_at"])
            seen = opened < end_of_day
            complaints_365 = float((seen & (opened >= day - pd.Timedelta(days=364))).sum())
            open_now = float((seen & (closed.isna() | (closed >= end_of_day))).sum())
        row["complaint_count_365d"] = complaints_365
        row["open_complaint_count"] = open_now
        for kind in ("complaint", "visit", "survey"):
            row[f"days_since_last_{kind}"] = np.nan
        row["last_survey_score"] = np.nan
        if interactions is not None and len(interactions):
            mine = interactions[(interactions["customer_id"] == cid)
                                & (pd.to_datetime(interactions["opened_at"])
                                   < day + pd.Timedelta(days=1))]
            for kind in ("complaint", "visit", "survey"):
                opened = pd.to_datetime(mine.loc[mine["interaction_type"] == kind, "opened_at"])
                if len(opened):
                    row[f"days_since_last_{kind}"] = float(
                        (day - opened.max().normalize()).days)
            scored = mine[(mine["interaction_type"] == "survey") & mine["score"].notna()]
            if len(scored):
                latest = scored[pd.to_datetime(scored["opened_at"])
                                == pd.to_datetime(scored["opened_at"]).max()]
                row["last_survey_score"] = float(latest["score"].max())
        for col in ("channel_coverage", "loyalty", "prospects", "nps", "customer_type", "region"):
            value = None
            if customers is not None:
                cc = customers.loc[customers["customer_id"] == cid, col].dropna()
                value = cc.max() if len(cc) else None
            row[col] = value
        rows.append(row)
    return pd.DataFrame(rows)


def reference_labels(transactions: pd.DataFrame, population: list[str], as_of: date,
                     horizon_days: int) -> pd.DataFrame:
    day = pd.Timestamp(as_of)
    end = pd.Timestamp(as_of + timedelta(days=horizon_days))
    tx = transactions.copy()
    tx["order_date"] = pd.to_datetime(tx["order_date"]).dt.normalize()
    window = tx[(tx["order_date"] > day) & (tx["order_date"] <= end)]
    rows = []
    for cid in sorted(population):
        mine = window[window["customer_id"] == cid]
        rows.append({
            "customer_id": cid,
            "churned": int(not (mine["amount"] > 0).any()),
            "future_amount": float(mine["amount"].sum()),
        })
    return pd.DataFrame(rows)
