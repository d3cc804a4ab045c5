"""What-if scoring of posted indicators: grade and explanation, nothing stored."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from customer_tiering.api import schemas as api
from customer_tiering.api.deps import Lang, State, Viewer, require_viewer
from customer_tiering.api.rate_limits import what_if_cost
from customer_tiering.api.service import what_if

router = APIRouter(prefix="/v1/score", tags=["scoring"], dependencies=[Depends(require_viewer)])
_ERRORS = api.error_responses(401, 403, 413, 429, 503)


@router.post("", response_model=api.ScoreResult, responses=_ERRORS)
async def score_one(body: api.Indicators, state: State, key: Viewer, lang: Lang = "zh",
                    explain: bool = True) -> api.ScoreResult:
    """Grade one customer's indicators with the models in use, with its explanation (charged
    to the key's budget: 429 when it is spent)."""
    state.budget.spend(key.key_id, what_if_cost(1, explain), "a what-if")
    # About 2 ms of CPU and, at most once a second, one indexed lookup of the latest rating's
    # id: run on the event loop, where handing it to the thread pool and back would cost a tenth
    # of that (batches, which take longer, do go to the pool).
    return what_if(state, [body], lang, explain).results[0]


@router.post("/batch", response_model=api.ScoreResponse, responses=_ERRORS)
def score_batch(body: api.ScoreBatch, state: State, key: Viewer, lang: Lang = "zh",
                explain: bool = False) -> api.ScoreResponse:
    """Grade up to 10,000 customers in one request (explanations on request); charged to the
    key's budget by customers and explanations (429 when it is spent)."""
    n = len(body.customers)
    state.budget.spend(key.key_id, what_if_cost(n, explain),
                       f"a batch of {n:,} {'explained ' if explain else ''}what-ifs")
    return what_if(state, body.customers, lang, explain)
