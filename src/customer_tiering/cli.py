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
