"""A book on which the trees cannot beat a baseline still gets grades: the baseline serves.

The candidate models here may only read ``last_survey_score``, which is NULL for every customer
of a transactions-only book, so they cannot rank anyone; BG/NBD and the RFM score can. After
``train all`` the best baseline is the champion of each model, the rating runs on it, every
explanation adds up to its total, and the what-if serves it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from customer_tiering.core.settings import Settings
from customer_tiering.rating.champions import training_configs
from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.registry.tracking import use_store
from customer_tiering.scoring.explain import rows_from_record
from customer_tiering.store.keys import create_key
from customer_tiering.store.tier_store import TierStore
from customer_tiering.training.jobs import train_all
from tests.api.conftest import serve
from tests.support.rating_env import AS_OF, ROOT, demo_clean_data, write_small_training_configs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("baseline-champion")]


def _blind_configs(target: Path) -> Path:
    """The small configs, with churn and value reading one feature that is NULL for everyone."""
    write_small_training_configs(target)
    for job in ("churn", "value"):
        path = target / f"{job}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["features"] = ["last_survey_score"]
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


def test_a_book_the_model_cannot_rank_is_served_and_explained_by_the_best_baseline(
        tmp_path: Path) -> None:
    _, clean = demo_clean_data(tmp_path / "data", customers=900, seed=5, transactions_only=True)
    settings = Settings(mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                        data_dir=tmp_path / "work",
                        training_config_dir=_blind_configs(tmp_path / "training-config"),
                        config_dir=ROOT / "serving" / "config",
                        database_url=f"sqlite:///{tmp_path / 'tiers.db'}",
                        clean_data_dir=clean, model_poll_seconds=0.0)
    results = {r.job: r for r in train_all(training_configs(settings.training_config_dir),
                                           data_dir=clean, as_of=AS_OF, settings=settings)}
    with use_store(settings) as client:
        for job in ("churn", "value"):
            result = results[job]
            assert result.serves not in ("model", "champion"), result.reasons
            assert result.alias == "challenger"
            served = client.get_model_version_by_alias(result.model_name, "champion")
            assert str(served.version) == result.champion_version != result.version
            assert served.tags["scorer.kind"] == "baseline"
            assert served.tags["scorer.name"] == result.serves
            metric = "roc_auc" if job == "churn" else "capture_top20"
            best = result.metrics[metric].drop(index="model").max()
            assert result.metrics.loc[result.serves, metric] == best
            assert result.metrics.loc[result.serves, metric] > result.metrics.loc["model", metric]

    rating = run_periodic_rating(as_of=AS_OF, settings=settings, data_dir=clean)
    record = rating.record
    assert record.models["tiering-churn"]["version"] == results["churn"].champion_version
    with TierStore.open(settings.database_url or "") as store:
        grades = store.grades(record.id)
        assert len(grades) == record.customer_count > 300
        for row in grades.itertuples():
            rows = rows_from_record(row.customer_id, row.explanation, record.criteria, "en")
            assert abs(rows["points"].sum() - row.total) < 1e-9
            assert abs(sum(json.loads(row.points).values()) - row.total) < 1e-9
        key = create_key(store, "viewer", "what-if tester")
        stored = grades.iloc[0]

    import httpx

    server = serve(settings)
    url = next(server)
    try:
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as client:
            ready = client.get("/health/ready").json()
            answer = client.post("/v1/score", json={"customer_id": "what-if",
                                                    "days_since_last_order": 20,
                                                    "order_count_365d": 9,
                                                    "monetary_amount_365d": 1_000.0,
                                                    "repeat_purchase_days": 8,
                                                    "days_first_to_last_purchase": 200,
                                                    "days_since_first_purchase": 240,
                                                    "mean_repeat_purchase_amount": 110.0})
    finally:
        server.close()
    assert ready["status"] == "ready", ready
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert 0 < body["churn_probability"] < 1
    assert abs(sum(r["points"] for r in body["explanation"]) - body["total"]) < 1e-9
    assert any(r["part"] == "retention" and r["item"] in ("repeat_purchase_days", "days_since_last_order",
                                                      "order_count_365d", "monetary_amount_365d",
                                                      "days_first_to_last_purchase",
                                                      "days_since_first_purchase")
               for r in body["explanation"])
    assert stored["total"] >= 0
