"""The demo book's customers: who they are (latent and visible attributes) and the hidden truth.

Per customer: a customer type with its own order rate, lines per order and basket size; a
heavy-tailed latent *size* (lognormal), so that about 80% of revenue comes from about 20% of
customers (二八法则); a latent *satisfaction*; a per-customer growth or decline trend; a first
contract date (most customers predate the data, the others arrive during it); and a monthly churn
hazard driven by things a model can observe (trend, satisfaction -> complaints and loyalty, size,
type, region). The customers file holds what a company would know (type, region, the reps'
judgements as noisy readings of the latent values); the truth table holds the latent values and
the churn date.

Every function draws from the generator passed in, in a fixed order, so that a block's output
depends only on its seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from customer_tiering.ingest.contract import CUSTOMER_TYPES

__all__ = [
    "NEVER",
    "Population",
    "Timeline",
    "active_share",
    "arrow_ids",
    "customer_tables",
    "day_number",
    "draw_population",
]

_EPOCH = date(1970, 1, 1)
NEVER = 10**7
"""Day number standing for "does not churn within the simulated time"."""

# Per type: share of customers, orders per month (median customer), lines per order, median line
# amount (CNY), baseline monthly churn log-odds.
_TYPE_SHARE = np.array([0.10, 0.14, 0.38, 0.10, 0.19, 0.09])
_TYPE_ORDERS_PER_MONTH = np.array([2.2, 1.8, 0.9, 1.3, 0.55, 2.6])
_TYPE_LINES_PER_ORDER = np.array([2.6, 2.2, 1.6, 1.9, 1.4, 3.0])
_TYPE_LINE_AMOUNT = np.array([3_000.0, 2_200.0, 700.0, 1_500.0, 450.0, 4_500.0])
_TYPE_CHURN_LOGIT = np.array([-6.2, -5.6, -4.9, -5.3, -4.7, -5.5])
_TYPE_NAME_SUFFIX = ("第一人民医院", "连锁药房", "大众药店", "大药房", "社区诊所", "医药有限公司")
assert len(_TYPE_SHARE) == len(CUSTOMER_TYPES)

_REGIONS = np.array(["华东", "华北", "华南", "华中", "西南", "西北", "东北"])
_REGION_SHARE = np.array([0.28, 0.18, 0.17, 0.13, 0.12, 0.06, 0.06])
_REGION_CHURN_SHIFT = np.array([0.0, 0.05, -0.05, 0.1, 0.15, 0.25, 0.3])
_CITIES = ("上海", "杭州", "南京", "北京", "天津", "广州", "深圳", "武汉", "长沙", "成都",
           "重庆", "西安", "兰州", "沈阳", "哈尔滨", "苏州", "宁波", "济南", "郑州", "昆明")


def day_number(d: date) -> int:
    """Days since 1970-01-01 (Arrow's ``date32``).

    Parameters
    ----------
    d : datetime.date
        The day.

    Returns
    -------
    int
        Its day number.
    """
    return (d - _EPOCH).days


def _month_starts(start: date, months: int) -> np.ndarray:
    """Day numbers of the first day of each month, plus one past the last."""
    out = []
    y, m = start.year, start.month
    for _ in range(months + 1):
        out.append(day_number(date(y, m, 1)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return np.array(out, dtype=np.int64)


def arrow_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Identifiers like ``C0000042``, built in Arrow (fast for tens of millions of rows).

    Parameters
    ----------
    prefix : str
        Text before the number.
    numbers : numpy.ndarray of int
        The numbers.
    width : int
        Digits, zero-padded on the left.

    Returns
    -------
    pyarrow.Array
        One string per number.
    """
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


@dataclass(frozen=True)
class Timeline:
    """The simulated calendar: the observed history ``[start, end]`` and ``future_days`` after it.

    Day numbers are days since 1970-01-01. ``month_edges`` holds the first day of every month
    from ``start``'s month to the month holding ``end + future_days``, plus one past the last.
    """

    start: date
    end: date
    future_days: int
    start_day: int
    end_day: int
    horizon_end: int
    month_edges: np.ndarray
    month_of_year: np.ndarray

    @classmethod
    def of(cls, start: date, end: date, future_days: int) -> Timeline:
        """The calendar of a history from ``start`` to ``end`` and ``future_days`` after it.

        Parameters
        ----------
        start, end : datetime.date
            The observed history, both included.
        future_days : int
            Days simulated after ``end`` (the hidden future).

        Returns
        -------
        Timeline
        """
        future_end = end + timedelta(days=future_days)
        months = (future_end.year - start.year) * 12 + future_end.month - start.month + 1
        return cls(start, end, future_days, day_number(start), day_number(end),
                   day_number(end) + future_days, _month_starts(start, months),
                   (np.arange(months) + start.month - 1) % 12)

    @property
    def mid_month(self) -> np.ndarray:
        """The middle of each month, as a fractional day number."""
        edges = self.month_edges
        return np.asarray((edges[:-1] + edges[1:]) / 2.0)


@dataclass(frozen=True)
class Population:
    """One block of simulated customers: arrays with one value per customer.

    ``numbers`` are the customers' numbers (``C`` + seven digits is their id); ``ctype`` and
    ``region`` index :data:`~customer_tiering.ingest.contract.CUSTOMER_TYPES` and the regions;
    ``size``, ``satisfaction`` and ``growth`` (log-growth of the order rate per year) are latent;
    ``contract_day``, ``first_active`` (the later of contract and ``start``) and ``churn_day``
    (:data:`NEVER` when the customer does not churn within the simulated time) are day numbers;
    ``hazard`` is the monthly churn probability.
    """

    numbers: np.ndarray
    ctype: np.ndarray
    region: np.ndarray
    size: np.ndarray
    satisfaction: np.ndarray
    growth: np.ndarray
    existing: np.ndarray
    contract_day: np.ndarray
    hazard: np.ndarray
    first_active: np.ndarray
    churn_day: np.ndarray
    orders_per_month: np.ndarray
    line_amount: np.ndarray
    lines_per_order: np.ndarray

    @property
    def n(self) -> int:
        """Customers in the block."""
        return len(self.numbers)


def draw_population(rng: np.random.Generator, numbers: np.ndarray, timeline: Timeline
                    ) -> Population:
    """Draw the latent and visible attributes and the churn date of the customers ``numbers``.

    Parameters
    ----------
    rng : numpy.random.Generator
        The block's generator (the first draws made from it).
    numbers : numpy.ndarray of int
        The customers' numbers.
    timeline : Timeline
        The simulated calendar.

    Returns
    -------
    Population
    """
    n = len(numbers)
    start_day, end_day = timeline.start_day, timeline.end_day
    ctype = rng.choice(len(CUSTOMER_TYPES), size=n, p=_TYPE_SHARE)
    region = rng.choice(len(_REGIONS), size=n, p=_REGION_SHARE)
    size = np.exp(rng.normal(0.0, 0.9, n))  # heavy tail of the customer's scale
    satisfaction = rng.normal(0.0, 1.0, n)
    growth = rng.normal(0.04, 0.22, n)  # log-growth of the order rate per year
    # tenure: 70% were customers before the data starts, the others arrive during it
    existing = rng.random(n) < 0.7
    contract_day = np.where(
        existing,
        start_day - rng.integers(30, 365 * 8, n),
        start_day + rng.integers(0, max(end_day - start_day - 30, 1), n),
    )
    # monthly churn hazard: observable drivers (trend, satisfaction -> complaints and loyalty,
    # size, type, region); a new customer is riskier in its first year.
    churn_logit = (
        _TYPE_CHURN_LOGIT[ctype]
        - 0.75 * satisfaction
        - 2.2 * growth
        - 0.35 * np.log(size)
        + _REGION_CHURN_SHIFT[region]
        + np.where(existing, 0.0, 0.4)
    )
    hazard = 1.0 / (1.0 + np.exp(-churn_logit))
    # memoryless: for a customer older than the data, the time to churn counts from `start`
    first_active = np.maximum(contract_day, start_day)
    churn_day = (first_active + 20 + rng.exponential(30.44 / hazard)).astype(np.int64)
    churn_day = np.where(churn_day < timeline.horizon_end, churn_day, NEVER)
    return Population(
        numbers=numbers, ctype=ctype, region=region, size=size, satisfaction=satisfaction,
        growth=growth, existing=existing, contract_day=contract_day, hazard=hazard,
        first_active=first_active, churn_day=churn_day,
        orders_per_month=_TYPE_ORDERS_PER_MONTH[ctype] * size**0.55,
        line_amount=_TYPE_LINE_AMOUNT[ctype] * size**0.45,
        lines_per_order=_TYPE_LINES_PER_ORDER[ctype],
    )


def active_share(population: Population, timeline: Timeline) -> np.ndarray:
    """The share of each month that each customer is a customer (after its start, before churn).

    Parameters
    ----------
    population : Population
        The customers.
    timeline : Timeline
        The simulated calendar.

    Returns
    -------
    numpy.ndarray
        ``(customers, months)`` shares in ``[0, 1]``.
    """
    edges = timeline.month_edges
    active_lo = np.clip((population.first_active[:, None] - edges[None, :-1]), 0, None)
    active_hi = np.clip((edges[None, 1:] - population.churn_day[:, None]), 0, None)
    month_len = (edges[1:] - edges[:-1])[None, :]
    return np.asarray(np.clip(1.0 - (active_lo + active_hi) / month_len, 0.0, 1.0))


def customer_tables(rng: np.random.Generator, population: Population, timeline: Timeline
                    ) -> tuple[pa.Table, pa.Table]:
    """The customers file and the truth table of the customers whose contract starts by ``end``.

    Parameters
    ----------
    rng : numpy.random.Generator
        The block's generator (the reps' judgements, names and missing values are drawn here).
    population : Population
        The customers.
    timeline : Timeline
        The simulated calendar.

    Returns
    -------
    customers, truth : pyarrow.Table
        The customers file (the data contract's columns) and the latent values with the churn date.
    """
    n = population.n
    ctype, size, numbers = population.ctype, population.size, population.numbers
    satisfaction, growth = population.satisfaction, population.growth
    visible = population.contract_day <= timeline.end_day
    is_dist = ctype == CUSTOMER_TYPES.index("distributor")
    coverage = np.clip(np.round(5 + 1.6 * np.log(size) + np.where(is_dist, 1.0, 0.0)
                                + rng.normal(0, 1.3, n)), 0, 10)
    loyalty = np.clip(np.round(5.5 + 1.8 * satisfaction + rng.normal(0, 1.3, n)), 0, 10)
    prospects = np.clip(np.round(5 + 6 * growth + 0.6 * np.log(size) + rng.normal(0, 1.4, n)),
                        0, 10)
    nps = np.clip(np.round(15 + 35 * satisfaction + rng.normal(0, 20, n)), -100, 100)

    def masked(values: np.ndarray, share_missing: float) -> pa.Array:
        return pa.array(values, pa.float64(), mask=rng.random(n) < share_missing)

    city = rng.integers(0, len(_CITIES), n)
    names = np.char.add(np.array(_CITIES, dtype=object)[city].astype(str),
                        np.array(_TYPE_NAME_SUFFIX, dtype=object)[ctype].astype(str))
    names = np.char.add(names, np.char.add("(", np.char.add(numbers.astype(str), ")")))
    customer_ids = arrow_ids("C", numbers, 7)
    customers = pa.table(
        {
            "customer_id": customer_ids,
            "name": pa.array(names),
            "customer_type": pa.array(np.array(CUSTOMER_TYPES)[ctype]),
            "region": pa.array(_REGIONS[population.region]),
            "first_contract_date": pa.array(population.contract_day.astype("int32"),
                                            pa.int32()).cast(pa.date32()),
            "channel_coverage": masked(coverage, 0.08),
            "loyalty": masked(loyalty, 0.05),
            "prospects": masked(prospects, 0.05),
            "nps": masked(nps, 0.45),
        }
    ).filter(pa.array(visible))
    churn_date = np.where(population.churn_day == NEVER, -1, population.churn_day)
    truth = pa.table(
        {
            "customer_id": customer_ids,
            "size": size,
            "satisfaction": satisfaction,
            "growth_per_year": growth,
            "monthly_churn_hazard": population.hazard,
            "churn_date": pa.array(churn_date.astype("int32"), pa.int32(),
                                   mask=churn_date < 0).cast(pa.date32()),
            "expected_orders_per_month": population.orders_per_month,
            "expected_line_amount": population.line_amount,
        }
    ).filter(pa.array(visible))
    return customers, truth
