"""Console pages as a person reads them (issue 19): refusals as pages, the IT and HR queues' clocks and ages,
the IT assign control and the insights tiles; over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.bot.test_console import browser, sign_in
from tests.conftest import LiveServer

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    ("path", "audience"),
    [
        ("/console/hr", "HR"),
        ("/console/it", "IT"),
        ("/console/finance", "finance"),
        ("/console/team", "managers"),
        ("/console/admin", "admins"),
    ],
)
def test_a_refused_browser_gets_a_page_saying_who_it_is_for_and_where_to_go(
    server: LiveServer, path: str, audience: str
) -> None:
    with browser(server.url) as client:
        sign_in(client, "U0000DEVTWO")  # an employee, no staff role
        response = client.get(path, headers=BROWSER)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert f"This page is for {audience}." in response.text
    assert "Back Office console" in response.text  # the console's own base page, with its header
    assert 'href="/console"' in response.text and 'href="/console/login"' in response.text
    assert "Jamal Carter" in response.text  # who is signed in, so the reason makes sense


def test_api_clients_keep_json_refusals(server: LiveServer) -> None:
    with browser(server.url) as client:
        sign_in(client, "U0000DEVTWO")
        response = client.get("/console/hr", headers={"Accept": "application/json"})
        assert response.status_code == 403
        assert response.json() == {"detail": "This page is for HR."}


def test_insights_refusal_is_a_page_too(server: LiveServer) -> None:
    with browser(server.url) as client:
        sign_in(client, "U0000DEVTWO")
        response = client.get("/console/insights", headers=BROWSER)
    assert response.status_code == 403 and response.headers["content-type"].startswith("text/html")
    assert "Insights are for HR, IT and admins." in response.text
