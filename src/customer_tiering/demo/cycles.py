"""The ``cycles`` process: customers who reorder on their own cycle and leave after events.

Hospitals, chains and pharmacies restock on a rhythm (a ward's monthly order, a pharmacy's
fortnightly top-up), not as a Poisson process: the gaps between one customer's orders scatter
around its own cycle, gamma-distributed, tighter for the big institutional buyers. They leave for
reasons a sales team can see coming: a competitor wins the next tender (more likely when the
customer is unhappy or its business with us is shrinking), or their orders fade with a falling
trend. This is the B2B case the product is built for; the ``poisson`` process (BG/NBD's own
model, :mod:`~customer_tiering.demo.activity`) stays for comparison.

Order times are drawn in *operational time*: each customer's gaps are Gamma(k, 1/k) draws (mean
one expected order, coefficient of variation 1/sqrt(k)), mapped to the calendar through the
customer's cumulative order intensity (its rate times the season, its growth trend and the slump
before churn), so seasonality and trends shape a regular rhythm instead of replacing it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from customer_tiering.demo.population import NEVER, Population, Timeline

__all__ = ["TYPE_REGULARITY", "cycle_order_days", "event_churn"]

TYPE_REGULARITY = np.array([9.0, 7.0, 2.5, 5.0, 2.0, 6.0])
"""Gamma shape k of the gaps between orders, by customer type (hospital, chain pharmacy, single
pharmacy, clinic, community clinic, distributor): the coefficient of variation is 1/sqrt(k)."""

_TENDER_DAYS = 420.0  # mean days between competitive tenders (a competitor's offer)
_SWITCH_LOGIT = np.array([-2.6, -2.2, -1.9, -2.1, -1.8, -2.0])  # by type, at a tender
_TENDERS = 6  # tenders drawn per customer (enough for the simulated years)
_FADE_TO = 0.3  # a declining customer leaves when its order rate falls to this share


def event_churn(rng: np.random.Generator, population: Population, timeline: Timeline
                ) -> Population:
    """Redraw the churn date from events: lost tenders and a fading trend.

    At each tender (exponential gaps, :data:`_TENDER_DAYS` on average) a customer switches with a
    probability that rises with dissatisfaction, a falling trend and small size. A customer whose
    order rate falls (negative growth) leaves when it reaches :data:`_FADE_TO` of its starting
    rate. The earlier event wins.

    Parameters
    ----------
    rng
        The block's generator, after the population was drawn.
    population
        The customers (their ``churn_day`` and ``hazard`` are replaced).
    timeline
        The simulated calendar.

    Returns
    -------
    Population
        With the event-driven ``churn_day`` (:data:`NEVER` beyond the simulated time) and, as
        ``hazard``, the monthly probability of losing a tender.
    """
    n = population.n
    switch_logit = (_SWITCH_LOGIT[population.ctype] - 1.1 * population.satisfaction
                    - 3.0 * population.growth - 0.3 * np.log(population.size))
    p_switch = 1.0 / (1.0 + np.exp(-switch_logit))
    tender_day = population.first_active[:, None] + np.cumsum(
        rng.exponential(_TENDER_DAYS, (n, _TENDERS)), axis=1)
    switches = rng.random((n, _TENDERS)) < p_switch[:, None]
    first_switch = np.where(switches.any(axis=1),
                            tender_day[np.arange(n), np.argmax(switches, axis=1)], np.inf)
    declining = population.growth < -0.05
    fade_years = np.log(_FADE_TO) / np.where(declining, population.growth, -1.0)
    fade_day = np.where(declining, timeline.start_day + 365.25 * fade_years, np.inf)
    churn = np.minimum(first_switch, fade_day)
    churn = np.maximum(churn, population.first_active + 20)
    churn_day = np.where(churn < timeline.horizon_end, churn, NEVER).astype(np.int64)
    hazard = p_switch * 30.44 / _TENDER_DAYS
    return replace(population, churn_day=churn_day, hazard=hazard)


def cycle_order_days(rng: np.random.Generator, population: Population, timeline: Timeline,
                     rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order days of each customer on its own cycle, shaped by its monthly order rate.

    Parameters
    ----------
    rng
        The block's generator.
    population
        The customers (``ctype`` sets the regularity, ``first_active`` and ``churn_day`` bound the
        orders).
    timeline
        The simulated calendar.
    rate
        ``(customers, months)`` expected orders in each month (season, trend, slump and the active
        share of the month included).

    Returns
    -------
    order_customer, order_day : numpy.ndarray
        The customer index and day number of every order, grouped by customer in time order.
    """
    n, months = rate.shape
    edges = timeline.month_edges.astype(np.float64)
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(rate, axis=1)], axis=1)
    total = cumulative[:, -1]
    k = TYPE_REGULARITY[population.ctype]
    needed = np.ceil(total + 5.0 * np.sqrt(total) + 5.0).astype(np.int64)
    cust = np.repeat(np.arange(n), needed)
    gaps = np.asarray(rng.gamma(k[cust], 1.0 / k[cust]), dtype=float)
    phase = np.asarray(rng.random(n), dtype=float)  # where in its first cycle a customer starts
    starts = np.concatenate([[0], np.cumsum(needed)[:-1]])
    running = np.cumsum(gaps)
    before = np.concatenate([[0.0], running])[starts]
    first_gap = gaps[starts]
    u = running - before[cust] - first_gap[cust] * phase[cust]
    keep = (u >= 0) & (u < total[cust])
    cust, u = cust[keep], u[keep]
    # operational time -> calendar: the month whose cumulative intensity holds u, then linearly
    big = float(total.max() + 1.0)
    flat = (cumulative + big * np.arange(n)[:, None]).ravel()
    index = np.searchsorted(flat, u + big * cust, side="right") - 1
    month = index % (months + 1)
    month = np.minimum(month, months - 1)
    within = (u - cumulative[cust, month]) / np.maximum(rate[cust, month], 1e-12)
    day = edges[month] + np.clip(within, 0.0, 1.0) * (edges[month + 1] - edges[month])
    day = np.floor(day).astype(np.int64)
    day = np.maximum(day, population.first_active[cust])
    inside = day < np.minimum(population.churn_day[cust], timeline.horizon_end)
    return cust[inside], day[inside]
