"""``tiering scorecard check|show|apply``: the rule-based scorecard, grade schemes and service
policies, read from the settings' config folder (``TIERING_CONFIG_DIR``) unless files are given."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from customer_tiering.cli._common import Lang, console
from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import get_settings
from customer_tiering.i18n.catalogue import code, text

if TYPE_CHECKING:
    import pandas as pd

    from customer_tiering.scoring.criteria import Band, ScorecardConfig
    from customer_tiering.scoring.grading import GradeScheme
    from customer_tiering.scoring.ruleset import RuleSet

app = typer.Typer(help="The rule-based scorecard, grade schemes and service policies.",
                  no_args_is_help=True)


@app.command("check")
def scorecard_check(
    files: Annotated[list[Path], typer.Argument(help="scorecard, grades or policies YAML files.")],
) -> None:
    """Validate configuration files; each kind is recognised by its fields.

    A blend is checked against the scorecard beside it, and policies against the grades given
    (else those of the config folder).
    """
    import yaml

    from customer_tiering.core.config_io import load_yaml_model
    from customer_tiering.scoring.grading import GradesConfig
    from customer_tiering.scoring.policies import PoliciesConfig, check_policies_cover_grades
    from customer_tiering.scoring.scorecard import ScorecardConfig

    config_dir = get_settings().config_dir
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
            from customer_tiering.scoring.blend import BlendConfig, check_blend_fits_card

            blend_cfg = load_yaml_model(path, BlendConfig)
            card_path = path.parent / "scorecard.yaml"
            if not card_path.exists():
                card_path = config_dir / "scorecard.yaml"
            check_blend_fits_card(blend_cfg, load_yaml_model(card_path, ScorecardConfig), str(path))
            console.print(f"[green]ok[/] {path}: blend {blend_cfg.version}, scorecard x "
                          f"{blend_cfg.scorecard_weight:g} + models "
                          f"{blend_cfg.model_max_points():g} = {blend_cfg.total:g}")
        else:
            load_yaml_model(path, ScorecardConfig)  # raises a ConfigError that names the file
    if policies is not None:
        if grades is None:
            grades = load_yaml_model(config_dir / "grades.yaml", GradesConfig)
        check_policies_cover_grades(policies[1], grades, str(policies[0]))
        console.print(f"[green]ok[/] {policies[0]}: a policy for every grade of every scheme")


@app.command("show")
def scorecard_show(
    lang: Annotated[Lang, typer.Option(help="Language of the labels.")] = Lang.zh,
    card: Annotated[Path | None, typer.Option(
        help="Scorecard YAML (default: scorecard.yaml of the config folder).")] = None,
    scheme: Annotated[str | None, typer.Option(help="Grade scheme to print.")] = None,
) -> None:
    """Print the card as a table, as a sales-ops person would pin it up, with the grades."""
    from customer_tiering.scoring.ruleset import load_ruleset

    rules = load_ruleset(get_settings().config_dir, card=card)
    console.print(_render_card(rules, lang))
    console.print(_render_scheme(rules.scheme(scheme), lang))
    if any(c.missing.policy == "provisional" for c in rules.card.criteria):
        console.print(text("sc_provisional_note", lang.value))


def _band_line(band: Band, lang: Lang) -> str:
    """``label (lower–upper): points`` of one band, open ends written ``≥`` and ``<``."""
    lo, hi = band.lower, band.upper
    span = f"≥{lo:g}" if hi is None else f"<{hi:g}" if lo is None else f"{lo:g}–{hi:g}"
    name = f"{band.label.text(lang)} " if band.label else ""
    if band.points is not None:
        pts = f"{band.points:g}"
    elif band.points_from is not None and band.points_to is not None:
        pts = f"{band.points_from:g}–{band.points_to:g}"
    else:
        pts = ""
    return f"{name}({span})" + (f": {pts}" if pts else "")


def _render_card(rules: RuleSet, lang: Lang) -> Table:
    """One row per criterion: label, maximum points, how it scores (with missing input), note."""
    from customer_tiering.scoring.scorecard import JudgementScoring, LinearScoring, StepScoring

    amounts = rules.card.amounts_in
    in_what = f" · {text('sc_amounts_in', lang.value, unit=amounts)}" if amounts else ""
    table = Table(title=f"{rules.card.name.text(lang)} (v{rules.card.version}){in_what}",
                  show_lines=True)
    for head in ("sc_criterion", "sc_points", "sc_scoring", "sc_note"):
        table.add_column(text(head, lang.value))
    for c in rules.card.criteria:
        s = c.scoring
        if isinstance(s, StepScoring | LinearScoring):
            how = "\n".join(_band_line(b, lang) for b in s.bands)
        elif isinstance(s, JudgementScoring):
            how = text("sc_judgement", lang.value, min=f"{s.min:g}", max=f"{s.max:g}") + (
                "\n" + "\n".join(_band_line(b, lang) for b in s.bands) if s.bands else "")
        else:
            how = "\n".join(f"{k}: {v:g}" for k, v in s.points.items())
        missing = {"zero": "0", "neutral": f"{c.missing.points}", "impute": f"{c.missing.value}",
                   "provisional": f"{c.missing.points or 0:g}*"}[c.missing.policy]
        how += f"\n{code('band', 'missing', lang.value)}: {missing}"
        table.add_row(c.label.text(lang), f"{c.max_points:g}", how,
                      c.note.text(lang) if c.note else "")
    return table


def _render_scheme(chosen: GradeScheme, lang: Lang) -> Table:
    """One row per grade of a scheme with the rule that gives it, best grade first."""
    grades = Table(title=chosen.label.text(lang))
    grades.add_column(text("sc_grade", lang.value))
    grades.add_column(text("sc_total" if chosen.method == "thresholds" else "sc_rule", lang.value))
    for i, g in enumerate(chosen.grades):
        if chosen.method == "thresholds":
            upper = chosen.grades[i - 1].min_total if i else None
            rule = (f"≥{g.min_total:g}" if upper is None else
                    f"<{upper:g}" if g.min_total is None else f"{g.min_total:g}–{upper:g}")
        elif chosen.method == "rank_quota":
            rule = text("sc_rank_quota", lang.value, share=f"{g.share:.0%}")
        else:
            rule = (text("sc_revenue_quota", lang.value, share=f"{g.revenue_share:.0%}")
                    if g.revenue_share else text("sc_rest", lang.value))
        grades.add_row(g.label.text(lang), rule)
    return grades


@app.command("apply")
def scorecard_apply(
    input: Annotated[Path, typer.Option("--input", help="Features (.csv or .parquet).")],
    out: Annotated[Path, typer.Option(help="Graded output (.csv or .parquet).")],
    scheme: Annotated[str | None, typer.Option(help="Grade scheme (default: the file's).")] = None,
    card: Annotated[Path | None, typer.Option(
        help="Scorecard YAML (default: scorecard.yaml of the config folder).")] = None,
    points_table: Annotated[Path | None, typer.Option(help="Also write the long points table.")
                            ] = None,
    lang: Annotated[Lang, typer.Option(help="Language of the labels.")] = Lang.zh,
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
    rules = load_ruleset(get_settings().config_dir, card=card)
    used = {c.feature for c in rules.card.criteria}
    absent = sorted(used - set(frame.columns))
    if absent:
        console.print(f"[yellow]warning[/] {input}: no column {', '.join(absent)}; "
                      "the criterion's missing-input policy applies to every customer")
    graded, scores = grade(frame, rules, scheme=scheme, lang=lang.value)
    write_frame(graded, out)
    if points_table is not None:
        write_frame(scores.table(lang.value), points_table)
    console.print(_render_grade_counts(graded))
    console.print(f"written to [bold]{out}[/]")


def _render_grade_counts(graded: pd.DataFrame) -> Table:
    """Customers per grade label, most customers first."""
    summary = Table(title=f"{len(graded):,} customers graded")
    summary.add_column("grade")
    summary.add_column("customers", justify="right")
    for label, n in graded["grade_label"].value_counts().items():
        summary.add_row(str(label), f"{n:,}")
    return summary


@app.command("fit")
def scorecard_fit(
    data: Annotated[Path, typer.Option(help="Clean data set (tiering load --out).")],
    as_of: Annotated[str, typer.Option(help="Date of the point-in-time features fitted on.")],
    card: Annotated[Path | None, typer.Option(
        help="Scorecard YAML to fit (default: scorecard.yaml of the config folder).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Write the fitted card here, and the fitted blend as blend.yaml beside it (with "
             "grades.yaml and policies.yaml copied when the folder lacks them); without it "
             "the proposal is only printed.")] = None,
    method: Annotated[str, typer.Option(
        help="quantile: edges at the shares of customers the card's edges stand for; "
             "supervised: where the churn rate after as_of changes most; locate: keep the "
             "edges, record where they sit.")] = "quantile",
    horizon_days: Annotated[int, typer.Option(
        min=1, help="Churn window after as_of (--method supervised).")] = 90,
    lang: Annotated[Lang, typer.Option(help="Language of the labels.")] = Lang.zh,
) -> None:
    """Propose band edges and value anchors from a book's own data, beside the current card."""
    import shutil

    from customer_tiering.cli._common import parse_day
    from customer_tiering.core.config_io import load_yaml_model
    from customer_tiering.scoring.blend import BlendConfig, check_blend_fits_card
    from customer_tiering.scoring.card_fit import fit_card
    from customer_tiering.scoring.card_yaml import blend_yaml, card_yaml
    from customer_tiering.scoring.criteria import ScorecardConfig

    if method not in ("quantile", "supervised", "locate"):
        raise TieringError(f"--method {method!r}: use quantile, supervised or locate")
    day = parse_day(as_of, "--as-of")
    assert day is not None
    config_dir = get_settings().config_dir
    card_path = card or config_dir / "scorecard.yaml"
    blend_path = card_path.parent / "blend.yaml"
    if not blend_path.exists():
        blend_path = config_dir / "blend.yaml"
    current = load_yaml_model(card_path, ScorecardConfig)
    blend = load_yaml_model(blend_path, BlendConfig)
    features, fingerprint, churned = _fit_inputs(data, day, method, horizon_days)
    description = f"{data} ({len(features):,} customers), features as of {day}"
    fit = fit_card(features, current, blend, as_of=day, description=description,
                   method=method, churned=churned, data_fingerprint=fingerprint)  # type: ignore[arg-type]
    console.print(_render_fit(fit.table, current, fit.card, lang))
    for note in fit.notes:
        console.print(f"[yellow]note[/] {note}", highlight=False, soft_wrap=True)
    if out is None:
        console.print("nothing written; give --out FILE to write the fitted card")
        return
    header = [f"{fit.card.name.en}, fitted by `tiering scorecard fit --method {method}` from "
              f"{card_path.name} v{current.version}",
              f"on {description}.",
              "Criteria, points, band counts and grade scheme are the original's; only band edges "
              "and value anchors moved.",
              f"Check: tiering scorecard check {out}"]
    check_blend_fits_card(fit.blend, fit.card, str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(card_yaml(fit.card, header), encoding="utf-8")
    blend_out = out.parent / "blend.yaml"
    blend_out.write_text(blend_yaml(fit.blend, header), encoding="utf-8")
    copied = []
    for name in ("grades.yaml", "policies.yaml"):
        if not (out.parent / name).exists():
            shutil.copyfile(config_dir / name, out.parent / name)
            copied.append(name)
    console.print(f"written: {out}, {blend_out}" + (f"; copied {', '.join(copied)}" if copied
                                                    else ""))
    console.print(f"next: `tiering scorecard check {out} {blend_out}`; rate with it: "
                  f"`TIERING_CONFIG_DIR={out.parent} tiering rate --as-of {day} --data {data}`",
                  soft_wrap=True, highlight=False)


def _fit_inputs(data: Path, day: Any, method: str, horizon_days: int
                ) -> tuple[pd.DataFrame, str, Any]:
    """Features at ``day`` and, for a supervised fit, each customer's churn label after it."""
    import pandas as pd

    from customer_tiering.features.compute import compute_labels
    from customer_tiering.rating.runs import clean_data_and_fingerprint, rating_features

    inputs, fingerprint = clean_data_and_fingerprint(data)
    features = rating_features(inputs, day)
    if features.empty:
        raise TieringError(f"{data}: no customer has data on or before {day}")
    churned = None
    if method == "supervised":
        last = pd.read_parquet(inputs.transactions, columns=["order_date"])["order_date"].max()
        if pd.Timestamp(last).date() < day + pd.Timedelta(days=horizon_days):
            raise TieringError(f"--method supervised needs {horizon_days} days of data after "
                               f"{day}; {data} ends on {pd.Timestamp(last).date()} (choose an "
                               "earlier --as-of or use --method quantile)")
        labels = compute_labels(inputs.transactions, inputs.customers, as_of=day,
                                horizon_days=horizon_days)
        labels["customer_id"] = labels["customer_id"].astype(str)
        churned = (features[["customer_id"]].merge(labels, on="customer_id", how="left")
                   ["churned"].fillna(1).to_numpy(dtype=int))
    return features, fingerprint, churned


def _render_fit(table: pd.DataFrame, current: ScorecardConfig, fitted: ScorecardConfig,
                lang: Lang) -> Table:
    """Criterion, band, current and proposed lower edge, share of customers per band now and
    after (the criterion and its feature named on its first band's row)."""
    zh = lang is Lang.zh
    amounts = f" · {current.amounts_in}" if current.amounts_in else ""
    out = Table(title=("评分卡分档建议：各档下限及客户占比" if zh else
                       "proposed band edges: lower edge and share of customers per band")
                + amounts)
    for head in (("指标", "criterion"), ("档", "band"), ("当前", "now"), ("建议", "proposed"),
                 ("当前占比", "share now"), ("建议后", "after")):
        out.add_column(head[0] if zh else head[1], justify="left" if head[1] in (
            "criterion", "band") else "right", overflow="fold",
            no_wrap=head[1] not in ("criterion", "band"))

    def edge(v: Any) -> str:
        return "-" if v is None or v != v else f"{v:,.6g}"

    shown = None
    for row in table.itertuples():
        name = "" if row.criterion == shown else f"{row.criterion}\n({row.feature})"
        shown = row.criterion
        out.add_row(name, str(row.band), edge(row.current_edge), edge(row.proposed_edge),
                    f"{row.share_now:.1%}", f"{row.share_after:.1%}")
    return out
