"""The project's exceptions: specific, and each says where.

Every user-facing failure is a :class:`TieringError`; the CLI prints its message (never a stack
trace) and exits non-zero; the API maps it to a 4xx with the same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class TieringError(ValueError):
    """Base of every error this package raises on purpose.

    ``key`` and ``params`` optionally name the error's message in the catalogue
    (:mod:`customer_tiering.i18n`): a page shows that message in the reader's language, while
    the CLI and the API keep the English ``message`` given here.
    """

    def __init__(self, *args: object, key: str | None = None,
                 params: dict[str, object] | None = None) -> None:
        super().__init__(*args)
        self.key = key
        self.params = params or {}


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file.

    ``row`` is the 1-based data row as a person sees it in the file (the header is row 0 for CSV
    and XLSX files, so row 1 is the first data row); ``None`` when the problem is file-wide.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        value = "" if self.value is None else f" {self.value!r}:"
        return f"{', '.join(where)}:{value} {self.rule}"


class InputError(TieringError):
    """Input data that cannot be used, with every problem found (not just the first)."""

    def __init__(self, problems: Sequence[Problem], summary: str | None = None) -> None:
        self.problems = list(problems)
        head = summary or f"{len(self.problems)} problem(s) in the input"
        lines = [head, *(f"  - {p}" for p in self.problems[:50])]
        if len(self.problems) > 50:
            lines.append(f"  ... and {len(self.problems) - 50} more (see the rejects file)")
        super().__init__("\n".join(lines))


class TooManyRejectsError(InputError):
    """More rows were rejected than the configured share allows; nothing was written."""


class ConfigError(TieringError):
    """A configuration file that does not validate: names the file, the field path and the line."""

    def __init__(self, file: str, field: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.field = field
        self.line = line
        self.message = message
        where = f"{file}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {field}: {message}")


class ModelMismatchError(TieringError):
    """A model was trained with another feature set or configuration than the one in use."""
