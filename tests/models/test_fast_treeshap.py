"""Table TreeSHAP (FastTreeSHAP v2): hand-computed trees, and equal to LightGBM's pred_contrib.

Equality is checked on every row and column (bias included) to 1e-9 absolute on the raw scale,
on data with NaNs, zeros, categories and the odd values LightGBM treats specially.
"""

from __future__ import annotations

import itertools
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from customer_tiering.core.config_io import load_yaml_model
from customer_tiering.models import fast_treeshap
from customer_tiering.models._treeshap_trees import read_trees
from customer_tiering.models.fast_treeshap import (
    TreeShapTables,
    Unsupported,
    build_tables,
    shapley_weights,
    treeshap_tables,
)
from customer_tiering.models.spec import TrainingConfig, make_estimator
from tests.support.rating_env import ROOT
from tests.support.synthetic import make_snapshots

TOLERANCE = 1e-9


# --- hand-computed trees ----------------------------------------------------------------------
def _leaf(index: int, value: float, count: int) -> dict[str, Any]:
    return {"leaf_index": index, "leaf_value": value, "leaf_count": count}


def _split(index: int, feature: int, threshold: float, count: int, left: dict[str, Any],
           right: dict[str, Any]) -> dict[str, Any]:
    return {"split_index": index, "split_feature": feature, "threshold": threshold,
            "decision_type": "<=", "default_left": True, "missing_type": "None",
            "internal_count": count, "left_child": left, "right_child": right}


def _dump(*roots: dict[str, Any], n_features: int = 2) -> dict[str, Any]:
    def leaves(node: dict[str, Any]) -> int:
        return 1 if "split_index" not in node else leaves(node["left_child"]) + leaves(
            node["right_child"])

    return {"num_tree_per_iteration": 1, "average_output": False,
            "max_feature_idx": n_features - 1,
            "tree_info": [{"tree_index": i, "num_leaves": leaves(r), "tree_structure": r}
                          for i, r in enumerate(roots)]}


def _tables(dump: dict[str, Any]) -> TreeShapTables:
    tables = build_tables(dump)
    assert isinstance(tables, TreeShapTables), tables
    return tables


def test_interacting_tree_matches_the_shapley_values_worked_by_hand() -> None:
    # x0 <= 0.5 (100 rows): leaf A (40 rows, 0) | x1 <= 0.5 (60): leaf B (20, 3) | leaf C (40, 6)
    # E f = 0.4*0 + 0.2*3 + 0.4*6 = 3. For x = (1, 1), leaf C: v({0}) = (20*3 + 40*6)/60 = 5,
    # v({1}) = 0.4*0 + 0.6*6 = 3.6, so phi0 = ((5-3) + (6-3.6))/2 = 2.2, phi1 = (0.6 + 1)/2 = 0.8.
    # For x = (0, 1), leaf A: v({0}) = 0, v({1}) = 3.6, v({0,1}) = 0: phi0 = -3.3, phi1 = 0.3.
    tree = _split(0, 0, 0.5, 100, _leaf(0, 0.0, 40),
                  _split(1, 1, 0.5, 60, _leaf(1, 3.0, 20), _leaf(2, 6.0, 40)))
    out = _tables(_dump(tree)).contributions(np.array([[1.0, 1.0], [0.0, 1.0]]))
    np.testing.assert_allclose(out, [[2.2, 0.8, 3.0], [-3.3, 0.3, 3.0]], rtol=0, atol=1e-14)


def test_a_feature_split_twice_on_a_path_counts_once() -> None:
    # x0 <= 0.5 (100): leaf (50, 1) | x0 <= 1.5 (50): leaf (25, 3) | leaf (25, 5); E f = 2.5.
    # One player: phi0 = f(x) - 2.5 whichever leaf the row reaches.
    tree = _split(0, 0, 0.5, 100, _leaf(0, 1.0, 50),
                  _split(1, 0, 1.5, 50, _leaf(1, 3.0, 25), _leaf(2, 5.0, 25)))
    out = _tables(_dump(tree)).contributions(np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 9.0]]))
    np.testing.assert_allclose(out, [[2.5, 0, 2.5], [0.5, 0, 2.5], [-1.5, 0, 2.5]], atol=1e-14)


