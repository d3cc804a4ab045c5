"""Synthetic ratings for store tests: a header and grade rows that look like a real rating's."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

GRADES = ("VIP", "core", "effective", "dormant", "potential")


def header(key: str, as_of: date, *, kind: str = "periodic", scheme: str = "seed001_five",
           customer_count: int = 0) -> dict[str, Any]:
    return {
        "rating_key": key, "kind": kind, "as_of": as_of, "scheme": scheme, "horizon_days": 90,
        "customer_id": None, "reason": None, "created_at": datetime.now(UTC), "seconds": 1.0,
        "customer_count": customer_count, "data_fingerprint": "v1:test",
        "configs": {"versions": {"scorecard": "t"}}, "models": {},
        "criteria": [{"part": "scorecard", "id": "sales", "zh": "销售", "en": "Sales",
                      "max_points": 100}],
        "grade_labels": {g: {"zh": g, "en": g} for g in GRADES},
        "policies": {g: {"recommended_actions": {"zh": f"{g}措施", "en": f"{g} actions"}}
                     for g in GRADES},
        "reference": {}, "drift": [], "counts": {},
    }


def rows(ids: list[str], seed: int, *, names: list[str] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    total = rng.uniform(0, 100, len(ids))
    grade = rng.choice(GRADES, len(ids))
    revenue = rng.lognormal(8, 2, len(ids)) * rng.choice([1, 1, 1, 0, -0.1], len(ids))
    return pd.DataFrame({
        "customer_id": ids,
        "customer_name": names if names is not None else [f"客户{i}" for i in ids],
        "region": rng.choice(["华东", "华南"], len(ids)),
        "customer_type": rng.choice(["hospital", "clinic"], len(ids)),
        "segment": rng.choice(["loyal", "at risk"], len(ids)),
        "churn_probability": rng.uniform(0, 1, len(ids)),
        "expected_value": rng.lognormal(8, 1, len(ids)),
        "revenue_365d": revenue,
        "scorecard_total": total,
        "total": total,
        "grade": grade,
        "previous_grade": None,
        "provisional": rng.random(len(ids)) < 0.2,
        "points": [json.dumps({"sales": float(t)}) for t in total],
        "explanation": [json.dumps({"scorecard": [["sales", 1.0, "a", "a", float(t)]],
                                    "total": float(t)}) for t in total],
        "reason_zh": "主要因素：销售",
        "reason_en": "Largest movers: sales",
    })
