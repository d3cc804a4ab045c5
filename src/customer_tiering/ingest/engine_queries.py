"""The SQL of the engine's first pass: each record's flag (0 clean, 1 special, 2 blank) and hash.

:func:`_plan` builds, for one file and table, the query flagging and hashing every record and the
query of the clean rows' parsed values: a cell counts as clean only in a plain form whose parsing
DuckDB repeats exactly as pandas does (:mod:`customer_tiering.ingest.engine_loading`, step 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

from customer_tiering.ingest.contract import ColumnSpec, TableSpec
from customer_tiering.ingest.engine_sources import EngineSource, _literal
from customer_tiering.ingest.parsing import CATEGORY_LABELS

# Characters Python's str.isspace() accepts: a CSV line of these only is no row.
_WHITE = "[" + "".join(f"\\x{{{c:x}}}" for c in range(0x3001) if chr(c).isspace()) + "]"
# Characters of a plain id or text: printable ASCII, CJK punctuation and ideographs, full-width
# forms; none is white space, a control or an invisible format character.
_EDGE = "[!-~\\x{3001}-\\x{9fff}\\x{ff01}-\\x{ffee}]"
_INNER = "[ !-~\\x{3001}-\\x{9fff}\\x{ff01}-\\x{ffee}]"
_PLAIN_CATEGORY = "[a-z0-9_\\x{4e00}-\\x{9fff}]+"
_NUMBER = {".": "-?(0|[1-9][0-9]{0,14})(\\.[0-9]{1,15})?", ",": "-?(0|[1-9][0-9]{0,14})"}
_SPECIAL, _BLANK = 1, 2


def _typed(kind: str, arrow: pa.DataType) -> str | None:
    """How a Parquet column of ``arrow`` type is checked for a column of ``kind``: ``"text"``,
    ``"number"``, ``"moment"``, or None when only the pandas path reads it."""
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_string_view(
            arrow):
        return "text"
    if kind in ("number", "score_0_10") and (pa.types.is_floating(arrow)
                                             or pa.types.is_integer(arrow)):
        return "number"
    if kind in ("date", "timestamp") and (pa.types.is_date32(arrow) or (
            pa.types.is_timestamp(arrow) and arrow.tz is None and arrow.unit in ("s", "ms", "us"))):
        return "moment"
    return None



class _Unsupported(Exception):
    """A column the queries do not check: the file goes to the pandas path."""


def _category_value(x: str, column: str) -> str:
    labels = CATEGORY_LABELS.get(column, {})
    plain = {k: v for k, v in labels.items() if k == k.lower()}
    if not plain:
        return x
    cases = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in plain.items())
    return f"(CASE {x} {cases} ELSE {x} END)"


@dataclass
class _Cell:
    """How one column's cells are checked (SQL, true where the cell is certainly valid in a plain
    form) and its parsed value (meaningful there)."""

    value: str
    checks: list[str] = field(default_factory=list)  # SQL, true where the cell is valid


def _column_sql(col: ColumnSpec, x: str, typed: str, decimal: str,
                printable: bool = False) -> _Cell:
    """The checks of cell ``x``: true where it is certainly valid in a plain form; its parsed
    value (meaningful there)."""
    nullable = "true" if col.nullable else "false"
    if typed == "number":
        v = f"CAST({x} AS DOUBLE)"
        bounds = "".join(
            ([f" AND {v} >= {col.min_value!r}"] if col.min_value is not None else [])
            + ([f" AND {v} <= {col.max_value!r}"] if col.max_value is not None else []))
        return _Cell(f"(CASE WHEN isnan({v}) THEN NULL ELSE {v} END)", [
            f"coalesce(CASE WHEN {x} IS NULL OR isnan({v}) THEN {nullable} "
            f"ELSE isfinite({v}){bounds} END, false)"])
    if typed == "moment":
        v = f"CAST({x} AS TIMESTAMP)"
        return _Cell(f"date_trunc('day', {v})" if col.kind == "date" else v, [
            f"coalesce(CASE WHEN {x} IS NULL THEN {nullable} ELSE {v} >= TIMESTAMP "
            f"'1900-01-01' AND {v} < TIMESTAMP '2200-01-01' END, false)"])
    if typed != "text":
        raise _Unsupported(col.name)
    # Only the empty cell counts as blank here; the other blank spellings (nan, NULL, white
    # space) are left to pandas, as are all forms but the plainest.
    value = x
    words = f"(length({x}) > 4 OR lower({x}) NOT IN ('nan', 'none', 'null', 'nat'))"
    if col.kind in ("id", "text") and printable:
        # printable ASCII cells: an id holds no space, a text none at either end
        edge = (f"NOT contains({x}, ' ')" if col.kind == "id"
                else f"left({x}, 1) <> ' ' AND right({x}, 1) <> ' '")
        checks = [edge, words]
    elif col.kind in ("id", "text"):
        pattern = f"{_EDGE}+" if col.kind == "id" else f"{_EDGE}({_INNER}*{_EDGE})?"
        checks = [f"regexp_full_match({x}, '{pattern}')", words]
    elif col.kind == "category":
        value = _category_value(x, col.name)
        checks = [f"regexp_full_match({x}, '{_PLAIN_CATEGORY}')"]
        if col.categories is not None:
            checks.append(f"{value} IN ({', '.join(_literal(c) for c in col.categories)})")
    elif col.kind in ("number", "score_0_10"):
        value = f"TRY_CAST({x} AS DOUBLE)"
        checks = [f"length({x}) <= 17", f"regexp_full_match({x}, '{_NUMBER[decimal]}')"]
        checks += ([f"{value} >= {col.min_value!r}"] if col.min_value is not None else []) + (
            [f"{value} <= {col.max_value!r}"] if col.max_value is not None else [])
    elif col.kind == "date":
        # exactly YYYY-MM-DD of a real day from 1900 to 2199: DuckDB writes it back the same
        value = f"CAST(TRY_CAST({x} AS DATE) AS TIMESTAMP)"
        checks = [f"CAST(TRY_CAST({x} AS DATE) AS VARCHAR) = {x}", f"{x} >= '1900'",
                  f"{x} < '2200'"]
    elif col.kind == "timestamp":
        # YYYY-MM-DD, optionally HH:MM or HH:MM:SS, written back the same by DuckDB
        value = f"TRY_CAST({x} AS TIMESTAMP)"
        checks = [f"length({x}) IN (10, 16, 19)",
                  f"left(CAST({value} AS VARCHAR), length({x})) = {x}",
                  f"{x} >= '1900'", f"{x} < '2200'"]
    else:
        raise _Unsupported(col.name)
    nullable = "true" if col.nullable else "false"
    return _Cell(f"(CASE WHEN {x} = '' THEN NULL ELSE {value} END)", [
        f"coalesce(CASE WHEN {x} IS NULL OR {x} = '' THEN {nullable} "
        f"ELSE {' AND '.join(checks)} END, false)"])


@dataclass
class _Plan:
    """The queries of one file: its flags and hashes, and its clean rows' parsed values."""

    flags: str
    values: str
    value_names: list[str]
    ok: str = "true"


