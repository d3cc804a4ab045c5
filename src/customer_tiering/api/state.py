"""What the running service holds: the store, the configs, and the champion models.

:class:`ModelHolder` keeps one immutable :class:`ModelSet` and replaces it as a whole. A request
reads ``holder.current`` once and uses that object to the end, so it never sees a mix of two
versions. :meth:`ModelHolder.refresh` looks at the registry's ``champion`` aliases (cheap); when one
moved, it loads the new set, runs a smoke check (finite scores in range, explanations adding up)
and only then swaps. A version that fails to load or fails the check is not used: the last good
set keeps serving, and ``last_error`` says why (``/health/ready`` and the log report it).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.api.rate_limits import CostBudget
from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import Settings
from customer_tiering.ingest import contract as schemas
from customer_tiering.rating.champions import ChampionSet, ServingConfigs, load_champions
from customer_tiering.store.tier_store import RatingRecord, TierStore

__all__ = ["AppState", "ModelHolder", "ModelSet", "smoke_features"]

log = logging.getLogger("customer_tiering.api")
_LATEST_SECONDS = 1.0


@dataclass(frozen=True)
class ModelSet:
    """One consistent set of champion models, with when it was loaded."""

    models: ChampionSet
    loaded_at: datetime

    @property
    def versions(self) -> dict[str, str]:
        return {name: info["version"] for name, info in self.models.versions.items()}


def smoke_features() -> pd.DataFrame:
    """Two customers to smoke-test a model set: a typical active one and one with nothing known."""
    typical: dict[str, Any] = {c: np.nan for c in schemas.FEATURE_COLUMNS}
    typical.update(days_since_last_order=20, order_count_90d=4, order_count_180d=8,
                   order_count_365d=15, monetary_amount_90d=20_000, monetary_amount_180d=41_000,
                   monetary_amount_365d=80_000, avg_monthly_amount_12m=6_700,
                   avg_monthly_units_12m=6, yoy_growth=0.1, tenure_days=900,
                   mean_days_between_orders=24, std_days_between_orders=10,
                   distinct_products_365d=5, return_share_365d=0.01, complaint_count_365d=0,
                   open_complaint_count=0, customer_type="hospital", region="华东")
    empty = {c: np.nan for c in schemas.FEATURE_COLUMNS}
    frame = pd.DataFrame([typical, empty])
    frame.insert(0, "customer_id", ["smoke-typical", "smoke-empty"])
    return frame


def _smoke_check(models: ChampionSet) -> None:
    frame = smoke_features()
    if models.churn is not None:
        contrib = models.churn.calibrated_contributions(frame)
        p = models.churn.predict_proba(frame)[:, 1]
        if not np.all(np.isfinite(p)) or not np.all((p >= 0) & (p <= 1)):
            raise TieringError(f"churn model smoke check: probabilities {p.tolist()}")
        logit = np.log(p / (1 - p))
        if not np.allclose(contrib.to_numpy().sum(axis=1), logit, atol=1e-6):
            raise TieringError("churn model smoke check: contributions do not add up")
    if models.value is not None:
        v = models.value.predict(frame)
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise TieringError(f"value model smoke check: expected values {v.tolist()}")
        value_contrib = models.value.contributions(frame)  # also readies its leaf tables
        if not np.allclose(value_contrib.to_numpy().sum(axis=1), np.log(v), atol=1e-6):
            raise TieringError("value model smoke check: contributions do not add up")
    if models.segments is not None:
        models.segments.predict_names(frame)


class ModelHolder:
    """The model set in use, refreshed from the registry without a restart."""

    def __init__(self, settings: Settings, configs: ServingConfigs) -> None:
        self.settings = settings
        self.configs = configs
        self._current: ModelSet | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None
        self.last_check: datetime | None = None

    @property
    def current(self) -> ModelSet:
        current = self._current
        if current is None:
            from customer_tiering.registry.versions import NoChampionError

            raise NoChampionError(f"no models loaded: {self.last_error or 'not started'}")
        return current

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def _champion_versions(self) -> dict[str, str]:
        from customer_tiering.registry.names import MODEL_NAME, needed_jobs
        from customer_tiering.registry.tracking import use_store
        from customer_tiering.registry.versions import champion_version

        names = [MODEL_NAME[job] for job, needed in needed_jobs(self.configs.blend).items() if needed]
        with use_store(self.settings, create=False) as client:
            return {n: v for n in names if (v := champion_version(client, n)) is not None}

    def refresh(self, *, force: bool = False) -> bool:
        """Load the champions if an alias moved (or ``force``); True when a new set is in use."""
        with self._lock:
            self.last_check = datetime.now(UTC)
            try:
                wanted = self._champion_versions()
                if (not force and self._current is not None
                        and wanted == self._current.versions):
                    return False
                models = load_champions(self.settings, self.configs)
                _smoke_check(models)
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                if message != self.last_error:
                    log.error("model reload failed, keeping %s: %s",
                              self._current.versions if self._current else "nothing", message)
                self.last_error = message
                return False
            self._current = ModelSet(models, datetime.now(UTC))
            self.last_error = None
            log.info("serving models %s", self._current.versions)
            return True


@dataclass
class AppState:
    """Everything a request needs, built once by the app's lifespan (``budget``: the per-key
    cost budgets of the costly routes)."""

    settings: Settings
    store: TierStore
    configs: ServingConfigs
    holder: ModelHolder
    budget: CostBudget
    key_cache: dict[str, tuple[Any, float]] = field(default_factory=dict)
    _ratings: dict[int, RatingRecord] = field(default_factory=dict)
    _cutoffs: dict[int, dict[str, float]] = field(default_factory=dict)
    _latest: dict[str | None, tuple[int | None, float]] = field(default_factory=dict)

    def rating(self, rating_id: int) -> RatingRecord:
        """A rating's header, cached: a committed rating never changes."""
        found = self._ratings.get(rating_id)
        if found is None:
            found = self.store.rating(rating_id)
            if len(self._ratings) > 256:
                self._ratings.clear()
            self._ratings[rating_id] = found
        return found

    def latest_periodic(self, scheme: str | None = None) -> RatingRecord | None:
        """The newest periodic rating (of ``scheme``), looked up at most once a second (a new
        rating is seen within that time); the header itself is cached for good."""
        now = time.monotonic()
        seen = self._latest.get(scheme)
        if seen is None or now - seen[1] >= _LATEST_SECONDS:
            seen = (self.store.latest_rating_id(kind="periodic", scheme=scheme), now)
            self._latest[scheme] = seen
        return None if seen[0] is None else self.rating(seen[0])

    def cutoffs(self, rating_id: int) -> dict[str, float]:
        """The lowest total per grade in a rating (quota schemes), cached like the header."""
        found = self._cutoffs.get(rating_id)
        if found is None:
            from customer_tiering.rating.population import grade_cutoffs

            found = grade_cutoffs(self.store, rating_id)
            if len(self._cutoffs) > 16:
                self._cutoffs.clear()
            self._cutoffs[rating_id] = found
        return found
