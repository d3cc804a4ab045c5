"""The ``tiering`` command line (Typer). Commands are thin: they call use-case functions.

A :class:`~customer_tiering.core.errors.TieringError` is printed as a clear message with a non-zero exit,
never as a stack trace.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

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
from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import get_settings

if TYPE_CHECKING:
    from customer_tiering.ingest.loading import LoadResult
    from customer_tiering.store.tier_store import TierStore

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
    from customer_tiering.demo.generator import generate_demo_data

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
            if r.unlisted_problems:
                by_rule.caption = (f"counts of the first {len(r.problems):,} problems; "
                                   f"{r.unlisted_problems:,} more are in the rejects file")
            console.print(by_rule)
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
    from customer_tiering.ingest.bulk_loading import validate_to_directory
    from customer_tiering.ingest.loading import ColumnMapping

    limit = max_reject_share if max_reject_share is not None else get_settings().max_reject_share
    with _progress() as progress:
        results, written = validate_to_directory(
            list(paths), rejects, as_of=_parse_day(as_of, "--as-of"), max_reject_share=limit,
            mapping=ColumnMapping.from_yaml(mapping) if mapping else None,
            progress=_rows_progress(progress))
    _report(results)
    over = [r for r in results if r.reject_share > limit]
    if over:
        names = ", ".join(r.source for r in over)
        raise TieringError(f"{names}: more than {limit:.1%} of rows rejected; nothing was written")
    for path in written:
        console.print(f"rejects written to {path}")
    console.print("[green]valid[/]" if not any(r.rejected for r in results) else
                  "[yellow]loaded with rejects (within the allowed share)[/]")


def _rows_progress(progress: Progress) -> Callable[[str, int, int | None], None]:
    """A progress callback with one bar per file (rows read of the file's rows, when known)."""
    tasks: dict[str, Any] = {}

    def advance(source: str, rows: int, total: int | None) -> None:
        if source not in tasks:
            tasks[source] = progress.add_task(f"validating {escape(source)}", total=total)
        progress.update(tasks[source], completed=rows)

    return advance


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
    """Validate and load inputs into a clean Parquet data set (all or nothing), block by block."""
    from customer_tiering.ingest.bulk_loading import load_to_directory
    from customer_tiering.ingest.loading import ColumnMapping

    limit = max_reject_share if max_reject_share is not None else get_settings().max_reject_share
    with _progress() as progress:
        results = load_to_directory(
            out, transactions, customers, interactions, as_of=_parse_day(as_of, "--as-of"),
            max_reject_share=limit,
            mapping=ColumnMapping.from_yaml(mapping) if mapping else None,
            progress=_rows_progress(progress),
        )
    _report(results)
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
    from customer_tiering.features.compute import build_snapshots, write_frame

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
    customers: Annotated[int, typer.Option(min=10, help="Number of demo customers.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    train_and_rate: Annotated[bool, typer.Option(
        help="Train the models and store a rating (--no-train-and-rate: data and scorecard only)."
    )] = True,
) -> None:
    """The main job on embedded defaults: demo data -> load -> features -> train -> rate."""
    from customer_tiering.demo.job import run_demo_job

    settings = get_settings()
    with _progress() as progress:
        task = progress.add_task("demo job", total=customers)
        result = run_demo_job(
            data_dir, customers=customers, seed=seed,
            step=lambda msg: progress.update(task, description=msg),
            progress=lambda done, total: progress.update(task, completed=done),
            settings=settings if train_and_rate else None,
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
    if result.rating is not None:
        for job in result.training:
            console.print(f"model {job.model_name} version {job.version}: {job.alias}")
            if job.alias != "champion":
                for reason in job.reasons:
                    console.print(f"  {reason}", highlight=False)
        store = _store()
        try:
            record = result.rating.record
            console.print(_grade_table(store, record.id, "zh"))
            console.print(
                f"top 20% of customers hold [bold]{result.top20_revenue_share:.0%}[/] of revenue "
                f"(80/20)\ntier store: {settings.tier_store_url()}, rating {record.id}\n"
                f"MLflow: mlflow ui --backend-store-uri {settings.mlflow_uri}\n"
                f"next: `tiering ratings show {record.id}`; `tiering export --rating {record.id} "
                "--format xlsx`; `tiering ratings history CUSTOMER_ID`; "
                "`tiering rate --customer ID --reason TEXT` (special rating)", soft_wrap=True)
        finally:
            store.close()
        return
    g = result.graded
    grades = Table(title="scorecard grades (seed 001 card, 天成医药五级)")
    for col in ("grade", "customers", "share", "revenue share", "provisional"):
        grades.add_column(col, justify="left" if col == "grade" else "right")
    revenue = g["monetary_amount_365d"].clip(lower=0)
    order = list(dict.fromkeys(g.sort_values("total", ascending=False)["grade_label"]))
    for label in order:
        part = g[g["grade_label"] == label]
        grades.add_row(str(label), f"{len(part):,}", f"{len(part) / len(g):.1%}",
                       f"{revenue[part.index].sum() / revenue.sum():.1%}",
                       f"{part['provisional'].mean():.0%}")
    console.print(grades)
    console.print(
        f"top 20% of customers hold [bold]{result.top20_revenue_share:.0%}[/] of revenue (80/20)\n"
        f"raw data and hidden truth: {result.raw_dir}\nclean data: {result.clean_dir}\n"
        f"features: {result.features_path}\ngrades with points and policy: {result.graded_path}\n"
        "next: `tiering validate FILE...` on your own data; `tiering scorecard show`; "
        "`tiering scorecard apply --input FEATURES --out GRADED`", soft_wrap=True
    )


# --- scorecard commands: check, show, apply ------------------------------------------------------
scorecard_app = typer.Typer(help="The rule-based scorecard, grade schemes and service policies.",
                            no_args_is_help=True)
app.add_typer(scorecard_app, name="scorecard")


@scorecard_app.command("check")
@user_errors
def scorecard_check(
    files: Annotated[list[Path], typer.Argument(help="scorecard, grades or policies YAML files.")],
) -> None:
    """Validate configuration files; each kind is recognised by its fields."""
    import yaml

    from customer_tiering.core.config_io import load_yaml_model
    from customer_tiering.scoring.grading import GradesConfig
    from customer_tiering.scoring.policies import PoliciesConfig, check_policies_cover_grades
    from customer_tiering.scoring.scorecard import ScorecardConfig

    grades: GradesConfig | None = None
    policies: tuple[Path, PoliciesConfig] | None = None
    for path in files:
        try:
            head = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            head = None  # load_yaml_model below reports it with the line
        keys = set(head) if isinstance(head, dict) else set()
        if "criteria" in keys:
            card = load_yaml_model(path, ScorecardConfig)
            console.print(f"[green]ok[/] {path}: scorecard {card.version}, "
                          f"{len(card.criteria)} criteria, total {card.total:g}")
        elif "default_scheme" in keys:
            grades = load_yaml_model(path, GradesConfig)
            console.print(f"[green]ok[/] {path}: grade schemes {grades.version}: "
                          f"{', '.join(grades.schemes)}")
        elif "schemes" in keys:
            policies = (path, load_yaml_model(path, PoliciesConfig))
            console.print(f"[green]ok[/] {path}: policies {policies[1].version}")
        elif "scorecard_weight" in keys:
            from customer_tiering.core.config_io import default_config_dir
            from customer_tiering.scoring.blend import BlendConfig, check_blend_fits_card

            blend_cfg = load_yaml_model(path, BlendConfig)
            card_path = path.parent / "scorecard.yaml"
            if not card_path.exists():
                card_path = default_config_dir() / "scorecard.yaml"
            check_blend_fits_card(blend_cfg, load_yaml_model(card_path, ScorecardConfig), str(path))
            console.print(f"[green]ok[/] {path}: blend {blend_cfg.version}, scorecard x "
                          f"{blend_cfg.scorecard_weight:g} + models "
                          f"{blend_cfg.model_max_points():g} = {blend_cfg.total:g}")
        else:
            load_yaml_model(path, ScorecardConfig)  # raises a ConfigError that names the file
    if policies is not None:
        from customer_tiering.core.config_io import default_config_dir

        if grades is None:
            grades = load_yaml_model(default_config_dir() / "grades.yaml", GradesConfig)
        check_policies_cover_grades(policies[1], grades, str(policies[0]))
        console.print(f"[green]ok[/] {policies[0]}: a policy for every grade of every scheme")


@scorecard_app.command("show")
@user_errors
def scorecard_show(
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
    card: Annotated[Path | None, typer.Option(help="Scorecard YAML (default: shipped).")] = None,
    scheme: Annotated[str | None, typer.Option(help="Grade scheme to print.")] = None,
) -> None:
    """Print the card as a table, as a sales-ops person would pin it up, with the grades."""
    from customer_tiering.scoring.ruleset import load_ruleset
    from customer_tiering.scoring.scorecard import JudgementScoring, LinearScoring, StepScoring

    rules = load_ruleset(card=card)
    zh = lang == "zh"
    table = Table(title=f"{rules.card.name.text(lang)} (v{rules.card.version})", show_lines=True)
    for head in (("评分项目", "criterion"), ("分值", "points"), ("评分标准", "scoring"),
                 ("备注", "note")):
        table.add_column(head[0] if zh else head[1])

    def band_line(b: object) -> str:
        lo, hi = getattr(b, "lower"), getattr(b, "upper")  # noqa: B009
        span = (f"≥{lo:g}" if hi is None else f"<{hi:g}" if lo is None else f"{lo:g}–{hi:g}")
        label = getattr(b, "label")  # noqa: B009
        name = f"{label.text(lang)} " if label else ""
        p, p0, p1 = getattr(b, "points", None), getattr(b, "points_from", None), getattr(
            b, "points_to", None)
        pts = f"{p:g}" if p is not None else f"{p0:g}–{p1:g}" if p0 is not None else ""
        return f"{name}({span})" + (f": {pts}" if pts else "")

    for c in rules.card.criteria:
        s = c.scoring
        if isinstance(s, StepScoring | LinearScoring):
            how = "\n".join(band_line(b) for b in s.bands)
        elif isinstance(s, JudgementScoring):
            how = (f"{s.min:g}–{s.max:g} 分直接计分" if zh else
                   f"rep judgement {s.min:g}-{s.max:g}, passed through") + (
                "\n" + "\n".join(band_line(b) for b in s.bands) if s.bands else "")
        else:
            how = "\n".join(f"{k}: {v:g}" for k, v in s.points.items())
        missing = {"zero": "0", "neutral": f"{c.missing.points}", "impute": f"{c.missing.value}",
                   "provisional": f"{c.missing.points or 0:g}*"}[c.missing.policy]
        how += f"\n{'缺失' if zh else 'missing'}: {missing}"
        table.add_row(c.label.text(lang), f"{c.max_points:g}", how,
                      c.note.text(lang) if c.note else "")
    console.print(table)
    chosen = rules.scheme(scheme)
    grades = Table(title=chosen.label.text(lang))
    grades.add_column("等级" if zh else "grade")
    grades.add_column("总分" if zh else "total" if chosen.method == "thresholds" else "rule")
    for i, g in enumerate(chosen.grades):
        if chosen.method == "thresholds":
            upper = chosen.grades[i - 1].min_total if i else None
            rule = (f"≥{g.min_total:g}" if upper is None else
                    f"<{upper:g}" if g.min_total is None else f"{g.min_total:g}–{upper:g}")
        elif chosen.method == "rank_quota":
            rule = f"{g.share:.0%} of customers by total"
        else:
            rule = f"{g.revenue_share:.0%} of revenue" if g.revenue_share else "the rest"
        grades.add_row(g.label.text(lang), rule)
    console.print(grades)
    if any(c.missing.policy == "provisional" for c in rules.card.criteria):
        console.print("* 缺失时计该分值并标记为临时评级" if zh else
                      "* missing input scores these points and marks the grade provisional")


@scorecard_app.command("apply")
@user_errors
def scorecard_apply(
    input: Annotated[Path, typer.Option("--input", help="Features (.csv or .parquet).")],
    out: Annotated[Path, typer.Option(help="Graded output (.csv or .parquet).")],
    scheme: Annotated[str | None, typer.Option(help="Grade scheme (default: the file's).")] = None,
    card: Annotated[Path | None, typer.Option(help="Scorecard YAML (default: shipped).")] = None,
    points_table: Annotated[Path | None, typer.Option(help="Also write the long points table.")
                            ] = None,
    lang: Annotated[str, typer.Option(help="zh or en labels.")] = "zh",
) -> None:
    """Score and grade a features file; the total is the sum of the criterion points."""
    import pandas as pd

    from customer_tiering.features.compute import write_frame
    from customer_tiering.scoring.ruleset import grade, load_ruleset

    if not input.exists():
        raise TieringError(f"{input} does not exist")
    if input.suffix.lower() == ".csv":
        frame = pd.read_csv(input, encoding="utf-8-sig", dtype={"customer_id": str})
    elif input.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(input)
    else:
        raise TieringError(f"{input}: use a .csv or .parquet features file")
    if "customer_id" not in frame:
        raise TieringError(f"{input}: column customer_id is missing")
    rules = load_ruleset(card=card)
    used = {c.feature for c in rules.card.criteria}
    absent = sorted(used - set(frame.columns))
    if absent:
        console.print(f"[yellow]warning[/] {input}: no column {', '.join(absent)}; "
                      "the criterion's missing-input policy applies to every customer")
    graded, scores = grade(frame, rules, scheme=scheme, lang=lang)
    write_frame(graded, out)
    if points_table is not None:
        write_frame(scores.table(lang), points_table)
    counts = graded["grade_label"].value_counts()
    summary = Table(title=f"{len(graded):,} customers graded")
    summary.add_column("grade")
    summary.add_column("customers", justify="right")
    for label, n in counts.items():
        summary.add_row(str(label), f"{n:,}")
    console.print(summary)
    console.print(f"written to [bold]{out}[/]")


# --- tracking commands: promote, rollback -------------------------------------------------------
# MLflow is imported inside the commands: it takes seconds to import, and `tiering --help` or
# `tiering version` should not pay for it.


@app.command()
@user_errors
def promote(
    name: str = typer.Argument(..., help="Registered model: tiering-segments|churn|value."),
    version: str = typer.Argument(..., help="Version number to make champion."),
    reason: str = typer.Option(..., "--reason", help="Why; kept as a tag on the version."),
) -> None:
    """Make a model version the champion by hand (recorded with reason, who and when)."""
    from customer_tiering.core.settings import get_settings
    from customer_tiering.registry import versions as registry
    from customer_tiering.registry.tracking import use_store

    with use_store(get_settings()) as client:
        previous = registry.promote(client, name, version, reason=reason)
    was = f" (was version {previous})" if previous else ""
    console.print(f"{name}: version {version} is now champion{was}")


@app.command()
@user_errors
def rollback(
    name: str = typer.Argument(..., help="Registered model: tiering-segments|churn|value."),
    reason: str = typer.Option("rollback", "--reason", help="Why; kept as a tag."),
) -> None:
    """Give the champion alias back to the version that held it before."""
    from customer_tiering.core.settings import get_settings
    from customer_tiering.registry import versions as registry
    from customer_tiering.registry.tracking import use_store

    with use_store(get_settings()) as client:
        restored = registry.rollback(client, name, reason=reason)
    console.print(f"{name}: version {restored} is champion again")


# --- training commands ---------------------------------------------------------------------------
@app.command("train")
@user_errors
def train_command(
    job: Annotated[str, typer.Argument(help="segments, churn, value or all.")],
    as_of: Annotated[str, typer.Option(help="Last day of data; the holdout ends here.")],
    data: Annotated[Path, typer.Option(help="Clean data set (tiering load --out).")] = Path(
        "data/clean"),
    config: Annotated[list[Path] | None, typer.Option(
        help="Training config YAML (default training/config/<job>.yaml); repeat for `all`.")
    ] = None,
    horizon_days: Annotated[int | None, typer.Option(
        min=1, help="Override the churn and value label horizon (days); rate with the same.")
    ] = None,
) -> None:
    """Train a job, log it to MLflow, register the model; it becomes champion only if it earns it."""
    from customer_tiering.core.config_io import load_yaml_model
    from customer_tiering.models.spec import TrainingConfig
    from customer_tiering.rating.champions import training_configs
    from customer_tiering.training.jobs import train_all, train_job

    jobs = ["segments", "churn", "value"] if job == "all" else [job]
    if job not in ("segments", "churn", "value", "all"):
        raise TieringError(f"job {job!r}: use segments, churn, value or all")
    day = _parse_day(as_of, "--as-of")
    assert day is not None
    given: dict[str, TrainingConfig] = {}
    for path in config or []:
        loaded = load_yaml_model(path, TrainingConfig)
        given[loaded.job] = loaded
    settings = get_settings()
    defaults = training_configs(settings.training_config_dir) if len(given) < len(jobs) else {}
    configs = {j: given.get(j) or defaults[j] for j in jobs}
    if horizon_days is not None:
        for j in ("churn", "value"):
            if j in configs:
                cfg = configs[j]
                configs[j] = cfg.model_copy(update={"data": cfg.data.model_copy(
                    update={"horizon_days": horizon_days})})
    with _progress() as progress:
        task = progress.add_task(f"training {job}", total=None)

        def step(message: str) -> None:
            progress.update(task, description=message)

        if job == "all":
            results = train_all(configs, data_dir=data, as_of=day, settings=settings, step=step)
        else:
            results = [train_job(job, configs[job], data_dir=data, as_of=day, settings=settings,
                                 step=step)]
        progress.update(task, description="done", total=1, completed=1)
    for result in results:
        table = Table(title=f"{result.model_name} version {result.version}: {result.alias}")
        table.add_column("scorer")
        for metric in result.metrics.columns:
            table.add_column(str(metric), justify="right")
        for scorer, row in result.metrics.iterrows():
            table.add_row(str(scorer), *(f"{v:.4f}" for v in row.to_numpy(dtype=float)))
        console.print(table)
        for reason in result.reasons:
            console.print(f"  {reason}", highlight=False)
    console.print(f"MLflow store: {settings.mlflow_uri} (mlflow ui --backend-store-uri "
                  f"{settings.mlflow_uri})", soft_wrap=True)


# --- rating, history and exports ---------------------------------------------------------------
def _store() -> TierStore:
    from customer_tiering.store.tier_store import TierStore

    return TierStore.open(get_settings().tier_store_url())


def _grade_table(store: TierStore, rating_id: int, lang: str) -> Table:
    record = store.rating(rating_id)
    shares = store.grade_shares(rating_id)
    table = Table(title=f"rating {record.id}: {record.kind}, as of {record.as_of}, "
                        f"{record.customer_count:,} customers")
    for col in ("grade", "customers", "share", "revenue share"):
        table.add_column(col, justify="left" if col == "grade" else "right")
    for row in shares.itertuples():
        label = record.grade_labels.get(str(row.grade), {}).get(lang, str(row.grade))
        table.add_row(label, f"{row.customers:,}", f"{row.customer_share:.1%}",
                      f"{row.revenue_share:.1%}")
    return table


@app.command("rate")
@user_errors
def rate_command(
    as_of: Annotated[str | None, typer.Option(help="Rating date (periodic rating).")] = None,
    data: Annotated[Path, typer.Option(help="Clean data set (tiering load --out).")] = Path(
        "data/clean"),
    customer: Annotated[str | None, typer.Option(
        help="Special rating (特殊评级) of this one customer, now.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (required for a special rating).")
                      ] = None,
    scheme: Annotated[str | None, typer.Option(help="Grade scheme (default: grades.yaml's).")
                      ] = None,
    horizon_days: Annotated[int | None, typer.Option(
        min=1, help="Horizon of the champion models to use (as trained with --horizon-days).")
    ] = None,
    lang: Annotated[str, typer.Option(help="zh or en for the printed grades.")] = "zh",
) -> None:
    """Grade, explain and store every customer as of a date, or one customer with --customer."""
    from customer_tiering.rating.runs import run_periodic_rating, run_special_rating

    settings = get_settings()
    with _progress() as progress:
        task = progress.add_task("rating", total=None)

        def step(message: str) -> None:
            progress.update(task, description=message)

        def rows(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        if customer is not None:
            if reason is None:
                raise TieringError("--reason is required with --customer (a special rating "
                                   "records why)")
            result = run_special_rating(customer_id=customer, reason=reason, settings=settings,
                                        data_dir=data, as_of=_parse_day(as_of, "--as-of"),
                                        scheme=scheme, horizon_days=horizon_days, step=step)
        else:
            day = _parse_day(as_of, "--as-of")
            if day is None:
                raise TieringError("--as-of is required for a periodic rating (or give "
                                   "--customer ID --reason TEXT for a special one)")
            result = run_periodic_rating(as_of=day, settings=settings, data_dir=data,
                                         scheme=scheme, horizon_days=horizon_days, step=step,
                                         progress=rows)
        progress.update(task, description="done", total=1, completed=1)
    record = result.record
    if result.seconds:
        console.print("seconds by stage: " + ", ".join(f"{k} {v:.1f}" for k, v in
                                                        result.seconds.items()), highlight=False)
    if not result.created:
        console.print(f"rating {record.id} with the same data, configs and models is already "
                      "stored; nothing written")
    store = _store()
    try:
        if customer is not None:
            row = store.customer_grade(customer, record.id)
            label = record.grade_labels.get(row["grade"], {}).get(lang, row["grade"])
            console.print(f"customer {customer}: [bold]{label}[/] (total {row['total']:.1f}, "
                          f"previously {row['previous_grade'] or '-'})")
            console.print(row["reason_zh" if lang == "zh" else "reason_en"], highlight=False)
        else:
            console.print(_grade_table(store, record.id, lang))
            warnings = [d for d in record.drift if d["warning"]]
            for d in warnings:
                console.print(f"[yellow]drift warning[/] {d['source']} {d['column']}: PSI "
                              f"{d['psi']:.2f} > 0.2 against the training snapshot")
    finally:
        store.close()
    console.print(f"tier store: {settings.tier_store_url()} (rating {record.id}); next: "
                  f"`tiering ratings show {record.id}`, `tiering export --rating {record.id} "
                  "--format xlsx`", soft_wrap=True)


ratings_app = typer.Typer(help="Stored ratings: list, summaries, history.", no_args_is_help=True)
app.add_typer(ratings_app, name="ratings")


@ratings_app.command("list")
@user_errors
def ratings_list() -> None:
    """List the stored ratings, newest first."""
    store = _store()
    try:
        frame = store.ratings()
    finally:
        store.close()
    table = Table(title="ratings")
    for col in ("id", "kind", "as_of", "scheme", "customers", "customer", "reason", "created"):
        table.add_column(col)
    for r in frame.itertuples():
        table.add_row(str(r.id), str(r.kind), str(r.as_of), str(r.scheme), f"{r.customer_count:,}",
                      r.customer_id if isinstance(r.customer_id, str) else "",
                      r.reason if isinstance(r.reason, str) else "", str(r.created_at)[:19])
    console.print(table)


@ratings_app.command("show")
@user_errors
def ratings_show(
    rating: Annotated[int, typer.Argument(help="Rating id (tiering ratings list).")],
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
) -> None:
    """Grade shares (the 80/20 check), migration from the previous rating, drift."""
    store = _store()
    try:
        record = store.rating(rating)
        console.print(_grade_table(store, rating, lang))
        previous = store.previous_periodic(rating) if record.kind == "periodic" else None
        if previous is not None:
            matrix = store.migration_matrix(previous.id, rating)
            table = Table(title=f"migration: rating {previous.id} ({previous.as_of}) -> "
                                f"{rating} ({record.as_of})")
            table.add_column("from \\ to")
            for col in matrix.columns:
                table.add_column(str(col), justify="right")
            for grade, row in matrix.iterrows():
                table.add_row(str(grade), *(f"{v:,}" for v in row.to_numpy()))
            console.print(table)
        if record.drift:
            drift = Table(title="drift against the training snapshot (PSI; warning above 0.2)")
            for col in ("model", "column", "psi"):
                drift.add_column(col, justify="right" if col == "psi" else "left")
            for d in record.drift[:15]:
                style = "yellow" if d["warning"] else ""
                drift.add_row(d["source"], d["column"], f"{d['psi']:.3f}", style=style)
            console.print(drift)
    finally:
        store.close()


@ratings_app.command("history")
@user_errors
def ratings_history(customer: Annotated[str, typer.Argument(help="Customer id.")]) -> None:
    """Every grade a customer was given."""
    store = _store()
    try:
        frame = store.customer_history(customer)
    finally:
        store.close()
    if frame.empty:
        raise TieringError(f"customer {customer!r} has no grade in the tier store")
    table = Table(title=f"grades of {customer}")
    for col in ("rating", "kind", "as_of", "total", "grade", "reason"):
        table.add_column(col)
    for r in frame.itertuples():
        reason = r.reason if isinstance(r.reason, str) else ""  # missing reasons come back as NaN
        table.add_row(str(r.rating_id), str(r.kind), str(r.as_of), f"{r.total:.1f}", str(r.grade),
                      reason)
    console.print(table)


@app.command("export")
@user_errors
def export_command(
    rating: Annotated[int | None, typer.Option(help="Rating id (default: the newest periodic).")
                      ] = None,
    format: Annotated[str, typer.Option("--format", help="xlsx or csv.")] = "xlsx",
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
    out: Annotated[Path | None, typer.Option(help="File to write (default: data/exports/...).")
                   ] = None,
) -> None:
    """Export a rating as a spreadsheet in seed 004's layout (one row per customer)."""
    from customer_tiering.rating.exports import export_rating

    store = _store()
    try:
        if rating is None:
            latest = store.latest_rating(kind="periodic")
            if latest is None:
                raise TieringError("the tier store holds no periodic rating; run `tiering rate "
                                   "--as-of DATE` first")
            rating = latest.id
        target = out or get_settings().data_dir / "exports" / f"rating-{rating}-{lang}.{format}"
        path = export_rating(store, rating, target, fmt=format, lang=lang)  # type: ignore[arg-type]
    finally:
        store.close()
    console.print(f"rating {rating} written to [bold]{path}[/]")


# --- the API ---------------------------------------------------------------------------------------
@app.command("serve")
@user_errors
def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Worker processes (each loads the models and polls the registry; "
                            "one per core for what-if scoring, which is CPU-bound).")] = 1,
) -> None:
    """Serve the API (and pages) with uvicorn: grades, explanations, what-if, reviews."""
    import uvicorn

    console.print(f"serving on http://{host}:{port} (OpenAPI at /docs) with {workers} "
                  f"worker(s); store {get_settings().tier_store_url()}", soft_wrap=True)
    uvicorn.run("customer_tiering.api.asgi:app", host=host, port=port, log_level=log_level,
                access_log=False, workers=workers)


