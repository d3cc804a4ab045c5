"""Numbers as people read them, one way for pages, CLI tables and exports: thousands separators,
fixed decimals, percentages; never a raw float such as ``189735.49999999997``."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["DECIMALS", "number", "percent", "points", "rounded", "value"]

# Decimals people see, and the exports keep, per kind of number.
DECIMALS = {"points": 2, "total": 2, "probability": 4, "amount": 2, "input": 2}


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def number(x: Any, decimals: int = 0, *, trim: bool = False) -> str:
    """``x`` with thousands separators and ``decimals`` decimals ('' for none); ``trim`` drops
    trailing zeros (``4.00`` reads ``4``, ``0.50`` reads ``0.5``)."""
    if _missing(x):
        return ""
    if isinstance(x, str):
        return x
    shown = f"{float(x):,.{decimals}f}"
    if trim and "." in shown:
        shown = shown.rstrip("0").rstrip(".")
    return "0" if shown in ("-0", "") else shown


def percent(x: Any, decimals: int = 1) -> str:
    """A share (0..1) as a percentage: ``0.0173`` reads ``1.7%``."""
    return "" if _missing(x) else f"{100 * float(x):,.{decimals}f}%"


def points(x: Any, decimals: int = 2, *, sign: bool = False) -> str:
    """Points of a score, fixed decimals, with a sign when ``sign``."""
    if _missing(x):
        return ""
    return f"{float(x):+,.{decimals}f}" if sign else f"{float(x):,.{decimals}f}"


def value(x: Any) -> str:
    """An input value of a criterion or feature: whole numbers as they are, others to
    ``DECIMALS['input']`` decimals without trailing zeros, thousands separated; text as it is."""
    if _missing(x):
        return ""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int | float):
        return number(x, DECIMALS["input"], trim=True)
    try:
        return number(float(x), DECIMALS["input"], trim=True)
    except (TypeError, ValueError):
        return str(x)


def rounded(x: Any, kind: str) -> Any:
    """``x`` rounded to the decimals of ``kind`` (what the exports store); None stays None."""
    if _missing(x):
        return None
    return round(float(x), DECIMALS[kind])
