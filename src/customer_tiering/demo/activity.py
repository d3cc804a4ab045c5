"""What the demo customers do: order lines (with returns) and interactions, by month.

Orders (the ``poisson`` process; ``cycles`` is :mod:`~customer_tiering.demo.cycles`) are Poisson
counts per customer and month: the customer's rate times the month's season
(Chinese New Year dip, year-end stocking) times its growth trend, fading over the 180 days before
churn; each order falls on a uniform day of its month and has ``1 + Poisson`` lines of products
drawn by popularity, with returns and credit notes as negative lines. Once churned a customer never
orders again. Interactions are visits, complaints (more frequent when satisfaction is low) and
yearly surveys; most churners also file a complaint in the months before they leave, often still
open when they stop ordering.

Every function draws from the generator passed in, in a fixed order, so that a block's output
depends only on its seed.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from customer_tiering.demo.cycles import cycle_order_days
from customer_tiering.demo.population import NEVER, Population, Timeline, arrow_ids
from customer_tiering.ingest.contract import CUSTOMER_TYPES

__all__ = ["N_PRODUCTS", "SEASON", "order_lines", "product_catalogue", "simulate_interactions"]

SEASON = np.array([1.05, 0.72, 1.0, 1.0, 0.98, 1.02, 0.95, 0.95, 1.02, 0.98, 1.12, 1.23])
"""Order-rate multiplier by month of year (January first): CNY dip in February, year-end stocking
in November and December."""

N_PRODUCTS = 400
"""Products in the catalogue."""

_CHANNELS = np.array(["direct", "distributor", "e-commerce"])
_TYPE_VISITS_PER_MONTH = np.array([1.0, 0.8, 0.2, 0.4, 0.15, 0.7])  # by customer type
_PRE_CHURN_COMPLAINT_SHARE = 0.6  # churners who complain in the 15-120 days before leaving


def product_catalogue(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Zipf-like popularity and a price per unit (件) for each product.

    Parameters
    ----------
    seed : int
        The generator's seed (the catalogue is the same for every block).

    Returns
    -------
    popularity, unit_price : numpy.ndarray
        Probabilities summing to 1, and prices in CNY, one per product.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 999_999]))
    popularity = 1.0 / np.arange(1, N_PRODUCTS + 1) ** 1.1
    popularity /= popularity.sum()
    unit_price = np.round(np.exp(rng.normal(np.log(260.0), 0.7, N_PRODUCTS)), 2)
    return popularity, unit_price


def order_lines(rng: np.random.Generator, population: Population, timeline: Timeline,
                active: np.ndarray, catalogue: tuple[np.ndarray, np.ndarray], block_index: int,
                process: str = "poisson") -> tuple[pa.Table, pa.Table]:
    """Simulate every order line of the customers, observed and future.

    Parameters
    ----------
    rng : numpy.random.Generator
        The block's generator, after :func:`~customer_tiering.demo.population.draw_population`.
    population : Population
        The customers.
    timeline : Timeline
        The simulated calendar.
    active : numpy.ndarray
        Each customer's active share of each month
        (:func:`~customer_tiering.demo.population.active_share`).
    catalogue : tuple of numpy.ndarray
        :func:`product_catalogue`.
    block_index : int
        The block's number, part of its order ids.
    process : {"poisson", "cycles"}
        Poisson counts per month, or each customer's own reorder cycle
        (:func:`~customer_tiering.demo.cycles.cycle_order_days`).

    Returns
    -------
    transactions, future : pyarrow.Table
        The lines dated up to ``end`` and those after it, in the transactions file's columns,
        sorted by date.
    """
    n = population.n
    ctype, numbers = population.ctype, population.numbers
    first_active, churn_day = population.first_active, population.churn_day
    month_edges, mid_month = timeline.month_edges, timeline.mid_month
    # --- orders: Poisson counts per customer and month, then a uniform day in the month --------
    years_from_start = (mid_month - timeline.start_day) / 365.25
    rate = (
        population.orders_per_month[:, None]
        * SEASON[timeline.month_of_year][None, :]
        * np.exp(population.growth[:, None] * years_from_start[None, :])
    )
    # the slump before churn: ordering fades over the last 180 days before the churn date
    days_to_churn = churn_day[:, None].astype(np.float64) - mid_month[None, :]
    slump = np.clip(0.1 + 0.9 * days_to_churn / 180.0, 0.1, 1.0)
    if process == "cycles":
        order_cust, order_day = cycle_order_days(rng, population, timeline, rate * slump * active)
    else:
        counts = rng.poisson(rate * slump * active)
        cust_idx, month_idx = np.nonzero(counts)
        reps = counts[cust_idx, month_idx]
        order_cust = np.repeat(cust_idx, reps)
        order_month = np.repeat(month_idx, reps)
        lo = np.maximum(month_edges[order_month], first_active[order_cust])
        hi = np.minimum(month_edges[order_month + 1], churn_day[order_cust])
        order_day = lo + (rng.random(order_cust.size) * np.maximum(hi - lo, 1)).astype(np.int64)
    order_number = np.arange(order_cust.size, dtype=np.int64)
    channel = np.where(ctype == CUSTOMER_TYPES.index("distributor"), 0, rng.integers(0, 3, n))

    # --- lines: 1 + Poisson lines per order; products by popularity; quantity x unit price ------
    n_lines = 1 + rng.poisson(population.lines_per_order[order_cust] - 1.0)
    line_order = np.repeat(order_number, n_lines)
    line_cust = order_cust[line_order]
    popularity, unit_price = catalogue
    product = rng.choice(N_PRODUCTS, size=line_order.size, p=popularity)
    wanted = population.line_amount[line_cust] * np.exp(rng.normal(0.0, 0.6, line_order.size))
    quantity = np.maximum(1.0, np.round(wanted / unit_price[product]))
    is_return = rng.random(line_order.size) < 0.025
    quantity = np.where(is_return, -np.maximum(1.0, np.round(quantity * 0.5)), quantity)
    amount = np.round(quantity * unit_price[product], 2)
    line_day = order_day[line_order] + np.where(is_return, rng.integers(3, 40, line_order.size), 0)
    keep = line_day < np.minimum(churn_day[line_cust], timeline.horizon_end)
    # one line per product and direction within an order (an order lists a product once)
    line_key = (line_order * (N_PRODUCTS + 1) + product) * 2 + is_return
    first_of_key = np.zeros(line_key.size, dtype=bool)
    first_of_key[np.unique(line_key, return_index=True)[1]] = True
    keep &= first_of_key
    line_order, line_cust, product = line_order[keep], line_cust[keep], product[keep]
    quantity, amount, line_day = quantity[keep], amount[keep], line_day[keep]

    order_ids = arrow_ids(f"O{block_index:04d}-", line_order, 8)
    lines = pa.table(
        {
            "customer_id": arrow_ids("C", numbers[line_cust], 7),
            "order_date": pa.array(line_day.astype("int32"), pa.int32()).cast(pa.date32()),
            "amount": pa.array(amount, pa.float64()),
            "quantity": pa.array(quantity, pa.float64()),
            "product_id": arrow_ids("P", product + 1, 4),
            "channel": pa.array(_CHANNELS[channel[line_cust]]),
            "order_id": order_ids,
        }
    )
    sort = np.lexsort((line_order, line_day))
    lines = lines.take(pa.array(sort))
    observed = pa.array(np.sort(line_day) <= timeline.end_day)
    return lines.filter(observed), lines.filter(pc.invert(observed))


def simulate_interactions(rng: np.random.Generator, population: Population, timeline: Timeline,
                          active: np.ndarray) -> pa.Table:
    """Simulate the visits, complaints and surveys of the observed history.

    Parameters
    ----------
    rng : numpy.random.Generator
        The block's generator, after :func:`order_lines`.
    population : Population
        The customers.
    timeline : Timeline
        The simulated calendar.
    active : numpy.ndarray
        Each customer's active share of each month.

    Returns
    -------
    pyarrow.Table
        The interactions file's columns, sorted by ``opened_at``; a complaint still open at the
        end of the data has no ``closed_at``, only surveys have a ``score``.
    """
    n = population.n
    numbers, size, satisfaction = population.numbers, population.size, population.satisfaction
    first_active, churn_day = population.first_active, population.churn_day
    month_edges, end_day = timeline.month_edges, timeline.end_day
    observed_months = int(np.searchsorted(month_edges, end_day + 1) - 1)
    obs_active = active[:, :observed_months]
    visit_counts = rng.poisson(_TYPE_VISITS_PER_MONTH[population.ctype][:, None]
                               * size[:, None] ** 0.3 * obs_active)
    complaint_counts = rng.poisson(0.05 * np.exp(-0.8 * satisfaction)[:, None] * size[:, None]
                                   ** 0.2 * obs_active)
    survey_counts = rng.poisson(np.full((n, observed_months), 1 / 12) * obs_active)
    frames = []
    for kind, cnt in (("visit", visit_counts), ("complaint", complaint_counts),
                      ("survey", survey_counts)):
        ci, mi = np.nonzero(cnt)
        r = cnt[ci, mi]
        ci, mi = np.repeat(ci, r), np.repeat(mi, r)
        lo = np.maximum(month_edges[mi], first_active[ci])
        hi = np.minimum(month_edges[mi + 1], np.minimum(churn_day[ci], end_day + 1))
        day = lo + (rng.random(ci.size) * np.maximum(hi - lo, 1)).astype(np.int64)
        opened = day * 86_400 + rng.integers(8 * 3600, 18 * 3600, ci.size)
        if kind == "complaint":
            close_after = rng.exponential(6.0 * 86_400 * np.exp(-0.3 * satisfaction[ci]))
            closed = (opened + close_after).astype(np.int64)
            closed_valid = closed <= (end_day + 1) * 86_400  # still open at the end of the data
        else:
            closed = opened
            closed_valid = np.zeros(ci.size, dtype=bool)
        score = (
            np.clip(np.round(7.0 + 1.6 * satisfaction[ci] + rng.normal(0, 1.2, ci.size)), 0, 10)
            if kind == "survey"
            else np.full(ci.size, np.nan)
        )
        frames.append(
            pa.table(
                {
                    "customer_id": arrow_ids("C", numbers[ci], 7),
                    "interaction_type": pa.array(np.full(ci.size, kind)),
                    "opened_at": pa.array(opened * 1_000_000, pa.timestamp("us")),
                    "closed_at": pa.array(closed * 1_000_000, pa.timestamp("us"),
                                          mask=~closed_valid),
                    "score": pa.array(score, pa.float64(), mask=np.isnan(score)),
                }
            )
        )
    # Dissatisfied customers complain before they leave: most churners file a complaint in the
    # months before their churn date, often still unresolved when they stop ordering. This is the
    # observable precursor a model can learn and a purchase-rate model (BG/NBD) cannot see.
    churner = (churn_day < NEVER) & (rng.random(n) < _PRE_CHURN_COMPLAINT_SHARE)
    lead_days = rng.integers(15, 120, n)
    complaint_day = churn_day - lead_days
    seen = churner & (complaint_day >= first_active) & (complaint_day <= end_day)
    ci = np.flatnonzero(seen)
    opened = complaint_day[ci] * 86_400 + rng.integers(8 * 3600, 18 * 3600, ci.size)
    closed = (opened + rng.exponential(25.0 * 86_400, ci.size)).astype(np.int64)
    closed_valid = (rng.random(ci.size) < 0.5) & (closed <= (end_day + 1) * 86_400)
    frames.append(pa.table({
        "customer_id": arrow_ids("C", numbers[ci], 7),
        "interaction_type": pa.array(np.full(ci.size, "complaint")),
        "opened_at": pa.array(opened * 1_000_000, pa.timestamp("us")),
        "closed_at": pa.array(closed * 1_000_000, pa.timestamp("us"), mask=~closed_valid),
        "score": pa.array(np.full(ci.size, np.nan), pa.float64(), mask=np.ones(ci.size, bool)),
    }))
    interactions = pa.concat_tables(frames)
    return interactions.take(pc.sort_indices(interactions, [("opened_at", "ascending")]))
