"""Exports in seed 004's layout: CSV and XLSX, checked by LibreOffice reading the XLSX back."""

from __future__ import annotations

import csv
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from customer_tiering.rating.exports import export_rating, neutralise
from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.store.tier_store import TierStore
from tests.support import store_rows
from tests.support.rating_env import AS_OF, TrainedEnv


def _read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        if b.endswith("%"):  # LibreOffice writes a percentage as shown, even when told not to
            return abs(float(a) - float(b[:-1]) / 100) < 1e-9
        return abs(float(a) - float(b)) < 1e-9
    except ValueError:
        return False


@pytest.mark.parametrize("value, expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-1+2", "'-1+2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("normal 正常", "normal 正常"), (-5.0, -5.0),
    ("a\x03b\x00", "a\ufffdb\ufffd"), ("line\nbreak\ttab", "line\nbreak\ttab"),
    ("\x1f=1", "\ufffd=1"),
])
def test_text_a_spreadsheet_would_run_is_neutralised(value: object, expected: object) -> None:
    assert neutralise(value) == expected


def test_formula_like_names_stay_text_in_both_formats(tmp_path: Path) -> None:
    store = TierStore.open(f"sqlite:///{tmp_path / 't.db'}")
    names = ["=1+1", "@cmd", "普通客户"]
    record, _ = store.save_rating(store_rows.header("x", date(2025, 1, 31)),
                                  store_rows.rows(["a", "b", "c"], seed=1, names=names))
    xlsx = export_rating(store, record.id, tmp_path / "r.xlsx", fmt="xlsx", lang="en")
    sheet = load_workbook(xlsx).worksheets[0]
    cells = [sheet.cell(row=r, column=2) for r in (3, 4, 5)]
    assert [c.value for c in cells] == ["'=1+1", "'@cmd", "普通客户"]
    assert all(c.data_type == "s" for c in cells)
    rows = _read_csv(export_rating(store, record.id, tmp_path / "r.csv", fmt="csv", lang="en"))
    assert [r[1] for r in rows[1:]] == ["'=1+1", "'@cmd", "普通客户"]
    store.close()


def test_a_control_character_in_a_name_does_not_break_the_workbook(tmp_path: Path) -> None:
    store = TierStore.open(f"sqlite:///{tmp_path / 't.db'}")
    record, _ = store.save_rating(store_rows.header("x", date(2025, 1, 31)),
                                  store_rows.rows(["a"], seed=1, names=["医院\x03(1)"]))
    xlsx = export_rating(store, record.id, tmp_path / "r.xlsx", fmt="xlsx", lang="en")
    assert load_workbook(xlsx).worksheets[0].cell(row=3, column=2).value == "医院\ufffd(1)"
    store.close()


@pytest.mark.xdist_group("rating")
def test_the_xlsx_export_round_trips_through_libreoffice(trained: TrainedEnv,
                                                         tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is needed (.ci/run installs libreoffice-calc-nogui)"
    url = f"sqlite:///{tmp_path / 'tiering.db'}"
    record = run_periodic_rating(as_of=AS_OF, settings=trained.settings(url),
                                 data_dir=trained.clean_dir).record
    store = TierStore.open(url)
    xlsx = export_rating(store, record.id, tmp_path / "rating.xlsx", fmt="xlsx", lang="zh")
    ours = _read_csv(export_rating(store, record.id, tmp_path / "rating.csv", fmt="csv",
                                   lang="zh"))
    store.close()
    out = tmp_path / "lo"
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
                    "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false",
                    "--outdir",
                    str(out), str(xlsx)], check=True, capture_output=True, timeout=240)
    theirs = _read_csv(out / "rating.csv")
    assert theirs[0][0] == "基本信息"  # the group row of seed 004's layout
    assert theirs[1] == ours[0]  # the header row
    data = theirs[2:]
    assert len(data) == len(ours) - 1 == record.customer_count
    for mine, lo in zip(ours[1:], data, strict=True):
        assert len(mine) == len(lo)
        for a, b in zip(mine, lo, strict=True):
            assert _same(a, b), (a, b)
    header = ours[0]
    for column in ("流失概率", "预计下期价值", "综合得分", "客户级别", "上期级别", "建议措施"):
        assert column in header
    churn = [float(r[header.index("流失概率")]) for r in ours[1:]]
    assert all(0 <= p <= 1 for p in churn)


@pytest.mark.xdist_group("rating")
@pytest.mark.parametrize("lang, first, last", [("zh", "基本信息", "评级说明"),
                                               ("en", "Basic information", "Reason")])
def test_the_printed_xlsx_fits_each_row_on_one_page_width_with_the_header_on_every_page(
        trained: TrainedEnv, tmp_path: Path, lang: str, first: str, last: str) -> None:
    from pypdf import PdfReader

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is needed (.ci/run installs libreoffice-calc-nogui)"
    url = f"sqlite:///{tmp_path / 'tiering.db'}"
    record = run_periodic_rating(as_of=AS_OF, settings=trained.settings(url),
                                 data_dir=trained.clean_dir).record
    store = TierStore.open(url)
    xlsx = export_rating(store, record.id, tmp_path / "rating.xlsx", fmt="xlsx", lang=lang)
    store.close()
    sheet = load_workbook(xlsx).worksheets[0]
    assert sheet.page_setup.orientation == "landscape" and sheet.print_title_rows == "$1:$2"
    header = [c.value for c in sheet[2]]
    churn = sheet.cell(row=3, column=header.index(
        "流失概率" if lang == "zh" else "Churn probability") + 1)
    assert churn.number_format == "0.0%"
    out = tmp_path / "pdf"
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path / 'lo'}",
                    "--convert-to", "pdf", "--outdir", str(out), str(xlsx)], check=True,
                   capture_output=True, timeout=240)
    pages = [page.extract_text() for page in PdfReader(out / "rating.pdf").pages]
    grade_pages = [text for text in pages if first in text]
    # every page of grades starts with the header and reaches the last column: rows are not
    # split across pages sideways
    assert len(grade_pages) >= 2
    assert all(last in text for text in grade_pages)
    ids = {c.value for c in next(sheet.iter_cols(min_col=1, max_col=1, min_row=3))}
    printed = " ".join(grade_pages)
    assert sum(i in printed for i in list(ids)[:50]) == 50
    assert len(pages) <= len(grade_pages) + 2  # the About sheet takes a page or two
