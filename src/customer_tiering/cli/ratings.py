"""Rating commands: ``rate`` (periodic or special), ``export``, and the ``ratings`` group
(``list``, ``show``, ``history``) over the tier store, with the tables they print."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from customer_tiering.cli._common import Format, Lang, console, open_store, parse_day, progress_bar
from customer_tiering.cli._engine import EngineOption, SparkMasterOption, choose_engine
from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import get_settings
from customer_tiering.i18n.catalogue import code, grade_name, text
from customer_tiering.i18n.numbers import number, percent, points

if TYPE_CHECKING:
    import pandas as pd

    from customer_tiering.store.tier_store import RatingRecord, TierStore

app = typer.Typer()
ratings_app = typer.Typer(help="Stored ratings: list, summaries, history.", no_args_is_help=True)

# `ratings show` lists the largest drifts only; the full list is in the tier store.
_DRIFT_ROWS = 15
# The language of printed tables: --lang, else TIERING_LANG, else Chinese.
_LANG_ENV = "TIERING_LANG"


def render_grade_table(store: TierStore, rating_id: int, lang: str) -> Table:
    """Customers, customer share and revenue share per grade of a stored rating (the 80/20
    check), grade labels in ``lang``."""
    record = store.rating(rating_id)
    shares = store.grade_shares(rating_id)
    table = Table(title=text("cli_rating_title", lang, id=record.id,
                             kind=code("rating_kind", record.kind, lang), as_of=record.as_of,
                             customers=number(record.customer_count)))
    for i, key in enumerate(("grade", "cli_customers", "cli_share", "cli_revenue_share")):
        table.add_column(text(key, lang), justify="left" if i == 0 else "right")
    for row in shares.itertuples():
        table.add_row(grade_name(record.grade_labels, row.grade, lang), number(row.customers),
                      percent(row.customer_share), percent(row.revenue_share))
    return table


@app.command("rate")
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
    lang: Annotated[Lang, typer.Option(help="Language of the printed grades.",
                                       envvar=_LANG_ENV)] = Lang.zh,
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
) -> None:
    """Grade, explain and store every customer as of a date, or one customer with --customer.

    --data may name catalog tables with --engine spark (spark:catalog.db); a special rating
    (one customer) always runs embedded."""
    from customer_tiering.rating.runs import run_periodic_rating, run_special_rating

    settings = get_settings()
    chosen = choose_engine(engine, spark_master, settings)
    with progress_bar() as progress:
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
                                        data_dir=data, as_of=parse_day(as_of, "--as-of"),
                                        scheme=scheme, horizon_days=horizon_days, step=step)
        else:
            day = parse_day(as_of, "--as-of")
            if day is None:
                raise TieringError("--as-of is required for a periodic rating (or give "
                                   "--customer ID --reason TEXT for a special one)")
            if chosen.engine == "spark":
                from customer_tiering.engines.spark_rating import run_periodic_rating_spark
                from customer_tiering.engines.spark_session import parse_spark_conf

                result = run_periodic_rating_spark(
                    as_of=day, settings=settings, data=str(data), scheme=scheme,
                    horizon_days=horizon_days, master=chosen.master,
                    conf=parse_spark_conf(chosen.conf), step=step, progress=rows)
            else:
                result = run_periodic_rating(as_of=day, settings=settings, data_dir=data,
                                             scheme=scheme, horizon_days=horizon_days,
                                             step=step, progress=rows)
        progress.update(task, description="done", total=1, completed=1)
    record = result.record
    say = lang.value
    if result.seconds:
        console.print(text("rate_seconds", say, stages=text("list_sep", say).join(
            f"{code('stage', k, say)} {number(v, 1)}" for k, v in result.seconds.items())),
            highlight=False, soft_wrap=True)
    if not result.created:
        console.print(text("rate_already_stored", say, rating=record.id), soft_wrap=True,
                      highlight=False)
    with open_store() as store:
        if customer is not None:
            _print_customer_grade(store.customer_grade(customer, record.id), record, customer,
                                  lang)
        else:
            console.print(render_grade_table(store, record.id, say))
            console.print(render_checks(record.checks, say))
            if record.drift:
                from rich.markup import escape

                style = "yellow" if any(d["warning"] for d in record.drift) else "green"
                console.print(f"[{style}]{escape(drift_line(record.drift, say))}[/]"
                              + escape(text("rate_drift_details", say, rating=record.id)),
                              soft_wrap=True, highlight=False)
    console.print(text("rate_next", say, store=settings.tier_store_url(), rating=record.id),
                  soft_wrap=True, highlight=False)


def drift_line(entries: list[dict[str, Any]], lang: str = "zh") -> str:
    """One line for a rating's drift in ``lang`` (:func:`models.drift.drift_summary`'s content):
    how many model inputs shifted above the PSI warning, the largest three, and which changed
    between known and missing."""
    from customer_tiering.models.drift import PSI_WARNING

    sep = text("list_sep", lang)
    columns = {str(r["column"]) for r in entries}
    shifted: dict[str, float] = {}  # column -> largest PSI over the models that profile it
    for r in entries:
        if r.get("change") is None and r["warning"]:
            shifted[str(r["column"])] = max(shifted.get(str(r["column"]), 0.0), float(r["psi"]))
    if shifted:
        top = sep.join(f"{_column_name(c, lang)} {number(v, 2)}" for c, v in
                       sorted(shifted.items(), key=lambda cv: -cv[1])[:3])
        parts = [text("drift_shifted", lang, n=len(shifted), total=len(columns),
                      psi=number(PSI_WARNING, 2, trim=True),
                      top=top + (sep + "…" if len(shifted) > 3 else ""))]
    else:
        parts = [text("drift_none", lang, total=len(columns),
                      psi=number(PSI_WARNING, 2, trim=True))]
    for kind in ("known -> unknown", "unknown -> known"):
        names = sorted({str(r["column"]) for r in entries if r.get("change") == kind})
        if names:
            parts.append(text("drift_changed", lang, n=len(names),
                              change=code("drift_change", kind, lang),
                              columns=sep.join(_column_name(c, lang) for c in names)))
    return text("drift_line", lang, parts=text("reason_separator", lang).join(parts))


def _column_name(column: str, lang: str) -> str:
    """A model input's name in words (the column name when none is known)."""
    from customer_tiering.ingest.contract import FEATURE_LABELS

    names = FEATURE_LABELS.get(column)
    return names[0 if lang == "zh" else 1] if names else code("column", column, lang)


