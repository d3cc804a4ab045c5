"""The feature definitions: one SQL statement per snapshot date, in standard SQL.

The definitions are one SQL statement (see :func:`features_sql`) over the canonical views bound by
:class:`~customer_tiering.features.snapshot.SqlSources`. It keeps to standard SQL (CTEs, ``CASE``,
``COUNT(DISTINCT)``, ``LAG`` window, ``STDDEV_POP``), with the dialect-specific parts,
the number of days between two dates and the text type, taken from :data:`DIALECTS` and
:data:`TEXT_TYPE`, so that Spark SQL can run the
same definitions (``datediff``).

Definitions (``w`` in 90/180/365 days; the window is ``(as_of - w, as_of]``):

* an **order** is one ``order_id`` (or, when the file has none, one order day of the customer)
  with at least one line of positive amount; its date is the first day of such a line;
* ``days_since_last_order``: ``as_of`` minus the last day with a positive line; NULL if none;
* ``order_count_wd``: orders dated in the window; ``monetary_amount_wd``: net amount of all lines
  (returns are negative) in the window;
* ``avg_monthly_amount_12m`` / ``avg_monthly_units_12m``: net amount / quantity of the last 365
  days divided by 12; units are NULL for a customer none of whose lines carries a quantity;
* ``yoy_growth``: amount of the last 365 days over the 365 days before, minus 1; NULL when the
  earlier year's amount is not positive;
* ``tenure_days``: ``as_of`` minus the earlier of the first line and the contract date;
* ``mean_days_between_orders`` / ``std_days_between_orders``: mean and population standard
  deviation of the gaps between consecutive order days over all history; NULL with fewer than two
  order days;
* ``distinct_products_365d``: distinct ``product_id`` of positive lines in the last 365 days;
* ``return_share_365d``: |negative amounts| / positive amounts in the last 365 days (NULL when no
  positive amount);
* ``complaint_count_365d``: complaints opened in the last 365 days; ``open_complaint_count``:
  complaints opened by the end of ``as_of`` and not closed by then; both NULL (unknown) when no
  interactions table is given;
* ``days_since_last_complaint`` / ``days_since_last_visit`` / ``days_since_last_survey``: ``as_of``
  minus the day of the latest such interaction opened by the end of ``as_of``;
  ``last_survey_score``: the score of the latest scored survey (the highest when several share
  that time); NULL when there is none (or no interactions table);
* ``last_gap_days``: the gap between the last two order days; ``recency_to_mean_gap``:
  ``days_since_last_order`` over ``mean_days_between_orders`` (how overdue the customer is on its
  own rhythm); NULL with fewer than two order days;
* the BTYD triple, as BG/NBD and Gamma-Gamma read it (a *purchase* is a day whose net amount is
  positive): ``repeat_purchase_days`` (purchase days after the first), ``days_first_to_last_purchase``,
  ``days_since_first_purchase`` and ``mean_repeat_purchase_amount`` (0 without a repeat); NULL
  for a customer without a purchase;
* rep judgements, ``customer_type`` and ``region`` come from the customers file (NULL if absent).

Order counts and amounts are 0, never NULL, for a customer without activity.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from customer_tiering.features.snapshot import date_literal, population_sql
from customer_tiering.ingest.contract import WINDOWS_DAYS

__all__ = ["DIALECTS", "TEXT_TYPE", "features_sql"]

# The number of days from `a` to `b` (b - a), per SQL dialect.
DIALECTS: dict[str, Callable[[str, str], str]] = {
    "duckdb": lambda a, b: f"date_diff('day', {a}, {b})",
    "spark": lambda a, b: f"datediff({b}, {a})",
}
# The name of the unbounded text type (Spark SQL's VARCHAR needs a length).
TEXT_TYPE: dict[str, str] = {"duckdb": "VARCHAR", "spark": "STRING"}
# The recency, order counts and amounts: what :func:`rfm_sql` computes alone.
RFM_FEATURES: tuple[str, ...] = (
    "days_since_last_order", *(f"order_count_{w}d" for w in WINDOWS_DAYS),
    *(f"monetary_amount_{w}d" for w in WINDOWS_DAYS))


def features_sql(as_of: date, dialect: str = "duckdb", *, has_interactions: bool = True) -> str:
    """The feature definitions as one SQL statement for the snapshot at ``as_of``.

    The statement reads the views ``transactions``, ``customers`` and ``interactions`` with the
    canonical columns and returns ``customer_id``, ``as_of`` and :data:`FEATURE_COLUMNS`.

    Parameters
    ----------
    as_of : datetime.date
        The snapshot date; nothing dated after it is read.
    dialect : str
        A key of :data:`DIALECTS` (``duckdb`` or ``spark``).
    has_interactions : bool
        Without an interactions table the complaint counts are NULL (unknown), not 0.

    Returns
    -------
    str
        The SQL statement.

    Raises
    ------
    KeyError
        When ``dialect`` is not in :data:`DIALECTS`.
    """
    complaint_default = "0" if has_interactions else "NULL"
    days = DIALECTS[dialect]
    d = date_literal(as_of)
    start = _windows(as_of)
    end_of_day = f"CAST({date_literal(as_of + timedelta(days=1))} AS TIMESTAMP)"
    return f"""
    WITH {_transaction_ctes(as_of, dialect)}
    order_days AS (
        SELECT DISTINCT customer_id, order_date FROM tx WHERE amount > 0
    ),
    gaps AS (
        SELECT customer_id,
               {days("LAG(order_date) OVER (PARTITION BY customer_id ORDER BY order_date)",
                     "order_date")} AS gap,
               ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY order_date DESC) AS latest
        FROM order_days
    ),
    gap_stats AS (
        SELECT customer_id, AVG(gap) AS mean_gap, STDDEV_POP(gap) AS std_gap,
               MAX(CASE WHEN latest = 1 THEN gap END) AS last_gap
        FROM gaps WHERE gap IS NOT NULL GROUP BY customer_id
    ),
    purchase_days AS (
        SELECT customer_id, order_date AS day, SUM(amount) AS net,
               ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY order_date) AS nth
        FROM tx GROUP BY customer_id, order_date HAVING SUM(amount) > 0
    ),
    purchase_stats AS (
        SELECT customer_id, COUNT(*) - 1 AS repeat_days, MIN(day) AS first_purchase,
               MAX(day) AS last_purchase, SUM(CASE WHEN nth > 1 THEN net ELSE 0 END) AS repeat_net
        FROM purchase_days GROUP BY customer_id
    ),
    complaints AS (
        SELECT customer_id,
               COUNT(CASE WHEN opened_at >= CAST({start[365]} AS TIMESTAMP) + INTERVAL 1 DAY
                          THEN 1 END) AS complaint_count_365d,
               COUNT(CASE WHEN closed_at IS NULL OR closed_at >= {end_of_day} THEN 1 END)
                   AS open_complaint_count
        FROM interactions
        WHERE interaction_type = 'complaint' AND opened_at < {end_of_day}
        GROUP BY customer_id
    ),
    interaction_recency AS (
        SELECT customer_id,
               MAX(CASE WHEN interaction_type = 'complaint' THEN opened_at END)
                   AS last_complaint_at,
               MAX(CASE WHEN interaction_type = 'visit' THEN opened_at END) AS last_visit_at,
               MAX(CASE WHEN interaction_type = 'survey' THEN opened_at END) AS last_survey_at
        FROM interactions
        WHERE opened_at < {end_of_day}
        GROUP BY customer_id
    ),
    scored_surveys AS (
        SELECT customer_id, score,
               ROW_NUMBER() OVER (PARTITION BY customer_id
                                  ORDER BY opened_at DESC, score DESC) AS recency
        FROM interactions
        WHERE interaction_type = 'survey' AND score IS NOT NULL AND opened_at < {end_of_day}
    ),
    cust AS (
        SELECT customer_id,
               MIN(CASE WHEN first_contract_date <= {d} THEN first_contract_date END)
                   AS contract_day,
               MAX(customer_type) AS customer_type, MAX(region) AS region,
               MAX(channel_coverage) AS channel_coverage, MAX(loyalty) AS loyalty,
               MAX(prospects) AS prospects, MAX(nps) AS nps
        FROM customers GROUP BY customer_id
    )
    SELECT
        pop.customer_id,
        {d} AS as_of,
        {_rfm_columns(as_of, dialect)},
        CAST(COALESCE(l.monetary_amount_365d, 0) / 12.0 AS DOUBLE) AS avg_monthly_amount_12m,
        CAST(CASE WHEN l.lines_with_quantity > 0 THEN l.units_365d / 12.0 END AS DOUBLE)
            AS avg_monthly_units_12m,
        CAST(CASE WHEN l.amount_prev_365d > 0
                  THEN l.monetary_amount_365d / l.amount_prev_365d - 1 END AS DOUBLE) AS yoy_growth,
        CAST({days("LEAST(COALESCE(l.first_line_day, c.contract_day), "
                   "COALESCE(c.contract_day, l.first_line_day))", d)} AS DOUBLE) AS tenure_days,
        CAST(g.mean_gap AS DOUBLE) AS mean_days_between_orders,
        CAST(g.std_gap AS DOUBLE) AS std_days_between_orders,
        CAST(g.last_gap AS DOUBLE) AS last_gap_days,
        CAST(CASE WHEN g.mean_gap > 0
                  THEN {days("l.last_order_day", d)} / g.mean_gap END AS DOUBLE)
            AS recency_to_mean_gap,
        CAST(COALESCE(l.distinct_products_365d, 0) AS DOUBLE) AS distinct_products_365d,
        CAST(CASE WHEN l.positive_365d > 0 THEN l.negative_365d / l.positive_365d END AS DOUBLE)
            AS return_share_365d,
        CAST(COALESCE(k.complaint_count_365d, {complaint_default}) AS DOUBLE)
            AS complaint_count_365d,
        CAST(COALESCE(k.open_complaint_count, {complaint_default}) AS DOUBLE)
            AS open_complaint_count,
        CAST({days("CAST(ir.last_complaint_at AS DATE)", d)} AS DOUBLE)
            AS days_since_last_complaint,
        CAST({days("CAST(ir.last_visit_at AS DATE)", d)} AS DOUBLE) AS days_since_last_visit,
        CAST({days("CAST(ir.last_survey_at AS DATE)", d)} AS DOUBLE) AS days_since_last_survey,
        CAST(ss.score AS DOUBLE) AS last_survey_score,
        CAST(ps.repeat_days AS DOUBLE) AS repeat_purchase_days,
        CAST({days("ps.first_purchase", "ps.last_purchase")} AS DOUBLE)
            AS days_first_to_last_purchase,
        CAST({days("ps.first_purchase", d)} AS DOUBLE) AS days_since_first_purchase,
        CAST(CASE WHEN ps.repeat_days > 0 THEN ps.repeat_net / ps.repeat_days
                  WHEN ps.repeat_days = 0 THEN 0 END AS DOUBLE) AS mean_repeat_purchase_amount,
        c.channel_coverage, c.loyalty, c.prospects, c.nps,
        c.customer_type, c.region
    FROM pop
    LEFT JOIN order_stats o ON o.customer_id = pop.customer_id
    LEFT JOIN line_stats l ON l.customer_id = pop.customer_id
    LEFT JOIN gap_stats g ON g.customer_id = pop.customer_id
    LEFT JOIN purchase_stats ps ON ps.customer_id = pop.customer_id
    LEFT JOIN complaints k ON k.customer_id = pop.customer_id
    LEFT JOIN interaction_recency ir ON ir.customer_id = pop.customer_id
    LEFT JOIN scored_surveys ss ON ss.customer_id = pop.customer_id AND ss.recency = 1
    LEFT JOIN cust c ON c.customer_id = pop.customer_id
    """


def _windows(as_of: date) -> dict[int, str]:
    return {w: date_literal(as_of - timedelta(days=w)) for w in (*WINDOWS_DAYS, 730)}


def _transaction_ctes(as_of: date, dialect: str) -> str:
    """The CTEs ``pop``, ``tx``, ``orders``, ``order_stats`` and ``line_stats`` (a trailing comma)."""
    d = date_literal(as_of)
    start = _windows(as_of)
    windows_orders = ",\n".join(
        f"COUNT(CASE WHEN first_day > {start[w]} THEN 1 END) AS order_count_{w}d"
        for w in WINDOWS_DAYS
    )
    windows_amounts = ",\n".join(
        f"SUM(CASE WHEN order_date > {start[w]} THEN amount ELSE 0 END) AS monetary_amount_{w}d"
        for w in WINDOWS_DAYS
    )
    return f"""pop AS ({population_sql(as_of)}),
    tx AS (
        SELECT customer_id, order_date, amount, quantity, product_id,
               COALESCE(order_id, customer_id || '|' || CAST(order_date AS {TEXT_TYPE[dialect]})) AS order_key
        FROM transactions
        WHERE order_date <= {d}
    ),
    orders AS (
        SELECT customer_id, order_key, MIN(order_date) AS first_day
        FROM tx WHERE amount > 0
        GROUP BY customer_id, order_key
    ),
    order_stats AS (
        SELECT customer_id, {windows_orders}
        FROM orders GROUP BY customer_id
    ),
    line_stats AS (
        SELECT customer_id,
               MIN(order_date) AS first_line_day,
               MAX(CASE WHEN amount > 0 THEN order_date END) AS last_order_day,
               {windows_amounts},
               SUM(CASE WHEN order_date > {start[730]} AND order_date <= {start[365]}
                        THEN amount ELSE 0 END) AS amount_prev_365d,
               SUM(CASE WHEN order_date > {start[365]} THEN COALESCE(quantity, 0) ELSE 0 END)
                   AS units_365d,
               COUNT(quantity) AS lines_with_quantity,
               COUNT(DISTINCT CASE WHEN order_date > {start[365]} AND amount > 0
                                   THEN product_id END) AS distinct_products_365d,
               SUM(CASE WHEN order_date > {start[365]} AND amount > 0 THEN amount ELSE 0 END)
                   AS positive_365d,
               SUM(CASE WHEN order_date > {start[365]} AND amount < 0 THEN -amount ELSE 0 END)
                   AS negative_365d
        FROM tx GROUP BY customer_id
    ),
    """


def _recency_column(as_of: date, dialect: str) -> str:
    """``days_since_last_order`` over ``line_stats l`` (its ``last_order_day``): one expression
    for the whole statement, the RFM one and the population filter's."""
    return (f"CAST({DIALECTS[dialect]('l.last_order_day', date_literal(as_of))} AS DOUBLE) "
            "AS days_since_last_order")


