"""Data commands: ``version``, ``demo-data``, ``validate``, ``load``, ``features`` and the main
``demo`` job, with the tables they print."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from customer_tiering import __version__
from customer_tiering.cli._common import console, open_store, parse_day, progress_bar, rows_progress
from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import get_settings

if TYPE_CHECKING:
    from datetime import date

    import pandas as pd

    from customer_tiering.ingest.loading import LoadResult

app = typer.Typer()

# The demo's feature summary: one row per feature, in the order a sales-ops reader expects.
_SUMMARY_FEATURES = ("days_since_last_order", "order_count_365d", "monetary_amount_365d",
                     "avg_monthly_units_12m", "yoy_growth", "tenure_days", "return_share_365d",
                     "open_complaint_count", "loyalty")


@app.command()
def version() -> None:
    """Print the package version."""
    console.print(__version__)


class Process(enum.StrEnum):
    """The demo generator's ordering and churn process."""

    cycles = "cycles"
    poisson = "poisson"


@app.command("demo-data")
def demo_data_command(
    out: Annotated[Path, typer.Option(help="Folder to write (replaced as a whole).")] = Path(
        "data/demo/raw"),
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 42,
    start: Annotated[str, typer.Option(help="First day of history, YYYY-MM-DD.")] = "2023-01-01",
    end: Annotated[str, typer.Option(help="Last day of history, YYYY-MM-DD.")] = "2025-12-31",
    process: Annotated[Process, typer.Option(
        help="cycles: each customer reorders on its own cycle and leaves after events (the B2B "
             "case); poisson: BG/NBD's own process, for comparison.")] = Process.cycles,
) -> None:
    """Generate a realistic demo book of business with hidden truth (Parquet)."""
    from customer_tiering.demo.generator import generate_demo_data

    first, last = parse_day(start, "--start"), parse_day(end, "--end")
    if last <= first:
        raise TieringError(f"--end {end} must be after --start {start}")
    with progress_bar() as progress:
        task = progress.add_task("simulating customers", total=customers)
        summary = generate_demo_data(
            out, customers=customers, seed=seed, start=first, end=last, process=process.value,
            progress=lambda done, total: progress.update(task, completed=done),
        )
    console.print(
        f"wrote {summary.customers:,} customers, {summary.transactions:,} transaction lines, "
        f"{summary.interactions:,} interactions to [bold]{out}[/] (truth in {out / 'truth'})"
    )


def _print_load_report(results: list[LoadResult], limit: int = 20) -> None:
    """Print the per-file counts, each file's problems by rule and its first ``limit`` problems
    and warnings."""
    table = Table(title="validation")
    for col in ("file", "table", "read", "loaded", "rejected", "share"):
        table.add_column(col, justify="right" if col in {"read", "loaded", "rejected", "share"}
                         else "left")
    for r in results:
        table.add_row(r.source, r.table, f"{r.read:,}", f"{r.loaded:,}", f"{r.rejected:,}",
                      f"{r.reject_share:.2%}")
    console.print(table)
    for r in results:
        console.print(f"{r.source}: read {r.read:,} = loaded {r.loaded:,} + rejected "
                      f"{r.rejected:,}", soft_wrap=True, highlight=False)
        if r.problems:
            console.print(_render_problems_by_rule(r))
            for p in r.problems[:limit]:
                console.print(f"  - {p}", highlight=False, markup=False, soft_wrap=True)
            more = len(r.problems) + r.unlisted_problems - limit
            if more > 0:
                console.print(f"  ... and {more:,} more in the rejects file")
        for w in r.warnings[:limit]:
            console.print(f"  [yellow]warning[/] {escape(str(w))}", highlight=False,
                          soft_wrap=True)
        if len(r.warnings) > limit:
            console.print(f"  [yellow]... and {len(r.warnings) - limit} more warnings[/]")


def _render_problems_by_rule(result: LoadResult) -> Table:
    """Count a file's listed problems by (column, rule), most frequent first."""
    by_rule = Table(title=f"problems in {result.source}")
    by_rule.add_column("column")
    by_rule.add_column("rule")
    by_rule.add_column("rows", justify="right")
    counts: dict[tuple[str, str], int] = {}
    for p in result.problems:
        # each exact duplicate names the row it repeats; counted together they are one rule
        key = (p.column or "(row)", p.rule if not p.rule.startswith("exact duplicate")
               else "exact duplicate line")
        counts[key] = counts.get(key, 0) + 1
    for (column, rule), count in sorted(counts.items(), key=lambda kv: -kv[1]):
        by_rule.add_row(column, rule, str(count))
    if result.unlisted_problems:
        by_rule.caption = (f"counts of the first {len(result.problems):,} problems; "
                           f"{result.unlisted_problems:,} more are in the rejects file")
    return by_rule


