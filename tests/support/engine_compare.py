"""Comparing what two engines computed: frames column by column, stored ratings row by row."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.store.tier_store import RatingRecord, TierStore

REL = 1e-9


def assert_frames_equal(got: pd.DataFrame, want: pd.DataFrame, rel: float = REL) -> None:
    """Same columns, dtypes and rows; numbers within ``rel`` (NaN equals NaN)."""
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for c in want.columns:
        a, b = got[c], want[c]
        assert a.dtype == b.dtype, (c, a.dtype, b.dtype)
        if pd.api.types.is_float_dtype(b):
            x, y = a.to_numpy(float), b.to_numpy(float)
            assert np.array_equal(np.isnan(x), np.isnan(y)), c
            assert np.allclose(x, y, rtol=rel, atol=0, equal_nan=True), c
        else:
            assert a.astype(object).where(a.notna(), None).tolist() == \
                b.astype(object).where(b.notna(), None).tolist(), c


def _close(a: Any, b: Any, rel: float) -> bool:
    """JSON values equal, numbers within ``rel`` (a tiny atol for values that are 0)."""
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, rel) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], rel) for k in a)
    return bool(a == b)


def assert_same_rating(got_store: TierStore, got: RatingRecord, want_store: TierStore,
                       want: RatingRecord, rel: float = REL) -> None:
    """Header summaries and every grade row equal (numbers and JSON documents within ``rel``)."""
    for field in ("rating_key", "kind", "as_of", "scheme", "customer_count", "counts",
                  "grade_labels", "policies", "configs", "models"):
        assert getattr(got, field) == getattr(want, field), field
    for field in ("checks", "drift", "reference", "criteria"):
        assert _close(getattr(got, field), getattr(want, field), rel), field
    a, b = got_store.grades(got.id), want_store.grades(want.id)
    assert a["customer_id"].tolist() == b["customer_id"].tolist()
    for c in b.columns:
        if c in ("points", "explanation"):
            bad = [i for i, (x, y) in enumerate(zip(a[c], b[c], strict=True))
                   if not _close(json.loads(x), json.loads(y), rel)]
            assert bad == [], (c, a[c].iloc[bad[0]], b[c].iloc[bad[0]])
        elif pd.api.types.is_float_dtype(b[c]):
            assert np.allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=rel, atol=0,
                               equal_nan=True), c
        else:
            assert a[c].astype(object).where(a[c].notna(), None).tolist() == \
                b[c].astype(object).where(b[c].notna(), None).tolist(), c
