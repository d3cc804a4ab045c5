"""The registered model names, once: which job trains which model, and which models a blend needs.

Training registers under these names; the rating, the API and the pages load and list them. Pure
data: importing this module opens no MLflow client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from customer_tiering.scoring.blend import BlendConfig

__all__ = ["JOBS", "MODEL_NAME", "MODEL_NAMES", "needed_jobs"]

JOBS = ("segments", "churn", "value")
MODEL_NAME = {"segments": "tiering-segments", "churn": "tiering-churn", "value": "tiering-value"}
MODEL_NAMES = tuple(MODEL_NAME[job] for job in JOBS)


def needed_jobs(blend: BlendConfig) -> dict[str, bool]:
    """Which models a rating with ``blend`` needs, by job.

    Parameters
    ----------
    blend
        The serving blend: churn is needed when it has a retention part, value when it has a
        value part; segments are always scored.

    Returns
    -------
    dict
        ``{"segments": True, "churn": bool, "value": bool}`` in :data:`JOBS` order.
    """
    return {"segments": True, "churn": blend.retention is not None, "value": blend.value is not None}
