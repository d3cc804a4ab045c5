"""A new champion is picked up without a restart; a broken one is refused and the last good set
keeps serving (and /health/ready says so)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from customer_tiering.api.state import ModelHolder
from customer_tiering.core.settings import Settings
from customer_tiering.rating.champions import load_serving_configs
from customer_tiering.registry.loading import load_version
from customer_tiering.registry.tracking import job_run, use_store
from customer_tiering.registry.versions import log_and_register, promote
from tests.api.conftest import serve
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")


def _copy_of_the_model_store(trained: TrainedEnv, tmp_path: Path) -> Settings:
    """The same champions in a store of this test's own (the registry is changed here)."""
    source = Path(trained.mlflow_uri.removeprefix("sqlite:///")).parent
    shutil.copytree(source, tmp_path / "mlflow")  # the database with its artifacts folder
    target = tmp_path / "mlflow" / "mlflow.db"
    return trained.settings(f"sqlite:///{tmp_path / 'tiering.db'}").model_copy(
        update={"mlflow_uri": f"sqlite:///{target}", "model_poll_seconds": 0.0})


def _register(settings: Settings, model: object, config_hash: str | None, clean: Path) -> str:
    from customer_tiering.features.compute import compute_features
    from customer_tiering.ingest.clean_data import CleanDataSet

    inputs = CleanDataSet.from_dir(clean)
    example = compute_features(inputs.transactions, inputs.customers, inputs.interactions,
                               as_of=AS_OF).head(5)
    with use_store(settings), job_run("churn", settings=settings, config={"test": "reload"},
                                      as_of=AS_OF, dataset_fingerprint="test") as _run:
        registered = log_and_register(model, "tiering-churn", X_example=example,
                                      predict_fn="predict", config_hash=config_hash)
    with use_store(settings) as client:
        promote(client, "tiering-churn", registered.version, reason="test: hot reload")
    return registered.version


def test_a_new_champion_is_served_without_restart_and_a_broken_one_is_refused(
        trained: TrainedEnv, tmp_path: Path) -> None:
    settings = _copy_of_the_model_store(trained, tmp_path)
    good = load_version("tiering-churn", settings=settings)
    server = serve(settings)
    url = next(server)
    try:
        import httpx

        from customer_tiering.store.keys import create_key
        from customer_tiering.store.tier_store import TierStore

        store = TierStore.open(settings.tier_store_url())
        admin = create_key(store, "admin", "ops")
        store.close()
        client = httpx.Client(base_url=url, headers={"X-API-Key": admin}, timeout=120)
        what_if = {"customer_id": "x", "days_since_last_order": 40, "order_count_365d": 6}
        first = client.post("/v1/score", json=what_if).json()
        assert client.get("/health/ready").json()["models"]["tiering-churn"] == good.version

        broken = copy.deepcopy(good.model)
        broken.platt_ = (float("nan"), float("nan"))  # every probability becomes NaN
        bad_version = _register(settings, broken, good.config_hash, trained.clean_dir)
        reloaded = client.post("/v1/admin/models/reload").json()
        assert "smoke check" in reloaded["last_error"]
        ready = client.get("/health/ready").json()
        assert ready["status"] == "degraded" and ready["models"]["tiering-churn"] == good.version
        assert bad_version in reloaded["last_error"] or "probabilities" in reloaded["last_error"]
        still = client.post("/v1/score", json=what_if).json()
        assert still["churn_probability"] == first["churn_probability"]

        mismatched = _register(settings, good.model, "another-config", trained.clean_dir)
        reloaded = client.post("/v1/admin/models/reload").json()
        assert "config hash" in reloaded["last_error"]
        assert client.get("/health/ready").json()["models"]["tiering-churn"] == good.version
        _ = mismatched

        fixed = _register(settings, good.model, good.config_hash, trained.clean_dir)
        reloaded = client.post("/v1/admin/models/reload").json()
        assert reloaded["last_error"] is None
        ready = client.get("/health/ready").json()
        assert ready["status"] == "ready" and ready["models"]["tiering-churn"] == fixed
        after = client.post("/v1/score", json=what_if).json()
        assert after["churn_probability"] == pytest.approx(first["churn_probability"], abs=1e-12)
        client.close()
    finally:
        server.close()


def test_the_holder_swaps_whole_sets_only(trained: TrainedEnv, tmp_path: Path) -> None:
    settings = _copy_of_the_model_store(trained, tmp_path)
    holder = ModelHolder(settings, load_serving_configs(settings.config_dir))
    assert holder.refresh() and holder.loaded
    before = holder.current
    assert not holder.refresh()  # nothing moved: the same object keeps serving
    assert holder.current is before
    assert holder.refresh(force=True) and holder.current is not before
    assert holder.current.versions == before.versions


def test_a_special_rating_uses_the_models_the_server_holds(trained: TrainedEnv,
                                                           tmp_path: Path) -> None:
    import httpx
    import pandas as pd

    from customer_tiering.ingest.clean_data import CleanDataSet
    from customer_tiering.store.keys import create_key
    from customer_tiering.store.tier_store import TierStore

    settings = _copy_of_the_model_store(trained, tmp_path).model_copy(
        update={"clean_data_dir": trained.clean_dir})
    held = load_version("tiering-churn", settings=settings)
    customer = str(pd.read_parquet(CleanDataSet.from_dir(trained.clean_dir).transactions,
                                   columns=["customer_id"])["customer_id"].iloc[0])
    store = TierStore.open(settings.tier_store_url())
    keys = {role: create_key(store, role, f"{role} desk") for role in ("reviewer", "admin")}
    server = serve(settings)
    url = next(server)
    try:
        client = httpx.Client(base_url=url, timeout=120)
        reviewer, admin = ({"X-API-Key": keys[r]} for r in ("reviewer", "admin"))
        # No periodic rating yet: the lists that default to the latest one answer 404.
        for path in ("/v1/grades", "/v1/reviews/queue"):
            empty = client.get(path, headers=reviewer)
            assert empty.status_code == 404 and "no periodic rating" in empty.json()["detail"]

        # The alias moves on, but the server has not looked (no poll, no reload): the special
        # rating is made with the set the server holds and smoke-checked, not with the new alias.
        moved = _register(settings, held.model, held.config_hash, trained.clean_dir)
        assert moved != held.version
        serving = client.get("/health/ready").json()["models"]
        assert serving["tiering-churn"] == held.version
        made = client.post(f"/v1/customers/{customer}/special-rating", headers=reviewer,
                           json={"reason": "并购完成"})
        assert made.status_code == 201, made.text
        record = store.rating(made.json()["rating_id"])
        assert record.kind == "special" and record.customer_id == customer
        assert {n: v["version"] for n, v in record.models.items()} == serving

        # Once the server takes the new version, special ratings use it.
        reloaded = client.post("/v1/admin/models/reload", headers=admin).json()
        assert reloaded["last_error"] is None
        serving = client.get("/health/ready").json()["models"]
        assert serving["tiering-churn"] == moved
        again = client.post(f"/v1/customers/{customer}/special-rating", headers=reviewer,
                            json={"reason": "并购完成"})
        assert again.status_code == 201, again.text
        later = store.rating(again.json()["rating_id"])
        assert later.id != record.id
        assert {n: v["version"] for n, v in later.models.items()} == serving
        client.close()
    finally:
        server.close()
        store.close()