@app.command("validate")
def validate_command(
    paths: Annotated[list[str], typer.Argument(help="CSV, Parquet, XLSX files or URL#table.")],
    as_of: Annotated[str | None, typer.Option(help="Reject transactions after this date.")] = None,
    mapping: Annotated[Path | None, typer.Option(help="YAML column mapping.")] = None,
    max_reject_share: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="Stop, writing nothing, above this share (default 0.01).")] = None,
    rejects: Annotated[Path, typer.Option(help="Folder for the rejects files.")] = Path(
        "data/rejects"),
) -> None:
    """Validate input files: one report of every problem, rejects written with their reasons."""
    from customer_tiering.ingest.bulk_loading import validate_to_directory
    from customer_tiering.ingest.loading import ColumnMapping

    limit = max_reject_share if max_reject_share is not None else get_settings().max_reject_share
    with progress_bar() as progress:
        results, written = validate_to_directory(
            list(paths), rejects, as_of=parse_day(as_of, "--as-of"), max_reject_share=limit,
            mapping=ColumnMapping.from_yaml(mapping) if mapping else None,
            progress=rows_progress(progress))
    _print_load_report(results)
    over = [r for r in results if r.reject_share > limit]
    if over:
        names = ", ".join(r.source for r in over)
        raise TieringError(f"{names}: more than {limit:.1%} of rows rejected; nothing was written")
    for path in written:
        console.print(f"rejects written to {path}")
    console.print("[green]valid[/]" if not any(r.rejected for r in results) else
                  "[yellow]loaded with rejects (within the allowed share)[/]")


@app.command("load")
def load_command(
    transactions: Annotated[str, typer.Option(help="Transactions file or URL#table.")],
    out: Annotated[Path, typer.Option(help="Folder for the clean data set.")] = Path(
        "data/clean"),
    customers: Annotated[str | None, typer.Option(help="Customers file (optional).")] = None,
    interactions: Annotated[str | None, typer.Option(help="Interactions file (optional).")] = None,
    as_of: Annotated[str | None, typer.Option(help="Reject transactions after this date.")] = None,
    mapping: Annotated[Path | None, typer.Option(help="YAML column mapping.")] = None,
    max_reject_share: Annotated[float | None, typer.Option(min=0.0, max=1.0)] = None,
) -> None:
    """Validate and load inputs into a clean Parquet data set (all or nothing), block by block."""
    from customer_tiering.ingest.bulk_loading import load_to_directory
    from customer_tiering.ingest.loading import ColumnMapping

    limit = max_reject_share if max_reject_share is not None else get_settings().max_reject_share
    with progress_bar() as progress:
        results = load_to_directory(
            out, transactions, customers, interactions, as_of=parse_day(as_of, "--as-of"),
            max_reject_share=limit,
            mapping=ColumnMapping.from_yaml(mapping) if mapping else None,
            progress=rows_progress(progress),
        )
    _print_load_report(results)
    console.print(f"clean data set written to [bold]{out}[/]")


@app.command("features")
def features_command(
    as_of: Annotated[str, typer.Option(help="Snapshot date, YYYY-MM-DD.")],
    data: Annotated[Path, typer.Option(help="Folder with transactions.parquet (+ customers, "
                                             "interactions).")] = Path("data/clean"),
    out: Annotated[Path, typer.Option(help="Output .parquet or .csv.")] = Path(
        "data/features.parquet"),
    labels: Annotated[bool, typer.Option(help="Append labels from the window after as_of.")] = False,
    horizon_days: Annotated[int, typer.Option(min=1, help="Label horizon in days.")] = 90,
) -> None:
    """Compute point-in-time features (and optionally labels) for every customer at as_of."""
    from customer_tiering.features.compute import build_snapshots, write_frame

    day = parse_day(as_of, "--as-of")
    tx = data / "transactions.parquet"
    if not tx.exists():
        raise TieringError(f"{tx} does not exist; run `tiering load` or `tiering demo-data` first")
    optional = {n: data / f"{n}.parquet" for n in ("customers", "interactions")}
    with progress_bar() as progress:
        task = progress.add_task(f"features as of {day}", total=1)
        frame = build_snapshots(
            tx, *(p if p.exists() else None for p in optional.values()),
            as_of_dates=[day], horizon_days=horizon_days, with_labels=labels,
        )
        progress.update(task, completed=1)
    write_frame(frame, out)
    console.print(f"{len(frame):,} customers x {frame.shape[1]} columns written to [bold]{out}[/]")
    if labels:
        import pandas as pd

        last = pd.Timestamp(pd.read_parquet(tx, columns=["order_date"])["order_date"].max())
        short = (pd.Timestamp(day) + pd.Timedelta(days=horizon_days) - last).days
        if short > 0:
            console.print(
                f"[yellow]warning[/] the labels need {horizon_days} days of data after {day}, but "
                f"the data ends on {last.date()} ({short} days short): `churned` is 1 and "
                "`future_amount` too low for customers who would have ordered in the missing "
                f"days. Choose --as-of {(last - pd.Timedelta(days=horizon_days)).date()} or "
                "earlier for labels that mean what they say.", soft_wrap=True, highlight=False)


