"""BG/NBD and Gamma-Gamma: recovery of known parameters; integration and Monte Carlo checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import betaln, gammaln
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from customer_tiering.models.clv import BetaGeoModel, GammaGammaModel, summary_from_transactions
from customer_tiering.models.clv_simulation import simulate_bgnbd, simulate_gamma_gamma

TRUE_BG = {"r": 0.6, "alpha": 40.0, "a": 0.8, "b": 2.5}  # time in days: ~5.5 purchases a year


def _with_params(params: dict[str, float]) -> BetaGeoModel:
    model = BetaGeoModel()
    model.params_ = dict(params)
    return model


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    T = np.random.default_rng(0).uniform(90, 730, 5000)
    return simulate_bgnbd(5000, **TRUE_BG, T=T, horizon=90.0, seed=1)


def test_summary_from_transactions_on_hand_case() -> None:
    tx = pd.DataFrame({
        "customer_id": ["A", "A", "A", "A", "A", "B", "B", "C"],
        "order_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-11", "2024-01-21",
                                      "2024-02-15", "2024-01-05", "2024-01-09", "2024-03-01"]),
        # A: day 1 nets 100+50; day 11 nets 30; day 21 is a pure return (not a purchase);
        # Feb 15 is after as_of.  B: the second day nets -5 (return > order) -> one purchase only.
        "amount": [100.0, 50.0, 30.0, -20.0, 999.0, 40.0, -5.0, 10.0],
    })
    s = summary_from_transactions(tx, "2024-01-31", customer_ids=["A", "B", "C"])
    assert s.loc["A"].tolist() == [1.0, 10.0, 30.0, 30.0]
    assert s.loc["B"].tolist() == [0.0, 0.0, 26.0, 0.0]
    assert s.loc["C"].isna().all()  # first purchase after as_of


def _lambda_moment(x: float, s: float, p: dict[str, float]) -> float:
    """E[lam^x exp(-lam s)] under Gamma(r, alpha): the Poisson part, integrated analytically."""
    r, alpha = p["r"], p["alpha"]
    return float(np.exp(gammaln(r + x) - gammaln(r) + r * np.log(alpha)
                        - (r + x) * np.log(alpha + s)))


def _ll_by_integration(x: float, t_x: float, T: float, p: dict[str, float]) -> float:
    """Individual likelihood: the drop-out probability integrated numerically over Beta(a, b).

    ``weight="alg"`` lets QUADPACK take the Beta density's end-point singularities exactly.
    """

    def integrand(prob: float) -> float:
        alive = (1 - prob) ** x * _lambda_moment(x, T, p)
        died = prob * (1 - prob) ** (x - 1) * _lambda_moment(x, t_x, p) if x > 0 else 0.0
        return float(alive + died)

    value, _ = integrate.quad(integrand, 0, 1, weight="alg", wvar=(p["a"] - 1, p["b"] - 1),
                              epsabs=0, epsrel=1e-12, limit=500)
    return float(np.log(value) - betaln(p["a"], p["b"]))


@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0, 100), (1, 30, 200), (4, 150, 365)])
def test_bgnbd_loglik_matches_numerical_integration(x: float, t_x: float, T: float) -> None:
    model = _with_params(TRUE_BG)
    row = pd.DataFrame({"frequency": [x], "recency": [t_x], "T": [T]})
    assert model.log_likelihood(row)[0] == pytest.approx(
        _ll_by_integration(x, t_x, T, TRUE_BG), abs=1e-9)


@pytest.mark.parametrize(("x", "t_x", "T", "t"), [(3, 120, 300, 90), (0, 0, 50, 30),
                                                  (12, 700, 730, 365), (60, 700, 730, 365)])
def test_bgnbd_conditional_expectation_matches_posterior_integration(
    x: float, t_x: float, T: float, t: float,
) -> None:
    """E[Y(t)|hist] = E[1{alive} (1 - e^{-lam p t})/p | hist], integrated without the 2F1.

    Given alive with (lam, p), purchases in the next t days have mean (1 - e^{-lam p t})/p (FHL 2005
    eq. 7); over lam the alive term is E[lam^x (e^{-lam T} - e^{-lam (T + p t)})], analytic.
    """
    p = TRUE_BG

    def integrand(prob: float) -> float:
        # lam^x (e^{-lam T} - e^{-lam (T + p t)}) over lam, written to avoid cancellation at p -> 0
        quiet = -np.expm1(-(p["r"] + x) * np.log1p(prob * t / (p["alpha"] + T)))
        return float((1 - prob) ** x * _lambda_moment(x, T, p) * quiet / max(prob, 1e-300))

    num, _ = integrate.quad(integrand, 0, 1, weight="alg", wvar=(p["a"] - 1, p["b"] - 1),
                            epsabs=0, epsrel=1e-12, limit=500)
    num /= np.exp(betaln(p["a"], p["b"]))
    den = np.exp(_ll_by_integration(x, t_x, T, p))
    row = pd.DataFrame({"frequency": [x], "recency": [t_x], "T": [T]})
    got = _with_params(p).conditional_expected_purchases(row, t)[0]
    assert got == pytest.approx(num / den, rel=1e-9)


def test_bgnbd_predictions_agree_with_monte_carlo_of_the_process(simulated: pd.DataFrame) -> None:
    """With the true parameters, averages of the conditional predictions equal simulated truth."""
    model = _with_params(TRUE_BG)
    expected = model.conditional_expected_purchases(simulated, 90.0)
    p_alive = model.probability_alive(simulated)
    p_none = model.probability_no_purchase(simulated, 90.0)
    future = simulated["future_purchases"].to_numpy()
    n = len(simulated)
    # tolerances: about 4 Monte Carlo standard errors
    assert expected.mean() == pytest.approx(future.mean(), abs=4 * future.std() / np.sqrt(n))
    assert p_alive.mean() == pytest.approx(simulated["alive"].mean(), abs=4 * 0.5 / np.sqrt(n))
    assert p_none.mean() == pytest.approx((future == 0).mean(), abs=4 * 0.5 / np.sqrt(n))
    # and within groups of the history, where the conditioning matters
    for lo, hi in [(0, 0), (1, 3), (4, 1000)]:
        g = (simulated["frequency"] >= lo).to_numpy() & (simulated["frequency"] <= hi).to_numpy()
        se = future[g].std() / np.sqrt(g.sum())
        assert expected[g].mean() == pytest.approx(future[g].mean(), abs=4 * se)


def test_bgnbd_probability_no_purchase_for_one_history_by_brute_force() -> None:
    """Customers with no repeat purchase and the same T share one history: count them."""
    sim = simulate_bgnbd(40_000, **TRUE_BG, T=200.0, horizon=60.0, seed=9)
    same = sim[sim["frequency"] == 0]
    model = _with_params(TRUE_BG)
    p_none = model.probability_no_purchase(same.iloc[:1], 60.0)[0]
    observed = (same["future_purchases"] == 0).mean()
    assert p_none == pytest.approx(observed, abs=4 * np.sqrt(observed * (1 - observed) / len(same)))
    e_y = model.conditional_expected_purchases(same.iloc[:1], 60.0)[0]
    se = same["future_purchases"].std() / np.sqrt(len(same))
    assert e_y == pytest.approx(same["future_purchases"].mean(), abs=4 * se)


def test_bgnbd_recovers_simulated_parameters(simulated: pd.DataFrame) -> None:
    model = BetaGeoModel().fit(simulated[["frequency", "recency", "T"]])
    for name, truth in TRUE_BG.items():
        assert model.params_[name] == pytest.approx(truth, rel=0.15), name
    # the optimum is at least as likely as the truth
    assert model.log_likelihood_ >= _with_params(TRUE_BG).log_likelihood(simulated).sum() - 1e-6


def test_bgnbd_follows_the_sklearn_contract(simulated: pd.DataFrame) -> None:
    model = BetaGeoModel(penalizer_coef=0.01)
    with pytest.raises(NotFittedError):
        model.probability_alive(simulated)
    assert clone(model).get_params() == {"penalizer_coef": 0.01, "tol": 1e-9}
    assert model.fit(simulated) is model


def test_bgnbd_rejects_days_since_last_order_as_recency() -> None:
    bad = pd.DataFrame({"frequency": [2.0], "recency": [400.0], "T": [100.0]})
    with pytest.raises(ValueError, match="first-to-last purchase"):
        BetaGeoModel().fit(bad)


def test_gamma_gamma_recovers_simulated_parameters() -> None:
    truth = {"p": 6.0, "q": 4.0, "gamma": 300.0}
    freq = 1 + np.random.default_rng(3).poisson(4, 8000).astype(float)
    sim = simulate_gamma_gamma(freq, **truth, seed=4)
    model = GammaGammaModel().fit(sim)
    for name, value in truth.items():
        assert model.params_[name] == pytest.approx(value, rel=0.2), name
    # the implied population mean spend p gamma / (q - 1) = 600 is recovered more tightly
    assert model.population_mean_ == pytest.approx(600.0, rel=0.05)


def test_gamma_gamma_conditional_spend_shrinks_toward_population_mean() -> None:
    model = GammaGammaModel()
    model.params_ = {"p": 6.0, "q": 4.0, "gamma": 300.0}
    rows = pd.DataFrame({"frequency": [0.0, 1.0, 50.0], "monetary": [0.0, 1200.0, 1200.0]})
    got = model.conditional_expected_spend(rows)
    # p (gamma + x m) / (p x + q - 1): 1800/3 = 600; 6*1500/9 = 1000; 6*60300/303
    np.testing.assert_allclose(got, [600.0, 1000.0, 6 * 60300 / 303])


def test_gamma_gamma_conditional_spend_beats_raw_mean_on_simulated_truth() -> None:
    freq = np.random.default_rng(5).integers(1, 4, 5000).astype(float)
    sim = simulate_gamma_gamma(freq, p=3.0, q=5.0, gamma=400.0, seed=6)
    model = GammaGammaModel().fit(sim)
    shrunk = model.conditional_expected_spend(sim)
    err_shrunk = np.mean((shrunk - sim["true_mean"]) ** 2)
    err_raw = np.mean((sim["monetary"] - sim["true_mean"]) ** 2)
    assert err_shrunk < 0.8 * err_raw


def test_gamma_gamma_without_a_finite_population_mean_uses_the_observed_mean() -> None:
    model = GammaGammaModel()
    model.params_ = {"p": 2.0, "q": 0.8, "gamma": 100.0}
    model.observed_mean_ = 250.0
    rows = pd.DataFrame({"frequency": [0.0, 3.0], "monetary": [0.0, 90.0]})
    got = model.conditional_expected_spend(rows)
    # x = 0: p gamma / (q - 1) would be negative; x = 3: 2 (100 + 270) / (6 - 0.2)
    np.testing.assert_allclose(got, [250.0, 2 * 370 / 5.8])