keys_app = typer.Typer(help="API keys with roles: viewer, reviewer, admin.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
@user_errors
def keys_create(
    role: Annotated[str, typer.Option(help="viewer (sales ops), reviewer or admin.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "unnamed",
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from customer_tiering.store.keys import create_key

    store = _store()
    try:
        key = create_key(store, role, name)
    finally:
        store.close()
    err_console.print(f"{role} key for {name!r}; it is shown only now:")
    typer.echo(key)


@keys_app.command("list")
@user_errors
def keys_list() -> None:
    """Key ids, roles and names (never the secrets)."""
    from customer_tiering.store.keys import list_keys

    store = _store()
    try:
        rows = list_keys(store)
    finally:
        store.close()
    table = Table(title="API keys")
    for col in ("key id", "role", "name", "created", "revoked"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["key_id"]), str(r["role"]), str(r["name"]), str(r["created_at"])[:19],
                      str(r["revoked_at"] or "")[:19])
    console.print(table)


@keys_app.command("revoke")
@user_errors
def keys_revoke(key_id: Annotated[str, typer.Argument(help="Key id (tiering keys list).")]) -> None:
    """Revoke a key (it stops working within 30 seconds)."""
    from customer_tiering.store.keys import revoke_key

    store = _store()
    try:
        revoke_key(store, key_id)
    finally:
        store.close()
    console.print(f"key {key_id} revoked")