def _rfm_columns(as_of: date, dialect: str) -> str:
    """The select list of :data:`RFM_FEATURES` over ``order_stats o`` and ``line_stats l``."""
    return f"""{_recency_column(as_of, dialect)},
        {", ".join(f"CAST(COALESCE(o.order_count_{w}d, 0) AS DOUBLE) AS order_count_{w}d"
                   for w in WINDOWS_DAYS)},
        {", ".join(f"CAST(COALESCE(l.monetary_amount_{w}d, 0) AS DOUBLE) AS monetary_amount_{w}d"
                   for w in WINDOWS_DAYS)}"""


def rfm_sql(as_of: date, dialect: str = "duckdb") -> str:
    """Only :data:`RFM_FEATURES` of :func:`features_sql`, by the same definitions and CTEs.

    What the segments are fitted on: without the order-day windows, the interactions and the
    customers file, it costs a fraction of the whole statement on a large book.

    Parameters
    ----------
    as_of : datetime.date
        The snapshot date; nothing dated after it is read.
    dialect : str
        A key of :data:`DIALECTS`.

    Returns
    -------
    str
        The SQL statement: ``customer_id``, ``as_of`` and :data:`RFM_FEATURES`.
    """
    d = date_literal(as_of)
    return f"""
    WITH {_transaction_ctes(as_of, dialect).rstrip().rstrip(",")}
    SELECT
        pop.customer_id,
        {d} AS as_of,
        {_rfm_columns(as_of, dialect)}
    FROM pop
    LEFT JOIN order_stats o ON o.customer_id = pop.customer_id
    LEFT JOIN line_stats l ON l.customer_id = pop.customer_id
    """


def recency_sql(as_of: date, dialect: str = "duckdb") -> str:
    """The population at ``as_of`` with ``days_since_last_order`` alone, as :func:`features_sql`
    computes it: what a training population filter and the fit sample's strata need, at a small
    part of the whole statement's cost.

    Parameters
    ----------
    as_of : datetime.date
        The snapshot date; nothing dated after it is read.
    dialect : str
        A key of :data:`DIALECTS`.

    Returns
    -------
    str
        The SQL statement: ``customer_id``, ``as_of``, ``days_since_last_order``.
    """
    d = date_literal(as_of)
    return f"""
    WITH pop AS ({population_sql(as_of)}),
    line_stats AS (
        SELECT customer_id, MAX(CASE WHEN amount > 0 THEN order_date END) AS last_order_day
        FROM transactions WHERE order_date <= {d} GROUP BY customer_id
    )
    SELECT pop.customer_id, {d} AS as_of, {_recency_column(as_of, dialect)}
    FROM pop LEFT JOIN line_stats l ON l.customer_id = pop.customer_id
    """
