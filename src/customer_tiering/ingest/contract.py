"""The data contract: the one place column names are spelled.

Three input tables (transactions required; customers and interactions optional), then the frames the
pipeline produces (features, labels). Each input column is a :class:`ColumnSpec`: its canonical name,
its kind, whether it is required, the constraints a value must meet, and the Chinese and other
headers that are mapped to it by default (``docs/data-contract.md`` is the human version of this
file; a YAML column mapping adds more spellings, see ``loading``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnKind = Literal["id", "text", "date", "timestamp", "number", "score_0_10", "category"]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an input table.

    Parameters
    ----------
    name : canonical (English, snake_case) column name used everywhere after loading.
    kind : how a raw value is parsed and checked.
    required : a file without this column is rejected as a whole.
    nullable : whether an empty cell is allowed in a present column.
    aliases : other headers accepted for this column (matched case- and space-insensitively).
    min_value, max_value : inclusive bounds for numbers.
    categories : allowed values for a ``category`` column (after lower-casing), if closed.
    """

    name: str
    kind: ColumnKind
    required: bool = False
    nullable: bool = True
    aliases: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    categories: tuple[str, ...] | None = None
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    """An input table: its name, its columns and the columns that identify a row."""

    name: str
    columns: tuple[ColumnSpec, ...]
    description: str = ""
    key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """The columns a file must have, in contract order."""
        return tuple(c.name for c in self.columns if c.required)

    @property
    def column_names(self) -> tuple[str, ...]:
        """The canonical names of all columns, in contract order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        """The column named ``name``.

        Parameters
        ----------
        name : str
            A canonical column name.

        Returns
        -------
        ColumnSpec

        Raises
        ------
        KeyError
            When the table has no such column.
        """
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


# Customer types named by the seeds; the customers file may use others (the column is open), these
# are the ones the shipped scorecard, demo data and pages know by name.
CUSTOMER_TYPES: tuple[str, ...] = (
    "hospital",  # 医院
    "chain_pharmacy",  # 连锁药店
    "single_pharmacy",  # 单体药店
    "large_pharmacy",  # 大药房
    "clinic",  # 诊所
    "distributor",  # 代理商 / 经销商
)

INTERACTION_TYPES: tuple[str, ...] = ("visit", "complaint", "survey")

LINE_LIMIT = 1e12
"""The largest amount or quantity one line may hold (either sign). Far above any real order line,
and far below where a sum of a customer's lines could overflow to infinity (1e308)."""

TRANSACTIONS = TableSpec(
    name="transactions",
    description="One row per order line (or order). Returns and credit notes are negative amounts.",
    key=("order_id",),
    columns=(
        ColumnSpec("customer_id", "id", required=True, nullable=False,
                   aliases=("客户编号", "客户编码", "客户代码", "客户ID", "客户id", "client_id",
                            "customer", "cust_id", "customer_no", "customer_code"),
                   description="The customer's identifier, as in the customers file."),
        ColumnSpec("order_date", "date", required=True, nullable=False,
                   aliases=("订单日期", "下单日期", "日期", "发货日期", "date", "invoice_date",
                            "orderdate", "transaction_date"),
                   description="Day of the order; ISO, Chinese (2024年3月5日), slashed or an Excel "
                               "serial number."),
        ColumnSpec("amount", "number", required=True, nullable=False,
                   min_value=-LINE_LIMIT, max_value=LINE_LIMIT,
                   aliases=("金额", "销售额", "订单金额", "含税金额", "amount_cny", "revenue",
                            "sales", "value"),
                   description="Net amount in the company's currency; negative for returns."),
        ColumnSpec("quantity", "number", min_value=-LINE_LIMIT, max_value=LINE_LIMIT,
                   aliases=("数量", "件数", "销售数量", "qty", "units"),
                   description="Units (件); negative for returns."),
        ColumnSpec("product_id", "id",
                   aliases=("产品编号", "产品编码", "品种", "商品编码", "sku", "product"),
                   description="Product or SKU identifier."),
        ColumnSpec("channel", "text",
                   aliases=("渠道", "销售渠道"),
                   description="Sales channel (direct, distributor, e-commerce, ...)."),
        ColumnSpec("order_id", "id",
                   aliases=("订单编号", "订单号", "单号", "invoice", "invoice_no", "order_no"),
                   description="Order identifier; lines of one order share it."),
    ),
)

