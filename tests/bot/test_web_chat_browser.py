"""The web chat page in headless Chromium (issue 19): Slack mrkdwn rendered as DOM nodes and never as markup, polls
that only append (scroll and selection survive) and redraw just a card edited in place, and a 390 × 844 phone."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver as Chrome

from bot.runtime import Runtime
from tests.bot.test_console_browser import CHROMEDRIVER, CHROMIUM
from tests.conftest import LiveServer
from tests.skills.expenses.test_receipt_claims import RINGGIT, receipt_png

pytestmark = pytest.mark.slow

# A rendered node as data: a text node is its text; an element is [tag, {href}?, ...children].
SHAPE = """
const shape = (n) => {
  if (n.nodeType === Node.TEXT_NODE) return n.textContent;
  const out = [n.nodeName.toLowerCase()];
  if (n.getAttribute("href") !== null) out.push({href: n.getAttribute("href")});
  for (const child of n.childNodes) out.push(shape(child));
  return out;
};
const box = document.createElement("div");
box.append(mrkdwn(arguments[0]));
document.body.append(box);  // in the live document, where an <img onerror> or a <script> would run
return [...box.childNodes].map(shape);
"""
LINK = {"href": "https://example.com"}
CASES: list[tuple[str, list[Any]]] = [
    (
        "*bold* _italic_ ~struck~ `a<b`",
        [["b", "bold"], " ", ["i", "italic"], " ", ["s", "struck"], " ", ["code", "a<b"]],
    ),
    ("*claim #4 _draft_*", [["b", "claim #4 ", ["i", "draft"]]]),
    ("snake_case_name and 2 * 3 * 4", ["snake_case_name and 2 * 3 * 4"]),
    ("<https://example.com|the handbook>", [["a", LINK, "the handbook"]]),
    ("see <https://example.com>", ["see ", ["a", LINK, "https://example.com"]]),
    ("<https://a.example/?x=1&amp;y=2|q>", [["a", {"href": "https://a.example/?x=1&y=2"}, "q"]]),
    ("<mailto:hr@larkspur.example|HR>", [["a", {"href": "mailto:hr@larkspur.example"}, "HR"]]),
    ("</console/it|Open the IT queue>", [["a", {"href": "/console/it"}, "Open the IT queue"]]),
    ("<javascript:alert(1)|payroll>", ["<javascript:alert(1)|payroll>"]),
    ("<//evil.example|x> <data:text/html,hi|y>", ["<//evil.example|x>", " ", "<data:text/html,hi|y>"]),
    ("<@U0000DEVONE> <!here> <#C0HR|hr-team>", ["@U0000DEVONE", " ", "@here", " ", "#hr-team"]),
    ("&lt;b&gt;Tom &amp; Jerry&lt;/b&gt; &amp;lt;", ["<b>Tom & Jerry</b> &lt;"]),
    ("<script>window.pwned = 1</script>", ["<script>", "window.pwned = 1", "</script>"]),
    ("<img src=x onerror=window.pwned=1>", ["<img src=x onerror=window.pwned=1>"]),
    ("Run:\n```\npip install *x*\n<b>\n```\ndone", ["Run:", ["pre", "pip install *x*\n<b>"], "done"]),
    ("an ``` unclosed fence", ["an ``` unclosed fence"]),
    ("> quoted *text*\n&gt; more\nafter", [["blockquote", "quoted ", ["b", "text"], "\n", "more"], "after"]),
    (
        "Your claims:\n• #1 *Draft*\n• #2 done",
        ["Your claims:", ["ul", ["li", "#1 ", ["b", "Draft"]], ["li", "#2 done"]]],
    ),
    ("line one\nline two", ["line one", "\n", "line two"]),
]


@pytest.fixture
def driver() -> Iterator[Chrome]:
    """Headless Chromium, as in tests/bot/test_console_browser.py."""
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


def wait_for(check: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting in the browser")
        time.sleep(0.2)


def open_chat(driver: Chrome, base: str, user: str) -> None:
    """The page, as `user` (the development-mode picker)."""
    driver.get(f"{base}/")
    wait_for(lambda: driver.execute_script("return document.querySelectorAll('#who option').length"))
    driver.execute_script("const who = $('who'); who.value = arguments[0]; who.onchange();", user)


def say(http: httpx.Client, base: str, user: str, text: str) -> None:
    assert http.post(f"{base}/api/chat", json={"user": user, "text": text}, timeout=60).status_code == 200


def test_mrkdwn_is_rendered_as_dom_nodes_and_markup_in_a_message_never_runs(
    offline_server: LiveServer, http: httpx.Client, driver: Chrome
) -> None:
    driver.get(f"{offline_server.url}/")
    for text, expected in CASES:
        assert driver.execute_script(SHAPE, text) == expected, text
    # A message with markup, typed into the chat, is shown as the words typed.
    hostile = "<img src=x onerror=window.pwned=1> <script>window.pwned=2</script> *hi*"
    say(http, offline_server.url, "U0000DEVONE", hostile)
    open_chat(driver, offline_server.url, "U0000DEVONE")
    shown = wait_for(
        lambda: driver.execute_script("const m = document.querySelector('#log .in'); return m && m.textContent")
    )
    assert shown == "<img src=x onerror=window.pwned=1> <script>window.pwned=2</script> hi"
    assert driver.execute_script("return document.querySelector('#log .in b').textContent") == "hi"
    assert driver.execute_script("return document.querySelectorAll('#log img, #log script').length") == 0
    assert driver.execute_script("return window.pwned") is None


def test_a_poll_only_appends_and_redraws_just_the_card_edited_in_place(
    offline_server: LiveServer, http: httpx.Client, driver: Chrome
) -> None:
    base = offline_server.url
    for question in ("how many vacation days do I get?", "what is the parental leave policy?", "thanks a lot!"):
        say(http, base, "U0000ITDESK", question)
    driver.set_window_size(1200, 600)
    open_chat(driver, base, "U0000ITDESK")
    wait_for(lambda: driver.execute_script("return document.querySelectorAll('#log .msg').length") == 6)
    # Select the words of the first answer and scroll the chat to its top: a poll must change neither.
    driver.execute_script(
        """const first = document.querySelector('#log .msg.out'); first.dataset.marked = 'yes';
        const range = document.createRange(); range.selectNodeContents(first.firstChild);
        getSelection().removeAllRanges(); getSelection().addRange(range); $('log').scrollTop = 0;"""
    )
    selected = driver.execute_script("return getSelection().toString()")
    assert selected and driver.execute_script("return $('log').scrollHeight > $('log').clientHeight + 100")
    say(http, base, "U0000DEVONE", "my laptop won't turn on since this morning")  # a card in the IT queue
    ticket = wait_for(
        lambda: driver.execute_script(
            "const m = document.querySelector('#queue-it .msg'); if (m) window.firstCard = m; return m && m.dataset.id"
        )
    )
    say(http, base, "U0000ITDESK", "thanks again!")
    wait_for(lambda: driver.execute_script("return document.querySelectorAll('#log .msg').length") == 8)
    time.sleep(4.5)  # two more polls

    assert driver.execute_script("return document.querySelector('#log .msg.out').dataset.marked") == "yes"
    assert driver.execute_script("return getSelection().toString()") == selected
    assert driver.execute_script("return $('log').scrollTop") == 0
    # IT claims the ticket (elsewhere): the card changes where it is, and it is the only element redrawn.
    queue = http.get(f"{base}/api/queue/it", params={"user": "U0000ITDESK", "ids": ticket}).json()["messages"]
    claim = next(b for b in queue[0]["buttons"] if b["action_id"] == "it:claim")
    http.post(f"{base}/api/action", json={"user": "U0000ITDESK", "action_id": "it:claim", "value": claim["value"]})
    wait_for(
        lambda: driver.execute_script(
            "const m = document.querySelector(`#queue-it .msg[data-id='${arguments[0]}']`);"
            "return m && m !== window.firstCard && m.textContent.includes('Lukas Brandt')",
            ticket,
        )
    )
    assert driver.execute_script("return document.querySelectorAll('#queue-it .msg').length") == 1
    assert driver.execute_script("return window.firstCard.isConnected") is False
    assert driver.execute_script("return document.querySelector('#log .msg.out').dataset.marked") == "yes"


def test_the_chat_fits_a_390_by_844_phone(offline_server: LiveServer, http: httpx.Client, driver: Chrome) -> None:
    from selenium.webdriver.common.by import By

    base = offline_server.url
    long_link = "https://example.com/" + "a-very-long-path-segment/" * 12
    say(http, base, "U0000HRLEAD", f"is there a policy on {long_link} for expenses?")
    say(http, base, "U0000DEVONE", "can I bring my dog to the office?")  # a card in the HR queue
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
    )
    open_chat(driver, base, "U0000HRLEAD")
    wait_for(lambda: driver.execute_script("return document.querySelectorAll('#log .msg').length") >= 2)

    def inside(element_id: str) -> bool:
        box = driver.execute_script(f"return $('{element_id}').getBoundingClientRect().toJSON()")
        return bool(box["width"] > 0 and box["left"] >= 0 and box["top"] >= 0 and box["right"] <= 390)

    def fits() -> bool:
        page = driver.execute_script(
            "return [innerWidth, innerHeight, document.documentElement.scrollWidth, document.body.scrollHeight]"
        )
        text, send = (driver.execute_script(f"return $('{i}').getBoundingClientRect().bottom") for i in ("text", "go"))
        return bool(page[0] == 390 and page[2] <= 390 and page[3] <= 844 and text <= 844 and send <= 844)

    assert inside("text") and inside("go") and inside("clip") and fits()
    # The HR queue is a tab of its own on a phone; the chat comes back with its message box.
    tabs = [b.text.rstrip(" •") for b in driver.find_elements(By.CSS_SELECTOR, "nav button")]  # • : new there
    assert tabs == ["My chat", "HR queue"]
    driver.find_elements(By.CSS_SELECTOR, "nav button")[1].click()
    wait_for(lambda: driver.execute_script("return document.querySelectorAll('#queue-hr .msg').length"))
    assert driver.execute_script("return $('chat').getBoundingClientRect().width") == 0
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
    driver.find_elements(By.CSS_SELECTOR, "nav button")[0].click()
    assert inside("text") and inside("go") and fits()


def test_a_receipt_dropped_on_the_chat_becomes_a_claim_and_a_wrong_file_is_told_why(
    offline_server: LiveServer, offline_runtime: Runtime, driver: Chrome, tmp_path: Path, tesseract: None
) -> None:
    from selenium.webdriver.common.by import By

    offline_runtime.assistant.clock = lambda: datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    open_chat(driver, offline_server.url, "U0000DEVONE")
    driver.execute_script(
        """const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        const files = new DataTransfer(); files.items.add(new File([bytes], "IMG_2041.png", {type: "image/png"}));
        $("chat").dispatchEvent(new DragEvent("drop", {dataTransfer: files, bubbles: true, cancelable: true}));""",
        base64.b64encode(receipt_png(RINGGIT)).decode(),
    )
    assert driver.find_element(By.ID, "attached-name").text == "📎 IMG_2041.png"
    driver.find_element(By.ID, "go").click()
    card = wait_for(
        lambda: driver.execute_script(
            "const m = [...document.querySelectorAll('#log .msg.out')].pop(); return m && m.textContent",
        ),
        timeout=90,
    )
    assert "42.20 MYR" in card and "claim #" in card, card
    assert not driver.find_element(By.ID, "attached").is_displayed()

    # The paperclip opens the file input; a text file named like a picture gets the Slack message, to this person.
    fake = tmp_path / "receipt.png"
    fake.write_text("just some text, not a picture")
    driver.find_element(By.ID, "file").send_keys(str(fake))
    driver.find_element(By.ID, "text").send_keys("lunch\n")
    said = wait_for(
        lambda: driver.execute_script("const m = document.querySelector('#log .ephemeral'); return m && m.textContent")
    )
    assert "is named receipt.png but isn't an image" in said and "Nothing was saved." in said, said