def _plan(src: EngineSource, spec: TableSpec, found: dict[str, str], as_of: date | None,
          decimal: str, with_id: bool) -> _Plan:
    index = {h: i for i, h in enumerate(src.headers)}
    oks, values, names = [], [], []
    parsed: dict[str, str] = {}
    for col in spec.columns:
        header = found.get(col.name)
        names.append(col.name)
        if header is None:
            values.append("NULL")
            continue
        i = index[header]
        typed = "text" if src.kind == "csv" else _typed(col.kind, src.types[i])
        if typed is None:
            raise _Unsupported(col.name)
        cell = _column_sql(col, f"c{i}", typed, decimal,
                           src.kind == "csv" and src.printable)
        oks += cell.checks
        values.append(cell.value)
        parsed[col.name] = cell.value
    if spec.name == "transactions" and as_of is not None:
        oks.append(f"coalesce(NOT ({parsed['order_date']} > TIMESTAMP "
                   f"'{as_of.isoformat()}'), true)")
    if spec.name == "interactions" and "closed_at" in parsed:
        oks.append(f"coalesce(NOT ({parsed['closed_at']} < {parsed['opened_at']}), true)")
    cells = [f"c{i}" for i in range(len(src.headers))]
    if src.kind == "csv":
        blank = f"regexp_full_match({' || '.join(cells)}, '{_WHITE}*')"
        hashed = cells
    else:
        blank = "false"
        hashed = [f"(CASE WHEN isnan({c}) THEN NULL ELSE {c} END)"
                  if pa.types.is_floating(t) else c for c, t in zip(cells, src.types, strict=True)]
    ok = " AND ".join(oks) or "true"
    # a row whose cells are all valid has a customer_id, so it is no blank line: the blank
    # test runs only on the other rows
    flag = f"(CASE WHEN {ok} THEN 0 WHEN {blank} THEN {_BLANK} ELSE {_SPECIAL} END)"
    select = [f"{flag}::UTINYINT AS flag", f"hash({', '.join(hashed)}) AS h"]
    if with_id:
        select.append(f"{parsed['customer_id']} AS pid")
    flags = f"SELECT rn, {', '.join(select)} FROM ({src.relation()})"
    columns = ", ".join(f"{v} AS \"{n}\"" for v, n in zip(values, names, strict=True))
    values_sql = f"SELECT rn, {columns} FROM ({src.relation()})"  # kept: flag 0, not special
    return _Plan(flags, values_sql, names, ok)