CUSTOMERS = TableSpec(
    name="customers",
    description="Customer master data (optional: without it customers are derived from transactions).",
    key=("customer_id",),
    columns=(
        TRANSACTIONS.column("customer_id"),
        ColumnSpec("name", "text", aliases=("客户名称", "名称", "客户", "customer_name")),
        ColumnSpec("customer_type", "category",
                   aliases=("客户类型", "类型", "所属行业", "行业", "type", "segment_type"),
                   description="hospital, chain_pharmacy, single_pharmacy, large_pharmacy, clinic, "
                               "distributor, or another label (Chinese labels are mapped)."),
        ColumnSpec("region", "category", aliases=("所在地区", "地区", "区域", "省份", "area")),
        ColumnSpec("first_contract_date", "date",
                   aliases=("首次签约日期", "签约日期", "合作开始日期", "contract_date", "since")),
        ColumnSpec("channel_coverage", "score_0_10", min_value=0, max_value=10,
                   aliases=("渠道覆盖", "渠道覆盖深度与广度", "网络覆盖"),
                   description="Rep's 0-10 judgement of channel coverage depth and breadth."),
        ColumnSpec("loyalty", "score_0_10", min_value=0, max_value=10,
                   aliases=("忠诚度",), description="Rep's 0-10 judgement of loyalty."),
        ColumnSpec("prospects", "score_0_10", min_value=0, max_value=10,
                   aliases=("发展前景", "前景"), description="Rep's 0-10 judgement of prospects."),
        ColumnSpec("nps", "number", min_value=-100, max_value=100,
                   aliases=("净推荐值", "NPS"), description="Net promoter score, -100 to 100."),
    ),
)

INTERACTIONS = TableSpec(
    name="interactions",
    description="Visits, complaints and surveys (optional).",
    columns=(
        TRANSACTIONS.column("customer_id"),
        ColumnSpec("interaction_type", "category", required=True, nullable=False,
                   categories=INTERACTION_TYPES,
                   aliases=("类型", "互动类型", "type", "kind"),
                   description="visit, complaint or survey (拜访, 投诉, 调查 are mapped)."),
        ColumnSpec("opened_at", "timestamp", required=True, nullable=False,
                   aliases=("开始时间", "发生时间", "投诉时间", "日期", "date", "timestamp"),
                   description="When the visit happened or the complaint was opened."),
        ColumnSpec("closed_at", "timestamp",
                   aliases=("关闭时间", "结案时间", "处理完成时间", "closed"),
                   description="When a complaint was closed; empty while open."),
        ColumnSpec("score", "number", min_value=-100, max_value=100,
                   aliases=("评分", "得分", "满意度"),
                   description="Survey answer (NPS scale) or satisfaction score."),
    ),
)

INPUT_TABLES: dict[str, TableSpec] = {
    t.name: t for t in (TRANSACTIONS, CUSTOMERS, INTERACTIONS)
}

# ---------------------------------------------------------------------------------------------
# Frames produced by the pipeline. One row per (customer_id, as_of).
# ---------------------------------------------------------------------------------------------
WINDOWS_DAYS: tuple[int, ...] = (90, 180, 365)