def _print_customer_grade(row: dict[str, Any], record: RatingRecord, customer: str,
                          lang: Lang) -> None:
    """A special rating's outcome: the grade, its total, the grade before, and the reason."""
    label = grade_name(record.grade_labels, row["grade"], lang.value)
    before = grade_name(record.grade_labels, row["previous_grade"], lang.value) or "-"
    console.print(f"{text('customer', lang.value)} {customer}: [bold]{label}[/] "
                  f"({text('total', lang.value)} {points(row['total'], 1)}, "
                  f"{text('previous', lang.value)} {before})")
    console.print(row["reason_zh" if lang is Lang.zh else "reason_en"], highlight=False)


@app.command("export")
def export_command(
    rating: Annotated[int | None, typer.Option(help="Rating id (default: the newest periodic).")
                      ] = None,
    file_format: Annotated[Format, typer.Option("--format", help="Spreadsheet format.")
                           ] = Format.xlsx,
    lang: Annotated[Lang, typer.Option(help="Language of the headers and labels.",
                                       envvar=_LANG_ENV)] = Lang.zh,
    out: Annotated[Path | None, typer.Option(help="File to write (default: data/exports/...).")
                   ] = None,
) -> None:
    """Export a rating as a spreadsheet in seed 004's layout (one row per customer)."""
    from customer_tiering.rating.exports import export_rating

    with open_store() as store:
        if rating is None:
            latest = store.latest_rating(kind="periodic")
            if latest is None:
                raise TieringError("the tier store holds no periodic rating; run `tiering rate "
                                   "--as-of DATE` first")
            rating = latest.id
        target = out or (get_settings().data_dir / "exports" /
                         f"rating-{rating}-{lang.value}.{file_format.value}")
        path = export_rating(store, rating, target, fmt=file_format.value, lang=lang.value)
    console.print(f"rating {rating} written to [bold]{path}[/]")


@ratings_app.command("list")
def ratings_list(
    lang: Annotated[Lang, typer.Option(help="Language of the headers and names.",
                                       envvar=_LANG_ENV)] = Lang.zh,
) -> None:
    """List the stored ratings, newest first."""
    with open_store() as store:
        frame = store.ratings()
    console.print(_render_ratings(frame, lang.value))


def _render_ratings(frame: pd.DataFrame, lang: str = "zh") -> Table:
    """One row per stored rating; a periodic rating has no customer and no reason."""
    table = Table(title=text("cli_ratings_title", lang))
    # the short columns never wrap (an 80-column terminal once read "period…"); the free text
    # (scheme, customer, reason, time) folds into the room left
    for key in ("cli_rating", "cli_kind", "cli_as_of", "cli_scheme", "cli_customers", "customer",
                "reason", "cli_created"):
        short = key in ("cli_rating", "cli_kind", "cli_as_of", "cli_customers", "customer")
        table.add_column(text(key, lang), no_wrap=short, overflow="ellipsis" if short else "fold")
    for r in frame.itertuples():
        table.add_row(str(r.id), code("rating_kind", r.kind, lang), str(r.as_of),
                      code("scheme", r.scheme, lang), number(r.customer_count),
                      r.customer_id if isinstance(r.customer_id, str) else "",
                      r.reason if isinstance(r.reason, str) else "", str(r.created_at)[:16])
    return table


