"""Which column of the data contract each header of a file is, and which table a file holds.

A header matches a column by its canonical name, the contract's built-in Chinese and English
aliases, or a user's YAML column mapping (:class:`ColumnMapping`); matching ignores case and spaces
(:func:`customer_tiering.ingest.parsing.normalise_header`). The mapping also declares how the
files write numbers (``decimal``).

A file's table is guessed from its headers only when they say it: the required columns of
transactions or interactions, or a customer id with at least one other customers column. A file
with just a customer id (a one-column file, or one whose separator was not recognised) says
nothing and is refused, naming what each table needs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from customer_tiering.core.errors import ConfigError
from customer_tiering.ingest.contract import CUSTOMERS, INPUT_TABLES, INTERACTIONS, TRANSACTIONS, TableSpec
from customer_tiering.ingest.parsing import DecimalMark, normalise_header

__all__ = [
    "ColumnMapping",
    "column_labels",
    "detect_table",
    "headers_by_column",
    "map_headers",
    "what_tables_need",
]


class ColumnMapping(BaseModel):
    """A user's extra header spellings, per table: ``{table: {header in file: canonical}}``, and
    the decimal separator of numbers written as text (``"."``, the default, or ``","``)."""

    model_config = ConfigDict(extra="forbid")

    version: int
    decimal: DecimalMark = "."
    transactions: dict[str, str] = {}
    customers: dict[str, str] = {}
    interactions: dict[str, str] = {}

    @field_validator("transactions", "customers", "interactions")
    @classmethod
    def _targets_are_canonical(cls, value: dict[str, str], info: object) -> dict[str, str]:
        table = INPUT_TABLES[getattr(info, "field_name", "")]
        for header, target in value.items():
            if target not in table.column_names:
                raise ValueError(
                    f"{header!r} maps to {target!r}, which is not a column of {table.name} "
                    f"(columns: {', '.join(table.column_names)})"
                )
        return value

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> ColumnMapping:
        """Load and validate a mapping file.

        Parameters
        ----------
        path : str or os.PathLike
            A YAML file with ``version`` and, per table, ``{header in file: canonical name}``.

        Returns
        -------
        ColumnMapping
            The validated mapping.

        Raises
        ------
        ConfigError
            When the file is not valid YAML (with its line) or a field is wrong (with its path),
            for example a header mapped to a name that is not a column of its table.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(str(path), "(file)", f"cannot be read: {reason}") from None
        try:
            data = yaml.safe_load(text) or {}
            return cls.model_validate(data)
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise ConfigError(str(path), "(file)", f"is not valid YAML: {exc}",
                              None if line is None else line + 1) from None
        except ValidationError as exc:
            err = exc.errors()[0]
            field_path = ".".join(str(p) for p in err["loc"])
            raise ConfigError(str(path), field_path, err["msg"]) from None


def column_labels(headers: Iterable[str]) -> list[str]:
    """Unique labels for a frame's columns: each header as written, a repeat suffixed ``.1``,
    ``.2`` as pandas does. The headers as written are kept apart, so that a column named twice
    is still seen (:func:`headers_by_column`), and the first of each name keeps it.

    Parameters
    ----------
    headers : iterable of str
        The headers as written, in file order.

    Returns
    -------
    list of str
    """
    names = list(headers)
    used = set(names)
    seen: set[str] = set()
    out = []
    for name in names:
        label, count = name, 0
        while label in seen or (count and label in used):
            count += 1
            label = f"{name}.{count}"
        seen.add(label)
        out.append(label)
    return out


def _header_lookup(spec: TableSpec, mapping: ColumnMapping | None) -> dict[str, str]:
    """``{normalised header: canonical}``; the user's mapping wins over the built-in aliases."""
    lookup: dict[str, str] = {}
    for col in spec.columns:
        for name in (col.name, *col.aliases):
            lookup.setdefault(normalise_header(name), col.name)
    if mapping is not None:
        for header, target in getattr(mapping, spec.name).items():
            lookup[normalise_header(header)] = target
    return lookup


def headers_by_column(
    headers: Iterable[object], spec: TableSpec, mapping: ColumnMapping | None
) -> dict[str, list[str]]:
    """Every header of a file that names each column of ``spec``, in file order.

    Parameters
    ----------
    headers : iterable of object
        The file's headers, in file order.
    spec : TableSpec
        The table the file holds.
    mapping : ColumnMapping or None
        Extra header spellings.

    Returns
    -------
    dict of str to list of str
        ``{canonical column: [headers as written in the file]}``; more than one header for a
        column (``amount`` twice, or ``amount`` and ``金额``) is ambiguous. Headers that name no
        column are left out.
    """
    lookup = _header_lookup(spec, mapping)
    found: dict[str, list[str]] = {}
    for header in headers:
        canonical = lookup.get(normalise_header(header))
        if canonical is not None:
            found.setdefault(canonical, []).append(str(header))
    return found


def map_headers(
    headers: Iterable[object], spec: TableSpec, mapping: ColumnMapping | None
) -> dict[str, str]:
    """The headers of a file that name a column of ``spec``.

    Parameters are those of :func:`headers_by_column`.

    Returns
    -------
    dict of str to str
        ``{canonical column: header as written in the file}``; when two headers name the same
        column, the first one (loading refuses such a file, see :func:`headers_by_column`).
    """
    return {column: names[0] for column, names in headers_by_column(headers, spec, mapping).items()}


def detect_table(headers: Iterable[object], mapping: ColumnMapping | None = None
                 ) -> TableSpec | None:
    """Guess which input table a file holds from its headers.

    Parameters
    ----------
    headers : iterable of object
        The file's headers.
    mapping : ColumnMapping, optional
        Extra header spellings.

    Returns
    -------
    TableSpec or None
        Transactions when the headers hold its required columns, else interactions when they hold
        those, else customers when they hold a customer id and another customers column; None
        when they fit no table (see :func:`what_tables_need`).
    """
    headers = list(headers)
    for spec in (TRANSACTIONS, INTERACTIONS):
        if set(spec.required_columns) <= set(map_headers(headers, spec, mapping)):
            return spec
    found = set(map_headers(headers, CUSTOMERS, mapping))
    if set(CUSTOMERS.required_columns) <= found and len(found) > 1:
        return CUSTOMERS
    return None


def what_tables_need(headers: Iterable[object], mapping: ColumnMapping | None = None
                     ) -> list[str]:
    """For a file whose table cannot be told, what each table needs and the file lacks.

    Parameters
    ----------
    headers : iterable of object
        The file's headers.
    mapping : ColumnMapping, optional
        Extra header spellings.

    Returns
    -------
    list of str
        One sentence per table, e.g. ``"a transactions file needs order_date, amount"``.
    """
    headers = list(headers)
    needs = []
    for spec in (TRANSACTIONS, INTERACTIONS):
        missing = [c for c in spec.required_columns if c not in map_headers(headers, spec, mapping)]
        needs.append(f"{'an' if spec.name[0] in 'aeiou' else 'a'} {spec.name} file needs "
                     f"{', '.join(missing)}")
    found = map_headers(headers, CUSTOMERS, mapping)
    others = [c for c in CUSTOMERS.column_names if c != "customer_id"]
    needs.append("a customers file needs " + ("customer_id and " if "customer_id" not in found
                                              else "") + f"one of {', '.join(others)}")
    return needs