def test_single_leaf_trees_only_move_the_bias() -> None:
    stump = _split(0, 1, 0.0, 10, _leaf(0, -1.0, 5), _leaf(1, 1.0, 5))
    out = _tables(_dump({"leaf_value": 0.25}, stump)).contributions(np.array([[0.0, 1.0]]))
    np.testing.assert_allclose(out, [[0.0, 1.0, 0.25]], atol=1e-15)


def test_shapley_weights_sum_to_one_over_coalition_sizes() -> None:
    from math import comb

    for k in range(1, 9):
        w = shapley_weights(k)
        assert sum(comb(k - 1, s) * w[s] for s in range(k)) == pytest.approx(1.0, abs=1e-15)


# --- against LightGBM -------------------------------------------------------------------------
def _data(n: int, seed: int, n_numeric: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_numeric + 1))
    X[rng.random(n) < 0.15, 0] = np.nan
    X[rng.random(n) < 0.4, 1] = 0.0  # many exact zeros: Zero-as-missing splits
    if n_numeric > 2:
        X[:, 2] = rng.integers(0, 4, n)
    X[:, -1] = rng.integers(0, 8, n)  # categorical codes
    X[rng.random(n) < 0.1, -1] = np.nan
    return X


def _target(X: np.ndarray, binary: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x0 = np.nan_to_num(X[:, 0], nan=-1.0)
    cat = np.nan_to_num(X[:, -1], nan=3.0)
    signal = x0 * (cat % 3 == 0) + X[:, 1] * x0 + np.sin(3 * X[:, 1]) + 0.5 * (cat > 4)
    if X.shape[1] > 3:
        signal = signal + X[:, 2] * X[:, 3]
    if binary:
        return (rng.random(len(X)) < 1 / (1 + np.exp(-signal))).astype(float)
    return signal + rng.normal(0, 0.2, len(X))


def _booster(depth: int, binary: bool, seed: int = 0, n_numeric: int = 5, rounds: int = 15,
             **params: Any) -> lgb.Booster:
    X = _data(2_000, seed, n_numeric)
    settings = {"objective": "binary" if binary else "regression", "max_depth": depth,
                "num_leaves": min(2**depth, 255), "min_data_in_leaf": 3, "learning_rate": 0.2,
                "verbosity": -1, "seed": seed, "deterministic": True, "num_threads": 1, **params}
    data = lgb.Dataset(X, _target(X, binary, seed), categorical_feature=[X.shape[1] - 1])
    return lgb.train(settings, data, num_boost_round=rounds)


def _odd_rows(n_features: int) -> np.ndarray:
    """Values LightGBM treats specially: NaN, zero, within 1e-35 of zero, infinities, and
    category codes that are negative, fractional, unseen or past an int."""
    numeric = [np.nan, 0.0, -0.0, 1e-36, -1e-36, 1e-30, np.inf, -np.inf, 0.3, -2.0]
    codes = [np.nan, 0.0, -0.5, -1.0, -3.0, 2.7, 7.0, 12.0, 31.0, 32.0, 1e10, np.inf, 1e-36]
    cols = [numeric] * (n_features - 1) + [codes]
    rows = [list(r) for r in itertools.islice(itertools.product(*cols), 0, None, 97)]
    rng = np.random.default_rng(1)
    return np.array([[rng.choice(c) for c in cols] for _ in range(200)] + rows[:200])


def _assert_equal_to_pred_contrib(booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
    tables = treeshap_tables(booster)
    assert isinstance(tables, TreeShapTables), tables
    ours = tables.contributions(X)
    theirs = booster.predict(X, pred_contrib=True, num_threads=1)
    assert ours.shape == theirs.shape
    worst = float(np.max(np.abs(ours - theirs)))
    assert worst <= TOLERANCE, f"max |difference| {worst:.3g}"
    np.testing.assert_allclose(ours.sum(axis=1), booster.predict(X, raw_score=True, num_threads=1),
                               rtol=0, atol=TOLERANCE)
    return ours


@pytest.mark.parametrize("binary", [False, True], ids=["regression", "binary"])
@pytest.mark.parametrize("depth", range(1, 9))
def test_equal_to_pred_contrib_on_every_row_by_depth(depth: int, binary: bool) -> None:
    booster = _booster(depth, binary)
    X = np.vstack([_data(600, seed=7), _odd_rows(6)])
    _assert_equal_to_pred_contrib(booster, X)


@pytest.mark.parametrize("binary", [False, True], ids=["regression", "binary"])
@pytest.mark.parametrize("missing", [{"zero_as_missing": True}, {"use_missing": False}],
                         ids=["zero_as_missing", "no_missing"])
def test_equal_to_pred_contrib_whatever_the_missing_value_handling(
        missing: dict[str, bool], binary: bool) -> None:
    booster = _booster(6, binary, seed=3, **missing)
    kinds = {node["missing_type"] for tree in booster.dump_model()["tree_info"]
             for node in _internal_nodes(tree["tree_structure"])}
    assert ("Zero" in kinds) == bool(missing.get("zero_as_missing")) and "NaN" not in kinds
    _assert_equal_to_pred_contrib(booster, np.vstack([_data(600, seed=8), _odd_rows(6)]))


def _internal_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    if "split_index" not in node:
        return []
    return [node, *_internal_nodes(node["left_child"]), *_internal_nodes(node["right_child"])]


def test_equal_to_pred_contrib_when_paths_split_on_the_same_feature_again() -> None:
    booster = _booster(8, False, seed=5, n_numeric=2, rounds=20)  # 3 features, depth 8
    trees = read_trees(booster.dump_model()["tree_info"])
    assert not isinstance(trees, str)
    repeats = sum(len(path) > len(feats)
                  for path, feats in zip(trees.leaf_path_node, trees.leaf_features, strict=True))
    assert repeats > 100  # most leaves' paths repeat a feature
    _assert_equal_to_pred_contrib(booster, np.vstack([_data(600, seed=9, n_numeric=2),
                                                      _odd_rows(3)]))


def test_threads_and_few_row_calls_give_the_same_numbers() -> None:
    booster = _booster(5, True, seed=2)
    tables = treeshap_tables(booster)
    assert isinstance(tables, TreeShapTables)
    X = _data(1_000, seed=4)  # four blocks of 256 rows
    together = tables.contributions(X, threads=1)
    np.testing.assert_array_equal(tables.contributions(X, threads=3), together)
    one_by_one = np.vstack([tables.contributions(X[i:i + 1]) for i in range(20)])
    np.testing.assert_array_equal(one_by_one, together[:20])
    assert tables.contributions(X[:0]).shape == (0, X.shape[1] + 1)


def test_tables_are_built_once_per_booster() -> None:
    booster = _booster(3, False)
    assert treeshap_tables(booster) is treeshap_tables(booster)
    assert treeshap_tables(booster, 10) is not treeshap_tables(booster)


def test_num_iteration_explains_the_first_trees_only() -> None:
    booster = _booster(4, True, rounds=30)
    X = _data(300, seed=6)
    tables = treeshap_tables(booster, 15)
    assert isinstance(tables, TreeShapTables)
    theirs = booster.predict(X, pred_contrib=True, num_iteration=15, num_threads=1)
    assert np.max(np.abs(tables.contributions(X) - theirs)) <= TOLERANCE


# --- shapes the tables refuse -----------------------------------------------------------------
@pytest.mark.parametrize(("params", "reason"), [
    ({"objective": "multiclass", "num_class": 3}, "trees per iteration"),
    ({"boosting": "rf", "bagging_freq": 1, "bagging_fraction": 0.5}, "average_output"),
    ({"linear_tree": True}, "linear tree"),
])
def test_shapes_without_tables_are_refused_with_the_reason(params: dict[str, Any],
                                                           reason: str) -> None:
    X = _data(600, seed=0)
    y = np.floor(np.clip(np.nan_to_num(X[:, 0]) + 1.5, 0, 2.9))
    booster = lgb.train({"objective": "regression", "verbosity": -1, "num_leaves": 7,
                         "num_threads": 1, **params}, lgb.Dataset(X, y), num_boost_round=3)
    found = treeshap_tables(booster)
    assert isinstance(found, Unsupported) and reason in found.reason


def test_tables_past_the_memory_budget_are_refused() -> None:
    booster = _booster(8, False, rounds=5)
    found = treeshap_tables(booster, budget_bytes=100_000)
    assert isinstance(found, Unsupported)
    assert "distinct features" in found.reason and "budget" in found.reason


# --- the shipped model shape ------------------------------------------------------------------
@pytest.fixture(scope="module")
def champions() -> dict[str, Any]:
    """Churn and value models with the shipped training configs' parameters (depth 5, 31
    leaves, early stopping, refit, categorical customer type and region), at most 150 trees
    (the shape of each tree is the config's; their number only costs test time) and one
    thread (LightGBM's threads spin for minutes when the machine is oversubscribed)."""
    frame = make_snapshots(n_customers=1_000, n_snapshots=6, seed=21)
    last = frame["as_of"].max()
    train, test = frame[frame["as_of"] < last], frame[frame["as_of"] == last]
    models: dict[str, Any] = {"test": test}
    for job, label in (("churn", "churned"), ("value", "future_amount")):
        cfg = load_yaml_model(ROOT / "training" / "config" / f"{job}.yaml", TrainingConfig)
        model = make_estimator(job, {**cfg.params, "n_estimators": 150, "num_threads": 1},
                               features=cfg.model_features(), seed=cfg.seed,
                               horizon_days=cfg.data.horizon_days)
        models[job] = model.fit(train, train[label], as_of=train["as_of"])
    return models


@pytest.mark.parametrize("job", ["churn", "value"])
def test_shipped_model_shape_explains_from_tables_equal_to_pred_contrib(
        champions: dict[str, Any], job: str) -> None:
    model, test = champions[job], champions["test"]
    assert model.max_depth == 5 and model.categorical is None  # the contract's categories
    assert any(node["decision_type"] == "=="
               for tree in model.booster_.dump_model()["tree_info"]
               for node in _internal_nodes(tree["tree_structure"]))
    assert model.contribution_method().startswith("TreeSHAP tables")
    ours = model.contributions(test).to_numpy()
    theirs = model.pred_contrib(test).to_numpy()
    assert float(np.max(np.abs(ours - theirs))) <= TOLERANCE
    np.testing.assert_allclose(ours.sum(axis=1), model.raw_score(test), rtol=0, atol=TOLERANCE)


def test_a_model_past_the_budget_falls_back_to_pred_contrib(
        champions: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    model, test = champions["churn"], champions["test"].head(300)
    monkeypatch.setattr(fast_treeshap, "TABLE_BUDGET_BYTES", 1_000)
    assert model.contribution_method().startswith("pred_contrib: a path splits on")
    np.testing.assert_array_equal(model.contributions(test).to_numpy(),
                                  model.pred_contrib(test).to_numpy())


def test_warm_up_builds_the_tables_and_compiles_the_kernel_before_the_first_call() -> None:
    from customer_tiering.models import _treeshap_kernel
    from customer_tiering.models.fast_treeshap import _CACHE, warm_up

    frame = make_snapshots(n_customers=300, n_snapshots=3, seed=4)
    model = make_estimator("churn", {"n_estimators": 15, "max_depth": 3, "num_leaves": 7,
                                     "min_child_samples": 5, "num_threads": 1})
    model.fit(frame, frame["churned"], as_of=frame["as_of"])
    assert model.booster_ not in _CACHE
    model.warm_up()
    assert model.booster_ in _CACHE
    assert _treeshap_kernel.explain_rows.signatures  # compiled (or loaded from its cache)
    assert warm_up(model.booster_, model.best_iteration_) is None
