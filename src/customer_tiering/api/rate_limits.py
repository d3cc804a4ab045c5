"""Per-key budgets on the costly routes: a token bucket of cost units for each API key.

A unit is one customer scored with its explanation (18.5 s of CPU for 10,000 with the default
models, 1.85 ms each). Other work is priced by its CPU time measured against that, on the test
models (``benchmarks`` can re-measure): a customer scored without explanation 0.4 units, a
special rating 250 (it reads the clean data set and grades one customer), a row of a CSV export
0.15 and of an XLSX export 0.6. Reads of single grades, pages and lists are not charged.

Each key (a signed-in page session spends its key's budget) has a bucket holding up to
``rate_limit_burst`` units that refills at ``rate_limit_per_second``. A request is let in when
the bucket holds its cost, and takes it; otherwise it is refused with 429 and a ``Retry-After``
telling when the bucket will hold it. One request never costs more than the whole bucket, so
the largest request (a 10,000-customer batch, a full export) is always possible with a full
bucket. ``rate_limit_burst = 0`` turns the limits off.

Why a token bucket of our own rather than the ``limits`` package: the cost of a request is known
only after its body is read (customers x explanations), a bucket takes any cost and says exactly
when that cost will be available (``limits``' windows say when a window resets, which may still
be too early), and ``limits``' advantage, storage shared between processes (Redis, Memcached), needs
a server this deployment does not run. The buckets live in each worker process: with
``tiering serve --workers N`` a key may spend up to N budgets, one per worker, each of which has a
core of its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from fastapi import HTTPException

from customer_tiering.core.settings import Settings

__all__ = ["EXPLAINED_CUSTOMER", "SPECIAL_RATING", "UNEXPLAINED_CUSTOMER", "CostBudget",
           "export_cost", "what_if_cost"]

EXPLAINED_CUSTOMER = 1.0
"""Units of one customer scored with its explanation."""
UNEXPLAINED_CUSTOMER = 0.4
"""Units of one customer scored without explanation."""
SPECIAL_RATING = 250.0
"""Units of one special rating."""
_EXPORT_ROW = {"csv": 0.15, "xlsx": 0.6}


def what_if_cost(customers: int, explain: bool) -> float:
    """Units of a what-if of ``customers`` customers, with or without explanations."""
    return customers * (EXPLAINED_CUSTOMER if explain else UNEXPLAINED_CUSTOMER)


def export_cost(rows: int, fmt: str) -> float:
    """Units of exporting ``rows`` grade rows as ``fmt`` (``csv`` or ``xlsx``)."""
    return rows * _EXPORT_ROW[fmt]


class CostBudget:
    """Token buckets of cost units, one per key, safe to charge from several threads.

    Parameters
    ----------
    burst : units a full bucket holds (what a key may spend at once); 0 turns the limits off.
    per_second : units a bucket regains per second, up to ``burst``.
    clock : seconds from any fixed start (``time.monotonic``; tests pass their own).
    """

    def __init__(self, burst: float, per_second: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.per_second = per_second
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (units, when)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> CostBudget:
        """The budget the settings describe (``rate_limit_burst``, ``rate_limit_per_second``)."""
        return cls(settings.rate_limit_burst, settings.rate_limit_per_second)

    def charge(self, key_id: str, cost: float) -> float | None:
        """Take ``cost`` units (at most a full bucket) from the key's bucket.

        Returns
        -------
        float or None
            None when the request may go ahead (the units are taken), else the seconds until
            the bucket holds the cost (nothing is taken).
        """
        if self.burst <= 0:
            return None
        needed = min(cost, self.burst)
        with self._lock:
            now = self._clock()
            units, since = self._buckets.get(key_id, (self.burst, now))
            units = min(self.burst, units + (now - since) * self.per_second)
            if units >= needed:
                self._buckets[key_id] = (units - needed, now)
                return None
            self._buckets[key_id] = (units, now)
        return math.inf if self.per_second <= 0 else (needed - units) / self.per_second

    def spend(self, key_id: str, cost: float, what: str) -> None:
        """Charge ``cost`` units for ``what``, or refuse the request with 429 and ``Retry-After``
        (whole seconds, rounded up).

        Raises
        ------
        HTTPException
            429 when the key's bucket does not hold the cost now.
        """
        wait = self.charge(key_id, cost)
        if wait is None:
            return
        seconds = 86_400 if math.isinf(wait) else max(1, math.ceil(wait))
        raise HTTPException(
            429, f"key {key_id} is over its budget: {what} costs {min(cost, self.burst):,.0f} "
                 f"units of the {self.burst:,.0f} it may spend at once, regained at "
                 f"{self.per_second:g} a second; retry in {seconds} s",
            headers={"Retry-After": str(seconds)})
