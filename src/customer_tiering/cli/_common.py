"""What every command module shares: the consoles, progress bars, day parsing, the tier store
context, the option enums and the one place a :class:`TieringError` becomes exit code 2.

Heavy imports (pandas through the tier store, MLflow, uvicorn) stay inside functions, so that
``tiering --help`` and ``tiering version`` start quickly.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, overload

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
from typer.core import TyperGroup

from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import get_settings

if TYPE_CHECKING:
    from customer_tiering.store.tier_store import TierStore

__all__ = [
    "USER_ERROR_EXIT_CODE",
    "Format",
    "Lang",
    "TieringGroup",
    "console",
    "err_console",
    "open_store",
    "parse_day",
    "progress_bar",
    "rows_progress",
]

console = Console()
err_console = Console(stderr=True)

# Click also exits with 2 on a usage error; 1 is left for crashes.
USER_ERROR_EXIT_CODE = 2


class Lang(StrEnum):
    """Language of printed labels, reasons and exports; Click refuses any other value."""

    zh = "zh"
    en = "en"


class Format(StrEnum):
    """Spreadsheet format of an export; Click refuses any other value."""

    xlsx = "xlsx"
    csv = "csv"


class TieringGroup(TyperGroup):
    """The root command group: a :class:`TieringError` raised by any command below it, in a
    sub-group too, is printed as one red ``error:`` line on stderr and exits with code 2.

    The sub-command runs inside the root group's :meth:`invoke`, so catching here covers every
    command, under the console script and under ``typer.testing.CliRunner`` alike. A database
    that stops answering midway (server stopped, connection dropped) is told the same way: it is
    the environment failing, not our code, and the one transaction it cut short was rolled back.
    Other exceptions pass through: a crash keeps its traceback and exit code 1.
    """

    # ``Any``: the Context class is Click's, or Typer's vendored copy of Click in newer Typers.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except TieringError as exc:
            message = str(exc)
        except Exception as exc:
            lost = _database_failure(exc)
            if lost is None:
                raise
            message = (f"the database failed midway: {lost}; the write in progress was rolled "
                       "back, nothing half-done is kept: run the command again once the "
                       "database answers")
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False,
                          soft_wrap=True)
        raise typer.Exit(code=USER_ERROR_EXIT_CODE) from None


def _database_failure(exc: BaseException) -> str | None:
    """The driver's first line when ``exc`` is a database connection failing (SQLAlchemy's
    ``OperationalError`` or ``InterfaceError``), else None. SQLAlchemy is looked up, not imported:
    a command that never loaded it cannot have raised its errors."""
    errors = sys.modules.get("sqlalchemy.exc")
    if errors is None or not isinstance(exc, errors.OperationalError | errors.InterfaceError):
        return None
    words = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return words[0] if words else type(exc).__name__


@overload
def parse_day(value: str, option: str) -> date: ...
@overload
def parse_day(value: None, option: str) -> None: ...
@overload
def parse_day(value: str | None, option: str) -> date | None: ...
def parse_day(value: str | None, option: str) -> date | None:
    """Read a ``YYYY-MM-DD`` option value (``None`` stays ``None``).

    Raises
    ------
    TieringError
        Naming ``option`` and the value when it is not such a date.
    """
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise TieringError(f"{option}: {value!r} is not a date written YYYY-MM-DD") from None


@contextlib.contextmanager
def progress_bar() -> Iterator[Progress]:
    """A Rich progress display on the standard console (spinner, bar, done of total, time)."""
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


def rows_progress(progress: Progress) -> Callable[[str, int, int | None], None]:
    """A progress callback with one bar per file (rows read of the file's rows, when known)."""
    tasks: dict[str, Any] = {}

    def advance(source: str, rows: int, total: int | None) -> None:
        if source not in tasks:
            tasks[source] = progress.add_task(f"validating {escape(source)}", total=total)
        progress.update(tasks[source], completed=rows)

    return advance


def open_store() -> TierStore:
    """Open (and migrate) the tier store the settings name; use it as ``with open_store() as
    store:`` so that its connections are released however the command ends."""
    from customer_tiering.store.tier_store import TierStore

    return TierStore.open(get_settings().tier_store_url())
