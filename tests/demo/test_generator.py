from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from customer_tiering.demo.generator import generate_demo_data
from customer_tiering.features.compute import compute_features, compute_labels
from customer_tiering.ingest.contract import CUSTOMER_TYPES, CUSTOMERS, INTERACTIONS, TRANSACTIONS
from customer_tiering.ingest.loading import read_table

END = date(2025, 12, 31)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "raw"
    generate_demo_data(out, customers=3_000, seed=7)
    return out


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for name in ("transactions", "customers", "interactions"):
        h.update(pd.read_parquet(folder / f"{name}.parquet").to_csv().encode())
    h.update(pd.read_parquet(folder / "truth" / "customers_truth.parquet").to_csv().encode())
    return h.hexdigest()


def test_files_follow_the_data_contract_and_validate_without_rejects(demo: Path) -> None:
    for spec in (TRANSACTIONS, CUSTOMERS, INTERACTIONS):
        frame = pd.read_parquet(demo / f"{spec.name}.parquet")
        assert list(frame.columns) == list(spec.column_names)
        result = read_table(demo / f"{spec.name}.parquet", spec, as_of=END)
        assert result.rejected == 0, result.problems[:3]
    customers = pd.read_parquet(demo / "customers.parquet")
    assert set(customers["customer_type"]) == set(CUSTOMER_TYPES)


def test_about_80_percent_of_revenue_comes_from_20_percent_of_customers(demo: Path) -> None:
    tx = pd.read_parquet(demo / "transactions.parquet")
    revenue = tx.groupby("customer_id")["amount"].sum().clip(lower=0).sort_values(ascending=False)
    top = revenue.iloc[: int(0.2 * len(revenue))].sum() / revenue.sum()
    assert 0.72 <= top <= 0.90


def test_about_100_lines_per_customer_over_the_default_history(demo: Path) -> None:
    lines = len(pd.read_parquet(demo / "transactions.parquet"))
    assert 60 <= lines / 3_000 <= 140


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path: Path, demo: Path
                                                                  ) -> None:
    generate_demo_data(tmp_path / "a", customers=3_000, seed=7)
    generate_demo_data(tmp_path / "b", customers=3_000, seed=8)
    assert digest(tmp_path / "a") == digest(demo)
    assert digest(tmp_path / "b") != digest(demo)


def test_output_does_not_depend_on_how_many_blocks_are_held_at_once(tmp_path: Path) -> None:
    generate_demo_data(tmp_path / "one", customers=25_000, seed=3, blocks_per_chunk=1,
                       end=date(2023, 6, 30), start=date(2023, 1, 1), future_days=30)
    generate_demo_data(tmp_path / "all", customers=25_000, seed=3, blocks_per_chunk=3,
                       end=date(2023, 6, 30), start=date(2023, 1, 1), future_days=30)
    assert digest(tmp_path / "one") == digest(tmp_path / "all")


def test_history_and_future_are_split_at_the_end_date(demo: Path) -> None:
    tx = pd.read_parquet(demo / "transactions.parquet")
    future = pd.read_parquet(demo / "truth" / "future_transactions.parquet")
    assert pd.to_datetime(tx["order_date"]).max() <= pd.Timestamp(END)
    assert pd.to_datetime(future["order_date"]).min() > pd.Timestamp(END)
    assert pd.to_datetime(future["order_date"]).max() <= pd.Timestamp(END) + pd.Timedelta(days=365)


def test_churned_customers_never_order_after_their_churn_date(demo: Path) -> None:
    truth = pd.read_parquet(demo / "truth" / "customers_truth.parquet")
    lines = pd.concat([pd.read_parquet(demo / "transactions.parquet"),
                       pd.read_parquet(demo / "truth" / "future_transactions.parquet")])
    last = lines.groupby("customer_id")["order_date"].max().rename("last")
    churned = truth.dropna(subset=["churn_date"]).join(last, on="customer_id", how="inner")
    assert len(churned) > 100
    assert (pd.to_datetime(churned["last"]) < pd.to_datetime(churned["churn_date"])).all()


def test_returns_exist_and_are_negative_in_amount_and_quantity(demo: Path) -> None:
    tx = pd.read_parquet(demo / "transactions.parquet")
    returns = tx[tx["amount"] < 0]
    assert 0.01 < len(returns) / len(tx) < 0.05
    assert (returns["quantity"] < 0).all()


def test_churn_is_learnable_from_observable_features(demo: Path) -> None:
    """A plain logistic regression on a few observable features predicts the true 90-day churn
    (from the hidden future) far better than chance."""
    f = compute_features(demo / "transactions.parquet", demo / "customers.parquet",
                         demo / "interactions.parquet", as_of=END)
    truth = pd.read_parquet(demo / "truth" / "customers_truth.parquet")
    churn_date = pd.to_datetime(truth.set_index("customer_id")["churn_date"])
    active = f[f["days_since_last_order"] <= 180].set_index("customer_id")
    y = ((churn_date.reindex(active.index) > pd.Timestamp(END))
         & (churn_date.reindex(active.index) <= pd.Timestamp(END) + pd.Timedelta(days=90)))
    x = pd.DataFrame({
        "recency": np.log1p(active["days_since_last_order"]),
        "trend": active["yoy_growth"].fillna(0).clip(-1, 3),
        "loyalty": active["loyalty"].fillna(5),
        "complaints": active["complaint_count_365d"],
        "size": np.log1p(active["monetary_amount_365d"].clip(lower=0)),
        "gap": np.log1p(active["mean_days_between_orders"].fillna(365)),
        "momentum": np.log((active["order_count_90d"] + 1) / (active["order_count_365d"] / 4 + 1)),
    })
    half = len(x) // 2
    model = LogisticRegression(max_iter=1000).fit(x.iloc[:half], y.iloc[:half])
    auc = roc_auc_score(y.iloc[half:], model.predict_proba(x.iloc[half:])[:, 1])
    assert y.sum() > 20
    assert auc > 0.7, auc


