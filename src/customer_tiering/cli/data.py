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
from customer_tiering.cli._common import (
    Lang,
    console,
    open_store,
    parse_day,
    progress_bar,
    rows_progress,
)
from customer_tiering.cli._engine import EngineOption, SparkMasterOption, choose_engine
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
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
) -> None:
    """Compute point-in-time features (and optionally labels) for every customer at as_of."""
    from customer_tiering.features.compute import build_snapshots, write_frame

    day = parse_day(as_of, "--as-of")
    chosen = choose_engine(engine, spark_master, get_settings())
    if chosen.engine == "spark":
        from customer_tiering.engines.spark_cli import spark_features_file

        frame = spark_features_file(chosen, data, day, horizon_days=horizon_days, labels=labels)
        write_frame(frame, out)
        console.print(f"{len(frame):,} customers x {frame.shape[1]} columns written to "
                      f"[bold]{out}[/] (Spark, {chosen.master})")
        return
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
    lang: Annotated[Lang, typer.Option(help="Language of the printed summary.",
                                       envvar="TIERING_LANG")] = Lang.zh,
) -> None:
    """The main job on embedded defaults: demo data -> load -> features -> train -> rate."""
    from customer_tiering.cli.ratings import render_checks, render_grade_table
    from customer_tiering.demo.job import run_demo_job
    from customer_tiering.i18n.catalogue import code, gate_reason, text
    from customer_tiering.i18n.numbers import percent
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
    say = lang.value
    console.print(_render_feature_summary(result.features, result.as_of, say))
    console.print(_render_revenue_by_type(result.features, say))
    top20 = text("demo_top20", say, share=f"[bold]{percent(result.top20_revenue_share, 0)}[/]")
    if result.rating is not None:
        for job in result.training:
            serving = (text("demo_serving_model", say) if job.serves == "model"
                       else text("demo_serving_champion", say) if job.serves == "champion"
                       else text("demo_serving_baseline", say,
                                 name=code("scorer", job.serves, say),
                                 version=job.champion_version))
            console.print(text("demo_model_line", say, name=job.model_name, version=job.version,
                               alias=code("alias", job.alias, say), serving=serving),
                          soft_wrap=True, highlight=False)
            if job.serves != "model":
                for reason in job.reasons:
                    console.print(f"  {escape(gate_reason(reason, say))}", highlight=False)
        record = result.rating.record
        with open_store() as store:
            console.print(render_grade_table(store, record.id, say))
        console.print(render_checks(record.checks, say))
        console.print(
            top20 + "\n"
            + escape(text("demo_rated_where", say, store=settings.tier_store_url(),
                          rating=record.id,
                          mlflow=ui_command(settings, result.training[0].experiment_id))),
            soft_wrap=True, highlight=False)
        return
    console.print(_render_scorecard_grades(result.graded, say, settings.config_dir))
    console.print(
        top20 + "\n"
        + escape(text("demo_data_where", say, raw=result.raw_dir, clean=result.clean_dir,
                      features=result.features_path, graded=result.graded_path)),
        soft_wrap=True, highlight=False)


def _render_feature_summary(features: pd.DataFrame, as_of: date, lang: str = "en") -> Table:
    """Share filled, median, mean and max of the main features."""
    from customer_tiering.i18n.catalogue import code, text
    from customer_tiering.i18n.numbers import number, percent
    from customer_tiering.ingest.contract import FEATURE_LABELS

    summary = Table(title=text("demo_features_title", lang, as_of=as_of,
                               customers=number(len(features))))
    for i, key in enumerate(("demo_feature", "demo_filled", "demo_median", "demo_mean",
                             "demo_max")):
        summary.add_column(text(key, lang), justify="left" if i == 0 else "right")
    for feature in _SUMMARY_FEATURES:
        values = features[feature]
        names = FEATURE_LABELS.get(feature)
        summary.add_row(names[0 if lang == "zh" else 1] if names else code("column", feature, lang),
                        percent(values.notna().mean(), 0), number(values.median(), 2),
                        number(values.mean(), 2), number(values.max(), 2))
    return summary


def _render_revenue_by_type(features: pd.DataFrame, lang: str = "en") -> Table:
    """Customers and share of last-365-day revenue by customer type, largest share first."""
    from customer_tiering.i18n.catalogue import customer_type_name, text
    from customer_tiering.i18n.numbers import number, percent

    by_type = features.groupby("customer_type", dropna=False)["monetary_amount_365d"].agg(
        ["size", "sum"])
    types = Table(title=text("demo_types_title", lang))
    for i, key in enumerate(("type", "customers", "revenue_share")):
        types.add_column(text(key, lang), justify="left" if i == 0 else "right")
    for type_name, row in by_type.sort_values("sum", ascending=False).iterrows():
        types.add_row(customer_type_name(type_name, lang), number(int(row["size"])),
                      percent(row["sum"] / by_type["sum"].sum()))
    return types


def _render_scorecard_grades(graded: pd.DataFrame, lang: str = "en",
                             config_dir: Path | None = None) -> Table:
    """Customers, shares and provisional share per scorecard grade, best grade first."""
    from customer_tiering.i18n.catalogue import text
    from customer_tiering.i18n.numbers import number, percent
    from customer_tiering.scoring.ruleset import load_ruleset

    scheme = load_ruleset(config_dir).scheme()
    labels = {g.id: g.label.text(lang) for g in scheme.grades}
    grades = Table(title=text("demo_scorecard_title", lang, scheme=scheme.label.text(lang)))
    for i, key in enumerate(("grade", "customers", "demo_share", "revenue_share",
                             "provisional")):
        grades.add_column(text(key, lang), justify="left" if i == 0 else "right")
    revenue = graded["monetary_amount_365d"].clip(lower=0)
    order = list(dict.fromkeys(graded.sort_values("total", ascending=False)["grade"]))
    for grade in order:
        part = graded[graded["grade"] == grade]
        grades.add_row(labels.get(str(grade), str(grade)), number(len(part)),
                       percent(len(part) / len(graded)),
                       percent(revenue[part.index].sum() / revenue.sum()),
                       percent(part["provisional"].mean(), 0))
    return grades
