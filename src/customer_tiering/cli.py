"""The ``tiering`` command line (Typer). Commands are thin: they call use-case functions.

A :class:`~customer_tiering.errors.TieringError` is printed as a clear message with a non-zero exit,
never as a stack trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from customer_tiering import __version__
from customer_tiering.errors import TieringError

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
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            raise typer.Exit(code=2) from None

    return wrapper


@app.command()
def version() -> None:
    """Print the package version."""
    console.print(__version__)


# --- tracking commands ---
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
    from customer_tiering import registry
    from customer_tiering.settings import get_settings
    from customer_tiering.tracking import use_store

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
    from customer_tiering import registry
    from customer_tiering.settings import get_settings
    from customer_tiering.tracking import use_store

    with use_store(get_settings()) as client:
        restored = registry.rollback(client, name, reason=reason)
    console.print(f"{name}: version {restored} is champion again")
