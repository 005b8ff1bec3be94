"""What people see, in a real headless Chromium at a desktop size and on a 390 × 844 phone (issue 19): the web chat
(an employee's and a staff member's) and every console page, item pages included, fit the screen (no sideways
scrolling; the message box and Send on screen), load without a script error, and are recorded as screenshots in
var/test-artifacts/screens/, or in $BACKOFFICE_SCREENSHOTS (`make screenshots` writes docs/screenshots/)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver as Chrome
from selenium.webdriver.common.by import By
from sqlalchemy import select

from bot.models import Escalation, Expense, LeaveRequest
from bot.runtime import Runtime
from skills.expenses import action_ids as expense_actions
from skills.it.models import Ticket
from tests.bot.test_console_browser import CHROMEDRIVER, CHROMIUM, sign_in
from tests.chat import month_day, working_days_ahead
from tests.conftest import REPO, LiveServer
from tests.skills.expenses.test_receipt_claims import RINGGIT, receipt_png
from tests.slack_payloads import app_mention, block_actions, message_event, post_event, post_interaction
from tests.slack_standin import SlackStandIn

SIZES = {"desktop": (1400, 1000), "phone": (390, 844)}
SCREENS = Path(os.environ.get("BACKOFFICE_SCREENSHOTS") or REPO / "var" / "test-artifacts" / "screens")

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


@pytest.fixture(params=sorted(SIZES))
def browser(request: pytest.FixtureRequest) -> Iterator[tuple[str, Chrome]]:
    """Chromium with its viewport at one of SIZES (the phone as a touch device, so `width=device-width` holds)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are not installed; .ci/run installs them")
        pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    size: str = request.param
    width, height = SIZES[size]
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    yield size, driver
    driver.quit()


def wait_for_rows(
    runtime: Runtime, model: type[Escalation | Ticket | LeaveRequest | Expense], timeout: float = 40
) -> int:
    """The id of the one row of `model`, once the event that makes it has been answered."""
    deadline = time.monotonic() + timeout
    while True:
        with runtime.database.session_scope() as db:
            found = db.scalars(select(model.id)).all()
        if found:
            assert len(found) == 1, found
            return int(found[0])
        assert time.monotonic() < deadline, f"no {model.__name__} after {timeout} s"
        time.sleep(0.1)


def fits(driver: Chrome) -> tuple[int, int]:
    """(the page's width, the viewport's width): equal when nothing needs sideways scrolling."""
    page, viewport = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return int(page), int(viewport)


def on_screen(driver: Chrome, css: str) -> bool:
    """Whether the element `css` is wholly inside the viewport, as the page first shows."""
    box = driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return [r.top, r.left, r.bottom, r.right, innerHeight, innerWidth, r.width * r.height];",
        css,
    )
    top, left, bottom, right, height, width, area = box
    return bool(area > 0 and top >= 0 and left >= 0 and bottom <= height + 0.5 and right <= width + 0.5)


def record(driver: Chrome, size: str, name: str) -> None:
    """Check the page fits its screen and had no script error, then keep a screenshot of it."""
    page, viewport = fits(driver)
    assert page <= viewport, f"{name} at {size}: the page is {page} px wide on a {viewport} px screen"
    log = driver.get_log("browser")  # type: ignore[no-untyped-call]  # selenium leaves get_log unannotated
    errors = [
        e for e in log if e["level"] == "SEVERE" and "favicon.ico" not in e["message"] and "403" not in e["message"]
    ]
    assert not errors, f"{name} at {size}: {errors}"
    SCREENS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENS / f"{size}-{name}.png"))


