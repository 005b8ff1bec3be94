"""The staff console in a real headless browser (Debian's chromium driven by chromedriver through Selenium): HR
answers an escalation and publishes the FAQ, IT claims and resolves a ticket, a manager approves leave. Each change
is checked in the database and in Slack (the stand-in). A screenshot of every view is written to
var/test-artifacts/console/ (or $BACKOFFICE_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver as Chrome
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from sqlalchemy import select

from bot.models import Escalation, Faq, LeaveRequest
from bot.runtime import Runtime
from skills.it.models import Ticket
from tests.chat import month_day, working_days_ahead
from tests.conftest import REPO, LiveServer
from tests.slack_payloads import app_mention, block_actions, message_event, post_event, post_interaction
from tests.slack_standin import SlackStandIn

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("BACKOFFICE_TEST_ARTIFACTS", REPO / "var" / "test-artifacts")) / "console"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def driver() -> Iterator[Chrome]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are not installed; .ci/run installs them")
        pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(30)
    yield browser
    browser.quit()


def shot(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def sign_in(driver: WebDriver, base: str, slack_id: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.delete_all_cookies()
    driver.get(f"{base}/console/login")
    Select(driver.find_element(By.ID, "person")).select_by_value(slack_id)
    submit(driver, driver.find_element(By.ID, "sign-in"))
    assert "Hello," in driver.find_element(By.TAG_NAME, "h1").text


def submit(driver: WebDriver, button: WebElement) -> None:
    """Click a form's button and wait until the next page replaced this one (a click does not wait for it)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")

    def replaced(_: WebDriver) -> bool:
        try:
            page.is_enabled()
        except WebDriverException:  # stale; mid-navigation chromedriver may say "does not belong to the document"
            return True
        return False

    button.click()
    WebDriverWait(driver, 20).until(replaced)
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")


def one_id(runtime: Runtime, model: type[Escalation | Ticket | LeaveRequest], timeout: float = 20) -> int:
    """The id of the one row of `model`, once the event that makes it has been answered (listeners run after the
    ack, so the rows come in any order)."""
    deadline = time.monotonic() + timeout
    while True:
        with runtime.database.session_scope() as db:
            found = db.scalars(select(model.id)).all()
        if found:
            assert len(found) == 1, found
            return int(found[0])
        assert time.monotonic() < deadline, f"no {model.__name__} after {timeout} s"
        time.sleep(0.05)


def flash(driver: WebDriver) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CLASS_NAME, "flash").text)