NUMERIC_FEATURES: tuple[str, ...] = (
    "days_since_last_order",       # days from the last positive order on or before as_of
    *(f"order_count_{w}d" for w in WINDOWS_DAYS),        # distinct orders in (as_of - w, as_of]
    *(f"monetary_amount_{w}d" for w in WINDOWS_DAYS),    # net amount in (as_of - w, as_of]
    "avg_monthly_amount_12m",      # net amount of the last 365 days / 12
    "avg_monthly_units_12m",       # net quantity of the last 365 days / 12 (件)
    "yoy_growth",                  # amount last 365 d / amount the 365 d before - 1 (null if 0)
    "tenure_days",                 # days since the first order or contract, whichever is earlier
    "mean_days_between_orders",    # mean gap between consecutive order days (all history)
    "std_days_between_orders",     # spread (population sd) of those gaps
    "last_gap_days",               # gap between the last two order days (null: fewer than two)
    "recency_to_mean_gap",         # days_since_last_order / mean_days_between_orders ("overdue")
    "distinct_products_365d",      # distinct product_id in the last 365 days
    "return_share_365d",           # |negative amounts| / positive amounts in the last 365 days
    "complaint_count_365d",        # complaints opened in the last 365 days
    "open_complaint_count",        # complaints opened on or before as_of and not closed by then
    "days_since_last_complaint",   # days from the latest complaint (null: none on record)
    "days_since_last_visit",       # days from the latest visit (null: none on record)
    "days_since_last_survey",      # days from the latest survey (null: none on record)
    "last_survey_score",           # score of the latest scored survey (null: none)
    # The BTYD triple (BG/NBD, Gamma-Gamma): a purchase is a day whose net amount is positive.
    "repeat_purchase_days",        # purchase days after the first ("frequency"; null: none yet)
    "days_first_to_last_purchase",  # days from the first to the last purchase day ("recency")
    "days_since_first_purchase",   # days from the first purchase day to as_of ("T")
    "mean_repeat_purchase_amount",  # mean net amount of the repeat purchase days (0 if none)
    "channel_coverage",            # rep judgements 0-10 (null when not given)
    "loyalty",
    "prospects",
    "nps",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("customer_type", "region")
FEATURE_COLUMNS: tuple[str, ...] = (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES)
SNAPSHOT_KEY: tuple[str, ...] = ("customer_id", "as_of")

# How a feature is named to people (explanations, exports, pages): (Chinese, English).
FEATURE_LABELS: dict[str, tuple[str, str]] = {
    "days_since_last_order": ("距上次下单天数", "Days since last order"),
    "order_count_90d": ("近90天订单数", "Orders, last 90 days"),
    "order_count_180d": ("近180天订单数", "Orders, last 180 days"),
    "order_count_365d": ("近365天订单数", "Orders, last 365 days"),
    "monetary_amount_90d": ("近90天销售额", "Sales, last 90 days"),
    "monetary_amount_180d": ("近180天销售额", "Sales, last 180 days"),
    "monetary_amount_365d": ("近365天销售额", "Sales, last 365 days"),
    "avg_monthly_amount_12m": ("平均月销售额", "Average monthly sales amount"),
    "avg_monthly_units_12m": ("平均月销售量", "Average monthly units"),
    "yoy_growth": ("销售额同比增长", "Sales growth, year on year"),
    "tenure_days": ("合作天数", "Days of cooperation"),
    "mean_days_between_orders": ("平均下单间隔天数", "Mean days between orders"),
    "std_days_between_orders": ("下单间隔波动", "Spread of days between orders"),
    "last_gap_days": ("最近一次下单间隔天数", "Last gap between orders"),
    "recency_to_mean_gap": ("距上次下单/平均间隔", "Days since last order / mean gap"),
    "distinct_products_365d": ("近365天采购品种数", "Distinct products, last 365 days"),
    "return_share_365d": ("退货占比", "Share of returns"),
    "complaint_count_365d": ("近365天投诉数", "Complaints, last 365 days"),
    "open_complaint_count": ("未结投诉数", "Open complaints"),
    "days_since_last_complaint": ("距上次投诉天数", "Days since last complaint"),
    "days_since_last_visit": ("距上次拜访天数", "Days since last visit"),
    "days_since_last_survey": ("距上次调查天数", "Days since last survey"),
    "last_survey_score": ("最近调查评分", "Last survey score"),
    "repeat_purchase_days": ("重复采购天数", "Repeat purchase days"),
    "days_first_to_last_purchase": ("首末次采购间隔天数", "Days from first to last purchase"),
    "days_since_first_purchase": ("距首次采购天数", "Days since first purchase"),
    "mean_repeat_purchase_amount": ("重复采购平均金额", "Mean repeat purchase amount"),
    "channel_coverage": ("渠道覆盖", "Channel coverage"),
    "loyalty": ("忠诚度", "Loyalty"),
    "prospects": ("发展前景", "Prospects"),
    "nps": ("净推荐值", "NPS"),
    "customer_type": ("客户类型", "Customer type"),
    "region": ("区域", "Region"),
}

DEFAULT_HORIZON_DAYS = 90
LABEL_COLUMNS: tuple[str, ...] = (
    "churned",        # 1 when no positive order in (as_of, as_of + horizon], else 0
    "future_amount",  # net amount in (as_of, as_of + horizon]
)
