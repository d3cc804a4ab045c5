"""The ``tiering`` command line (Typer). Commands are thin: they call use-case functions.

A :class:`~customer_tiering.errors.TieringError` is printed as a clear message with a non-zero exit,
never as a stack trace.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from customer_tiering import __version__
from customer_tiering.errors import TieringError
from customer_tiering.settings import get_settings

if TYPE_CHECKING:
    from customer_tiering.loading import LoadResult

app = typer.Typer(
    name="tiering",
    help="Grade B2B customers (客户分级管理) and explain every grade.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a TieringError into a red message and exit code 2 (1 is left for crashes)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TieringError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper


@app.command()
def version() -> None:
    """Print the package version."""
    console.print(__version__)


# --- data commands: demo data, validation, loading, features ----------------------------------


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise TieringError(f"{option}: {value!r} is not a date written YYYY-MM-DD") from None


@contextlib.contextmanager
def _progress() -> Iterator[Progress]:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        yield progress


@app.command("demo-data")
@user_errors
def demo_data_command(
    out: Annotated[Path, typer.Option(help="Folder to write (replaced as a whole).")] = Path(
        "data/demo/raw"),
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 42,
    start: Annotated[str, typer.Option(help="First day of history, YYYY-MM-DD.")] = "2023-01-01",
    end: Annotated[str, typer.Option(help="Last day of history, YYYY-MM-DD.")] = "2025-12-31",
) -> None:
    """Generate a realistic demo book of business with hidden truth (Parquet)."""
    from customer_tiering.demo_data import generate_demo_data

    first, last = _parse_day(start, "--start"), _parse_day(end, "--end")
    assert first is not None and last is not None
    if last <= first:
        raise TieringError(f"--end {end} must be after --start {start}")
    with _progress() as progress:
        task = progress.add_task("simulating customers", total=customers)
        summary = generate_demo_data(
            out, customers=customers, seed=seed, start=first, end=last,
            progress=lambda done, total: progress.update(task, completed=done),
        )
    console.print(
        f"wrote {summary.customers:,} customers, {summary.transactions:,} transaction lines, "
        f"{summary.interactions:,} interactions to [bold]{out}[/] (truth in {out / 'truth'})"
    )


def _report(results: list[LoadResult], limit: int = 20) -> None:
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
            by_rule = Table(title=f"problems in {r.source}")
            by_rule.add_column("column")
            by_rule.add_column("rule")
            by_rule.add_column("rows", justify="right")
            counts: dict[tuple[str, str], int] = {}
            for p in r.problems:
                key = (p.column or "(row)", p.rule if not p.rule.startswith("exact duplicate")
                       else "exact duplicate line")
                counts[key] = counts.get(key, 0) + 1
            for (column, rule), count in sorted(counts.items(), key=lambda kv: -kv[1]):
                by_rule.add_row(column, rule, str(count))
            console.print(by_rule)
            for p in r.problems[:limit]:
                console.print(f"  - {p}", highlight=False, markup=False, soft_wrap=True)
            if len(r.problems) > limit:
                console.print(f"  ... and {len(r.problems) - limit} more in the rejects file")
        for w in r.warnings[:limit]:
            console.print(f"  [yellow]warning[/] {escape(str(w))}", highlight=False,
                          soft_wrap=True)
        if len(r.warnings) > limit:
            console.print(f"  [yellow]... and {len(r.warnings) - limit} more warnings[/]")


@app.command("validate")
@user_errors
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
    from customer_tiering.loading import ColumnMapping, validate_sources, write_rejects

    limit = max_reject_share if max_reject_share is not None else get_settings().max_reject_share
    column_mapping = ColumnMapping.from_yaml(mapping) if mapping else None
    results = validate_sources(paths, mapping=column_mapping, as_of=_parse_day(as_of, "--as-of"))
    _report(results)
    over = [r for r in results if r.reject_share > limit]
    if over:
        names = ", ".join(r.source for r in over)
        raise TieringError(f"{names}: more than {limit:.1%} of rows rejected; nothing was written")
    if any(r.rejected for r in results):
        for path in write_rejects([r for r in results if r.rejected], rejects):
            console.print(f"rejects written to {path}")
    console.print("[green]valid[/]" if not any(r.rejected for r in results) else
                  "[yellow]loaded with rejects (within the allowed share)[/]")


@app.command("load")
@user_errors
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
    """Validate and load inputs into a clean Parquet data set (all or nothing)."""
    from customer_tiering.loading import ColumnMapping, load_dataset, write_dataset

    limit = max_reject_share if max_reject_share is not None else get_settings().max_reject_share
    dataset = load_dataset(
        transactions, customers, interactions, as_of=_parse_day(as_of, "--as-of"),
        max_reject_share=limit,
        mapping=ColumnMapping.from_yaml(mapping) if mapping else None,
    )
    _report(dataset.results)
    write_dataset(dataset, out)
    console.print(f"clean data set written to [bold]{out}[/]")


@app.command("features")
@user_errors
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
    from customer_tiering.features import build_snapshots, write_frame

    day = _parse_day(as_of, "--as-of")
    assert day is not None
    tx = data / "transactions.parquet"
    if not tx.exists():
        raise TieringError(f"{tx} does not exist; run `tiering load` or `tiering demo-data` first")
    optional = {n: data / f"{n}.parquet" for n in ("customers", "interactions")}
    with _progress() as progress:
        task = progress.add_task(f"features as of {day}", total=1)
        frame = build_snapshots(
            tx, *(p if p.exists() else None for p in optional.values()),
            as_of_dates=[day], horizon_days=horizon_days, with_labels=labels,
        )
        progress.update(task, completed=1)
    write_frame(frame, out)
    console.print(f"{len(frame):,} customers x {frame.shape[1]} columns written to [bold]{out}[/]")


@app.command("demo")
@user_errors
def demo_command(
    data_dir: Annotated[Path, typer.Option(help="Where everything is written.")] = Path(
        "data/demo"),
    customers: Annotated[int, typer.Option(min=10, help="Number of demo customers.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """The main job on embedded defaults: demo data -> validate/load -> features -> summary."""
    from customer_tiering.demo_job import run_demo_job

    with _progress() as progress:
        task = progress.add_task("demo job", total=customers)
        result = run_demo_job(
            data_dir, customers=customers, seed=seed,
            step=lambda msg: progress.update(task, description=msg),
            progress=lambda done, total: progress.update(task, completed=done),
        )
        progress.update(task, description="done", completed=customers)
    _report(result.load_results, limit=5)
    f = result.features
    summary = Table(title=f"features as of {result.as_of} ({len(f):,} customers)")
    for col in ("feature", "filled", "median", "mean", "max"):
        summary.add_column(col, justify="left" if col == "feature" else "right")
    for feature in ("days_since_last_order", "order_count_365d", "monetary_amount_365d",
                    "avg_monthly_units_12m", "yoy_growth", "tenure_days", "return_share_365d",
                    "open_complaint_count", "loyalty"):
        values = f[feature]
        summary.add_row(feature, f"{values.notna().mean():.0%}", f"{values.median():,.2f}",
                        f"{values.mean():,.2f}", f"{values.max():,.2f}")
    console.print(summary)
    by_type = f.groupby("customer_type", dropna=False)["monetary_amount_365d"].agg(["size", "sum"])
    types = Table(title="customers and revenue (last 365 days) by type")
    for col in ("customer_type", "customers", "revenue share"):
        types.add_column(col, justify="left" if col == "customer_type" else "right")
    for type_name, row in by_type.sort_values("sum", ascending=False).iterrows():
        types.add_row(str(type_name), f"{int(row['size']):,}", f"{row['sum'] / by_type['sum'].sum():.1%}")
    console.print(types)
    console.print(
        f"top 20% of customers hold [bold]{result.top20_revenue_share:.0%}[/] of revenue (80/20)\n"
        f"raw data and hidden truth: {result.raw_dir}\nclean data: {result.clean_dir}\n"
        f"features: {result.features_path}\n"
        "next: `tiering validate FILE...` on your own data; `tiering features --as-of DATE`"
    )
