"""Draw customers from the BG/NBD and Gamma-Gamma generative processes, with known parameters.

The models (:mod:`customer_tiering.models.clv`) are proven against these draws in
``tests/models/test_clv.py`` (parameter recovery, Monte Carlo) and timed on them in
``benchmarks/bench_bgnbd.py``. Time is in days, as in the models.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["simulate_bgnbd", "simulate_gamma_gamma"]

FloatArray = npt.NDArray[np.float64]


def simulate_bgnbd(n_customers: int, r: float, alpha: float, a: float, b: float,
                   T: float | FloatArray, horizon: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Draw customers from the BG/NBD generative process (first purchase at time 0).

    Parameters
    ----------
    n_customers : customers drawn.
    r, alpha, a, b : the model's parameters (time in days).
    T, horizon : days observed (one number, or one per customer), and days simulated after it.
    seed : the random generator's seed.

    Returns
    -------
    The summary columns ``frequency``, ``recency``, ``T`` over (0, T], plus ``future_purchases``
    (purchases in (T, T+horizon]) and ``alive`` (not dropped out by T).
    """
    rng = np.random.default_rng(seed)
    T_arr = np.broadcast_to(np.asarray(T, dtype=np.float64), (n_customers,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    p = rng.beta(a, b, n_customers)
    now = np.zeros(n_customers)
    x = np.zeros(n_customers)
    t_x = np.zeros(n_customers)
    future = np.zeros(n_customers)
    alive_at_T = np.ones(n_customers, dtype=bool)
    active = np.ones(n_customers, dtype=bool)
    end = T_arr + horizon
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0, idx.size) / lam[idx]
        over = now[idx] > end[idx]
        active[idx[over]] = False
        buy = idx[~over]
        in_past = now[buy] <= T_arr[buy]
        x[buy[in_past]] += 1
        t_x[buy[in_past]] = now[buy[in_past]]
        future[buy[~in_past]] += 1
        dies = rng.uniform(size=buy.size) < p[buy]
        gone = buy[dies]
        active[gone] = False
        alive_at_T[gone[now[gone] <= T_arr[gone]]] = False
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": T_arr,
                         "future_purchases": future, "alive": alive_at_T})


def simulate_gamma_gamma(frequency: FloatArray, p: float, q: float, gamma: float,
                         seed: int = 0) -> pd.DataFrame:
    """Draw mean spends from the Gamma-Gamma process for customers with the given ``frequency``.

    Parameters
    ----------
    frequency : repeat purchases per customer.
    p, q, gamma, seed : the model's parameters and the random generator's seed.

    Returns
    -------
    ``frequency``, ``monetary`` (mean of ``frequency`` draws; 0 when frequency is 0) and
    ``true_mean`` (the customer's own expected amount, ``p / nu``).
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype=np.float64)
    nu = rng.gamma(q, 1.0 / gamma, x.size)
    # the sum of x Gamma(p, nu) draws is Gamma(p x, nu)
    total = np.where(x > 0, rng.gamma(np.maximum(p * x, 1e-12), 1.0 / nu), 0.0)
    monetary = np.where(x > 0, total / np.maximum(x, 1), 0.0)
    return pd.DataFrame({"frequency": x, "monetary": monetary, "true_mean": p / nu})
