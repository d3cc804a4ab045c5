"""Population stability index: hand-computed cases and the properties drift warnings rely on."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from customer_tiering.models.drift import PSI_WARNING, drift_table, profile_column, psi


def test_a_population_compared_with_itself_has_zero_psi() -> None:
    x = pd.Series(np.random.default_rng(0).lognormal(size=5_000))
    assert psi(profile_column(x), x) == pytest.approx(0.0, abs=1e-12)


def test_psi_of_two_categorical_populations_matches_the_formula() -> None:
    reference = profile_column(pd.Series(["a"] * 50 + ["b"] * 50))
    actual = pd.Series(["a"] * 80 + ["b"] * 20)
    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi(reference, actual) == pytest.approx(expected, rel=1e-12)


def test_numeric_profiles_cover_everyone_including_the_missing() -> None:
    x = pd.Series([*range(90), *[None] * 10], dtype="float64")
    profile = profile_column(x)
    assert sum(profile["shares"]) + profile["missing"] == pytest.approx(1.0)
    assert profile["missing"] == pytest.approx(0.1)


def test_a_shifted_distribution_raises_a_warning_and_a_stable_one_does_not() -> None:
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"days": rng.exponential(30, 10_000), "kind": rng.choice(["x", "y"],
                                                                                     10_000)})
    profiles = {"days": profile_column(reference["days"]), "kind": profile_column(reference["kind"])}
    later = pd.DataFrame({"days": rng.exponential(60, 10_000), "kind": rng.choice(["x", "y"],
                                                                                 10_000)})
    table = drift_table(profiles, later, source="m").set_index("column")
    assert table.loc["days", "psi"] > PSI_WARNING and table.loc["days", "warning"]
    assert table.loc["kind", "psi"] < 0.01 and not table.loc["kind", "warning"]


def test_an_unseen_category_counts_as_drift() -> None:
    reference = profile_column(pd.Series(["a"] * 100))
    assert psi(reference, pd.Series(["a"] * 50 + ["new"] * 50)) > PSI_WARNING
