"""Realistic demo data with hidden truth: a pharma B2B book of business.

What is simulated (per customer, vectorised per block of customers, streamed to Parquet):

* customer types with their own order rates, lines per order and basket sizes (hospitals and
  distributors order often and big, clinics and single pharmacies rarely and small);
* a heavy-tailed latent *size* (lognormal), so that about 80% of revenue comes from about 20% of
  customers (二八法则);
* seasonality by month (Chinese New Year dip, year-end stocking), a per-customer growth or decline
  trend, new customers arriving over the years;
* a latent *satisfaction*; complaints are more frequent when it is low, and the rep judgements
  (loyalty, prospects, channel coverage, NPS) are noisy readings of the latent variables;
* a churn hazard that depends on things a model can observe (trend, satisfaction -> complaints and
  loyalty, size, type), preceded by a slump in ordering and, for most churners, a complaint
  (often unresolved) in the months before churn; once churned a customer never orders again;
* returns and credit notes as negative lines.

The truth is written apart from the data: ``truth/customers_truth.parquet`` (latent values and the
churn date) and ``truth/future_transactions.parquet`` (what happens in the ``future_days`` after
``end``), so that any label of a horizon up to ``future_days`` at ``as_of = end`` can be computed
and models scored against it.

Determinism: customers are simulated in fixed blocks of :data:`BLOCK_CUSTOMERS`, each with its own
child of ``numpy.random.SeedSequence(seed)``; so the output depends only on the seed and the
arguments, not on how many blocks are written at once.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from customer_tiering.ingest.contract import CUSTOMER_TYPES

__all__ = ["BLOCK_CUSTOMERS", "GENERATOR_VERSION", "DemoDataSummary", "generate_demo_data"]

GENERATOR_VERSION = "2"
BLOCK_CUSTOMERS = 10_000
DEFAULT_START = date(2023, 1, 1)
DEFAULT_END = date(2025, 12, 31)
_EPOCH = date(1970, 1, 1)

# Per type: share of customers, orders per month (median customer), lines per order, median line
# amount (CNY), baseline monthly churn log-odds, visits per month.
_TYPE_SHARE = np.array([0.10, 0.14, 0.38, 0.10, 0.19, 0.09])
_TYPE_ORDERS_PER_MONTH = np.array([2.2, 1.8, 0.9, 1.3, 0.55, 2.6])
_TYPE_LINES_PER_ORDER = np.array([2.6, 2.2, 1.6, 1.9, 1.4, 3.0])
_TYPE_LINE_AMOUNT = np.array([3_000.0, 2_200.0, 700.0, 1_500.0, 450.0, 4_500.0])
_TYPE_CHURN_LOGIT = np.array([-6.2, -5.6, -4.9, -5.3, -4.7, -5.5])
_TYPE_VISITS_PER_MONTH = np.array([1.0, 0.8, 0.2, 0.4, 0.15, 0.7])
_TYPE_NAME_SUFFIX = ("第一人民医院", "连锁药房", "大众药店", "大药房", "社区诊所", "医药有限公司")
assert len(_TYPE_SHARE) == len(CUSTOMER_TYPES)

_REGIONS = np.array(["华东", "华北", "华南", "华中", "西南", "西北", "东北"])
_REGION_SHARE = np.array([0.28, 0.18, 0.17, 0.13, 0.12, 0.06, 0.06])
_REGION_CHURN_SHIFT = np.array([0.0, 0.05, -0.05, 0.1, 0.15, 0.25, 0.3])
_CITIES = ("上海", "杭州", "南京", "北京", "天津", "广州", "深圳", "武汉", "长沙", "成都",
           "重庆", "西安", "兰州", "沈阳", "哈尔滨", "苏州", "宁波", "济南", "郑州", "昆明")
_CHANNELS = np.array(["direct", "distributor", "e-commerce"])

# Month-of-year multipliers: CNY dip in February, year-end stocking in Nov/Dec.
_SEASON = np.array([1.05, 0.72, 1.0, 1.0, 0.98, 1.02, 0.95, 0.95, 1.02, 0.98, 1.12, 1.23])

_N_PRODUCTS = 400
_PRE_CHURN_COMPLAINT_SHARE = 0.6  # churners who complain in the 15-120 days before leaving
_NEVER = 10**7  # day number standing for "does not churn within the simulated time"

ProgressCallback = Callable[[int, int], None]


@dataclass
class DemoDataSummary:
    """What was generated: counts, dates and where the files are."""

    out_dir: str
    seed: int
    customers: int
    transactions: int
    future_transactions: int
    interactions: int
    start: str
    end: str
    future_days: int
    generator_version: str = GENERATOR_VERSION
    files: dict[str, str] = field(default_factory=dict)


def _days(d: date) -> int:
    return (d - _EPOCH).days


def _month_starts(start: date, months: int) -> np.ndarray:
    """Day numbers (since epoch) of the first day of each month, plus one past the last."""
    out = []
    y, m = start.year, start.month
    for _ in range(months + 1):
        out.append(_days(date(y, m, 1)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return np.array(out, dtype=np.int64)


def _product_catalogue(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Zipf-like popularity and a price per unit (件) for each product."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 999_999]))
    popularity = 1.0 / np.arange(1, _N_PRODUCTS + 1) ** 1.1
    popularity /= popularity.sum()
    unit_price = np.round(np.exp(rng.normal(np.log(260.0), 0.7, _N_PRODUCTS)), 2)
    return popularity, unit_price


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Arrow strings like C0000042 built in Arrow (fast for tens of millions of rows)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


@dataclass
class _Block:
    customers: pa.Table
    truth: pa.Table
    transactions: pa.Table
    future_transactions: pa.Table
    interactions: pa.Table


def _simulate_block(
    block_index: int,
    n: int,
    seq: np.random.SeedSequence,
    start: date,
    end: date,
    future_days: int,
    catalogue: tuple[np.ndarray, np.ndarray],
) -> _Block:
    """Simulate ``n`` customers (numbers ``block_index * BLOCK_CUSTOMERS + 1 ...``)."""
    rng = np.random.default_rng(seq)
    first_number = block_index * BLOCK_CUSTOMERS + 1
    numbers = np.arange(first_number, first_number + n)
    start_day, end_day = _days(start), _days(end)
    horizon_end = end_day + future_days
    months = (
        (end + timedelta(days=future_days)).year - start.year
    ) * 12 + (end + timedelta(days=future_days)).month - start.month + 1
    month_edges = _month_starts(start, months)
    month_of_year = (np.arange(months) + start.month - 1) % 12

    # --- latent customer attributes -----------------------------------------------------------
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
    churn_day = np.where(churn_day < horizon_end, churn_day, _NEVER)

    orders_per_month = _TYPE_ORDERS_PER_MONTH[ctype] * size**0.55
    line_amount = _TYPE_LINE_AMOUNT[ctype] * size**0.45
    lines_per_order = _TYPE_LINES_PER_ORDER[ctype]

    # --- orders: Poisson counts per customer and month, then a uniform day in the month --------
    mid_month = (month_edges[:-1] + month_edges[1:]) / 2.0
    years_from_start = (mid_month - start_day) / 365.25
    rate = (
        orders_per_month[:, None]
        * _SEASON[month_of_year][None, :]
        * np.exp(growth[:, None] * years_from_start[None, :])
    )
    # the slump before churn: ordering fades over the last 180 days before the churn date
    days_to_churn = churn_day[:, None].astype(np.float64) - mid_month[None, :]
    slump = np.clip(0.1 + 0.9 * days_to_churn / 180.0, 0.1, 1.0)
    active_lo = np.clip((first_active[:, None] - month_edges[None, :-1]), 0, None)
    active_hi = np.clip((month_edges[None, 1:] - churn_day[:, None]), 0, None)
    month_len = (month_edges[1:] - month_edges[:-1])[None, :]
    active_share = np.clip(1.0 - (active_lo + active_hi) / month_len, 0.0, 1.0)
    counts = rng.poisson(rate * slump * active_share)
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
    n_lines = 1 + rng.poisson(lines_per_order[order_cust] - 1.0)
    line_order = np.repeat(order_number, n_lines)
    line_cust = order_cust[line_order]
    popularity, unit_price = catalogue
    product = rng.choice(_N_PRODUCTS, size=line_order.size, p=popularity)
    wanted = line_amount[line_cust] * np.exp(rng.normal(0.0, 0.6, line_order.size))
    quantity = np.maximum(1.0, np.round(wanted / unit_price[product]))
    is_return = rng.random(line_order.size) < 0.025
    quantity = np.where(is_return, -np.maximum(1.0, np.round(quantity * 0.5)), quantity)
    amount = np.round(quantity * unit_price[product], 2)
    line_day = order_day[line_order] + np.where(is_return, rng.integers(3, 40, line_order.size), 0)
    keep = line_day < np.minimum(churn_day[line_cust], horizon_end)
    # one line per product and direction within an order (an order lists a product once)
    line_key = (line_order * (_N_PRODUCTS + 1) + product) * 2 + is_return
    first_of_key = np.zeros(line_key.size, dtype=bool)
    first_of_key[np.unique(line_key, return_index=True)[1]] = True
    keep &= first_of_key
    line_order, line_cust, product = line_order[keep], line_cust[keep], product[keep]
    quantity, amount, line_day = quantity[keep], amount[keep], line_day[keep]

    order_ids = _ids(f"O{block_index:04d}-", line_order, 8)
    lines = pa.table(
        {
            "customer_id": _ids("C", numbers[line_cust], 7),
            "order_date": pa.array(line_day.astype("int32"), pa.int32()).cast(pa.date32()),
            "amount": pa.array(amount, pa.float64()),
            "quantity": pa.array(quantity, pa.float64()),
            "product_id": _ids("P", product + 1, 4),
            "channel": pa.array(_CHANNELS[channel[line_cust]]),
            "order_id": order_ids,
        }
    )
    sort = np.lexsort((line_order, line_day))
    lines = lines.take(pa.array(sort))
    observed = pa.array(np.sort(line_day) <= end_day)
    transactions = lines.filter(observed)
    future = lines.filter(pc.invert(observed))

    # --- interactions: visits, complaints (more when dissatisfied), yearly surveys --------------
    observed_months = int(np.searchsorted(month_edges, end_day + 1) - 1)
    obs_active = active_share[:, :observed_months]
    visit_counts = rng.poisson(_TYPE_VISITS_PER_MONTH[ctype][:, None] * size[:, None] ** 0.3
                               * obs_active)
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
                    "customer_id": _ids("C", numbers[ci], 7),
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
    churner = (churn_day < _NEVER) & (rng.random(n) < _PRE_CHURN_COMPLAINT_SHARE)
    lead_days = rng.integers(15, 120, n)
    complaint_day = churn_day - lead_days
    seen = churner & (complaint_day >= first_active) & (complaint_day <= end_day)
    ci = np.flatnonzero(seen)
    opened = complaint_day[ci] * 86_400 + rng.integers(8 * 3600, 18 * 3600, ci.size)
    closed = (opened + rng.exponential(25.0 * 86_400, ci.size)).astype(np.int64)
    closed_valid = (rng.random(ci.size) < 0.5) & (closed <= (end_day + 1) * 86_400)
    frames.append(pa.table({
        "customer_id": _ids("C", numbers[ci], 7),
        "interaction_type": pa.array(np.full(ci.size, "complaint")),
        "opened_at": pa.array(opened * 1_000_000, pa.timestamp("us")),
        "closed_at": pa.array(closed * 1_000_000, pa.timestamp("us"), mask=~closed_valid),
        "score": pa.array(np.full(ci.size, np.nan), pa.float64(), mask=np.ones(ci.size, bool)),
    }))
    interactions = pa.concat_tables(frames)
    interactions = interactions.take(pc.sort_indices(interactions, [("opened_at", "ascending")]))

    # --- customers file and truth ---------------------------------------------------------------
    visible = contract_day <= end_day
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
    customer_ids = _ids("C", numbers, 7)
    customers = pa.table(
        {
            "customer_id": customer_ids,
            "name": pa.array(names),
            "customer_type": pa.array(np.array(CUSTOMER_TYPES)[ctype]),
            "region": pa.array(_REGIONS[region]),
            "first_contract_date": pa.array(contract_day.astype("int32"), pa.int32()).cast(
                pa.date32()
            ),
            "channel_coverage": masked(coverage, 0.08),
            "loyalty": masked(loyalty, 0.05),
            "prospects": masked(prospects, 0.05),
            "nps": masked(nps, 0.45),
        }
    ).filter(pa.array(visible))
    churn_date = np.where(churn_day == _NEVER, -1, churn_day)
    truth = pa.table(
        {
            "customer_id": customer_ids,
            "size": size,
            "satisfaction": satisfaction,
            "growth_per_year": growth,
            "monthly_churn_hazard": hazard,
            "churn_date": pa.array(churn_date.astype("int32"), pa.int32(),
                                   mask=churn_date < 0).cast(pa.date32()),
            "expected_orders_per_month": orders_per_month,
            "expected_line_amount": line_amount,
        }
    ).filter(pa.array(visible))
    return _Block(customers, truth, transactions, future, interactions)


def _writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    return pq.ParquetWriter(path, schema, compression="zstd")


def generate_demo_data(
    out_dir: str | os.PathLike[str],
    *,
    customers: int = 2_000,
    seed: int = 42,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    future_days: int = 365,
    blocks_per_chunk: int = 5,
    progress: ProgressCallback | None = None,
) -> DemoDataSummary:
    """Generate a demo book of business and its hidden truth, streamed to Parquet.

    Parameters
    ----------
    out_dir : folder to write; it is replaced as a whole only when generation finished (files
        are written into a sibling temporary folder first), so a crash leaves no half data set.
    customers : number of customers simulated (those whose contract starts after ``end`` are
        left out of the files, so the files hold slightly fewer).
    seed : the only source of randomness; same seed and arguments give identical files.
    start, end : the observed history ``[start, end]`` (default 2023-01-01 to 2025-12-31).
    future_days : days after ``end`` simulated into ``truth/future_transactions.parquet``.
    blocks_per_chunk : how many blocks of :data:`BLOCK_CUSTOMERS` are held in memory at once.
    progress : called as ``progress(customers_done, customers_total)`` after each chunk.

    Returns
    -------
    DemoDataSummary with the row counts and file paths.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if end <= start:
        raise ValueError("end must be after start")
    target = Path(out_dir)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "truth").mkdir(parents=True)
    catalogue = _product_catalogue(seed)
    n_blocks = -(-customers // BLOCK_CUSTOMERS)
    seqs = np.random.SeedSequence(seed).spawn(n_blocks)
    writers: dict[str, pq.ParquetWriter] = {}
    counts = {"customers": 0, "transactions": 0, "future_transactions": 0, "interactions": 0}
    paths = {
        "customers": tmp / "customers.parquet",
        "transactions": tmp / "transactions.parquet",
        "interactions": tmp / "interactions.parquet",
        "truth": tmp / "truth" / "customers_truth.parquet",
        "future_transactions": tmp / "truth" / "future_transactions.parquet",
    }
    try:
        done = 0
        for chunk_start in range(0, n_blocks, blocks_per_chunk):
            for b in range(chunk_start, min(chunk_start + blocks_per_chunk, n_blocks)):
                n = min(BLOCK_CUSTOMERS, customers - b * BLOCK_CUSTOMERS)
                block = _simulate_block(b, n, seqs[b], start, end, future_days, catalogue)
                for key, table in (
                    ("customers", block.customers),
                    ("truth", block.truth),
                    ("transactions", block.transactions),
                    ("future_transactions", block.future_transactions),
                    ("interactions", block.interactions),
                ):
                    if key not in writers:
                        writers[key] = _writer(paths[key], table.schema)
                    writers[key].write_table(table, row_group_size=1_000_000)
                    if key in counts:
                        counts[key] += table.num_rows
                done += n
            if progress is not None:
                progress(done, customers)
    finally:
        for w in writers.values():
            w.close()
    summary = DemoDataSummary(
        out_dir=str(target),
        seed=seed,
        customers=counts["customers"],
        transactions=counts["transactions"],
        future_transactions=counts["future_transactions"],
        interactions=counts["interactions"],
        start=start.isoformat(),
        end=end.isoformat(),
        future_days=future_days,
        files={k: str(target / v.relative_to(tmp)) for k, v in paths.items()},
    )
    (tmp / "manifest.json").write_text(json.dumps(asdict(summary), indent=2, ensure_ascii=False))
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return summary
