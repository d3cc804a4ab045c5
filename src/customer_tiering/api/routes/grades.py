"""Grade lists of a rating: filtered, paged, or streamed as CSV / XLSX."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from customer_tiering.api import schemas as api
from customer_tiering.api.deps import State, require
from customer_tiering.core.errors import TieringError
from customer_tiering.rating.exports import cells, export_columns, export_frames, write_xlsx
from customer_tiering.store.keys import ApiKey
from customer_tiering.store.tables import grades

router = APIRouter(prefix="/v1/grades", tags=["grades"])
Viewer = Annotated[ApiKey, Depends(require("viewer"))]


def _rating_id(state: State, rating_id: int | None) -> int:
    if rating_id is not None:
        return state.store.rating(rating_id).id
    latest = state.store.latest_rating_id(kind="periodic")
    if latest is None:
        raise TieringError("no periodic rating yet: run `tiering rate --as-of DATE`")
    return latest


def _filters(rating_id: int, grade: str | None, region: str | None, customer_type: str | None,
             segment: str | None, changed: bool | None) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [grades.c.rating_id == rating_id]
    for column, value in (("grade", grade), ("region", region), ("customer_type", customer_type),
                          ("segment", segment)):
        if value is not None:
            where.append(grades.c[column] == value)
    if changed is True:
        where.append(sa.and_(grades.c.previous_grade.is_not(None),
                             grades.c.previous_grade != grades.c.grade))
    elif changed is False:
        where.append(sa.or_(grades.c.previous_grade.is_(None),
                            grades.c.previous_grade == grades.c.grade))
    return where


@router.get("", response_model=api.GradePage,
            responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-"
                                                       "officedocument.spreadsheetml.sheet": {}}},
                       401: {"model": api.Message}, 403: {"model": api.Message},
                       404: {"model": api.Message}})
def list_grades(
    state: State, _key: Viewer,
    rating_id: Annotated[int | None, Query(ge=1, le=api.MAX_ID,
                                           description="default: the latest periodic")] = None,
    grade: Annotated[str | None, Query(max_length=32)] = None,
    region: Annotated[str | None, Query(max_length=128)] = None,
    customer_type: Annotated[str | None, Query(max_length=64)] = None,
    segment: Annotated[str | None, Query(max_length=128)] = None,
    changed: Annotated[bool | None, Query(description="grade differs from the previous")] = None,
    sort: Annotated[Literal["total", "-total", "customer_id", "churn_probability",
                            "-churn_probability", "expected_value", "-expected_value"],
                    Query()] = "-total",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 50,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
) -> api.GradePage | StreamingResponse | FileResponse:
    """Grades of a rating, filtered and sorted; ``format=csv|xlsx`` streams every match."""
    rid = _rating_id(state, rating_id)
    where = _filters(rid, grade, region, customer_type, segment, changed)
    if format != "json":
        return _download(state, rid, where, format, lang)
    column = grades.c[sort.lstrip("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    cols = [grades.c[c] for c in ("customer_id", "customer_name", "region", "customer_type",
                                  "segment", "total", "grade", "previous_grade", "provisional",
                                  "churn_probability", "expected_value")]
    with state.store.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(grades).where(*where)
                             ).scalar_one()
        rows = conn.execute(sa.select(*cols).where(*where).order_by(order, grades.c.customer_id)
                            .limit(page_size).offset((page - 1) * page_size)).fetchall()
    items = [api.GradeListItem(**{**r._mapping, "expected_value_next_period":
                                  r.expected_value}) for r in rows]
    return api.GradePage(rating_id=rid, total_count=count, page=page, page_size=page_size,
                         items=items)


def _download(state: State, rating_id: int, where: list[sa.ColumnElement[bool]], fmt: str,
              lang: str) -> StreamingResponse | FileResponse:
    record = state.store.rating(rating_id)
    with state.store.engine.connect() as conn:
        wanted = {r[0] for r in conn.execute(sa.select(grades.c.customer_id).where(*where))}
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

        name = f"rating-{rating_id}-{lang}.csv"
        return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})
    folder = Path(tempfile.mkdtemp(prefix="tiering-export-"))
    path = folder / f"rating-{rating_id}-{lang}.xlsx"
    write_xlsx(path, state.store, record, lang, columns, keep=wanted)
    return FileResponse(path, filename=path.name,
                        media_type="application/vnd.openxmlformats-officedocument."
                                   "spreadsheetml.sheet",
                        background=BackgroundTask(_remove, folder))


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
