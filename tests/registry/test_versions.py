"""Registry: the promotion gate, the champion alias, promote and rollback, on a real store."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import get_model_info
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.core.errors import ModelMismatchError, TieringError
from customer_tiering.core.settings import Settings
from customer_tiering.registry.loading import load_champion
from customer_tiering.registry.tracking import config_hash, job_run, use_store
from customer_tiering.registry.versions import (
    CHALLENGER,
    CHAMPION,
    GateDecision,
    NoChampionError,
    RegisteredVersion,
    apply_gate,
    champion_version,
    log_and_register,
    promote,
    promotion_gate,
    rollback,
)

CONFIG = {"version": 1, "model": {"C": 1.0}}


def _data(n: int = 50, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "days_since_last_order": rng.integers(0, 300, n).astype("float64"),
            "order_count_90d": rng.integers(0, 9, n).astype("float64"),
        }
    )
    noise = rng.normal(0, 40, n)
    y = ((X["days_since_last_order"] + noise) > 150).astype(int)
    return X, y


def _register(
    settings: Settings, name: str = "tiering-churn", *, C: float = 1.0, config: dict | None = None
) -> tuple[RegisteredVersion, LogisticRegression]:
    X, y = _data()
    model = LogisticRegression(C=C).fit(X, y)
    with job_run(
        "churn",
        settings=settings,
        config=config or CONFIG,
        as_of="2024-06-30",
        dataset_fingerprint="v1:test",
    ):
        version = log_and_register(model, name, X_example=X, predict_fn="predict_proba")
    return version, model


def _client(settings: Settings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.mlflow_uri, registry_uri=settings.mlflow_uri)


# --- the gate (pure) ---------------------------------------------------------------------------

BASELINES = {"rule": {"roc_auc": 0.70}, "rfm": {"roc_auc": 0.80}}


def test_gate_passes_when_beating_champion_and_every_baseline_by_the_margin() -> None:
    # 0.82 - 0.80 is 0.01999999... in floating point: it must still count as the margin 0.02.
    decision = promotion_gate(
        {"roc_auc": 0.82}, {"roc_auc": 0.75}, BASELINES, metric="roc_auc", margin=0.02
    )
    assert decision.passed
    assert decision.reasons == (
        "beats champion: roc_auc 0.8200 vs 0.7500 (improvement +0.0700, margin 0.0200)",
        "beats baseline rfm: roc_auc 0.8200 vs 0.8000 (improvement +0.0200, margin 0.0200)",
        "beats baseline rule: roc_auc 0.8200 vs 0.7000 (improvement +0.1200, margin 0.0200)",
    )


def test_gate_fails_when_one_baseline_is_not_beaten_by_the_margin() -> None:
    decision = promotion_gate({"roc_auc": 0.815}, None, BASELINES, metric="roc_auc", margin=0.02)
    assert not decision.passed
    assert [r.split(":")[0] for r in decision.reasons] == [
        "does not beat baseline rfm",
        "beats baseline rule",
    ]


def test_gate_fails_on_a_tie_even_with_zero_margin_and_on_a_better_champion() -> None:
    assert not promotion_gate({"roc_auc": 0.8}, None, BASELINES, metric="roc_auc").passed
    worse_than_champion = promotion_gate(
        {"roc_auc": 0.9}, {"roc_auc": 0.91}, BASELINES, metric="roc_auc"
    )
    assert not worse_than_champion.passed
    assert worse_than_champion.reasons[0].startswith("does not beat champion")


def test_gate_for_a_loss_wants_the_lower_value() -> None:
    baselines = {"climatology": {"brier": 0.20}}
    assert promotion_gate(
        {"brier": 0.15}, None, baselines, metric="brier", higher_is_better=False, margin=0.05
    ).passed
    assert not promotion_gate(
        {"brier": 0.16}, None, baselines, metric="brier", higher_is_better=False, margin=0.05
    ).passed


def test_gate_fails_when_a_metric_is_missing_or_nan() -> None:
    assert promotion_gate({}, None, BASELINES, metric="roc_auc").reasons == (
        "candidate has no roc_auc",
    )
    decision = promotion_gate(
        {"roc_auc": 0.9}, {"roc_auc": float("nan")}, {}, metric="roc_auc"
    )
    assert not decision.passed
    assert decision.reasons == ("champion has no roc_auc to compare against",)


def test_gate_rejects_a_negative_margin() -> None:
    with pytest.raises(TieringError, match=r"margin -0\.1"):
        promotion_gate({"roc_auc": 0.9}, None, {}, metric="roc_auc", margin=-0.1)


# --- registry on a real store ------------------------------------------------------------------


def test_registered_version_has_signature_input_example_and_config_hash(
    mlflow_settings: Settings,
) -> None:
    version, _ = _register(mlflow_settings)
    client = _client(mlflow_settings)
    stored = client.get_model_version("tiering-churn", version.version)
    assert version.version == "1"
    assert stored.tags["config_hash"] == config_hash(CONFIG)
    assert stored.run_id == version.run_id
    with use_store(mlflow_settings):
        info = get_model_info(version.model_uri)
    assert info.signature is not None
    assert info.signature.inputs.input_names() == ["days_since_last_order", "order_count_90d"]
    assert info.signature.outputs is not None  # predict_proba: one column per class
    assert info.saved_input_example_info is not None


def test_alias_moves_only_when_the_gate_passes(mlflow_settings: Settings) -> None:
    client = _client(mlflow_settings)
    name = "tiering-churn"
    v1, _ = _register(mlflow_settings)
    first = promotion_gate({"roc_auc": 0.85}, None, BASELINES, metric="roc_auc", margin=0.01)
    assert apply_gate(client, name, v1.version, first) == CHAMPION

    v2, _ = _register(mlflow_settings, C=0.5)
    worse = promotion_gate(
        {"roc_auc": 0.84}, {"roc_auc": 0.85}, BASELINES, metric="roc_auc", margin=0.01
    )
    assert apply_gate(client, name, v2.version, worse) == CHALLENGER
    assert champion_version(client, name) == "1"
    assert str(client.get_model_version_by_alias(name, CHALLENGER).version) == "2"
    tags = client.get_model_version(name, "2").tags
    assert tags["gate.passed"] == "false"
    assert tags["gate.metric"] == "roc_auc"
    assert tags["gate.reasons"].startswith("does not beat champion")

    v3, _ = _register(mlflow_settings, C=2.0)
    better = promotion_gate(
        {"roc_auc": 0.87}, {"roc_auc": 0.85}, BASELINES, metric="roc_auc", margin=0.01
    )
    assert apply_gate(client, name, v3.version, better) == CHAMPION
    assert champion_version(client, name) == "3"
    assert client.get_model_version(name, "3").tags["champion.previous_version"] == "1"
    # Version 2 stays challenger: it was not the one promoted.
    assert str(client.get_model_version_by_alias(name, CHALLENGER).version) == "2"


def test_promote_by_hand_records_reason_who_and_previous(mlflow_settings: Settings) -> None:
    client = _client(mlflow_settings)
    name = "tiering-churn"
    v1, _ = _register(mlflow_settings)
    apply_gate(client, name, v1.version, GateDecision(True, ("ok",), "roc_auc"))
    v2, _ = _register(mlflow_settings, C=0.5)
    apply_gate(client, name, v2.version, GateDecision(False, ("no",), "roc_auc"))

    previous = promote(client, name, 2, reason="Q3 review chose it", user="li.wei")
    assert previous == "1"
    assert champion_version(client, name) == "2"
    tags = client.get_model_version(name, "2").tags
    assert tags["champion.reason"] == "Q3 review chose it"
    assert tags["champion.by"] == "li.wei"
    assert tags["champion.previous_version"] == "1"
    assert tags["champion.at"].startswith("20")
    # The promoted challenger is no longer challenger.
    assert CHALLENGER not in client.get_registered_model(name).aliases
    with pytest.raises(TieringError, match="already the champion"):
        promote(client, name, "2", reason="again", user="li.wei")
    with pytest.raises(TieringError, match="give a --reason"):
        promote(client, name, "1", reason="  ")
    with pytest.raises(TieringError, match="no version 9"):
        promote(client, name, "9", reason="typo")


def test_rollback_restores_the_previous_champion_step_by_step(mlflow_settings: Settings) -> None:
    client = _client(mlflow_settings)
    name = "tiering-churn"
    for C in (1.0, 0.5, 2.0):
        version, _ = _register(mlflow_settings, C=C)
        promote(client, name, version.version, reason=f"C={C}", user="ops")
    assert champion_version(client, name) == "3"

    assert rollback(client, name, reason="bad grades", user="ops") == "2"
    assert champion_version(client, name) == "2"
    tags = client.get_model_version(name, "3").tags
    assert (tags["rolled_back.to"], tags["rolled_back.reason"]) == ("2", "bad grades")

    assert rollback(client, name, user="ops") == "1"
    with pytest.raises(NoChampionError, match="no previous champion"):
        rollback(client, name, user="ops")
    assert champion_version(client, name) == "1"


def test_rollback_without_a_champion_is_an_error(mlflow_settings: Settings) -> None:
    client = _client(mlflow_settings)
    _register(mlflow_settings, "tiering-value")
    with pytest.raises(NoChampionError, match="no champion"):
        rollback(client, "tiering-value")


def test_reloaded_champion_predicts_like_the_model_in_memory(mlflow_settings: Settings) -> None:
    version, model = _register(mlflow_settings)
    promote(_client(mlflow_settings), "tiering-churn", version.version, reason="first", user="t")
    champion = load_champion(
        "tiering-churn", settings=mlflow_settings, expected_config_hash=config_hash(CONFIG)
    )
    X, _ = _data(30, seed=7)
    assert champion.version == "1"
    assert champion.run_id == version.run_id
    np.testing.assert_array_equal(champion.model.predict_proba(X), model.predict_proba(X))


def test_champion_trained_with_another_config_raises_model_mismatch(
    mlflow_settings: Settings,
) -> None:
    version, _ = _register(mlflow_settings)
    promote(_client(mlflow_settings), "tiering-churn", version.version, reason="first", user="t")
    changed = {"version": 1, "model": {"C": 2.0}}
    with pytest.raises(ModelMismatchError, match=config_hash(changed)):
        load_champion(
            "tiering-churn", settings=mlflow_settings, expected_config_hash=config_hash(changed)
        )


def test_load_champion_without_one_names_the_model(mlflow_settings: Settings) -> None:
    _register(mlflow_settings)
    with pytest.raises(NoChampionError, match="'tiering-churn' has no version with alias"):
        load_champion("tiering-churn", settings=mlflow_settings, expected_config_hash="x")


class _Doubler(mlflow.pyfunc.PythonModel):
    """A pyfunc model with a known output: twice the first feature."""

    def predict(self, context: object, model_input: pd.DataFrame, params: object = None):  # type: ignore[no-untyped-def]
        return model_input[["days_since_last_order"]].to_numpy() * 2.0


def test_a_pyfunc_model_is_registered_and_reloaded(mlflow_settings: Settings) -> None:
    X, _ = _data()
    with job_run(
        "segments", settings=mlflow_settings, config=CONFIG, as_of="2024-06-30",
        dataset_fingerprint="v1:test",
    ):
        version = log_and_register(_Doubler(), "tiering-segments", X_example=X, flavor="pyfunc")
    promote(_client(mlflow_settings), "tiering-segments", version.version, reason="t", user="t")
    champion = load_champion(
        "tiering-segments",
        settings=mlflow_settings,
        expected_config_hash=config_hash(CONFIG),
        flavor="pyfunc",
    )
    predicted = np.asarray(champion.model.predict(X.head(3))).ravel()
    np.testing.assert_allclose(predicted, X["days_since_last_order"].head(3).to_numpy() * 2.0)


def test_log_and_register_rejects_unknown_names_and_needs_a_run(
    mlflow_settings: Settings,
) -> None:
    X, y = _data()
    model = LogisticRegression().fit(X, y)
    with pytest.raises(TieringError, match="must be one of tiering-segments"):
        log_and_register(model, "churn", X_example=X)
    with pytest.raises(TieringError, match=r"inside tracking\.job_run"):
        log_and_register(model, "tiering-churn", X_example=X)


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_promote_and_rollback(
    mlflow_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERING_MLFLOW_URI", mlflow_settings.mlflow_uri)
    client = _client(mlflow_settings)
    for C in (1.0, 0.5):
        _register(mlflow_settings, "tiering-value", C=C)
    runner = CliRunner()

    first = runner.invoke(app, ["promote", "tiering-value", "1", "--reason", "initial"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["promote", "tiering-value", "2", "--reason", "better capture"])
    assert second.exit_code == 0, second.output
    assert "version 2 is now champion (was version 1)" in second.output
    assert client.get_model_version("tiering-value", "2").tags["champion.reason"] == (
        "better capture"
    )

    back = runner.invoke(app, ["rollback", "tiering-value", "--reason", "bad week"])
    assert back.exit_code == 0, back.output
    assert "version 1 is champion again" in back.output
    assert champion_version(client, "tiering-value") == "1"

    failed = runner.invoke(app, ["rollback", "tiering-value"])
    assert failed.exit_code == 2
    assert "no previous champion" in failed.output
    assert "Traceback" not in failed.output