@ratings_app.command("show")
def ratings_show(
    rating: Annotated[int, typer.Argument(help="Rating id (tiering ratings list).")],
    lang: Annotated[Lang, typer.Option(help="Language of the grade labels.",
                                       envvar=_LANG_ENV)] = Lang.zh,
) -> None:
    """Grade shares (the 80/20 check), migration from the previous rating, drift."""
    with open_store() as store:
        record = store.rating(rating)
        console.print(render_grade_table(store, rating, lang.value))
        if record.kind == "periodic":
            console.print(render_checks(record.checks, lang.value))
        previous = store.previous_periodic(rating) if record.kind == "periodic" else None
        if previous is not None:
            matrix = store.migration_matrix(previous.id, rating)
            console.print(_render_migration(matrix, previous, record, lang.value))
    if record.drift:
        console.print(_render_drift(record.drift[:_DRIFT_ROWS], lang.value))


def _render_migration(matrix: pd.DataFrame, previous: RatingRecord, record: RatingRecord,
                      lang: str = "zh") -> Table:
    """Customers by grade in the previous periodic rating (rows) and in this one (columns),
    grades by name in ``lang``."""
    table = Table(title=text("cli_migration_title", lang, previous=previous.id,
                             previous_as_of=previous.as_of, id=record.id, as_of=record.as_of))
    table.add_column(text("cli_from_to", lang))
    from customer_tiering.store.tier_store import GONE, NEW

    labels = {**previous.grade_labels, **record.grade_labels}
    words = {c: code("migration", c, lang) for c in (NEW, GONE)}
    for col in matrix.columns:
        table.add_column(words.get(str(col)) or grade_name(labels, col, lang), justify="right")
    for grade, row in matrix.iterrows():
        table.add_row(words.get(str(grade)) or grade_name(labels, grade, lang),
                      *(number(v) for v in row.to_numpy()))
    return table


def render_checks(checks: list[dict[str, Any]] | None, lang: str) -> Table:
    """The rating's sanity checks (:mod:`customer_tiering.rating.checks`): each with what it
    found and, when it failed, the likely fix."""
    table = Table(title=text("cli_checks", lang))
    for col in (text("cli_check", lang), "", text("cli_finding", lang)):
        table.add_column(col, overflow="fold")
    for c in checks or []:
        finding = c["message"].get(lang, c["message"]["en"])
        if c.get("fix"):
            finding += "\n→ " + c["fix"].get(lang, c["fix"]["en"])
        state = ("[green]" + code("check_state", "ok", lang) + "[/]" if c["passed"]
                 else "[yellow]" + code("check_state", "warning", lang) + "[/]")
        table.add_row(code("check", c["id"], lang), state, finding,
                      style="" if c["passed"] else "yellow")
    if not checks:
        table.add_row("-", "", text("cli_no_checks", lang))
    return table


def _render_drift(drift: list[dict[str, Any]], lang: str = "zh") -> Table:
    """PSI of each model input against the training snapshot; warnings in yellow."""
    table = Table(title=text("cli_drift_title", lang))
    table.add_column(text("cli_model", lang))
    table.add_column(text("cli_column", lang))
    table.add_column("PSI", justify="right")
    for d in drift:
        shown = (code("drift_change", d["change"], lang) if d.get("change")
                 else number(d["psi"], 3))
        table.add_row(code("model", d["source"], lang), _column_name(d["column"], lang), shown,
                      style="yellow" if d["warning"] else "")
    return table


@ratings_app.command("history")
def ratings_history(
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    lang: Annotated[Lang, typer.Option(help="Language of the grade names and headers.",
                                       envvar=_LANG_ENV)] = Lang.zh,
) -> None:
    """Every grade a customer was given."""
    with open_store() as store:
        frame = store.customer_history(customer)
        if frame.empty:
            raise TieringError(f"customer {customer!r} has no grade in the tier store")
        labels = {i: store.rating(i).grade_labels
                  for i in set(frame["rating_id"].astype(int).tolist())}
    console.print(_render_history(frame, customer, lang.value, labels))


def _render_history(frame: pd.DataFrame, customer: str, lang: str = "zh",
                    labels: dict[int, dict[str, dict[str, str]]] | None = None) -> Table:
    """One row per grade the customer was given, in the store's order; grades by name in
    ``lang`` (``labels``: each rating's grade labels)."""
    table = Table(title=text("cli_history_title", lang, customer=customer))
    for key in ("cli_rating", "cli_kind", "cli_as_of", "total", "grade", "reason"):
        table.add_column(text(key, lang))
    for r in frame.itertuples():
        reason = r.reason if isinstance(r.reason, str) else ""  # missing reasons come back as NaN
        grade = grade_name((labels or {}).get(int(str(r.rating_id)), {}), r.grade, lang)
        table.add_row(str(r.rating_id), code("rating_kind", r.kind, lang), str(r.as_of),
                      points(r.total, 1), grade, reason)
    return table
