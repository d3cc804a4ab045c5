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
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.waterfall g.bar")
    chart_total = float(browser.find_element(By.CSS_SELECTOR, "svg.waterfall")
                        .get_attribute("data-total"))
    shown_total = float(browser.find_element(By.ID, "total").get_attribute("data-total"))
    bar_sum = sum(float(b.get_attribute("data-points")) for b in bars)
    assert len(bars) >= 5 + 2 * 7
    assert abs(bar_sum - shown_total) < 1e-9 and chart_total == shown_total
    assert browser.find_element(By.ID, "total").text == f"{shown_total:.2f}"
    site.shot(browser, "customer")


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
             "reviews": "/reviews", "audit": "/audit", "models": "/models",
             "english": f"/customers/{customer}?lang=en"}
    requested_urls(browser)  # drop the sign-in's entries
    for width in (1280, 390):
        browser.set_window_size(width, 900)
        for name, path in pages.items():
            browser.get(f"{site.url}{path}")
            assert browser.find_element(By.TAG_NAME, "main")
            site.shot(browser, f"{name}-{width}")
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (name, width, overflow)
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