def test_rep_judgements_correlate_with_the_hidden_truth(demo: Path) -> None:
    customers = pd.read_parquet(demo / "customers.parquet").set_index("customer_id")
    truth = pd.read_parquet(demo / "truth" / "customers_truth.parquet").set_index("customer_id")
    both = customers.join(truth)
    assert both["loyalty"].corr(both["satisfaction"], method="spearman") > 0.5
    assert both["nps"].corr(both["satisfaction"], method="spearman") > 0.5
    assert both["prospects"].corr(both["growth_per_year"], method="spearman") > 0.3
    assert both["channel_coverage"].corr(np.log(both["size"]), method="spearman") > 0.4
    assert 0.02 < customers["loyalty"].isna().mean() < 0.1


def test_future_labels_from_truth_files_match_labels_computed_on_all_lines(demo: Path) -> None:
    history = pd.read_parquet(demo / "transactions.parquet")
    future = pd.read_parquet(demo / "truth" / "future_transactions.parquet")
    labels = compute_labels(pd.concat([history, future]), demo / "customers.parquet", as_of=END)
    assert 0.05 < labels["churned"].mean() < 0.6
    assert labels["future_amount"].sum() == pytest.approx(
        future[pd.to_datetime(future["order_date"]) <= pd.Timestamp(END) + pd.Timedelta(days=90)]
        ["amount"].sum())


def test_most_churners_complain_in_the_months_before_they_leave(demo: Path) -> None:
    truth = pd.read_parquet(demo / "truth" / "customers_truth.parquet")
    complaints = pd.read_parquet(demo / "interactions.parquet")
    complaints = complaints[complaints["interaction_type"] == "complaint"]
    churn = pd.to_datetime(truth.set_index("customer_id")["churn_date"])
    window_end = pd.Timestamp("2025-06-30")  # churners before this date, with 120 days of history
    left = churn[(churn > pd.Timestamp("2023-06-01")) & (churn <= window_end)]
    opened = complaints.join(churn.rename("churn_date"), on="customer_id")
    before = opened[(opened["opened_at"] < opened["churn_date"])
                    & (opened["opened_at"] >= opened["churn_date"] - pd.Timedelta(days=120))]
    churner_share = before["customer_id"].isin(left.index).groupby(
        before["customer_id"]).any().reindex(left.index, fill_value=False).mean()
    stayers = churn[churn.isna()].index
    recent = complaints[(complaints["opened_at"] > window_end - pd.Timedelta(days=120))
                        & (complaints["opened_at"] <= window_end)]
    stayer_share = recent["customer_id"].isin(stayers).groupby(recent["customer_id"]).any(
    ).reindex(stayers, fill_value=False).mean()
    assert len(left) > 100
    assert churner_share > 0.5
    assert stayer_share < 0.35


def _gap_cv(transactions: pd.DataFrame) -> float:
    """Median over customers (with 5+ order days) of the coefficient of variation of their gaps."""
    days = transactions[["customer_id", "order_date"]].drop_duplicates()
    days = days.assign(order_date=pd.to_datetime(days["order_date"])).sort_values(
        ["customer_id", "order_date"])
    gaps = days.groupby("customer_id")["order_date"].diff().dt.days
    stats = gaps.groupby(days["customer_id"]).agg(["mean", "std", "count"])
    stats = stats[stats["count"] >= 5]
    return float((stats["std"] / stats["mean"]).median())


def test_the_cycles_process_reorders_regularly_and_poisson_does_not(tmp_path: Path) -> None:
    cycles = generate_demo_data(tmp_path / "c", customers=600, seed=9, process="cycles")
    poisson = generate_demo_data(tmp_path / "p", customers=600, seed=9, process="poisson")
    assert cycles.process == "cycles" and poisson.process == "poisson"
    cv_cycles = _gap_cv(pd.read_parquet(tmp_path / "c" / "transactions.parquet"))
    cv_poisson = _gap_cv(pd.read_parquet(tmp_path / "p" / "transactions.parquet"))
    assert cv_cycles < 0.75 < 0.85 < cv_poisson
    for folder in ("c", "p"):
        truth = pd.read_parquet(tmp_path / folder / "truth" / "customers_truth.parquet")
        future = pd.read_parquet(tmp_path / folder / "truth" / "future_transactions.parquet")
        assert truth["churn_date"].notna().any() and len(future) > 0


def test_cycles_churn_follows_events_a_sales_team_can_see(tmp_path: Path) -> None:
    generate_demo_data(tmp_path / "c", customers=3_000, seed=4, process="cycles")
    truth = pd.read_parquet(tmp_path / "c" / "truth" / "customers_truth.parquet")
    churned = truth["churn_date"].notna()
    # unhappy and shrinking customers lose the tender or fade away more often
    assert truth.loc[churned, "satisfaction"].mean() < truth.loc[~churned, "satisfaction"].mean()
    assert truth.loc[churned, "growth_per_year"].mean() < truth.loc[~churned, "growth_per_year"].mean()
    declining = truth["growth_per_year"] < -0.3
    assert churned[declining].mean() > churned[~declining].mean() + 0.2


def test_an_unknown_process_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="process must be one of"):
        generate_demo_data(tmp_path / "x", customers=10, process="weibull")
