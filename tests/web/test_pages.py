"""The pages in Debian's Chromium (headless, driven by Selenium) against the running app.

Sign in, filter the grade list, open a customer and check that the waterfall's bars add up to the
total shown, submit an override as a reviewer and find it in the audit log, be refused as a
viewer; every page at 1,280 and 390 pixels wide, with no request leaving the machine. Screenshots
go to the test's folder, and to ``TIERING_SCREENSHOT_DIR`` when set (README's pictures).
"""

from __future__ import annotations

import html
import json
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.store.keys import create_key
from customer_tiering.store.tier_store import TierStore
from customer_tiering.web.text import TEXT
from tests.api.conftest import serve
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class Site:
    def __init__(self, url: str, keys: dict[str, str], store: TierStore, shots: Path) -> None:
        self.url, self.keys, self.store, self.shots = url, keys, store, shots

    def shot(self, driver: webdriver.Chrome, name: str) -> Path:
        path = self.shots / f"{name}.png"
        driver.save_screenshot(str(path))
        extra = os.environ.get("TIERING_SCREENSHOT_DIR")
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(extra) / path.name)
        return path


@pytest.fixture(scope="module")
def site(trained: TrainedEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("web")
    settings = trained.settings(f"sqlite:///{base / 'tiering.db'}").model_copy(
        update={"clean_data_dir": trained.clean_dir, "model_poll_seconds": 0.0})
    run_periodic_rating(as_of=date(2025, 11, 30), settings=settings, data_dir=trained.clean_dir)
    run_periodic_rating(as_of=AS_OF, settings=settings, data_dir=trained.clean_dir)
    store = TierStore.open(settings.tier_store_url())
    keys = {role: create_key(store, role, f"{role} 测试") for role in ("viewer", "reviewer")}
    server = serve(settings)
    url = next(server)
    shots = base / "screenshots"
    shots.mkdir()
    try:
        yield Site(url, keys, store, shots)
    finally:
        server.close()
        store.close()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        "Debian's chromium and chromium-driver are needed (make test installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--lang=zh-CN"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(driver: webdriver.Chrome, site: Site, role: str) -> None:
    driver.get(f"{site.url}/login")
    driver.find_element(By.ID, "api_key").send_keys(site.keys[role])
    click_and_wait(driver, driver.find_element(By.ID, "sign-in"))
    assert driver.current_url.endswith("/grades"), driver.current_url


def click_and_wait(driver: webdriver.Chrome, element: object) -> None:
    """Click something that loads a new page and wait until the old page is gone."""
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()  # type: ignore[attr-defined]
    WebDriverWait(driver, 20).until(lambda _driver: _is_gone(old))


def _is_gone(element: WebElement) -> bool:
    """Whether an element's page has been replaced. Chromedriver says so either as a stale
    element or, when it catches the old node mid-teardown, as an inspector error that the node
    "does not belong to the document" (seen in CI); both mean the old page is gone."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


def present(driver: webdriver.Chrome, selector: str) -> bool:
    """Whether the page holds an element matching ``selector``, asked without the implicit
    wait (which a look-up that finds nothing sits out)."""
    return bool(driver.execute_script("return document.querySelector(arguments[0]) !== null",
                                      selector))


def in_view(driver: webdriver.Chrome, element: WebElement) -> tuple[float, float, float]:
    """An element's left and right edges on the page, and the window's inner width."""
    return tuple(driver.execute_script(  # type: ignore[return-value]
        "const r = arguments[0].getBoundingClientRect();"
        "return [r.left + window.scrollX, r.right + window.scrollX, window.innerWidth]", element))


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_a_viewer_filters_the_list_and_the_waterfall_adds_up_to_the_total(
        site: Site, browser: webdriver.Chrome) -> None:
    sign_in(browser, site, "viewer")
    rating = site.store.latest_rating()
    frame = site.store.grades(rating.id, columns=["customer_id", "grade"])
    grade = frame["grade"].value_counts().index[0]
    Select(browser.find_element(By.ID, "filter-grade")).select_by_value(grade)
    click_and_wait(browser, browser.find_element(By.ID, "apply-filters"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#grade-table tbody tr")
    assert rows and all(r.get_attribute("data-grade") == grade for r in rows)
    assert int(browser.find_element(By.ID, "match-count").get_attribute("data-count")) == (
        frame["grade"] == grade).sum()
    site.shot(browser, "grades")
    click_and_wait(browser, rows[0].find_element(By.TAG_NAME, "a"))
    bars = browser.find_elements(By.CSS_SELECTOR, ".waterfall .bar")
    chart_total = float(browser.find_element(By.CSS_SELECTOR, ".waterfall")
                        .get_attribute("data-total"))
    shown_total = float(browser.find_element(By.ID, "total").get_attribute("data-total"))
    bar_sum = sum(float(b.get_attribute("data-points")) for b in bars)
    assert len(bars) >= 5 + 2  # the card's criteria, then one bar per model part
    assert abs(bar_sum - shown_total) < 1e-9 and chart_total == shown_total
    assert browser.find_element(By.ID, "total").text == f"{shown_total:.2f}"
    site.shot(browser, "customer")


def test_the_audit_page_says_so_when_nothing_was_reviewed_yet(site: Site,
                                                             browser: webdriver.Chrome) -> None:
    from customer_tiering.rating.reviews import audit_log

    assert audit_log(site.store).empty  # the module's reviews come later
    sign_in(browser, site, "reviewer")
    for lang in ("zh", "en"):
        browser.get(f"{site.url}/audit?lang={lang}")
        assert browser.find_element(By.ID, "audit-empty").text == TEXT[lang]["audit_empty"]
        assert not present(browser, "#audit")


def test_a_reviewers_override_shows_in_the_audit_log_and_a_viewer_is_refused(
        site: Site, browser: webdriver.Chrome) -> None:
    customer = site.store.grades(site.store.latest_rating().id,
                                 columns=["customer_id"])["customer_id"].iloc[5]
    sign_in(browser, site, "reviewer")
    browser.get(f"{site.url}/customers/{customer}")
    Select(browser.find_element(By.ID, "new-grade")).select_by_value("VIP")
    browser.find_element(By.ID, "reason").send_keys("战略合作 strategic partner")
    click_and_wait(browser, browser.find_element(By.ID, "submit-override"))
    assert browser.find_element(By.ID, "grade").text in ("VIP客户", "VIP")
    browser.get(f"{site.url}/audit")
    audit = browser.find_element(By.ID, "audit").text
    assert "战略合作 strategic partner" in audit and customer in audit and "reviewer 测试" in audit
    site.shot(browser, "audit")
    browser.get(f"{site.url}/reviews")
    assert browser.find_elements(By.CSS_SELECTOR, "#queue tr")
    site.shot(browser, "reviews")
    browser.delete_all_cookies()
    sign_in(browser, site, "viewer")
    for page in ("/reviews", "/audit"):
        browser.get(f"{site.url}{page}")
        assert browser.find_element(By.ID, "forbidden")
    browser.get(f"{site.url}/customers/{customer}")
    assert not browser.find_elements(By.ID, "override-form")
    site.shot(browser, "forbidden-viewer")


def test_every_page_stays_on_this_machine_and_fits_390_and_1280_pixels(
        site: Site, browser: webdriver.Chrome) -> None:
    customer = site.store.grades(site.store.latest_rating().id,
                                 columns=["customer_id"])["customer_id"].iloc[0]
    sign_in(browser, site, "reviewer")
    pages = {"grades": "/grades", "customer": f"/customers/{customer}", "rating": "/ratings",
             "reviews": "/reviews", "audit": "/audit", "models": "/models"}
    requested_urls(browser)  # drop the sign-in's entries
    for lang in ("en", "zh"):
        for width in (1280, 390):
            browser.set_window_size(width, 900)
            for name, path in pages.items():
                browser.get(f"{site.url}{path}?lang={lang}")
                assert browser.find_element(By.TAG_NAME, "main")
                site.shot(browser, f"{name}-{width}" if lang == "zh" else f"{name}-{width}-en")
                overflow = browser.execute_script(
                    "return document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 1, (name, width, lang, overflow)
                cells = (browser.find_elements(By.CSS_SELECTOR, "td.grade-cell")[:3]
                         if present(browser, "td.grade-cell") else [])
                assert cells or name not in ("grades", "reviews"), (name, width, lang)
                for cell in cells:
                    left, right, inner = in_view(browser, cell)
                    assert left >= 0 and right <= inner, (name, width, lang, left, right)
                if name == "customer":
                    sizes = browser.execute_script(
                        "return [...document.querySelectorAll('.waterfall .wf-label, "
                        ".waterfall .wf-value')].map(e => parseFloat(getComputedStyle(e)"
                        ".fontSize))")
                    assert sizes and min(sizes) >= 11, (width, lang, min(sizes))
    browser.get(f"{site.url}/ratings?lang=en")
    checks = browser.find_element(By.ID, "checks").text
    assert "Grading checks" in checks and "revenue over the last 365 days" in checks
    assert "Amounts in: CNY (元)" in checks
    urls = requested_urls(browser)
    assert urls and all(u.startswith(site.url) or u.startswith("data:") for u in urls), [
        u for u in urls if not u.startswith(site.url)]
    assert any(u.endswith("/static/style.css") for u in urls)
    assert any("/models/tiering-churn/" in u and u.endswith(".png") for u in urls)


def test_the_session_cookie_is_httponly_samesite_and_forms_need_their_csrf_token(
        site: Site) -> None:
    import re

    import httpx

    with httpx.Client(base_url=site.url, follow_redirects=False) as client:
        page = client.get("/login")
        cookie = page.headers["set-cookie"].lower()
        assert "tiering_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        forged = client.post("/login", data={"api_key": site.keys["reviewer"], "csrf": "forged"})
        assert forged.status_code == 400 and "CSRF" in forged.text
        assert forged.headers["content-type"].startswith("text/html")  # a page, not JSON
        signed_in = client.post("/login", data={"api_key": site.keys["reviewer"], "csrf": token})
        assert signed_in.status_code == 303
        missing = client.get("/customers/NOBODY")
        assert missing.status_code == 404 and "NOBODY" in missing.text
        assert missing.headers["content-type"].startswith("text/html")
        customer = site.store.grades(site.store.latest_rating().id,
                                     columns=["customer_id"])["customer_id"].iloc[9]
        before = len(site.store.customer_history(customer))
        refused = client.post(f"/customers/{customer}/override",
                              data={"new_grade": "VIP", "reason": "x", "csrf": token})
        assert refused.status_code == 400  # the token of the signed-out session no longer works
        from customer_tiering.rating.reviews import audit_log

        assert audit_log(site.store, customer_id=customer).empty
        assert len(site.store.customer_history(customer)) == before
        unauthenticated = httpx.get(f"{site.url}/grades", follow_redirects=False)
        assert unauthenticated.status_code == 303 and "/login" in unauthenticated.headers["location"]


def test_signing_in_returns_to_the_page_that_asked_for_it(site: Site,
                                                          browser: webdriver.Chrome) -> None:
    customer = site.store.grades(site.store.rating_or_latest().id,
                                 columns=["customer_id"])["customer_id"].iloc[3]
    wanted = f"{site.url}/customers/{customer}?lang=en"
    browser.get(wanted)
    assert "/login?next=" in browser.current_url
    browser.find_element(By.ID, "api_key").send_keys(site.keys["viewer"])
    click_and_wait(browser, browser.find_element(By.ID, "sign-in"))
    assert browser.current_url == wanted
    assert browser.find_element(By.ID, "total")


def _signed_in_with_next(site: Site, target: str, *, through_the_form: bool
                         ) -> tuple[str, httpx.Response]:
    """Open the sign-in form with ``?next=target`` and sign in; return what the form carried
    as ``next`` and the answer to the sign-in."""
    import re

    with httpx.Client(base_url=site.url, follow_redirects=False) as client:
        form = client.get("/login", params={"next": target})
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        carried = re.search(r'name="next" value="([^"]*)"', form.text)
        kept = "" if carried is None else html.unescape(carried.group(1))
        sent = kept if through_the_form else target
        answer = client.post("/login", data={"api_key": site.keys["viewer"], "csrf": token,
                                             "next": sent})
    return kept, answer


def test_sign_in_keeps_next_and_goes_only_to_paths_of_this_site(site: Site) -> None:
    for target in ("/customers/C1?lang=en", "/ratings/1"):
        kept, answer = _signed_in_with_next(site, target, through_the_form=True)
        assert kept == target
        assert answer.status_code == 303 and answer.headers["location"] == target
    for target in ("//other.host/grades", "/\\other.host/grades", "https://other.host/",
                   "http:/grades", "/\t/other.host", "grades", "javascript:alert(1)", ""):
        kept, answer = _signed_in_with_next(site, target, through_the_form=False)
        assert kept == "", target  # the form never carries it on
        assert answer.status_code == 303 and answer.headers["location"] == "/", target


def test_model_plots_leave_no_temporary_folder_and_unknown_ones_are_404(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re
    import tempfile

    # The server runs in this process: its temporary files go to a folder of this test's own.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with httpx.Client(base_url=site.url, follow_redirects=False) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"api_key": site.keys["viewer"], "csrf": token})
        page = client.get("/models").text
        plots = sorted(set(re.findall(r'/models/[\w-]+/\d+/\w+\.png', page)))
        assert len(plots) >= 2, plots
        # which kind of scorer serves each model, and why, is on the page
        assert len(re.findall(r'<p class="scorer">(评分器|Scorer)', page)) >= 3
        for path in plots * 2:
            answer = client.get(path)
            assert answer.status_code == 200 and answer.content.startswith(b"\x89PNG"), path
            assert answer.headers["content-type"] == "image/png"
        assert list(scratch.iterdir()) == []
        name, version = plots[0].split("/")[2:4]
        for path in (f"/models/tiering-nobody/{version}/calibration_curve.png",
                     f"/models/{name}/99999/calibration_curve.png",
                     f"/models/{name}/latest/calibration_curve.png",
                     f"/models/{name}/{version}/no_such_plot.png"):
            missing = client.get(path)
            assert missing.status_code == 404, (path, missing.status_code)
            assert missing.headers["content-type"].startswith("text/html")
            assert 'id="error"' in missing.text, path
        assert list(scratch.iterdir()) == []


def _story(driver: webdriver.Chrome) -> tuple[dict[str, float], dict[str, float],
                                              list[tuple[str, float, str]], float]:
    """The customer page's waterfall bars, points-table parts and reason-line movers."""
    bars = {b.get_attribute("data-item"): float(b.get_attribute("data-points"))
            for b in driver.find_elements(By.CSS_SELECTOR, ".waterfall .bar")}
    table = {r.get_attribute("data-item"): float(r.get_attribute("data-points"))
             for r in driver.find_elements(By.CSS_SELECTOR, "#points tr.part")}
    movers = [(m.get_attribute("data-item"), float(m.get_attribute("data-points")), m.text)
              for m in driver.find_elements(By.CSS_SELECTOR, "#reason-line .mover")]
    total = float(driver.find_element(By.ID, "total").get_attribute("data-total"))
    return bars, table, movers, total


@pytest.mark.parametrize(("lang", "width"), [("zh", 1280), ("en", 1280), ("zh", 390),
                                             ("en", 390)])
def test_the_reason_line_names_the_waterfalls_own_numbers_measured_from_zero(
        site: Site, browser: webdriver.Chrome, lang: str, width: int) -> None:
    rating = site.store.latest_rating()
    frame = site.store.grades(rating.id, columns=["customer_id", "grade", "total"])
    ordered = frame.sort_values("total")
    one_per_grade = ordered.groupby("grade")["customer_id"].agg(lambda c: c.iloc[len(c) // 2])
    sign_in(browser, site, "viewer")
    browser.set_window_size(width, 900)
    told = {"up": 0, "down": 0}
    for customer in one_per_grade:
        browser.get(f"{site.url}/customers/{customer}?lang={lang}")
        bars, table, movers, total = _story(browser)
        assert bars == table  # the bars and the table's "counted in total" column agree
        assert abs(sum(bars.values()) - total) < 1e-9
        shown = [v.text for v in browser.find_elements(By.CSS_SELECTOR, ".waterfall .wf-value")]
        assert shown[:-1] == [f"{v:+.2f}" for v in bars.values()] and shown[-1] == f"{total:.2f}"
        counted = [c.text for c in browser.find_elements(By.CSS_SELECTOR,
                                                         "#points tr.part td.counted")]
        assert counted == [f"{v:+.2f}" for v in bars.values()]
        for item, points, text in movers:  # the reason names the bars' own numbers
            assert bars[item] == points, (customer, item)
            assert f"{points:.2f}" in text, (customer, text)
        for side in ("up", "down"):
            found = (browser.find_elements(By.CSS_SELECTOR, f"#reason-line > #story-{side}")
                     if present(browser, f"#story-{side}") else [])
            if found:
                told[side] += 1
                gap = float(found[0].get_attribute("data-gap"))
                assert gap >= 0 and f"{gap:.2f}" in found[0].text
                assert found[0].find_elements(By.CSS_SELECTOR, ".mover")
        note = browser.find_element(By.ID, "measured-from").text
        assert "×0.7" in note  # the blend's weight of the card is on the page
        assert ("0 分" in note) if lang == "zh" else ("0 points" in note)
        assert TEXT[lang]["story_total"].split("{")[0] in browser.find_element(
            By.ID, "reason-line").text
    assert told["up"] >= 1 and told["down"] >= 1, told


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_provisional_grades_carry_a_badge_name_their_missing_inputs_and_filter(
        site: Site, browser: webdriver.Chrome, lang: str) -> None:
    rating = site.store.latest_rating()
    frame = site.store.grades(rating.id, columns=["customer_id", "provisional"])
    expected = int(frame["provisional"].sum())
    assert 0 < expected < len(frame)
    sign_in(browser, site, "viewer")
    browser.get(f"{site.url}/grades?lang={lang}")
    browser.find_element(By.ID, "filter-provisional").click()
    click_and_wait(browser, browser.find_element(By.ID, "apply-filters"))
    assert int(browser.find_element(By.ID, "match-count").text) == expected
    rows = browser.find_elements(By.CSS_SELECTOR, "#grade-table tbody tr")
    assert rows and all(r.get_attribute("data-provisional") == "true" for r in rows)
    assert all(r.find_element(By.CSS_SELECTOR, ".badge.provisional").text
               == TEXT[lang]["provisional"] for r in rows)
    with httpx.Client(base_url=site.url, headers={"X-API-Key": site.keys["viewer"]}) as client:
        only = client.get("/v1/grades", params={"provisional": "true", "page_size": 1}).json()
        final = client.get("/v1/grades", params={"provisional": "false", "page_size": 1}).json()
        first = rows[0].find_element(By.TAG_NAME, "a").text
        story = client.get(f"/v1/customers/{first}/explanation",
                           params={"lang": lang}).json()["story"]
    assert only["total_count"] == expected and final["total_count"] == len(frame) - expected
    assert story["measured_from"] == "zero" and story["missing_inputs"]
    click_and_wait(browser, rows[0].find_element(By.TAG_NAME, "a"))
    assert browser.find_element(By.ID, "provisional-badge").text == TEXT[lang]["provisional"]
    missing = browser.find_elements(By.CSS_SELECTOR, "#missing-inputs .missing-input")
    assert missing
    assert [m.get_attribute("data-item") for m in missing] == story["missing_inputs"]
    bars = {b.get_attribute("data-item"): float(b.get_attribute("data-points"))
            for b in browser.find_elements(By.CSS_SELECTOR, ".waterfall .bar")}
    assert bars == {p["item"]: p["points"] for p in story["parts"]}  # the API tells the same
    for m in missing:  # each named input shows as missing in the points table
        row = browser.find_element(By.CSS_SELECTOR,
                                   f'#points tr.part[data-item="{m.get_attribute("data-item")}"]')
        assert row.find_elements(By.TAG_NAME, "td")[2].text == TEXT[lang]["band_missing"]
        assert row.find_elements(By.TAG_NAME, "td")[0].text == m.text
    settled = frame.loc[~frame["provisional"], "customer_id"].iloc[0]
    browser.get(f"{site.url}/customers/{settled}?lang={lang}")
    assert browser.find_element(By.ID, "grade")
    assert not present(browser, "#provisional-badge") and not present(browser, "#missing-inputs")


def test_the_review_queue_is_counted_paged_sorted_says_why_and_takes_bulk_accepts(
        site: Site, browser: webdriver.Chrome) -> None:
    from datetime import UTC, datetime, timedelta

    from customer_tiering.rating.reviews import QUEUE_KINDS, audit_log, decide, effective_grade

    rating = site.store.latest_rating()
    frame = site.store.grades(rating.id, columns=["customer_id", "grade", "previous_grade",
                                                  "provisional"])
    still = frame[(frame["previous_grade"] == frame["grade"]) & ~frame["provisional"]]
    ending = str(still["customer_id"].iloc[0])
    other = next(g for g in rating.grade_labels if g != still["grade"].iloc[0])
    ends_at = datetime.now(UTC) + timedelta(days=10)
    decide(site.store, ending, "override", reviewer="测试", reason="到期测试 ends soon",
           new_grade=other, expires_at=ends_at)
    sign_in(browser, site, "reviewer")
    browser.get(f"{site.url}/reviews?lang=en")
    counts = {li.get_attribute("data-kind"): int(li.get_attribute("data-count"))
              for li in browser.find_elements(By.CSS_SELECTOR, "#queue-counts li")}
    total = sum(counts.values())
    assert list(counts) == list(QUEUE_KINDS) and counts["expiring"] >= 1
    assert browser.find_element(By.ID, "queue-count").text == f"{total:,} items to work"
    reviewed = set(audit_log(site.store)["customer_id"])
    changed = frame[frame["previous_grade"].notna() & (frame["previous_grade"] != frame["grade"])
                    & ~frame["customer_id"].isin(reviewed)]
    assert counts["vip_change"] + counts["change"] == len(changed)
    assert total > 50  # more than one page
    seen: list[tuple[str, str, int, bool, str]] = []
    pages = 0
    while True:
        pages += 1
        rows = browser.find_elements(By.CSS_SELECTOR, "#queue tbody tr")
        assert 0 < len(rows) <= 50
        # one script per page: element look-ups that find nothing wait out the implicit wait
        seen.extend(tuple(r) for r in browser.execute_script(
            "return [...document.querySelectorAll('#queue tbody tr')].map(r => ["
            "r.dataset.customer, r.dataset.kind, parseInt(r.dataset.steps),"
            "r.querySelector('input[type=checkbox]') !== null,"
            "r.querySelector('td.why').innerText.trim()])"))
        nxt = browser.find_elements(By.ID, "next-page")
        if not nxt:
            break
        click_and_wait(browser, nxt[0])
    assert pages == -(-total // 50) and len(seen) == total
    assert len({s[0] for s in seen}) == total  # no item twice across pages
    kinds = [s[1] for s in seen]
    assert kinds == sorted(kinds, key=QUEUE_KINDS.index)  # VIP changes, changes, ending, rest
    for kind in ("vip_change", "change"):  # the largest moves first
        moves = [abs(s[2]) for s in seen if s[1] == kind]
        assert moves == sorted(moves, reverse=True)
    for customer, kind, steps, offered, why in seen:  # only changes are offered; each says why
        assert offered == (kind in ("vip_change", "change")), (customer, kind)
        assert why
        if kind in ("vip_change", "change"):
            assert why.startswith(("Grade changed", "VIP change")) and f" {abs(steps)})" in why
    assert [w for c, k, _, _, w in seen if c == ending] == [
        f"Override to {rating.grade_labels[other]['en']} ends on {ends_at.date().isoformat()}"]
    # bulk accept: two ticked changes, one reason
    browser.get(f"{site.url}/reviews?lang=zh")
    boxes = browser.find_elements(By.CSS_SELECTOR, "#queue input[type=checkbox]")[:2]
    picked = [b.get_attribute("value") for b in boxes]
    for b in boxes:
        b.click()
    browser.find_element(By.ID, "bulk-reason").send_keys("批量复核 bulk")
    click_and_wait(browser, browser.find_element(By.ID, "bulk-accept"))
    assert browser.find_element(By.ID, "queue-done").text == "已接受 2 项。"
    left = {r.get_attribute("data-customer")
            for r in browser.find_elements(By.CSS_SELECTOR, "#queue tbody tr")}
    assert not left & set(picked)
    trail = audit_log(site.store)
    accepted = trail[(trail["reason"] == "批量复核 bulk") & (trail["action"] == "accept")]
    assert sorted(accepted["customer_id"]) == sorted(picked)
    # the override form starts on the customer's grade in force, not on the highest grade
    customer = str(changed["customer_id"].iloc[-1])
    browser.get(f"{site.url}/customers/{customer}")
    chosen = Select(browser.find_element(By.ID, "new-grade")).first_selected_option
    assert chosen.get_attribute("value") == effective_grade(site.store, customer).grade