def make_work(server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client) -> dict[str, int]:
    """One of each thing staff handle, arriving as people send them over Slack: an HR question the SOPs don't
    answer, a broken laptop, a week of leave and a receipt photo, the last two submitted to the manager."""
    base = server.url
    question = app_mention("U0000DEVONE", "can I bring my dog to the office on fridays?")
    assert post_event(http, base, question).status_code == 200
    report = message_event("U0000DEVTWO", "my laptop won't turn on, I can't work", "D0JAMAL001", "im")
    assert post_event(http, base, report).status_code == 200
    start, end = working_days_ahead(5)
    ask = message_event("U0000DEVTHR", f"PTO {month_day(start)}-{month_day(end)} for a family trip", "D0MEILIN01", "im")
    assert post_event(http, base, ask).status_code == 200
    photo = slack.add_file("F0PHOTO001", receipt_png(RINGGIT), "IMG_2041.png", "image/png")
    receipt = message_event("U0000DEVONE", "lunch with a client", "D0SOFIA001", "im", files=[photo])
    receipt["event"]["subtype"] = "file_share"
    assert post_event(http, base, receipt).status_code == 200
    ids = {
        "escalation": wait_for_rows(runtime, Escalation),
        "ticket": wait_for_rows(runtime, Ticket),
        "leave": wait_for_rows(runtime, LeaveRequest),
        "expense": wait_for_rows(runtime, Expense),
    }
    confirm = block_actions("U0000DEVTHR", "leave:confirm", str(ids["leave"]), "D0MEILIN01", "1.1", ask["event"]["ts"])
    assert post_interaction(http, base, confirm).status_code == 200
    submit = block_actions(
        "U0000DEVONE", expense_actions.CONFIRM, str(ids["expense"]), "D0SOFIA001", "1.2", receipt["event"]["ts"]
    )
    assert post_interaction(http, base, submit).status_code == 200
    deadline = time.monotonic() + 30
    while True:
        with runtime.database.session_scope() as db:
            states = (db.get_one(LeaveRequest, ids["leave"]).status, db.get_one(Expense, ids["expense"]).status)
        if "draft" not in states:
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.1)
    return ids


def test_the_web_chat_and_every_console_page_fit_the_screen_and_are_recorded(
    server: LiveServer,
    slack: SlackStandIn,
    runtime: Runtime,
    http: httpx.Client,
    tesseract: None,
    browser: tuple[str, Chrome],
) -> None:
    size, driver = browser
    ids = make_work(server, slack, runtime, http)
    base = server.url

    # The web chat: an employee asks a question; the message box and Send stay on screen.
    driver.get(f"{base}/")
    from selenium.webdriver.support.ui import Select, WebDriverWait

    picker = Select(driver.find_element(By.ID, "who"))
    picker.select_by_value("U0000DEVONE")
    box = driver.find_element(By.ID, "text")
    box.send_keys("how many vacation days do I get?")
    driver.find_element(By.CSS_SELECTOR, "#send button[type=submit], #send button:not([type])").click()
    WebDriverWait(driver, 30).until(lambda d: "Sources" in d.find_element(By.ID, "log").text)
    assert on_screen(driver, "#text"), "the message box is off screen"
    assert on_screen(driver, "#send button:last-of-type"), "Send is off screen"
    record(driver, size, "chat-employee")

    # IT staff: their own conversation holds none of the team's triage cards.
    picker = Select(driver.find_element(By.ID, "who"))
    picker.select_by_value("U0000ITDESK")
    time.sleep(3)  # a poll of the feed
    assert f"#{ids['ticket']}" not in driver.find_element(By.ID, "log").text
    record(driver, size, "chat-it-staff")

    # The console, page by page, as the person whose page it is.
    driver.get(f"{base}/console")
    record(driver, size, "console-login")
    pages = [
        ("U0000DEVTHR", "/console", "console-home-employee"),
        ("U0000HRLEAD", "/console/hr", "console-hr"),
        ("U0000HRLEAD", f"/console/items/escalation/{ids['escalation']}", "item-escalation"),
        ("U0000HRLEAD", "/console/insights", "console-insights"),
        ("U0000ITDESK", "/console/it", "console-it"),
        ("U0000ITDESK", f"/console/items/ticket/{ids['ticket']}", "item-ticket"),
        ("U0000ENGMGR", "/console/team", "console-team"),
        ("U0000ENGMGR", f"/console/items/leave/{ids['leave']}", "item-leave"),
        ("U0000ENGMGR", f"/console/items/expense/{ids['expense']}", "item-expense"),
        ("U0000FINANC", "/console/finance", "console-finance"),
        ("U0000ADMIN1", "/console/admin", "console-admin"),
        ("U0000ADMIN1", "/console/audit", "console-audit"),
        ("U0000DEVTWO", f"/console/items/expense/{ids['expense']}", "console-denied"),
    ]
    signed_in = None
    for person, path, name in pages:
        if person != signed_in:
            sign_in(driver, base, person)
            signed_in = person
        driver.get(f"{base}{path}")
        WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
        if name == "console-insights":
            WebDriverWait(driver, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-drawn=yes]")) == 6)
        if name == "item-expense":  # the approver sees the receipt itself
            WebDriverWait(driver, 20).until(
                lambda d: d.execute_script(
                    "const i = document.querySelector('.receipt img'); return !!i && i.naturalWidth > 0"
                )
            )
        record(driver, size, name)
    assert len(list(SCREENS.glob(f"{size}-*.png"))) >= len(pages) + 2
