"""Periodic and special ratings end to end: real demo data, real MLflow champions, a real store.

The trained environment (``trained`` fixture) is built once per worker; every test gets a fresh
tier store on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from customer_tiering.core.errors import ModelMismatchError, TieringError
from customer_tiering.core.settings import Settings
from customer_tiering.ingest.clean_data import CleanDataSet
from customer_tiering.rating.champions import load_champions, load_serving_configs
from customer_tiering.rating.runs import rating_features, run_periodic_rating, run_special_rating
from customer_tiering.registry.versions import NoChampionError
from customer_tiering.scoring.explain import rows_from_record
from customer_tiering.store.tier_store import TierStore
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")


def rate(env: TrainedEnv, url: str, as_of: date = AS_OF, **kwargs: object):  # type: ignore[no-untyped-def]
    return run_periodic_rating(as_of=as_of, settings=env.settings(url), data_dir=env.clean_dir,
                               **kwargs)


def test_every_customers_explanation_rows_add_up_to_the_stored_total(
        trained: TrainedEnv, store_url: str) -> None:
    result = rate(trained, store_url)
    assert result.created
    store = TierStore.open(store_url)
    record = result.record
    grades = store.grades(record.id)
    assert len(grades) == record.customer_count > 1_000
    worst = 0.0
    for row in grades.itertuples():
        rows = rows_from_record(row.customer_id, row.explanation, record.criteria, "zh")
        worst = max(worst, abs(rows["points"].sum() - row.total))
        assert set(rows["part"]) == {"scorecard", "retention", "value"}
        assert (rows["part"] == "retention").sum() == 5 + 2  # baseline, top 5, other features
        points = json.loads(row.points)
        assert abs(sum(points.values()) - row.total) < 1e-9
        scorecard = rows[rows["part"] == "scorecard"]["points"].sum()
        assert abs(scorecard - row.scorecard_total) < 1e-9
    assert worst < 1e-9
    assert grades["total"].between(0, 100).all()
    assert grades["reason_zh"].str.startswith("主要因素").mean() > 0.9
    assert set(grades["grade"]) <= set(record.grade_labels)
    store.close()


def test_stored_model_scores_are_the_champions_own_predictions(trained: TrainedEnv,
                                                               store_url: str) -> None:
    settings = trained.settings(store_url)
    result = rate(trained, store_url)
    store = TierStore.open(store_url)
    grades = store.grades(result.record.id).set_index("customer_id")
    store.close()
    models = load_champions(settings, load_serving_configs(settings.config_dir))
    features = rating_features(CleanDataSet.from_dir(trained.clean_dir), AS_OF)
    features = features.set_index("customer_id").loc[grades.index].reset_index()
    np.testing.assert_allclose(grades["churn_probability"].to_numpy(float),
                               models.churn.predict_proba(features)[:, 1], rtol=1e-9)
    np.testing.assert_allclose(grades["expected_value"].to_numpy(float),
                               models.value.predict(features), rtol=1e-9)
    assert list(grades["segment"]) == list(models.segments.predict_names(features))
    assert result.record.models["tiering-churn"]["version"]
    assert result.record.configs["versions"]["blend"] == "2025.2"


def test_re_running_the_same_rating_is_idempotent(trained: TrainedEnv, store_url: str) -> None:
    first = rate(trained, store_url)
    again = rate(trained, store_url)
    assert first.created and not again.created and again.record.id == first.record.id
    store = TierStore.open(store_url)
    assert len(store.ratings()) == 1
    store.close()


def test_the_next_rating_records_previous_grades_and_migrations(trained: TrainedEnv,
                                                               store_url: str) -> None:
    earlier = rate(trained, store_url, as_of=date(2025, 11, 30)).record
    later = rate(trained, store_url).record
    store = TierStore.open(store_url)
    old = store.grades(earlier.id).set_index("customer_id")["grade"]
    new = store.grades(later.id).set_index("customer_id")
    common = new.index.intersection(old.index)
    assert (new.loc[common, "previous_grade"] == old.loc[common]).all()
    matrix = store.migration_matrix(earlier.id, later.id)
    expected = pd.crosstab(old.loc[common], new.loc[common, "grade"])
    for f in expected.index:
        for t in expected.columns:
            assert matrix.loc[f, t] == expected.loc[f, t]
    assert store.previous_periodic(later.id).id == earlier.id
    drift = later.drift
    assert {d["column"] for d in drift} >= {"days_since_last_order", "churn_probability",
                                            "expected_value_next_period"}
    assert all(d["warning"] == (d["change"] is not None or d["psi"] > 0.2) for d in drift)
    store.close()


def test_a_special_rating_regrades_one_customer_with_its_reason(trained: TrainedEnv,
                                                               store_url: str) -> None:
    settings = trained.settings(store_url)
    periodic = rate(trained, store_url).record
    store = TierStore.open(store_url)
    customer = store.grades(periodic.id, columns=["customer_id"])["customer_id"].iloc[3]
    special = run_special_rating(customer_id=customer, reason="签订年度大单 big annual deal",
                                 settings=settings, data_dir=trained.clean_dir).record
    assert special.kind == "special" and special.customer_count == 1
    assert special.reason == "签订年度大单 big annual deal" and special.customer_id == customer
    current = store.customer_grade(customer, documents=True)
    assert current["rating_id"] == special.id and current["kind"] == "special"
    before = store.customer_grade(customer, periodic.id)
    assert current["previous_grade"] == before["grade"]
    assert store.customer_history(customer)["kind"].tolist() == ["periodic", "special"]
    rows = rows_from_record(customer, current["explanation"], special.criteria)
    assert abs(rows["points"].sum() - current["total"]) < 1e-9
    with pytest.raises(TieringError, match="needs a reason"):
        run_special_rating(customer_id=customer, reason="  ", settings=settings,
                           data_dir=trained.clean_dir)
    with pytest.raises(TieringError, match="'NOBODY' is not in the data"):
        run_special_rating(customer_id="NOBODY", reason="x", settings=settings,
                           data_dir=trained.clean_dir)
    store.close()


def test_a_special_ratings_hysteresis_reads_the_previous_grade_of_its_own_scheme(
        trained: TrainedEnv, store_url: str) -> None:
    settings = trained.settings(store_url)
    five = rate(trained, store_url).record  # the default scheme, seed001_five (VIP ... potential)
    abcde = rate(trained, store_url, scheme="seed002_abcde").record  # same as_of, stored later
    assert (five.scheme, abcde.scheme) == ("seed001_five", "seed002_abcde")
    store = TierStore.open(store_url)
    customer = store.grades(five.id, columns=["customer_id"])["customer_id"].iloc[5]
    # the newest grade of the customer in any scheme is the ABCDE one, a grade seed001_five lacks
    assert store.customer_grade(customer)["rating_id"] == abcde.id
    special = run_special_rating(customer_id=customer, reason="重新评估 re-assessment",
                                 settings=settings, data_dir=trained.clean_dir, as_of=AS_OF,
                                 scheme="seed001_five").record
    current = store.customer_grade(customer, special.id)
    assert current["previous_grade"] == store.customer_grade(customer, five.id)["grade"]
    assert current["previous_grade"] in five.grade_labels
    store.close()


def test_a_rating_without_champions_says_which_model_is_missing(
        trained: TrainedEnv, tmp_path: object, mlflow_settings: Settings) -> None:
    empty = Settings(mlflow_uri=mlflow_settings.mlflow_uri, data_dir=trained.data_dir,
                     training_config_dir=trained.training_config_dir,
                     config_dir=trained.settings().config_dir,
                     database_url=f"sqlite:///{tmp_path}/t.db")
    with pytest.raises(NoChampionError, match="tiering-segments"):
        run_periodic_rating(as_of=AS_OF, settings=empty, data_dir=trained.clean_dir)


def test_champions_trained_for_another_horizon_are_refused(trained: TrainedEnv,
                                                           tmp_path: object) -> None:
    with pytest.raises(ModelMismatchError, match="tiering-churn"):
        run_periodic_rating(as_of=AS_OF, settings=trained.settings(f"sqlite:///{tmp_path}/t.db"),
                            data_dir=trained.clean_dir, horizon_days=30)


def _numbers(value: object) -> list[float]:
    """Every number in a stored JSON document, in document order."""
    if isinstance(value, dict):
        return [n for key in sorted(value) for n in _numbers(value[key])]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return [float(value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def test_ratings_explained_from_the_tables_equal_ratings_explained_by_pred_contrib(
        trained: TrainedEnv, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from customer_tiering.models import fast_treeshap

    tables_url, contrib_url = (f"sqlite:///{tmp_path}/{name}.db" for name in ("tables", "contrib"))
    rate(trained, tables_url)
    monkeypatch.setattr(fast_treeshap, "TABLE_BUDGET_BYTES", 1_000)  # every model falls back
    settings = trained.settings(contrib_url)
    models = load_champions(settings, load_serving_configs(settings.config_dir))
    assert models.churn.contribution_method().startswith("pred_contrib")
    rate(trained, contrib_url)
    stores = [TierStore.open(url) for url in (tables_url, contrib_url)]
    ours, theirs = (store.grades(store.latest_rating().id).set_index("customer_id").sort_index()
                    for store in stores)
    assert len(ours) == len(theirs) > 1_000
    assert list(ours["grade"]) == list(theirs["grade"])
    for column in ("total", "scorecard_total", "churn_probability"):  # points and shares
        np.testing.assert_allclose(ours[column].to_numpy(float), theirs[column].to_numpy(float),
                                   rtol=0, atol=1e-9)
    # an amount (up to millions of yuan) to 1e-9 of itself
    np.testing.assert_allclose(ours["expected_value"].to_numpy(float),
                               theirs["expected_value"].to_numpy(float), rtol=1e-9, atol=0)
    worst = 0.0
    for column in ("points", "explanation"):
        for a, b in zip(ours[column], theirs[column], strict=True):
            left, right = np.array(_numbers(json.loads(a))), np.array(_numbers(json.loads(b)))
            assert len(left) == len(right)
            scale = np.maximum(1.0, np.abs(right))  # points as they are, amounts relative
            worst = max(worst, float(np.max(np.abs(left - right) / scale, initial=0.0)))
    assert worst <= 1e-9
    for store in stores:
        store.close()


def test_loaded_champions_have_their_explanation_tables_ready(trained: TrainedEnv) -> None:
    from customer_tiering.models import fast_treeshap

    settings = trained.settings()
    models = load_champions(settings, load_serving_configs(settings.config_dir))
    for model in (models.churn, models.value):  # freshly unpickled: only the warm-up built them
        assert not model.additive
        assert model.booster_ in fast_treeshap._CACHE
