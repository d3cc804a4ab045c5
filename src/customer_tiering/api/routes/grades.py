"""Grade lists of a rating: filtered, paged, or streamed as CSV / XLSX."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import AfterValidator
from starlette.background import BackgroundTask

from customer_tiering.api import schemas as api
from customer_tiering.api.bounds import plain_text
from customer_tiering.api.deps import Lang, State, Viewer, require_viewer
from customer_tiering.api.rate_limits import export_cost
from customer_tiering.rating.exports import cells, export_columns, export_frames, write_xlsx
from customer_tiering.store.keys import ApiKey
from customer_tiering.store.queries import GradeFilters
from customer_tiering.store.tier_store import RatingRecord

router = APIRouter(prefix="/v1/grades", tags=["grades"], dependencies=[Depends(require_viewer)])


@router.get("", response_model=api.GradePage,
            responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-"
                                                       "officedocument.spreadsheetml.sheet": {}}},
                       401: {"model": api.Message}, 403: {"model": api.Message},
                       404: {"model": api.Message}, 429: {"model": api.Message}})
def list_grades(
    state: State,
    key: Viewer,
    rating_id: Annotated[int | None, Query(ge=1, le=api.MAX_ID,
                                           description="default: the latest periodic")] = None,
    grade: Annotated[str | None, Query(max_length=32), AfterValidator(plain_text)] = None,
    region: Annotated[str | None, Query(max_length=128), AfterValidator(plain_text)] = None,
    customer_type: Annotated[str | None, Query(max_length=64), AfterValidator(plain_text)] = None,
    segment: Annotated[str | None, Query(max_length=128), AfterValidator(plain_text)] = None,
    changed: Annotated[bool | None, Query(description="grade differs from the previous")] = None,
    provisional: Annotated[bool | None, Query(description="true: only provisional grades (an "
                                                          "input missing); false: only final")
                           ] = None,
    sort: Annotated[Literal["total", "-total", "customer_id", "churn_probability",
                            "-churn_probability", "expected_value", "-expected_value"],
                    Query()] = "-total",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 50,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
    lang: Lang = "zh",
) -> api.GradePage | StreamingResponse | FileResponse:
    """Grades of a rating, filtered and sorted; ``format=csv|xlsx`` streams every match (charged
    to the key's budget by rows: 429 when it is spent)."""
    record = state.store.rating_or_latest(rating_id)
    filters = GradeFilters(grade=grade, region=region, customer_type=customer_type,
                           segment=segment, changed=changed, provisional=provisional)
    if format != "json":
        return _download(state, key, record, filters, format, lang)
    listing = state.store.grade_list(record.id, filters, sort=sort, page=page,
                                     page_size=page_size)
    items = [api.GradeListItem(**row, expected_value_next_period=row["expected_value"])
             for row in listing.rows]
    return api.GradePage(rating_id=record.id, total_count=listing.total_count, page=page,
                         page_size=page_size, items=items)


def _download(state: State, key: ApiKey, record: RatingRecord, filters: GradeFilters, fmt: str,
              lang: str) -> StreamingResponse | FileResponse:
    wanted = state.store.grade_customer_ids(record.id, filters)
    state.budget.spend(key.key_id, export_cost(len(wanted), fmt),
                       f"an export of {len(wanted):,} rows as {fmt}")
    columns = export_columns(record, lang)
    keys = [k for k, _, _ in columns]
    if fmt == "csv":
        def rows() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            buffer.write("\ufeff")
            writer.writerow([h for _, h, _ in columns])
            for frame in export_frames(state.store, record, lang):
                part = frame[frame["customer_id"].isin(wanted)]
                writer.writerows(cells(part, keys, missing=""))
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()

        name = f"rating-{record.id}-{lang}.csv"
        return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})
    folder = Path(tempfile.mkdtemp(prefix="tiering-export-"))
    path = folder / f"rating-{record.id}-{lang}.xlsx"
    try:
        write_xlsx(path, state.store, record, lang, columns, keep=wanted)
    except BaseException:  # no response will remove the folder: do it here
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(path, filename=path.name,
                        media_type="application/vnd.openxmlformats-officedocument."
                                   "spreadsheetml.sheet",
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))
