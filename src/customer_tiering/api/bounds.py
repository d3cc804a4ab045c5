"""The bounds of what the API and the pages take, in one place: numbers, dates and text.

Every number a request carries has a lower and an upper bound, so that nothing a caller sends
can overflow arithmetic (``1e308`` doubled is infinity), a date computation (``0001-01-01``
minus two years) or a database integer; a value outside is refused with 422 naming the field.
Text holds no control character but tab and line breaks: PostgreSQL cannot store or even compare
a NUL (the query fails), and a workbook cannot hold the others (an export of a reason with one
failed); an id in a path holds no control character at all. The bounds are generous: they refuse
what no real book holds, never a real value (amounts up to 10^15 in any currency, counts up to
10^9, day counts up to 100,000 days, about 270 years).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, Field

__all__ = ["EARLIEST_DATE", "MAX_AMOUNT", "MAX_COUNT", "MAX_DAYS", "MAX_ID", "MAX_RATIO",
           "Amount", "Count", "CustomerIdPath", "Days", "Ratio", "Text", "expiry_in_range",
           "plain_text"]

MAX_ID = 2**31 - 1
"""Ids are 32-bit integers in every store."""
MAX_DAYS = 100_000
"""Day counts (days since, tenure, gaps): about 270 years."""
MAX_COUNT = 1_000_000_000
"""Counts of orders, complaints, products."""
MAX_AMOUNT = 1e15
"""Amounts and quantities, either sign (returns make them negative)."""
MAX_RATIO = 1e12
"""Unbounded ratios (growth, return share, days since over the mean gap)."""
EARLIEST_DATE = date(1900, 1, 1)
"""The earliest date a rating may be dated (features look two years further back)."""
_EXPIRY_YEARS = 100

_CONTROLS = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f"  # C0 controls but tab, line feed, carriage return
_CONTROL = re.compile(f"[{_CONTROLS}]")
_PLAIN = f"^[^{_CONTROLS}]*$"
_PRINTABLE = "^[^\\x00-\\x1f\\x7f]+$"


def plain_text(value: Any) -> Any:
    """``value`` unchanged, unless it is text holding a control character other than tab, line
    feed or carriage return (ValueError naming it)."""
    if isinstance(value, str) and (found := _CONTROL.search(value)):
        raise ValueError(f"holds the control character {found.group()!r}, which no text here "
                         "may hold (tab and line breaks may)")
    return value


def _printable(value: str) -> str:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("holds a control character, which no id holds")
    return value


Text = Annotated[str, AfterValidator(plain_text), Field(json_schema_extra={"pattern": _PLAIN})]
"""Text without control characters but tab and line breaks (body fields; add ``max_length``
with ``Field``)."""
CustomerIdPath = Annotated[str, Path(min_length=1, max_length=128,
                                     json_schema_extra={"pattern": _PRINTABLE},
                                     description="the customer's id"),
                           AfterValidator(_printable)]
"""A customer id in a path: 1 to 128 characters, none of them a control character."""
Days = Annotated[float, Field(ge=0, le=MAX_DAYS)]
Count = Annotated[float, Field(ge=0, le=MAX_COUNT)]
Amount = Annotated[float, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]
Ratio = Annotated[float, Field(ge=0, le=MAX_RATIO)]


def expiry_in_range(value: datetime | None) -> datetime | None:
    """``value`` unchanged when it is within a century of now (else ValueError): an override
    meant to last for good has no expiry, and beyond that a time zone shift leaves the calendar.
    Whether it is in the future is the review's rule (:func:`rating.reviews.decide`)."""
    if value is None:
        return None
    year = datetime.now(UTC).year
    if not year - _EXPIRY_YEARS <= value.year <= year + _EXPIRY_YEARS:
        raise ValueError(f"{value.isoformat()} is more than {_EXPIRY_YEARS} years from now; "
                         "leave expires_at out for an override without end")
    return value
