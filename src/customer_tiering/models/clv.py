"""BG/NBD and Gamma-Gamma ("buy till you die") models: a compact, tested implementation.

Why not a library: ``lifetimes`` (last release 0.11.3, 2020) is unmaintained and breaks on numpy 2 /
pandas 3, and ``pymc-marketing`` brings PyMC and a compiler toolchain for what is, at maximum
likelihood, a few closed-form expressions. The formulas are those of the papers in the References
of :class:`BetaGeoModel` and :class:`GammaGammaModel`, proven in ``tests/models/test_clv.py`` by
parameter recovery on data simulated from the generative process
(:mod:`customer_tiering.models.clv_simulation`), by numerical integration of the individual-level
likelihood, and by Monte Carlo.

Input is the lifetimes-style summary per customer as of a date (:func:`summary_from_transactions`):
``frequency`` (repeat purchase days), ``recency`` (days from the first to the last purchase -- *not*
days since the last order), ``T`` (days from the first purchase to ``as_of``) and ``monetary`` (mean
amount of the repeat purchase days). Time is in days, so ``alpha`` and ``gamma`` are on that scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "SUMMARY_COLUMNS",
    "BetaGeoModel",
    "GammaGammaModel",
    "summary_from_transactions",
]

FloatArray = npt.NDArray[np.float64]
SUMMARY_COLUMNS: tuple[str, ...] = ("frequency", "recency", "T", "monetary")


def summary_from_transactions(transactions: pd.DataFrame, as_of: Any,
                              customer_ids: Any = None) -> pd.DataFrame:
    """The per-customer purchase summary that BG/NBD and Gamma-Gamma read, as of a date.

    A *purchase* is a day on which the customer's net amount (sum of ``amount`` over that day's
    rows, returns included) is positive; several orders on one day are one purchase, as in
    lifetimes. Only rows with ``order_date`` on or before ``as_of`` are used.

    Parameters
    ----------
    transactions : frame with the canonical columns ``customer_id``, ``order_date`` (date) and
        ``amount`` (net currency amount; negative for returns), see the contract's TRANSACTIONS.
    as_of : the cut date (anything ``pandas.Timestamp`` accepts).
    customer_ids : optional ids to return, in that order; customers without a purchase on or before
        ``as_of`` get a row of NaN.

    Returns
    -------
    DataFrame indexed by ``customer_id`` with float columns ``frequency`` (purchase days after the
    first), ``recency`` (days from the first to the last purchase), ``T`` (days from the first
    purchase to ``as_of``) and ``monetary`` (mean net amount of the repeat purchase days; 0 when
    there is none).
    """
    cut = pd.Timestamp(as_of).normalize()
    day = pd.to_datetime(transactions["order_date"]).dt.normalize()
    keep = (day <= cut).to_numpy()
    frame = pd.DataFrame({
        "customer_id": transactions["customer_id"].to_numpy()[keep],
        "day": day.to_numpy()[keep],
        "amount": pd.to_numeric(transactions["amount"]).to_numpy(dtype=np.float64)[keep],
    })
    daily = frame.groupby(["customer_id", "day"], sort=True)["amount"].sum().reset_index()
    daily = daily[daily["amount"] > 0]
    grouped = daily.groupby("customer_id", sort=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    n_days = grouped["day"].size().astype(np.float64)
    total = grouped["amount"].sum()
    first_amount = grouped["amount"].first()  # rows are sorted by day within a customer
    repeat = n_days - 1
    summary = pd.DataFrame({
        "frequency": repeat,
        "recency": (last - first).dt.days.astype(np.float64),
        "T": (cut - first).dt.days.astype(np.float64),
        "monetary": np.where(repeat > 0, (total - first_amount) / repeat.where(repeat > 0, 1), 0.0),
    })
    summary.index.name = "customer_id"
    if customer_ids is not None:
        summary = summary.reindex(pd.Index(customer_ids, name="customer_id"))
    return summary


def _columns(X: pd.DataFrame | FloatArray, names: tuple[str, ...]) -> tuple[FloatArray, ...]:
    if isinstance(X, pd.DataFrame):
        missing = [n for n in names if n not in X.columns]
        if missing:
            raise ValueError(f"the summary lacks column(s) {missing}; "
                             "see summary_from_transactions")
        cols = tuple(X[n].to_numpy(dtype=np.float64) for n in names)
    else:
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] < len(names):
            raise ValueError(f"expected a 2-D array with columns {names}")
        cols = tuple(arr[:, i] for i in range(len(names)))
    for name, col in zip(names, cols, strict=True):
        if np.isnan(col).any():
            raise ValueError(f"column {name!r} has {int(np.isnan(col).sum())} missing value(s)")
    return cols


# --- BG/NBD ----------------------------------------------------------------------------------
def _bgnbd_loglik(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """Individual log-likelihood of (x, t_x, T), FHL 2005 eq. 6, computed in logs for stability.

    L = B(a, b+x)/B(a, b) * G(r+x) a^r / (G(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))
    """
    r, alpha, a, b = params
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    alive = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        # B(a+1, b+x-1) / B(a, b+x) = a / (b+x-1)
        died = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x),
                        -np.inf)
    return np.asarray(common + np.logaddexp(alive, died), dtype=np.float64)


class BetaGeoModel(BaseEstimator):  # type: ignore[misc]
    """BG/NBD model of repeat purchasing, fitted by maximum likelihood.

    Each customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)`` (shape, rate) and
    after each purchase drops out for good with probability ``p ~ Beta(a, b)``. Time in days.

    Parameters
    ----------
    penalizer_coef : L2 penalty on the four parameters (as in lifetimes); 0 = plain maximum
        likelihood.
    tol : optimiser tolerance on the mean negative log-likelihood.

    Attributes
    ----------
    params_ : dict with ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_ : total log-likelihood at the optimum.
    n_customers_ : customers fitted on.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers" the easy
       way: an alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.
    .. [2] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2008). Computing P(alive) using the
       BG/NBD model. Note, brucehardie.com.
    """

    def __init__(self, penalizer_coef: float = 0.0, tol: float = 1e-9) -> None:
        self.penalizer_coef = penalizer_coef
        self.tol = tol

    def fit(self, X: pd.DataFrame, y: None = None) -> BetaGeoModel:
        """Fit on a summary with columns ``frequency``, ``recency``, ``T`` (days).

        Parameters
        ----------
        X : summary with ``frequency``, ``recency`` and ``T`` (days).
        y : ignored; present for the sklearn API.

        Returns
        -------
        The fitted model (``self``), with ``params_``, ``log_likelihood_`` and ``n_customers_`` set.

        Raises
        ------
        ValueError
            When a column is missing or has a missing value, or a row breaks ``0 <= recency <= T``.
        """
        x, t_x, T = _columns(X, ("frequency", "recency", "T"))
        if ((x < 0) | (t_x < 0) | (t_x > T) | ((x == 0) & (t_x != 0))).any():
            raise ValueError("a summary row breaks 0 <= recency <= T (and recency = 0 when "
                             "frequency = 0); recency is first-to-last purchase, "
                             "not days since the last order")
        # identical histories share one likelihood term: fit on the distinct rows with counts
        rows, counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
        ux, ut, uT = rows[:, 0], rows[:, 1], rows[:, 2]
        weights = counts / counts.sum()
        penal = self.penalizer_coef

        def objective(log_params: FloatArray) -> float:
            params = np.exp(log_params)
            ll = float(np.dot(weights, _bgnbd_loglik(params, ux, ut, uT)))
            return -ll + penal * float(np.sum(params**2))

        # start from a rate that matches the mean purchase rate (lambda mean = r / alpha)
        rate = max(float(x.sum() / max(T.sum(), 1.0)), 1e-4)
        x0 = np.log([1.0, 1.0 / rate, 1.0, 1.0])
        best = None
        for method in ("L-BFGS-B", "Nelder-Mead"):
            res = minimize(objective, x0, method=method, tol=self.tol,
                           options={"maxiter": 5000})
            if best is None or res.fun < best.fun:
                best = res
            if res.success:
                break
            x0 = res.x
        assert best is not None
        r, alpha, a, b = np.exp(best.x)
        self.params_ = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        self.log_likelihood_ = float(_bgnbd_loglik(np.exp(best.x), x, t_x, T).sum())
        self.n_customers_ = int(x.size)
        return self

    def _p(self) -> tuple[float, float, float, float]:
        check_is_fitted(self, "params_")
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def log_likelihood(self, X: pd.DataFrame) -> FloatArray:
        """Individual log-likelihood of each summary row (``X`` as in :meth:`fit`).

        Parameters
        ----------
        X : summary with ``frequency``, ``recency`` and ``T`` (days).

        Returns
        -------
        Float array, one natural-log likelihood per row, at the fitted parameters.

        Raises
        ------
        ValueError
            When a column is missing or has a missing value.
        """
        x, t_x, T = _columns(X, ("frequency", "recency", "T"))
        return _bgnbd_loglik(np.array(self._p()), x, t_x, T)

    def probability_alive(self, X: pd.DataFrame) -> FloatArray:
        """P(the customer has not dropped out by ``T`` | history), from [2]_.

        ``1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``. A customer without a repeat
        purchase is alive with probability 1 under BG/NBD (drop-out only follows a purchase).

        Parameters
        ----------
        X : summary with ``frequency``, ``recency`` and ``T`` (days).

        Returns
        -------
        Float array, one probability in [0, 1] per row.

        Raises
        ------
        ValueError
            When a column is missing or has a missing value.
        """
        r, alpha, a, b = self._p()
        x, t_x, T = _columns(X, ("frequency", "recency", "T"))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = (np.log(a) - np.log(b + x - 1)
                         + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        odds_dead = np.where(x > 0, np.exp(log_ratio), 0.0)
        return np.asarray(1.0 / (1.0 + odds_dead), dtype=np.float64)

    def conditional_expected_purchases(self, X: pd.DataFrame, t: float) -> FloatArray:
        """E[number of purchases in (T, T+t] | history], [1]_ eq. 10 (t in days).

        ``(a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]``
        ``/ (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))`` with ``z = t/(alpha+T+t)``.
        Checked against direct integration over the posterior in the tests (scipy's ``hyp2f1``
        agrees with its power series for the arguments seen here).

        Parameters
        ----------
        X : summary with ``frequency``, ``recency`` and ``T`` (days).
        t : the window's length (days).

        Returns
        -------
        Float array, one expected number of purchase days in the window per row (>= 0).

        Raises
        ------
        ValueError
            When a column is missing or has a missing value.
        """
        r, alpha, a, b = self._p()
        x, _, T = _columns(X, ("frequency", "recency", "T"))
        z = t / (alpha + T + t)
        head = (a + b + x - 1) / (a - 1)
        quiet = ((alpha + T) / (alpha + T + t)) ** (r + x)
        tail = 1 - quiet * hyp2f1(r + x, b + x, a + b + x - 1, z)
        return np.asarray(head * tail * self.probability_alive(X), dtype=np.float64)

    def probability_no_purchase(self, X: pd.DataFrame, t: float) -> FloatArray:
        """P(zero purchases in (T, T+t] | history): a churn probability over a horizon of t days.

        Derivation: either the customer dropped out by ``T`` (probability ``1 - P(alive)``), or is
        alive and makes no purchase in the window. Given alive at ``T`` and the history, the
        purchase rate is ``lambda ~ Gamma(r+x, alpha+T)`` (the likelihood of lambda is
        ``lambda^x exp(-lambda T)``) and drop-out can only happen right after a purchase, so no
        purchase in the window has probability
        ``E[exp(-lambda t)] = ((alpha+T)/(alpha+T+t))^(r+x)``.
        Hence ``1 - P(alive) (1 - ((alpha+T)/(alpha+T+t))^(r+x))``; checked against Monte Carlo in
        the tests.

        Parameters
        ----------
        X : summary with ``frequency``, ``recency`` and ``T`` (days).
        t : the window's length (days).

        Returns
        -------
        Float array, one probability in [0, 1] per row.

        Raises
        ------
        ValueError
            When a column is missing or has a missing value.
        """
        r, alpha, _, _ = self._p()
        x, _, T = _columns(X, ("frequency", "recency", "T"))
        quiet_if_alive = ((alpha + T) / (alpha + T + t)) ** (r + x)
        return np.asarray(1 - self.probability_alive(X) * (1 - quiet_if_alive), dtype=np.float64)


# --- Gamma-Gamma -----------------------------------------------------------------------------
def _gg_loglik(params: FloatArray, x: FloatArray, m: FloatArray) -> FloatArray:
    """Log density of the mean spend ``m`` of ``x`` purchases (Fader & Hardie 2013, eq. 3)."""
    p, q, gamma = params
    px = p * x
    return np.asarray(gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
                      + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(gamma + m * x),
                      dtype=np.float64)


class GammaGammaModel(BaseEstimator):  # type: ignore[misc]
    """Gamma-Gamma model of the amount per purchase, fitted by maximum likelihood.

    Each purchase amount is ``Gamma(p, nu)`` (shape, rate) around the customer's mean ``p/nu``, with
    ``nu ~ Gamma(q, gamma)`` across customers. Fitted on customers with at least one repeat purchase
    and positive ``monetary``; it assumes spend is independent of purchase frequency.

    Parameters
    ----------
    penalizer_coef : L2 penalty on the parameters; 0 = plain maximum likelihood.
    tol : optimiser tolerance.

    Attributes
    ----------
    params_ : dict with ``p``, ``q``, ``gamma``.
    population_mean_ : expected amount per purchase of an unknown customer, ``p gamma/(q-1)``
        (infinite when ``q <= 1``).
    observed_mean_ : mean ``monetary`` of the customers fitted on.
    n_customers_ : customers fitted on.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV: using iso-value
       curves for customer base analysis. *Journal of Marketing Research* 42(4), 415-430.
    .. [2] Colombo, R. and Jiang, W. (1999). A stochastic RFM model. *Journal of Interactive
       Marketing* 13(3), 2-12.
    .. [3] Fader, P. S. and Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
       Note, brucehardie.com (the likelihood, eq. 3).
    """

    def __init__(self, penalizer_coef: float = 0.0, tol: float = 1e-9) -> None:
        self.penalizer_coef = penalizer_coef
        self.tol = tol

    def fit(self, X: pd.DataFrame, y: None = None) -> GammaGammaModel:
        """Fit on a summary with columns ``frequency`` and ``monetary`` (currency per purchase).

        Parameters
        ----------
        X : summary with ``frequency`` and ``monetary``.
        y : ignored; present for the sklearn API.

        Returns
        -------
        The fitted model (``self``), with ``params_``, ``population_mean_``, ``observed_mean_``
        and ``n_customers_`` set.

        Raises
        ------
        ValueError
            When a column is missing or has a missing value, or fewer than two customers have a
            repeat purchase and positive ``monetary``.
        """
        x, m = _columns(X, ("frequency", "monetary"))
        use = (x > 0) & (m > 0)
        if use.sum() < 2:
            raise ValueError("Gamma-Gamma needs customers with a repeat purchase and positive "
                             f"monetary value; found {int(use.sum())}")
        x, m = x[use], m[use]
        # scale amounts to about 1 so the optimiser sees similar magnitudes; gamma scales back
        scale = float(np.median(m))
        ms = m / scale
        penal = self.penalizer_coef

        def objective(log_params: FloatArray) -> float:
            params = np.exp(log_params)
            return -float(np.mean(_gg_loglik(params, x, ms))) + penal * float(np.sum(params**2))

        res = minimize(objective, np.log([1.0, 2.0, 1.0]), method="L-BFGS-B", tol=self.tol,
                       options={"maxiter": 5000})
        if not res.success:
            res = minimize(objective, res.x, method="Nelder-Mead", tol=self.tol,
                           options={"maxiter": 5000})
        p, q, gamma = np.exp(res.x)
        self.params_ = {"p": float(p), "q": float(q), "gamma": float(gamma * scale)}
        self.population_mean_ = float(p * gamma * scale / (q - 1)) if q > 1 else float("inf")
        self.observed_mean_ = float(m.mean())
        self.n_customers_ = int(x.size)
        return self

    def conditional_expected_spend(self, X: pd.DataFrame) -> FloatArray:
        """E[amount per purchase | x, m] = p (gamma + x m) / (p x + q - 1), currency ([3]_).

        A weighted mean of the population mean and the customer's own mean ``m``; customers without
        a repeat purchase (``x = 0``) get the population mean, or the observed mean of the fitted
        customers when ``q <= 1`` (the population mean is then infinite).

        Parameters
        ----------
        X : summary with ``frequency`` and ``monetary``.

        Returns
        -------
        Float array, one expected amount per purchase (currency) per row.

        Raises
        ------
        ValueError
            When a column is missing or has a missing value.
        """
        check_is_fitted(self, "params_")
        p, q, gamma = (self.params_[k] for k in ("p", "q", "gamma"))
        x, m = _columns(X, ("frequency", "monetary"))
        m = np.where(x > 0, m, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            spend = p * (gamma + x * m) / (p * x + q - 1)
        if q <= 1:
            spend = np.where(x > 0, spend, getattr(self, "observed_mean_", np.nan))
        return np.asarray(spend, dtype=np.float64)