@app.command("demo")
def demo_command(
    data_dir: Annotated[Path, typer.Option(help="Where everything is written.")] = Path(
        "data/demo"),
    customers: Annotated[int, typer.Option(min=10, help="Number of demo customers.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    process: Annotated[Process, typer.Option(
        help="How the demo customers order and leave (see `tiering demo-data --help`).")
    ] = Process.cycles,
    train_and_rate: Annotated[bool, typer.Option(
        help="Train the models and store a rating (--no-train-and-rate: data and scorecard only)."
    )] = True,
) -> None:
    """The main job on embedded defaults: demo data -> load -> features -> train -> rate."""
    from customer_tiering.cli.ratings import render_checks, render_grade_table
    from customer_tiering.demo.job import run_demo_job
    from customer_tiering.registry.mlflow_ui import ui_command

    settings = get_settings()
    with progress_bar() as progress:
        task = progress.add_task("demo job", total=customers)
        result = run_demo_job(
            data_dir, customers=customers, seed=seed, process=process.value,
            step=lambda msg: progress.update(task, description=msg),
            progress=lambda done, total: progress.update(task, completed=done),
            settings=settings if train_and_rate else None,
            config_dir=settings.config_dir,
        )
        progress.update(task, description="done", completed=customers)
    _print_load_report(result.load_results, limit=5)
    console.print(_render_feature_summary(result.features, result.as_of))
    console.print(_render_revenue_by_type(result.features))
    if result.rating is not None:
        for job in result.training:
            console.print(f"model {job.model_name} version {job.version}: {job.alias}; "
                          f"serving: {job.serving}")
            if job.serves != "model":
                for reason in job.reasons:
                    console.print(f"  {reason}", highlight=False)
        record = result.rating.record
        with open_store() as store:
            console.print(render_grade_table(store, record.id, "en"))  # as the narration
        console.print(render_checks(record.checks, "en"))
        console.print(
            f"top 20% of customers hold [bold]{result.top20_revenue_share:.0%}[/] of revenue "
            f"(80/20)\ntier store: {settings.tier_store_url()}, rating {record.id}\n"
            f"MLflow: {ui_command(settings, result.training[0].experiment_id)}\n"
            f"next: `tiering ratings show {record.id}`; `tiering export --rating {record.id} "
            "--format xlsx`; `tiering ratings history CUSTOMER_ID`; "
            "`tiering rate --customer ID --reason TEXT` (special rating)", soft_wrap=True)
        return
    console.print(_render_scorecard_grades(result.graded))
    console.print(
        f"top 20% of customers hold [bold]{result.top20_revenue_share:.0%}[/] of revenue (80/20)\n"
        f"raw data and hidden truth: {result.raw_dir}\nclean data: {result.clean_dir}\n"
        f"features: {result.features_path}\ngrades with points and policy: {result.graded_path}\n"
        "next: `tiering validate FILE...` on your own data; `tiering scorecard show`; "
        "`tiering scorecard apply --input FEATURES --out GRADED`", soft_wrap=True
    )


def _render_feature_summary(features: pd.DataFrame, as_of: date) -> Table:
    """Share filled, median, mean and max of the main features."""
    summary = Table(title=f"features as of {as_of} ({len(features):,} customers)")
    for col in ("feature", "filled", "median", "mean", "max"):
        summary.add_column(col, justify="left" if col == "feature" else "right")
    for feature in _SUMMARY_FEATURES:
        values = features[feature]
        summary.add_row(feature, f"{values.notna().mean():.0%}", f"{values.median():,.2f}",
                        f"{values.mean():,.2f}", f"{values.max():,.2f}")
    return summary


def _render_revenue_by_type(features: pd.DataFrame) -> Table:
    """Customers and share of last-365-day revenue by customer type, largest share first."""
    by_type = features.groupby("customer_type", dropna=False)["monetary_amount_365d"].agg(
        ["size", "sum"])
    types = Table(title="customers and revenue (last 365 days) by type")
    for col in ("customer_type", "customers", "revenue share"):
        types.add_column(col, justify="left" if col == "customer_type" else "right")
    for type_name, row in by_type.sort_values("sum", ascending=False).iterrows():
        types.add_row(str(type_name), f"{int(row['size']):,}",
                      f"{row['sum'] / by_type['sum'].sum():.1%}")
    return types


def _render_scorecard_grades(graded: pd.DataFrame) -> Table:
    """Customers, shares and provisional share per scorecard grade, best grade first."""
    grades = Table(title="scorecard grades (seed 001 card, 天成医药五级)")
    for col in ("grade", "customers", "share", "revenue share", "provisional"):
        grades.add_column(col, justify="left" if col == "grade" else "right")
    revenue = graded["monetary_amount_365d"].clip(lower=0)
    order = list(dict.fromkeys(graded.sort_values("total", ascending=False)["grade_label"]))
    for label in order:
        part = graded[graded["grade_label"] == label]
        grades.add_row(str(label), f"{len(part):,}", f"{len(part) / len(graded):.1%}",
                       f"{revenue[part.index].sum() / revenue.sum():.1%}",
                       f"{part['provisional'].mean():.0%}")
    return grades
