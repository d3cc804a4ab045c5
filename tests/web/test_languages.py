"""Both languages whole: every page in real Chromium and every export, in Chinese and in English,
with no string of the other language and no raw code.

The rule. What a person reads is checked after taking out what is data, not words of ours:
customer ids and names, the reviewers' key names and the reasons people typed, model run ids, and
the amount unit the data is in (``CNY (元)``). Then

* a Chinese page or export holds no ASCII word but the few that are names in Chinese text too
  (``VIP``, ``API``, ``MLflow``, ``CSV``, ``PSI``, ``SHAP``, ``CNY``, and the names of methods:
  ``ROC AUC``, ``RFM``, ``BG/NBD``, ``Gamma-Gamma``);
* an English page or export holds no Chinese character;
* neither holds a raw code: a ``snake_case`` identifier, a policy code (``tier-1``,
  ``dedicated_team``), a grade id where the grade has a name (``dormant`` for "Dormant"), or a
  float with more than four decimals (``189735.49999999997``).

The fixture is the demo book of the web tests (two periodic ratings, so the migration table
shows), with one override so the audit log and the customer's review rows have an entry.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from selenium import webdriver
from selenium.webdriver.common.by import By

from customer_tiering.i18n.catalogue import catalogue
from customer_tiering.rating.exports import export_rating
from customer_tiering.rating.reviews import decide
from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.store.keys import create_key
from customer_tiering.store.tier_store import TierStore
from tests.api.conftest import serve
from tests.support.rating_env import AS_OF, TrainedEnv
from tests.web.test_pages import CHROMEDRIVER, CHROMIUM, click_and_wait

pytestmark = pytest.mark.xdist_group("rating")

# ASCII words a Chinese text may hold: names that Chinese text writes in Latin letters too.
ZH_ALLOWED = {"VIP", "API", "MLflow", "CSV", "PSI", "SHAP", "CNY", "ROC", "AUC", "RFM", "BG", "NBD",
              "Gamma-Gamma"}
_RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")  # MLflow run ids: data
_ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
_SNAKE = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")
_LONG_FLOAT = re.compile(r"\d\.\d{5,}")
PAGE_TEXT = """
// a link to the other language names it in that language (its element says so with lang=)
document.querySelectorAll('body [lang]').forEach(e => { e.textContent = ''; });
const out = [document.title, document.body.innerText];
document.querySelectorAll('svg text, option, th, td').forEach(e => out.push(e.textContent));
document.querySelectorAll('[placeholder], [title], [aria-label], [alt]').forEach(e => {
  for (const a of ['placeholder', 'title', 'aria-label', 'alt']) {
    if (e.getAttribute(a)) out.push(e.getAttribute(a));
  }
});
return out.join('\\n');
"""


@dataclass
class Book:
    url: str
    keys: dict[str, str]
    store: TierStore
    data: list[str]  # data values a page may show in any language, longest first
    codes: dict[str, set[str]]  # raw codes that must never show, by kind
    exports: Path


def _codes(store: TierStore) -> dict[str, set[str]]:
    """The codes a person must never read: policy values and programmes, grade ids that have a
    name of their own, and every code the catalogue turns into words."""
    record = store.rating_or_latest()
    words = catalogue().codes
    policy = set()
    for group in ("account_manager", "discount_tier", "programme", "customer_type", "scheme"):
        policy |= {c for c in words["en"][group] if "_" in c or "-" in c}
    grade_ids = {g for g, names in record.grade_labels.items()
                 if names["en"] != g and names["zh"] != g}
    return {"policy": policy, "grade": grade_ids}


def problems_in(text: str, lang: str, book: Book, where: str) -> list[str]:
    """What in ``text`` is of the other language or a raw code (data values taken out first)."""
    for value in book.data:
        text = text.replace(value, " ")
    text = _RUN_ID.sub(" ", text)
    found = []
    for match in _LONG_FLOAT.finditer(text):
        found.append(f"raw float {text[max(match.start() - 8, 0):match.end() + 4]!r}")
    for match in _SNAKE.finditer(text):
        found.append(f"code {match.group()!r} in "
                     f"{text[max(match.start() - 20, 0):match.end() + 20]!r}")
    for code in book.codes["policy"]:
        if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text):
            found.append(f"policy code {code!r}")
    for grade in book.codes["grade"]:
        if re.search(rf"(?<![\w-]){re.escape(grade)}(?![\w-])", text):
            found.append(f"grade code {grade!r}")
    if lang == "zh":
        for match in _ASCII_WORD.finditer(text):
            word = match.group()
            if word not in ZH_ALLOWED and not word.isdigit():
                found.append(f"English {word!r} in "
                             f"{text[max(match.start() - 20, 0):match.end() + 20]!r}")
    else:
        for match in _CJK.finditer(text):
            found.append(f"Chinese {match.group()!r} in "
                         f"{text[max(match.start() - 20, 0):match.end() + 20]!r}")
    return [f"{where} [{lang}]: {p}" for p in dict.fromkeys(found)]


@pytest.fixture(scope="module")
def book(trained: TrainedEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Book]:
    base = tmp_path_factory.mktemp("languages")
    settings = trained.settings(f"sqlite:///{base / 'tiering.db'}").model_copy(
        update={"clean_data_dir": trained.clean_dir, "model_poll_seconds": 0.0})
    run_periodic_rating(as_of=date(2025, 11, 30), settings=settings, data_dir=trained.clean_dir)
    run_periodic_rating(as_of=AS_OF, settings=settings, data_dir=trained.clean_dir)
    store = TierStore.open(settings.tier_store_url())
    keys = {role: create_key(store, role, f"{role} 复核") for role in ("viewer", "reviewer")}
    record = store.rating_or_latest()
    grades = store.grades(record.id, columns=["customer_id", "customer_name", "grade"])
    first = grades["customer_id"].iloc[0]
    decide(store, first, "override", reviewer="reviewer 复核", reason="战略合作 strategic partner",
           new_grade=next(iter(record.grade_labels)),
           expires_at=datetime.now(UTC) + timedelta(days=90))  # the page says until when
    data = {*grades["customer_id"], *grades["customer_name"].dropna(), "reviewer 复核",
            "viewer 复核", "战略合作 strategic partner", "CNY (元)", "NOBODY"}
    exports = base / "exports"
    for lang in ("zh", "en"):
        for fmt in ("csv", "xlsx"):
            export_rating(store, record.id, exports / f"rating-{lang}.{fmt}", fmt=fmt, lang=lang)
    server = serve(settings)
    url = next(server)
    try:
        yield Book(url, keys, store, sorted(data, key=len, reverse=True), _codes(store), exports)
    finally:
        server.close()
        store.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[webdriver.Chrome]:
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        "Debian's chromium and chromium-driver are needed (make test installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def _sign_in(driver: webdriver.Chrome, book: Book, role: str, lang: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{book.url}/login?lang={lang}")
    driver.find_element(By.ID, "api_key").send_keys(book.keys[role])
    click_and_wait(driver, driver.find_element(By.ID, "sign-in"))


def _read(driver: webdriver.Chrome, book: Book, path: str, lang: str) -> str:
    driver.get(f"{book.url}{path}{'&' if '?' in path else '?'}lang={lang}")
    assert driver.find_element(By.TAG_NAME, "main")
    return str(driver.execute_script(PAGE_TEXT))


@pytest.mark.parametrize(("lang", "width"), [("zh", 1280), ("en", 1280), ("zh", 390),
                                             ("en", 390)])
def test_every_page_reads_in_one_language_with_no_raw_code_at_1280_and_390_pixels(
        book: Book, chromium: webdriver.Chrome, lang: str, width: int) -> None:
    chromium.set_window_size(width, 900)
    # the window really is that wide (a phone layout hides columns, stacks the queue)
    assert abs(int(chromium.execute_script("return window.innerWidth")) - width) <= 20
    record = book.store.rating_or_latest()
    grades = book.store.grades(record.id, columns=["customer_id", "provisional", "previous_grade",
                                                   "grade"])
    overridden = grades["customer_id"].iloc[0]
    provisional = grades.loc[grades["provisional"].astype(bool), "customer_id"].iloc[0]
    moved = grades.loc[grades["previous_grade"].notna()
                       & (grades["previous_grade"] != grades["grade"]), "customer_id"].iloc[0]
    found: list[str] = []
    chromium.delete_all_cookies()
    found += problems_in(_read(chromium, book, "/login", lang), lang, book, "login")
    _sign_in(chromium, book, "reviewer", lang)
    pages = {"grades": "/grades", "grades page 2": "/grades?page=2",
             "provisional grades only": "/grades?provisional=1",
             "overridden customer": f"/customers/{overridden}",
             "provisional customer": f"/customers/{provisional}",
             "customer whose grade moved": f"/customers/{moved}",
             "rating overview": "/ratings", "review queue": "/reviews",
             "review queue page 2": "/reviews?page=2",
             "review queue after a bulk decision": "/reviews?accepted=2&failed=1",
             "audit": "/audit",
             "models": "/models", "missing customer": "/customers/NOBODY"}
    texts = {name: _read(chromium, book, path, lang) for name, path in pages.items()}
    # the pages really are in the asked language (a page in the other one fails here)
    heading = {"zh": ("客户等级", "评级概览", "审计日志"), "en": ("Grades", "Rating overview",
                                                           "Audit log")}[lang]
    assert heading[0] in texts["grades"] and heading[1] in texts["rating overview"]
    assert heading[2] in texts["audit"]
    # the provisional filter and the work queue are the pages asked for (not an error page)
    assert catalogue().text("provisional", lang) in texts["provisional grades only"]
    assert catalogue().text("queue_why", lang) in texts["review queue"]
    assert catalogue().text("queue_failed", lang, n=1) in texts[
        "review queue after a bulk decision"]
    assert "战略合作 strategic partner" in texts["audit"]  # the override is in the log
    for name, text in texts.items():
        found += problems_in(text, lang, book, name)
    # a form error: a review whose reason is only a blank
    chromium.get(f"{book.url}/customers/{moved}?lang={lang}")
    chromium.find_element(By.ID, "reason").send_keys(" ")
    click_and_wait(chromium, chromium.find_element(By.ID, "submit-override"))
    error = chromium.find_element(By.ID, "form-error").text
    assert error == {"zh": "请填写原因：每次复核都需要说明原因",
                     "en": "Reason: a review needs a reason"}[lang]
    found += problems_in(str(chromium.execute_script(PAGE_TEXT)), lang, book, "form error")
    # a viewer on a reviewer's page
    _sign_in(chromium, book, "viewer", lang)
    forbidden = _read(chromium, book, "/reviews", lang)
    assert chromium.find_element(By.ID, "forbidden")
    found += problems_in(forbidden, lang, book, "forbidden")
    if os.environ.get("TIERING_LANGUAGE_REPORT"):  # every finding, for the one who fixes them
        Path(os.environ["TIERING_LANGUAGE_REPORT"]).write_text("\n".join(found), encoding="utf-8")
    assert not found, "\n".join(found[:80])


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _xlsx_rows(path: Path) -> list[tuple[str, list[list[str]]]]:
    book = load_workbook(path, read_only=True)
    sheets = [(sheet.title, [["" if v is None else str(v) for v in row]
                             for row in sheet.iter_rows(values_only=True)])
              for sheet in book.worksheets]
    book.close()
    return sheets


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_export_reads_in_one_language_with_no_raw_code(book: Book, lang: str) -> None:
    record = book.store.rating_or_latest()
    csv_rows = _csv_rows(book.exports / f"rating-{lang}.csv")
    sheets = _xlsx_rows(book.exports / f"rating-{lang}.xlsx")
    assert len(csv_rows) == record.customer_count + 1
    grades_sheet = sheets[0][1]
    assert grades_sheet[1] == csv_rows[0]  # the same headers (row 1 of the sheet: the groups)
    # the code columns are in words: no stored region, type or segment code comes through as is
    header = csv_rows[0]
    column = {name: header.index(name) for name in header}
    region, ctype, segment = ({"zh": "所在地区", "en": "Region"}[lang],
                              {"zh": "客户类型", "en": "Customer type"}[lang],
                              {"zh": "客户细分", "en": "Segment"}[lang])
    types = {r[column[ctype]] for r in csv_rows[1:]}
    regions = {r[column[region]] for r in csv_rows[1:]}
    segments = {r[column[segment]] for r in csv_rows[1:]}
    if lang == "zh":
        assert "医院" in types and "华东" in regions and "高价值活跃" in segments, (types, segments)
    else:
        assert "hospital" in types and "East China" in regions and "Champions" in segments
    found: list[str] = []
    for i, row in enumerate(csv_rows):
        found += problems_in("\n".join(row), lang, book, f"CSV row {i + 1}")
    for title, rows in sheets:
        found += problems_in(title, lang, book, "XLSX sheet name")
        for i, row in enumerate(rows):
            found += problems_in("\n".join(row), lang, book, f"XLSX {title} row {i + 1}")
    assert not found, "\n".join(found[:80])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_cli_tables_read_in_one_language_with_grade_names(
        book: Book, lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from customer_tiering.cli import app

    monkeypatch.setenv("TIERING_DATABASE_URL", book.store.engine.url.render_as_string(False))
    monkeypatch.setenv("COLUMNS", "200")  # rich tables one line a row
    record = book.store.rating_or_latest()
    customer = book.store.grades(record.id, columns=["customer_id"])["customer_id"].iloc[0]
    runner = CliRunner()
    shown = runner.invoke(app, ["ratings", "show", str(record.id), "--lang", lang])
    assert shown.exit_code == 0, shown.output
    # the language comes from TIERING_LANG when --lang is not given
    history = runner.invoke(app, ["ratings", "history", customer], env={"TIERING_LANG": lang})
    assert history.exit_code == 0, history.output
    names = {g: v[lang] for g, v in record.grade_labels.items()}
    migration = shown.output.split({"zh": "等级迁移", "en": "migration:"}[lang], 1)[1]
    assert all(name in migration for name in names.values())  # rows and columns by name
    assert any(name in history.output for name in names.values())
    listed = runner.invoke(app, ["ratings", "list", "--lang", lang])
    assert listed.exit_code == 0, listed.output
    found = (problems_in(shown.output, lang, book, "ratings show")
             + problems_in(listed.output, lang, book, "ratings list")
             + problems_in(history.output, lang, book, "ratings history"))
    assert not found, "\n".join(found)
