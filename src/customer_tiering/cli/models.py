"""Model commands: ``train`` a job, ``promote`` a version to champion by hand, ``rollback``.

MLflow is imported inside the commands: it takes seconds to import, and ``tiering --help`` or
``tiering version`` should not pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from customer_tiering.cli._common import console, parse_day, progress_bar
from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import get_settings

if TYPE_CHECKING:
    from customer_tiering.models.spec import TrainingConfig
    from customer_tiering.training.jobs import JobResult

app = typer.Typer()

_JOBS = ("segments", "churn", "value")


@app.command("mlflow-ui")
def mlflow_ui_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 5000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """MLflow's UI on the model store, opening a new browser on the runs table (classic view)."""
    from customer_tiering.registry.mlflow_app_runner import run_mlflow_ui

    settings = get_settings()
    console.print(f"MLflow UI on {settings.mlflow_uri}: open http://{host}:{port}/ "
                  "(it opens on the runs table)", soft_wrap=True)
    run_mlflow_ui(settings.mlflow_uri, host=host, port=port)


@app.command("train")
def train_command(
    job: Annotated[str, typer.Argument(help="segments, churn, value or all.")],
    as_of: Annotated[str, typer.Option(help="Last day of data; the holdout ends here.")],
    data: Annotated[Path, typer.Option(help="Clean data set (tiering load --out).")] = Path(
        "data/clean"),
    config: Annotated[list[Path] | None, typer.Option(
        help="Training config YAML (default: <job>.yaml of the training config folder); "
             "repeat for `all`.")
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

    if job not in (*_JOBS, "all"):
        raise TieringError(f"job {job!r}: use segments, churn, value or all")
    jobs = list(_JOBS) if job == "all" else [job]
    day = parse_day(as_of, "--as-of")
    given: dict[str, TrainingConfig] = {}
    for path in config or []:
        loaded = load_yaml_model(path, TrainingConfig)
        given[loaded.job] = loaded
    settings = get_settings()
    defaults = training_configs(settings.training_config_dir) if len(given) < len(jobs) else {}
    configs = {j: given.get(j) or defaults[j] for j in jobs}
    if horizon_days is not None:
        configs = _with_horizon(configs, horizon_days)
    with progress_bar() as progress:
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
        console.print(_render_training_result(result))
        for reason in result.reasons:
            console.print(f"  {reason}", highlight=False)
    from customer_tiering.registry.mlflow_ui import ui_command

    console.print(f"MLflow store: {settings.mlflow_uri}; to see the runs: "
                  f"{ui_command(settings, results[0].experiment_id)}", soft_wrap=True)


def _with_horizon(configs: dict[str, TrainingConfig], horizon_days: int
                  ) -> dict[str, TrainingConfig]:
    """``configs`` with the churn and value label horizon replaced (segments has no label)."""
    changed = dict(configs)
    for j in ("churn", "value"):
        if j in changed:
            cfg = changed[j]
            changed[j] = cfg.model_copy(update={"data": cfg.data.model_copy(
                update={"horizon_days": horizon_days})})
    return changed


def _render_training_result(result: JobResult) -> Table:
    """The model's and the baselines' metrics on the holdout, one row per scorer."""
    table = Table(title=f"{result.model_name} version {result.version}: {result.alias}; "
                        f"serving: {result.serving}")
    table.add_column("scorer")
    for metric in result.metrics.columns:
        table.add_column(str(metric), justify="right")
    for scorer, row in result.metrics.iterrows():
        table.add_row(str(scorer), *(f"{v:.4f}" for v in row.to_numpy(dtype=float)))
    return table


@app.command()
def promote(
    name: str = typer.Argument(..., help="Registered model: tiering-segments|churn|value."),
    version: str = typer.Argument(..., help="Version number to make champion."),
    reason: str = typer.Option(..., "--reason", help="Why; kept as a tag on the version."),
) -> None:
    """Make a model version the champion by hand (recorded with reason, who and when)."""
    from customer_tiering.registry import versions as registry
    from customer_tiering.registry.tracking import use_store

    with use_store(get_settings()) as client:
        previous = registry.promote(client, name, version, reason=reason)
    was = f" (was version {previous})" if previous else ""
    console.print(f"{name}: version {version} is now champion{was}")


@app.command()
def rollback(
    name: str = typer.Argument(..., help="Registered model: tiering-segments|churn|value."),
    reason: str = typer.Option("rollback", "--reason", help="Why; kept as a tag."),
) -> None:
    """Give the champion alias back to the version that held it before."""
    from customer_tiering.registry import versions as registry
    from customer_tiering.registry.tracking import use_store

    with use_store(get_settings()) as client:
        restored = registry.rollback(client, name, reason=reason)
    console.print(f"{name}: version {restored} is champion again")