@pytest.mark.slow
def test_hr_it_and_manager_work_their_queues_in_a_real_browser(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client, driver: Chrome
) -> None:
    from selenium.webdriver.common.by import By

    base = server.url
    # Work arriving from Slack: a question HR must answer, a broken laptop, a leave request.
    assert (
        post_event(http, base, app_mention("U0000DEVONE", "can I bring my dog to the office on fridays?")).status_code
        == 200
    )
    report = message_event("U0000DEVTWO", "my laptop won't turn on, I can't work", "D0JAMAL001", "im")
    assert post_event(http, base, report).status_code == 200
    start, end = working_days_ahead(5)  # a working week ahead, in the US where Jamal and Mei work
    ask = message_event("U0000DEVTHR", f"PTO {month_day(start)}-{month_day(end)} for a family trip", "D0MEILIN01", "im")
    assert post_event(http, base, ask).status_code == 200
    escalation_id, ticket_id, request_id = (one_id(runtime, m) for m in (Escalation, Ticket, LeaveRequest))
    confirm = block_actions("U0000DEVTHR", "leave:confirm", str(request_id), "D0MEILIN01", "1.1", ask["event"]["ts"])
    assert post_interaction(http, base, confirm).status_code == 200

    driver.get(f"{base}/console")
    assert driver.current_url.endswith("/console/login")
    shot(driver, "login")

    # HR: answer the question, then publish the draft FAQ.
    sign_in(driver, base, "U0000HRLEAD")
    shot(driver, "home-hr")
    driver.get(f"{base}/console/hr")
    card = driver.find_element(By.ID, f"escalation-{escalation_id}")
    card.find_element(By.NAME, "answer").send_keys("Yes, on Fridays, if the dog is house-trained.")
    shot(driver, "hr-escalations")
    submit(driver, card.find_element(By.CSS_SELECTOR, "button.primary"))
    assert "was sent to Sofia Rossi" in flash(driver)
    with runtime.database.session_scope() as db:
        faq_id = db.scalars(select(Faq.id).where(Faq.escalation_id == escalation_id)).one()
    shot(driver, "hr-draft-faq")
    submit(driver, driver.find_element(By.CSS_SELECTOR, f"#faq-{faq_id} button"))
    assert f"FAQ #{faq_id} is published" in flash(driver)
    with runtime.database.session_scope() as db:
        assert db.get_one(Escalation, escalation_id).status == "answered"
        assert db.get_one(Faq, faq_id).status == "published"
    slack.wait_for_post(lambda c: "HR answered your question" in str(c.params.get("text")))

    # IT: claim and resolve the ticket.
    sign_in(driver, base, "U0000ITDESK")
    driver.get(f"{base}/console/it")
    shot(driver, "it-queue")
    submit(driver, driver.find_element(By.CSS_SELECTOR, f"#ticket-{ticket_id} button[name=claim]"))
    assert flash(driver) == f"You have ticket #{ticket_id}."
    row = driver.find_element(By.ID, f"ticket-{ticket_id}")
    row.find_element(By.NAME, "note").send_keys("Replaced the power adapter")
    submit(driver, row.find_element(By.CSS_SELECTOR, "button[name=resolve]"))
    shot(driver, "it-resolved")
    with runtime.database.session_scope() as db:
        ticket = db.get_one(Ticket, ticket_id)
        assert ticket.status == "resolved" and ticket.resolution_note == "Replaced the power adapter"
    slack.wait_for_post(lambda c: c.params.get("channel") == "D0JAMAL001" and "power adapter" in str(c.params))

    # The manager: approve the leave from the team page.
    sign_in(driver, base, "U0000ENGMGR")
    driver.get(f"{base}/console/team")
    shot(driver, "team-approvals")
    submit(driver, driver.find_element(By.CSS_SELECTOR, f"#leave-{request_id} button[name=approve]"))
    assert "approved" in flash(driver).lower()
    with runtime.database.session_scope() as db:
        assert db.get_one(LeaveRequest, request_id).status == "approved"
    slack.wait_for_post(lambda c: c.params.get("channel") == "D0MEILIN01" and "approved" in str(c.params.get("text")))
    driver.get(f"{base}/console/items/leave/{request_id}")
    assert "Approved by Daniel Kim" in driver.find_element(By.CLASS_NAME, "history").text
    shot(driver, "leave-history")

    # HR's insight charts, drawn by the plotly.js served from the plotly wheel.
    from selenium.webdriver.support.ui import WebDriverWait

    sign_in(driver, base, "U0000HRLEAD")
    driver.get(f"{base}/console/insights")
    WebDriverWait(driver, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-drawn=yes]")) == 6)
    assert driver.find_elements(By.CSS_SELECTOR, "#chart-messages .main-svg")
    log = driver.get_log("browser")  # type: ignore[no-untyped-call]  # selenium leaves get_log unannotated
    errors = [e for e in log if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
    assert not errors  # no script error, no Content-Security-Policy violation
    shot(driver, "insights")

    # The other views, for the record: finance, the directory, the audit log and an employee's own home page.
    sign_in(driver, base, "U0000FINANC")
    driver.get(f"{base}/console/finance")
    shot(driver, "finance")
    sign_in(driver, base, "U0000ADMIN1")
    for name in ("admin", "audit"):
        driver.get(f"{base}/console/{name}")
        assert driver.find_element(By.TAG_NAME, "h1").text in ("Directory and roles", "Audit log")
        shot(driver, name)
    sign_in(driver, base, "U0000DEVTHR")
    assert f"Leave request #{request_id}" in driver.find_element(By.TAG_NAME, "main").text
    shot(driver, "home-employee")

    # An employee editing the URL to another person's item gets 403.
    sign_in(driver, base, "U0000DEVONE")
    driver.get(f"{base}/console/items/ticket/{ticket_id}")
    assert "not yours to see" in driver.page_source
    shot(driver, "employee-403")
    views = ("login", "hr-escalations", "it-queue", "team-approvals", "leave-history", "insights", "finance", "admin")
    for name in (*views, "audit", "home-employee", "employee-403"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 5_000
