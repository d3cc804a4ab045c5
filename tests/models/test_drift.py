"""Population stability index: hand-computed cases and the properties drift warnings rely on."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from customer_tiering.models.drift import PSI_WARNING, drift_summary, drift_table, profile_column, psi


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


def test_a_column_null_for_everyone_in_both_populations_has_zero_psi() -> None:
    reference = profile_column(pd.Series([np.nan] * 200, dtype="float64"))
    later = pd.DataFrame({"last_survey_score": pd.Series([np.nan] * 300, dtype="float64")})
    assert psi(reference, later["last_survey_score"]) == 0.0
    table = drift_table({"last_survey_score": reference}, later, source="m")
    assert table.loc[0, "psi"] == 0.0 and not table.loc[0, "warning"]
    assert table.loc[0, "change"] is None


def test_a_profile_saved_without_the_empty_bin_still_gives_zero_psi() -> None:
    old_style = {"kind": "numeric", "edges": [], "shares": [], "missing": 1.0}
    assert psi(old_style, pd.Series([np.nan] * 10, dtype="float64")) == 0.0


def test_known_to_unknown_and_back_are_reported_by_name_not_as_a_psi() -> None:
    rng = np.random.default_rng(3)
    known = pd.Series(rng.normal(size=500))
    unknown = pd.Series([np.nan] * 500, dtype="float64")
    profiles = {"days_since_last_visit": profile_column(known),
                "last_survey_score": profile_column(unknown),
                "order_count_90d": profile_column(known)}
    later = pd.DataFrame({"days_since_last_visit": unknown, "last_survey_score": known,
                          "order_count_90d": known})
    table = drift_table(profiles, later, source="m").set_index("column")
    assert table.loc["days_since_last_visit", "change"] == "known -> unknown"
    assert table.loc["last_survey_score", "change"] == "unknown -> known"
    assert math.isnan(table.loc["days_since_last_visit", "psi"])
    assert table.loc["days_since_last_visit", "warning"] and table.loc["last_survey_score", "warning"]
    assert table.loc["order_count_90d", "change"] is None
    assert not table.loc["order_count_90d", "warning"]
    line = drift_summary(table.reset_index().to_dict(orient="records"))
    assert line == ("drift: none of 3 columns above PSI 0.2; 1 known -> unknown "
                    "(days_since_last_visit); 1 unknown -> known (last_survey_score)")


def test_the_summary_line_names_the_largest_shifts() -> None:
    rows = [{"column": f"c{i}", "psi": 0.1 * i, "change": None, "warning": 0.1 * i > PSI_WARNING}
            for i in range(8)]
    assert drift_summary(rows) == ("drift: 5 of 8 columns above PSI 0.2 "
                                   "(c7 0.70, c6 0.60, c5 0.50, ...)")


def test_the_summary_counts_a_column_profiled_by_two_models_once() -> None:
    rows = [{"source": m, "column": "tenure_days", "psi": psi_value, "change": None,
             "warning": True} for m, psi_value in (("churn", 8.1), ("value", 7.9))]
    rows.append({"source": "churn", "column": "yoy_growth", "psi": 0.05, "change": None,
                 "warning": False})
    assert drift_summary(rows) == "drift: 1 of 2 columns above PSI 0.2 (tenure_days 8.10)"
